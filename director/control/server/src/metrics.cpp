#include "ballast/control/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <sstream>

#include <isa-l/igzip_lib.h>

#include <prometheus/gauge.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

namespace ballast::control {

namespace prom = prometheus;
using Label = prom::ClientMetric::Label;
using Labels = std::vector<Label>;

namespace {

struct FamilyDef {
    const char* name;
    const char* help;
    prom::MetricType type;
};

// Per service and per real server, from the service's published entry.
constexpr std::array<FamilyDef, Metrics::kStateFamilies> kStateDefs{{
    {"ballast_service_info", "A configured service: its name, scheduler and check type (value 1)",
     prom::MetricType::Gauge},
    {"ballast_service_panic",
     "1 while more than the panic threshold of the service's real servers are down, so every "
     "one keeps its weight",
     prom::MetricType::Gauge},
    {"ballast_service_sorry_server_active", "1 while the sorry server takes the service's traffic",
     prom::MetricType::Gauge},
    {"ballast_service_real_servers_down", "Real servers of the service its checks find down",
     prom::MetricType::Gauge},
    {"ballast_real_weight_configured", "The real server's weight in the configuration",
     prom::MetricType::Gauge},
    {"ballast_real_weight_effective",
     "The weight ballastd gives the real server now (health, agent, overrides, slow start, "
     "panic; -1 while removed from IPVS)",
     prom::MetricType::Gauge},
    {"ballast_real_health",
     "The real server's check: 1 up, 0 down, -1 no result yet or not checked",
     prom::MetricType::Gauge},
    {"ballast_real_override",
     "1 while an operator's override (ballastctl drain or weight) is in force, by action",
     prom::MetricType::Gauge},
    {"ballast_real_health_transitions_total",
     "Changes of the real server's health state since ballastd started, by new state and reason",
     prom::MetricType::Counter},
}};

// From the last IPVS dump (ballast_ipvs_*: node_exporter's ipvs collector, per service).
constexpr std::array<FamilyDef, Metrics::kCounterFamilies> kCounterDefs{{
    {"ballast_ipvs_connections_total", "Connections the service accepted (IPVS counter)",
     prom::MetricType::Counter},
    {"ballast_ipvs_incoming_packets_total", "Packets into the service (IPVS counter)",
     prom::MetricType::Counter},
    {"ballast_ipvs_outgoing_packets_total", "Packets out of the service (IPVS counter)",
     prom::MetricType::Counter},
    {"ballast_ipvs_incoming_bytes_total", "Bytes into the service (IPVS counter)",
     prom::MetricType::Counter},
    {"ballast_ipvs_outgoing_bytes_total", "Bytes out of the service (IPVS counter)",
     prom::MetricType::Counter},
    {"ballast_ipvs_backend_connections_active", "Active connections to the real server (IPVS)",
     prom::MetricType::Gauge},
    {"ballast_ipvs_backend_connections_inactive", "Inactive connections to the real server (IPVS)",
     prom::MetricType::Gauge},
}};

const std::vector<double> kCheckBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,    0.25,  0.5,    1,     2.5,  5,     10};
const std::vector<double> kReconcileBuckets{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                            0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                            1,      2.5,     5,      10};
const std::vector<double> kLatenessBuckets{0.0001, 0.0005, 0.001, 0.005, 0.01,
                                           0.05,   0.1,    0.5,   1,     5};

double seconds(std::chrono::nanoseconds d) {
    return std::chrono::duration<double>(d).count();
}

std::string serialize(const std::vector<prom::MetricFamily>& families) {
    std::ostringstream os;
    prom::TextSerializer().Serialize(os, families);
    return std::move(os).str();
}

// The serializer's output split by family (a "# HELP" line starts one), without the
// comment lines: one text per family, in order.
template <size_t N>
std::array<std::string, N> split_families(const std::string& text) {
    std::array<std::string, N> parts;
    long index = -1;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size() - 1;
        if (text.compare(pos, 7, "# HELP ") == 0) ++index;
        if (text[pos] != '#' && index >= 0 && static_cast<size_t>(index) < N)
            parts[static_cast<size_t>(index)].append(text, pos, end + 1 - pos);
        pos = end + 1;
    }
    return parts;
}

