#include "ballast/health/http_response.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include <re2/re2.h>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

namespace ballast::health {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// ---------------------------------------------------------------- the reader

// One response's Beast parser. A new one is made for the final response after
// each interim (1xx) one.
class HttpResponseParser::Beast {
public:
    Beast(const HttpLimits& limits, bool head) {
        // Beast's header limit covers the status line and the header lines.
        parser.header_limit(static_cast<std::uint32_t>(limits.status_line + limits.headers));
        parser.body_limit(limits.body);
        parser.eager(true);
        parser.skip(head);
    }
    http::response_parser<http::string_body> parser;
};

HttpResponseParser::HttpResponseParser(HttpLimits limits, bool head_request)
    : limits_(limits), head_(head_request), beast_(std::make_unique<Beast>(limits_, head_)) {}

HttpResponseParser::~HttpResponseParser() = default;

const std::string& HttpResponseParser::body() const {
    return beast_->parser.get().body();
}

HttpResponseParser::Progress HttpResponseParser::fail(std::string why) {
    failed_ = true;
    error_ = std::move(why);
    buf_.clear();
    return Progress::error;
}

HttpResponseParser::Progress HttpResponseParser::feed(std::string_view bytes) {
    if (done_) return Progress::done;
    if (failed_) return Progress::error;
    buf_.append(bytes.data(), bytes.size());
    return step();
}

// The status line is checked here, as soon as it is complete (Beast reads
// nothing before the whole header has arrived): a server answering in another
// protocol is told apart at once, not at the timeout.
HttpResponseParser::Progress HttpResponseParser::check_status_line() {
    while (buf_.size() >= 2 && buf_[0] == '\r' && buf_[1] == '\n') buf_.erase(0, 2);  // stray CRLF
    const auto nl = buf_.find('\n');
    const std::string_view line =
        std::string_view(buf_).substr(0, nl == std::string::npos ? buf_.size() : nl);
    // "HTTP/1.1 200 OK" (reason phrase optional)
    const std::string_view prefix = "HTTP/";
    if (line.substr(0, std::min(line.size(), prefix.size())) !=
        prefix.substr(0, std::min(line.size(), prefix.size()))) {
        return fail("not an HTTP response");
    }
    if (nl == std::string::npos) {
        if (buf_.size() > limits_.status_line) return fail("HTTP status line too long");
        return Progress::need_more;
    }
    if (nl > limits_.status_line) return fail("HTTP status line too long");
    std::string_view l = line;
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.size() < 12 || !std::isdigit(static_cast<unsigned char>(l[5])) || l[6] != '.' ||
        !std::isdigit(static_cast<unsigned char>(l[7])) || l[8] != ' ') {
        return fail("not an HTTP response");
    }
    int code = 0;
    auto [p, ec] = std::from_chars(l.data() + 9, l.data() + 12, code);
    if (ec != std::errc() || p != l.data() + 12 || code < 100 || code > 599 ||
        (l.size() > 12 && l[12] != ' ')) {
        return fail("malformed HTTP status line");
    }
    status_ = code;
    return Progress::done;
}

namespace {

// Beast's errors in the words the checks have always used.
std::string describe(const beast::error_code& ec, const HttpLimits& limits,
                     std::optional<uint64_t> content_length) {
    using E = http::error;
    if (ec == E::header_limit) return "HTTP headers too long";
    if (ec == E::body_limit) {
        if (content_length && *content_length > limits.body) {
            return "HTTP body of " + std::to_string(*content_length) +
                   " bytes exceeds the limit of " + std::to_string(limits.body);
        }
        return "HTTP body exceeds the limit of " + std::to_string(limits.body) + " bytes";
    }
    if (ec == E::bad_content_length) return "malformed Content-Length";
    if (ec == E::bad_field || ec == E::bad_value || ec == E::bad_line_ending ||
        ec == E::bad_obs_fold)
        return "malformed HTTP header line";
    if (ec == E::bad_transfer_encoding) return "malformed Transfer-Encoding";
    if (ec == E::bad_chunk || ec == E::bad_chunk_extension) return "malformed HTTP chunk";
    if (ec == E::bad_version || ec == E::bad_status || ec == E::bad_reason)
        return "malformed HTTP status line";
    return "malformed HTTP response: " + ec.message();
}

// The Content-Length the header declared, if any and well-formed (read from the
// fields: Beast's own content_length() is only there once the header is accepted).
std::optional<uint64_t> declared_length(const http::response<http::string_body>& message) {
    const auto it = message.find(http::field::content_length);
    if (it == message.end()) return std::nullopt;
    const std::string_view v = it->value();
    uint64_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
    return n;
}

}  // namespace

