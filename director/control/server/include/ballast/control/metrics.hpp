#pragma once
// ballastd's /metrics, produced by prometheus-cpp's core library (its Registry for what is
// observed as it happens, its data model and TextSerializer for everything).
//
// Cost at 5,000 services x 10 real servers: prometheus-cpp's serializer spends about a
// microsecond per series, and the table has hundreds of thousands of per-service and
// per-real series. So each service's series are serialized once and kept as text, per metric
// family, and serialized again only when that service's published entry (its decisions)
// changed; a scrape joins the kept texts. A dump changes the counters of every real server
// that carries traffic, but not their series: the serializer's lines are kept, and the values
// are written into them as the serializer writes them (a unit test holds the two equal) when a
// run of services is put together for a scrape, straight into the buffer that is compressed. All of
// it runs on the status server's thread: the daemon's loop only publishes entries
// (published.hpp) and observes into thread-safe histograms.
//
// Names and labels:
//   per real server: service, local_address, local_port, proto, remote_address, remote_port
//     (local_mark instead of local_address/local_port for fwmark services) -- the ipvs
//     collector of node_exporter's label names, plus the service's name;
//   ballast_ipvs_*: exactly node_exporter's labels (per service: without the remote ones).
#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "ballast/control/published.hpp"
#include "ballast/daemon/director.hpp"
#include "ballast/model/check.hpp"

namespace ballast::control {

// What the status server knows of its own (for ballast_control_* gauges).
struct ServerGauges {
    size_t control_connections = 0;
    size_t event_subscribers = 0;
    size_t http_connections = 0;
};

class Metrics {
public:
    explicit Metrics(const std::string& version);
    ~Metrics();
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    // Thread-safe (the loop calls these as things happen).
    void observe_check(model::CheckType type, bool success, std::chrono::nanoseconds took);
    // trigger: health, override, reload, resync, tick.
    void observe_reconcile(std::string_view trigger, std::chrono::nanoseconds took);
    void observe_dump(std::chrono::nanoseconds took);
    void observe_loop_lateness(std::chrono::nanoseconds late);
    void count_event(std::string_view severity, std::string_view kind);
    void count_request(std::string_view verb, bool ok);

    // The exposition as the texts it is made of, in order: the kept per-service texts are
    // shared, not copied (a scrape of 5,000 x 10 is some 40 MB; writing it from the pieces
    // saves copying it into one string, and that string's page faults). A plain scrape's
    // counter families are one text per run of services, made for that scrape (not kept: a
    // second copy of ~17 MB for what Prometheus, asking for gzip, does not read).
    struct Exposition {
        std::vector<std::shared_ptr<const std::string>> parts;
        size_t size = 0;
        std::string text() const;  // joined (tests)
    };
    // gzip: the kept texts of a run of services (one family) are compressed together into a
    // gzip member (RFC 1952), again only when one of those texts changed; members joined are
    // one gzip stream, which Prometheus reads as the texts joined. Runs of services, not single
    // ones: a member has a fixed cost (the compressor's reset, its framing, the first bytes
    // compressed without context), ~7 us at 1.4 KB a member, whose output came out 9x larger than
    // the text compressed whole. A run is some 20-50 KB of text: 32 services in the families with a
    // line per real server, 256 in those with a line per service (at 16 for every family a
    // dump at 5,000 services made 2,191 members, ~8 us each above the compression itself).
    enum class Encoding : uint8_t { identity, gzip };
    static constexpr size_t kServicesPerRealMember = 32;
    static constexpr size_t kServicesPerServiceMember = 256;
    // On one thread only (the status server's): it keeps the texts.
    Exposition render(const PublishedState::Snapshot& snapshot, const ServerGauges& gauges,
                      Encoding encoding = Encoding::identity);

    // How many services' texts the last render serialized again (for benchmarks and tests).
    size_t last_rerendered() const { return last_rerendered_; }

