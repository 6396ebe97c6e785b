#include "ballast/testing/servers.hpp"

#include <openssl/evp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cstring>
#include <set>

#include "ballast/testing/net.hpp"

namespace ballast::testing {

using Clock = std::chrono::steady_clock;

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
        case EINPROGRESS:  // a blocking connect that ran into SO_SNDTIMEO
            return "timeout";
        default:
            return std::strerror(e);
    }
}

uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void set_timeouts(int fd, std::chrono::milliseconds timeout) {
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// A blocking socket of ip's family, bound to `source` when given, connected to ip:port.
Fd connect_to(int type, const std::string& ip, uint16_t port, const std::string& source,
              std::chrono::milliseconds timeout) {
    const SockAddr to = sock_addr(ip, port);
    Fd s(::socket(to.family(), type | SOCK_CLOEXEC, 0));
    if (s.fd < 0) throw CommandFailed("socket: " + errno_word(errno));
    set_timeouts(s.fd, timeout);
    if (!source.empty()) {
        const SockAddr from = sock_addr(source, 0);
        if (::bind(s.fd, from.get(), from.length) != 0)
            throw CommandFailed("bind " + source + ": " + errno_word(errno));
    }
    if (::connect(s.fd, to.get(), to.length) != 0)
        throw CommandFailed("connect: " + errno_word(errno));
    return s;
}

// "GET /path?id=7 HTTP/1.0" -> ("/path", 7 or nullopt).
std::pair<std::string, std::optional<uint64_t>> request_target(const std::string& request) {
    const auto start = request.find(' ') + 1;
    std::string target = request.substr(start, request.find(' ', start) - start);
    std::optional<uint64_t> id;
    if (const auto q = target.find('?'); q != std::string::npos) {
        const auto p = target.find("id=", q);
        if (p != std::string::npos) id = std::strtoull(target.c_str() + p + 3, nullptr, 10);
        target.resize(q);
    }
    return {target, id};
}

}  // namespace

void fill_data(uint64_t offset, char* out, size_t n) {
    for (size_t i = 0; i < n;) {
        const uint64_t at = offset + i;
        const uint64_t word = splitmix64(at / 8);
        for (size_t b = at % 8; b < 8 && i < n; ++b, ++i)
            out[i] = static_cast<char>((word >> (8 * b)) & 0xff);
    }
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
}
Sha256::~Sha256() {
    EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
}
void Sha256::update(const char* data, size_t n) {
    EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, n);
}
std::string Sha256::hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &len);
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out += digits[md[i] >> 4];
        out += digits[md[i] & 15];
    }
    return out;
}

std::string data_sha256(uint64_t n) {
    Sha256 sha;
    std::vector<char> buf(1 << 16);
    for (uint64_t off = 0; off < n;) {
        const size_t chunk = static_cast<size_t>(std::min<uint64_t>(buf.size(), n - off));
        fill_data(off, buf.data(), chunk);
        sha.update(buf.data(), chunk);
        off += chunk;
    }
    return sha.hex();
}

// ---- HttpServer ------------------------------------------------------------------------

struct HttpServer::Connection {
    Fd fd;
    std::string in;
    bool answering = false;                  // the request was read
    std::optional<Clock::time_point> timer;  // give up reading, or answer after a sleep
    std::string out;                         // bytes to send next
    size_t out_sent = 0;
    uint64_t gen_left = 0;  // body bytes still to generate
    uint64_t gen_offset = 0;
    char gen_kind = 0;  // 'x' or 'd' (fill_data)
};

HttpServer::HttpServer(IsolatedNetns& ns, std::string ip, uint16_t port, std::string name)
    : HttpServer(&ns, std::move(ip), port, std::move(name)) {}

HttpServer::HttpServer(std::string ip, uint16_t port, std::string name)
    : HttpServer(nullptr, std::move(ip), port, std::move(name)) {}

HttpServer::HttpServer(IsolatedNetns* ns, std::string ip, uint16_t port, std::string name)
    : ns_(ns), ip_(std::move(ip)), port_(port), name_(std::move(name)) {
    epoll_ = Fd(::epoll_create1(EPOLL_CLOEXEC));
    wake_ = Fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (epoll_.fd < 0 || wake_.fd < 0) throw CommandFailed("HttpServer: epoll/eventfd failed");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_.fd;
    ::epoll_ctl(epoll_.fd, EPOLL_CTL_ADD, wake_.fd, &ev);
    thread_ = std::thread([this] { loop(); });
    start();
}

