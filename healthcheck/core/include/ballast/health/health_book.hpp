#pragma once
// The director-side memory of health results: fed with the runner's events
// (check key + state + agent reply), it answers "what is known about this real
// server of this service" in the form the weight policy takes. Pure.
#include <map>
#include <optional>
#include <string>

#include "ballast/health/agent_reply.hpp"
#include "ballast/health/check_plan.hpp"
#include "ballast/health/tracker.hpp"
#include "ballast/health/weight_policy.hpp"
#include "ballast/model/boxed.hpp"

namespace ballast::health {

struct CheckStatus {
    State state = State::unknown;
    std::string reason;  // reason of the latest result reported
    std::optional<TimePoint> recovered_at;
    model::Boxed<AgentReply> agent;  // boxed: most checks are not agent checks
};

class HealthBook {
public:
    // One runner event (HealthEvent's fields).
    void record(const CheckKey& check, State state, std::string reason,
                std::optional<TimePoint> recovered_at, std::optional<AgentReply> agent);
    // Forgets checks that are no longer planned (after a reload).
    void retain(const CheckPlan& plan);

    const CheckStatus* find(const CheckKey& check) const;
    // The same for the key make_check_key(addr, real_port, spec) names, without making it (a
    // key allocates a spec of its own; the policy looks up every real of a service per verdict).
    const CheckStatus* find(const model::IpAddress& addr, uint16_t real_port,
                            const model::CheckSpec& spec) const;
    // Combines the service's main check and the real's agent check.
    RealHealth real_health(const model::ServiceConfig& service, const model::RealServerConfig& real,
                           const model::CheckSpec& default_check) const;

private:
    std::map<CheckKey, CheckStatus, CheckKeyLess> checks_;
};

}  // namespace ballast::health
