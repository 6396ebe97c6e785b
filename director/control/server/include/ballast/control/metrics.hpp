#pragma once
// ballastd's /metrics, produced by prometheus-cpp's core library (its Registry for what is
// observed as it happens, its data model and TextSerializer for everything).
//
// Cost at 5,000 services x 10 real servers: prometheus-cpp's serializer spends about a
// microsecond per series, and the table has hundreds of thousands of per-service and
// per-real series. So each service's series are serialized once and kept as text, per metric
// family, and serialized again only when that service's published entry (its decisions) or
// its counters from a dump changed; a scrape joins the kept texts. All of it runs on the
// status server's thread: the daemon's loop only publishes entries (published.hpp) and
// observes into thread-safe histograms.
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
    // saves copying it into one string, and that string's page faults).
    struct Exposition {
        std::vector<std::shared_ptr<const std::string>> parts;
        size_t size = 0;
        std::string text() const;  // joined (tests)
    };
    // gzip: each kept text is also kept as a gzip member (RFC 1952), compressed once when it
    // changes; members joined are one gzip stream, which Prometheus reads as the texts joined.
    // A scrape then sends a few megabytes instead of tens.
    enum class Encoding : uint8_t { identity, gzip };
    // On one thread only (the status server's): it keeps the texts.
    Exposition render(const PublishedState::Snapshot& snapshot, const ServerGauges& gauges,
                      Encoding encoding = Encoding::identity);

    // How many services' texts the last render serialized again (for benchmarks and tests).
    size_t last_rerendered() const { return last_rerendered_; }

    static constexpr size_t kStateFamilies = 9;
    static constexpr size_t kCounterFamilies = 7;

private:
    struct Fragments {
        std::shared_ptr<const PublishedService> from;
        std::array<std::shared_ptr<const std::string>, kStateFamilies> state;
        bool has_stats = false, has_dests = false;
        kernel::IpvsStats stats;
        kernel::CountersByReal dests;
        bool counters_rendered = false;
        std::array<std::shared_ptr<const std::string>, kCounterFamilies> counters;
        // Their gzip members, made at the first gzip scrape after a change.
        std::array<std::shared_ptr<const std::string>, kStateFamilies> state_gz;
        std::array<std::shared_ptr<const std::string>, kCounterFamilies> counters_gz;
    };
    std::shared_ptr<const std::string> gzip(const std::string& text);
    void render_state(const PublishedService& s, Fragments& f);
    void render_counters(const ServiceView& view, const kernel::IpvsStats* stats,
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

    std::map<model::ServiceKey, Fragments> fragments_;  // render()'s thread only
    std::array<std::shared_ptr<const std::string>, kStateFamilies + kCounterFamilies> headers_;
    std::array<std::shared_ptr<const std::string>, kStateFamilies + kCounterFamilies> headers_gz_;
    struct Deflater;  // zlib's state, reused for every member
    std::unique_ptr<Deflater> deflater_;
    size_t last_rerendered_ = 0;
};

}  // namespace ballast::control
