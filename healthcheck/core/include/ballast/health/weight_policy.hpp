#pragma once
// Pure weight policy: what weight each real server of a service should get,
// given what the health checks last said. The director's policy layer calls it;
// nothing here touches the kernel.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ballast/health/agent_reply.hpp"
#include "ballast/health/tracker.hpp"
#include "ballast/model/director_config.hpp"
#include "ballast/model/ipvs.hpp"

namespace ballast::health {

// What is known about one real server of one service.
struct RealHealth {
    bool checked = false;                   // the service has a main check for it
    bool has_result = false;                // the book holds a result of its main or agent check
    State state = State::unknown;           // main check's tracker state
    std::string reason;                     // main check's last transition reason
    std::optional<TimePoint> recovered_at;  // start of a slow-start ramp
    // The last parsed agent reply (agent check, or an agent/exec main check's output).
    std::optional<AgentReply> agent;
    // The agent check is set up but its last attempt failed (refused, timeout,
    // garbage). Ignored when a main check exists (connectivity is its job, as in
    // HAProxy); takes the server down when the agent is its only check.
    bool agent_failed = false;
    std::string agent_reason;
};

struct RealVerdict {
    model::RealKey key;
    bool present = true;  // false: remove from IPVS (on_failure = remove)
    model::Weight weight = 0;
    bool down = false;   // considered down (for the sorry-server rule)
    std::string reason;  // why this weight, for CLI, log and metrics
    auto operator<=>(const RealVerdict&) const = default;
};

struct ServiceVerdict {
    model::ServiceKey service;
    std::vector<RealVerdict> reals;  // config order; the sorry server last when in use
    bool sorry_active = false;
};

// Weight of one real server: configured weight (or the agent's weight:N) x agent
// percentage x slow-start ramp after recovery; 0 when drained; 0 (quiesce) or
// removal when down per on_failure.
RealVerdict decide_real(const model::RealServerConfig& real, const RealHealth& health,
                        model::OnFailure on_failure, model::Millis slow_start, TimePoint now);

// Every real server of a service, plus the sorry server (weight 1) when every
// real server is down. `health_of` returns nullptr for a real with no data yet
// (treated as unknown: serving, unless its check is start_down).
ServiceVerdict decide_service(
    const model::ServiceConfig& service,
    const std::function<const RealHealth*(const model::RealKey&)>& health_of, TimePoint now);

}  // namespace ballast::health
