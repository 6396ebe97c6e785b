#include "ballast/control/control_server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <deque>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace ballast::control {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using stream = asio::local::stream_protocol;

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
}

UniqueFd::~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
}

// One client. Requests are answered one at a time, in order; input is read only while no
// complete line waits, so a client that pipelines requests never makes the daemon buffer
// more than one request and one read.
class ControlServer::Connection : public std::enable_shared_from_this<Connection> {
public:
    Connection(ControlServer& server, stream::socket socket, PeerCredentials peer)
        : server_(&server),
          socket_(std::move(socket)),
          timer_(server.io_),
          peer_(std::move(peer)),
          last_activity_(Clock::now()) {}

    void start() { pump(); }

    // Evictable (nothing in progress) since when; nullopt when busy.
    std::optional<Clock::time_point> idle_since() const {
        if (in_flight_ || subscribed_ || writing_ || !inbuf_.empty() || discarding_)
            return std::nullopt;
        return last_activity_;
    }
    bool subscribed() const { return subscribed_ && !closed_; }

    // Best effort: a last line without waiting for the client, then close.
    void close_with(const std::string& line) {
        if (closed_) return;
        if (!writing_)
            (void)::send(socket_.native_handle(), line.data(), line.size(),
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        close();
    }

    void send_event(const std::string& line) {
        if (closed_ || !subscribed_) return;
        send(line);
    }

    void close() {
        if (closed_) return;
        closed_ = true;
        boost::system::error_code ignored;
        timer_.cancel();
        socket_.shutdown(stream::socket::shutdown_both, ignored);
        socket_.close(ignored);
        fds_.clear();
        if (server_) server_->forget(this);
        server_ = nullptr;
    }

private:
    const ControlLimits& limits() const { return server_->limits_; }

    void pump() {
        if (closed_) return;
        while (!in_flight_ && !subscribed_ && !closed_) {
            auto line = take_line();
            if (!line) break;
            handle_line(*line);
        }
        if (closed_) return;
        if (eof_ && !in_flight_ && !writing_) {
            close();
            return;
        }
        maybe_read();
        arm_deadline();
    }

    // A complete line from the input, if one is there; an oversized one becomes an error reply.
    std::optional<std::string> take_line() {
        for (;;) {
            const auto nl = inbuf_.find('\n');
            if (discarding_) {
                if (nl == std::string::npos) {
                    inbuf_.clear();
                    return std::nullopt;
                }
                inbuf_.erase(0, nl + 1);
                discarding_ = false;
                continue;
            }
            if (nl == std::string::npos) {
                if (inbuf_.size() > kMaxRequestBytes) {
                    // The rest of this line is dropped as it arrives; the next line is read.
                    inbuf_.clear();
                    discarding_ = true;
                    send(encode_error({},
                                      ProtocolError{ErrorCode::too_large,
                                                    "request larger than " +
                                                        std::to_string(kMaxRequestBytes) + " bytes",
                                                    {}}));
                }
                return std::nullopt;
            }
            std::string line = inbuf_.substr(0, nl);
            inbuf_.erase(0, nl + 1);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank line
            if (!inbuf_.empty()) line_started_ = Clock::now();
            return line;
        }
    }

    void handle_line(const std::string& line) {
        last_activity_ = Clock::now();
        auto parsed = parse_request(line);
        if (const auto* err = parsed.error()) {
            send(encode_error(parsed.id, *err));
            return;
        }
        Request req = *parsed.request();
        if (changes_state(req.verb) && !may_change_state(peer_, server_->group_)) {
            server_->backend_.log(daemon::Severity::warning,
                                  "control: refused " + std::string(to_string(req.verb)) +
                                      " from " + peer_.describe() +
                                      ": neither root nor in the control group");
            send(encode_error(
                parsed.id, ProtocolError{ErrorCode::permission,
                                         "permission denied: " + std::string(to_string(req.verb)) +
                                             " changes ballastd's state; " + peer_.describe() +
                                             " is neither root nor in director.control_group",
                                         {}}));
            return;
        }
        ControlCall call{std::move(req), peer_, {}};
        if (needs_file(call.request.verb)) {
            if (fds_.empty()) {
                send(encode_error(
                    parsed.id,
                    ProtocolError{ErrorCode::bad_argument,
                                  std::string(to_string(call.request.verb)) +
                                      " needs the file itself: pass its open descriptor with the "
                                      "request (SCM_RIGHTS), as ballastctl does",
                                  {}}));
                return;
            }
            call.file = std::move(fds_.front());
            fds_.pop_front();
        }
        if (call.request.verb == Verb::events) {
            subscribed_ = true;
            send(encode_ok(parsed.id, boost::json::object{{"subscribed", true}}));
            for (auto& l : server_->backend_.event_backlog(call.request.backlog)) send(l);
            return;
        }
        in_flight_ = true;
        auto self = shared_from_this();
        server_->backend_.handle(std::move(call), [self](std::string reply) {
            if (self->closed_) return;
            self->in_flight_ = false;
            self->send(std::move(reply));
            self->pump();
        });
    }

    void send(std::string line) {
        if (closed_) return;
        queued_ += line.size();
        out_.push_back(std::move(line));
        if (subscribed_ && queued_ > limits().subscriber_backlog_bytes) {
            server_->backend_.log(daemon::Severity::warning, "control: events subscriber " +
                                                                 peer_.describe() +
                                                                 " does not keep up; disconnected");
            close();
            return;
        }
        write_next();
    }

    void write_next() {
        if (writing_ || out_.empty() || closed_) return;
        writing_ = true;
        write_started_ = Clock::now();
        arm_deadline();
        auto self = shared_from_this();
        asio::async_write(socket_, asio::buffer(out_.front()),
                          [self](const boost::system::error_code& ec, size_t) {
                              if (self->closed_) return;
                              self->writing_ = false;
                              self->queued_ -= self->out_.front().size();
                              self->out_.pop_front();
                              if (ec) {
                                  self->close();
                                  return;
                              }
                              self->last_activity_ = Clock::now();
                              self->write_next();
                              self->pump();
                          });
    }

    bool wants_input() const {
        if (eof_ || reading_ || closed_) return false;
        if (subscribed_) return true;  // read and dropped: notices the hang-up
        return inbuf_.find('\n') == std::string::npos;
    }

    void maybe_read() {
        if (!wants_input()) return;
        reading_ = true;
        auto self = shared_from_this();
        socket_.async_wait(stream::socket::wait_read, [self](const boost::system::error_code& ec) {
            self->reading_ = false;
            if (self->closed_) return;
            if (ec) {
                self->close();
                return;
            }
            self->read_available();
            self->pump();
        });
    }

    // One recvmsg: bytes and any descriptors passed with them.
    void read_available() {
        std::array<char, 16384> buf;
        alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
        struct iovec iov {
            buf.data(), buf.size()
        };
        struct msghdr msg {};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        const ssize_t n = ::recvmsg(socket_.native_handle(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
            close();
            return;
        }
        for (auto* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
            const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; ++i) {
                int fd;
                std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                UniqueFd owned(fd);
                if (fds_.size() < limits().max_passed_fds) fds_.push_back(std::move(owned));
            }
        }
        if (n == 0) {
            eof_ = true;
            return;
        }
        last_activity_ = Clock::now();
        if (subscribed_) return;  // a subscriber's input is not read as requests
        if (inbuf_.empty() && !discarding_) line_started_ = last_activity_;
        inbuf_.append(buf.data(), static_cast<size_t>(n));
    }

    void arm_deadline() {
        if (closed_) return;
        std::optional<Clock::time_point> at;
        const char* why = "";
        if (writing_) {
            at = write_started_ + limits().write_timeout;
            why = "did not read its reply";
        } else if (!inbuf_.empty() || discarding_) {
            at = line_started_ + limits().request_timeout;
            why = "did not finish its request line";
        } else if (!in_flight_ && !subscribed_) {
            at = last_activity_ + limits().idle_timeout;
            why = "was idle";
        }
        if (!at) {
            timer_.cancel();
            return;
        }
        if (deadline_ == at) return;
        deadline_ = at;
        timer_.expires_at(*at);
        auto self = shared_from_this();
        timer_.async_wait([self, at, why](const boost::system::error_code& ec) {
            if (ec || self->closed_ || self->deadline_ != at) return;
            self->deadline_.reset();
            self->close_with(encode_error(
                {}, ProtocolError{ErrorCode::unavailable,
                                  std::string("closing: the client ") + why + " too long",
                                  {}}));
        });
    }

    ControlServer* server_;
    stream::socket socket_;
    asio::steady_timer timer_;
    PeerCredentials peer_;
    std::string inbuf_;
    std::deque<UniqueFd> fds_;
    std::deque<std::string> out_;
    size_t queued_ = 0;
    bool reading_ = false, writing_ = false, in_flight_ = false;
    bool subscribed_ = false, discarding_ = false, eof_ = false, closed_ = false;
    Clock::time_point last_activity_, line_started_, write_started_;
    std::optional<Clock::time_point> deadline_;
};

ControlServer::ControlServer(asio::io_context& io, ControlBackend& backend,
                             std::optional<gid_t> control_group, ControlLimits limits)
    : io_(io), backend_(backend), group_(control_group), limits_(limits), acceptor_(io) {}

ControlServer::~ControlServer() {
    stop();
}

size_t ControlServer::subscribers() const {
    return static_cast<size_t>(std::count_if(connections_.begin(), connections_.end(),
                                             [](const auto& c) { return c->subscribed(); }));
}

namespace {

// Whether something answers on this unix socket path.
bool socket_is_live(const std::string& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    const bool live = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return live;
}

}  // namespace

Status ControlServer::listen(const std::string& path) {
    if (path.size() >= sizeof(sockaddr_un::sun_path)) return make_error(ENAMETOOLONG, "bind", path);
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return make_error(EEXIST, "bind", path,
                              path + " exists and is not a socket; not replacing it");
        if (socket_is_live(path))
            return make_error(EADDRINUSE, "bind", path,
                              path + ": another process (a running ballastd?) answers there");
        if (::unlink(path.c_str()) != 0) return make_error(errno, "unlink", path);
    } else if (errno != ENOENT) {
        return make_error(errno, "lstat", path);
    }
    boost::system::error_code ec;
    acceptor_.open(stream(), ec);
    if (ec) return make_error(ec.value(), "socket", path);
    // The file is created 0600 (no window in which others could connect), then opened up to
    // the control group.
    const mode_t old_mask = ::umask(0177);
    acceptor_.bind(stream::endpoint(path), ec);
    ::umask(old_mask);
    if (ec) return make_error(ec.value(), "bind", path);
    if (::chown(path.c_str(), static_cast<uid_t>(-1), group_.value_or(0)) != 0)
        return make_error(errno, "chown", path);
    if (::chmod(path.c_str(), 0660) != 0) return make_error(errno, "chmod", path);
    if (::lstat(path.c_str(), &st) != 0) return make_error(errno, "lstat", path);
    inode_ = st.st_ino;
    acceptor_.listen(64, ec);
    if (ec) return make_error(ec.value(), "listen", path);
    path_ = path;
    accept();
    return {};
}

