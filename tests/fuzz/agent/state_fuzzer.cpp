// Repair state file: never crashes; whatever parses serializes and re-parses to the same
// record; every device name it accepts is an interface name.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ballast/agent/repair.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto r = ballast::agent::parse_state(text);
    if (!r.ok()) return 0;
    auto again = ballast::agent::parse_state(ballast::agent::serialize_state(*r));
    if (!again.ok() || *again != *r) __builtin_trap();
    for (const auto& op : r->changes())
        if (op.kind != ballast::agent::RepairKind::rule && !ballast::agent::valid_ifname(op.ifname))
            __builtin_trap();
    return 0;
}
