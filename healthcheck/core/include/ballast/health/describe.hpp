#pragma once
// Wording shared by probes and policy, so reasons read the same everywhere.
#include <chrono>
#include <string>

namespace ballast::health {

// 1000ms -> "1s", 1500ms -> "1.5s", 250ms -> "250ms".
std::string format_duration(std::chrono::milliseconds d);

// "timeout after 1s" (+ " (connecting)" when a phase is given).
std::string timeout_reason(std::chrono::milliseconds timeout, const char* phase = nullptr);

}  // namespace ballast::health
