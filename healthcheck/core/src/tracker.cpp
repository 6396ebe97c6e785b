#include "ballast/health/tracker.hpp"

#include <algorithm>
#include <cstdint>

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
    : rise_(static_cast<uint16_t>(std::clamp<uint32_t>(rise, 1, UINT16_MAX))),
      fall_(static_cast<uint16_t>(std::clamp<uint32_t>(fall, 1, UINT16_MAX))),
      state_(start_down ? State::down : State::unknown) {}

std::optional<Transition> HealthTracker::record(bool success, TimePoint now) {
    const bool first = !has_result_;
    has_result_ = true;
    if (success != run_ok_) {
        run_ok_ = success;
        run_ = 0;
    }
    if (run_ < UINT32_MAX) ++run_;
    if (first) return move_to(success ? State::up : State::down, now);
    if (success && state_ != State::up && run_ >= rise_) return move_to(State::up, now);
    if (!success && state_ != State::down && run_ >= fall_) return move_to(State::down, now);
    return std::nullopt;
}

std::optional<Transition> HealthTracker::move_to(State to, TimePoint now) {
    if (to == state_) return std::nullopt;
    Transition t{state_, to, now};
    // Only a real recovery ramps: a first success of a fresh target has nothing to recover
    // from, but start_down's first success does (it was held down on purpose).
    if (to == State::up && state_ == State::down) {
        recovered_at_ = now;
        recovered_ = true;
    }
    state_ = to;
    since_ = now;
    return t;
}

}  // namespace ballast::health
