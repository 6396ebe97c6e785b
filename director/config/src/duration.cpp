#include "ballast/config/duration.hpp"

#include <charconv>
#include <cstdint>

namespace ballast::config {

namespace {
// Longer than any timer ballast needs, and far from int64 overflow.
constexpr int64_t kMaxMillis = int64_t{30} * 24 * 3600 * 1000;  // 30 days = 720h

struct Unit {
    std::string_view suffix;
    int64_t millis;
};
// "ms" before "m" and "s" so the longest suffix wins.
constexpr Unit kUnits[] = {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};
}  // namespace

std::variant<model::Millis, std::string> parse_duration(std::string_view text) {
    const std::string expected =
        "expected a duration: an integer and a unit (ms, s, m, h), e.g. \"500ms\", \"2s\"";
    if (text.empty()) return expected + ", got an empty string";
    if (text.front() == '-') return "a duration cannot be negative";
    size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    if (digits == 0) return expected;
    std::string_view suffix = text.substr(digits);
    if (suffix.empty()) return expected + " (a bare number has no unit)";
    const Unit* unit = nullptr;
    for (auto& u : kUnits)
        if (suffix == u.suffix) unit = &u;
    if (!unit) return expected + " (unknown unit '" + std::string(suffix) + "')";
    uint64_t count = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + digits, count);
    if (ec != std::errc() || end != text.data() + digits ||
        count > static_cast<uint64_t>(kMaxMillis / unit->millis))
        return "duration '" + std::string(text) + "' is too large (at most 720h)";
    return model::Millis(static_cast<int64_t>(count) * unit->millis);
}

std::string format_duration(model::Millis d) {
    int64_t ms = d.count();
    if (ms != 0) {
        for (auto it = std::rbegin(kUnits); it != std::rend(kUnits); ++it)
            if (ms % it->millis == 0)
                return std::to_string(ms / it->millis) + std::string(it->suffix);
    }
    return std::to_string(ms) + "ms";
}

}  // namespace ballast::config
