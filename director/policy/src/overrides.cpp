#include "ballast/policy/overrides.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace ballast::policy {

std::string OverrideKey::to_string() const {
    return real.to_string() + " in " + (service ? service->to_string() : "every service");
}

std::string format_time(WallTime t) {
    return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}",
                       fmt::gmtime(std::chrono::system_clock::to_time_t(t)));
}

std::string Override::describe() const {
    const std::string what =
        kind == Kind::drain ? "drained" : "weight " + std::to_string(weight) + " set";
    return what + " by " + (set_by.empty() ? "an operator" : set_by) + " at " + format_time(set_at);
}

const Override* find_override(const Overrides& all, const model::ServiceKey& service,
                              const model::RealKey& real) {
    if (all.empty()) return nullptr;
    if (auto it = all.find(OverrideKey{service, real}); it != all.end()) return &it->second;
    if (auto it = all.find(OverrideKey{std::nullopt, real}); it != all.end()) return &it->second;
    return nullptr;
}

}  // namespace ballast::policy
