#pragma once
// ballastctl's renderings of what the daemon sent: pure functions of the views, so every
// table and line is tested without a daemon. Colour (ANSI) only when asked for.
#include <cstddef>
#include <string>

#include "ballast/control/views.hpp"

namespace ballast::control {

struct RenderOptions {
    bool colour = false;
    size_t max_rows = 0;  // top: rows that fit the terminal (0: all)
};

// Every service and real server: health and since when, effective/configured weight,
// connections, rates, and why the weight is what it is; then the reconcile state.
std::string render_status(const StatusView& status, const RenderOptions& options);
// The busiest first: connection, packet and byte rates per service and real server.
std::string render_top(const StatusView& status, const RenderOptions& options);
// "+ ...", "- ...", "~ ..." lines and a summary.
std::string render_plan(const PlanView& plan, const RenderOptions& options);
std::string render_reload(const ReloadView& reload);
// One line: "2026-12-05T12:00:00.123Z warning health: ...".
std::string render_event(const EventView& event, const RenderOptions& options);

// Helpers (exposed for tests).
std::string format_age(double seconds);        // "12s", "5m", "3h", "2d"
std::string format_rate(uint64_t per_second);  // "950", "1.2k", "3.4M", "5.6G"
std::string format_utc(double unix_seconds);   // "2026-12-05T12:00:00.123Z"

}  // namespace ballast::control
