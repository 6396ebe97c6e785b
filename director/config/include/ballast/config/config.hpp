#pragma once
// The config boundary: TOML text -> a validated model::DirectorConfig, or every
// problem found, each with file:line:col and the key path. Nothing partial: a
// config is accepted whole or rejected whole. No exception escapes this API.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ballast/model/director_config.hpp"

namespace ballast::config {

struct Diagnostic {
    model::SourceLocation where;  // line/column 0 = the file as a whole (e.g. unreadable)
    std::string key_path;         // "service[1].real[0].weight"; empty for syntax errors
    std::string message;
    auto operator<=>(const Diagnostic&) const = default;
};

// "file:line:col: key.path: message" (parts that are unknown are left out).
std::string format(const Diagnostic&);

struct LoadResult {
    std::optional<model::DirectorConfig> config;  // set if and only if diagnostics is empty
    std::vector<Diagnostic> diagnostics;          // sorted by line, then column
    bool ok() const { return config.has_value(); }
};

// Parses and validates TOML text; `name` is used as the file in every location.
LoadResult load_string(std::string_view text, std::string name);
// The same, with a long document parsed in pieces of `services_per_piece` [[service]] tables
// (0: always in one piece). The result never depends on it: tests compare the two.
LoadResult load_string(std::string_view text, std::string name, size_t services_per_piece);
// Reads `path` and calls load_string; an unreadable file is one diagnostic.
LoadResult load_file(const std::string& path);

// "3 services, 7 real servers"
std::string summary(const model::DirectorConfig&);

}  // namespace ballast::config
