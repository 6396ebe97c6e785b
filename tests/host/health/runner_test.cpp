// The runner over a misbehaving farm: every bad server is classified down with
// its reason, while healthy checks keep running on schedule on the same loop.
#include <set>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "ballast/fakes/manual_clock.hpp"
#include "ballast/health/runner.hpp"
#include "farm.hpp"

namespace ballast::health {
namespace {

using namespace std::chrono_literals;
using testing::Farm;

CheckKey key(model::CheckType type, uint16_t port, Millis interval, Millis timeout,
             const std::string& addr = "127.0.0.1") {
    CheckKey k;
    k.target = model::Endpoint{*model::IpAddress::parse(addr), port};
    k.spec.edit().type = type;
    k.spec.edit().interval = interval;
    k.spec.edit().timeout = timeout;
    k.spec.edit().rise = 1;
    k.spec.edit().fall = 1;
    return k;
}

struct RecordingSink : HealthSink {
    void on_health_event(const HealthEvent& e) override {
        events.push_back(e);
        if (on_event) on_event(e);
    }
    void on_inconclusive_run(const InconclusiveRun& r) override { inconclusive.push_back(r); }
    std::vector<InconclusiveRun> inconclusive;
    std::vector<HealthEvent> for_key(const CheckKey& k) const {
        std::vector<HealthEvent> out;
        for (const auto& e : events) {
            if (e.check == k) out.push_back(e);
        }
        return out;
    }
    std::vector<HealthEvent> events;
    std::function<void(const HealthEvent&)> on_event;
};

void run_for(boost::asio::io_context& io, std::chrono::milliseconds d) {
    io.restart();
    io.run_for(d);
}

// Runs the loop until `done` holds; false when it still does not after `guard` (a
// guard against a hang, not a measurement: the assertions are on what happened).
bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
               std::chrono::milliseconds guard = 20s) {
    const auto give_up = std::chrono::steady_clock::now() + guard;
    while (!done()) {
        if (std::chrono::steady_clock::now() > give_up) return false;
        io.restart();
        io.run_for(10ms);
    }
    return true;
}

TEST(HealthRunner, MisbehavingFarmDownWithReasonsWhileHealthyChecksStayOnTime) {
    Farm farm;
    boost::asio::io_context io;
    RecordingSink sink;
    RunnerOptions options;
    options.seed = 7;
    HealthRunner runner(io, sink, options);

    struct Bad {
        CheckKey key;
        std::string reason;
    };
    std::vector<Bad> bad;
    auto add = [&](model::CheckType t, uint16_t port, std::string reason, Millis timeout = 500ms) {
        bad.push_back({key(t, port, 1000ms, timeout), std::move(reason)});
    };
    add(model::CheckType::http, farm.tcp("127.0.0.1", [&](int) { farm.nap(30s); }),
        "timeout after 500ms (reading response)");
    add(model::CheckType::http, farm.listen_only("127.0.0.1"),
        "timeout after 500ms (reading response)");
    add(model::CheckType::http,
        farm.tcp("127.0.0.1",
                 [](int fd) {
                     Farm::read_request(fd);
                     linger l{1, 0};
                     setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
                 }),
        "connection reset by peer");
    add(model::CheckType::http,
        farm.tcp("127.0.0.1",
                 [&](int fd) {
                     Farm::read_request(fd);
                     for (char c : std::string("HTTP/1.1 200 OK\r\n")) {
                         Farm::send_all(fd, std::string_view(&c, 1));
                         if (!farm.nap(1s)) return;
                     }
                 }),
        "timeout after 800ms (reading response)", 800ms);
    add(model::CheckType::http,
        farm.tcp("127.0.0.1",
                 [](int fd) {
                     Farm::read_request(fd);
                     Farm::send_all(fd, "HTTP/1.1 200 OK\r\n\r\n");
                     std::string chunk(64 * 1024, 'x');
                     for (int i = 0; i < 1600; ++i) {
                         if (::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL) <= 0) return;
                     }
                 }),
        "HTTP 200: HTTP body exceeds the limit of 1048576 bytes");
    add(model::CheckType::http,
        farm.tcp("127.0.0.1",
                 [](int fd) {
                     Farm::read_request(fd);
                     Farm::send_all(fd, "\x16\x03\x01garbage\r\n\r\n");
                 }),
        "not an HTTP response");
    add(model::CheckType::http,
        farm.tcp("127.0.0.1",
                 [](int fd) {
                     Farm::read_request(fd);
                     Farm::send_all(fd, "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n");
                 }),
        "HTTP 500");
    add(model::CheckType::udp, farm.dead_udp_port("127.0.0.1"), "ICMP port unreachable");
    add(model::CheckType::agent,
        farm.tcp("127.0.0.1",
                 [&](int fd) {
                     std::string a(4096, 'a');
                     while (!farm.stopping() && ::send(fd, a.data(), a.size(), MSG_NOSIGNAL) > 0) {
                     }
                 }),
        "agent: reply line longer than 1024 bytes");
    add(model::CheckType::tcp, farm.dead_udp_port("127.0.0.1"), "connect refused");

