#pragma once
// Runtime overrides set by an operator (ballastctl drain / enable / weight): they survive
// reloads and restarts (the daemon stores them) and win over the configured weight.
#include <chrono>
#include <compare>
#include <map>
#include <optional>
#include <string>

#include "ballast/model/ipvs.hpp"

namespace ballast::policy {

using WallTime = std::chrono::system_clock::time_point;

// One real server in one service, or (service unset) in every service that has it.
struct OverrideKey {
    std::optional<model::ServiceKey> service;
    model::RealKey real;
    std::string to_string()
        const;  // "10.0.0.2:80 in 192.0.2.1:80/tcp" / "10.0.0.2:80 in every service"
    auto operator<=>(const OverrideKey&) const = default;
};

struct Override {
    enum class Kind : uint8_t { drain, weight };
    Kind kind = Kind::drain;
    model::Weight weight = 0;  // Kind::weight: replaces the configured weight
    std::string set_by;        // who: "uid 0 (root) pid 4242"
    WallTime set_at{};
    std::string describe() const;  // "drained by uid 0 (root) pid 4242 at 2026-12-05T12:00:00Z"
    auto operator<=>(const Override&) const = default;
};

using Overrides = std::map<OverrideKey, Override>;

// The override for this real in this service: one set for the service wins over one set for
// every service. nullptr when none.
const Override* find_override(const Overrides& all, const model::ServiceKey& service,
                              const model::RealKey& real);

// "2026-12-05T12:00:00Z"
std::string format_time(WallTime t);

}  // namespace ballast::policy
