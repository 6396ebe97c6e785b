#pragma once
// ballast-agent's TOML file -> AgentSettings. All errors are collected, each with
// file:line:col; unknown keys are errors; a file is accepted whole or rejected whole.
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ballast/agent/settings.hpp"

namespace ballast::agent {

struct ConfigError : std::runtime_error {
    std::vector<std::string> errors;  // "file:line:col: message"
    explicit ConfigError(std::vector<std::string> errs);
};

// `source` names the file in error messages.
AgentSettings parse_agent_config(std::string_view text, const std::string& source);
AgentSettings load_agent_config(const std::string& path);

}  // namespace ballast::agent
