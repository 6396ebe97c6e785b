// The status endpoint's request handling: never crashes; whether and what it serves does
// not depend on how the bytes were split into reads; it never buffers more than 4 KiB plus
// one read; every decision renders a response.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ballast/agent/http_request.hpp"

using ballast::agent::HttpRequestReader;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const size_t chunk = 1 + data[0] % 64;  // the first byte picks the read size
    std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);

    HttpRequestReader whole;
    auto once = whole.feed(bytes);

    HttpRequestReader pieces;
    std::optional<ballast::agent::HttpDecision> split;
    for (size_t i = 0; i < bytes.size() && !split; i += chunk) {
        split = pieces.feed(bytes.substr(i, chunk));
        if (pieces.buffered() > ballast::agent::kMaxRequestHead + chunk) __builtin_trap();
    }
    // A request that is served is served alike however it was split; garbage may be refused
    // at a different byte (Beast rejects some bad bytes as they come, some only at the end).
    auto served = [](const auto& d) { return d && d->status == 0; };
    if (served(once) != served(split)) __builtin_trap();
    if (served(once) && once->target != split->target) __builtin_trap();
    if (once) {
        std::string out = ballast::agent::respond_http(
            *once, [] { return std::string("{}"); }, [] { return std::string("m 1\n"); });
        if (out.rfind("HTTP/1.", 0) != 0) __builtin_trap();
    }
    return 0;
}
