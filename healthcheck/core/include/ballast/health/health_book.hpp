#pragma once
// The director-side memory of health results: fed with the runner's events
// (check key + state + agent reply), it answers "what is known about this real
// server of this service" in the form the weight policy takes. Pure.
#include <optional>
#include <string>
#include <utility>
#include <vector>

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
    // One runner event (HealthEvent's fields). A planned check (see retain) has its place
    // already; another is inserted (O(n): for tests and one-off records).
    void record(const CheckKey& check, State state, std::string reason,
                std::optional<TimePoint> recovered_at, std::optional<AgentReply> agent);
    // Follows a new plan (at start and after a reload): keeps the results of the checks it
    // still plans, forgets the others, and makes a place without a result for each new one, so
    // the first results that follow only fill places in.
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
    using Entry = std::pair<CheckKey, CheckStatus>;
    template <typename K>
    std::vector<Entry>::const_iterator lower_bound(const K& key) const;
    const CheckStatus* result(std::vector<Entry>::const_iterator it, bool found) const;

    // In key order: one vector (a map would add a node per check, 50,000 at 5,000 x 10).
    std::vector<Entry> checks_;
    std::vector<bool> recorded_;  // per entry of checks_: a result came (else find() has none)
};

}  // namespace ballast::health
