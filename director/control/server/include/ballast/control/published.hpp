#pragma once
// What the daemon's loop publishes for the control socket, the status page and the metrics,
// all of which run on another thread. The loop replaces a service's entry only when its
// decisions changed, and each entry is immutable once published, so readers take a
// snapshot of pointers under a short lock and do their (possibly long) work without it.
// Entries are compact (the Director's decision itself, indexes of checks): the texts of a
// view are made when a reader asks (clients are rare; 50,000 real servers are not).
// A check's last run changes with every run: it lives in CheckRuns, which a reader copies
// run by run under short locks.
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ballast/control/protocol.hpp"
#include "ballast/control/views.hpp"
#include "ballast/health/check_plan.hpp"
#include "ballast/health/tracker.hpp"
#include "ballast/kernel/ipvs_client.hpp"
#include "ballast/model/ipvs.hpp"
#include "ballast/model/shared_text.hpp"
#include "ballast/policy/policy.hpp"

namespace ballast::control {

// The last run of every check of one check plan, in compact fields: read() formats a check's
// CheckRunView (the texts "tcp 10.0.0.2:80", "up" are made only for a reader). A check is
// found by its key once (an index); the plan is immutable and shared (its keys are not copied
// here), the runs change under short locks, so a run never waits for a reader serializing
// 50,000 real servers.
class CheckRuns {
public:
    static constexpr uint32_t kNone = UINT32_MAX;
    // A run per check of `plan`, in its order. A check also in `before` keeps its runs there;
    // the others start at `since`, unknown. On the loop thread.
    CheckRuns(std::shared_ptr<const health::CheckPlan> plan, UnixSeconds since,
              const CheckRuns* before = nullptr);
    size_t size() const { return runs_.size(); }
    const health::CheckKey& key(uint32_t i) const { return plan_->checks[i].first; }
    // The check's index, or kNone.
    uint32_t find(const health::CheckKey& key) const;
    uint32_t find(const health::CheckRef& key) const;

    CheckRunView read(uint32_t i) const;
    // Loop thread: a finished run (at: when it finished).
    void record_run(uint32_t i, UnixSeconds at, bool ok, std::string_view reason,
                    double duration_ms);
    // Loop thread: a state change at `since`; returns the state before it.
    health::State record_state(uint32_t i, health::State state, UnixSeconds since);

private:
    struct Run {
        health::State state = health::State::unknown;
        bool last_ok = false;
        float last_duration_ms = 0;  // float, beside the two above: 40 bytes a check, not 48
        UnixSeconds since = 0;       // the last state change (or the check's start)
        UnixSeconds last_at = 0;     // the last result (when runs > 0)
        uint64_t runs = 0;
        model::SharedText last_reason;  // shared by the runs with the same text
    };
    // Readers take one run at a time and the loop writes one run per result: a few locks
    // shared by every run keep both short without a mutex in each of 50,000 runs.
    static std::mutex& lock_of(uint32_t i);
    template <typename K>
    uint32_t find_key(const K& key) const;

    std::shared_ptr<const health::CheckPlan> plan_;
    std::vector<Run> runs_;  // parallel to plan_->checks
};

// Health transitions of one real server in one service, by where they went and why.
struct TransitionCount {
    std::string to;      // up / down
    std::string reason;  // reason_class() of the result
    uint64_t count = 0;
    bool operator==(const TransitionCount&) const = default;
};

// One service as the loop published it, immutable: the Director's own decision (shared, not
// copied) and what a view needs beside it; complete_view() formats the ServiceView on read.
struct PublishedService {
    std::shared_ptr<const policy::ServiceDecision> decision;
    std::string scheduler;
    std::string check_type = "none";
    // Parallel to decision->reals, for the reals with an override: set when the override in
    // force was set for every service. Empty while no real of the service has an override.
    std::vector<bool> every_service;
    // The checks' runs, and parallel to decision->reals each real's index there (kNone: no
    // such check). main, agent and transitions are left empty while no real of the service
    // has one.
    std::shared_ptr<const CheckRuns> runs;
    std::vector<uint32_t> main, agent;
    std::vector<std::vector<TransitionCount>> transitions;

    const model::ServiceKey& key() const { return decision->key; }
    const std::string& name() const { return decision->name; }
};

// Counters and rates of one full IPVS dump, encoded: a resync's are the Director's own object,
// shared (immutable; the next dump replaces the pointer), not a copy. Readers decode the
// services they show.
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

// The entry's view without check runs and counters (what the loop decided).
ServiceView decided_view(const PublishedService& entry);
// The entry's view with the check runs and the counters, for a reply.
ServiceView complete_view(const PublishedService& entry, const PublishedCounters* counters);

// What a transition's reason counts as in the metrics: its words before the first ':' or
// '(' ("timeout after 1s (reading response)" -> "timeout after 1s", "exec: exit 2: ..." ->
// "exec"), at most 48 characters, so the label's values stay few.
std::string reason_class(std::string_view reason);

}  // namespace ballast::control
