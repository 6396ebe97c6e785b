#pragma once
// reconcile::plan(): the pure decision of which IPVS writes bring the kernel from what a dump
// observed to what the config desires. No I/O, no clock, no randomness: time comes in as `now`,
// drain bookkeeping comes in as a DrainLedger and goes out updated, so the caller (the daemon's
// reconcile loop) owns all state and every decision is reproducible in a test.
//
// Rules (each is covered by tests/unit/reconcile):
//
// Ownership
//   - A service is OWNED when the desired table names it, or when it is in Ownership::services
//     (services an earlier config named and that still exist: we must clean them up).
//   - Every other observed service is FOREIGN: reported in PlanReport::foreign, never changed,
//     nor any of its destinations.
//   - A desired service that already exists but was not in Ownership::services is taken over
//     (it is named by our config) and listed in PlanReport::adopted.
//   - PlanResult::ownership is the set to pass to the next plan() (and to persist across
//     restarts): every desired service, plus every owned-but-undesired service still observed.
//     A removed service therefore stays owned until a dump shows it gone, so a failed delete
//     is retried instead of the service turning foreign.
//
// Comparison
//   - Services compare with ServiceSpec::same_attributes(): the kernel-internal `hashed` flag is
//     ignored and `persistent` is derived from `persistence`. Add/edit ops carry the desired spec
//     normalised that way (persistent = persistence.has_value(), hashed = false).
//   - Destinations compare all of RealSpec (forward method, weight, thresholds).
//
// Minimal, in-place
//   - Scheduler, flags, persistence, netmask or pe changes are one edit_service; forward method,
//     weight or threshold changes are one edit_dest. Nothing that can be edited is deleted and
//     re-added. With no drain involved, the plan holds exactly one op per differing item
//     (service or destination); an unchanged table yields no ops.
//
// Order
//   - All add_service/edit_service ops first, then destination ops (in service order, then
//     real order), then del_service ops last: services before their destinations on add,
//     destinations before services on delete.
//
// Draining a real server that is no longer desired (its service is still desired)
//   - UDP services: del_dest at once (UDP "connections" are only timeouts).
//   - Otherwise (TCP, SCTP, fwmark): drain. The real's drain start is `now` the first time it is
//     seen undesired, kept in the DrainLedger. While draining:
//       * if the drain timeout has passed since it began: del_dest (PlanReport::timed_out);
//       * else if its observed weight is not 0: edit_dest to weight 0 (other fields as observed);
//       * else if its active + inactive connections are 0: del_dest;
//       * else wait (PlanReport::draining).
//     The weight-0 edit and the delete are never in the same plan, so a connection that arrived
//     between the dump and the edit is seen by the next dump. A real missing from
//     the dump's counters (dest_counters, or encoded in counters) counts as having
//     connections (unknown is not zero).
//   - A draining real that becomes desired again is simply edited back to its desired spec.
//
// Removing a whole owned service that is no longer desired
//   - UDP: one del_service at once.
//   - Otherwise the service is quiesced: each of its reals drains by the rules above (weight 0
//     first); none is deleted one by one. Once every real is drained (weight 0 and no
//     connections, or timed out) the plan holds one del_service, which removes the remaining
//     destinations in the kernel. A service without reals is deleted at once.
//
// Ledger: PlanResult::ledger holds every real still draining in the observed table (including
// those deleted by this plan, until a dump shows them gone, so a failed delete keeps its start
// time). Entries whose real is no longer observed or is desired again are dropped. The ledger is
// a steady-clock memory only; after a restart draining starts over at most one timeout later.
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "ballast/kernel/ipvs_client.hpp"
#include "ballast/model/ipvs.hpp"
#include "ballast/model/ipvs_op.hpp"

namespace ballast::reconcile {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

// Which services we may touch besides those the desired table names.
struct Ownership {
    std::set<model::ServiceKey> services;

    bool contains(const model::ServiceKey& k) const { return services.count(k) != 0; }
    // Owns exactly what a table names (e.g. the first run: adopt what the config names).
    static Ownership of(const model::IpvsTable& table);
    bool operator==(const Ownership&) const = default;
};

using DestId = std::pair<model::ServiceKey, model::RealKey>;

// When each (service, real) began draining. Pure data carried from one plan() to the next.
struct DrainLedger {
    std::map<DestId, TimePoint> since;
    bool operator==(const DrainLedger&) const = default;
};

struct PlanOptions {
    // A draining real is deleted once this long has passed since draining began, connections
    // or not.
    Clock::duration drain_timeout = std::chrono::seconds(300);
};

struct DrainState {
    model::ServiceKey service;
    model::RealKey real;
    TimePoint since;
    uint32_t connections = 0;  // active + inactive at the dump (UINT32_MAX: unknown)
    bool operator==(const DrainState&) const = default;
};

struct PlanReport {
    std::vector<model::ServiceKey> foreign;  // observed, not ours: left untouched
    std::vector<model::ServiceKey> adopted;  // desired and already present, newly owned
    std::vector<DrainState> draining;        // waiting (weight 0 set or being set) this round
    std::vector<DrainState> timed_out;       // deleted with connections left: timeout passed
};

struct PlanResult {
    std::vector<model::IpvsOp> ops;  // in the order they must be applied
    DrainLedger ledger;              // pass to the next plan()
    Ownership ownership;             // pass to the next plan(); persist across restarts
    PlanReport report;
};

// observed: a fresh dump (table + dest counters). desired: the complete wanted state of every
// service we configure. ownership / ledger: what the previous PlanResult returned (empty at
// first). now: the caller's clock reading (steady clock).
PlanResult plan(const kernel::IpvsSnapshot& observed, const model::IpvsTable& desired,
                const Ownership& ownership, const DrainLedger& ledger, TimePoint now,
                const PlanOptions& options = {});

// The service keys k with from <= k < to; an absent bound is open.
struct KeyRange {
    std::optional<model::ServiceKey> from, to;
    bool contains(const model::ServiceKey& k) const {
        return (!from || !(k < *from)) && (!to || k < *to);
    }
};

// plan() of just the services in `range` (observed, desired or owned): every rule above is
// about one service at a time, so the plans of ranges that partition the keys, merged in key
// order by merge_into(), hold the whole plan's ops (each range in the phase order above), its
// ledger, ownership and report. A daemon's start writes one range while it plans the next.
PlanResult plan(const kernel::IpvsSnapshot& observed, const model::IpvsTable& desired,
                const Ownership& ownership, const DrainLedger& ledger, TimePoint now,
                const PlanOptions& options, const KeyRange& range);

// Appends `part` (the plan of the next range up) to `into`.
void merge_into(PlanResult& into, PlanResult&& part);

// The spec an add/edit op carries for `spec`: persistent derived from persistence, hashed off.
model::ServiceSpec normalized(model::ServiceSpec spec);

}  // namespace ballast::reconcile
