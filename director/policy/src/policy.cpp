#include "ballast/policy/policy.hpp"

#include <algorithm>
#include <optional>

#include "ballast/health/check_plan.hpp"
#include "ballast/health/weight_policy.hpp"
#include "ballast/kernel/ipvs_counters.hpp"
#include "ballast/model/shared_text.hpp"

namespace ballast::policy {

namespace {

bool has_check(const model::ServiceConfig& s) {
    return s.check && s.check->type != model::CheckType::none;
}

// Whether this real has a check that will report (main or agent).
bool is_checked(const model::ServiceConfig& s, const model::RealServerConfig& real) {
    return has_check(s) || real.agent_port.has_value();
}

// The reason a service's reals were last given: most reals of a service share theirs, and
// interning a text takes the pool's lock (50,000 times at a start otherwise).
class Reasons {
public:
    model::SharedText operator()(const std::string& text) {
        if (last_.view() != text) last_ = model::SharedText(text);
        return last_;
    }

private:
    model::SharedText last_;
};

RealDecision decide_real(const model::ServiceConfig& s, const model::RealServerConfig& real,
                         const Inputs& in, Reasons& reasons) {
    RealDecision d;
    d.real = real.key;
    d.configured = real.spec.weight;
    const Override* ov = find_override(in.overrides, s.key, real.key);
    if (ov) d.override_ = *ov;
    std::optional<model::RealServerConfig> overridden;  // copied only for a weight override
    if (ov && ov->kind == Override::Kind::weight) {
        overridden = real;
        overridden->spec.weight = ov->weight;
    }
    const model::RealServerConfig& based = overridden ? *overridden : real;

    const bool checked = has_check(s);
    // One look in the book per real (has_check_result() is this has_result): at a start,
    // 50,000 binary searches over the plan's keys.
    const auto h = in.health.real_health(s, real, in.config.default_check);
    d.awaiting = is_checked(s, real) && !h.has_result;
    auto adopted = in.adopted.find({s.key, real.key});
    if (adopted != in.adopted.end() && d.awaiting) {
        // Restarted over a live table: keep what the kernel has until the first result, even
        // with start_down (which is for servers that never had traffic), so a restart never
        // moves traffic.
        d.effective = adopted->second;
        d.reason = reasons("adopted: weight " + std::to_string(adopted->second) +
                           " kept from the kernel until the first check");
    } else {
        const model::Millis slow_start = checked ? s.check->slow_start : model::Millis(0);
        auto v = health::decide_real(based, h, s.on_failure, slow_start, in.now);
        d.present = v.present;
        d.down = v.down;
        d.state = h.state;
        d.effective = v.weight;
        d.reason = reasons(v.reason);
        d.ramping = !v.down && slow_start.count() > 0 && h.recovered_at &&
                    in.now >= *h.recovered_at && in.now < *h.recovered_at + slow_start;
    }
    if (ov && ov->kind == Override::Kind::weight)
        d.reason = "override: " + ov->describe() + "; " + d.reason.str();
    if (ov && ov->kind == Override::Kind::drain) {
        d.effective = 0;
        d.ramping = false;
        d.reason = "override: " + ov->describe() + "; " + d.reason.str();
    }
    return d;
}

}  // namespace

bool has_check_result(const model::DirectorConfig& config, const model::ServiceConfig& s,
                      const model::RealServerConfig& real, const health::HealthBook& health) {
    return health.real_health(s, real, config.default_check).has_result;
}

bool ServiceDecision::ramping() const {
    return std::any_of(reals.begin(), reals.end(), [](const auto& r) { return r.ramping; });
}

const RealDecision* ServiceDecision::find(const model::RealKey& real) const {
    for (const auto& r : reals)
        if (!r.sorry && r.real == real) return &r;
    return nullptr;
}

uint32_t panic_threshold(const model::DirectorConfig& config, const model::ServiceConfig& service) {
    if (service.panic_threshold) return *service.panic_threshold;
    return service.sorry_server ? 100 : config.director.panic_threshold;
}

ServiceDecision decide_service(const model::ServiceConfig& s, const Inputs& in) {
    ServiceDecision out;
    out.key = s.key;
    out.name = s.name;
    out.reals.reserve(s.reals.size() + (s.sorry_server ? 1 : 0));  // exact: 50,000 held
    Reasons reasons;
    for (const auto& real : s.reals) {
        out.reals.push_back(decide_real(s, real, in, reasons));
        if (out.reals.back().down && !out.reals.back().awaiting) ++out.down;
    }
    const size_t n = s.reals.size();
    const uint64_t threshold = panic_threshold(in.config, s);
    if (n > 0 && threshold < 100 && uint64_t{out.down} * 100 > threshold * n) {
        out.panic = true;
        const std::string why = "panic: " + std::to_string(out.down) + " of " + std::to_string(n) +
                                " real servers down (more than " + std::to_string(threshold) +
                                "%), routing to all; ";
        for (size_t i = 0; i < n; ++i) {
            auto& d = out.reals[i];
            if (!d.down || d.awaiting) continue;
            const bool drained = d.override_ && d.override_->kind == Override::Kind::drain;
            d.present = true;
            d.effective = drained ? 0
                          : d.override_ && d.override_->kind == Override::Kind::weight
                              ? d.override_->weight
                              : s.reals[i].spec.weight;
            d.reason = why + "health: " + d.reason.str();
        }
    } else if (n > 0 && s.sorry_server &&
               std::all_of(out.reals.begin(), out.reals.end(),
                           [](const auto& r) { return r.down; })) {
        out.sorry_active = true;
        RealDecision sorry;
        sorry.real = *s.sorry_server;
        sorry.sorry = true;
        sorry.configured = 1;
        sorry.effective = 1;
        sorry.reason = "sorry server: every real server is down";
        out.reals.push_back(std::move(sorry));
    }
    return out;
}

model::IpvsService desired_service(const model::ServiceConfig& service,
                                   const ServiceDecision& decision) {
    model::IpvsService svc{service.key, service.spec, {}};
    // In config order, then sorted once (flat_map inserts in the middle move what follows).
    model::IpvsReals::sequence_type reals;
    reals.reserve(decision.reals.size());
    for (size_t i = 0; i < decision.reals.size(); ++i) {
        const auto& d = decision.reals[i];
        if (!d.present) continue;
        model::RealSpec spec;  // the sorry server: masquerade, no thresholds
        if (!d.sorry) spec = service.reals[i].spec;
        spec.weight = d.effective;
        reals.emplace_back(d.real, spec);
    }
    // Of a repeated key the first counts, as map::emplace kept it (validation rejects repeats).
    kernel::sort_by_key_first_wins(reals,
                                   [](const auto& e) -> const model::RealKey& { return e.first; });
    svc.reals.adopt_sequence(boost::container::ordered_unique_range, std::move(reals));
    return svc;
}

Desired desired_state(const Inputs& in) {
    Desired out;
    for (const auto& s : in.config.services) {
        auto d = decide_service(s, in);
        out.ipvs.services.emplace(s.key, desired_service(s, d));
        out.decisions.emplace(s.key, std::move(d));
    }
    return out;
}

bool has_ipv6_service(const model::DirectorConfig& config) {
    return std::any_of(config.services.begin(), config.services.end(), [](const auto& s) {
        return s.key.family == AF_INET6 || (s.group_vip && s.group_vip->is_v6());
    });
}

}  // namespace ballast::policy