HttpServer::~HttpServer() {
    command(Command::quit);
    thread_.join();
}

void HttpServer::start() {
    if (listening_) return;
    Fd l = ns_ ? ns_->run([&] { return listen_on(ip_, port_); }) : listen_on(ip_, port_);
    command(Command::listen, std::move(l));
    listening_ = true;
}

void HttpServer::stop() {
    if (!listening_) return;
    command(Command::close_listener);  // closed when this returns: new connections are refused
    listening_ = false;
}

bool HttpServer::saw(uint64_t id) const {
    std::lock_guard lock(ids_mutex_);
    return ids_.count(id) > 0;
}

void HttpServer::command(Command c, Fd listener) {
    std::future<void> done;
    {
        std::lock_guard lock(commands_mutex_);
        commands_.emplace_back(c, std::move(listener), std::promise<void>());
        done = std::get<2>(commands_.back()).get_future();
    }
    const uint64_t one = 1;
    (void)!::write(wake_.fd, &one, sizeof one);
    done.get();
}

void HttpServer::loop() {
    std::vector<epoll_event> events(256);
    for (;;) {
        // Wake for the earliest timer (a sleep's end, a read deadline), at most 100 ms away.
        auto now = Clock::now();
        auto next = now + std::chrono::milliseconds(100);
        if (!timers_.empty()) next = std::min(next, timers_.begin()->first);
        const int wait_ms = static_cast<int>(std::max<int64_t>(
            0, std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count()));
        const int n =
            ::epoll_wait(epoll_.fd, events.data(), static_cast<int>(events.size()), wait_ms);
        for (int i = 0; i < n; ++i) {
            const int fd = events[i].data.fd;
            if (fd == wake_.fd) {
                uint64_t v;
                (void)!::read(wake_.fd, &v, sizeof v);
                std::deque<std::tuple<Command, Fd, std::promise<void>>> todo;
                {
                    std::lock_guard lock(commands_mutex_);
                    todo.swap(commands_);
                }
                bool quit = false;
                for (auto& [c, l, done] : todo) {
                    if (c == Command::listen) {
                        listener_ = std::move(l);
                        epoll_event ev{};
                        ev.events = EPOLLIN;
                        ev.data.fd = listener_.fd;
                        ::epoll_ctl(epoll_.fd, EPOLL_CTL_ADD, listener_.fd, &ev);
                    } else if (listener_.fd >= 0) {
                        ::epoll_ctl(epoll_.fd, EPOLL_CTL_DEL, listener_.fd, nullptr);
                        listener_.reset();
                    }
                    if (c == Command::quit) {
                        connections_.clear();
                        quit = true;
                    }
                    done.set_value();
                }
                if (quit) return;
            } else if (listener_.fd >= 0 && fd == listener_.fd) {
                accept_all();
            } else if (auto it = connections_.find(fd); it != connections_.end()) {
                Connection& c = *it->second;
                if (events[i].events & (EPOLLERR | EPOLLHUP)) {
                    close_connection(fd);
                } else if (!c.answering && (events[i].events & EPOLLIN)) {
                    on_readable(c);
                } else if (c.answering && (events[i].events & EPOLLOUT)) {
                    write_some(c);
                }
            }
        }
        now = Clock::now();
        while (!timers_.empty() && timers_.begin()->first <= now) {
            const int fd = timers_.begin()->second;
            Connection& c = *connections_.at(fd);
            if (!c.answering) {
                close_connection(fd);  // no whole request in time (a TCP check's connect)
            } else {
                set_timer(c, std::nullopt);
                epoll_event ev{};
                ev.events = EPOLLOUT;
                ev.data.fd = fd;
                ::epoll_ctl(epoll_.fd, EPOLL_CTL_MOD, fd, &ev);
                write_some(c);
            }
        }
    }
}

