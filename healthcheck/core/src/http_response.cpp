#include "ballast/health/http_response.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <re2/re2.h>

namespace ballast::health {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

bool ends_with_chunked(std::string_view v) {
    v = trim(v);
    const auto comma = v.rfind(',');
    if (comma != std::string_view::npos) v = trim(v.substr(comma + 1));
    return iequals(v, "chunked");
}

}  // namespace

HttpResponseParser::HttpResponseParser(HttpLimits limits, bool head_request)
    : limits_(limits), head_(head_request) {}

HttpResponseParser::Progress HttpResponseParser::fail(std::string why) {
    phase_ = Phase::failed;
    error_ = std::move(why);
    buf_.clear();
    return Progress::error;
}

HttpResponseParser::Progress HttpResponseParser::feed(std::string_view bytes) {
    if (phase_ == Phase::done) return Progress::done;
    if (phase_ == Phase::failed) return Progress::error;
    // Body bytes need not be buffered: stream them straight through when possible.
    buf_.append(bytes.data(), bytes.size());
    return step();
}

HttpResponseParser::Progress HttpResponseParser::finish() {
    if (phase_ == Phase::done) return Progress::done;
    if (phase_ == Phase::failed) return Progress::error;
    if (phase_ == Phase::body_until_close) {
        phase_ = Phase::done;
        return Progress::done;
    }
    if (phase_ == Phase::status_line && status_ == 0 && buf_.empty()) {
        return fail("connection closed without a response");
    }
    if (phase_ == Phase::status_line || phase_ == Phase::headers) {
        return fail("connection closed inside the response headers");
    }
    return fail("connection closed before the end of the body");
}

bool HttpResponseParser::take_line(std::string& line, size_t limit, const char* what,
                                   bool& too_long) {
    too_long = false;
    const auto nl = buf_.find('\n');
    if (nl == std::string::npos) {
        if (buf_.size() > limit) {
            too_long = true;
            error_ = what;
        }
        return false;
    }
    if (nl > limit) {
        too_long = true;
        error_ = what;
        return false;
    }
    line.assign(buf_, 0, nl);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    buf_.erase(0, nl + 1);
    return true;
}

HttpResponseParser::Progress HttpResponseParser::on_status_line(std::string_view line) {
    // "HTTP/1.1 200 OK" (reason phrase optional)
    if (line.size() < 12 || line.substr(0, 5) != "HTTP/" || !std::isdigit((unsigned char)line[5]) ||
        line[6] != '.' || !std::isdigit((unsigned char)line[7]) || line[8] != ' ') {
        return fail("not an HTTP response");
    }
    int code = 0;
    auto [p, ec] = std::from_chars(line.data() + 9, line.data() + 12, code);
    if (ec != std::errc() || p != line.data() + 12 || code < 100 || code > 599 ||
        (line.size() > 12 && line[12] != ' ')) {
        return fail("malformed HTTP status line");
    }
    status_ = code;
    phase_ = Phase::headers;
    return Progress::need_more;
}

HttpResponseParser::Progress HttpResponseParser::on_header_line(std::string_view line) {
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail("malformed HTTP header line");
    const auto name = line.substr(0, colon);
    const auto value = trim(line.substr(colon + 1));
    if (iequals(name, "content-length")) {
        uint64_t n = 0;
        auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (value.empty() || ec != std::errc() || p != value.data() + value.size()) {
            return fail("malformed Content-Length");
        }
        if (content_length_ && *content_length_ != n) return fail("conflicting Content-Length");
        content_length_ = n;
    } else if (iequals(name, "transfer-encoding")) {
        chunked_ = ends_with_chunked(value);
    }
    return Progress::need_more;
}

HttpResponseParser::Progress HttpResponseParser::on_headers_end() {
    if (status_ < 200) {  // interim response (100 Continue, 103 Early Hints): the real one follows
        status_ = 0;
        content_length_.reset();
        chunked_ = false;
        phase_ = Phase::status_line;
        return Progress::need_more;
    }
    if (head_ || status_ == 204 || status_ == 304) {
        phase_ = Phase::done;
        return Progress::done;
    }
    if (chunked_) {
        phase_ = Phase::chunk_size;
    } else if (content_length_) {
        if (*content_length_ > limits_.body) {
            return fail("HTTP body of " + std::to_string(*content_length_) +
                        " bytes exceeds the limit of " + std::to_string(limits_.body));
        }
        remaining_ = *content_length_;
        phase_ = remaining_ ? Phase::body_length : Phase::done;
        if (phase_ == Phase::done) return Progress::done;
    } else {
        phase_ = Phase::body_until_close;
    }
    return Progress::need_more;
}

