#pragma once
// Director: ballastd's decision core. It holds everything the daemon knows -- the config, the
// check plan, what the checks said, the operators' overrides, the IPVS table it last
// programmed, what it owns, the drain ledger -- and turns each input into kernel writes
// through the ports it is given. No clock, no sockets, no files of its own: time comes in as
// `Now`, the kernel through `Ports`, persistence through a `StateStore`, so every decision is
// reproduced in tests with the recording fakes (tests/unit/daemon).
//
// The paths from an input to the kernel:
//   health event -> HealthBook -> policy::decide_service for the services that use the check
//     -> reconcile::plan over those services only, against the programmed table (no dump)
//     -> reconcile::execute -> IpvsClient::apply: one edit for one changed weight.
//   resync (start, every resync_interval, after a failed write): a full dump -> drift report
//     -> plan over everything (drains finish here, with fresh connection counters) -> execute;
//     nft table and sysctls re-applied (each repairs what was changed behind our back).
//   reload: new config -> new check plan (kept checks keep their state) -> decisions -> plan
//     against the programmed table -> execute; removed reals drain, deleted at a later resync.
//   override (drain / enable / weight): stored first, then like a health event.
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ballast/health/check_plan.hpp"
#include "ballast/health/health_book.hpp"
#include "ballast/health/runner.hpp"
#include "ballast/kernel/ipvs_client.hpp"
#include "ballast/kernel/nft_client.hpp"
#include "ballast/kernel/sysctl.hpp"
#include "ballast/model/director_config.hpp"
#include "ballast/policy/overrides.hpp"
#include "ballast/policy/policy.hpp"
#include "ballast/reconcile/executor.hpp"
#include "ballast/reconcile/plan.hpp"
#include "ballast/sysctl/applier.hpp"

namespace ballast::daemon {

using SteadyTime = reconcile::TimePoint;
using WallTime = policy::WallTime;

struct Now {
    SteadyTime steady;
    WallTime wall;
};

struct Ports {
    kernel::IpvsClient& ipvs;  // writes (and the dump at start)
    kernel::NftClient& nft;
    kernel::SysctlAccess& sysctl;
};

// What survives a restart (director/state implements it over the state directory).
class StateStore {
public:
    virtual ~StateStore() = default;
    virtual Result<std::set<model::ServiceKey>> load_ownership() = 0;
    virtual Status save_ownership(const std::set<model::ServiceKey>& services) = 0;
    virtual Result<policy::Overrides> load_overrides() = 0;
    virtual Status save_overrides(const policy::Overrides& overrides) = 0;
};

// journald priorities.
enum class Severity : uint8_t { debug = 7, info = 6, notice = 5, warning = 4, error = 3 };

enum class EventKind : uint8_t {
    health,     // a check changed state (or an agent reply changed)
    weight,     // a real server's effective weight or presence changed
    kernel,     // IPVS writes failed / recovered
    drift,      // the kernel differed from what ballast programmed, repaired
    nft,        // table inet ballast changed
    sysctl,     // a sysctl was set
    reload,     // a reload was applied
    override_,  // an operator set or cleared an override
    lifecycle,  // start, ready, stop
};
std::string_view to_string(EventKind);

// One line for the log, the event stream and the metrics: what changed and why.
struct Event {
    Severity severity = Severity::info;
    EventKind kind = EventKind::lifecycle;
    std::string message;
    std::optional<model::ServiceKey> service;
    std::optional<model::RealKey> real;
    WallTime at{};
};

struct DirectorOptions {
    reconcile::RetryPolicy retry;
    // How often the weights of reals in a slow-start ramp are recomputed.
    std::chrono::milliseconds ramp_step{1000};
    // A start decides, plans and writes this many services at a time, each chunk's writes on a
    // writer thread while the next chunk is decided (start_reconcile()).
    size_t start_chunk_services = 500;
};

struct ReconcileStatus {
    bool in_sync = false;  // the last write round applied everything it planned
    std::optional<WallTime> last_resync;
    uint64_t resyncs = 0;
    uint64_t drift_repairs = 0;  // resyncs that found the kernel changed behind our back
    uint64_t ops_applied = 0;
    uint64_t op_failures = 0;
    std::map<reconcile::DirtyKey, Error> failing;  // keys whose last write failed
    reconcile::RetryState retry;
    std::vector<reconcile::DrainState> draining;  // from the last full plan
    std::vector<model::ServiceKey> foreign;       // IPVS services ballast does not own
};

// What a reload did (or, from preview(), would do).
struct ReloadOutcome {
    health::PlanDiff checks;
    std::vector<model::IpvsOp> ops;  // IPVS writes, in order
    kernel::NftApplied nft;          // table inet ballast changes (applied ones only)
    size_t failed_ops = 0;
};

class Director {
public:
    Director(model::DirectorConfig config, Ports ports, StateStore& store,
             DirectorOptions options = {});

