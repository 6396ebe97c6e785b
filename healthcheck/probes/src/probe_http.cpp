// http and https: one request, a bounded response read, classified by the core.
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>

#include "attempt.hpp"

namespace ballast::health::detail {
namespace {

namespace beast = boost::beast;

std::string tls_verify_reason(long v) {
    switch (v) {
        case X509_V_ERR_CERT_HAS_EXPIRED:
            return "certificate expired";
        case X509_V_ERR_CERT_NOT_YET_VALID:
            return "certificate not yet valid";
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
            return "self-signed certificate";
        case X509_V_ERR_HOSTNAME_MISMATCH:
            return "certificate name mismatch";
        case X509_V_ERR_IP_ADDRESS_MISMATCH:
            return "certificate IP address mismatch";
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
            return "certificate issuer unknown";
        default:
            return X509_verify_cert_error_string(v);
    }
}

std::string host_header(const CheckKey& k) {
    if (!k.spec->host.empty()) return k.spec->host;
    std::string h =
        k.target.addr.is_v6() ? "[" + k.target.addr.to_string() + "]" : k.target.addr.to_string();
    const uint16_t dflt = k.spec->type == model::CheckType::https ? 443 : 80;
    if (k.target.port != dflt) h += ":" + std::to_string(k.target.port);
    return h;
}

template <class Stream>
class HttpAttempt final : public Attempt {
    static constexpr bool kTls = !std::is_same_v<Stream, asio::ip::tcp::socket>;

public:
    HttpAttempt(ProbeContext& c, const CheckKey& k, ProbeCallback d)
        : Attempt(c, k, std::move(d)),
          stream_(make_stream(c, k)),
          parser_(c.limits().http, k.spec->method == "HEAD") {}

private:
    static Stream make_stream(ProbeContext& c, const CheckKey& k) {
        if constexpr (kTls) {
            return Stream(c.io(), c.tls(k.spec->tls_verify));
        } else {
            (void)k;
            return Stream(c.io());
        }
    }

    void begin() override {
        if (check_.target.port == 0) return finish_later("no port to check");
        if (!check_.spec->expect_body_regex.empty()) {
            // Config validation rejects what RE2 rejects; should one slip through, the
            // check is down with RE2's words rather than the daemon failing.
            std::string error;
            regex_ = ctx_.body_regex(check_.spec->expect_body_regex, error);
            if (!regex_) return finish_later("bad expect_body_regex: " + error);
        }
        request_ = check_.spec->method + " " + check_.spec->path +
                   " HTTP/1.1\r\nHost: " + host_header(check_) +
                   "\r\nUser-Agent: ballast-health\r\nAccept: */*\r\nConnection: close\r\n\r\n";
        beast::get_lowest_layer(stream_).async_connect(
            tcp_endpoint(check_), [self = self_as<HttpAttempt>()](const error_code& ec) {
                if (self->finished_) return;
                if (ec) return self->fail(ec);
                self->connected();
            });
    }

    void close() override {
        error_code ignored;
        auto& sock = beast::get_lowest_layer(stream_);
        if (sock.is_open()) sock.set_option(asio::socket_base::linger(true, 0), ignored);
        sock.close(ignored);
    }

    void connected() {
        if constexpr (kTls) {
            SSL* ssl = stream_.native_handle();
            const std::string name =
                !check_.spec->sni.empty() ? check_.spec->sni : check_.spec->host;
            const bool name_is_ip = model::IpAddress::parse(name).has_value();
            if (!name.empty() && !name_is_ip) SSL_set_tlsext_host_name(ssl, name.c_str());
            if (check_.spec->tls_verify) {
                // OpenSSL's own name check, so a mismatch reports X509_V_ERR_HOSTNAME_MISMATCH.
                if (name.empty() || name_is_ip) {
                    const std::string ip = name.empty() ? check_.target.addr.to_string() : name;
                    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ip.c_str());
                } else {
                    SSL_set1_host(ssl, name.c_str());
                }
            }
            phase_ = "TLS handshake";
            stream_.async_handshake(asio::ssl::stream_base::client,
                                    [self = self_as<HttpAttempt>()](const error_code& ec) {
                                        if (self->finished_) return;
                                        if (ec) return self->handshake_failed(ec);
                                        self->send_request();
                                    });
        } else {
            send_request();
        }
    }

    void handshake_failed(const error_code& ec) {
        if constexpr (kTls) {
            const long v = SSL_get_verify_result(stream_.native_handle());
            if (check_.spec->tls_verify && v != X509_V_OK) {
                return finish(false, "TLS: " + tls_verify_reason(v));
            }
            if (ec.category() == asio::error::get_ssl_category()) {
                return finish(false, "TLS handshake failed: " + ec.message());
            }
        }
        fail(ec);
    }

    void send_request() {
        phase_ = "sending request";
        asio::async_write(stream_, asio::buffer(request_),
                          [self = self_as<HttpAttempt>()](const error_code& ec, size_t) {
                              if (self->finished_) return;
                              if (ec) return self->fail(ec);
                              self->phase_ = "reading response";
                              self->read_more();
                          });
    }

    void read_more() {
        stream_.async_read_some(asio::buffer(chunk_),
                                [self = self_as<HttpAttempt>()](const error_code& ec, size_t n) {
                                    if (self->finished_) return;
                                    self->received(ec, n);
                                });
    }

    void received(const error_code& ec, size_t n) {
        using P = HttpResponseParser::Progress;
        P p = P::need_more;
        if (n) p = parser_.feed(std::string_view(chunk_.data(), n));
        if (p == P::need_more && ec) {
            const bool closed = ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
            if (!closed) return fail(ec);
            p = parser_.finish();
        }
        if (p == P::error) {
            const auto& why = parser_.error();
            return finish(false, parser_.status()
                                     ? "HTTP " + std::to_string(parser_.status()) + ": " + why
                                     : why);
        }
        if (p == P::done) {
            auto v = classify_http(parser_.status(), parser_.body(), *check_.spec, regex_.get());
            return finish(v.up, std::move(v.reason));
        }
        read_more();
    }

    Stream stream_;
    HttpResponseParser parser_;
    std::shared_ptr<const BodyRegex> regex_;
    std::string request_;
    std::array<char, 16384> chunk_;  // not zeroed: filled by each read
};

}  // namespace

std::shared_ptr<Attempt> make_http_attempt(ProbeContext& c, const CheckKey& k, ProbeCallback d) {
    if (k.spec->type == model::CheckType::https) {
        return std::make_shared<HttpAttempt<asio::ssl::stream<asio::ip::tcp::socket>>>(
            c, k, std::move(d));
    }
    return std::make_shared<HttpAttempt<asio::ip::tcp::socket>>(c, k, std::move(d));
}

}  // namespace ballast::health::detail
