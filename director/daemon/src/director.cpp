#include "ballast/daemon/director.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <tuple>
#include <utility>

#include "ballast/sysctl/plan.hpp"

namespace ballast::daemon {

using model::IpvsOp;
using model::ServiceKey;

std::string_view to_string(EventKind k) {
    switch (k) {
        case EventKind::health:
            return "health";
        case EventKind::weight:
            return "weight";
        case EventKind::kernel:
            return "kernel";
        case EventKind::drift:
            return "drift";
        case EventKind::nft:
            return "nft";
        case EventKind::sysctl:
            return "sysctl";
        case EventKind::reload:
            return "reload";
        case EventKind::override_:
            return "override";
        case EventKind::lifecycle:
            return "lifecycle";
    }
    return "?";
}

namespace {

std::string join(const std::vector<std::string>& items, const char* sep = "; ") {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : sep) + i;
    return out;
}

// At most `limit` items, then "... and N more".
std::string join_some(const std::vector<std::string>& items, size_t limit = 8) {
    if (items.size() <= limit) return join(items);
    std::vector<std::string> head(items.begin(), items.begin() + static_cast<long>(limit));
    return join(head) + "; ... and " + std::to_string(items.size() - limit) + " more";
}

std::string service_label(const model::ServiceConfig* cfg, const ServiceKey& key) {
    return cfg ? cfg->name + " (" + key.to_string() + ")" : key.to_string();
}

// Where the kernel (observed, with our writes since the dump replayed) differs from what we
// programmed, for the services we own.
std::vector<std::string> drift_between(const model::IpvsTable& programmed,
                                       const model::IpvsTable& observed,
                                       const std::set<ServiceKey>& owned) {
    std::vector<std::string> out;
    for (const auto& key : owned) {
        auto want = programmed.services.find(key);
        auto have = observed.services.find(key);
        if (want == programmed.services.end()) {
            if (have != observed.services.end())
                out.push_back("service " + key.to_string() + " appeared");
            continue;
        }
        if (have == observed.services.end()) {
            out.push_back("service " + key.to_string() + " is missing");
            continue;
        }
        if (!want->second.spec.same_attributes(have->second.spec))
            out.push_back("service " + key.to_string() + " attributes changed (scheduler " +
                          have->second.spec.scheduler + ", expected " +
                          want->second.spec.scheduler + ")");
        for (const auto& [real, spec] : want->second.reals) {
            auto it = have->second.reals.find(real);
            if (it == have->second.reals.end())
                out.push_back(key.to_string() + " -> " + real.to_string() + " is missing");
            else if (it->second != spec)
                out.push_back(key.to_string() + " -> " + real.to_string() + " has weight " +
                              std::to_string(it->second.weight) + " (expected " +
                              std::to_string(spec.weight) + ")");
        }
        for (const auto& [real, spec] : have->second.reals)
            if (!want->second.reals.count(real))
                out.push_back(key.to_string() + " -> " + real.to_string() + " was added");
    }
    return out;
}

std::string state_word(health::State s) {
    return std::string(health::to_string(s));
}

}  // namespace

Director::Director(model::DirectorConfig config, Ports ports, StateStore& store,
                   DirectorOptions options)
    : config_(std::move(config)),
      ports_(ports),
      store_(store),
      options_(options),
      sysctl_(ports.sysctl) {
    rebuild_index();
}

void Director::ensure_checks() const {
    if (checks_) return;
    checks_ = std::make_shared<const health::CheckPlan>(
        health::plan_checks(config_.services, config_.default_check));
    book_.retain(checks_);  // a place per check: the first results fill them in
}

void Director::rebuild_index() {
    service_index_.clear();
    for (size_t i = 0; i < config_.services.size(); ++i)
        service_index_.emplace(config_.services[i].key, i);
}

policy::Inputs Director::inputs(SteadyTime now) const {
    return policy::Inputs{config_, book_, overrides_, adopted_, now};
}

reconcile::PlanOptions Director::plan_options(const model::DirectorConfig& config) {
    reconcile::PlanOptions o;
    o.drain_timeout = config.director.drain_timeout;
    return o;
}

void Director::emit(Severity s, EventKind k, std::string message, Now now,
                    std::optional<ServiceKey> service, std::optional<model::RealKey> real) {
    events_.push_back(
        Event{s, k, std::move(message), std::move(service), std::move(real), now.wall});
}

std::vector<Event> Director::take_events() {
    return std::exchange(events_, {});
}