void ControlServer::stop() {
    if (stopped_) return;
    stopped_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    auto all = connections_;
    for (auto& c : all) c->close();
    connections_.clear();
    // Remove the socket file only if it is still ours (not a newer daemon's).
    struct stat st {};
    if (!path_.empty() && ::lstat(path_.c_str(), &st) == 0 && st.st_ino == inode_)
        ::unlink(path_.c_str());
}

void ControlServer::accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, stream::socket socket) {
        if (stopped_) return;
        if (!ec) admit(std::move(socket));
        // EMFILE and the like: try again rather than stop serving.
        accept();
    });
}

void ControlServer::admit(stream::socket socket) {
    auto peer = peer_credentials(socket.native_handle());
    if (!peer) {
        backend_.log(daemon::Severity::warning,
                     "control: cannot read a client's credentials: " + peer.error().describe());
        return;
    }
    if (connections_.size() >= limits_.max_connections) {
        // Make room by closing the connection idle the longest; if every one is busy, refuse.
        std::shared_ptr<Connection> oldest;
        std::optional<Clock::time_point> oldest_at;
        for (const auto& c : connections_) {
            auto since = c->idle_since();
            if (since && (!oldest_at || *since < *oldest_at)) {
                oldest = c;
                oldest_at = since;
            }
        }
        const std::string line =
            encode_error({}, ProtocolError{ErrorCode::unavailable,
                                           "closing: too many connections to the control socket (" +
                                               std::to_string(limits_.max_connections) +
                                               "); this one was idle the longest",
                                           {}});
        if (!oldest) {
            const std::string refuse =
                encode_error({}, ProtocolError{ErrorCode::unavailable,
                                               "too many connections to the control socket; "
                                               "try again later",
                                               {}});
            (void)::send(socket.native_handle(), refuse.data(), refuse.size(),
                         MSG_DONTWAIT | MSG_NOSIGNAL);
            return;
        }
        oldest->close_with(line);
    }
    auto c = std::make_shared<Connection>(*this, std::move(socket), std::move(*peer));
    connections_.push_back(c);
    c->start();
}

void ControlServer::forget(Connection* c) {
    connections_.remove_if([c](const auto& p) { return p.get() == c; });
}

void ControlServer::publish_event(const std::string& line) {
    auto all = connections_;  // a send may close (and forget) a connection
    for (auto& c : all)
        if (c->subscribed()) c->send_event(line);
}

}  // namespace ballast::control
