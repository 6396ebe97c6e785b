#pragma once
// OutService values -> ballast TOML text with comments. Internal to ballast_import.
#include <string>
#include <vector>

#include "ballast_out.hpp"

namespace ballast::import::detail {

struct Document {
    std::vector<std::string> header;  // comment lines at the top
    std::vector<OutService> services;
    std::vector<std::string> footer;  // comment lines at the end
};

std::string write_toml(const Document& doc);

// A TOML basic string ("..." with escapes); `s` must be valid UTF-8.
std::string toml_string(std::string_view s);

// Text safe for a TOML comment: control characters and bytes that are not
// UTF-8 become '?'.
std::string comment_text(std::string_view s);

}  // namespace ballast::import::detail
