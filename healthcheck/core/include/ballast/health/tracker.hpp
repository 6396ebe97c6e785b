#pragma once
// Rise/fall state machine for one (target, check). Pure: the caller passes the
// time of every result.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ballast::health {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

enum class State : uint8_t { unknown, up, down };
std::string_view to_string(State);

struct Transition {
    State from = State::unknown;
    State to = State::unknown;
    std::string reason;  // the result that caused the transition
    TimePoint at{};
};

class HealthTracker {
public:
    // start_down: no traffic until the first success (state starts down instead of unknown).
    HealthTracker(uint32_t rise, uint32_t fall, bool start_down);

    // Feeds one probe result. The first result decides the state at once (unknown -> up/down,
    // or start_down's down -> up on the first success); after that `rise` consecutive successes
    // bring a down target up and `fall` consecutive failures take an up target down.
    std::optional<Transition> record(bool success, std::string_view reason, TimePoint now);

    State state() const { return state_; }
    const std::string& reason() const { return reason_; }  // reason of the last transition
    TimePoint since() const { return since_; }             // time of the last transition
    bool has_result() const { return results_ > 0; }
    uint32_t successes_in_a_row() const { return ok_run_; }
    uint32_t failures_in_a_row() const { return fail_run_; }
    // Set when the target came up after having been down (not on the first result):
    // the start of a slow-start ramp.
    std::optional<TimePoint> recovered_at() const { return recovered_at_; }

private:
    std::optional<Transition> move_to(State to, std::string_view reason, TimePoint now);

    uint32_t rise_;
    uint32_t fall_;
    State state_;
    std::string reason_;
    TimePoint since_{};
    std::optional<TimePoint> recovered_at_;
    uint64_t results_ = 0;
    uint32_t ok_run_ = 0;
    uint32_t fail_run_ = 0;
};

}  // namespace ballast::health
