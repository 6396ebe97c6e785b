#include "ballast/health/health_book.hpp"

#include <algorithm>

namespace ballast::health {

template <typename K>
std::vector<HealthBook::Entry>::const_iterator HealthBook::lower_bound(const K& key) const {
    return std::lower_bound(checks_.begin(), checks_.end(), key,
                            [](const Entry& e, const K& k) { return CheckKeyLess{}(e.first, k); });
}

const CheckStatus* HealthBook::result(std::vector<Entry>::const_iterator it, bool found) const {
    if (!found || !recorded_[static_cast<size_t>(it - checks_.begin())]) return nullptr;
    return &it->second;
}

void HealthBook::record(const CheckKey& check, State state, std::string reason,
                        std::optional<TimePoint> recovered_at, std::optional<AgentReply> agent) {
    auto at = lower_bound(check);
    auto i = static_cast<size_t>(at - checks_.begin());
    if (at == checks_.end() || at->first != check) {
        checks_.insert(at, Entry{check, CheckStatus{}});
        recorded_.insert(recorded_.begin() + static_cast<ptrdiff_t>(i), false);
    }
    auto& s = checks_[i].second;
    s.state = state;
    s.reason = std::move(reason);
    s.recovered_at = recovered_at;
    s.agent = std::move(agent);
    recorded_[i] = true;
}

void HealthBook::retain(const CheckPlan& plan) {
    std::vector<Entry> next;
    std::vector<bool> recorded;
    next.reserve(plan.checks.size());
    recorded.reserve(plan.checks.size());
    size_t o = 0;
    for (const auto& [key, users] : plan.checks) {
        while (o < checks_.size() && checks_[o].first < key) ++o;
        if (o < checks_.size() && checks_[o].first == key) {
            next.push_back(std::move(checks_[o]));
            recorded.push_back(recorded_[o]);
            ++o;
        } else {
            next.emplace_back(key, CheckStatus{});
            recorded.push_back(false);
        }
    }
    checks_ = std::move(next);
    recorded_ = std::move(recorded);
}

const CheckStatus* HealthBook::find(const CheckKey& check) const {
    auto it = lower_bound(check);
    return result(it, it != checks_.end() && it->first == check);
}

const CheckStatus* HealthBook::find(const model::IpAddress& addr, uint16_t real_port,
                                    const model::CheckSpec& spec) const {
    if (spec.port) return find(make_check_key(addr, real_port, spec));  // the key's spec differs
    const CheckRef ref{model::Endpoint{addr, real_port}, spec};
    auto it = lower_bound(ref);
    return result(it, it != checks_.end() && !CheckKeyLess{}(ref, it->first));
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
            h.state = s->state;
            h.reason = s->reason;
            h.recovered_at = s->recovered_at;
            if (s->agent) h.agent = *s->agent;  // agent or exec (weight_from_output) main check
        }
    }
    if (real.agent_port) {
        const auto spec = agent_check_spec(service, default_check);
        if (const auto* s = find(real.key.addr, *real.agent_port, spec)) {
            if (s->agent) {
                h.agent = *s->agent;
            } else if (s->state == State::down) {
                h.agent_failed = true;
                h.agent_reason = s->reason;
            }
        }
    }
    return h;
}

}  // namespace ballast::health
