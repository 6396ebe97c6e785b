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

// Handlers hold the session (shared_ptr) and check stopped_ before touching the
// runner: HealthRunner stops every session before it goes away.
class HealthRunner::Session : public std::enable_shared_from_this<Session> {
public:
    Session(HealthRunner& runner, CheckKey key, TimePoint first_due)
        : runner_(&runner),
          key_(std::move(key)),
          tracker_(key_.spec->rise, key_.spec->fall, key_.spec->start_down),
          schedule_(*key_.spec, first_due) {}

    void arm() { runner_->enqueue(shared_from_this(), schedule_.due()); }

    void stop() {
        stopped_ = true;  // its place in the runner's queue is skipped when it comes up
        if (in_flight_ && in_flight_->run) in_flight_->run->cancel();
        in_flight_.reset();
        runner_ = nullptr;
    }

    bool stopped() const { return stopped_; }
    const CheckKey& key() const { return key_; }
    const HealthTracker& tracker() const { return tracker_; }
    uint64_t runs() const { return runs_; }

    void fire(TimePoint now) {
        runner_->stats_.lateness.add(
            std::chrono::duration_cast<std::chrono::microseconds>(now - schedule_.due()));
        ++runner_->stats_.runs_started;
        in_flight_ = std::make_unique<InFlight>(InFlight{nullptr, now});
        auto run = start_probe(runner_->probes_, key_, [self = shared_from_this()](ProbeResult r) {
            if (!self->stopped_) self->completed(std::move(r));
        });
        // A run that finished inside start_probe has dropped in_flight_ already.
        if (in_flight_) in_flight_->run = std::move(run);
    }

private:
    void completed(ProbeResult r) {
        const auto started = in_flight_ ? in_flight_->started : TimePoint{};
        in_flight_.reset();
        ++runs_;
        auto& runner = *runner_;
        ++runner.stats_.runs_finished;
        const auto now = runner.now_();
        if (r.inconclusive) {
            // Neither a success nor a failure: the server's state stays as it was.
            ++runner.stats_.inconclusive;
            runner.sink_.on_inconclusive_run(
                InconclusiveRun{key_, std::move(r.reason), now, tracker_.state()});
            if (stopped_) return;  // the sink reloaded the runner from inside the callback
            schedule_.advance(tracker_.state(), now, runner.rng_);
            arm();
            return;
        }
        auto transition = tracker_.record(r.up, r.reason, now);
        runner.sink_.on_run_finished(RunResult{key_, r, started, now});
        if (stopped_) return;  // the sink reloaded the runner from inside the callback
        const bool agent_changed = last_agent_ != r.agent;
        if (agent_changed) last_agent_ = r.agent;
        if (transition || agent_changed) {
            HealthEvent ev{
                key_, tracker_.state(),        transition.has_value(), std::move(r.reason),
                now,  tracker_.recovered_at(), std::move(r.agent)};
            ++runner.stats_.events;
            runner.sink_.on_health_event(ev);
            if (stopped_) return;  // the sink reloaded the runner from inside the callback
        }
        schedule_.advance(tracker_.state(), now, runner.rng_);
        arm();
    }

    HealthRunner* runner_;
    CheckKey key_;
    HealthTracker tracker_;
    CheckSchedule schedule_;
    model::Boxed<AgentReply> last_agent_;  // boxed: most checks are not agent checks
    // The probe in flight and when it started, only while there is one: 8 bytes for an idle
    // check (50,000 sessions at 5,000 x 10).
    struct InFlight {
        std::shared_ptr<ProbeRun> run;
        TimePoint started;
    };
    std::unique_ptr<InFlight> in_flight_;
    uint64_t runs_ = 0;
    bool stopped_ = false;
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

void HealthRunner::enqueue(std::shared_ptr<Session> session, TimePoint at) {
    due_.push(Due{at, next_order_++, std::move(session)});
    if (!wake_at_ || at < *wake_at_) arm_wake();
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
        auto session = due_.top().session;
        due_.pop();
        if (!session->stopped()) session->fire(now);
    }
    if (!wake_at_) arm_wake();  // a run that finished at once may have armed it already
}

PlanDiff HealthRunner::reload(const std::vector<CheckKey>& checks) {
    std::vector<CheckKey> running;
    running.reserve(sessions_.size());
    for (const auto& s : sessions_) running.push_back(s->key());
    return start_and_stop(diff_checks(running, checks));
}

PlanDiff HealthRunner::reload(const CheckPlan& plan) {
    const auto key = [](const auto& element) -> const CheckKey& {
        if constexpr (std::is_same_v<std::decay_t<decltype(element)>, std::shared_ptr<Session>>)
            return element->key();
        else
            return element.first;  // the plan's (key, users)
    };
    return start_and_stop(diff_sorted(sessions_, plan.checks, key));
}

PlanDiff HealthRunner::start_and_stop(PlanDiff diff) {
    for (const auto& k : diff.removed) {
        auto it = sessions_.find(k);
        (*it)->stop();
        sessions_.erase(it);
    }
    const auto now = now_();
    // The added batch is spread evenly over each check's interval, with a random
    // phase so successive reloads do not line up on the same instants.
    const auto phase = initial_offset(std::chrono::milliseconds(1000), rng_) / 1000;
    for (size_t i = 0; i < diff.added.size(); ++i) {
        const auto& k = diff.added[i];
        const auto due = now + phase + initial_offset(i, diff.added.size(), k.spec->interval);
        auto s = std::make_shared<Session>(*this, k, due);
        sessions_.insert(s);
        s->arm();
    }
    return diff;
}

void HealthRunner::stop() {
    for (const auto& s : sessions_) s->stop();
    sessions_.clear();
    due_ = {};
    arm_wake();  // nothing due: cancels the timer, so an idle loop can return
}

std::optional<State> HealthRunner::state(const CheckKey& check) const {
    auto it = sessions_.find(check);
    if (it == sessions_.end()) return std::nullopt;
    return (*it)->tracker().state();
}

std::optional<uint64_t> HealthRunner::runs(const CheckKey& check) const {
    auto it = sessions_.find(check);
    if (it == sessions_.end()) return std::nullopt;
    return (*it)->runs();
}

std::optional<std::string> HealthRunner::reason(const CheckKey& check) const {
    auto it = sessions_.find(check);
    if (it == sessions_.end()) return std::nullopt;
    return (*it)->tracker().reason();
}

}  // namespace ballast::health