    // Reads the ownership record and overrides (a corrupt record is returned as an error and
    // nothing is touched), applies the sysctls and the nft table, adopts the IPVS state in
    // `observed` (never flushes) and writes what differs from the config.
    Status start(Result<kernel::IpvsSnapshot> observed, Now now);

    // The health runner's output. Changes the weights of the reals that use the check and
    // sends just those edits.
    void on_health_event(const health::HealthEvent& event, Now now);

    // Slow-start steps; call at next_tick().
    void tick(Now now);
    std::optional<SteadyTime> next_tick() const;

    // Resync in two halves, so the dump can run on another thread with its own socket:
    // writes made between begin and finish are replayed onto the dump before it is compared.
    bool resync_due(SteadyTime now) const;  // interval passed, or a failed write to retry
    void begin_resync();
    // `observed` is taken over (kept as the programmed table and the counters), not copied.
    void finish_resync(Result<kernel::IpvsSnapshot> observed, Now now);
    bool resync_running() const { return resync_running_; }
    // Ask for a resync at the next opportunity (e.g. after ENOBUFS on a socket).
    void request_resync() { resync_requested_ = true; }

    // Applies a new (validated) config as the minimal diff; the caller reloads the health
    // runner with checks().keys().
    ReloadOutcome reload(model::DirectorConfig next, Now now);
    // The same with next's check plan (health::plan_checks of its services and default check),
    // made by a caller that needed it before: the daemon's reload checks its privileges first.
    ReloadOutcome reload(model::DirectorConfig next,
                         std::shared_ptr<const health::CheckPlan> next_checks, Now now);
    // A reload whose file did not validate: logs every problem and that the running
    // configuration stays; nothing else happens.
    void reject_reload(const std::string& file, const std::vector<std::string>& problems, Now now);
    // What reload(next) would write now, without writing anything.
    ReloadOutcome preview(const model::DirectorConfig& next, Now now) const;

    // Runtime overrides: stored first (an error leaves everything as it was), then applied.
    Status set_override(const policy::OverrideKey& key, const policy::Override& value, Now now);
    Status clear_override(const policy::OverrideKey& key, Now now);  // ENOENT when none

    const model::DirectorConfig& config() const { return config_; }
    // The check plan is made by start(), while the kernel takes the start's writes; asked for
    // before, it is made then.
    const health::CheckPlan& checks() const { return *shared_checks(); }
    // The same plan, shared: immutable (a reload makes a new one), so the health book and the
    // control hub index their per-check state by its positions instead of keeping keys.
    const std::shared_ptr<const health::CheckPlan>& shared_checks() const {
        ensure_checks();
        return checks_;
    }
    const health::HealthBook& health() const {
        ensure_checks();
        return book_;
    }
    const policy::Overrides& overrides() const { return overrides_; }
    // Each decision is immutable once made (a new decision replaces it), so the control hub
    // publishes the same one to its readers instead of a copy.
    using Decisions = std::map<model::ServiceKey, std::shared_ptr<const policy::ServiceDecision>>;
    const Decisions& decisions() const { return decisions_; }
    // The IPVS table as programmed (what the kernel holds if nothing else wrote to it) and
    // the counters of the last full dump (never null; empty before one), immutable: a reader
    // keeps the pointer rather than a copy, and the next dump replaces it.
    const model::IpvsTable& programmed() const { return programmed_; }
    const std::shared_ptr<const kernel::IpvsCounters>& counters() const { return counters_; }
    const std::set<model::ServiceKey>& owned() const { return owned_; }
    const ReconcileStatus& reconcile_status() const { return status_; }

