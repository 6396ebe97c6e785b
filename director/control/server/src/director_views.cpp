#include "ballast/control/director_views.hpp"

#include <algorithm>

namespace ballast::control {

using model::IpvsOp;

std::string_view severity_name(daemon::Severity s) {
    switch (s) {
        case daemon::Severity::debug:
            return "debug";
        case daemon::Severity::info:
            return "info";
        case daemon::Severity::notice:
            return "notice";
        case daemon::Severity::warning:
            return "warning";
        case daemon::Severity::error:
            return "error";
    }
    return "info";
}

std::string_view check_type_of(const model::ServiceConfig& config) {
    return config.check ? model::to_string(config.check->type) : "none";
}

bool override_for_every_service(const policy::Overrides& overrides,
                                const model::ServiceKey& service, const model::RealKey& real) {
    return !overrides.count(policy::OverrideKey{service, real});
}

ServiceView service_view(const model::ServiceConfig& config, const policy::ServiceDecision& d,
                         const policy::Overrides& overrides) {
    return service_view(d, config.spec.scheduler, check_type_of(config), [&](size_t i) {
        return override_for_every_service(overrides, config.key, d.reals[i].real);
    });
}

ServiceView service_view(const policy::ServiceDecision& d, std::string_view scheduler,
                         std::string_view check_type,
                         const std::function<bool(size_t)>& every_service) {
    ServiceView v;
    v.name = d.name;
    v.key = d.key;
    v.scheduler = std::string(scheduler);
    v.check_type = std::string(check_type);
    v.panic = d.panic;
    v.sorry_active = d.sorry_active;
    v.down = static_cast<uint32_t>(d.down);
    v.reals.reserve(d.reals.size());
    for (size_t i = 0; i < d.reals.size(); ++i) {
        const auto& r = d.reals[i];
        RealView rv;
        rv.real = r.real.to_string();
        rv.sorry = r.sorry;
        rv.present = r.present;
        rv.down = r.down;
        rv.awaiting = r.awaiting;
        rv.ramping = r.ramping;
        rv.configured = r.configured;
        rv.effective = r.effective;
        rv.state = std::string(health::to_string(r.state));
        rv.reason = r.reason;
        if (r.override_) {
            OverrideView o;
            o.action = r.override_->kind == policy::Override::Kind::drain ? "drain" : "weight";
            o.weight = r.override_->weight;
            o.every_service = every_service(i);
            o.set_by = r.override_->set_by;
            o.set_at = unix_seconds(r.override_->set_at);
            rv.override_ = std::move(o);
        }
        v.reals.push_back(std::move(rv));
    }
    return v;
}

ReconcileView reconcile_view(const daemon::ReconcileStatus& st, daemon::SteadyTime now) {
    ReconcileView v;
    v.in_sync = st.in_sync;
    if (st.last_resync) v.last_resync = unix_seconds(*st.last_resync);
    v.resyncs = st.resyncs;
    v.drift_repairs = st.drift_repairs;
    v.ops_applied = st.ops_applied;
    v.op_failures = st.op_failures;
    v.failing_total = st.failing.size();
    for (const auto& [key, err] : st.failing) {
        if (v.failing.size() == ReconcileView::kListLimit) break;
        v.failing.push_back(FailingKeyView{key.to_string(), err.describe()});
    }
    v.retry_failures = st.retry.consecutive_failures;
    if (st.retry.next_attempt)
        v.retry_in_seconds =
            std::max(0.0, std::chrono::duration<double>(*st.retry.next_attempt - now).count());
    v.draining_total = st.draining.size();
    for (const auto& d : st.draining) {
        if (v.draining.size() == ReconcileView::kListLimit) break;
        v.draining.push_back(d.service.to_string() + " -> " + d.real.to_string() +
                             (d.connections == UINT32_MAX
                                  ? ""
                                  : " (" + std::to_string(d.connections) + " connections)"));
    }
    for (const auto& f : st.foreign) {
        if (v.foreign.size() == ReconcileView::kListLimit) break;
        v.foreign.push_back(f.to_string());
    }
    return v;
}

EventView event_view(const daemon::Event& e) {
    EventView v;
    v.at = unix_seconds(e.at);
    v.severity = std::string(severity_name(e.severity));
    v.kind = std::string(daemon::to_string(e.kind));
    v.message = e.message;
    if (e.service) v.service = e.service->to_string();
    if (e.real) v.real = e.real->to_string();
    return v;
}

namespace {

const model::ServiceConfig* find_service(const model::DirectorConfig& c,
                                         const model::ServiceKey& key) {
    for (const auto& s : c.services)
        if (s.key == key) return &s;
    return nullptr;
}

std::string service_name(const model::DirectorConfig& next, const model::DirectorConfig& current,
                         const model::ServiceKey& key) {
    const auto* s = find_service(next, key);
    if (!s) s = find_service(current, key);
    return s ? s->name + " (" + key.to_string() + ")" : key.to_string();
}

std::string persistence_text(const model::ServiceSpec& s) {
    return s.persistence ? std::to_string(*s.persistence) + "s" : "off";
}

// What an in-place edit of a service changes, as "scheduler rr -> wrr; persistence off -> 300s".
std::string service_changes(const model::ServiceSpec& before, const model::ServiceSpec& after) {
    std::vector<std::string> parts;
    if (before.scheduler != after.scheduler)
        parts.push_back("scheduler " + before.scheduler + " -> " + after.scheduler);
    if (before.persistence != after.persistence)
        parts.push_back("persistence " + persistence_text(before) + " -> " +
                        persistence_text(after));
    if (before.netmask != after.netmask)
        parts.push_back("netmask " + std::to_string(before.netmask) + " -> " +
                        std::to_string(after.netmask));
    if (before.pe_name != after.pe_name)
        parts.push_back("persistence engine '" + before.pe_name + "' -> '" + after.pe_name + "'");
    if (before.flags.to_bits() != after.flags.to_bits()) parts.push_back("flags");
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
    return out.empty() ? "attributes" : out;
}

std::string real_changes(const model::RealSpec& before, const model::RealSpec& after) {
    std::vector<std::string> parts;
    if (before.weight != after.weight)
        parts.push_back("weight " + std::to_string(before.weight) + " -> " +
                        std::to_string(after.weight));
    if (before.forward != after.forward)
        parts.push_back("forwarding " + std::string(model::to_string(before.forward)) + " -> " +
                        std::string(model::to_string(after.forward)));
    if (before.upper_threshold != after.upper_threshold)
        parts.push_back("upper threshold " + std::to_string(before.upper_threshold) + " -> " +
                        std::to_string(after.upper_threshold));
    if (before.lower_threshold != after.lower_threshold)
        parts.push_back("lower threshold " + std::to_string(before.lower_threshold) + " -> " +
                        std::to_string(after.lower_threshold));
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
    return out.empty() ? "attributes" : out;
}

bool config_has_real(const model::DirectorConfig& c, const model::ServiceKey& service,
                     const model::RealKey& real) {
    const auto* s = find_service(c, service);
    if (!s) return false;
    return std::any_of(s->reals.begin(), s->reals.end(),
                       [&](const auto& r) { return r.key == real; });
}

PlanLine op_line(const IpvsOp& op, const model::DirectorConfig& current,
                 const model::DirectorConfig& next, const model::IpvsTable& programmed) {
    const std::string name = service_name(next, current, op.service);
    auto svc = programmed.services.find(op.service);
    switch (op.kind) {
        case IpvsOp::Kind::add_service:
            return {'+', "service " + name + ", scheduler " + op.service_spec.scheduler};
        case IpvsOp::Kind::edit_service:
            return {'~', "service " + name + ": " +
                             (svc == programmed.services.end()
                                  ? std::string("attributes")
                                  : service_changes(svc->second.spec, op.service_spec))};
        case IpvsOp::Kind::del_service:
            return {'-',
                    "service " + name +
                        (svc == programmed.services.end()
                             ? std::string()
                             : " (" + std::to_string(svc->second.reals.size()) + " real servers)")};
        case IpvsOp::Kind::add_dest:
            return {'+', "real " + op.real.to_string() + " in " + name + ", weight " +
                             std::to_string(op.real_spec.weight) + ", " +
                             std::string(model::to_string(op.real_spec.forward))};
        case IpvsOp::Kind::edit_dest: {
            std::string text = "real " + op.real.to_string() + " in " + name + ": ";
            const model::RealSpec* before = nullptr;
            if (svc != programmed.services.end()) {
                auto it = svc->second.reals.find(op.real);
                if (it != svc->second.reals.end()) before = &it->second;
            }
            text += before ? real_changes(*before, op.real_spec)
                           : "weight " + std::to_string(op.real_spec.weight);
            if (op.real_spec.weight == 0 && !config_has_real(next, op.service, op.real))
                text += " (removed from the config: drains, deleted once its connections end)";
            return {'~', text};
        }
        case IpvsOp::Kind::del_dest:
            return {'-', "real " + op.real.to_string() + " in " + name};
    }
    return {'~', op.to_string()};
}

}  // namespace

PlanView plan_view(const std::string& file, const daemon::ReloadOutcome& outcome,
                   const model::DirectorConfig& current, const model::DirectorConfig& next,
                   const model::IpvsTable& programmed) {
    PlanView p;
    p.file = file;
    p.ipvs_ops = outcome.ops.size();
    for (const auto& op : outcome.ops) p.lines.push_back(op_line(op, current, next, programmed));
    for (const auto& k : outcome.checks.added) p.lines.push_back({'+', "check " + k.to_string()});
    for (const auto& k : outcome.checks.removed) p.lines.push_back({'-', "check " + k.to_string()});
    for (const auto& c : outcome.nft.changes) {
        const char sign = c.rfind("add ", 0) == 0 ? '+' : c.rfind("delete ", 0) == 0 ? '-' : '~';
        p.lines.push_back({sign, "nft table inet ballast: " + c});
    }
    if (p.lines.empty()) {
        p.summary = "no changes: the running configuration already matches " + file;
    } else {
        p.summary = std::to_string(outcome.ops.size()) + " IPVS write" +
                    (outcome.ops.size() == 1 ? "" : "s") + "; checks +" +
                    std::to_string(outcome.checks.added.size()) + " -" +
                    std::to_string(outcome.checks.removed.size()) + " (" +
                    std::to_string(outcome.checks.kept.size()) +
                    " kept); nft: " + std::to_string(outcome.nft.changes.size()) + " change" +
                    (outcome.nft.changes.size() == 1 ? "" : "s");
    }
    return p;
}

ReloadView reload_view(const std::string& file, size_t services,
                       const daemon::ReloadOutcome& outcome) {
    ReloadView r;
    r.file = file;
    r.services = services;
    r.checks_added = outcome.checks.added.size();
    r.checks_removed = outcome.checks.removed.size();
    r.checks_kept = outcome.checks.kept.size();
    r.ipvs_ops = outcome.ops.size();
    r.failed_ops = outcome.failed_ops;
    r.nft = outcome.nft.changes;
    return r;
}

}  // namespace ballast::control