HttpResponseParser::Progress HttpResponseParser::step() {
    for (;;) {
        auto& parser = beast_->parser;
        if (!parser.is_header_done()) {
            if (status_ == 0) {
                const auto p = check_status_line();
                if (p != Progress::done) return p;
            }
        }
        if (buf_.empty()) return Progress::need_more;
        beast::error_code ec;
        const size_t used = parser.put(asio::buffer(buf_.data(), buf_.size()), ec);
        buf_.erase(0, used);
        if (ec == http::error::need_more) return Progress::need_more;
        if (ec) return fail(describe(ec, limits_, declared_length(parser.get())));
        if (!parser.is_done()) {
            if (buf_.empty()) return Progress::need_more;
            continue;
        }
        if (status_ >= 200) {
            done_ = true;
            return Progress::done;
        }
        // Interim response (100 Continue, 103 Early Hints): the real one follows.
        beast_ = std::make_unique<Beast>(limits_, head_);
        status_ = 0;
        if (buf_.empty()) return Progress::need_more;
    }
}

HttpResponseParser::Progress HttpResponseParser::finish() {
    if (done_) return Progress::done;
    if (failed_) return Progress::error;
    auto& parser = beast_->parser;
    if (status_ == 0 && buf_.empty()) return fail("connection closed without a response");
    if (!parser.is_header_done()) return fail("connection closed inside the response headers");
    beast::error_code ec;
    parser.put_eof(ec);
    if (ec || !parser.is_done()) return fail("connection closed before the end of the body");
    done_ = true;
    return Progress::done;
}

// ---------------------------------------------------------------- classification

std::shared_ptr<const BodyRegex> BodyRegex::compile(const std::string& pattern,
                                                    std::string* error) {
    RE2::Options options;
    options.set_log_errors(false);  // the error is returned, not printed to stderr
    auto re = std::make_unique<RE2>(pattern, options);
    if (!re->ok()) {
        if (error) *error = re->error();
        return nullptr;
    }
    return std::make_shared<const BodyRegex>(std::move(re));
}

BodyRegex::BodyRegex(std::unique_ptr<re2::RE2> re) : re_(std::move(re)) {}
BodyRegex::~BodyRegex() = default;

bool BodyRegex::search(std::string_view text) const {
    return RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *re_);
}

HttpVerdict classify_http(int status, std::string_view body, const model::CheckSpec& spec,
                          const BodyRegex* body_regex) {
    const std::string code = "HTTP " + std::to_string(status);
    const bool status_ok = spec.expect_status.empty()
                               ? (status >= 200 && status < 400)
                               : std::find(spec.expect_status.begin(), spec.expect_status.end(),
                                           status) != spec.expect_status.end();
    if (!status_ok) return {false, code};
    if (!spec.expect_body.empty() && body.find(spec.expect_body) == std::string_view::npos) {
        return {false, code + ": body lacks \"" + spec.expect_body + "\""};
    }
    if (body_regex) {
        if (!body_regex->search(body.substr(0, std::min(body.size(), kBodyRegexWindow)))) {
            return {false, code + ": body does not match /" + spec.expect_body_regex + "/"};
        }
    }
    return {true, code};
}

}  // namespace ballast::health
