// expect_body_regex comes from the config, the body from a server: any pattern
// RE2 accepts must be decided over any body, in time linear in the body, and a
// pattern it rejects must be rejected with a reason. Input: pattern, NUL, status
// byte, body.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ballast/health/http_response.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const auto nul = in.find('\0');
    if (nul == std::string_view::npos || nul > 256 || nul + 1 >= in.size()) return 0;
    ballast::model::CheckSpec spec;
    spec.expect_status.clear();  // any 2xx or 3xx
    spec.expect_body_regex = std::string(in.substr(0, nul));
    const int status = 100 + static_cast<unsigned char>(in[nul + 1]) % 500;
    const std::string_view body = in.substr(nul + 2);

    std::string error;
    auto re = ballast::health::BodyRegex::compile(spec.expect_body_regex, &error);
    if (!re) {
        if (error.empty()) std::abort();  // a rejection always says why
        return 0;
    }
    const auto v = ballast::health::classify_http(status, body, spec, re.get());
    if (v.reason.empty()) std::abort();
    if (v.up && (status < 200 || status >= 400)) std::abort();
    // Up with an acceptable status means the pattern was found in the searched window.
    const bool found = re->search(body.substr(0, ballast::health::kBodyRegexWindow));
    if (status >= 200 && status < 400 && v.up != found) std::abort();
    return 0;
}
