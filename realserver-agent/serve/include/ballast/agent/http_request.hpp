#pragma once
// The status endpoint's request handling, without sockets: bytes in, a decision out
// (Boost.Beast's parser with our limits), and the response to send. Fuzzed in
// tests/fuzz/agent.
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ballast::agent {

inline constexpr size_t kMaxRequestHead = 4096;  // request line and headers; no body at all

// What to do with a request: serve `target` (status 0), or refuse it with an HTTP status
// (400 malformed, 405 not GET, 413 a body, 431 head too large) and a reason.
struct HttpDecision {
    unsigned status = 0;
    std::string reason;
    std::string target;
    unsigned version = 11;
    bool operator==(const HttpDecision&) const = default;
};

// Reads one request head from bytes as they arrive; decides once the head is complete or
// cannot become acceptable. Holds at most kMaxRequestHead bytes plus the last chunk.
class HttpRequestReader {
public:
    HttpRequestReader();
    // nullopt: the head is still incomplete (need more bytes).
    std::optional<HttpDecision> feed(std::string_view bytes);
    // The client closed before its head was complete.
    HttpDecision end_of_input() const;
    size_t buffered() const { return pending_.size(); }

private:
    boost::beast::http::request_parser<boost::beast::http::empty_body> parser_;
    std::string pending_;
};

// The whole response (Connection: close): GET /status or / -> status_json(), /metrics ->
// metrics() as Prometheus text; other paths 404; a refusal as its status with the reason.
std::string respond_http(const HttpDecision& d, const std::function<std::string()>& status_json,
                         const std::function<std::string()>& metrics);

}  // namespace ballast::agent