    // Events since the last call, oldest first.
    std::vector<Event> take_events();
    // Services whose decisions changed (or were recomputed by a reload or a full reconcile)
    // since the last call: a status page republishes just these; services a reload removed are
    // not in it.
    std::set<model::ServiceKey> take_redecided() { return std::exchange(redecided_, {}); }

private:
    struct Indexed;  // config lookups
    policy::Inputs inputs(SteadyTime now) const;
    void emit(Severity s, EventKind k, std::string message, Now now,
              std::optional<model::ServiceKey> service = {},
              std::optional<model::RealKey> real = {});
    void rebuild_index();
    // Makes the check plan of config_ if there is none yet, and gives the health book a place
    // per check. Before that the book is empty, which decides as a plan without results does.
    void ensure_checks() const;
    // The real server an event about a check of these users names.
    model::RealKey first_real(const health::CheckUsers& users) const;
    void apply_network(Now now, bool resync);
    // Reals of our services already in the kernel keep their weight until a first result.
    void adopt_weights(const model::IpvsTable& observed);
    // Recomputes the decisions of these services (their settings unchanged) and writes what
    // differs (no dump). A service whose decision came out the same costs no plan and is not
    // republished; one whose kernel service is already what it asks for costs no plan.
    void update_services(const std::set<model::ServiceKey>& services, Now now);
    // The plan for just these services: against the programmed table (counters unknown, so
    // drains finish at a resync), toward want_from's services (absent there: left the config).
    reconcile::PlanResult plan_scope(const std::vector<model::ServiceKey>& scope,
                                     const model::IpvsTable& want_from,
                                     const model::DirectorConfig& config, SteadyTime now) const;
    // plan_scope() toward desired_, then written; returns the ops.
    std::vector<model::IpvsOp> write_scope(const std::vector<model::ServiceKey>& scope, Now now);
    // The services a reload to `next` must decide and plan again.
    std::vector<model::ServiceKey> reload_scope(const model::DirectorConfig& next) const;
    // Decides the service again. With `settings_changed` false (only health, overrides or time
    // moved), a decision equal to the last one changes nothing (desired_ already follows from
    // it): it returns false and leaves the service out of take_redecided().
    bool redecide(const model::ServiceKey& key, Now now, bool settings_changed);
    // Whether the programmed service differs from the desired one (or either is missing).
    bool needs_write(const model::ServiceKey& key) const;
    // Runs one plan: persists ownership first, executes, updates the programmed table.
    // With `executed`, the plan's ops were written already (by the start's writer, after the
    // ownership record) and this only takes their outcome in.
    void run_plan(const reconcile::PlanResult& result, Now now, bool full,
                  const std::vector<model::ServiceKey>& scope,
                  const reconcile::ExecutionReport* executed = nullptr);
    void full_reconcile(kernel::IpvsSnapshot observed, Now now, bool redecide_all);
    // The start's full reconcile, its writes overlapping its decisions (director.cpp).
    void start_reconcile(kernel::IpvsSnapshot observed, Now now);
    // What follows a full plan: the dump becomes the programmed table, the report is logged,
    // and the plan runs (or, with `executed`, its outcome is taken in).
    void take_full_plan(kernel::IpvsSnapshot observed, const reconcile::PlanResult& result, Now now,
                        const reconcile::ExecutionReport* executed = nullptr);
    void persist_ownership(const std::set<model::ServiceKey>& want, Now now);
    void ownership_saved(const Status& saved, const std::set<model::ServiceKey>& want, Now now);
    static reconcile::PlanOptions plan_options(const model::DirectorConfig& config);
    // Weights to hold until a first check result after a reload to `next`: reals still
    // waiting since the start, and reals whose check changed (they had a result under the
    // old check), at what the kernel holds now.
    policy::AdoptedWeights adopted_after_reload(const model::DirectorConfig& next,
                                                const std::vector<model::ServiceKey>& scope) const;

    model::DirectorConfig config_;
    Ports ports_;
    StateStore& store_;
    DirectorOptions options_;
    sysctl::SysctlApplier sysctl_;

    std::map<model::ServiceKey, size_t> service_index_;        // config_.services position
    mutable std::shared_ptr<const health::CheckPlan> checks_;  // see ensure_checks()
    mutable health::HealthBook book_;
    policy::Overrides overrides_;
    policy::AdoptedWeights adopted_;
    Decisions decisions_;
    model::IpvsTable desired_;

    model::IpvsTable programmed_;
    std::shared_ptr<const kernel::IpvsCounters> counters_ =
        std::make_shared<const kernel::IpvsCounters>();
    std::set<model::ServiceKey> owned_;
    std::set<model::ServiceKey> saved_owned_;
    // start() could not read IPVS: the first dump that works adopts and decides everything.
    bool started_blind_ = false;
    reconcile::DrainLedger ledger_;

    bool resync_running_ = false;
    bool resync_requested_ = false;
    std::vector<model::IpvsOp> journal_;  // writes applied while a resync's dump runs
    std::optional<SteadyTime> next_resync_;
    std::optional<SteadyTime> next_ramp_;
    ReconcileStatus status_;
    std::vector<Event> events_;
    std::set<model::ServiceKey> redecided_;
};

// `ballastd --cleanup`: deletes every IPVS service the ownership record or the config names
// (and only those), the table inet ballast, and the ownership record. Sysctls stay as they
// are. Returns what it did, one line each.
Result<std::vector<std::string>> cleanup(const model::DirectorConfig& config, Ports ports,
                                         StateStore& store);

}  // namespace ballast::daemon