    // Healthy checks every 200 ms, spread over other loopback addresses.
    std::vector<std::pair<CheckKey, uint16_t>> good;
    for (int i = 0; i < 20; ++i) {
        const std::string addr = "127.0.1." + std::to_string(i + 1);
        auto port = farm.tcp_accept_close(addr);
        good.emplace_back(key(model::CheckType::tcp, port, 200ms, 500ms, addr), port);
    }

    std::vector<CheckKey> all;
    for (const auto& b : bad) all.push_back(b.key);
    for (const auto& g : good) all.push_back(g.first);
    auto diff = runner.reload(all);
    EXPECT_EQ(diff.added.size(), all.size());
    EXPECT_EQ(runner.size(), all.size());

    // Until every bad server is down and every healthy check has run a dozen times
    // meanwhile (a loop blocked by any of the bad servers would manage a handful).
    ASSERT_TRUE(run_until(io, [&] {
        for (const auto& b : bad) {
            if (runner.state(b.key) != State::down) return false;
        }
        for (const auto& g : good) {
            if (runner.runs(g.first).value_or(0) < 12) return false;
        }
        return true;
    }));

    for (const auto& b : bad) {
        EXPECT_EQ(runner.state(b.key), State::down) << b.key.to_string();
        auto evs = sink.for_key(b.key);
        ASSERT_FALSE(evs.empty()) << b.key.to_string();
        EXPECT_EQ(evs.front().state, State::down);
        EXPECT_TRUE(evs.front().transition);
        EXPECT_EQ(evs.front().reason, b.reason) << b.key.to_string();
    }
    // The loop kept serving the healthy checks despite the farm (how late they
    // started is measured by health_farm_bench, not asserted here).
    for (const auto& [k, port] : good) {
        EXPECT_EQ(runner.state(k), State::up);
        EXPECT_GE(farm.accepted(port), 12u) << k.to_string();
    }
    runner.stop();
    run_for(io, 100ms);
}

