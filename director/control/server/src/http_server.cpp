#include "ballast/control/http_server.hpp"

#include <sys/socket.h>

#include <optional>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace ballast::control {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

class HttpServer::Session : public std::enable_shared_from_this<Session> {
public:
    Session(HttpServer& server, tcp::socket socket) : server_(&server), stream_(std::move(socket)) {
        boost::system::error_code ec;
        peer_ = stream_.socket().remote_endpoint(ec);
    }

    void start() { read(server_->limits_.read_timeout); }

    void close() {
        if (closed_) return;
        closed_ = true;
        boost::system::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.close();
        if (server_) server_->forget(this);
        server_ = nullptr;
    }

private:
    void read(std::chrono::milliseconds timeout) {
        if (closed_) return;
        parser_.emplace();
        parser_->header_limit(static_cast<uint32_t>(server_->limits_.header_limit));
        parser_->body_limit(server_->limits_.body_limit);
        // The whole request must arrive within the timeout: the read timeout for a new
        // connection, the idle timeout for the next request on a kept-alive one.
        stream_.expires_after(timeout);
        auto self = shared_from_this();
        http::async_read(stream_, buffer_, *parser_,
                         [self](const beast::error_code& ec, size_t) { self->on_read(ec); });
    }

    void on_read(const beast::error_code& ec) {
        if (closed_) return;
        if (ec == http::error::header_limit || ec == http::error::body_limit) {
            respond_and_close(ec == http::error::header_limit ? 431 : 413,
                              ec == http::error::header_limit ? "request header too large\n"
                                                              : "request body too large\n");
            return;
        }
        if (ec) {
            close();  // timeout, hang-up or garbage: nothing to answer
            return;
        }
        request_ = parser_->release();
        auto self = shared_from_this();
        server_->handler_.handle(request_, peer_, [self](HttpResponse r) {
            if (self->closed_) return;
            self->write(std::move(r), self->request_.keep_alive());
        });
    }

    void respond_and_close(unsigned status, std::string body) {
        HttpResponse r;
        r.status = status;
        r.body = std::move(body);
        write(std::move(r), false);
    }

    void write(HttpResponse r, bool keep_alive) {
        if (!r.parts.empty()) {
            write_parts(std::move(r), keep_alive);
            return;
        }
        auto res = std::make_shared<http::response<http::string_body>>(
            static_cast<http::status>(r.status), 11);
        res->set(http::field::server, "ballastd");
        res->set(http::field::content_type, r.content_type);
        res->set(http::field::cache_control, "no-store");
        for (const auto& [name, value] : r.headers) res->set(name, value);
        res->keep_alive(keep_alive);
        res->body() = std::move(r.body);
        res->prepare_payload();
        stream_.expires_after(server_->limits_.write_timeout);
        auto self = shared_from_this();
        http::async_write(stream_, *res,
                          [self, res, keep_alive](const beast::error_code& ec, size_t) {
                              self->after_write(ec, keep_alive);
                          });
    }

    // The header through Beast, then the pieces: runs of small ones copied together into
    // writes of about kChunk, a large one written from where it is. A plain /metrics at
    // 5,000 x 10 is ~35,000 pieces of ~1 KB: written as they were (asio gathers at most 64 a
    // write), they took ~550 writes and several times the kernel time of the same bytes in
    // 256 KB writes.
    struct Message {
        http::response<http::empty_body> res;
        std::optional<http::response_serializer<http::empty_body>> sr;
        std::vector<std::shared_ptr<const std::string>> parts;
        size_t next = 0;    // the first part not written yet
        std::string chunk;  // small parts copied together, reused
    };
    static constexpr size_t kChunk = 256 * 1024, kLargePart = 16 * 1024;

