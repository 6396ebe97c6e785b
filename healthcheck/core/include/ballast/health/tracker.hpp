#pragma once
// Rise/fall state machine for one (target, check). Pure: the caller passes the
// time of every result.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ballast::health {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

enum class State : uint8_t { unknown, up, down };
std::string_view to_string(State);

struct Transition {
    State from = State::unknown;
    State to = State::unknown;
    TimePoint at{};
};

class HealthTracker {
public:
    // start_down: no traffic until the first success (state starts down instead of unknown).
    HealthTracker(uint32_t rise, uint32_t fall, bool start_down);

    // Feeds one probe result. The first result decides the state at once (unknown -> up/down,
    // or start_down's down -> up on the first success); after that `rise` consecutive successes
    // bring a down target up and `fall` consecutive failures take an up target down. The
    // result's reason is the caller's to pass on (a runner puts it in its event): a tracker is
    // held per check (50,000 at 5,000 x 10) and keeps none.
    std::optional<Transition> record(bool success, TimePoint now);

    State state() const { return state_; }
    TimePoint since() const { return since_; }  // time of the last transition
    bool has_result() const { return has_result_; }
    uint32_t successes_in_a_row() const { return run_ok_ ? run_ : 0; }
    uint32_t failures_in_a_row() const { return run_ok_ ? 0 : run_; }
    // Set when the target came up after having been down (not on the first result):
    // the start of a slow-start ramp.
    std::optional<TimePoint> recovered_at() const {
        return recovered_ ? std::optional<TimePoint>(recovered_at_) : std::nullopt;
    }

private:
    std::optional<Transition> move_to(State to, TimePoint now);

    // Packed (32 bytes): a tracker is held per check. rise and fall are at most 1000 in a
    // config; larger ones are held as 65535.
    uint16_t rise_;
    uint16_t fall_;
    uint32_t run_ = 0;  // results in a row that were successes (run_ok_) or failures
    TimePoint since_{};
    TimePoint recovered_at_{};  // when recovered_
    State state_;
    bool run_ok_ = false;
    bool recovered_ = false;
    bool has_result_ = false;
};

}  // namespace ballast::health
