#include "ballast/control/views.hpp"

#include <boost/json.hpp>

#include "ballast/control/json_fields.hpp"
#include "ballast/state/json_keys.hpp"

namespace ballast::control {

namespace json = boost::json;

UnixSeconds unix_seconds(std::chrono::system_clock::time_point t) {
    return std::chrono::duration<double>(t.time_since_epoch()).count();
}

namespace {

Error malformed(const std::string& problem) {
    return make_error(EBADMSG, "decode", {}, "malformed reply from the daemon: " + problem);
}

void put_opt(json::object& o, const char* name, const std::optional<double>& v) {
    if (v) o[name] = *v;
}

json::array strings(const std::vector<std::string>& items) {
    json::array a;
    for (const auto& s : items) a.emplace_back(s);
    return a;
}

std::vector<std::string> read_strings(JsonFields& f, std::string_view name, bool required) {
    std::vector<std::string> out;
    if (!required && !f.has(name)) return out;
    const auto* a = f.array(name);
    if (!a) return out;
    for (const auto& v : *a) {
        if (!v.is_string()) {
            f.fail(f.where(name) + " must hold strings");
            break;
        }
        out.emplace_back(v.get_string());
    }
    return out;
}

// Each array element through `read` (which gets the element and its place); stops at the
// first problem.
template <typename T, typename Read>
std::vector<T> read_list(JsonFields& f, std::string_view name, Read read, bool required = true) {
    std::vector<T> out;
    if (!required && !f.has(name)) return out;
    const auto* a = f.array(name);
    if (!a) return out;
    size_t i = 0;
    for (const auto& v : *a) {
        auto item = read(v, f.where(name) + "[" + std::to_string(i++) + "]");
        if (!item) {
            f.fail(item.error().message);
            break;
        }
        out.push_back(std::move(*item));
    }
    return out;
}

template <typename T>
Result<T> finish(JsonFields& f, T value) {
    if (!f.ok()) return make_error(EBADMSG, "decode", {}, f.problem());
    return value;
}

Result<CheckRunView> check_run_from(const json::value& v, std::string where) {
    JsonFields f(v, std::move(where));
    CheckRunView c;
    c.check = f.str("check");
    c.state = f.str("state");
    c.since = f.opt_number("since");
    c.last_at = f.opt_number("last_at");
    c.last_ok = f.opt_boolean("last_ok").value_or(false);
    c.last_reason = f.opt_str("last_reason").value_or("");
    c.last_duration_ms = f.opt_number("last_duration_ms").value_or(0);
    c.runs = f.opt_uint("runs").value_or(0);
    return finish(f, std::move(c));
}

Result<TrafficView> traffic_from(const json::value& v, std::string where) {
    JsonFields f(v, std::move(where));
    TrafficView t;
    t.conns = f.uint("conns");
    t.inpkts = f.uint("inpkts");
    t.outpkts = f.uint("outpkts");
    t.inbytes = f.uint("inbytes");
    t.outbytes = f.uint("outbytes");
    t.cps = f.uint("cps");
    t.inpps = f.uint("inpps");
    t.outpps = f.uint("outpps");
    t.inbps = f.uint("inbps");
    t.outbps = f.uint("outbps");
    return finish(f, t);
}

Result<OverrideView> override_from(const json::value& v, std::string where) {
    JsonFields f(v, std::move(where));
    OverrideView o;
    o.action = f.str("action");
    o.weight = static_cast<uint32_t>(f.opt_uint("weight", model::kMaxWeight).value_or(0));
    o.every_service = f.boolean("every_service");
    o.set_by = f.opt_str("set_by").value_or("");
    o.set_at = f.opt_number("set_at").value_or(0);
    return finish(f, std::move(o));
}

template <typename T>
std::optional<T> read_sub(JsonFields& f, std::string_view name,
                          Result<T> (*read)(const json::value&, std::string)) {
    const auto* v = f.opt_object(name);
    if (!v) return std::nullopt;
    auto r = read(*v, f.where(name));
    if (!r) {
        f.fail(r.error().message);
        return std::nullopt;
    }
    return std::move(*r);
}

Result<RealView> real_from(const json::value& v, std::string where) {
    JsonFields f(v, std::move(where));
    RealView r;
    r.real = f.str("real");
    r.sorry = f.opt_boolean("sorry").value_or(false);
    r.present = f.opt_boolean("present").value_or(true);
    r.down = f.opt_boolean("down").value_or(false);
    r.awaiting = f.opt_boolean("awaiting").value_or(false);
    r.ramping = f.opt_boolean("ramping").value_or(false);
    r.configured = static_cast<uint32_t>(f.uint("configured", model::kMaxWeight));
    r.effective = static_cast<uint32_t>(f.uint("effective", model::kMaxWeight));
    r.state = f.str("state");
    r.reason = f.opt_str("reason").value_or("");
    r.override_ = read_sub<OverrideView>(f, "override", &override_from);
    r.check = read_sub<CheckRunView>(f, "check", &check_run_from);
    r.agent = read_sub<CheckRunView>(f, "agent", &check_run_from);
    auto u32 = [&](const char* name) -> std::optional<uint32_t> {
        auto n = f.opt_uint(name, UINT32_MAX);
        return n ? std::optional<uint32_t>(static_cast<uint32_t>(*n)) : std::nullopt;
    };
    r.active = u32("active");
    r.inactive = u32("inactive");
    r.persistent = u32("persistent");
    r.traffic = read_sub<TrafficView>(f, "traffic", &traffic_from);
    return finish(f, std::move(r));
}

Result<ServiceView> service_from(const json::value& v, std::string where) {
    JsonFields f(v, std::move(where));
    ServiceView s;
    s.name = f.str("name");
    if (const auto* key = f.object("service")) {
        auto k = state::service_key_from_json(*key);
        if (!k)
            f.fail(f.where("service") + ": " + k.error().message);
        else
            s.key = *k;
    }
    s.scheduler = f.opt_str("scheduler").value_or("");
    s.check_type = f.opt_str("check").value_or("none");
    s.panic = f.opt_boolean("panic").value_or(false);
    s.sorry_active = f.opt_boolean("sorry_active").value_or(false);
    s.down = static_cast<uint32_t>(f.opt_uint("down", UINT32_MAX).value_or(0));
    s.reals = read_list<RealView>(f, "reals", &real_from);
    s.traffic = read_sub<TrafficView>(f, "traffic", &traffic_from);
    return finish(f, std::move(s));
}

Result<FailingKeyView> failing_from(const json::value& v, std::string where) {
    JsonFields f(v, std::move(where));
    FailingKeyView k;
    k.key = f.str("key");
    k.error = f.str("error");
    return finish(f, std::move(k));
}

Result<ReconcileView> reconcile_from(const json::value& v, std::string where) {
    JsonFields f(v, std::move(where));
    ReconcileView r;
    r.in_sync = f.boolean("in_sync");
    r.last_resync = f.opt_number("last_resync");
    r.resyncs = f.uint("resyncs");
    r.drift_repairs = f.uint("drift_repairs");
    r.ops_applied = f.uint("ops_applied");
    r.op_failures = f.uint("op_failures");
    r.failing_total = f.uint("failing_total");
    r.failing = read_list<FailingKeyView>(f, "failing", &failing_from);
    r.retry_failures = static_cast<uint32_t>(f.opt_uint("retry_failures", UINT32_MAX).value_or(0));
    r.retry_in_seconds = f.opt_number("retry_in_seconds");
    r.draining_total = f.opt_uint("draining_total").value_or(0);
    r.draining = read_strings(f, "draining", false);
    r.foreign = read_strings(f, "foreign", false);
    return finish(f, std::move(r));
}

Result<EventView> event_from(const json::value& v, std::string where) {
    JsonFields f(v, std::move(where));
    EventView e;
    e.at = f.number("at");
    e.severity = f.str("severity");
    e.kind = f.str("kind");
    e.message = f.str("message");
    e.service = f.opt_str("service");
    e.real = f.opt_str("real");
    return finish(f, std::move(e));
}

}  // namespace

json::value to_json(const CheckRunView& c) {
    json::object o;
    o["check"] = c.check;
    o["state"] = c.state;
    put_opt(o, "since", c.since);
    put_opt(o, "last_at", c.last_at);
    o["last_ok"] = c.last_ok;
    o["last_reason"] = c.last_reason;
    o["last_duration_ms"] = c.last_duration_ms;
    o["runs"] = c.runs;
    return o;
}

json::value to_json(const TrafficView& t) {
    json::object o;
    o["conns"] = t.conns;
    o["inpkts"] = t.inpkts;
    o["outpkts"] = t.outpkts;
    o["inbytes"] = t.inbytes;
    o["outbytes"] = t.outbytes;
    o["cps"] = t.cps;
    o["inpps"] = t.inpps;
    o["outpps"] = t.outpps;
    o["inbps"] = t.inbps;
    o["outbps"] = t.outbps;
    return o;
}

json::value to_json(const RealView& r) {
    json::object o;
    o["real"] = r.real;
    o["sorry"] = r.sorry;
    o["present"] = r.present;
    o["down"] = r.down;
    o["awaiting"] = r.awaiting;
    o["ramping"] = r.ramping;
    o["configured"] = r.configured;
    o["effective"] = r.effective;
    o["state"] = r.state;
    o["reason"] = r.reason;
    if (r.override_) {
        json::object ov;
        ov["action"] = r.override_->action;
        ov["weight"] = r.override_->weight;
        ov["every_service"] = r.override_->every_service;
        ov["set_by"] = r.override_->set_by;
        ov["set_at"] = r.override_->set_at;
        o["override"] = std::move(ov);
    }
    if (r.check) o["check"] = to_json(*r.check);
    if (r.agent) o["agent"] = to_json(*r.agent);
    if (r.active) o["active"] = *r.active;
    if (r.inactive) o["inactive"] = *r.inactive;
    if (r.persistent) o["persistent"] = *r.persistent;
    if (r.traffic) o["traffic"] = to_json(*r.traffic);
    return o;
}

json::value to_json(const ServiceView& s) {
    json::object o;
    o["name"] = s.name;
    o["service"] = state::service_key_to_json(s.key);
    o["key"] = s.key.to_string();
    o["scheduler"] = s.scheduler;
    o["check"] = s.check_type;
    o["panic"] = s.panic;
    o["sorry_active"] = s.sorry_active;
    o["down"] = s.down;
    json::array reals;
    reals.reserve(s.reals.size());
    for (const auto& r : s.reals) reals.push_back(to_json(r));
    o["reals"] = std::move(reals);
    if (s.traffic) o["traffic"] = to_json(*s.traffic);
    return o;
}

json::value to_json(const ReconcileView& r) {
    json::object o;
    o["in_sync"] = r.in_sync;
    put_opt(o, "last_resync", r.last_resync);
    o["resyncs"] = r.resyncs;
    o["drift_repairs"] = r.drift_repairs;
    o["ops_applied"] = r.ops_applied;
    o["op_failures"] = r.op_failures;
    o["failing_total"] = r.failing_total;
    json::array failing;
    for (const auto& f : r.failing)
        failing.push_back(json::object{{"key", f.key}, {"error", f.error}});
    o["failing"] = std::move(failing);
    o["retry_failures"] = r.retry_failures;
    put_opt(o, "retry_in_seconds", r.retry_in_seconds);
    o["draining_total"] = r.draining_total;
    o["draining"] = strings(r.draining);
    o["foreign"] = strings(r.foreign);
    return o;
}

json::value to_json(const EventView& e) {
    json::object o;
    o["at"] = e.at;
    o["severity"] = e.severity;
    o["kind"] = e.kind;
    o["message"] = e.message;
    if (e.service) o["service"] = *e.service;
    if (e.real) o["real"] = *e.real;
    return o;
}

json::value to_json(const StatusView& s) {
    json::object o;
    o["daemon"] = s.daemon;
    o["config"] = s.config;
    o["pid"] = s.pid;
    o["now"] = s.now;
    put_opt(o, "counters_at", s.counters_at);
    o["reconcile"] = to_json(s.reconcile);
    json::array services;
    services.reserve(s.services.size());
    for (const auto& svc : s.services) services.push_back(to_json(svc));
    o["services"] = std::move(services);
    json::array events;
    for (const auto& e : s.recent_events) events.push_back(to_json(e));
    o["recent_events"] = std::move(events);
    return o;
}

json::value to_json(const PlanView& p) {
    json::object o;
    o["file"] = p.file;
    o["summary"] = p.summary;
    o["ipvs_ops"] = p.ipvs_ops;
    json::array lines;
    for (const auto& l : p.lines)
        lines.push_back(json::object{{"sign", std::string(1, l.sign)}, {"text", l.text}});
    o["lines"] = std::move(lines);
    return o;
}

json::value to_json(const ReloadView& r) {
    json::object o;
    o["file"] = r.file;
    o["services"] = r.services;
    o["checks"] = json::object{
        {"added", r.checks_added}, {"removed", r.checks_removed}, {"kept", r.checks_kept}};
    o["ipvs_ops"] = r.ipvs_ops;
    o["failed_ops"] = r.failed_ops;
    o["nft"] = strings(r.nft);
    return o;
}

json::value to_json(const HelloView& h) {
    return json::object{{"daemon", h.daemon}, {"pid", h.pid}, {"config", h.config}};
}

Result<StatusView> status_from_json(const json::value& v) {
    JsonFields f(v, "status");
    StatusView s;
    s.daemon = f.str("daemon");
    s.config = f.opt_str("config").value_or("");
    s.pid = static_cast<int64_t>(f.opt_uint("pid").value_or(0));
    s.now = f.number("now");
    s.counters_at = f.opt_number("counters_at");
    if (const auto* r = f.object("reconcile")) {
        auto rec = reconcile_from(*r, f.where("reconcile"));
        if (!rec)
            f.fail(rec.error().message);
        else
            s.reconcile = std::move(*rec);
    }
    s.services = read_list<ServiceView>(f, "services", &service_from);
    s.recent_events = read_list<EventView>(f, "recent_events", &event_from, false);
    if (!f.ok()) return malformed(f.problem());
    return s;
}

Result<EventView> event_from_json(const json::value& v) {
    auto e = event_from(v, "event");
    if (!e) return malformed(e.error().message);
    return e;
}

Result<PlanView> plan_from_json(const json::value& v) {
    JsonFields f(v, "plan");
    PlanView p;
    p.file = f.str("file");
    p.summary = f.str("summary");
    p.ipvs_ops = f.uint("ipvs_ops");
    p.lines = read_list<PlanLine>(f, "lines", [](const json::value& item, std::string where) {
        JsonFields l(item, std::move(where));
        PlanLine line;
        const auto sign = l.str("sign");
        if (l.ok() && (sign.size() != 1 || (sign[0] != '+' && sign[0] != '-' && sign[0] != '~')))
            l.fail(l.where("sign") + " must be \"+\", \"-\" or \"~\"");
        if (l.ok()) line.sign = sign[0];
        line.text = l.str("text");
        return finish(l, std::move(line));
    });
    if (!f.ok()) return malformed(f.problem());
    return p;
}

Result<ReloadView> reload_from_json(const json::value& v) {
    JsonFields f(v, "reload");
    ReloadView r;
    r.file = f.str("file");
    r.services = f.uint("services");
    if (const auto* c = f.object("checks")) {
        JsonFields checks(*c, f.where("checks"));
        r.checks_added = checks.uint("added");
        r.checks_removed = checks.uint("removed");
        r.checks_kept = checks.uint("kept");
        if (!checks.ok()) f.fail(checks.problem());
    }
    r.ipvs_ops = f.uint("ipvs_ops");
    r.failed_ops = f.uint("failed_ops");
    r.nft = read_strings(f, "nft", false);
    if (!f.ok()) return malformed(f.problem());
    return r;
}

Result<HelloView> hello_from_json(const json::value& v) {
    JsonFields f(v, "hello");
    HelloView h;
    h.daemon = f.str("daemon");
    h.pid = static_cast<int64_t>(f.opt_uint("pid").value_or(0));
    h.config = f.opt_str("config").value_or("");
    if (!f.ok()) return malformed(f.problem());
    return h;
}

}  // namespace ballast::control
