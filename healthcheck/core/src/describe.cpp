#include "ballast/health/describe.hpp"

namespace ballast::health {

std::string format_duration(std::chrono::milliseconds d) {
    const auto ms = d.count();
    if (ms < 1000 || ms % 100 != 0) return std::to_string(ms) + "ms";
    std::string s = std::to_string(ms / 1000);
    if (ms % 1000) s += "." + std::to_string((ms % 1000) / 100);
    return s + "s";
}

std::string timeout_reason(std::chrono::milliseconds timeout, const char* phase) {
    std::string s = "timeout after " + format_duration(timeout);
    if (phase) s += std::string(" (") + phase + ")";
    return s;
}

}  // namespace ballast::health
