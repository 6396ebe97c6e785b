#pragma once
// A clock that moves only when a test moves it.
#include <functional>

#include "ballast/health/tracker.hpp"

namespace ballast::fakes {

class ManualClock {
public:
    explicit ManualClock(health::TimePoint start = health::TimePoint{}) : now_(start) {}
    health::TimePoint now() const { return now_; }
    void advance(health::SteadyClock::duration d) { now_ += d; }
    void set(health::TimePoint t) { now_ = t; }
    // For RunnerOptions::now; the clock must outlive its users.
    std::function<health::TimePoint()> as_function() const {
        return [this] { return now_; };
    }

private:
    health::TimePoint now_;
};

}  // namespace ballast::fakes