    void write_parts(HttpResponse r, bool keep_alive) {
        auto m = std::make_shared<Message>();
        m->res = http::response<http::empty_body>(static_cast<http::status>(r.status), 11);
        m->res.set(http::field::server, "ballastd");
        m->res.set(http::field::content_type, r.content_type);
        m->res.set(http::field::cache_control, "no-store");
        for (const auto& [name, value] : r.headers) m->res.set(name, value);
        m->res.keep_alive(keep_alive);
        uint64_t size = 0;
        for (const auto& p : r.parts) size += p->size();
        m->res.content_length(size);
        m->parts = std::move(r.parts);
        m->sr.emplace(m->res);
        // One deadline for the header and every piece.
        stream_.expires_after(server_->limits_.write_timeout);
        auto self = shared_from_this();
        http::async_write_header(stream_, *m->sr,
                                 [self, m, keep_alive](const beast::error_code& ec, size_t) {
                                     if (self->closed_) return;
                                     if (ec) {
                                         self->close();
                                         return;
                                     }
                                     self->write_body(m, keep_alive);
                                 });
    }

    void write_body(const std::shared_ptr<Message>& m, bool keep_alive) {
        if (m->next == m->parts.size()) {
            after_write({}, keep_alive);
            return;
        }
        asio::const_buffer next;
        m->chunk.clear();
        while (m->next < m->parts.size() && m->chunk.size() < kChunk) {
            const std::string& part = *m->parts[m->next];
            if (part.size() >= kLargePart) {
                if (m->chunk.empty()) {  // on its own, not copied
                    next = asio::buffer(part);
                    ++m->next;
                }
                break;
            }
            m->chunk += part;
            ++m->next;
        }
        if (next.size() == 0) next = asio::buffer(m->chunk);
        auto self = shared_from_this();
        asio::async_write(stream_, next,
                          [self, m, keep_alive](const beast::error_code& ec, size_t) {
                              if (self->closed_) return;
                              if (ec) {
                                  self->after_write(ec, keep_alive);
                                  return;
                              }
                              self->write_body(m, keep_alive);
                          });
    }

    void after_write(const beast::error_code& ec, bool keep_alive) {
        if (closed_) return;
        if (ec || !keep_alive) {
            close();
            return;
        }
        read(server_->limits_.idle_timeout);
    }

    HttpServer* server_;
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    HttpRequest request_;
    tcp::endpoint peer_;
    bool closed_ = false;
};

HttpServer::HttpServer(asio::io_context& io, HttpHandler& handler, HttpLimits limits)
    : handler_(handler), limits_(limits), acceptor_(io) {}

HttpServer::~HttpServer() {
    stop();
}

Status HttpServer::listen(const model::Endpoint& at) {
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(at.addr.to_string(), ec);
    if (ec) return make_error(EINVAL, "listen", at.to_string());
    const tcp::endpoint ep(addr, at.port);
    acceptor_.open(ep.protocol(), ec);
    if (ec) return make_error(ec.value(), "socket", at.to_string());
    acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    acceptor_.bind(ep, ec);
    if (ec) return make_error(ec.value(), "bind", at.to_string());
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return make_error(ec.value(), "listen", at.to_string());
    port_ = acceptor_.local_endpoint().port();
    accept();
    return {};
}

void HttpServer::stop() {
    if (stopped_) return;
    stopped_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    auto all = sessions_;
    for (auto& s : all) s->close();
    sessions_.clear();
}

void HttpServer::accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
        if (stopped_) return;
        if (!ec) {
            if (sessions_.size() >= limits_.max_connections) {
                static const std::string busy =
                    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                    "Content-Length: 21\r\nConnection: close\r\n\r\ntoo many connections\n";
                (void)::send(socket.native_handle(), busy.data(), busy.size(),
                             MSG_DONTWAIT | MSG_NOSIGNAL);
            } else {
                auto s = std::make_shared<Session>(*this, std::move(socket));
                sessions_.push_back(s);
                s->start();
            }
        }
        accept();
    });
}

void HttpServer::forget(Session* s) {
    sessions_.remove_if([s](const auto& p) { return p.get() == s; });
}

}  // namespace ballast::control
