#pragma once
// Durations in the config are strings: an unsigned integer and one unit,
// "500ms", "2s", "1m", "1h". Bare numbers are rejected on purpose: "2" could
// mean seconds or milliseconds.
#include <string>
#include <string_view>
#include <variant>

#include "ballast/model/check.hpp"

namespace ballast::config {

// The duration, or an explanation of why the text is not one.
std::variant<model::Millis, std::string> parse_duration(std::string_view text);

// The shortest exact spelling: 120000ms -> "2m", 1500ms -> "1500ms".
std::string format_duration(model::Millis);

}  // namespace ballast::config