std::string header(const FamilyDef& d) {
    return serialize({prom::MetricFamily{d.name, d.help, d.type, {}}});
}

Labels service_labels(const model::ServiceKey& key) {
    if (key.is_fwmark()) return {{"local_mark", std::to_string(key.fwmark)}, {"proto", "FWM"}};
    std::string proto(model::to_string(key.protocol));
    for (auto& c : proto) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return {{"local_address", key.addr.to_string()},
            {"local_port", std::to_string(key.port)},
            {"proto", std::move(proto)}};
}

Labels with(const Labels& base, std::initializer_list<Label> more) {
    Labels out = base;
    out.insert(out.end(), more);
    return out;
}

prom::ClientMetric gauge(Labels labels, double value) {
    prom::ClientMetric m;
    m.label = std::move(labels);
    m.gauge.value = value;
    return m;
}

prom::ClientMetric counter(Labels labels, double value) {
    prom::ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = value;
    return m;
}

prom::MetricFamily family(const char* name, const char* help, prom::MetricType type,
                          std::vector<prom::ClientMetric> metrics) {
    return prom::MetricFamily{name, help, type, std::move(metrics)};
}

}  // namespace

// ISA-L's igzip, not zlib: at level 1 it deflates the ~17 MB of counter text a dump changes
// in about half zlib's level-1 time (12 against 25 ms, measured on these texts), with output no
// larger; zlib's inflate reads its members in the tests.
struct Metrics::Deflater {
    isal_zstream z{};
    std::vector<uint8_t> level_buf = std::vector<uint8_t>(ISAL_DEF_LVL1_DEFAULT);
    std::string out;  // compressed output, reused (a member keeps only what it needs)
    std::vector<const std::string*> texts;  // of a run, reused
};

std::shared_ptr<const std::string> Metrics::gzip(const std::vector<const std::string*>& texts) {
    auto& z = deflater_->z;
    auto& out = deflater_->out;
    isal_deflate_init(&z);
    z.gzip_flag = IGZIP_GZIP;
    z.level = 1;
    z.level_buf = deflater_->level_buf.data();
    z.level_buf_size = static_cast<uint32_t>(deflater_->level_buf.size());
    size_t total = 0;
    for (const auto* t : texts) total += t->size();
    // Above deflate's worst case (fixed codes: 9 bits a byte) and the gzip framing.
    out.resize(std::max(out.size(), total + total / 8 + 1024));
    z.next_out = reinterpret_cast<uint8_t*>(out.data());
    z.avail_out = static_cast<uint32_t>(out.size());
    // The texts fed one after the other: one member, without joining them first.
    for (size_t i = 0; i < texts.size(); ++i) {
        z.next_in = reinterpret_cast<uint8_t*>(const_cast<char*>(texts[i]->data()));
        z.avail_in = static_cast<uint32_t>(texts[i]->size());
        z.end_of_stream = i + 1 == texts.size() ? 1 : 0;
        const bool done =
            isal_deflate(&z) == COMP_OK &&
            (z.end_of_stream ? z.internal_state.state == ZSTATE_END : z.avail_in == 0);
        if (!done) throw std::runtime_error("deflate failed");
    }
    return std::make_shared<const std::string>(out.data(), z.total_out);
}

std::shared_ptr<const std::string> Metrics::gzip(const std::string& text) {
    return gzip(std::vector<const std::string*>{&text});
}

Metrics::~Metrics() = default;

