#include "ballast/agent/http_request.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <sstream>

namespace ballast::agent {
namespace http = boost::beast::http;

namespace {

HttpDecision refuse(unsigned status, std::string reason) {
    HttpDecision d;
    d.status = status;
    d.reason = std::move(reason);
    return d;
}

}  // namespace

HttpRequestReader::HttpRequestReader() {
    parser_.header_limit(static_cast<std::uint32_t>(kMaxRequestHead));
    parser_.body_limit(0);
}

std::optional<HttpDecision> HttpRequestReader::feed(std::string_view bytes) {
    pending_.append(bytes);
    while (!pending_.empty()) {
        boost::system::error_code ec;
        size_t used = parser_.put(boost::asio::buffer(pending_), ec);
        pending_.erase(0, used);
        if (ec == http::error::need_more) {
            if (pending_.size() > kMaxRequestHead)
                return refuse(431, "request head longer than 4096 bytes");
            return std::nullopt;
        }
        if (ec == http::error::header_limit)
            return refuse(431, "request head longer than 4096 bytes");
        if (ec == http::error::body_limit || ec == http::error::unexpected_body)
            return refuse(413, "a request body is not accepted");
        if (ec) return refuse(400, "malformed request: " + ec.message());
        if (!parser_.is_header_done()) continue;
        const auto& req = parser_.get();
        if (parser_.chunked() || parser_.content_length().value_or(0) > 0)
            return refuse(413, "a request body is not accepted");
        HttpDecision d;
        d.version = req.version() == 10 ? 10 : 11;
        if (req.method() != http::verb::get) {
            d.status = 405;
            d.reason = "GET only";
            return d;
        }
        d.target = std::string(req.target());
        return d;
    }
    return std::nullopt;
}

HttpDecision HttpRequestReader::end_of_input() const {
    return refuse(400, "connection closed before the request head was complete");
}

std::string respond_http(const HttpDecision& d, const std::function<std::string()>& status_json,
                         const std::function<std::string()>& metrics) {
    http::response<http::string_body> res;
    res.version(d.version);
    res.keep_alive(false);
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    if (d.status != 0) {
        res.result(d.status);
        res.body() = d.reason + "\n";
    } else if (d.target == "/status" || d.target == "/") {
        res.result(http::status::ok);
        res.set(http::field::content_type, "application/json");
        res.body() = status_json();
    } else if (d.target == "/metrics") {
        res.result(http::status::ok);
        res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        res.body() = metrics();
    } else {
        res.result(http::status::not_found);
        res.body() = "try /status or /metrics\n";
    }
    res.prepare_payload();
    std::ostringstream out;
    out << res;
    return out.str();
}

}  // namespace ballast::agent
