#include "ballast/kernel/netlink_socket.hpp"

#include <linux/netlink.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace ballast::kernel::nl {

FdCloser::~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
}

bool set_receive_timeout(int fd, std::chrono::milliseconds timeout) {
    const auto ms = std::max<int64_t>(timeout.count(), 0);
    timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>(ms % 1000 * 1000)};
    return ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0;
}

int open_generic_socket(std::chrono::milliseconds receive_timeout) {
    int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
    if (fd < 0) return -1;
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    if (!set_receive_timeout(fd, receive_timeout) ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
        const int err = errno;
        ::close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

Error sys_error(int err, const char* op, std::string what) {
    return make_error(err, op, {}, std::move(what) + ": " + std::strerror(err));
}

Error receive_failure(int fd, int err, const char* op) {
    if (err == EAGAIN || err == EWOULDBLOCK) {
        timeval tv{};
        socklen_t len = sizeof tv;
        (void)::getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len);
        const long long ms = static_cast<long long>(tv.tv_sec) * 1000 + tv.tv_usec / 1000;
        return make_error(
            ETIMEDOUT, op, {},
            "no reply from the kernel within " +
                (ms % 1000 ? std::to_string(ms) + " ms" : std::to_string(ms / 1000) + " s"));
    }
    return sys_error(
        err, op,
        err == ENOBUFS ? "netlink receive buffer overrun, replies lost" : "netlink receive failed");
}

Error truncated_reply(const char* op) {
    return make_error(EMSGSIZE, op, {}, "netlink reply larger than the receive buffer");
}

void drain(int fd) {
    uint8_t byte;
    // MSG_TRUNC: each datagram is dropped whole whatever its length, without copying it.
    while (::recv(fd, &byte, sizeof byte, MSG_DONTWAIT | MSG_TRUNC) >= 0 || errno == EINTR) {
    }
}

Status send_request(int fd, Bytes bytes, const char* op) {
    for (;;) {
        // No address: a netlink socket sends to the kernel (its default destination).
        ssize_t n = ::send(fd, bytes.data(), bytes.size(), 0);
        if (n >= 0) return {};
        if (errno == EINTR) continue;
        return sys_error(errno, op, "netlink send failed");
    }
}

Result<int> end_of_dump_errno(const Message& m) {
    if (m.type == NLMSG_ERROR) {
        auto ack = decode_ack(m);
        if (!ack) return ack.error();
        return -ack->error;
    }
    int32_t v = 0;
    if (m.payload.size() >= sizeof v) std::memcpy(&v, m.payload.data(), sizeof v);
    return v < 0 ? -v : 0;
}

size_t receive_slot_bytes() {
    long page = ::sysconf(_SC_PAGESIZE);
    // The kernel's NLMSG_GOODSIZE is below min(page, 8 KiB); never pass less than it.
    return std::clamp<size_t>(page > 0 ? static_cast<size_t>(page) : 4096, 4096, 8192);
}

ReceiveSlots::ReceiveSlots(size_t slots)
    : slot_bytes_(receive_slot_bytes()), buf_(slots * slot_bytes_), msgs_(slots), iov_(slots) {
    for (size_t i = 0; i < slots; ++i) {
        iov_[i] = iovec{buf_.data() + i * slot_bytes_, slot_bytes_};
        msgs_[i].msg_hdr = msghdr{};
        msgs_[i].msg_hdr.msg_iov = &iov_[i];
        msgs_[i].msg_hdr.msg_iovlen = 1;
    }
}

Result<size_t> ReceiveSlots::receive(int fd, const char* op) {
    for (;;) {
        int n = ::recvmmsg(fd, msgs_.data(), static_cast<unsigned>(msgs_.size()), MSG_WAITFORONE,
                           nullptr);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return receive_failure(fd, errno, op);
        for (size_t i = 0; i < static_cast<size_t>(n); ++i)
            if (msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) return truncated_reply(op);
        return static_cast<size_t>(n);
    }
}

Result<size_t> receive_datagram(int fd, std::span<uint8_t> buf, const char* op) {
    for (;;) {
        iovec iov{buf.data(), buf.size()};
        msghdr mh{};
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        ssize_t n = ::recvmsg(fd, &mh, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return receive_failure(fd, errno, op);
        if (mh.msg_flags & MSG_TRUNC) return truncated_reply(op);
        return static_cast<size_t>(n);
    }
}

}  // namespace ballast::kernel::nl
