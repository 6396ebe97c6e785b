#include "ballast/health/schedule.hpp"

#include <algorithm>

namespace ballast::health {

uint64_t Rng::next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int64_t Rng::uniform(int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
    return lo + static_cast<int64_t>(next() % span);
}

SteadyClock::duration initial_offset(size_t index, size_t count, Millis interval) {
    if (count == 0 || interval.count() <= 0) return SteadyClock::duration::zero();
    const auto span = std::chrono::duration_cast<SteadyClock::duration>(interval);
    return span * static_cast<int64_t>(index % count) / static_cast<int64_t>(count);
}

SteadyClock::duration initial_offset(Millis interval, Rng& rng) {
    const auto span = std::chrono::duration_cast<SteadyClock::duration>(interval);
    if (span.count() <= 0) return SteadyClock::duration::zero();
    return SteadyClock::duration(rng.uniform(0, span.count() - 1));
}

TimePoint CheckSchedule::advance(const model::CheckSpec& spec, State state, TimePoint now,
                                 Rng& rng) {
    const auto interval =
        std::max(state == State::down ? spec.effective_down_interval() : spec.interval, Millis(1));
    anchor_ += std::chrono::duration_cast<SteadyClock::duration>(interval);
    if (anchor_ < now) {
        // The run outlasted its interval (e.g. timeout == interval against a silent
        // server): start the next one at once and keep the rate from there. Never a
        // burst -- a check has at most one run in flight -- and no whole interval lost,
        // so detection stays within interval x fall + timeout.
        anchor_ = now;
    }
    const auto j =
        std::chrono::duration_cast<SteadyClock::duration>(std::max(spec.jitter, Millis(0))).count();
    due_ = anchor_ + SteadyClock::duration(rng.uniform(-j, j));
    if (due_ < now) due_ = now;
    return due_;
}

}  // namespace ballast::health
