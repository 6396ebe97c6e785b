#include "ballast/health/runner.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "ballast/model/boxed.hpp"

namespace ballast::health {

namespace asio = boost::asio;

void LatenessHistogram::add(std::chrono::microseconds late) {
    const int64_t us = std::max<int64_t>(late.count(), 0);
    const size_t b = std::min<size_t>(static_cast<size_t>(us / kBucketMicros), kBuckets);
    ++counts[b];
    ++total;
}

std::chrono::microseconds LatenessHistogram::percentile(double p) const {
    if (total == 0) return std::chrono::microseconds(0);
    const auto want = static_cast<uint64_t>(std::llround(p / 100.0 * static_cast<double>(total)));
    uint64_t seen = 0;
    for (size_t b = 0; b <= kBuckets; ++b) {
        seen += counts[b];
        if (seen >= std::max<uint64_t>(want, 1)) {
            return std::chrono::microseconds(static_cast<int64_t>(b + 1) * kBucketMicros);
        }
    }
    return std::chrono::microseconds(static_cast<int64_t>(kBuckets + 1) * kBucketMicros);
}

// One (target, check): its tracker and schedule, and the run in flight. Lives in a slot of
// the runner's vector (moved when it grows); named from outside by SessionId only. Its key is
// its target and its spec's place in the runner's specs_ (24 bytes, not a CheckKey's 40).
struct HealthRunner::Session {
    Session(const model::Endpoint& t, uint32_t spec_index, const model::CheckSpec& check,
            TimePoint first_due, uint32_t gen)
        : target(t),
          spec(spec_index),
          tracker(check.rise, check.fall, check.start_down),
          schedule(first_due),
          generation(gen) {}

