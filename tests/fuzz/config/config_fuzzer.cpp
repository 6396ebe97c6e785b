// Feeds arbitrary bytes to the config parser + validator. Invariants beyond
// "no crash": the result is a config or diagnostics, never both or neither, and
// every diagnostic names the file and formats.
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
    if (r.ok()) {
        (void)ballast::config::dump(*r.config);
        (void)ballast::config::summary(*r.config);
    }
    return 0;
}
