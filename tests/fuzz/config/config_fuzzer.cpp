// Feeds arbitrary bytes to the config parser + validator. Invariants beyond
// "no crash": the result is a config or diagnostics, never both or neither, and
// every diagnostic names the file and formats, and a parse in pieces gives the same result.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ballast/config/config.hpp"
#include "ballast/config/dump.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto r = ballast::config::load_string(text, "fuzz.toml");
    if (r.ok() == !r.diagnostics.empty()) std::abort();
    for (auto& d : r.diagnostics) {
        if (d.where.file() != "fuzz.toml" || d.message.empty()) std::abort();
        if (ballast::config::format(d).empty()) std::abort();
    }
    // Parsed in pieces of one service (load.cpp): exactly the same result.
    auto pieces = ballast::config::load_string(text, "fuzz.toml", 1);
    if (pieces.ok() != r.ok() || pieces.diagnostics.size() != r.diagnostics.size()) std::abort();
    for (size_t i = 0; i < r.diagnostics.size(); ++i)
        if (ballast::config::format(pieces.diagnostics[i]) !=
            ballast::config::format(r.diagnostics[i]))
            std::abort();
    if (r.ok() && !(*pieces.config == *r.config)) std::abort();
    if (r.ok()) {
        (void)ballast::config::dump(*r.config);
        (void)ballast::config::summary(*r.config);
    }
    return 0;
}
