// The HTTP response reader sees whatever a broken or hostile server sends.
// Differential property: feeding the bytes in arbitrary pieces gives the same
// verdict as feeding them at once; limits always hold.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ballast/health/http_response.hpp"

using ballast::health::HttpLimits;
using ballast::health::HttpResponseParser;

namespace {
HttpResponseParser::Progress run(std::string_view in, const HttpLimits& lim, bool head,
                                 size_t piece, HttpResponseParser& p) {
    auto prog = HttpResponseParser::Progress::need_more;
    while (!in.empty() && prog == HttpResponseParser::Progress::need_more) {
        const size_t n = std::min(piece, in.size());
        prog = p.feed(in.substr(0, n));
        in.remove_prefix(n);
    }
    if (prog == HttpResponseParser::Progress::need_more) prog = p.finish();
    (void)lim;
    (void)head;
    return prog;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    const bool head = data[0] & 1;
    const size_t piece = 1 + data[1] % 17;
    const HttpLimits lim{64u + (data[0] >> 1), 256, 512};
    const std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);

    HttpResponseParser whole(lim, head), pieces(lim, head);
    const auto a = run(in, lim, head, in.size() + 1, whole);
    const auto b = run(in, lim, head, piece, pieces);
    if (a != b || whole.status() != pieces.status()) std::abort();
    if (a == HttpResponseParser::Progress::done) {
        if (whole.body() != pieces.body()) std::abort();
        if (whole.body().size() > lim.body) std::abort();
        if (whole.status() < 200 || whole.status() > 599) std::abort();
        ballast::model::CheckSpec spec;
        spec.expect_body = "ok";
        auto v = ballast::health::classify_http(whole.status(), whole.body(), spec, nullptr);
        if (v.reason.empty()) std::abort();
    } else if (whole.error().empty()) {
        std::abort();
    }
    return 0;
}
