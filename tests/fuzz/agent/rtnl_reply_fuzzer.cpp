// The rtnetlink attribute walk of the agent's route lookup: never crashes or reads past
// the message; what it accepts is a unicast-family answer with sane fields.
#include <cstddef>
#include <cstdint>

#include "ballast/agent/rtnl_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto r = ballast::agent::decode_route_reply(data, size);
    if (!r.ok()) return 0;
    if (!r->matched) __builtin_trap();
    const auto& m = *r->matched;
    if (m.addr.family != AF_INET && m.addr.family != AF_INET6) __builtin_trap();
    if (m.length > m.addr.size() * 8) __builtin_trap();
    if (r->gateway && r->gateway->family != m.addr.family) __builtin_trap();
    return 0;
}
