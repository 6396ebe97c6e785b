// Agent TOML config: any input is accepted whole or rejected with file:line:col errors.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ballast/agent/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        auto s = ballast::agent::parse_agent_config(text, "fuzz.toml");
        if (s.real_servers.empty()) __builtin_trap();
    } catch (const ballast::agent::ConfigError& e) {
        if (e.errors.empty()) __builtin_trap();
        for (const auto& line : e.errors)
            if (line.rfind("fuzz.toml:", 0) != 0) __builtin_trap();
    }
    return 0;
}