// Out of descriptors, the checker cannot open a socket or a pipe: that is the
// director's fault and says nothing about the servers, which stay as they were.
TEST(HealthRunner, CheckerOutOfDescriptorsLeavesServersAsTheyWere) {
    Farm farm;
    boost::asio::io_context io;
    RecordingSink sink;
    HealthRunner runner(io, sink);
    auto tcp = key(model::CheckType::tcp, farm.listen_only("127.0.0.1"), 50ms, 500ms);
    auto exec = key(model::CheckType::exec, 0, 50ms, 500ms);
    exec.spec.edit().command = {"/bin/true"};
    runner.reload({tcp, exec});
    ASSERT_TRUE(run_until(
        io, [&] { return runner.state(tcp) == State::up && runner.state(exec) == State::up; }));
    const auto events_before = sink.events.size();
    static_cast<HealthSink&>(sink).on_inconclusive_run({});  // see NoFreeDescriptors
    sink.inconclusive.clear();
    {
        testing::NoFreeDescriptors starved;
        ASSERT_TRUE(run_until(io, [&] { return runner.stats().inconclusive >= 6; }));
    }
    EXPECT_EQ(runner.state(tcp), State::up) << sink.for_key(tcp).back().reason;
    EXPECT_EQ(runner.state(exec), State::up) << sink.for_key(exec).back().reason;
    EXPECT_EQ(sink.events.size(), events_before) << sink.events.back().reason;
    // Counted and reported as the checker's own trouble.
    ASSERT_EQ(sink.inconclusive.size(), runner.stats().inconclusive);
    std::set<std::string> reasons;
    for (const auto& r : sink.inconclusive) {
        EXPECT_EQ(r.state, State::up);
        reasons.insert(r.reason);
    }
    // exec's pipe needs two descriptors and always fails; the TCP check needs one, which a
    // closing connection sometimes frees again, so it may or may not meet the starvation.
    EXPECT_TRUE(reasons.count("checker: exec: pipe: Too many open files"));
    reasons.erase("checker: connecting: Too many open files");
    reasons.erase("checker: exec: pipe: Too many open files");
    EXPECT_TRUE(reasons.empty()) << *reasons.begin();
    // Descriptors back: the checks go on where they stood, without an event.
    const auto runs = runner.stats().runs_finished;
    ASSERT_TRUE(run_until(io, [&] { return runner.stats().runs_finished >= runs + 4; }));
    EXPECT_EQ(runner.state(tcp), State::up);
    EXPECT_EQ(runner.state(exec), State::up);
    EXPECT_EQ(sink.events.size(), events_before);
}

// Every time the runner uses comes from its one seam (RunnerOptions::now): with
// a manual clock, events carry the clock's instants and lateness is measured
// against it.
TEST(HealthRunner, TimeComesFromTheInjectedClock) {
    Farm farm;
    boost::asio::io_context io;
    RecordingSink sink;
    fakes::ManualClock clock(TimePoint{} + 1000h);
    RunnerOptions options;
    options.seed = 5;
    options.now = clock.as_function();
    HealthRunner runner(io, sink, options);
    const auto port = farm.listen_only("127.0.0.1");
    auto k = key(model::CheckType::tcp, port, 50ms, 500ms);
    runner.reload({k});   // first run due within one interval of 1000 h
    clock.advance(40ms);  // the loop wakes to find the clock 40 ms on: the run is that late
    const auto fired_at = clock.now();
    ASSERT_TRUE(run_until(io, [&] { return !sink.events.empty(); }));
    EXPECT_EQ(sink.events[0].at, fired_at);
    EXPECT_EQ(sink.events[0].state, State::up);
    // 40 ms less the first run's phase (under 1 ms), in 50 us buckets.
    EXPECT_GE(runner.stats().lateness.percentile(50), 39ms);
    EXPECT_LE(runner.stats().lateness.percentile(50), 40ms);
    // The next run is due one interval after the clock's now: the clock moves, it runs.
    const auto runs = runner.runs(k).value_or(0);
    clock.advance(50ms);
    ASSERT_TRUE(run_until(io, [&] { return runner.runs(k).value_or(0) > runs; }));
    runner.stop();
}

