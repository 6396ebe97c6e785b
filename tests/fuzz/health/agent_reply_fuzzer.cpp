// Agent-check replies come from the network: any bytes must parse or be
// rejected cleanly, and parsed numbers must stay in range.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ballast/health/agent_reply.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto r = ballast::health::parse_agent_reply(text);
    if (r.ok()) {
        if (r->percent && *r->percent > 256) std::abort();
        if (r->weight && *r->weight > 65535) std::abort();
        if (size > ballast::health::kMaxAgentLine + 2) std::abort();  // overlong must be rejected
    }
    auto w = ballast::health::parse_weight_text(text);
    if (w && !w->weight && !w->percent) std::abort();
    return 0;
}
