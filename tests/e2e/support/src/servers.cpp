#include "ballast/testing/servers.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cstring>

namespace ballast::testing {

namespace {

// Waits until fd is readable (or hung up); false on timeout.
bool readable(int fd, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) > 0;
}

void send_all(int fd, const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
        const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return;
        off += static_cast<size_t>(n);
    }
}

std::string errno_word(int e) {
    switch (e) {
        case ECONNREFUSED:
            return "refused";
        case ECONNRESET:
            return "reset";
        case ETIMEDOUT:
        case EAGAIN:
            return "timeout";
        default:
            return std::strerror(e);
    }
}

}  // namespace

HttpServer::HttpServer(IsolatedNetns& ns, std::string ip, uint16_t port, std::string name)
    : ns_(ns), ip_(std::move(ip)), port_(port), name_(std::move(name)) {
    start();
}

HttpServer::~HttpServer() {
    stop();
}

void HttpServer::start() {
    if (thread_.joinable()) return;
    listener_ = ns_.run([&] { return listen_tcp(ip_, port_, 256); });
    stopping_ = false;
    thread_ = std::thread([this, fd = listener_.fd] { serve(fd); });
}

void HttpServer::stop() {
    if (!thread_.joinable()) return;
    stopping_ = true;
    ::shutdown(listener_.fd, SHUT_RDWR);
    thread_.join();
    listener_.reset();  // closed: new connections are refused
}

void HttpServer::serve(int listener) {
    while (!stopping_) {
        if (!readable(listener, 100)) continue;
        Fd c(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
        if (c.fd < 0) continue;
        std::string req;
        char buf[2048];
        while (req.find("\r\n\r\n") == std::string::npos && req.size() < 8192 &&
               readable(c.fd, 2000)) {
            const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
            if (n <= 0) break;
            req.append(buf, static_cast<size_t>(n));
        }
        if (req.find("\r\n\r\n") == std::string::npos) continue;  // a health check's connect
        ++requests_;
        std::string body = name_;
        const auto path_start = req.find(' ') + 1;
        const std::string path = req.substr(path_start, req.find(' ', path_start) - path_start);
        if (path.rfind("/bytes/", 0) == 0) body.assign(std::stoul(path.substr(7)), 'x');
        send_all(c.fd, "HTTP/1.0 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                           "\r\nConnection: close\r\n\r\n" + body);
    }
}

EchoServer::EchoServer(IsolatedNetns& ns, std::string ip, uint16_t port)
    : listener_(ns.run([&] { return listen_tcp(ip, port, 64); })) {
    thread_ = std::thread([this] {
        while (!stopping_) {
            if (!readable(listener_.fd, 100)) continue;
            int c = ::accept4(listener_.fd, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) continue;
            std::lock_guard lock(mutex_);
            sessions_.emplace_back([this, c] {
                Fd conn(c);
                char buf[4096];
                while (!stopping_) {
                    if (!readable(conn.fd, 100)) continue;
                    const ssize_t n = ::recv(conn.fd, buf, sizeof buf, 0);
                    if (n <= 0) return;
                    send_all(conn.fd, std::string(buf, static_cast<size_t>(n)));
                }
            });
        }
    });
}

EchoServer::~EchoServer() {
    stopping_ = true;
    thread_.join();
    std::lock_guard lock(mutex_);
    for (auto& t : sessions_) t.join();
}

std::string http_get(const std::string& ip, uint16_t port, const std::string& path,
                     std::chrono::milliseconds timeout) {
    Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(s.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    auto sa = v4(ip, port);
    if (::connect(s.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
        throw CommandFailed("connect: " + errno_word(errno));
    send_all(s.fd, "GET " + path + " HTTP/1.0\r\nHost: " + ip + "\r\n\r\n");
    std::string reply;
    char buf[16384];
    for (;;) {
        const ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
        if (n == 0) break;
        if (n < 0) throw CommandFailed("read: " + errno_word(errno));
        reply.append(buf, static_cast<size_t>(n));
    }
    const auto body = reply.find("\r\n\r\n");
    if (reply.rfind("HTTP/1.0 200 OK", 0) != 0 || body == std::string::npos)
        throw CommandFailed("bad reply: " + reply.substr(0, 64));
    return reply.substr(body + 4);
}

std::map<std::string, int> http_tally(IsolatedNetns& client, const std::string& ip, uint16_t port,
                                      int n) {
    return client.run([&] {
        std::map<std::string, int> out;
        for (int i = 0; i < n; ++i) {
            try {
                ++out[http_get(ip, port)];
            } catch (const std::exception& e) {
                ++out[std::string("error: ") + e.what()];
            }
        }
        return out;
    });
}

LongConnection::LongConnection(IsolatedNetns& client, const std::string& ip, uint16_t port,
                               std::chrono::milliseconds period)
    : sock_(client.run([] { return Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)); })),
      period_(period) {
    auto sa = v4(ip, port);
    if (::connect(sock_.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
        throw CommandFailed("LongConnection: connect " + ip + ": " + errno_word(errno));
    thread_ = std::thread([this] {
        uint64_t i = 0;
        char buf[256];
        while (!stopping_) {
            const std::string line = "ping " + std::to_string(i++) + "\n";
            send_all(sock_.fd, line);
            std::string got;
            while (got.size() < line.size()) {
                if (!readable(sock_.fd, 5000)) {
                    std::lock_guard lock(mutex_);
                    failure_ =
                        "no echo within 5 s after " + std::to_string(round_trips_) + " round trips";
                    return;
                }
                const ssize_t n = ::recv(sock_.fd, buf, sizeof buf, 0);
                if (n <= 0) {
                    std::lock_guard lock(mutex_);
                    failure_ =
                        (n == 0 ? std::string("closed by peer") : "read: " + errno_word(errno)) +
                        " after " + std::to_string(round_trips_) + " round trips";
                    return;
                }
                got.append(buf, static_cast<size_t>(n));
            }
            if (got != line) {
                std::lock_guard lock(mutex_);
                failure_ = "echo mismatch: " + got;
                return;
            }
            ++round_trips_;
            std::this_thread::sleep_for(period_);
        }
    });
}

LongConnection::~LongConnection() {
    stop();
}

void LongConnection::stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
}

bool LongConnection::failed() const {
    std::lock_guard lock(mutex_);
    return !failure_.empty();
}

std::string LongConnection::failure() const {
    std::lock_guard lock(mutex_);
    return failure_;
}

}  // namespace ballast::testing