Status Director::start(Result<kernel::IpvsSnapshot> observed, Now now) {
    auto owned = store_.load_ownership();
    if (!owned) return owned.error();
    auto overrides = store_.load_overrides();
    if (!overrides) return overrides.error();
    owned_ = saved_owned_ = *owned;
    overrides_ = *overrides;
    next_resync_ = now.steady + config_.director.resync_interval;

    if (!observed) {
        apply_network(now, false);
        ensure_checks();
        // The first dump that works does what this start could not: adopt and program.
        started_blind_ = true;
        emit(Severity::error, EventKind::kernel,
             "cannot read IPVS: " + observed.error().describe() + " (retrying)", now);
        status_.in_sync = false;
        ++status_.retry.consecutive_failures;
        status_.retry.next_attempt =
            now.steady + reconcile::retry_delay(options_.retry, status_.retry.consecutive_failures);
        return {};
    }
    emit(Severity::info, EventKind::lifecycle,
         "found " + std::to_string(observed->table.services.size()) +
             " IPVS services in the kernel (" + std::to_string(observed->table.real_count()) +
             " real servers); the ownership record names " + std::to_string(owned_.size()),
         now);
    adopt_weights(observed->table);
    start_reconcile(std::move(*observed), now);
    emit(Severity::info, EventKind::lifecycle,
         "started: " + std::to_string(config_.services.size()) + " services, " +
             std::to_string(desired_.real_count()) + " real servers, " +
             std::to_string(checks_->checks.size()) + " checks; " +
             std::to_string(status_.ops_applied) + " IPVS writes" +
             (status_.in_sync ? "" : ", some failed (retrying)"),
         now);
    return {};
}

void Director::adopt_weights(const model::IpvsTable& observed) {
    // Reals already in the kernel keep their weight until their first check result.
    adopted_.clear();
    for (const auto& [key, svc] : observed.services) {
        if (!service_index_.count(key) && !owned_.count(key)) continue;
        for (const auto& [real, spec] : svc.reals) adopted_[{key, real}] = spec.weight;
    }
}

void Director::apply_network(Now now, bool resync) {
    const Severity changed = resync ? Severity::warning : Severity::info;
    sysctl::SysctlInputs in{config_.director.sysctl, config_.director.interfaces,
                            policy::has_ipv6_service(config_), sysctl::ipvs_present(ports_.sysctl)};
    auto report = sysctl_.apply(sysctl::plan_sysctls(in));
    for (const auto& c : report.changes) {
        if (resync) ++status_.drift_repairs;
        emit(changed, resync ? EventKind::drift : EventKind::sysctl,
             "sysctl " + c.key + ": " + c.old_value + " -> " + c.new_value + " (" + c.reason + ")" +
                 (resync ? ", was changed behind ballast's back" : ""),
             now);
    }
    for (const auto& e : report.errors)
        emit(Severity::error, EventKind::sysctl, "sysctl: " + e.describe(), now);

    auto nat = ports_.nft.apply(policy::desired_nat(config_));
    if (!nat) {
        emit(Severity::error, EventKind::nft, "table inet ballast: " + nat.error().describe(), now);
        request_resync();
    } else if (nat->batch_sent) {
        if (resync) ++status_.drift_repairs;
        emit(changed, resync ? EventKind::drift : EventKind::nft,
             std::string("table inet ballast") + (resync ? " repaired: " : " updated: ") +
                 join_some(nat->changes),
             now);
    }
}

void Director::persist_ownership(const std::set<ServiceKey>& want, Now now) {
    ownership_saved(store_.save_ownership(want), want, now);
}

void Director::ownership_saved(const Status& saved, const std::set<ServiceKey>& want, Now now) {
    if (!saved) {
        emit(Severity::error, EventKind::kernel,
             "cannot record owned services: " + saved.error().describe(), now);
        return;
    }
    saved_owned_ = want;
}

