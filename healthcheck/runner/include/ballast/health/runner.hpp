#pragma once
// Runs every distinct (target, check) on one io_context: a session per check
// owns its tracker and schedule, starts one probe run at a time, and reports
// changes to a HealthSink; one timer serves all sessions. It never writes to the
// kernel; the director's policy consumes the events.
//
// Sessions sit in one vector, each in a slot named by its index: the due queue and the
// probes' callbacks name a session by (slot, generation), so a session costs its own bytes
// and a queue entry, not a heap block, a control block and a set node (50,000 checks at
// 5,000 x 10).
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "ballast/health/check_plan.hpp"
#include "ballast/health/probe.hpp"
#include "ballast/health/schedule.hpp"
#include "ballast/health/tracker.hpp"

namespace ballast::health {

struct HealthEvent {
    CheckKey check;
    State state = State::unknown;  // tracker state after this result
    bool transition = false;       // state changed; false: only the agent reply/weight changed
    std::string reason;            // the probe's words for this result
    TimePoint at{};
    std::optional<TimePoint> recovered_at;  // start of a slow-start ramp, if any
    std::optional<AgentReply> agent;        // agent reply / exec weight of this result
};

// A run that told nothing about the server because the checker itself failed
// (ProbeResult::inconclusive: out of descriptors, memory, buffers, local ports;
// a fork refused). The director's problem, not the server's.
struct InconclusiveRun {
    CheckKey check;
    std::string reason;  // "checker: connecting: Too many open files"
    TimePoint at{};
    State state = State::unknown;  // the check's state, left as it was
};

// One completed run, whatever it changed: what status pages show as a check's last result
// and what the check-duration metrics count.
struct RunResult {
    const CheckKey& check;
    const ProbeResult& result;
    TimePoint started;
    TimePoint finished;
};

class HealthSink {
public:
    virtual ~HealthSink() = default;
    // The check's state changed, or its agent reply / exec weight did.
    virtual void on_health_event(const HealthEvent& event) = 0;
    // Every inconclusive run (there is no HealthEvent for it: the tracker, its
    // counts of successes and failures in a row and the agent reply are left as
    // they were, so rise/fall resume where they stood). Meant to be logged as
    // the director's own fault, rate-limited, and counted. Default: ignored.
    virtual void on_inconclusive_run(const InconclusiveRun& /*run*/) {}
    // Every completed run that said something about the server (not inconclusive ones),
    // before the HealthEvent it may cause. Default: ignored.
    virtual void on_run_finished(const RunResult& /*run*/) {}
};

// How late timers fired (actual start - due), in 50 us buckets up to 100 ms.
struct LatenessHistogram {
    static constexpr int64_t kBucketMicros = 50;
    static constexpr size_t kBuckets = 2000;
    std::array<uint64_t, kBuckets + 1> counts{};  // last bucket: >= 100 ms
    uint64_t total = 0;
    void add(std::chrono::microseconds late);
    std::chrono::microseconds percentile(double p) const;  // upper edge of the bucket
};

struct RunnerStats {
    uint64_t runs_started = 0;
    uint64_t runs_finished = 0;  // inconclusive runs included
    uint64_t inconclusive = 0;   // runs that failed on the checker's side
    uint64_t events = 0;
    LatenessHistogram lateness;
};

struct RunnerOptions {
    uint64_t seed = 1;  // schedule jitter, reload offsets, DNS ids
    ProbeLimits limits;
    // The loop wakes at most once per granularity to start the checks that are due:
    // a check starts at most this late, and every wake-up's fixed cost (Asio's
    // timerfd re-armed twice, its epoll_wait, the connect set's epoll_wait: about
    // three system calls) is shared by the checks it starts. 4 ms: a thousand
    // checks a second cost 250 wake-ups, not a thousand. Zero: wake for every
    // check on time.
    std::chrono::microseconds wake_granularity{4000};
    // The runner's one time seam: every "now" it uses (due times, results, events,
    // lateness) and the wake-up timer's waits (at - now()) come from it. Empty:
    // SteadyClock::now. Tests pass a manual clock (tests/fakes/health).
    std::function<TimePoint()> now;
};

class HealthRunner {
public:
    HealthRunner(boost::asio::io_context& io, HealthSink& sink, RunnerOptions options = {});
    ~HealthRunner();  // cancels every session; pending handlers then touch nothing
    HealthRunner(const HealthRunner&) = delete;
    HealthRunner& operator=(const HealthRunner&) = delete;

