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
};
std::string render_prometheus(const Report& report, const AgentCounters& counters);

}  // namespace ballast::agent