    static constexpr size_t kStateFamilies = 9;
    static constexpr size_t kCounterFamilies = 7;
    // Families are numbered state first, then counters; those with a line per service are the
    // first 4 state families and the first 5 counter families.
    static constexpr size_t services_per_member(size_t family) {
        const bool per_service =
            family < 4 || (family >= kStateFamilies && family < kStateFamilies + 5);
        return per_service ? kServicesPerServiceMember : kServicesPerRealMember;
    }

private:
    struct Text {
        std::shared_ptr<const std::string> text;
    };
    struct Fragments {
        std::shared_ptr<const PublishedService> from;
        std::array<Text, kStateFamilies> state;
        // The counter families' lines as the serializer wrote them for these series, and the
        // values to show in them (the last dump's, in the lines' order: the service's five
        // counters if it has them, then active and inactive per real), for the reals named.
        // The values in the kept lines are those of when they were serialized; a scrape writes
        // counter_values in their place.
        bool counters_rendered = false, has_stats = false;
        std::vector<model::RealKey> dest_keys;
        std::vector<uint64_t> counter_values;
        std::array<Text, kCounterFamilies> counters;
        uint64_t reals = 0, reals_down = 0;  // sorry servers not counted
        uint64_t seen = 0;                   // the render() that last saw the service
        size_t index = 0;                    // its place in fragments_ (key order)
        bool counters_due = false;           // in this render(): not this dump's counters yet
        bool state_changed = false;          // in this render(): render_state ran
    };
    // A gzip member of one family: the texts of a run of services, compressed again when one
    // of them changed (marked by keep() and mark(), so a scrape finds the runs to redo without
    // visiting every service's texts).
    struct Member {
        bool dirty = true;
        std::shared_ptr<const std::string> gz;
    };
    std::shared_ptr<const std::string> gzip(const std::string& text);
    std::shared_ptr<const std::string> gzip(const std::vector<const std::string*>& texts);
    // Keeps text as the family's text of f, and marks its member, if it changed.
    void keep(Fragments& f, size_t family, std::string text);
    // Marks the member that holds f's text of the family to be made again.
    void mark(const Fragments& f, size_t family);
    // The counter family's lines of a run of services, with their values, into out.
    void write_counter_run(size_t family, size_t run, std::string& out) const;
    Text& text_of(Fragments& f, size_t family) {
        return family < kStateFamilies ? f.state[family] : f.counters[family - kStateFamilies];
    }
    void render_state(const PublishedService& s, Fragments& f);
    // Whether the texts changed.
    bool render_counters(const model::ServiceKey& service, const kernel::IpvsStats* stats,
                         const kernel::CountersByReal* dests, Fragments& f);

    prometheus::Registry registry_;
    prometheus::Family<prometheus::Histogram>& check_duration_;
    prometheus::Family<prometheus::Counter>& check_runs_;
    prometheus::Family<prometheus::Histogram>& reconcile_duration_;
    prometheus::Family<prometheus::Counter>& events_;
    prometheus::Family<prometheus::Counter>& requests_;
    prometheus::Histogram& dump_duration_;
    prometheus::Histogram& loop_lateness_;
    // Indexed by CheckType: [type], and [type][success].
    std::array<prometheus::Histogram*, 8> check_duration_by_type_{};
    std::array<std::array<prometheus::Counter*, 2>, 8> check_runs_by_type_{};

    // render()'s thread only:
    std::map<model::ServiceKey, Fragments> fragments_;
    // fragments_ in key order, and by the place of their service in the last snapshot (both
    // rebuilt when services come or go: a reload): a scrape neither looks each service up nor
    // walks the map.
    std::vector<Fragments*> ordered_, by_position_;
    bool layout_changed_ = true;
    // The dump the texts show, not kept alive by it: its values are in the texts already, and
    // a weak pointer still tells the same dump from a later one at the same address.
    std::weak_ptr<const PublishedCounters> counters_seen_;
    uint64_t renders_ = 0;
    std::vector<uint64_t> scratch_values_;
    kernel::CountersByReal dests_scratch_;  // a service's dests decoded from the dump, reused
    std::string scratch_run_;               // a counter run's text, reused
    std::array<std::vector<Member>, kStateFamilies + kCounterFamilies> members_;
    std::array<std::shared_ptr<const std::string>, kStateFamilies + kCounterFamilies> headers_;
    std::array<std::shared_ptr<const std::string>, kStateFamilies + kCounterFamilies> headers_gz_;
    struct Deflater;  // zlib's state, reused for every member
    std::unique_ptr<Deflater> deflater_;
    size_t last_rerendered_ = 0;
};

}  // namespace ballast::control