    // Makes `checks` the running set. Checks present before keep their tracker
    // and schedule; new ones start spread over their interval; removed ones are
    // cancelled (an in-flight run's callback is never called).
    PlanDiff reload(const std::vector<CheckKey>& checks);
    PlanDiff reload(const CheckPlan& plan);  // the same without copying the plan's keys
    void stop();                             // same as reload({})

    size_t size() const { return by_key_.size(); }
    std::optional<State> state(const CheckKey& check) const;
    // Runs of this check completed so far (for tests and status pages).
    std::optional<uint64_t> runs(const CheckKey& check) const;
    const RunnerStats& stats() const { return stats_; }
    void reset_stats() { stats_ = RunnerStats{}; }
    ProbeContext& probes() { return probes_; }

private:
    struct Session;  // one (target, check); defined in runner.cpp
    // A session's slot and the generation it was started in: a slot freed by a reload and
    // given to another check gets a new generation, so what named the old one finds nothing.
    struct SessionId {
        uint32_t slot;
        uint32_t generation;
    };
    PlanDiff start_and_stop(PlanDiff diff);  // stops what diff removed, starts what it added
    Session* live(SessionId id);             // nullptr once the session is stopped
    const Session* find(const CheckKey& check) const;
    CheckKey key_of(const Session& s) const;
    const model::CheckSpec& spec_of(const Session& s) const;
    bool less(const Session& a, const CheckKey& b) const;  // CheckKey's order
    bool less(const Session& a, const Session& b) const;
    bool same(const Session& a, const CheckKey& b) const;
    // A session's spec is held once in specs_, by every session that uses it (the plan's keys
    // share one spec per distinct spec): its index there, counted; released by the last.
    uint32_t use_spec(const SharedSpec& spec);
    void release_spec(uint32_t index);
    void arm(SessionId id);
    void fire(SessionId id, TimePoint now);
    void completed(SessionId id, ProbeResult r);
    void stop_session(Session& s);
    // One timer for every session: sessions wait in a queue ordered by due time.
    struct Due {
        TimePoint at;
        uint64_t order;  // FIFO among equal times
        SessionId id;
        bool operator>(const Due& o) const { return at != o.at ? at > o.at : order > o.order; }
    };
    void enqueue(SessionId id, TimePoint at);
    void arm_wake();
    void on_wake();

    HealthSink& sink_;
    std::function<TimePoint()> now_;
    ProbeContext probes_;
    Rng rng_;
    RunnerStats stats_;
    std::vector<Session> slots_;    // live and free; sized to what the plans asked for
    std::vector<uint32_t> free_;    // slots of stopped sessions, for the next ones
    std::vector<uint32_t> by_key_;  // live slots, ordered by their session's key
    struct SpecUse {
        SharedSpec spec;
        uint32_t sessions = 0;
    };
    std::vector<SpecUse> specs_;
    std::vector<uint32_t> free_specs_;                        // places of released specs
    std::map<const model::CheckSpec*, uint32_t> spec_index_;  // a spec's place in specs_
    std::chrono::microseconds granularity_;
    // Reserved for the sessions a reload adds: 50,000 checks grown by doubling held 65,536.
    struct DueQueue : std::priority_queue<Due, std::vector<Due>, std::greater<>> {
        void reserve(size_t n) { c.reserve(n); }
    };
    DueQueue due_;
    uint64_t next_order_ = 0;
    boost::asio::steady_timer wake_;
    std::optional<TimePoint> wake_at_;  // when wake_ is set to fire, if it is
    TimePoint last_wake_{};
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // handlers check it first
};

}  // namespace ballast::health