void Director::run_plan(const reconcile::PlanResult& result, Now now, bool full,
                        const std::vector<ServiceKey>& scope,
                        const reconcile::ExecutionReport* executed) {
    const bool scoped = !scope.empty();
    // Record ownership before creating anything, so a crash right after an add still leaves
    // the service in the record.
    std::vector<ServiceKey> unrecorded;
    if (!executed)
        for (const auto& key : result.ownership.services)
            if (!saved_owned_.count(key)) unrecorded.push_back(key);
    if (!unrecorded.empty()) {
        std::set<ServiceKey> want = saved_owned_;
        want.insert(unrecorded.begin(), unrecorded.end());
        persist_ownership(want, now);
    }

    const auto report = executed ? *executed : reconcile::execute(ports_.ipvs, result.ops);
    // A key that keeps failing the same way is logged once, not at every retry.
    for (const auto& f : report.failures) {
        auto known = status_.failing.find(reconcile::DirtyKey::of(f.op));
        const bool repeat = known != status_.failing.end() && known->second.code == f.error.code;
        emit(repeat ? Severity::debug : Severity::error, EventKind::kernel,
             "IPVS write failed: " + f.op.to_string() + ": " + f.error.describe() +
                 (repeat ? " (still failing)" : ""),
             now, f.op.service, f.op.is_dest_op() ? std::optional(f.op.real) : std::nullopt);
    }
    auto failure = report.failures.begin();
    reconcile::TableWriter programmed(programmed_);
    for (size_t i = 0; i < result.ops.size(); ++i) {
        if (failure != report.failures.end() && failure->index == i) {
            ++failure;
            continue;
        }
        programmed.apply(result.ops[i]);
        if (resync_running_) journal_.push_back(result.ops[i]);
        if (!status_.failing.empty()) status_.failing.erase(reconcile::DirtyKey::of(result.ops[i]));
    }

    bool ownership_changed = false;
    if (scoped) {
        for (const auto& key : scope) {
            if (!ledger_.since.empty())
                std::erase_if(ledger_.since, [&](const auto& e) { return e.first.first == key; });
            if (result.ownership.contains(key))
                owned_.insert(key);
            else
                owned_.erase(key);
            ownership_changed = ownership_changed || owned_.count(key) != saved_owned_.count(key);
        }
        ledger_.since.insert(result.ledger.since.begin(), result.ledger.since.end());
    } else {
        ledger_ = result.ledger;
        owned_ = result.ownership.services;
        ownership_changed = owned_ != saved_owned_;
    }
    if (ownership_changed) persist_ownership(owned_, now);

    status_.ops_applied += report.applied;
    status_.op_failures += report.failures.size();
    if (full) status_.failing.clear();
    for (const auto& [key, err] : report.dirty) status_.failing[key] = err;
    const bool was_failing = status_.retry.consecutive_failures > 0;
    if (!report.ok() || full) {
        status_.retry = reconcile::next_retry(options_.retry, status_.retry, report, now.steady);
        status_.in_sync = report.ok();
        if (report.ok() && was_failing)
            emit(Severity::notice, EventKind::kernel, "IPVS writes succeed again", now);
    }
}

void Director::full_reconcile(kernel::IpvsSnapshot observed, Now now, bool redecide_all) {
    // Decisions change only with an input (verdict, override, reload) or a slow-start step,
    // each of which re-decides its services: a resync reuses them.
    if (redecide_all)
        for (const auto& s : config_.services) redecide(s.key, now, true);
    auto result = reconcile::plan(observed, desired_, reconcile::Ownership{owned_}, ledger_,
                                  now.steady, plan_options(config_));
    take_full_plan(std::move(observed), result, now);
}

namespace {

// A start's IPVS writes, on a thread of their own (Director::start_reconcile): first `before`
// (the ownership record), then each pushed list of ops, in order, as reconcile::execute()
// would write them one list after another.
class StartWriter {
public:
    StartWriter(kernel::IpvsClient& ipvs, std::function<Status()> before)
        : ipvs_(ipvs), thread_([this, before = std::move(before)] { run(before); }) {}
    ~StartWriter() { close(); }
    StartWriter(const StartWriter&) = delete;
    StartWriter& operator=(const StartWriter&) = delete;

    // `ops` must stay where they are until finish().
    void push(std::span<const IpvsOp> ops) {
        if (ops.empty()) return;
        {
            std::lock_guard lock(mutex_);
            queue_.push_back(ops);
        }
        wake_.notify_one();
    }

    struct Done {
        Status before;
        reconcile::ExecutionReport report;  // indices into the pushed lists, concatenated
    };
    // Waits for every pushed op to be written.
    Done finish() {
        close();
        return std::move(done_);
    }

private:
    void close() {
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
        }
        wake_.notify_one();
        if (thread_.joinable()) thread_.join();
    }

    void run(const std::function<Status()>& before) {
        done_.before = before();
        size_t offset = 0;
        for (;;) {
            std::span<const IpvsOp> ops;
            {
                std::unique_lock lock(mutex_);
                wake_.wait(lock, [&] { return closed_ || !queue_.empty(); });
                if (queue_.empty()) return;
                ops = queue_.front();
                queue_.pop_front();
            }
            reconcile::merge_into(done_.report, reconcile::execute(ipvs_, ops), offset);
            offset += ops.size();
        }
    }

    kernel::IpvsClient& ipvs_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::span<const IpvsOp>> queue_;
    bool closed_ = false;
    Done done_;           // the writer's until it is joined
    std::thread thread_;  // last: starts once the rest is made
};

}  // namespace