void HttpServer::accept_all() {
    for (;;) {
        Fd fd(::accept4(listener_.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (fd.fd < 0) return;
        auto c = std::make_unique<Connection>();
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd.fd;
        ::epoll_ctl(epoll_.fd, EPOLL_CTL_ADD, fd.fd, &ev);
        const int key = fd.fd;
        c->fd = std::move(fd);
        set_timer(*c, Clock::now() + std::chrono::seconds(5));
        connections_[key] = std::move(c);
    }
}

void HttpServer::on_readable(Connection& c) {
    char buf[4096];
    for (;;) {
        const ssize_t n = ::recv(c.fd.fd, buf, sizeof buf, 0);
        if (n > 0) {
            c.in.append(buf, static_cast<size_t>(n));
            if (c.in.find("\r\n\r\n") != std::string::npos) return respond(c, c.in);
            if (c.in.size() > 8192) return close_connection(c.fd.fd);
            continue;
        }
        if (n < 0 && errno == EAGAIN) return;
        return close_connection(c.fd.fd);  // closed or failed before a whole request
    }
}

void HttpServer::respond(Connection& c, const std::string& request) {
    ++requests_;
    // Not a structured binding: clang 14 cannot capture one in the lambda below.
    const auto target = request_target(request);
    const std::string& path = target.first;
    const std::optional<uint64_t>& id = target.second;
    if (id) {
        std::lock_guard lock(ids_mutex_);
        ids_.insert(*id);
    }
    std::string body = name_;
    auto number = [&](const char* prefix) { return std::stoull(path.substr(std::strlen(prefix))); };
    Clock::time_point answer_at = Clock::now();
    if (path.rfind("/bytes/", 0) == 0) {
        body.clear();
        c.gen_kind = 'x';
        c.gen_left = number("/bytes/");
    } else if (path.rfind("/data/", 0) == 0) {
        body.clear();
        c.gen_kind = 'd';
        c.gen_left = number("/data/");
    } else if (path.rfind("/sleep/", 0) == 0) {
        answer_at += std::chrono::milliseconds(number("/sleep/"));
    }
    c.out = "HTTP/1.0 200 OK\r\nContent-Length: " + std::to_string(body.size() + c.gen_left) +
            "\r\nConnection: close\r\n\r\n" + body;
    c.answering = true;
    set_timer(c, answer_at);
    // Until it is time to answer, wait for nothing (errors and hang-ups are still reported).
    epoll_event ev{};
    ev.events = 0;
    ev.data.fd = c.fd.fd;
    ::epoll_ctl(epoll_.fd, EPOLL_CTL_MOD, c.fd.fd, &ev);
}

void HttpServer::write_some(Connection& c) {
    for (;;) {
        if (c.out_sent == c.out.size()) {
            if (c.gen_left == 0) return close_connection(c.fd.fd);  // all sent
            const size_t chunk = static_cast<size_t>(std::min<uint64_t>(c.gen_left, 1 << 16));
            c.out.resize(chunk);
            if (c.gen_kind == 'x')
                std::memset(c.out.data(), 'x', chunk);
            else
                fill_data(c.gen_offset, c.out.data(), chunk);
            c.gen_offset += chunk;
            c.gen_left -= chunk;
            c.out_sent = 0;
        }
        const ssize_t n =
            ::send(c.fd.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
        if (n > 0) {
            c.out_sent += static_cast<size_t>(n);
            continue;
        }
        if (n < 0 && errno == EAGAIN) return;  // EPOLLOUT brings us back
        return close_connection(c.fd.fd);
    }
}

void HttpServer::set_timer(Connection& c, std::optional<Clock::time_point> at) {
    if (c.timer) timers_.erase({*c.timer, c.fd.fd});
    c.timer = at;
    if (at) timers_.insert({*at, c.fd.fd});
}

void HttpServer::close_connection(int fd) {
    ::epoll_ctl(epoll_.fd, EPOLL_CTL_DEL, fd, nullptr);
    if (auto it = connections_.find(fd); it != connections_.end()) {
        set_timer(*it->second, std::nullopt);
        connections_.erase(it);
    }
}

// ---- EchoServer ------------------------------------------------------------------------

EchoServer::EchoServer(IsolatedNetns& ns, std::string ip, uint16_t port)
    : listener_(ns.run([&] { return listen_on(ip, port, SOCK_STREAM, 64); })) {
    thread_ = std::thread([this] {
        while (!stopping_) {
            if (!readable(listener_.fd, 100)) continue;
            SockAddr peer;
            peer.length = sizeof peer.storage;
            int c = ::accept4(listener_.fd, reinterpret_cast<sockaddr*>(&peer.storage),
                              &peer.length, SOCK_CLOEXEC);
            if (c < 0) continue;
            ++accepted_;
            ++open_;
            std::lock_guard lock(mutex_);
            ++accepted_from_[ip_text(peer)];
            sessions_.emplace_back([this, c] {
                Fd conn(c);
                char buf[4096];
                while (!stopping_) {
                    if (!readable(conn.fd, 100)) continue;
                    const ssize_t n = ::recv(conn.fd, buf, sizeof buf, 0);
                    if (n <= 0) break;
                    send_all(conn.fd, std::string(buf, static_cast<size_t>(n)));
                }
                --open_;
            });
        }
    });
}

uint64_t EchoServer::accepted_from(const std::string& ip) const {
    std::lock_guard lock(mutex_);
    auto it = accepted_from_.find(ip);
    return it == accepted_from_.end() ? 0 : it->second;
}

EchoServer::~EchoServer() {
    stopping_ = true;
    thread_.join();
    std::lock_guard lock(mutex_);
    for (auto& t : sessions_) t.join();
}

// ---- DNS -------------------------------------------------------------------------------

namespace {

constexpr uint16_t kTypeA = 1, kTypeAAAA = 28;

void put16(std::string& out, uint16_t v) {
    out += static_cast<char>(v >> 8);
    out += static_cast<char>(v & 0xff);
}
uint16_t get16(const std::string& in, size_t at) {
    return static_cast<uint16_t>(static_cast<uint8_t>(in.at(at)) << 8 |
                                 static_cast<uint8_t>(in.at(at + 1)));
}

// The end of the (uncompressed or pointer-terminated) name at `at`; throws when malformed.
size_t skip_name(const std::string& m, size_t at) {
    for (;;) {
        const uint8_t len = static_cast<uint8_t>(m.at(at));
        if (len == 0) return at + 1;
        if ((len & 0xc0) == 0xc0) return at + 2;
        at += 1 + len;
    }
}

// The reply to one query (the question copied, one answer of the server's address when the
// type matches its family), or empty for something that is not a query.
std::string dns_reply(const std::string& q, const std::string& answer) {
    if (q.size() < 12 || (static_cast<uint8_t>(q[2]) & 0x80) || get16(q, 4) != 1) return {};
    const size_t qend = skip_name(q, 12) + 4;
    if (qend > q.size()) return {};
    const uint16_t qtype = get16(q, qend - 4);
    const SockAddr a = sock_addr(answer, 0);
    const bool v6 = a.family() == AF_INET6;
    const bool match = qtype == (v6 ? kTypeAAAA : kTypeA);
    std::string r = q.substr(0, 2);
    put16(r, 0x8180);  // response, recursion desired and available, NOERROR
    put16(r, 1);
    put16(r, match ? 1 : 0);
    put16(r, 0);
    put16(r, 0);
    r += q.substr(12, qend - 12);
    if (match) {
        put16(r, 0xc00c);  // the question's name
        put16(r, qtype);
        put16(r, 1);        // IN
        r.append(4, '\0');  // TTL 0
        if (v6) {
            const auto* s = reinterpret_cast<const sockaddr_in6*>(&a.storage);
            put16(r, 16);
            r.append(reinterpret_cast<const char*>(&s->sin6_addr), 16);
        } else {
            const auto* s = reinterpret_cast<const sockaddr_in*>(&a.storage);
            put16(r, 4);
            r.append(reinterpret_cast<const char*>(&s->sin_addr), 4);
        }
    }
    return r;
}

}  // namespace

DnsServer::DnsServer(IsolatedNetns& ns, std::string ip, uint16_t port, std::string answer)
    : DnsServer(&ns, std::move(ip), port, std::move(answer)) {}

DnsServer::DnsServer(std::string ip, uint16_t port, std::string answer)
    : DnsServer(nullptr, std::move(ip), port, std::move(answer)) {}

DnsServer::DnsServer(IsolatedNetns* ns, std::string ip, uint16_t port, std::string answer)
    : ns_(ns), ip_(std::move(ip)), answer_(std::move(answer)), port_(port) {
    start();
}

DnsServer::~DnsServer() {
    stop();
}

void DnsServer::start() {
    if (thread_.joinable()) return;
    socket_ = ns_ ? ns_->run([&] { return listen_on(ip_, port_, SOCK_DGRAM); })
                  : listen_on(ip_, port_, SOCK_DGRAM);
    stopping_ = false;
    thread_ = std::thread([this] {
        char buf[1500];
        while (!stopping_) {
            if (!readable(socket_.fd, 100)) continue;
            sockaddr_storage from{};
            socklen_t len = sizeof from;
            const ssize_t n = ::recvfrom(socket_.fd, buf, sizeof buf, 0,
                                         reinterpret_cast<sockaddr*>(&from), &len);
            if (n <= 0) continue;
            std::string reply;
            try {
                reply = dns_reply(std::string(buf, static_cast<size_t>(n)), answer_);
            } catch (const std::exception&) {
                continue;  // malformed: no answer
            }
            if (reply.empty()) continue;
            ++queries_;
            ::sendto(socket_.fd, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from),
                     len);
        }
    });
}

void DnsServer::stop() {
    if (!thread_.joinable()) return;
    stopping_ = true;
    thread_.join();
    socket_.reset();  // closed: queries get ICMP port unreachable
}

std::string dns_query(const std::string& ip, uint16_t port, const std::string& name,
                      std::chrono::milliseconds timeout, const std::string& source) {
    Fd s = connect_to(SOCK_DGRAM, ip, port, source, timeout);
    const bool v6 = ip.find(':') != std::string::npos;
    static std::atomic<uint16_t> next_id{1};
    const uint16_t id = next_id++;
    std::string q;
    put16(q, id);
    put16(q, 0x0100);  // recursion desired
    put16(q, 1);
    q.append(6, '\0');
    for (size_t start = 0; start < name.size();) {
        size_t dot = name.find('.', start);
        if (dot == std::string::npos) dot = name.size();
        q += static_cast<char>(dot - start);
        q += name.substr(start, dot - start);
        start = dot + 1;
    }
    q += '\0';
    put16(q, v6 ? kTypeAAAA : kTypeA);
    put16(q, 1);
    if (::send(s.fd, q.data(), q.size(), 0) != static_cast<ssize_t>(q.size()))
        throw CommandFailed("send: " + errno_word(errno));
    char buf[1500];
    const ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
    if (n < 0) throw CommandFailed("read: " + errno_word(errno));
    const std::string r(buf, static_cast<size_t>(n));
    try {
        if (get16(r, 0) != id || !(static_cast<uint8_t>(r[2]) & 0x80) || (r[3] & 0x0f) != 0 ||
            get16(r, 6) == 0)
            throw CommandFailed("bad reply");
        const size_t answer = skip_name(r, 12) + 4;
        const size_t rdata = skip_name(r, answer) + 10;
        const uint16_t length = get16(r, rdata - 2);
        if (rdata + length > r.size() || (length != 4 && length != 16))
            throw CommandFailed("bad reply");
        char text[INET6_ADDRSTRLEN] = {};
        ::inet_ntop(length == 4 ? AF_INET : AF_INET6, r.data() + rdata, text, sizeof text);
        return text;
    } catch (const std::out_of_range&) {
        throw CommandFailed("bad reply: truncated");
    }
}

std::map<std::string, int> dns_tally(IsolatedNetns& client, const std::string& ip, uint16_t port,
                                     int n, const std::string& source) {
    return client.run([&] {
        std::map<std::string, int> out;
        for (int i = 0; i < n; ++i) {
            try {
                ++out[dns_query(ip, port, "demo.ballast.test", std::chrono::seconds(3), source)];
            } catch (const std::exception& e) {
                ++out[std::string("error: ") + e.what()];
            }
        }
        return out;
    });
}

// ---- clients ---------------------------------------------------------------------------

namespace {

std::string http_get_from(const std::string& ip, uint16_t port, const std::string& path,
                          std::chrono::milliseconds timeout, const std::string& source) {
    Fd s = connect_to(SOCK_STREAM, ip, port, source, timeout);
    const std::string host = ip.find(':') == std::string::npos ? ip : "[" + ip + "]";
    send_all(s.fd, "GET " + path + " HTTP/1.0\r\nHost: " + host + "\r\n\r\n");
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

}  // namespace

std::string http_get(const std::string& ip, uint16_t port, const std::string& path,
                     std::chrono::milliseconds timeout) {
    return http_get_from(ip, port, path, timeout, "");
}

std::map<std::string, int> http_tally_here(const std::string& ip, uint16_t port, int n,
                                           const std::string& source) {
    std::map<std::string, int> out;
    for (int i = 0; i < n; ++i) {
        try {
            ++out[http_get_from(ip, port, "/", std::chrono::seconds(5), source)];
        } catch (const std::exception& e) {
            ++out[std::string("error: ") + e.what()];
        }
    }
    return out;
}

std::map<std::string, int> http_tally(IsolatedNetns& client, const std::string& ip, uint16_t port,
                                      int n) {
    return client.run([&] { return http_tally_here(ip, port, n); });
}

Download download_data(const std::string& ip, uint16_t port, uint64_t n, uint64_t bytes_per_second,
                       std::chrono::milliseconds timeout) {
    Download d;
    d.expected_sha256 = data_sha256(n);
    const auto start = Clock::now();
    try {
        Fd s = connect_to(SOCK_STREAM, ip, port, "", timeout);
        // A small receive buffer, so a slow reader really holds the sender back.
        if (bytes_per_second) {
            const int size = 64 * 1024;
            ::setsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        }
        send_all(s.fd, "GET /data/" + std::to_string(n) + " HTTP/1.0\r\n\r\n");
        Sha256 sha;
        std::string head;
        std::vector<char> buf(16384);
        for (;;) {
            const ssize_t got = ::recv(s.fd, buf.data(), buf.size(), 0);
            if (got == 0) break;
            if (got < 0) throw CommandFailed("read: " + errno_word(errno));
            size_t body_at = 0;
            if (head.size() < 4 || head.compare(head.size() - 4, 4, "\r\n\r\n") != 0) {
                // Still in the response head: move bytes until its end.
                size_t i = 0;
                for (; i < static_cast<size_t>(got); ++i) {
                    head += buf[i];
                    if (head.size() >= 4 && head.compare(head.size() - 4, 4, "\r\n\r\n") == 0) {
                        ++i;
                        break;
                    }
                }
                body_at = i;
                if (head.size() >= 4 && head.compare(head.size() - 4, 4, "\r\n\r\n") == 0 &&
                    head.rfind("HTTP/1.0 200 OK", 0) != 0)
                    throw CommandFailed("bad reply: " + head.substr(0, 64));
            }
            sha.update(buf.data() + body_at, static_cast<size_t>(got) - body_at);
            d.bytes += static_cast<size_t>(got) - body_at;
            if (bytes_per_second) {
                const auto due =
                    start + std::chrono::microseconds(d.bytes * 1000000 / bytes_per_second);
                std::this_thread::sleep_until(due);
            }
        }
        d.sha256 = sha.hex();
        if (d.bytes != n)
            d.error =
                "closed after " + std::to_string(d.bytes) + " of " + std::to_string(n) + " bytes";
    } catch (const std::exception& e) {
        d.error = e.what();
    }
    d.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return d;
}

LongConnection::LongConnection(IsolatedNetns& client, const std::string& ip, uint16_t port,
                               std::chrono::milliseconds period)
    : sock_(client.run(
          [&] { return connect_to(SOCK_STREAM, ip, port, "", std::chrono::milliseconds(5000)); })),
      period_(period) {
    set_timeouts(sock_.fd, std::chrono::milliseconds(0));
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

int error_count(const std::map<std::string, int>& tally) {
    int n = 0;
    for (const auto& [k, v] : tally)
        if (k.rfind("error", 0) == 0) n += v;
    return n;
}

std::string tally_text(const std::map<std::string, int>& tally) {
    std::string s;
    for (const auto& [k, v] : tally) s += k + "=" + std::to_string(v) + " ";
    return s;
}

}  // namespace ballast::testing
