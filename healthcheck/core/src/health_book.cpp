#include "ballast/health/health_book.hpp"

namespace ballast::health {

void HealthBook::record(const CheckKey& check, State state, std::string reason,
                        std::optional<TimePoint> recovered_at, std::optional<AgentReply> agent) {
    auto& s = checks_[check];
    s.state = state;
    s.reason = std::move(reason);
    s.recovered_at = recovered_at;
    s.agent = std::move(agent);
}

void HealthBook::retain(const CheckPlan& plan) {
    std::erase_if(checks_, [&](const auto& kv) { return !plan.checks.count(kv.first); });
}

const CheckStatus* HealthBook::find(const CheckKey& check) const {
    auto it = checks_.find(check);
    return it == checks_.end() ? nullptr : &it->second;
}

const CheckStatus* HealthBook::find(const model::IpAddress& addr, uint16_t real_port,
                                    const model::CheckSpec& spec) const {
    if (spec.port) return find(make_check_key(addr, real_port, spec));  // the key's spec differs
    auto it = checks_.find(CheckRef{model::Endpoint{addr, real_port}, spec});
    return it == checks_.end() ? nullptr : &it->second;
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