// At a cold start the kernel's adds are most of the time (BENCHMARKS.md). So the services are
// decided and planned a chunk of keys at a time (plan() over a KeyRange: the same ops, ledger,
// ownership and report as one plan of everything) and each chunk goes to a writer thread at
// once: the kernel takes one chunk's adds while the next is decided, and the check plan is
// made while it takes the last. The ownership record, every configured service included, is
// the writer's first act, before any write, while this thread applies the sysctls and the nft
// table. Only this thread touches the Director; only the writer touches the IPVS client and
// the store until finish().
void Director::start_reconcile(kernel::IpvsSnapshot observed, Now now) {
    std::vector<ServiceKey> keys;
    keys.reserve(service_index_.size());
    for (const auto& [key, at] : service_index_) keys.push_back(key);
    std::set<ServiceKey> record = saved_owned_;
    record.insert(keys.begin(), keys.end());
    const bool save = record != saved_owned_;

    std::deque<reconcile::PlanResult> parts;  // where the writer reads them from
    StartWriter::Done written;
    {
        StartWriter writer(ports_.ipvs, [&]() -> Status {
            return save ? store_.save_ownership(record) : Status{};
        });
        // While the writer records ownership; the first IPVS write is pushed after it.
        apply_network(now, false);
        const reconcile::Ownership ownership{owned_};
        const auto options = plan_options(config_);
        const size_t chunk = std::max<size_t>(1, options_.start_chunk_services);
        for (size_t begin = 0; begin < keys.size() || parts.empty(); begin += chunk) {
            const size_t end = std::min(keys.size(), begin + chunk);
            for (size_t i = begin; i < end; ++i) redecide(keys[i], now, true);
            reconcile::KeyRange range;
            if (begin > 0) range.from = keys[begin];
            if (end < keys.size()) range.to = keys[end];
            parts.push_back(reconcile::plan(observed, desired_, ownership, ledger_, now.steady,
                                            options, range));
            writer.push(parts.back().ops);
        }
        ensure_checks();
        written = writer.finish();
    }
    if (save) ownership_saved(written.before, record, now);
    reconcile::PlanResult result = std::move(parts.front());
    parts.pop_front();
    for (auto& part : parts) reconcile::merge_into(result, std::move(part));
    take_full_plan(std::move(observed), result, now, &written.report);
}

void Director::take_full_plan(kernel::IpvsSnapshot observed, const reconcile::PlanResult& result,
                              Now now, const reconcile::ExecutionReport* executed) {
    // The dump was made on the dump thread, in that thread's malloc arena. Its table is copied
    // into the programmed table (which reuses the last table's nodes, on this thread) and its
    // counters copied too, and the dump dropped, so that arena holds nothing between dumps and
    // the trim after a resync hands its pages back: kept, they pinned the dump's transient pages
    // around them (~5 MiB of RSS at 5,000 x 10 in the kernel lab).
    programmed_ = observed.table;
    counters_ = std::make_shared<const kernel::IpvsCounters>(*kernel::take_counters(
        observed, std::chrono::duration<double>(now.wall.time_since_epoch()).count()));
    for (const auto& key : result.report.adopted)
        emit(Severity::notice, EventKind::kernel,
             "adopted service " + key.to_string() + ": already in the kernel, named by the config",
             now, key);
    for (const auto& d : result.report.timed_out)
        emit(Severity::warning, EventKind::weight,
             "deleting " + d.service.to_string() + " -> " + d.real.to_string() +
                 ": drain timeout passed with " + std::to_string(d.connections) +
                 " connections left",
             now, d.service, d.real);
    status_.foreign = result.report.foreign;
    status_.draining = result.report.draining;
    run_plan(result, now, true, {}, executed);
}

