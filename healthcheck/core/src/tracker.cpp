#include "ballast/health/tracker.hpp"

#include <algorithm>

namespace ballast::health {

std::string_view to_string(State s) {
    switch (s) {
        case State::unknown:
            return "unknown";
        case State::up:
            return "up";
        case State::down:
            return "down";
    }
    return "?";
}

HealthTracker::HealthTracker(uint32_t rise, uint32_t fall, bool start_down)
    : rise_(std::max<uint32_t>(rise, 1)),
      fall_(std::max<uint32_t>(fall, 1)),
      state_(start_down ? State::down : State::unknown),
      reason_(start_down ? "start_down: waiting for the first successful check"
                         : "not checked yet") {}

std::optional<Transition> HealthTracker::record(bool success, std::string_view reason,
                                                TimePoint now) {
    const bool first = results_ == 0;
    ++results_;
    if (success) {
        ++ok_run_;
        fail_run_ = 0;
    } else {
        ++fail_run_;
        ok_run_ = 0;
    }
    if (first) return move_to(success ? State::up : State::down, reason, now);
    if (success && state_ != State::up && ok_run_ >= rise_) return move_to(State::up, reason, now);
    if (!success && state_ != State::down && fail_run_ >= fall_) {
        return move_to(State::down, reason, now);
    }
    return std::nullopt;
}

std::optional<Transition> HealthTracker::move_to(State to, std::string_view reason, TimePoint now) {
    if (to == state_) return std::nullopt;
    Transition t{state_, to, std::string(reason), now};
    // Only a real recovery ramps: a first success of a fresh target has nothing to recover
    // from, but start_down's first success does (it was held down on purpose).
    if (to == State::up && state_ == State::down) recovered_at_ = now;
    state_ = to;
    reason_ = std::string(reason);
    since_ = now;
    return t;
}

}  // namespace ballast::health