    model::Endpoint target;
    uint32_t spec;
    HealthTracker tracker;
    CheckSchedule schedule;
    model::Boxed<AgentReply> last_agent;  // boxed: most checks are not agent checks
    // The probe in flight and when it started, only while there is one: 8 bytes for an idle
    // check.
    struct InFlight {
        std::shared_ptr<ProbeRun> run;
        TimePoint started;
    };
    std::unique_ptr<InFlight> in_flight;
    uint64_t runs = 0;
    uint32_t generation;
    bool stopped = false;
};

HealthRunner::HealthRunner(asio::io_context& io, HealthSink& sink, RunnerOptions options)
    : sink_(sink),
      now_(options.now ? std::move(options.now) : [] { return SteadyClock::now(); }),
      probes_(io, options.limits, options.seed ^ 0x5eed),
      rng_(options.seed),
      granularity_(std::max(options.wake_granularity, std::chrono::microseconds(0))),
      wake_(io) {}

HealthRunner::~HealthRunner() {
    stop();
    alive_.reset();
}

HealthRunner::Session* HealthRunner::live(SessionId id) {
    if (id.slot >= slots_.size()) return nullptr;
    auto& s = slots_[id.slot];
    return s.stopped || s.generation != id.generation ? nullptr : &s;
}

CheckKey HealthRunner::key_of(const Session& s) const {
    return CheckKey{s.target, specs_[s.spec].spec};
}

const model::CheckSpec& HealthRunner::spec_of(const Session& s) const {
    return *specs_[s.spec].spec;
}

bool HealthRunner::less(const Session& a, const CheckKey& b) const {
    if (a.target != b.target) return a.target < b.target;
    return &spec_of(a) != &*b.spec && spec_of(a) < *b.spec;
}

bool HealthRunner::same(const Session& a, const CheckKey& b) const {
    return a.target == b.target && (&spec_of(a) == &*b.spec || spec_of(a) == *b.spec);
}

bool HealthRunner::less(const Session& a, const Session& b) const {
    return a.target != b.target ? a.target < b.target : a.spec != b.spec && spec_of(a) < spec_of(b);
}

uint32_t HealthRunner::use_spec(const SharedSpec& spec) {
    auto [it, added] = spec_index_.try_emplace(&*spec, 0);
    if (added) {
        if (free_specs_.empty()) {
            it->second = static_cast<uint32_t>(specs_.size());
            specs_.push_back(SpecUse{spec, 0});
        } else {
            it->second = free_specs_.back();
            free_specs_.pop_back();
            specs_[it->second] = SpecUse{spec, 0};
        }
    }
    ++specs_[it->second].sessions;
    return it->second;
}

void HealthRunner::release_spec(uint32_t index) {
    auto& use = specs_[index];
    if (--use.sessions > 0) return;
    spec_index_.erase(&*use.spec);
    use.spec = SharedSpec();  // lets go of it
    free_specs_.push_back(index);
}

const HealthRunner::Session* HealthRunner::find(const CheckKey& check) const {
    auto it =
        std::lower_bound(by_key_.begin(), by_key_.end(), check,
                         [&](uint32_t slot, const CheckKey& k) { return less(slots_[slot], k); });
    return it != by_key_.end() && same(slots_[*it], check) ? &slots_[*it] : nullptr;
}

void HealthRunner::arm(SessionId id) {
    enqueue(id, slots_[id.slot].schedule.due());
}

void HealthRunner::enqueue(SessionId id, TimePoint at) {
    due_.push(Due{at, next_order_++, id});
    if (!wake_at_ || at < *wake_at_) arm_wake();
}

void HealthRunner::fire(SessionId id, TimePoint now) {
    auto& s = slots_[id.slot];
    stats_.lateness.add(
        std::chrono::duration_cast<std::chrono::microseconds>(now - s.schedule.due()));
    ++stats_.runs_started;
    s.in_flight = std::make_unique<Session::InFlight>(Session::InFlight{nullptr, now});
    // A copy: a run that finishes inside start_probe may reload the runner, which may move the
    // slots. The callback holds no session; a stopped session's run is cancelled (its callback
    // is then never called), and the generation check covers a slot given to another check.
    const CheckKey key = key_of(s);
    auto run = start_probe(probes_, key, [this, id](ProbeResult r) {
        if (live(id)) completed(id, std::move(r));
    });
    // A run that finished inside start_probe has dropped in_flight already.
    if (auto* again = live(id); again && again->in_flight) again->in_flight->run = std::move(run);
}

void HealthRunner::completed(SessionId id, ProbeResult r) {
    auto* s = live(id);
    const auto started = s->in_flight ? s->in_flight->started : TimePoint{};
    s->in_flight.reset();
    ++s->runs;
    ++stats_.runs_finished;
    const auto now = now_();
    // Sink callbacks may reload the runner (the session stopped, the slots moved): each is
    // followed by a fresh look-up, and the key they see is this copy.
    const CheckKey key = key_of(*s);
    if (r.inconclusive) {
        // Neither a success nor a failure: the server's state stays as it was.
        ++stats_.inconclusive;
        sink_.on_inconclusive_run(
            InconclusiveRun{key, std::move(r.reason), now, s->tracker.state()});
        if (!(s = live(id))) return;  // the sink reloaded the runner from inside the callback
        s->schedule.advance(spec_of(*s), s->tracker.state(), now, rng_);
        arm(id);
        return;
    }
    auto transition = s->tracker.record(r.up, now);
    sink_.on_run_finished(RunResult{key, r, started, now});
    if (!(s = live(id))) return;
    const bool agent_changed = s->last_agent != r.agent;
    if (agent_changed) s->last_agent = r.agent;
    if (transition || agent_changed) {
        HealthEvent ev{key, s->tracker.state(),        transition.has_value(), std::move(r.reason),
                       now, s->tracker.recovered_at(), std::move(r.agent)};
        ++stats_.events;
        sink_.on_health_event(ev);
        if (!(s = live(id))) return;
    }
    s->schedule.advance(spec_of(*s), s->tracker.state(), now, rng_);
    arm(id);
}

void HealthRunner::stop_session(Session& s) {
    s.stopped = true;  // its place in the queue is skipped when it comes up
    ++s.generation;
    if (s.in_flight && s.in_flight->run) s.in_flight->run->cancel();
    s.in_flight.reset();
    s.last_agent.reset();
    release_spec(s.spec);
}

void HealthRunner::arm_wake() {
    if (due_.empty()) {
        wake_at_.reset();
        wake_.cancel();
        return;
    }
    // Not before one granularity after the last wake-up: what falls due meanwhile
    // waits for the next one (and starts at most that late).
    const TimePoint at = std::max(due_.top().at, last_wake_ + granularity_);
    if (wake_at_ == at) return;
    wake_at_ = at;
    // Relative to the seam's clock (the same instant as expires_at(at) on the steady clock).
    wake_.expires_after(at - now_());
    wake_.async_wait(
        [this, alive = std::weak_ptr<int>(alive_), at](const boost::system::error_code& ec) {
            // A re-armed timer's superseded wait may already have completed: only the
            // wait for the current time acts.
            if (ec || alive.expired() || wake_at_ != at) return;
            on_wake();
        });
}

void HealthRunner::on_wake() {
    wake_at_.reset();
    const auto now = now_();
    last_wake_ = now;
    while (!due_.empty() && due_.top().at <= now) {
        const auto id = due_.top().id;
        due_.pop();
        if (live(id)) fire(id, now);
    }
    if (!wake_at_) arm_wake();  // a run that finished at once may have armed it already
}

PlanDiff HealthRunner::reload(const std::vector<CheckKey>& checks) {
    std::vector<CheckKey> running;
    running.reserve(by_key_.size());
    for (auto slot : by_key_) running.push_back(key_of(slots_[slot]));
    return start_and_stop(diff_checks(running, checks));
}

PlanDiff HealthRunner::reload(const CheckPlan& plan) {
    const auto key = [this](const auto& element) -> decltype(auto) {
        if constexpr (std::is_same_v<std::decay_t<decltype(element)>, uint32_t>)
            return key_of(slots_[element]);  // a CheckKey made from the session's parts
        else
            return (element.first);  // the plan's (key, users): a reference
    };
    return start_and_stop(diff_sorted(by_key_, plan.checks, key));
}

PlanDiff HealthRunner::start_and_stop(PlanDiff diff) {
    const auto by_key = [this](uint32_t a, uint32_t b) { return less(slots_[a], slots_[b]); };
    // Found first, then stopped: a stopped session lets go of its spec, and by_key_ is searched
    // by the sessions' keys.
    std::vector<uint32_t> stopping;
    stopping.reserve(diff.removed.size());
    for (const auto& k : diff.removed)
        stopping.push_back(*std::lower_bound(
            by_key_.begin(), by_key_.end(), k,
            [&](uint32_t slot, const CheckKey& key) { return less(slots_[slot], key); }));
    for (const auto slot : stopping) {
        stop_session(slots_[slot]);
        free_.push_back(slot);
    }
    std::erase_if(by_key_, [&](uint32_t slot) { return slots_[slot].stopped; });
    // Exactly as many slots as the checks need: a vector grown by doubling would hold up to
    // twice the sessions' bytes.
    if (diff.added.size() > free_.size())
        slots_.reserve(slots_.size() + diff.added.size() - free_.size());
    due_.reserve(due_.size() + diff.added.size());
    const auto now = now_();
    // The added batch is spread evenly over each check's interval, with a random
    // phase so successive reloads do not line up on the same instants.
    const auto phase = initial_offset(std::chrono::milliseconds(1000), rng_) / 1000;
    std::vector<uint32_t> added;
    added.reserve(diff.added.size());
    for (size_t i = 0; i < diff.added.size(); ++i) {
        const auto& k = diff.added[i];
        const auto due = now + phase + initial_offset(i, diff.added.size(), k.spec->interval);
        uint32_t slot;
        if (!free_.empty()) {
            slot = free_.back();
            free_.pop_back();
            slots_[slot] =
                Session(k.target, use_spec(k.spec), *k.spec, due, slots_[slot].generation);
        } else {
            slot = static_cast<uint32_t>(slots_.size());
            slots_.emplace_back(k.target, use_spec(k.spec), *k.spec, due, 0);
        }
        added.push_back(slot);
        arm(SessionId{slot, slots_[slot].generation});
    }
    // diff.added is in key order (it follows the wanted keys): one merge keeps by_key_ sorted.
    std::vector<uint32_t> merged;
    merged.reserve(by_key_.size() + added.size());
    std::merge(by_key_.begin(), by_key_.end(), added.begin(), added.end(),
               std::back_inserter(merged), by_key);
    by_key_ = std::move(merged);
    return diff;
}

void HealthRunner::stop() {
    for (auto& s : slots_)
        if (!s.stopped) stop_session(s);
    slots_.clear();
    slots_.shrink_to_fit();
    free_.clear();
    by_key_.clear();
    specs_.clear();  // every session released its spec
    free_specs_.clear();
    due_ = {};
    arm_wake();  // nothing due: cancels the timer, so an idle loop can return
}

std::optional<State> HealthRunner::state(const CheckKey& check) const {
    const auto* s = find(check);
    if (!s) return std::nullopt;
    return s->tracker.state();
}

std::optional<uint64_t> HealthRunner::runs(const CheckKey& check) const {
    const auto* s = find(check);
    if (!s) return std::nullopt;
    return s->runs;
}

}  // namespace ballast::health