bool Director::redecide(const ServiceKey& key, Now now, bool settings_changed) {
    const auto& cfg = config_.services[service_index_.at(key)];
    auto next = policy::decide_service(cfg, inputs(now.steady));
    if (next.ramping() && !next_ramp_) next_ramp_ = now.steady + options_.ramp_step;
    auto old = decisions_.find(key);
    if (!settings_changed && old != decisions_.end() && *old->second == next) return false;
    if (old != decisions_.end()) {
        const auto& before = *old->second;
        for (const auto& r : next.reals) {
            const policy::RealDecision* prev = nullptr;
            for (const auto& p : before.reals)
                if (p.real == r.real && p.sorry == r.sorry) prev = &p;
            const bool changed =
                !prev || prev->effective != r.effective || prev->present != r.present;
            if (!changed) continue;
            std::string what = !r.present ? "removed"
                               : prev && prev->present
                                   ? "weight " + std::to_string(prev->effective) + " -> " +
                                         std::to_string(r.effective)
                                   : "added with weight " + std::to_string(r.effective);
            // Slow-start steps are routine; everything else is worth a line.
            const bool ramp_step = prev && r.ramping && prev->ramping;
            emit(ramp_step
                     ? Severity::debug
                     : (r.effective == 0 || !r.present ? Severity::warning : Severity::notice),
                 EventKind::weight,
                 cfg.name + " " + r.real.to_string() + (r.sorry ? " (sorry server)" : "") + ": " +
                     what + ": " + r.reason.str(),
                 now, key, r.real);
        }
        for (const auto& p : before.reals)
            if (p.sorry && !next.sorry_active)
                emit(Severity::notice, EventKind::weight,
                     cfg.name + " " + p.real.to_string() +
                         " (sorry server): removed: a real "
                         "server is up again",
                     now, key, p.real);
        if (next.panic != before.panic)
            emit(next.panic ? Severity::error : Severity::notice, EventKind::weight,
                 service_label(&cfg, key) +
                     (next.panic ? ": PANIC: " + std::to_string(next.down) + " of " +
                                       std::to_string(next.reals.size()) +
                                       " real servers are down, more than the panic threshold "
                                       "of " +
                                       std::to_string(policy::panic_threshold(config_, cfg)) +
                                       "%: routing to all of them (is the director's own "
                                       "network working?)"
                                 : ": panic over, health decides again"),
                 now, key);
    }
    desired_.services[key] = policy::desired_service(cfg, next);
    decisions_[key] = std::make_shared<const policy::ServiceDecision>(std::move(next));
    redecided_.insert(key);
    return true;
}

bool Director::needs_write(const ServiceKey& key) const {
    const auto want = desired_.services.find(key);
    const auto have = programmed_.services.find(key);
    return want == desired_.services.end() || have == programmed_.services.end() ||
           want->second != have->second;
}

reconcile::PlanResult Director::plan_scope(const std::vector<ServiceKey>& scope,
                                           const model::IpvsTable& want_from,
                                           const model::DirectorConfig& config,
                                           SteadyTime now) const {
    kernel::IpvsSnapshot observed;  // counters unknown: drains finish at a full resync
    model::IpvsTable want;
    reconcile::Ownership ownership;
    reconcile::DrainLedger ledger;
    for (const auto& key : scope) {
        if (auto it = programmed_.services.find(key); it != programmed_.services.end())
            observed.table.services.emplace(key, it->second);
        if (auto it = want_from.services.find(key); it != want_from.services.end()) {
            want.services.emplace(key, it->second);
            ownership.services.insert(key);
        } else if (owned_.count(key)) {
            ownership.services.insert(key);  // left the config: drained, then deleted
        }
    }
    if (!ledger_.since.empty())
        for (const auto& [id, since] : ledger_.since)
            if (ownership.contains(id.first)) ledger.since.emplace(id, since);
    return reconcile::plan(observed, want, ownership, ledger, now, plan_options(config));
}

std::vector<model::IpvsOp> Director::write_scope(const std::vector<ServiceKey>& scope, Now now) {
    if (scope.empty()) return {};
    auto result = plan_scope(scope, desired_, config_, now.steady);
    run_plan(result, now, false, scope);
    return std::move(result.ops);
}

void Director::update_services(const std::set<ServiceKey>& services, Now now) {
    std::vector<ServiceKey> scope;
    for (const auto& key : services) {
        if (!service_index_.count(key)) continue;
        // Most results change no weight (a first "up" of a server already at its weight): a
        // plan of a service the kernel already holds as desired would find nothing to write.
        if (redecide(key, now, false) && needs_write(key)) scope.push_back(key);
    }
    write_scope(scope, now);
}

model::RealKey Director::first_real(const health::CheckUsers& users) const {
    // The real of the first user in key order (users are in config order).
    const auto key_of = [this](const health::CheckUser& u) {
        return std::tie(health::user_service(config_.services, u).key,
                        health::user_real(config_.services, u).key);
    };
    const auto* first = &users.front();
    for (const auto& u : users)
        if (key_of(u) < key_of(*first)) first = &u;
    return health::user_real(config_.services, *first).key;
}

