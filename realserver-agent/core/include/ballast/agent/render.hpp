#pragma once
// Renderings of a Report: the doctor's text, JSON (status endpoint, doctor --json)
// and Prometheus metrics. Pure.
#include <cstdint>
#include <string>

#include "ballast/agent/verdict.hpp"

namespace ballast::agent {

std::string render_text(const Report& report);
std::string render_json(const Report& report, const std::string& reply);

struct AgentCounters {
    uint64_t evaluations = 0;
    uint64_t netlink_events = 0;
    uint64_t agent_replies = 0;
    uint64_t http_responses = 0;    // every response, refusals included
    uint64_t http_refused = 0;      // 4xx: malformed, too large, a body, not GET
    uint64_t session_timeouts = 0;  // sessions ended by their deadline
    uint64_t sessions_evicted = 0;  // oldest sessions closed to make room under the cap
    uint64_t accept_errors = 0;     // failed accept() (EMFILE, ENFILE, ...): each backs off
};
std::string render_prometheus(const Report& report, const AgentCounters& counters);

}  // namespace ballast::agent
