// /proc/net/{tcp,udp}[6] parser: never crashes; what it accepts is self-consistent.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ballast/agent/sockets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    uint8_t family = (data[0] & 1) ? AF_INET6 : AF_INET;
    auto transport =
        (data[0] & 2) ? ballast::agent::Transport::udp : ballast::agent::Transport::tcp;
    std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    auto r = ballast::agent::parse_proc_net(text, transport, family);
    if (r.ok())
        for (const auto& s : *r) {
            if (s.local.family != family) __builtin_trap();
            if (s.state == 0x0A && transport == ballast::agent::Transport::tcp &&
                !ballast::agent::is_listening(*r, transport, s.local, s.port))
                __builtin_trap();
        }
    return 0;
}
