#include "ballast/health/schedule.hpp"

#include <gtest/gtest.h>

#include <set>

#include "ballast/fakes/manual_clock.hpp"

namespace ballast::health {
namespace {

using fakes::ManualClock;

using namespace std::chrono_literals;

model::CheckSpec spec(Millis interval, Millis down_interval = 0ms, Millis jitter = 0ms) {
    model::CheckSpec s;
    s.interval = interval;
    s.down_interval = down_interval;
    s.jitter = jitter;
    return s;
}

TEST(Schedule, InitialSpreadPutsTenThousandChecksInDistinctSlots) {
    std::set<int64_t> micros;
    std::set<int64_t> millis_used;
    for (size_t i = 0; i < 10000; ++i) {
        auto off = initial_offset(i, 10000, 1000ms);
        EXPECT_GE(off, 0ms);
        EXPECT_LT(off, 1000ms);
        micros.insert(std::chrono::duration_cast<std::chrono::microseconds>(off).count());
        millis_used.insert(std::chrono::duration_cast<std::chrono::milliseconds>(off).count());
    }
    EXPECT_EQ(micros.size(), 10000u);      // nobody shares a start time
    EXPECT_EQ(millis_used.size(), 1000u);  // every millisecond gets its share (10 each)
}

TEST(Schedule, RandomInitialOffsetStaysInsideOneInterval) {
    Rng rng(42);
    std::set<int64_t> seen;
    for (int i = 0; i < 1000; ++i) {
        auto off = initial_offset(500ms, rng);
        EXPECT_GE(off, 0ms);
        EXPECT_LT(off, 500ms);
        seen.insert(off.count());
    }
    EXPECT_GT(seen.size(), 900u);
    Rng a(7), b(7);
    EXPECT_EQ(initial_offset(1000ms, a), initial_offset(1000ms, b));  // seeded, reproducible
}

TEST(Schedule, FixedRateDoesNotDriftWithCheckDuration) {
    ManualClock clock;
    Rng rng(1);
    const auto sp = spec(1000ms);
    CheckSchedule s(clock.now());
    const auto start = clock.now();
    for (int i = 1; i <= 5; ++i) {
        clock.set(s.due() + 300ms);  // every check takes 300 ms
        auto next = s.advance(sp, State::up, clock.now(), rng);
        EXPECT_EQ(next, start + i * 1000ms);
    }
}

TEST(Schedule, DownIntervalAppliesWhileDown) {
    ManualClock clock;
    Rng rng(1);
    const auto sp = spec(2000ms, 500ms);
    CheckSchedule s(clock.now());
    const auto t0 = clock.now();
    auto next = s.advance(sp, State::down, t0 + 10ms, rng);
    EXPECT_EQ(next, t0 + 500ms);
    next = s.advance(sp, State::up, next + 10ms, rng);
    EXPECT_EQ(next, t0 + 2500ms);
}

TEST(Schedule, OverlongRunRestartsAtOnceAndReanchorsInsteadOfBursting) {
    ManualClock clock;
    Rng rng(1);
    const auto sp = spec(1000ms);
    CheckSchedule s(clock.now());
    const auto t0 = clock.now();
    auto next = s.advance(sp, State::up, t0 + 3500ms, rng);  // took 3.5 intervals
    EXPECT_EQ(next, t0 + 3500ms);                            // once, now -- not 3 catch-up runs
    next = s.advance(sp, State::up, t0 + 3600ms, rng);
    EXPECT_EQ(next, t0 + 4500ms);  // the rate continues from the new anchor
}

TEST(Schedule, TimeoutEqualToIntervalKeepsOneRunPerInterval) {
    // A silent target: every run ends by its 1 s timeout a little after the next slot.
    ManualClock clock;
    Rng rng(1);
    const auto sp = spec(1000ms);
    CheckSchedule s(clock.now());
    const auto t0 = clock.now();
    for (int i = 0; i < 3; ++i) clock.set(s.advance(sp, State::down, s.due() + 1001ms, rng));
    EXPECT_EQ(clock.now(), t0 + 3003ms);  // three failures in ~3 s: fall=3 detects within 4 s
}

TEST(Schedule, JitterStaysWithinBoundsAndDoesNotAccumulate) {
    ManualClock clock;
    Rng rng(99);
    const auto sp = spec(1000ms, 0ms, 100ms);
    CheckSchedule s(clock.now());
    const auto t0 = clock.now();
    std::set<int64_t> offsets;
    for (int i = 1; i <= 200; ++i) {
        auto next = s.advance(sp, State::up, s.due(), rng);
        const auto anchor = t0 + i * 1000ms;
        EXPECT_EQ(s.anchor(), anchor);
        EXPECT_GE(next, anchor - 100ms);
        EXPECT_LE(next, anchor + 100ms);
        offsets.insert((next - anchor).count());
    }
    EXPECT_GT(offsets.size(), 150u);  // actually jittered
}

}  // namespace
}  // namespace ballast::health