Metrics::Metrics(const std::string& version)
    : check_duration_(prom::BuildHistogram()
                          .Name("ballast_check_duration_seconds")
                          .Help("How long health check runs took, by check type")
                          .Register(registry_)),
      check_runs_(prom::BuildCounter()
                      .Name("ballast_check_runs_total")
                      .Help("Health check runs, by check type and result")
                      .Register(registry_)),
      reconcile_duration_(
          prom::BuildHistogram()
              .Name("ballast_reconcile_duration_seconds")
              .Help("Time from an input (a health verdict, an override, a reload, a resync's dump, "
                    "a slow-start step) to its IPVS writes acknowledged, by trigger")
              .Register(registry_)),
      events_(prom::BuildCounter()
                  .Name("ballast_events_total")
                  .Help("Logged state changes, by severity and kind")
                  .Register(registry_)),
      requests_(prom::BuildCounter()
                    .Name("ballast_control_requests_total")
                    .Help("Control socket and status page requests, by verb and result")
                    .Register(registry_)),
      dump_duration_(prom::BuildHistogram()
                         .Name("ballast_ipvs_dump_duration_seconds")
                         .Help("Full IPVS dumps (resyncs and fresh counters)")
                         .Register(registry_)
                         .Add({}, kReconcileBuckets)),
      loop_lateness_(prom::BuildHistogram()
                         .Name("ballast_event_loop_lateness_seconds")
                         .Help("How late the daemon's event loop ran a timer (sampled every "
                               "250 ms): time the loop was busy with something else")
                         .Register(registry_)
                         .Add({}, kLatenessBuckets)) {
    deflater_ = std::make_unique<Deflater>();
    for (size_t i = 0; i < kStateFamilies; ++i)
        headers_[i] = std::make_shared<const std::string>(header(kStateDefs[i]));
    for (size_t i = 0; i < kCounterFamilies; ++i)
        headers_[kStateFamilies + i] = std::make_shared<const std::string>(header(kCounterDefs[i]));
    for (size_t i = 0; i < headers_.size(); ++i) headers_gz_[i] = gzip(*headers_[i]);
    prom::BuildGauge()
        .Name("ballast_build_info")
        .Help("ballastd's version (value 1)")
        .Register(registry_)
        .Add({{"version", version}})
        .Set(1);
    for (uint8_t t = 0; t < 8; ++t) {
        const std::string type(model::to_string(static_cast<model::CheckType>(t)));
        check_duration_by_type_[t] = &check_duration_.Add({{"type", type}}, kCheckBuckets);
        check_runs_by_type_[t][0] = &check_runs_.Add({{"type", type}, {"result", "failure"}});
        check_runs_by_type_[t][1] = &check_runs_.Add({{"type", type}, {"result", "success"}});
    }
}

void Metrics::observe_check(model::CheckType type, bool success, std::chrono::nanoseconds took) {
    const auto t = static_cast<size_t>(type);
    if (t >= check_duration_by_type_.size()) return;
    check_duration_by_type_[t]->Observe(seconds(took));
    check_runs_by_type_[t][success ? 1 : 0]->Increment();
}

void Metrics::observe_reconcile(std::string_view trigger, std::chrono::nanoseconds took) {
    reconcile_duration_.Add({{"trigger", std::string(trigger)}}, kReconcileBuckets)
        .Observe(seconds(took));
}

void Metrics::observe_dump(std::chrono::nanoseconds took) {
    dump_duration_.Observe(seconds(took));
}

void Metrics::observe_loop_lateness(std::chrono::nanoseconds late) {
    loop_lateness_.Observe(seconds(late));
}

void Metrics::count_event(std::string_view severity, std::string_view kind) {
    events_.Add({{"severity", std::string(severity)}, {"kind", std::string(kind)}}).Increment();
}

void Metrics::count_request(std::string_view verb, bool ok) {
    requests_.Add({{"verb", std::string(verb)}, {"result", ok ? "ok" : "error"}}).Increment();
}

