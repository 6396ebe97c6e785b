#pragma once
// An incremental HTTP/1.x response reader with hard limits on the status line,
// the header block and the body (Boost.Beast's response_parser underneath, the
// status line checked on its own so a non-HTTP answer is told at once), and the
// pure classification of a response against a check. No sockets: bytes are fed
// in by the probe (or a fuzzer).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "ballast/model/check.hpp"

namespace re2 {
class RE2;
}

namespace ballast::health {

struct HttpLimits {
    size_t status_line = 1024;
    size_t headers = 16 * 1024;  // all header lines together
    size_t body = 1024 * 1024;
};

class HttpResponseParser {
public:
    enum class Progress { need_more, done, error };

    // head_request: a response to HEAD has no body whatever its headers say.
    explicit HttpResponseParser(HttpLimits limits = {}, bool head_request = false);
    ~HttpResponseParser();
    HttpResponseParser(const HttpResponseParser&) = delete;
    HttpResponseParser& operator=(const HttpResponseParser&) = delete;

    // Feeds the next bytes received. Returns done once a complete response has
    // been read, error (see error()) on malformed input or a limit exceeded.
    // Interim (1xx) responses are skipped: the final one counts.
    Progress feed(std::string_view bytes);
    // The peer closed the connection: completes a close-delimited body.
    Progress finish();

    int status() const { return status_; }  // 0 until the status line is read
    const std::string& body() const;
    const std::string& error() const { return error_; }

private:
    class Beast;  // Boost.Beast's parser of the current response
    Progress fail(std::string why);
    Progress step();  // parses from buf_ as far as possible
    Progress check_status_line();

    HttpLimits limits_;
    bool head_;
    std::unique_ptr<Beast> beast_;
    std::string buf_;  // received, not yet taken by the parser (at most a header's worth)
    int status_ = 0;
    bool done_ = false;
    bool failed_ = false;
    std::string error_;
};

// A compiled expect_body_regex (RE2 syntax: linear time in the body's length,
// whatever the pattern). Made once per check, shared by its runs.
class BodyRegex {
public:
    // nullptr and `error` (RE2's words) when `pattern` is not a valid RE2 expression.
    static std::shared_ptr<const BodyRegex> compile(const std::string& pattern,
                                                    std::string* error = nullptr);
    explicit BodyRegex(std::unique_ptr<re2::RE2> re);
    ~BodyRegex();
    // Whether the pattern matches anywhere in `text`.
    bool search(std::string_view text) const;

private:
    std::unique_ptr<re2::RE2> re_;
};

// The part of the body the regex is searched in.
inline constexpr size_t kBodyRegexWindow = 64 * 1024;

struct HttpVerdict {
    bool up = false;
    std::string reason;  // "HTTP 200", "HTTP 503", "HTTP 200: body lacks \"ok\""
};

// Decides a complete response against the check: status among expect_status
// (empty = any 2xx/3xx), body substring, body regex (searched in the first
// kBodyRegexWindow bytes). `body_regex` is the compiled spec.expect_body_regex, if any.
HttpVerdict classify_http(int status, std::string_view body, const model::CheckSpec& spec,
                          const BodyRegex* body_regex);

}  // namespace ballast::health
