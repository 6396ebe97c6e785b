#include "ballast/control/client.hpp"

#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

namespace ballast::control {

using Clock = std::chrono::steady_clock;

namespace {

std::string group_name(gid_t gid) {
    struct group gr {};
    struct group* found = nullptr;
    std::vector<char> buf(16384);
    if (::getgrgid_r(gid, &gr, buf.data(), buf.size(), &found) == 0 && found) return found->gr_name;
    return std::to_string(gid);
}

// A reply line longer than this is not from a ballastd (a status of 50,000 real servers is
// tens of megabytes; this leaves room for far more).
constexpr size_t kMaxReplyBytes = size_t{1} << 30;

}  // namespace

std::string describe_connect_failure(int error, const std::string& path) {
    switch (error) {
        case ENOENT:
            return "ballastd is not running: there is no control socket at " + path +
                   " (start it with `systemctl start ballastd`; if it runs with another "
                   "director.control_socket, pass --socket PATH)";
        case ECONNREFUSED:
            return "ballastd is not running: " + path +
                   " exists but nothing answers there (a socket left by a daemon that stopped)";
        case EACCES:
        case EPERM: {
            struct stat st {};
            const std::string group =
                ::stat(path.c_str(), &st) == 0 ? " '" + group_name(st.st_gid) + "'" : "";
            return "permission denied on " + path +
                   ": the control socket is for root and the members of its group" + group +
                   " (director.control_group); run as root or join that group";
        }
        case ENOTSOCK:
            return path + " is not a socket: is --socket right?";
        default:
            return "cannot connect to ballastd at " + path + ": " + std::strerror(error);
    }
}

Result<ControlClient> ControlClient::connect(const std::string& path) {
    struct sockaddr_un addr {};
    if (path.size() >= sizeof addr.sun_path)
        return make_error(ENAMETOOLONG, "connect", path, path + ": path too long for a socket");
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return make_error(errno, "socket", path);
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size());
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        const int err = errno;
        ::close(fd);
        return make_error(err, "connect", path, describe_connect_failure(err, path));
    }
    return ControlClient(fd, path);
}

ControlClient::ControlClient(ControlClient&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), path_(std::move(o.path_)), buffer_(std::move(o.buffer_)) {}

ControlClient& ControlClient::operator=(ControlClient&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(o.fd_, -1);
        path_ = std::move(o.path_);
        buffer_ = std::move(o.buffer_);
    }
    return *this;
}

ControlClient::~ControlClient() {
    if (fd_ >= 0) ::close(fd_);
}

Status ControlClient::send(const Request& request, int file_fd) {
    const std::string line = encode_request(request);
    size_t off = 0;
    bool fd_sent = file_fd < 0;
    while (off < line.size()) {
        struct iovec iov {
            const_cast<char*>(line.data() + off), line.size() - off
        };
        struct msghdr msg {};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
        if (!fd_sent) {
            // The descriptor travels with the request's first bytes.
            msg.msg_control = control;
            msg.msg_controllen = sizeof control;
            auto* c = CMSG_FIRSTHDR(&msg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int));
            std::memcpy(CMSG_DATA(c), &file_fd, sizeof(int));
        }
        const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return make_error(
                errno, "send", path_,
                std::string("lost the connection to ballastd: ") + std::strerror(errno));
        }
        fd_sent = true;
        off += static_cast<size_t>(n);
    }
    return {};
}

Result<std::optional<std::variant<Reply, EventLine>>> ControlClient::read_line(
    std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        const auto nl = buffer_.find('\n');
        if (nl != std::string::npos) {
            std::string line = buffer_.substr(0, nl);
            buffer_.erase(0, nl + 1);
            auto decoded = decode_line(line);
            if (auto* p = std::get_if<DecodeProblem>(&decoded))
                return make_error(p->version_mismatch ? EPROTO : EBADMSG, "read", path_,
                                  p->message);
            if (auto* r = std::get_if<Reply>(&decoded))
                return std::optional<std::variant<Reply, EventLine>>(std::move(*r));
            return std::optional<std::variant<Reply, EventLine>>(
                std::move(std::get<EventLine>(decoded)));
        }
        if (buffer_.size() > kMaxReplyBytes)
            return make_error(EMSGSIZE, "read", path_, "the daemon's reply is too long");
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return std::optional<std::variant<Reply, EventLine>>{};
        struct pollfd p {
            fd_, POLLIN, 0
        };
        const int ready =
            ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), INT32_MAX)));
        if (ready < 0) {
            if (errno == EINTR) continue;
            return make_error(errno, "poll", path_);
        }
        if (ready == 0) continue;
        char chunk[65536];
        const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return make_error(
                errno, "recv", path_,
                std::string("lost the connection to ballastd: ") + std::strerror(errno));
        }
        if (n == 0)
            return make_error(ECONNRESET, "recv", path_,
                              "ballastd closed the connection (did it stop?)");
        buffer_.append(chunk, static_cast<size_t>(n));
    }
}

Result<Reply> ControlClient::call(const Request& request, std::chrono::milliseconds timeout,
                                  int file_fd) {
    if (auto st = send(request, file_fd); !st) return st.error();
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        auto line = read_line(std::max(left, std::chrono::milliseconds(0)));
        if (!line) return line.error();
        if (!*line)
            return make_error(
                ETIMEDOUT, "read", path_,
                "ballastd did not answer within " + std::to_string(timeout.count() / 1000) + " s");
        if (auto* r = std::get_if<Reply>(&**line)) {
            if (!r->ok && r->error.code == ErrorCode::version)
                return make_error(EPROTO, "read", path_,
                                  "protocol version mismatch: " + r->error.message);
            return std::move(*r);
        }
        // An event line before the reply (not expected outside "events"): skip it.
    }
}

}  // namespace ballast::control