void Metrics::render_state(const PublishedService& s, Fragments& f) {
    const ServiceView v = decided_view(s);
    f.reals = f.reals_down = 0;
    for (const auto& r : v.reals) {
        if (r.sorry) continue;
        ++f.reals;
        if (r.down) ++f.reals_down;
    }
    const Labels svc = with(service_labels(v.key), {{"service", v.name}});
    std::vector<prom::MetricFamily> fams;
    fams.reserve(kStateFamilies);
    for (const auto& d : kStateDefs) fams.push_back(prom::MetricFamily{d.name, d.help, d.type, {}});
    fams[0].metric.push_back(
        gauge(with(svc, {{"scheduler", v.scheduler}, {"check", v.check_type}}), 1));
    fams[1].metric.push_back(gauge(svc, v.panic ? 1 : 0));
    fams[2].metric.push_back(gauge(svc, v.sorry_active ? 1 : 0));
    fams[3].metric.push_back(gauge(svc, v.down));
    for (size_t i = 0; i < v.reals.size(); ++i) {
        const auto& r = v.reals[i];
        const auto& key = s.decision->reals[i].real;
        const Labels real = with(svc, {{"remote_address", key.addr.to_string()},
                                       {"remote_port", std::to_string(key.port)}});
        fams[4].metric.push_back(gauge(real, r.configured));
        fams[5].metric.push_back(gauge(real, r.present ? r.effective : -1.0));
        fams[6].metric.push_back(gauge(real, r.state == "up"     ? 1.0
                                             : r.state == "down" ? 0.0
                                                                 : -1.0));
        if (r.override_)
            fams[7].metric.push_back(gauge(with(real, {{"action", r.override_->action}}), 1));
        if (i < s.transitions.size())
            for (const auto& t : s.transitions[i])
                fams[8].metric.push_back(counter(with(real, {{"to", t.to}, {"reason", t.reason}}),
                                                 static_cast<double>(t.count)));
    }
    auto texts = split_families<kStateFamilies>(serialize(fams));
    for (size_t i = 0; i < kStateFamilies; ++i) keep(f, i, std::move(texts[i]));
}

void Metrics::keep(Fragments& f, size_t family, std::string text) {
    Text& kept = text_of(f, family);
    if (kept.text && *kept.text == text) return;  // the same text keeps its member
    kept.text = std::make_shared<const std::string>(std::move(text));
    mark(f, family);
}

void Metrics::mark(const Fragments& f, size_t family) {
    // While services come or go, every member is made again anyway (and f.index may be stale).
    if (layout_changed_) return;
    auto& members = members_[family];
    const size_t run = f.index / services_per_member(family);
    if (run < members.size()) members[run].dirty = true;
}

namespace {

// A value as prometheus-cpp's TextSerializer writes a double (an ostream's default format at
// precision 16, i.e. printf's "%.16g"); counters and gauges from a dump are integers, and
// those up to 2^53 are their own digits. Written into buf (32 bytes); its length.
size_t format_value(char* buf, uint64_t v) {
    const auto r = v <= (uint64_t{1} << 53) ? std::to_chars(buf, buf + 32, v)
                                            : std::to_chars(buf, buf + 32, static_cast<double>(v),
                                                            std::chars_format::general, 16);
    return static_cast<size_t>(r.ptr - buf);
}

// Where counter family c's values are in a service's counter_values (see Fragments): the
// service's five counters, one a family, if it has them, then active and inactive per real.
struct ValueSlice {
    size_t first, count;
};
ValueSlice counter_slice(size_t c, bool has_stats, size_t reals) {
    if (c < 5) return {c, has_stats ? size_t{1} : 0};
    return {(has_stats ? 5 : 0) + (c - 5) * reals, reals};
}

// Appends text, the serializer's lines for count values, with each line's value (after its
// last space) written as the next of values. The lines are read and written once, into out
// (a run's buffer, reused, which is then compressed while it is still in the cache).
void append_with_values(std::string& out, const std::string& text, const uint64_t* values,
                        size_t count) {
    char buf[32];
    size_t pos = 0;
    for (size_t i = 0; i < count && pos < text.size(); ++i) {
        const size_t end = text.find('\n', pos);
        if (end == std::string::npos) return;
        const size_t space = text.rfind(' ', end);
        if (space == std::string::npos || space < pos) return;
        out.append(text, pos, space + 1 - pos);
        out.append(buf, format_value(buf, values[i]));
        out += '\n';
        pos = end + 1;
    }
}

}  // namespace