TEST(HealthRunner, ReloadKeepsUnchangedTrackersAndCancelsRemoved) {
    Farm farm;
    boost::asio::io_context io;
    RecordingSink sink;
    HealthRunner runner(io, sink);

    auto up_port = farm.tcp("127.0.0.1", [](int) {});
    auto hang_port = farm.tcp("127.0.0.1", [&](int) { farm.nap(30s); });
    auto kept = key(model::CheckType::tcp, up_port, 100ms, 500ms);
    kept.spec.edit().rise = 3;
    kept.spec.edit().fall = 3;
    auto removed = key(model::CheckType::http, hang_port, 100ms, 5000ms);
    runner.reload({kept, removed});
    ASSERT_TRUE(run_until(io, [&] { return runner.state(kept) == State::up; }));
    ASSERT_EQ(runner.state(removed), State::unknown);  // its first run is still hanging
    const auto events_before = sink.events.size();

    auto added =
        key(model::CheckType::agent,
            farm.tcp("127.0.0.1", [](int fd) { Farm::send_all(fd, "up 50%\n"); }), 100ms, 500ms);
    auto diff = runner.reload({kept, added});
    ASSERT_EQ(diff.kept.size(), 1u);
    ASSERT_EQ(diff.removed.size(), 1u);
    ASSERT_EQ(diff.added.size(), 1u);
    EXPECT_EQ(runner.state(kept), State::up);  // kept its state across the reload
    EXPECT_FALSE(runner.state(removed));
    const auto kept_runs = runner.runs(kept).value_or(0);
    ASSERT_TRUE(run_until(io, [&] {
        return !sink.for_key(added).empty() && runner.runs(kept).value_or(0) >= kept_runs + 3;
    }));

    EXPECT_TRUE(sink.for_key(removed).empty());  // the cancelled run never reported
    for (size_t i = events_before; i < sink.events.size(); ++i) {
        EXPECT_FALSE(sink.events[i].check == kept) << "kept check re-announced after reload";
    }
    auto agent = sink.for_key(added);
    ASSERT_EQ(agent.size(), 1u);
    EXPECT_EQ(agent[0].state, State::up);
    ASSERT_TRUE(agent[0].agent);
    EXPECT_EQ(agent[0].agent->percent, 50u);
}

// Sessions keep their spec as a place in the runner's table of specs, shared by the sessions
// whose keys share it and let go by the last: keys are found by value whichever copy of a spec
// they hold, on one target with several specs, across reloads that free places and reuse them.
// Nothing runs (the loop is never run): only the runner's own bookkeeping.
TEST(HealthRunner, SessionsFindTheirKeysThroughSharedSpecsAcrossReloads) {
    boost::asio::io_context io;
    RecordingSink sink;
    HealthRunner runner(io, sink);
    const auto a = key(model::CheckType::tcp, 9001, 100ms, 50ms);
    auto a_other_port = a;  // the same spec object
    a_other_port.target.port = 9002;
    auto b = key(model::CheckType::tcp, 9001, 200ms, 50ms);  // a's target, another spec
    auto c = key(model::CheckType::tcp, 9003, 100ms, 50ms);  // a's spec by value, its own copy
    ASSERT_FALSE(c.spec.shares(a.spec));
    auto diff = runner.reload({a, a_other_port, b, c});
    EXPECT_EQ(diff.added.size(), 4u);
    EXPECT_EQ(runner.size(), 4u);
    for (const auto& k : {a, a_other_port, b, c}) EXPECT_EQ(runner.state(k), State::unknown);
    auto absent = b;
    absent.spec.edit().interval = 300ms;
    EXPECT_FALSE(runner.state(absent));

    // a and a_other_port go (their spec's place is freed), b and c stay; a new key takes a freed
    // place.
    const auto d = key(model::CheckType::http, 9001, 100ms, 50ms);
    diff = runner.reload({b, c, d});
    EXPECT_EQ(diff.kept, (std::vector<CheckKey>{b, c}));
    EXPECT_EQ(diff.removed, (std::vector<CheckKey>{a, a_other_port}));
    EXPECT_EQ(diff.added, (std::vector<CheckKey>{d}));
    EXPECT_FALSE(runner.state(a_other_port));
    EXPECT_EQ(runner.state(c), State::unknown);
    EXPECT_FALSE(runner.state(a));
    auto c_with_as_spec = a;  // c's spec is a's by value: c is found by it
    c_with_as_spec.target.port = 9003;
    EXPECT_EQ(runner.state(c_with_as_spec), State::unknown);
    EXPECT_EQ(runner.state(d), State::unknown);
    EXPECT_EQ(runner.runs(d), 0u);
    diff = runner.reload(std::vector<CheckKey>{});
    EXPECT_EQ(diff.removed.size(), 3u);
    EXPECT_EQ(runner.size(), 0u);
    runner.reload({a_other_port});
    EXPECT_EQ(runner.state(a_other_port), State::unknown);
    EXPECT_FALSE(runner.state(b));
    runner.stop();
}