void Director::on_health_event(const health::HealthEvent& ev, Now now) {
    ensure_checks();
    auto users = checks_->checks.find(ev.check);
    if (users == checks_->checks.end()) return;  // a check removed by a reload
    const auto* before = book_.find(ev.check);
    // What the policy reads of this check is as it was: no decision can change (O(1), no
    // allocation). Slow-start steps come from tick(), not from results.
    if (!ev.transition && before && before->state == ev.state && before->reason == ev.reason &&
        before->recovered_at == ev.recovered_at && before->agent == ev.agent)
        return;
    const health::State prev = before ? before->state : health::State::unknown;
    book_.record(ev.check, ev.state, ev.reason, ev.recovered_at, ev.agent);
    if (ev.transition) {
        std::string count;
        if (prev == health::State::unknown)
            count = " (first check)";
        else if (ev.state == health::State::down)
            count = " (" + std::to_string(ev.check.spec->fall) + "/" +
                    std::to_string(ev.check.spec->fall) + ")";
        else if (ev.state == health::State::up)
            count = " (" + std::to_string(ev.check.spec->rise) + "/" +
                    std::to_string(ev.check.spec->rise) + ")";
        emit(ev.state == health::State::down ? Severity::warning : Severity::notice,
             EventKind::health,
             ev.check.target.to_string() + " " + state_word(ev.state) + ": " + ev.reason + count +
                 " [" + ev.check.to_string() + "]",
             now, std::nullopt, first_real(users->second));
    }
    std::set<ServiceKey> services;
    for (const auto& u : users->second)
        services.insert(health::user_service(config_.services, u).key);
    update_services(services, now);
}

void Director::tick(Now now) {
    if (!next_ramp_ || now.steady < *next_ramp_) return;
    next_ramp_.reset();
    std::set<ServiceKey> ramping;
    for (const auto& [key, d] : decisions_)
        if (d->ramping()) ramping.insert(key);
    update_services(ramping, now);
}

std::optional<SteadyTime> Director::next_tick() const {
    std::optional<SteadyTime> t = next_ramp_;
    auto earlier = [&](std::optional<SteadyTime> o) {
        if (o && (!t || *o < *t)) t = o;
    };
    if (!resync_running_) {
        earlier(next_resync_);
        earlier(status_.retry.next_attempt);
    }
    return t;
}

bool Director::resync_due(SteadyTime now) const {
    if (resync_running_) return false;
    return resync_requested_ || (next_resync_ && now >= *next_resync_) || status_.retry.due(now);
}

void Director::begin_resync() {
    resync_running_ = true;
    resync_requested_ = false;
    journal_.clear();
}

void Director::finish_resync(Result<kernel::IpvsSnapshot> observed, Now now) {
    resync_running_ = false;
    next_resync_ = now.steady + config_.director.resync_interval;
    ++status_.resyncs;
    status_.last_resync = now.wall;
    apply_network(now, true);
    if (!observed) {
        journal_.clear();
        emit(Severity::error, EventKind::kernel,
             "cannot read IPVS: " + observed.error().describe() + " (retrying)", now);
        status_.in_sync = false;
        ++status_.retry.consecutive_failures;
        status_.retry.next_attempt =
            now.steady + reconcile::retry_delay(options_.retry, status_.retry.consecutive_failures);
        return;
    }
    kernel::IpvsSnapshot& snapshot = *observed;
    for (const auto& op : journal_) reconcile::apply_to(snapshot.table, op);
    journal_.clear();
    if (started_blind_) {  // nothing programmed yet: nothing to call drift
        started_blind_ = false;
        adopt_weights(snapshot.table);
        full_reconcile(std::move(snapshot), now, true);
        return;
    }
    std::set<ServiceKey> watched = owned_;
    for (const auto& s : config_.services) watched.insert(s.key);
    const auto drift = drift_between(programmed_, snapshot.table, watched);
    if (!drift.empty()) {
        status_.drift_repairs += drift.size();
        emit(Severity::warning, EventKind::drift,
             "IPVS was changed behind ballast's back (" + std::to_string(drift.size()) +
                 (drift.size() == 1 ? " difference" : " differences") +
                 "), repairing: " + join_some(drift),
             now);
    }
    full_reconcile(std::move(snapshot), now, false);
}

std::vector<ServiceKey> Director::reload_scope(const model::DirectorConfig& next) const {
    // Every service whose configuration differs (or is new), and every one that left: only
    // these are decided and planned again. A change of the director's own settings or of the
    // default check can touch any service.
    const bool everything =
        next.director != config_.director || next.default_check != config_.default_check;
    std::vector<ServiceKey> scope;
    for (const auto& s : next.services) {
        auto old = service_index_.find(s.key);
        if (everything || old == service_index_.end() ||
            !config_.services[old->second].same_settings(s))
            scope.push_back(s.key);
    }
    std::set<ServiceKey> next_keys;
    for (const auto& s : next.services) next_keys.insert(s.key);
    for (const auto& s : config_.services)
        if (!next_keys.count(s.key)) scope.push_back(s.key);
    return scope;
}

ReloadOutcome Director::reload(model::DirectorConfig next, Now now) {
    auto next_checks = std::make_shared<const health::CheckPlan>(
        health::plan_checks(next.services, next.default_check));
    return reload(std::move(next), std::move(next_checks), now);
}

