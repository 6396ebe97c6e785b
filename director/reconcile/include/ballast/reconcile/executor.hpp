#pragma once
// Applying a plan, and when to try again. execute() is the only impure piece here: it calls
// IpvsClient::apply(). The retry schedule is pure data computed from a passed-in `now`.
//
// Execution rules
//   - Ops go to the client in plan order, in as few apply() calls as dependencies allow (the
//     client pipelines within a call): a batch is cut before a destination op whose service is
//     added earlier in the same batch, so that add's outcome is known first. For a plan from
//     plan() that is two calls at most while no service add fails.
//   - A failed op does not stop the run; later ops are still applied.
//   - A destination op (add/edit/del dest) for a service whose add_service failed in this run is
//     not sent (it would fail with ENOENT); it is reported as skipped with ECANCELED.
//   - Every op not applied (failed or skipped) makes its key dirty: the service for service ops,
//     (service, real) for destination ops. Each dirty key carries the Error: errno, the kernel
//     operation and the key (filled from the op when the client left them empty).
//   - Dirty keys need no bookkeeping of their own: the next plan() over a fresh dump re-derives
//     every op that is still needed. The retry schedule only says when to run it.
#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ballast/kernel/ipvs_client.hpp"
#include "ballast/model/ipvs_op.hpp"
#include "ballast/model/result.hpp"
#include "ballast/reconcile/plan.hpp"

namespace ballast::reconcile {

// A service (real empty) or one destination of a service.
struct DirtyKey {
    model::ServiceKey service;
    std::optional<model::RealKey> real;

    static DirtyKey of(const model::IpvsOp& op);
    std::string to_string() const;  // "192.0.2.1:80/tcp" or "192.0.2.1:80/tcp -> 10.0.0.2:80"
    auto operator<=>(const DirtyKey&) const = default;
};

struct OpFailure {
    size_t index = 0;  // position in the plan
    model::IpvsOp op;
    Error error;
    bool skipped = false;  // not sent: depends on a failed add_service
};

struct ExecutionReport {
    size_t applied = 0;               // ops the client reported successful
    size_t apply_calls = 0;           // IpvsClient::apply() calls made
    std::vector<OpFailure> failures;  // every op not applied, in plan order
    std::map<DirtyKey, Error> dirty;  // keys left unlike the plan; first error per key

    bool ok() const { return failures.empty(); }
};

ExecutionReport execute(kernel::IpvsClient& client, std::span<const model::IpvsOp> ops);

// Appends the report of ops that followed `into`'s in one list, starting at `offset` there
// (their failures' indices are moved up by it). Dirty keys of separate services do not meet.
void merge_into(ExecutionReport& into, ExecutionReport&& part, size_t offset);

// What the kernel holds after `op` succeeded: the daemon keeps the table it last programmed
// this way, so the next change is planned without a dump.
void apply_to(model::IpvsTable& table, const model::IpvsOp& op);

// apply_to() over many ops in turn: a run of ops on one service (a service's dest adds) finds
// the service once, not once an op (50,000 map lookups after a cold start's writes).
class TableWriter {
public:
    explicit TableWriter(model::IpvsTable& table) : table_(table), last_(table.services.end()) {}
    void apply(const model::IpvsOp& op);

private:
    model::IpvsTable& table_;
    std::map<model::ServiceKey, model::IpvsService>::iterator last_;  // end(): none
};
// apply_to() for every op of `ops` that `report` does not list as failed or skipped.
void apply_succeeded(model::IpvsTable& table, std::span<const model::IpvsOp> ops,
                     const ExecutionReport& report);

// Exponential backoff between reconcile attempts after failures.
struct RetryPolicy {
    Clock::duration initial_delay = std::chrono::seconds(1);
    Clock::duration max_delay = std::chrono::seconds(60);
    unsigned multiplier = 2;
};

struct RetryState {
    unsigned consecutive_failures = 0;
    std::optional<TimePoint> next_attempt;  // nullopt: nothing to retry

    bool due(TimePoint now) const { return next_attempt && now >= *next_attempt; }
    bool operator==(const RetryState&) const = default;
};

// Delay before attempt number `consecutive_failures` + 1: initial * multiplier^(n-1), capped at
// max_delay; zero for n == 0.
Clock::duration retry_delay(const RetryPolicy& policy, unsigned consecutive_failures);

// The state after a run that ended at `now`: a clean run resets it; a run with failures
// schedules the next attempt at now + retry_delay(failures so far).
RetryState next_retry(const RetryPolicy& policy, const RetryState& previous,
                      const ExecutionReport& report, TimePoint now);

}  // namespace ballast::reconcile
