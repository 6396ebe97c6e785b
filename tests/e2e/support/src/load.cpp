#include "ballast/testing/load.hpp"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include "ballast/testing/net.hpp"
#include "ballast/testing/socket.hpp"

namespace ballast::testing {

using Clock = std::chrono::steady_clock;

const char* to_string(Outcome o) {
    switch (o) {
        case Outcome::ok:
            return "ok";
        case Outcome::refused:
            return "refused";
        case Outcome::reset_early:
            return "reset before the reply";
        case Outcome::broken_reply:
            return "broken reply";
        case Outcome::timeout:
            return "timeout";
        case Outcome::connect_error:
            return "connect error";
    }
    return "?";
}

LoadClient::LoadClient(IsolatedNetns& client, LoadOptions options)
    : client_(client), options_(std::move(options)) {
    if (options_.sources.empty()) throw CommandFailed("LoadClient: no source address");
    thread_ = std::thread([this] {
        try {
            run();
        } catch (const std::exception& e) {
            std::lock_guard lock(mutex_);
            fatal_ = e.what();
        }
    });
}

LoadClient::~LoadClient() {
    finishing_ = true;
    if (thread_.joinable()) thread_.join();
}

void LoadClient::finish() {
    finishing_ = true;
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mutex_);
    if (!fatal_.empty()) throw CommandFailed("load generator: " + fatal_);
}

LoadStats LoadClient::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

std::vector<ConnectionRecord> LoadClient::failures() const {
    std::lock_guard lock(mutex_);
    return failures_;
}

namespace {

struct Connection {
    Fd fd;
    ConnectionRecord record;
    Clock::time_point deadline;
    bool connected = false;
    std::string reply;
};

// The server's name when `reply` is a whole 200 response, else empty.
std::string served_by(const std::string& reply) {
    const auto head_end = reply.find("\r\n\r\n");
    if (reply.rfind("HTTP/1.0 200 OK\r\n", 0) != 0 || head_end == std::string::npos) return {};
    const auto cl = reply.find("Content-Length: ");
    if (cl == std::string::npos || cl > head_end) return {};
    const auto length = std::strtoull(reply.c_str() + cl + 16, nullptr, 10);
    const std::string body = reply.substr(head_end + 4);
    return body.size() == length && !body.empty() ? body : std::string();
}

}  // namespace

