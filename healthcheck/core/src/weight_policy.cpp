#include "ballast/health/weight_policy.hpp"

#include <algorithm>
#include <cmath>

namespace ballast::health {

RealVerdict decide_real(const model::RealServerConfig& real, const RealHealth& h,
                        model::OnFailure on_failure, model::Millis slow_start, TimePoint now) {
    RealVerdict v;
    v.key = real.key;

    std::optional<std::string> down_reason;
    if (h.checked && h.state == State::down) {
        down_reason = h.reason;
    } else if (h.agent && !h.agent->alive()) {
        down_reason =
            "agent: " + std::string(h.agent->admin == AgentAdmin::maint ? "maint" : "down");
        if (!h.agent->description.empty()) down_reason = *down_reason + "#" + h.agent->description;
    } else if (!h.checked && h.agent_failed) {
        down_reason = h.agent_reason;
    }
    if (down_reason) {
        v.down = true;
        v.weight = 0;
        v.present = on_failure != model::OnFailure::remove;
        v.reason = *down_reason;
        return v;
    }
    if (h.agent && h.agent->admin == AgentAdmin::drain) {
        v.weight = 0;
        v.reason = "agent: drain";
        return v;
    }

    double w = real.spec.weight;
    std::string reason =
        h.checked && h.state == State::up ? "up" : (h.checked ? "not checked yet" : "not checked");
    if (h.checked && h.state == State::up && !h.reason.empty()) reason = "up: " + h.reason;
    if (h.agent && h.agent->weight) {
        w = *h.agent->weight;
        reason += ", agent weight " + std::to_string(*h.agent->weight);
    }
    if (h.agent && h.agent->percent) {
        w = w * *h.agent->percent / 100.0;
        reason += ", agent " + std::to_string(*h.agent->percent) + "%";
    }
    if (slow_start.count() > 0 && h.recovered_at && now >= *h.recovered_at) {
        const auto elapsed = now - *h.recovered_at;
        if (elapsed < slow_start) {
            const double f = std::chrono::duration<double>(elapsed).count() /
                             std::chrono::duration<double>(slow_start).count();
            w *= f;
            reason += ", slow start " + std::to_string(static_cast<int>(f * 100)) + "%";
            // A started ramp always sends something, so the server warms up.
            w = std::max(w, real.spec.weight > 0 ? 1.0 : 0.0);
        }
    }
    v.weight = static_cast<model::Weight>(
        std::clamp(std::ceil(w - 1e-9), 0.0, static_cast<double>(model::kMaxWeight)));
    v.reason = reason;
    return v;
}

ServiceVerdict decide_service(
    const model::ServiceConfig& service,
    const std::function<const RealHealth*(const model::RealKey&)>& health_of, TimePoint now) {
    ServiceVerdict out;
    out.service = service.key;
    const bool has_check = service.check && service.check->type != model::CheckType::none;
    const model::Millis slow_start = has_check ? service.check->slow_start : model::Millis(0);
    bool all_down = !service.reals.empty();
    for (const auto& real : service.reals) {
        RealHealth fallback;
        fallback.checked = has_check;
        if (has_check && service.check->start_down) {
            fallback.state = State::down;
            fallback.reason = "start_down: waiting for the first successful check";
        }
        const RealHealth* h = health_of ? health_of(real.key) : nullptr;
        auto v = decide_real(real, h ? *h : fallback, service.on_failure, slow_start, now);
        all_down = all_down && v.down;
        out.reals.push_back(std::move(v));
    }
    if (all_down && service.sorry_server) {
        out.sorry_active = true;
        RealVerdict sorry;
        sorry.key = *service.sorry_server;
        sorry.weight = 1;
        sorry.reason = "sorry server: every real server is down";
        out.reals.push_back(std::move(sorry));
    }
    return out;
}

}  // namespace ballast::health
