#pragma once
// The HAProxy agent-check text protocol, as spoken by ballast-agent: one line of
// words separated by commas, spaces or tabs, e.g. "up 75%", "drain",
// "down#return route via 192.168.1.1". Pure and fuzzable.
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ballast/model/result.hpp"

namespace ballast::health {

inline constexpr size_t kMaxAgentLine = 1024;  // longer replies are rejected

enum class AgentLiveness : uint8_t { up, down };          // up | down, fail, stopped
enum class AgentAdmin : uint8_t { ready, drain, maint };  // ready | drain | maint

struct AgentReply {
    std::optional<AgentLiveness> liveness;
    std::optional<AgentAdmin> admin;
    std::optional<uint32_t> percent;  // "N%": scales the configured weight (0..256)
    std::optional<uint32_t> weight;   // "weight:N": replaces the configured weight (0..65535)
    std::string description;          // text after '#', e.g. why the server is down

    // Whether the server should be considered alive (down/fail/stopped and maint are not).
    bool alive() const;
    auto operator<=>(const AgentReply&) const = default;
};

// Parses one reply line (a trailing "\r\n" or "\n" is allowed). Unknown words are
// ignored, as HAProxy does; a line longer than kMaxAgentLine, an embedded NUL or
// a second line is an error.
Result<AgentReply> parse_agent_reply(std::string_view line);

// Parses a bare weight as an exec check may print it: "N" (absolute weight),
// "N%" or "weight:N"; nullopt when the text is neither.
std::optional<AgentReply> parse_weight_text(std::string_view text);

}  // namespace ballast::health
