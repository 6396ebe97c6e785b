#pragma once
// What the daemon's loop publishes for the control socket, the status page and the metrics,
// all of which run on another thread. The loop replaces a service's entry only when its
// decisions changed, and each entry is immutable once published, so readers take a
// snapshot of pointers under a short lock and do their (possibly long) work without it.
// A check's last run changes with every run: it lives in a CheckSlot of its own, which a
// reader copies under a short lock, so a run never waits for a reader serializing 50,000
// real servers.
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ballast/control/protocol.hpp"
#include "ballast/control/views.hpp"
#include "ballast/health/check_plan.hpp"
#include "ballast/health/tracker.hpp"
#include "ballast/kernel/ipvs_client.hpp"
#include "ballast/model/ipvs.hpp"

namespace ballast::control {

// The last run of one check, in compact fields: read() formats its CheckRunView. 50,000
// checks each hold one, so the texts ("tcp 10.0.0.2:80", "up") are made only for a reader.
class CheckSlot {
public:
    CheckSlot(health::CheckKey key, UnixSeconds since) : key_(std::move(key)), since_(since) {}
    const health::CheckKey& key() const { return key_; }
    CheckRunView read() const;
    // A finished run (at: when it finished).
    void record_run(UnixSeconds at, bool ok, std::string_view reason, double duration_ms);
    // A state change at `since`; returns the state before it.
    health::State record_state(health::State state, UnixSeconds since);

private:
    // Readers take one slot at a time and the loop writes one slot per run: a few locks
    // shared by every slot keep both short without a mutex in each of 50,000 slots.
    std::mutex& lock_of() const;

    health::CheckKey key_;
    health::State state_ = health::State::unknown;
    bool last_ok_ = false;
    UnixSeconds since_;        // the last state change (or the check's start)
    UnixSeconds last_at_ = 0;  // the last result (when runs_ > 0)
    double last_duration_ms_ = 0;
    uint64_t runs_ = 0;
    std::string last_reason_;
};

// Orders slots by their check's key; finds them by a CheckKey or a CheckRef.
using CheckSlotLess = health::HeldKeyLess<CheckSlot>;

// Health transitions of one real server in one service, by where they went and why.
struct TransitionCount {
    std::string to;      // up / down
    std::string reason;  // reason_class() of the result
    uint64_t count = 0;
    bool operator==(const TransitionCount&) const = default;
};

struct PublishedService {
    ServiceView view;  // the reals' check runs and counters are left unset here
    // Parallel to view.reals (slots null: no such check). main, agent and transitions are
    // left empty while no real of the service has one.
    std::vector<model::RealKey> keys;
    std::vector<std::shared_ptr<CheckSlot>> main, agent;
    std::vector<std::vector<TransitionCount>> transitions;
};

// Counters and rates of one full IPVS dump: a resync's are the Director's own object, shared
// (immutable; the next dump replaces the pointer), not a copy.
using PublishedCounters = kernel::IpvsCounters;

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