void LoadClient::run() {
    enter_netns(client_);
    Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
    if (epoll.fd < 0) throw CommandFailed(std::string("epoll_create1: ") + std::strerror(errno));
    std::map<int, Connection> open;
    std::set<std::pair<Clock::time_point, int>> deadlines;
    std::vector<SockAddr> sources;
    for (const auto& s : options_.sources) sources.push_back(sock_addr(s, 0));
    const SockAddr vip = sock_addr(options_.vip, options_.port);
    uint64_t next_id = 1;
    size_t next_source = 0;

    auto end = [&](int fd, Outcome outcome, std::string detail) {
        auto it = open.find(fd);
        Connection& c = it->second;
        c.record.ended = Clock::now();
        c.record.outcome = outcome;
        c.record.detail = std::move(detail);
        {
            std::lock_guard lock(mutex_);
            ++stats_.completed;
            ++stats_.outcomes[outcome];
            if (outcome == Outcome::ok) {
                ++stats_.by_server[c.record.detail];
                stats_.ok_ms.push_back(
                    static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              c.record.ended - c.record.opened)
                                              .count()));
            } else
                failures_.push_back(c.record);
        }
        ::epoll_ctl(epoll.fd, EPOLL_CTL_DEL, fd, nullptr);
        deadlines.erase({c.deadline, fd});
        open.erase(it);
    };

    auto open_one = [&] {
        const SockAddr& from = sources[next_source++ % sources.size()];
        Fd fd(::socket(vip.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (fd.fd < 0) throw CommandFailed(std::string("socket: ") + std::strerror(errno));
        // The port is chosen at connect, per destination: many more connections per address.
        const int one = 1;
        ::setsockopt(fd.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        Connection c;
        c.record.id = next_id++;
        c.record.opened = Clock::now();
        c.deadline = c.record.opened + options_.timeout;
        {
            std::lock_guard lock(mutex_);
            ++stats_.started;
        }
        const int key = fd.fd;
        if (::bind(fd.fd, from.get(), from.length) != 0 ||
            (::connect(fd.fd, vip.get(), vip.length) != 0 && errno != EINPROGRESS)) {
            const std::string why = std::strerror(errno);
            const Outcome o = errno == ECONNREFUSED ? Outcome::refused : Outcome::connect_error;
            c.fd = std::move(fd);
            open.emplace(key, std::move(c));
            deadlines.insert({open.at(key).deadline, key});
            return end(key, o, why);
        }
        epoll_event ev{};
        ev.events = EPOLLOUT;
        ev.data.fd = key;
        ::epoll_ctl(epoll.fd, EPOLL_CTL_ADD, key, &ev);
        c.fd = std::move(fd);
        deadlines.insert({c.deadline, key});
        open.emplace(key, std::move(c));
    };

    auto on_event = [&](int fd, uint32_t events) {
        Connection& c = open.at(fd);
        if (!c.connected) {
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0)
                return end(fd,
                           err == ECONNREFUSED ? Outcome::refused
                           : err == ECONNRESET ? Outcome::reset_early
                                               : Outcome::connect_error,
                           std::strerror(err));
            if (!(events & EPOLLOUT)) return;
            c.connected = true;
            const std::string request = "GET /sleep/" + std::to_string(options_.think_ms) +
                                        "?id=" + std::to_string(c.record.id) + " HTTP/1.0\r\n\r\n";
            if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
                static_cast<ssize_t>(request.size()))
                return end(fd, Outcome::reset_early, std::string("send: ") + std::strerror(errno));
            epoll_event ev{};
            ev.events = EPOLLIN | EPOLLRDHUP;
            ev.data.fd = fd;
            ::epoll_ctl(epoll.fd, EPOLL_CTL_MOD, fd, &ev);
            return;
        }
        char buf[4096];
        for (;;) {
            const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n > 0) {
                c.reply.append(buf, static_cast<size_t>(n));
                if (c.reply.size() > 65536) return end(fd, Outcome::broken_reply, "too long");
                continue;
            }
            if (n < 0 && errno == EAGAIN) return;
            const std::string why = n == 0 ? "closed" : std::strerror(errno);
            if (c.reply.empty()) return end(fd, Outcome::reset_early, why);
            std::string server = served_by(c.reply);
            if (n == 0 && !server.empty()) return end(fd, Outcome::ok, server);
            return end(fd, Outcome::broken_reply, why + " after " + c.reply.substr(0, 40));
        }
    };

    std::vector<epoll_event> events(512);
    for (;;) {
        while (!finishing_ && open.size() < options_.concurrency) open_one();
        if (finishing_ && open.empty()) return;
        auto now = Clock::now();
        auto next = now + std::chrono::milliseconds(100);
        if (!deadlines.empty()) next = std::min(next, deadlines.begin()->first);
        const int wait_ms = static_cast<int>(std::max<int64_t>(
            0, std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count()));
        const int n =
            ::epoll_wait(epoll.fd, events.data(), static_cast<int>(events.size()), wait_ms);
        if (n < 0 && errno != EINTR)
            throw CommandFailed(std::string("epoll_wait: ") + std::strerror(errno));
        for (int i = 0; i < n; ++i) {
            if (open.count(events[i].data.fd)) on_event(events[i].data.fd, events[i].events);
            // Replace each ended connection at once: a batch of endings must not dip the count.
            while (!finishing_ && open.size() < options_.concurrency) open_one();
        }
        now = Clock::now();
        while (!deadlines.empty() && deadlines.begin()->first <= now) {
            const int fd = deadlines.begin()->second;
            end(fd, Outcome::timeout,
                open.at(fd).connected ? "no whole reply" : "no answer to the SYN");
        }
    }
}

}  // namespace ballast::testing