ReloadOutcome Director::reload(model::DirectorConfig next,
                               std::shared_ptr<const health::CheckPlan> next_checks, Now now) {
    ensure_checks();
    ReloadOutcome out;
    const std::string file = next.source_file;
    const auto scope = reload_scope(next);
    out.checks = health::diff_checks(*checks_, *next_checks);
    adopted_ = adopted_after_reload(next, scope);
    config_ = std::move(next);
    rebuild_index();
    checks_ = std::move(next_checks);
    book_.retain(checks_);

    for (const auto& key : scope) {
        if (service_index_.count(key)) {
            redecide(key, now, true);
        } else {
            decisions_.erase(key);
            desired_.services.erase(key);
        }
    }
    const uint64_t failures_before = status_.op_failures;
    out.ops = write_scope(scope, now);
    out.failed_ops = status_.op_failures - failures_before;

    auto nat = ports_.nft.apply(policy::desired_nat(config_));
    if (!nat) {
        emit(Severity::error, EventKind::nft, "table inet ballast: " + nat.error().describe(), now);
        request_resync();
    } else {
        out.nft = *nat;
    }
    sysctl::SysctlInputs in{config_.director.sysctl, config_.director.interfaces,
                            policy::has_ipv6_service(config_), sysctl::ipvs_present(ports_.sysctl)};
    auto sys = sysctl_.apply(sysctl::plan_sysctls(in));
    for (const auto& c : sys.changes)
        emit(Severity::info, EventKind::sysctl,
             "sysctl " + c.key + ": " + c.old_value + " -> " + c.new_value + " (" + c.reason + ")",
             now);
    for (const auto& e : sys.errors)
        emit(Severity::error, EventKind::sysctl, "sysctl: " + e.describe(), now);

    emit(Severity::notice, EventKind::reload,
         "reloaded " + file + ": " + std::to_string(config_.services.size()) +
             " services; checks +" + std::to_string(out.checks.added.size()) + " -" +
             std::to_string(out.checks.removed.size()) + " =" +
             std::to_string(out.checks.kept.size()) + "; " + std::to_string(out.ops.size()) +
             " IPVS writes" +
             (out.failed_ops ? " (" + std::to_string(out.failed_ops) + " failed)" : "") +
             (out.nft.batch_sent ? "; nft: " + join_some(out.nft.changes) : ""),
         now);
    return out;
}

void Director::reject_reload(const std::string& file, const std::vector<std::string>& problems,
                             Now now) {
    for (const auto& p : problems) emit(Severity::error, EventKind::reload, p, now);
    emit(Severity::error, EventKind::reload,
         "reload rejected: " + std::to_string(problems.size()) +
             (problems.size() == 1 ? " error in " : " errors in ") + file +
             "; the running configuration stays, nothing was changed",
         now);
}

ReloadOutcome Director::preview(const model::DirectorConfig& next, Now now) const {
    ensure_checks();
    ReloadOutcome out;
    const auto scope = reload_scope(next);
    const auto next_checks = health::plan_checks(next.services, next.default_check);
    out.checks = health::diff_checks(*checks_, next_checks);
    const auto adopted = adopted_after_reload(next, scope);
    const policy::Inputs in{next, book_, overrides_, adopted, now.steady};
    model::IpvsTable want;
    const std::set<ServiceKey> in_scope(scope.begin(), scope.end());
    for (const auto& s : next.services)
        if (in_scope.count(s.key))
            want.services.emplace(s.key, policy::desired_service(s, policy::decide_service(s, in)));
    out.ops = plan_scope(scope, want, next, now.steady).ops;
    // The masquerade table: what the new config adds or drops.
    const auto before = policy::desired_nat(config_), after = policy::desired_nat(next);
    auto lines = [](const kernel::NatDesired& a, const kernel::NatDesired& b, const char* verb) {
        std::vector<std::string> changes;
        // Sets, not finds: 50,000 real servers on each side at 5,000 x 10.
        const std::set<model::IpPrefix> b_reals(b.real_servers.begin(), b.real_servers.end());
        const std::set<kernel::MarkGroup> b_groups(b.mark_groups.begin(), b.mark_groups.end());
        for (const auto& p : a.real_servers)
            if (!b_reals.count(p))
                changes.push_back(std::string(verb) + " element " + p.to_string());
        for (const auto& g : a.mark_groups)
            if (!b_groups.count(g)) changes.push_back(std::string(verb) + " mark group " + g.name);
        return changes;
    };
    out.nft.changes = lines(after, before, "add");
    for (auto& l : lines(before, after, "delete")) out.nft.changes.push_back(std::move(l));
    if (before.egress_interfaces != after.egress_interfaces)
        out.nft.changes.push_back("egress interfaces: " + join(after.egress_interfaces, ", "));
    out.nft.batch_sent = !out.nft.changes.empty();
    return out;
}

