#pragma once
// A small HTTP/1.1 server (Boost.Beast) for the status page, its API and /metrics, on the
// status server's io_context. It enforces the limits -- connection cap, header and body
// size, read, idle and write timeouts -- and hands each complete request to an HttpHandler.
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "ballast/model/address.hpp"
#include "ballast/model/result.hpp"

namespace ballast::control {

struct HttpLimits {
    size_t max_connections = 64;  // beyond: "503" and close
    size_t header_limit = 8 * 1024;
    size_t body_limit = 4 * 1024;
    std::chrono::milliseconds read_timeout{std::chrono::seconds(10)};  // a started request
    std::chrono::milliseconds idle_timeout{std::chrono::seconds(30)};  // between requests
    std::chrono::milliseconds write_timeout{std::chrono::seconds(30)};
};

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;

struct HttpResponse {
    unsigned status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    // Instead of body: the body as pieces, written as they are (gathered), kept alive until
    // written. For large bodies made of kept texts (/metrics).
    std::vector<std::shared_ptr<const std::string>> parts;
    std::vector<std::pair<std::string, std::string>> headers;
};

class HttpHandler {
public:
    virtual ~HttpHandler() = default;
    // One request; `done` may be called later, on the server's io_context.
    virtual void handle(const HttpRequest& request, const boost::asio::ip::tcp::endpoint& peer,
                        std::function<void(HttpResponse)> done) = 0;
};

class HttpServer {
public:
    HttpServer(boost::asio::io_context& io, HttpHandler& handler, HttpLimits limits = {});
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    Status listen(const model::Endpoint& at);  // port 0: any free port (see port())
    void stop();                               // on the io_context's thread
    uint16_t port() const { return port_; }
    size_t connections() const { return sessions_.size(); }

    class Session;  // http_server.cpp

private:
    friend class Session;
    void accept();
    void forget(Session* s);

    HttpHandler& handler_;
    HttpLimits limits_;
    boost::asio::ip::tcp::acceptor acceptor_;
    uint16_t port_ = 0;
    std::list<std::shared_ptr<Session>> sessions_;
    bool stopped_ = false;
};

}  // namespace ballast::control
