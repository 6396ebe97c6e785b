#pragma once
// When checks run. Pure: time and randomness come from the caller (explicit
// time points and a seeded Rng), so the schedule is testable on a manual clock
// (tests/fakes/health).
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "ballast/health/tracker.hpp"
#include "ballast/model/check.hpp"

namespace ballast::health {

using Millis = std::chrono::milliseconds;

// Small deterministic generator (splitmix64). Seeded by the owner; never reads
// the system's entropy itself.
class Rng {
public:
    explicit Rng(uint64_t seed) : state_(seed) {}
    uint64_t next();
    // Uniform in [lo, hi] (inclusive); lo when hi <= lo.
    int64_t uniform(int64_t lo, int64_t hi);

private:
    uint64_t state_;
};

// Offset of the first run of check `index` out of `count` started together:
// evenly spread over one interval so a large farm does not fire in the same
// millisecond (10,000 checks at 1 s: one every 100 us).
SteadyClock::duration initial_offset(size_t index, size_t count, Millis interval);

// Offset of the first run of a check added later (reload): uniform in [0, interval).
SteadyClock::duration initial_offset(Millis interval, Rng& rng);

// The schedule of one check. The anchor advances by exactly interval (or
// down_interval while down) from run to run, so the rate does not drift with
// how long checks take; jitter shifts each run around its anchor without
// accumulating. When a run took longer than an interval, the next one starts at
// once and the anchor moves to that instant (one run in flight, never a burst).
// The intervals are the spec's, passed to advance(): a schedule is held per check (50,000 at
// 5,000 x 10) and its spec is shared.
class CheckSchedule {
public:
    explicit CheckSchedule(TimePoint first_anchor) : anchor_(first_anchor), due_(first_anchor) {}

    // When the pending run should fire (anchor + jitter drawn for it).
    TimePoint due() const { return due_; }
    TimePoint anchor() const { return anchor_; }

    // Called when the run that was due has finished at `now`; `state` is the
    // tracker's state after that run, `spec` the check's. Returns the next due time.
    TimePoint advance(const model::CheckSpec& spec, State state, TimePoint now, Rng& rng);

private:
    TimePoint anchor_;
    TimePoint due_;
};

}  // namespace ballast::health
