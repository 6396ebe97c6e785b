#pragma once
// The director-side memory of health results: fed with the runner's events
// (check key + state + agent reply), it answers "what is known about this real
// server of this service" in the form the weight policy takes. Pure.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ballast/health/agent_reply.hpp"
#include "ballast/health/check_plan.hpp"
#include "ballast/health/tracker.hpp"
#include "ballast/health/weight_policy.hpp"
#include "ballast/model/boxed.hpp"
#include "ballast/model/shared_text.hpp"

namespace ballast::health {

struct CheckStatus {
    State state = State::unknown;
    model::SharedText reason;  // reason of the latest result reported (shared: few distinct)
    std::optional<TimePoint> recovered_at;
    model::Boxed<AgentReply> agent;  // boxed: most checks are not agent checks
};

// A status per check of the plan it follows, in the plan's order: the book holds no key of its
// own (the plan's are shared; 50,000 checks at 5,000 x 10).
class HealthBook {
public:
    // One runner event (HealthEvent's fields). A planned check (see retain) has its place
    // already; another is kept aside in key order (O(n): for tests and one-off records).
    void record(const CheckKey& check, State state, std::string_view reason,
                std::optional<TimePoint> recovered_at, std::optional<AgentReply> agent);
    // Follows a new plan (at start and after a reload): keeps the results of the checks it
    // still plans (carried over by key, once), forgets the others, and makes a place without a
    // result for each new one, so the first results that follow only fill places in. The book
    // keeps the plan (shared, not copied) to find its places by key.
    void retain(std::shared_ptr<const CheckPlan> plan);
    void retain(const CheckPlan& plan);  // follows a copy of it

    const CheckStatus* find(const CheckKey& check) const;
    // The same for the key make_check_key(addr, real_port, spec) names, without making it (a
    // key allocates a spec of its own; the policy looks up every real of a service per verdict).
    const CheckStatus* find(const model::IpAddress& addr, uint16_t real_port,
                            const model::CheckSpec& spec) const;
    // Combines the service's main check and the real's agent check.
    RealHealth real_health(const model::ServiceConfig& service, const model::RealServerConfig& real,
                           const model::CheckSpec& default_check) const;

private:
    template <typename K>
    const CheckStatus* find_key(const K& key) const;

    std::shared_ptr<const CheckPlan> plan_;
    std::vector<CheckStatus> planned_;  // parallel to plan_->checks
    std::vector<bool> recorded_;        // per place: a result came (else find() has none)
    // Checks recorded that the plan does not have, in key order.
    std::vector<std::pair<CheckKey, CheckStatus>> unplanned_;
};

}  // namespace ballast::health