bool Metrics::render_counters(const model::ServiceKey& service, const kernel::IpvsStats* stats,
                              const kernel::CountersByReal* dests, Fragments& f) {
    auto& values = scratch_values_;
    values.clear();
    if (stats)
        values.insert(values.end(), {stats->conns, stats->inpkts, stats->outpkts, stats->inbytes,
                                     stats->outbytes});
    const size_t reals = dests ? dests->size() : 0;
    // One walk of the real servers: their active, then inactive counts, and whether they are
    // the reals the texts show.
    const size_t base = values.size();
    values.resize(base + 2 * reals);
    bool same_keys = f.dest_keys.size() == reals;
    if (dests) {
        size_t i = 0;
        for (const auto& [real, c] : *dests) {
            values[base + i] = c.active_conns;
            values[base + reals + i] = c.inactive_conns;
            same_keys = same_keys && f.dest_keys[i] == real;
            ++i;
        }
    }
    const bool same_series = f.counters_rendered && f.has_stats == (stats != nullptr) && same_keys;
    if (same_series && f.counter_values == values) return false;
    if (same_series) {
        // The same series with new values: the serializer's lines are kept, and a scrape
        // writes the new values into them (a dump changes every active real's counters;
        // serializing all their labels again cost ~2 us a series, and a new text for each
        // service and family cost an allocation and one more pass over ~17 MB). Only the
        // members of the families whose values changed are made again.
        for (size_t i = 0; i < kCounterFamilies; ++i) {
            const auto [first, n] = counter_slice(i, stats != nullptr, reals);
            const auto from = values.begin() + static_cast<ptrdiff_t>(first);
            if (!std::equal(from, from + static_cast<ptrdiff_t>(n),
                            f.counter_values.begin() + static_cast<ptrdiff_t>(first)))
                mark(f, kStateFamilies + i);
        }
        f.counter_values.assign(values.begin(), values.end());
        return true;
    }
    const Labels svc = service_labels(service);
    std::vector<prom::MetricFamily> fams;
    fams.reserve(kCounterFamilies);
    for (const auto& d : kCounterDefs)
        fams.push_back(prom::MetricFamily{d.name, d.help, d.type, {}});
    if (stats) {
        for (size_t i = 0; i < 5; ++i)
            fams[i].metric.push_back(counter(svc, static_cast<double>(values[i])));
    }
    if (dests) {
        for (const auto& [real, c] : *dests) {
            const Labels labels = with(svc, {{"remote_address", real.addr.to_string()},
                                             {"remote_port", std::to_string(real.port)}});
            fams[5].metric.push_back(gauge(labels, c.active_conns));
            fams[6].metric.push_back(gauge(labels, c.inactive_conns));
        }
    }
    auto texts = split_families<kCounterFamilies>(serialize(fams));
    for (size_t i = 0; i < kCounterFamilies; ++i) keep(f, kStateFamilies + i, std::move(texts[i]));
    f.counters_rendered = true;
    f.has_stats = stats != nullptr;
    f.dest_keys.clear();
    if (dests)
        for (const auto& [real, c] : *dests) f.dest_keys.push_back(real);
    f.counter_values.assign(values.begin(), values.end());
    return true;
}

void Metrics::write_counter_run(size_t family, size_t run, std::string& out) const {
    out.clear();
    const size_t c = family - kStateFamilies;
    const size_t per_member = services_per_member(family);
    const size_t last = std::min((run + 1) * per_member, ordered_.size());
    for (size_t i = run * per_member; i < last; ++i) {
        const Fragments& f = *ordered_[i];
        const auto& text = f.counters[c].text;
        if (!text || text->empty()) continue;
        const auto [first, count] = counter_slice(c, f.has_stats, f.dest_keys.size());
        if (first + count > f.counter_values.size()) continue;
        append_with_values(out, *text, f.counter_values.data() + first, count);
    }
}