TEST(HealthRunner, AgentChangeWithoutTransitionIsReported) {
    Farm farm;
    boost::asio::io_context io;
    RecordingSink sink;
    HealthRunner runner(io, sink);
    // Shared with the farm's threads, which may outlive this test body's locals.
    auto n = std::make_shared<std::atomic<int>>(0);
    auto port = farm.tcp(
        "127.0.0.1", [n](int fd) { Farm::send_all(fd, (*n)++ < 2 ? "up 100%\n" : "up 30%\n"); });
    auto k = key(model::CheckType::agent, port, 100ms, 500ms);
    runner.reload({k});
    ASSERT_TRUE(run_until(io, [&] { return runner.runs(k).value_or(0) >= 5; }));
    auto evs = sink.for_key(k);
    ASSERT_EQ(evs.size(), 2u);
    EXPECT_TRUE(evs[0].transition);
    EXPECT_EQ(evs[0].agent->percent, 100u);
    EXPECT_FALSE(evs[1].transition);
    EXPECT_EQ(evs[1].state, State::up);
    EXPECT_EQ(evs[1].agent->percent, 30u);
}

TEST(HealthRunner, DestroyedRunnerAndSinkReloadLeaveNoDanglingHandlers) {
    Farm farm;
    boost::asio::io_context io;
    auto hang = farm.tcp("127.0.0.1", [&](int) { farm.nap(30s); });
    auto refused = farm.dead_udp_port("127.0.0.1");
    {
        RecordingSink sink;
        HealthRunner runner(io, sink);
        std::vector<CheckKey> keys;
        for (int i = 0; i < 50; ++i) {
            auto k = key(model::CheckType::http, hang, 50ms, 5000ms);
            k.spec.edit().path = "/" + std::to_string(i);
            keys.push_back(k);
        }
        auto r = key(model::CheckType::tcp, refused, 50ms, 500ms);
        keys.push_back(r);
        // The sink stops the whole runner from inside a callback.
        sink.on_event = [&](const HealthEvent&) { runner.stop(); };
        runner.reload(keys);
        ASSERT_TRUE(run_until(io, [&] { return !sink.events.empty(); }));
        EXPECT_EQ(sink.events.size(), 1u);
        EXPECT_EQ(runner.size(), 0u);
        runner.reload(keys);  // and again, then destroy it mid-flight
        run_for(io, 100ms);
    }
    // Pending handlers of the destroyed runner run now (and run() returns: nothing of
    // it is left waiting); ASan would catch any use of freed state.
    io.restart();
    io.run();
    SUCCEED();
}

// The loop wakes at most once per wake_granularity: a check due more often
// than that runs at most once per wake-up (its missed slots are skipped), while
// with no granularity it keeps its own interval.
TEST(HealthRunner, WakeGranularityBoundsWakeUps) {
    Farm farm;
    const auto port = farm.listen_only("127.0.0.1");
    auto runs_in_one_second = [&](std::chrono::microseconds granularity) {
        boost::asio::io_context io;
        RecordingSink sink;
        RunnerOptions options;
        options.seed = 3;
        options.wake_granularity = granularity;
        HealthRunner runner(io, sink, options);
        const auto k = key(model::CheckType::tcp, port, 50ms, 1000ms);
        runner.reload({k});
        run_for(io, 1050ms);
        const auto n = runner.runs(k).value_or(0);
        runner.stop();
        return n;
    };
    // Wake-ups at least 400 ms apart fit three times into 1.05 s (the first
    // comes within the first interval): three runs at most, not twenty.
    const auto coarse = runs_in_one_second(400ms);
    EXPECT_GE(coarse, 1u);
    EXPECT_LE(coarse, 3u);
    // On time: every 50 ms, about 20 (a loaded sanitizer build makes fewer, never more than
    // 21; twice the coarse bound still tells the two apart).
    const auto fine = runs_in_one_second(0us);
    EXPECT_GE(fine, 6u);
    EXPECT_LE(fine, 21u);
}

}  // namespace
}  // namespace ballast::health
