#include "ballast/health/health_book.hpp"

#include <algorithm>

namespace ballast::health {

template <typename K>
const CheckStatus* HealthBook::find_key(const K& key) const {
    if (plan_) {
        auto it = plan_->checks.find(key);
        if (it != plan_->checks.end()) {
            const auto i = static_cast<size_t>(it - plan_->checks.begin());
            return recorded_[i] ? &planned_[i] : nullptr;
        }
    }
    auto it = std::lower_bound(unplanned_.begin(), unplanned_.end(), key,
                               [](const std::pair<CheckKey, CheckStatus>& e, const K& k) {
                                   return CheckKeyLess{}(e.first, k);
                               });
    return it != unplanned_.end() && !CheckKeyLess{}(key, it->first) ? &it->second : nullptr;
}

void HealthBook::record(const CheckKey& check, State state, std::string_view reason,
                        std::optional<TimePoint> recovered_at, std::optional<AgentReply> agent) {
    CheckStatus* s = nullptr;
    if (plan_) {
        if (auto it = plan_->checks.find(check); it != plan_->checks.end()) {
            const auto i = static_cast<size_t>(it - plan_->checks.begin());
            recorded_[i] = true;
            s = &planned_[i];
        }
    }
    if (!s) {
        auto at = std::lower_bound(unplanned_.begin(), unplanned_.end(), check,
                                   [](const auto& e, const CheckKey& k) { return e.first < k; });
        if (at == unplanned_.end() || at->first != check)
            at = unplanned_.insert(at, {check, CheckStatus{}});
        s = &at->second;
    }
    s->state = state;
    if (s->reason != reason) s->reason = reason;  // the same text: no lookup
    s->recovered_at = recovered_at;
    s->agent = std::move(agent);
}

void HealthBook::retain(std::shared_ptr<const CheckPlan> plan) {
    const auto& now = plan->checks;
    std::vector<CheckStatus> next(now.size());
    std::vector<bool> recorded(now.size(), false);
    // Both in key order: walked side by side, each key compared once.
    const auto carry = [&](const auto& old, auto key_of, auto take) {
        size_t o = 0;
        for (size_t i = 0; i < now.size() && o < old.size(); ++i) {
            const CheckKey& key = now[i].first;
            while (o < old.size() && key_of(old[o]) < key) ++o;
            if (o < old.size() && key_of(old[o]) == key) take(i, o++);
        }
    };
    if (plan_)
        carry(
            plan_->checks, [](const auto& e) -> const CheckKey& { return e.first; },
            [&](size_t i, size_t o) {
                next[i] = std::move(planned_[o]);
                recorded[i] = recorded_[o];
            });
    carry(
        unplanned_, [](const auto& e) -> const CheckKey& { return e.first; },
        [&](size_t i, size_t o) {
            next[i] = std::move(unplanned_[o].second);
            recorded[i] = true;
        });
    plan_ = std::move(plan);
    planned_ = std::move(next);
    recorded_ = std::move(recorded);
    unplanned_ = {};
}

void HealthBook::retain(const CheckPlan& plan) {
    retain(std::make_shared<const CheckPlan>(plan));
}

const CheckStatus* HealthBook::find(const CheckKey& check) const {
    return find_key(check);
}

const CheckStatus* HealthBook::find(const model::IpAddress& addr, uint16_t real_port,
                                    const model::CheckSpec& spec) const {
    if (spec.port) return find(make_check_key(addr, real_port, spec));  // the key's spec differs
    return find_key(CheckRef{model::Endpoint{addr, real_port}, spec});
}

RealHealth HealthBook::real_health(const model::ServiceConfig& service,
                                   const model::RealServerConfig& real,
                                   const model::CheckSpec& default_check) const {
    RealHealth h;
    const bool has_check = service.check && service.check->type != model::CheckType::none;
    if (has_check) {
        h.checked = true;
        if (service.check->start_down) {
            h.state = State::down;
            h.reason = "start_down: waiting for the first successful check";
        }
        if (const auto* s = find(real.key.addr, real.key.port, *service.check)) {
            h.has_result = true;
            h.state = s->state;
            h.reason = s->reason.str();
            h.recovered_at = s->recovered_at;
            if (s->agent) h.agent = *s->agent;  // agent or exec (weight_from_output) main check
        }
    }
    if (real.agent_port) {
        const auto spec = agent_check_spec(service, default_check);
        if (const auto* s = find(real.key.addr, *real.agent_port, spec)) {
            h.has_result = true;
            if (s->agent) {
                h.agent = *s->agent;
            } else if (s->state == State::down) {
                h.agent_failed = true;
                h.agent_reason = s->reason.str();
            }
        }
    }
    return h;
}

}  // namespace ballast::health