HttpResponseParser::Progress HttpResponseParser::append_body(std::string_view data) {
    if (body_.size() + data.size() > limits_.body) {
        return fail("HTTP body exceeds the limit of " + std::to_string(limits_.body) + " bytes");
    }
    body_.append(data.data(), data.size());
    return Progress::need_more;
}

HttpResponseParser::Progress HttpResponseParser::step() {
    std::string line;
    bool too_long = false;
    for (;;) {
        switch (phase_) {
            case Phase::status_line:
                if (!take_line(line, limits_.status_line, "HTTP status line too long", too_long)) {
                    return too_long ? fail(error_) : Progress::need_more;
                }
                if (line.empty() && status_ == 0) continue;  // tolerate a stray CRLF
                if (on_status_line(line) == Progress::error) return Progress::error;
                break;
            case Phase::headers: {
                const size_t left =
                    limits_.headers > header_bytes_ ? limits_.headers - header_bytes_ : 0;
                if (!take_line(line, left, "HTTP headers too long", too_long)) {
                    return too_long ? fail(error_) : Progress::need_more;
                }
                header_bytes_ += line.size() + 1;
                if (line.empty()) {
                    auto p = on_headers_end();
                    if (p != Progress::need_more) return p;
                } else if (on_header_line(line) == Progress::error) {
                    return Progress::error;
                }
                break;
            }
            case Phase::body_length: {
                const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, buf_.size()));
                if (append_body(std::string_view(buf_).substr(0, n)) == Progress::error) {
                    return Progress::error;
                }
                buf_.erase(0, n);
                remaining_ -= n;
                if (remaining_ == 0) {
                    phase_ = Phase::done;
                    return Progress::done;
                }
                return Progress::need_more;
            }
            case Phase::chunk_size: {
                if (!take_line(line, 256, "HTTP chunk size line too long", too_long)) {
                    return too_long ? fail(error_) : Progress::need_more;
                }
                std::string_view v = line;
                v = trim(v.substr(0, v.find(';')));
                uint64_t n = 0;
                auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n, 16);
                if (v.empty() || ec != std::errc() || p != v.data() + v.size()) {
                    return fail("malformed HTTP chunk size");
                }
                if (n > limits_.body || body_.size() + n > limits_.body) {
                    return fail("HTTP body exceeds the limit of " + std::to_string(limits_.body) +
                                " bytes");
                }
                remaining_ = n;
                phase_ = n ? Phase::chunk_data : Phase::trailers;
                break;
            }
            case Phase::chunk_data: {
                const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, buf_.size()));
                if (append_body(std::string_view(buf_).substr(0, n)) == Progress::error) {
                    return Progress::error;
                }
                buf_.erase(0, n);
                remaining_ -= n;
                if (remaining_ != 0) return Progress::need_more;
                phase_ = Phase::chunk_data_end;
                break;
            }
            case Phase::chunk_data_end:
                if (!take_line(line, 2, "malformed HTTP chunk", too_long)) {
                    return too_long ? fail(error_) : Progress::need_more;
                }
                if (!line.empty()) return fail("malformed HTTP chunk");
                phase_ = Phase::chunk_size;
                break;
            case Phase::trailers: {
                const size_t left =
                    limits_.headers > header_bytes_ ? limits_.headers - header_bytes_ : 0;
                if (!take_line(line, left, "HTTP trailers too long", too_long)) {
                    return too_long ? fail(error_) : Progress::need_more;
                }
                header_bytes_ += line.size() + 1;
                if (line.empty()) {
                    phase_ = Phase::done;
                    return Progress::done;
                }
                break;
            }
            case Phase::body_until_close: {
                if (append_body(buf_) == Progress::error) return Progress::error;
                buf_.clear();
                return Progress::need_more;
            }
            case Phase::done:
                return Progress::done;
            case Phase::failed:
                return Progress::error;
        }
    }
}

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
