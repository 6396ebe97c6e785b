#pragma once
// The status page: one self-contained HTML file (web/status.html, compiled in), no external
// scripts, styles or fonts.
#include <string>

namespace ballast::control {

// The page with the write token (empty: no drain/enable buttons) and the daemon's version
// filled in.
std::string render_status_page(const std::string& token, const std::string& daemon);

}  // namespace ballast::control