Metrics::Exposition Metrics::render(const PublishedState::Snapshot& snap,
                                    const ServerGauges& gauges, Encoding encoding) {
    const bool gz = encoding == Encoding::gzip;
    size_t rerendered = 0;
    const uint64_t now = ++renders_;
    // The same dump as the last render's: every service seen then shows it already.
    const bool same_dump =
        !counters_seen_.owner_before(snap.counters) && !snap.counters.owner_before(counters_seen_);
    uint64_t reals = 0, reals_down = 0;
    bool counters_due = false;
    by_position_.resize(snap.services.size(), nullptr);
    for (size_t at = 0; at < snap.services.size(); ++at) {
        const auto& entry = snap.services[at];
        // by_position_ holds only fragments the last render saw, none erased since.
        Fragments* known = by_position_[at];
        if (!known || !known->from || !(known->from->key() == entry->key())) {
            auto [it, inserted] = fragments_.try_emplace(entry->key());
            layout_changed_ = layout_changed_ || inserted;
            known = by_position_[at] = &it->second;
        }
        Fragments& f = *known;
        const bool was_seen = f.seen + 1 == now;
        f.seen = now;
        f.counters_due = !(same_dump && was_seen && f.counters_rendered);
        counters_due = counters_due || f.counters_due;
        f.state_changed = f.from != entry;
        if (f.state_changed) {
            render_state(*entry, f);
            f.from = entry;
            ++rerendered;
        }
        reals += f.reals;
        reals_down += f.reals_down;
    }
    if (std::erase_if(fragments_, [now](const auto& kv) { return kv.second.seen != now; }) > 0)
        layout_changed_ = true;
    if (counters_due) {
        // The services' texts and the dump's services are both in key order: walked side by
        // side, not looked up. A due service's dests are decoded into one reused map.
        static const PublishedCounters kNoDump;
        const PublishedCounters& dump = snap.counters ? *snap.counters : kNoDump;
        size_t at = 0;
        for (auto& [key, f] : fragments_) {
            while (at < dump.size() && dump.key(at) < key) ++at;
            if (!f.counters_due) continue;
            const bool listed = at < dump.size() && !(key < dump.key(at));
            const auto stats = listed ? dump.stats(at) : std::nullopt;
            const bool has_dests = listed && dump.has_dests(at);
            if (has_dests) dump.dests(at, dests_scratch_);
            const bool changed = render_counters(f.from->key(), stats ? &*stats : nullptr,
                                                 has_dests ? &dests_scratch_ : nullptr, f);
            if (changed && !f.state_changed) ++rerendered;
        }
    }
    counters_seen_ = snap.counters;
    last_rerendered_ = rerendered;

    // Whole-daemon values from the snapshot, and the registry's own metrics.
    const auto& rec = snap.reconcile;
    std::vector<prom::MetricFamily> global;
    global.push_back(family("ballast_services", "Configured services", prom::MetricType::Gauge,
                            {gauge({}, static_cast<double>(snap.services.size()))}));
    global.push_back(family("ballast_real_servers",
                            "Configured real servers (sorry servers not counted)",
                            prom::MetricType::Gauge, {gauge({}, static_cast<double>(reals))}));
    global.push_back(family("ballast_real_servers_down", "Real servers their checks find down",
                            prom::MetricType::Gauge, {gauge({}, static_cast<double>(reals_down))}));
    global.push_back(family("ballast_reconcile_in_sync",
                            "1 when the last IPVS write round applied everything it planned",
                            prom::MetricType::Gauge, {gauge({}, rec.in_sync ? 1 : 0)}));
    global.push_back(family("ballast_reconcile_operations_total", "IPVS writes applied",
                            prom::MetricType::Counter,
                            {counter({}, static_cast<double>(rec.ops_applied))}));
    global.push_back(family("ballast_reconcile_errors_total", "IPVS writes that failed",
                            prom::MetricType::Counter,
                            {counter({}, static_cast<double>(rec.op_failures))}));
    global.push_back(family("ballast_reconcile_drift_repairs_total",
                            "Differences found in the kernel (made behind ballastd's back) and "
                            "repaired",
                            prom::MetricType::Counter,
                            {counter({}, static_cast<double>(rec.drift_repairs))}));
    global.push_back(family("ballast_reconcile_resyncs_total", "Full dumps compared and repaired",
                            prom::MetricType::Counter,
                            {counter({}, static_cast<double>(rec.resyncs))}));
    global.push_back(family("ballast_reconcile_failing_keys",
                            "IPVS services and real servers whose last write failed (retried)",
                            prom::MetricType::Gauge,
                            {gauge({}, static_cast<double>(rec.failing_total))}));
    global.push_back(family("ballast_reconcile_draining_real_servers",
                            "Removed real servers still draining (weight 0) before deletion",
                            prom::MetricType::Gauge,
                            {gauge({}, static_cast<double>(rec.draining_total))}));
    if (rec.last_resync)
        global.push_back(family("ballast_reconcile_last_resync_timestamp_seconds",
                                "When the last full dump was compared (Unix time)",
                                prom::MetricType::Gauge, {gauge({}, *rec.last_resync)}));
    if (snap.counters)
        global.push_back(family("ballast_ipvs_counters_timestamp_seconds",
                                "When the IPVS counters shown were dumped (Unix time)",
                                prom::MetricType::Gauge, {gauge({}, snap.counters->at)}));
    global.push_back(family("ballast_control_connections", "Open control socket connections",
                            prom::MetricType::Gauge,
                            {gauge({}, static_cast<double>(gauges.control_connections))}));
    global.push_back(family("ballast_control_event_subscribers",
                            "Control socket clients following events", prom::MetricType::Gauge,
                            {gauge({}, static_cast<double>(gauges.event_subscribers))}));
    global.push_back(family("ballast_http_connections", "Open status page / metrics connections",
                            prom::MetricType::Gauge,
                            {gauge({}, static_cast<double>(gauges.http_connections))}));
    for (auto& f : registry_.Collect()) global.push_back(std::move(f));

    Exposition out;
    auto runs_of = [n = fragments_.size()](size_t family) {
        return (n + services_per_member(family) - 1) / services_per_member(family);
    };
    size_t parts = 1;
    for (size_t family = 0; family < kStateFamilies + kCounterFamilies; ++family)
        parts += 1 + (gz || family >= kStateFamilies ? runs_of(family) : fragments_.size());
    out.parts.reserve(parts);
    auto add = [&out](std::shared_ptr<const std::string> part) {
        out.size += part->size();
        out.parts.push_back(std::move(part));
    };
    const auto global_text = serialize(global);
    add(gz ? gzip(global_text) : std::make_shared<const std::string>(global_text));
    const auto& headers = gz ? headers_gz_ : headers_;
    if (layout_changed_) {  // services came or went: places anew, every member to make
        ordered_.clear();
        for (auto& [key, f] : fragments_) {
            f.index = ordered_.size();
            ordered_.push_back(&f);
        }
        for (size_t family = 0; family < kStateFamilies + kCounterFamilies; ++family)
            members_[family].assign(runs_of(family), Member{});
        layout_changed_ = false;
    }
    for (size_t family = 0; family < kStateFamilies + kCounterFamilies; ++family) {
        add(headers[family]);
        const bool counter_family = family >= kStateFamilies;
        auto& members = members_[family];
        if (!gz && !counter_family) {
            for (Fragments* f : ordered_)
                if (const auto& t = text_of(*f, family).text; !t->empty()) add(t);
            continue;
        }
        if (!gz) {  // a counter family's runs, their lines with the values in
            for (size_t run = 0; run < members.size(); ++run) {
                auto text = std::make_shared<std::string>();
                write_counter_run(family, run, *text);
                if (!text->empty()) add(std::move(text));
            }
            continue;
        }
        const size_t per_member = services_per_member(family);
        for (size_t run = 0; run < members.size(); ++run) {
            Member& m = members[run];
            if (m.dirty && counter_family) {
                write_counter_run(family, run, scratch_run_);
                m.gz = scratch_run_.empty() ? nullptr : gzip(scratch_run_);
                m.dirty = false;
            } else if (m.dirty) {
                auto& run_texts = deflater_->texts;
                run_texts.clear();
                const size_t last = std::min((run + 1) * per_member, ordered_.size());
                for (size_t i = run * per_member; i < last; ++i)
                    if (const auto& t = text_of(*ordered_[i], family).text; !t->empty())
                        run_texts.push_back(t.get());
                m.gz = run_texts.empty() ? nullptr : gzip(run_texts);
                m.dirty = false;
            }
            if (m.gz) add(m.gz);
        }
    }
    return out;
}

std::string Metrics::Exposition::text() const {
    std::string out;
    out.reserve(size);
    for (const auto& p : parts) out += *p;
    return out;
}

}  // namespace ballast::control
