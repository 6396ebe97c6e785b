#pragma once
// What the daemon's loop publishes for the control socket, the status page and the metrics,
// all of which run on another thread. The loop replaces a service's entry only when its
// decisions changed, and each entry is immutable once published, so readers take a
// snapshot of pointers under a short lock and do their (possibly long) work without it.
// A check's last run changes with every run: it lives in a CheckSlot of its own (a lock per
// check), so a run never waits for a reader serializing 50,000 real servers.
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ballast/control/protocol.hpp"
#include "ballast/control/views.hpp"
#include "ballast/kernel/ipvs_client.hpp"
#include "ballast/model/ipvs.hpp"

namespace ballast::control {

class CheckSlot {
public:
    explicit CheckSlot(std::string check) { run_.check = std::move(check); }
    CheckRunView read() const {
        std::lock_guard lock(mutex_);
        return run_;
    }
    template <typename F>
    void update(F&& f) {
        std::lock_guard lock(mutex_);
        f(run_);
    }

private:
    mutable std::mutex mutex_;
    CheckRunView run_;
};

// Health transitions of one real server in one service, by where they went and why.
struct TransitionCount {
    std::string to;      // up / down
    std::string reason;  // reason_class() of the result
    uint64_t count = 0;
    bool operator==(const TransitionCount&) const = default;
};

struct PublishedService {
    ServiceView view;  // the reals' check runs and counters are left unset here
    // Parallel to view.reals (slots null: no such check).
    std::vector<model::RealKey> keys;
    std::vector<std::shared_ptr<CheckSlot>> main, agent;
    std::vector<std::vector<TransitionCount>> transitions;
};

// Counters and rates of one full IPVS dump.
struct PublishedCounters {
    UnixSeconds at = 0;
    std::map<model::ServiceKey, kernel::IpvsStats> services;
    std::map<model::ServiceKey, kernel::CountersByReal> dests;
};

class PublishedState {
public:
    struct Snapshot {
        std::vector<std::shared_ptr<const PublishedService>> services;  // config order
        std::shared_ptr<const PublishedCounters> counters;              // null before a dump
        ReconcileView reconcile;
        std::vector<EventView> recent_events;  // the last kRecentEvents, oldest first
    };
    static constexpr size_t kRecentEvents = 50;
    static constexpr size_t kEventRing = kMaxEventBacklog;  // events kept for a backlog

    // Replaces (or, with null, removes) one service's entry.
    void set_service(const model::ServiceKey& key, std::shared_ptr<const PublishedService> entry);
    // The services in config order; entries not named are removed.
    void set_order(std::vector<model::ServiceKey> order);
    void set_counters(std::shared_ptr<const PublishedCounters> counters);
    void set_reconcile(ReconcileView view);
    void add_events(const std::vector<EventView>& events);

    Snapshot snapshot(const std::optional<model::ServiceKey>& only = {}) const;
    std::shared_ptr<const PublishedCounters> counters() const;
    std::vector<EventView> events(size_t last_n) const;  // oldest first
    size_t service_count() const;

private:
    mutable std::mutex mutex_;
    std::vector<model::ServiceKey> order_;
    std::map<model::ServiceKey, std::shared_ptr<const PublishedService>> services_;
    std::shared_ptr<const PublishedCounters> counters_;
    ReconcileView reconcile_;
    std::deque<EventView> events_;
};

// Fills a copy of the entry's view with the check runs and the counters, for a reply.
ServiceView complete_view(const PublishedService& entry, const PublishedCounters* counters);

// What a transition's reason counts as in the metrics: its words before the first ':' or
// '(' ("timeout after 1s (reading response)" -> "timeout after 1s", "exec: exit 2: ..." ->
// "exec"), at most 48 characters, so the label's values stay few.
std::string reason_class(std::string_view reason);

}  // namespace ballast::control
