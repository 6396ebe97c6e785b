#include "ballast/health/tracker.hpp"

#include <gtest/gtest.h>

#include "ballast/fakes/manual_clock.hpp"
#include "ballast/health/schedule.hpp"

namespace ballast::health {
namespace {

using fakes::ManualClock;

using namespace std::chrono_literals;

TEST(HealthTracker, FirstResultDecidesAtOnce) {
    ManualClock clock;
    HealthTracker up(3, 3, false);
    EXPECT_EQ(up.state(), State::unknown);
    auto t = up.record(true, clock.now());
    ASSERT_TRUE(t);
    EXPECT_EQ(t->from, State::unknown);
    EXPECT_EQ(t->to, State::up);
    EXPECT_FALSE(up.recovered_at());  // nothing to recover from

    HealthTracker down(3, 3, false);
    t = down.record(false, clock.now());
    ASSERT_TRUE(t);
    EXPECT_EQ(t->to, State::down);
    EXPECT_EQ(down.state(), State::down);
}

TEST(HealthTracker, FallFailuresInARowTakeItDown) {
    ManualClock clock;
    HealthTracker tr(2, 3, false);
    tr.record(true, clock.now());
    clock.advance(1s);
    EXPECT_FALSE(tr.record(false, clock.now()));
    EXPECT_FALSE(tr.record(false, clock.now()));
    EXPECT_FALSE(tr.record(true, clock.now()));  // resets the failure run
    EXPECT_FALSE(tr.record(false, clock.now()));
    EXPECT_FALSE(tr.record(false, clock.now()));
    clock.advance(1s);
    auto t = tr.record(false, clock.now());
    ASSERT_TRUE(t);
    EXPECT_EQ(t->to, State::down);
    EXPECT_EQ(t->from, State::up);
    EXPECT_EQ(t->at, clock.now());
    EXPECT_EQ(tr.since(), clock.now());
    EXPECT_EQ(tr.state(), State::down);
}

// One count of results in a row, of whichever kind came last; a tracker is 32 bytes (one per
// check: 50,000 at 5,000 x 10).
TEST(HealthTracker, CountsTheResultsInARowOfTheLastKind) {
    ManualClock clock;
    HealthTracker tr(1000, 1000, false);
    EXPECT_EQ(tr.successes_in_a_row(), 0u);
    EXPECT_EQ(tr.failures_in_a_row(), 0u);
    tr.record(false, clock.now());
    tr.record(false, clock.now());
    EXPECT_EQ(tr.failures_in_a_row(), 2u);
    EXPECT_EQ(tr.successes_in_a_row(), 0u);
    for (int i = 0; i < 999; ++i) EXPECT_FALSE(tr.record(true, clock.now()));
    EXPECT_EQ(tr.successes_in_a_row(), 999u);
    EXPECT_EQ(tr.failures_in_a_row(), 0u);
    EXPECT_TRUE(tr.record(true, clock.now()));  // the 1000th: rise
    EXPECT_EQ(tr.state(), State::up);
    tr.record(false, clock.now());
    EXPECT_EQ(tr.failures_in_a_row(), 1u);
    EXPECT_EQ(tr.successes_in_a_row(), 0u);
    EXPECT_LE(sizeof(HealthTracker), 32u);
}

TEST(HealthTracker, RiseSuccessesBringItBackAndStartTheRamp) {
    ManualClock clock;
    HealthTracker tr(2, 1, false);
    tr.record(false, clock.now());
    clock.advance(1s);
    EXPECT_FALSE(tr.record(true, clock.now()));
    EXPECT_EQ(tr.state(), State::down);
    clock.advance(1s);
    auto t = tr.record(true, clock.now());
    ASSERT_TRUE(t);
    EXPECT_EQ(t->from, State::down);
    EXPECT_EQ(t->to, State::up);
    ASSERT_TRUE(tr.recovered_at());
    EXPECT_EQ(*tr.recovered_at(), clock.now());
    EXPECT_FALSE(tr.record(true, clock.now()));  // no repeated transitions
}

TEST(HealthTracker, StartDownHoldsTrafficUntilFirstSuccess) {
    ManualClock clock;
    HealthTracker tr(3, 3, true);
    EXPECT_EQ(tr.state(), State::down);
    EXPECT_FALSE(tr.record(false, clock.now()));  // already down: no transition
    auto t = tr.record(true, clock.now());
    // The first result (a failure) was already spent: from here the ordinary rise rule holds.
    EXPECT_FALSE(t);
    HealthTracker fresh(3, 3, true);
    t = fresh.record(true, clock.now());
    ASSERT_TRUE(t);
    EXPECT_EQ(t->from, State::down);
    EXPECT_EQ(t->to, State::up);
}

TEST(HealthTracker, ZeroRiseAndFallActLikeOne) {
    ManualClock clock;
    HealthTracker tr(0, 0, false);
    tr.record(true, clock.now());
    EXPECT_TRUE(tr.record(false, clock.now()));
    EXPECT_TRUE(tr.record(true, clock.now()));
}

}  // namespace
}  // namespace ballast::health