policy::AdoptedWeights Director::adopted_after_reload(const model::DirectorConfig& next,
                                                      const std::vector<ServiceKey>& scope) const {
    // Unchanged services keep their entries (reals still waiting since the start). In a changed
    // service a real holds what the kernel has when it has no result under its (new) checks
    // but had one before: its check changed. book_ still holds the old checks' results; the
    // new checks' keys are looked up in it as they are.
    const std::set<ServiceKey> changed(scope.begin(), scope.end());
    policy::AdoptedWeights out;
    for (const auto& [id, weight] : adopted_)
        if (!changed.count(id.first)) out.emplace(id, weight);
    for (const auto& s : next.services) {
        if (!changed.count(s.key)) continue;
        auto programmed = programmed_.services.find(s.key);
        if (programmed == programmed_.services.end()) continue;
        auto old = service_index_.find(s.key);
        for (const auto& real : s.reals) {
            auto spec = programmed->second.reals.find(real.key);
            if (spec == programmed->second.reals.end()) continue;
            if (policy::has_check_result(next, s, real, book_)) continue;
            const std::pair id{s.key, real.key};
            bool hold = adopted_.count(id) > 0;
            if (!hold && old != service_index_.end()) {
                const auto& before = config_.services[old->second];
                for (const auto& r : before.reals)
                    if (r.key == real.key)
                        hold = policy::has_check_result(config_, before, r, book_);
            }
            if (hold) out[id] = spec->second.weight;
        }
    }
    return out;
}

Status Director::set_override(const policy::OverrideKey& key, const policy::Override& value,
                              Now now) {
    std::set<ServiceKey> affected;
    for (const auto& s : config_.services) {
        if (key.service && s.key != *key.service) continue;
        for (const auto& r : s.reals)
            if (r.key == key.real) affected.insert(s.key);
    }
    if (affected.empty())
        return make_error(ENOENT, "override", key.to_string(),
                          key.service ? key.real.to_string() + " is not a real server of " +
                                            key.service->to_string()
                                      : "no service has the real server " + key.real.to_string());
    auto next = overrides_;
    next[key] = value;
    if (auto st = store_.save_overrides(next); !st) return st.error();
    overrides_ = std::move(next);
    emit(Severity::notice, EventKind::override_, key.to_string() + ": " + value.describe(), now,
         key.service, key.real);
    update_services(affected, now);
    return {};
}

Status Director::clear_override(const policy::OverrideKey& key, Now now) {
    // Without a service: every override of this real, in every service.
    auto next = overrides_;
    const size_t removed = std::erase_if(next, [&](const auto& kv) {
        return kv.first.real == key.real && (!key.service || kv.first.service == key.service);
    });
    if (removed == 0)
        return make_error(ENOENT, "override", key.to_string(),
                          "no override is set for " + key.to_string());
    if (auto st = store_.save_overrides(next); !st) return st.error();
    overrides_ = std::move(next);
    std::set<ServiceKey> affected;
    for (const auto& s : config_.services)
        for (const auto& r : s.reals)
            if (r.key == key.real && (!key.service || s.key == *key.service))
                affected.insert(s.key);
    emit(Severity::notice, EventKind::override_, key.to_string() + ": override cleared", now,
         key.service, key.real);
    update_services(affected, now);
    return {};
}

Result<std::vector<std::string>> cleanup(const model::DirectorConfig& config, Ports ports,
                                         StateStore& store) {
    auto owned = store.load_ownership();
    if (!owned) return owned.error();
    auto observed = ports.ipvs.dump();
    if (!observed) return observed.error();
    std::set<ServiceKey> ours = *owned;
    for (const auto& s : config.services) ours.insert(s.key);
    std::vector<IpvsOp> ops;
    std::vector<std::string> lines;
    for (const auto& key : ours) {
        auto it = observed->table.services.find(key);
        if (it == observed->table.services.end()) continue;
        ops.push_back(IpvsOp::del_service(key));
        lines.push_back("deleted IPVS service " + key.to_string() + " (" +
                        std::to_string(it->second.reals.size()) + " real servers)");
    }
    auto report = reconcile::execute(ports.ipvs, ops);
    if (!report.ok()) return report.failures.front().error;
    if (auto st = ports.nft.remove(); !st) return st.error();
    lines.push_back("deleted table inet ballast");
    if (auto st = store.save_ownership({}); !st) return st.error();
    return lines;
}

}  // namespace ballast::daemon
