#include "rtnl.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ballast::agent::rtnl {

Request::Request(uint16_t type, uint16_t flags, const void* header, size_t header_len)
    : buf_(NLMSG_SPACE(header_len), 0) {
    auto* h = hdr();
    h->nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(header_len));
    h->nlmsg_type = type;
    h->nlmsg_flags = static_cast<uint16_t>(flags | NLM_F_REQUEST | NLM_F_ACK);
    std::memcpy(NLMSG_DATA(h), header, header_len);
}

void Request::attr(uint16_t type, const void* data, size_t len) {
    size_t off = NLMSG_ALIGN(hdr()->nlmsg_len);
    buf_.resize(off + RTA_SPACE(len), 0);
    auto* rta = reinterpret_cast<rtattr*>(buf_.data() + off);
    rta->rta_type = type;
    rta->rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
    std::memcpy(RTA_DATA(rta), data, len);
    hdr()->nlmsg_len = static_cast<uint32_t>(off + RTA_SPACE(len));
}

Socket::~Socket() {
    if (fd_ >= 0) ::close(fd_);
}

Status Socket::open() {
    fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd_ < 0) return make_error(errno, "socket(NETLINK_ROUTE)");
    int one = 1;
    // Extended acks: the kernel's own message for EINVAL and friends.
    (void)::setsockopt(fd_, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
    return {};
}

Status Socket::transact(Request& req, const std::function<void(const nlmsghdr*)>& on_msg,
                        const std::string& op, const std::string& key) {
    uint32_t seq = seq_++;
    req.hdr()->nlmsg_seq = seq;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd_, req.hdr(), req.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                 sizeof kernel) < 0)
        return make_error(errno, op, key);
    std::vector<char> buf(65536);
    for (;;) {
        ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return make_error(errno, op, key);
        }
        // Walked by hand: NLMSG_OK mixes signed and unsigned lengths.
        const size_t total = static_cast<size_t>(n);
        for (size_t off = 0; off + sizeof(nlmsghdr) <= total;) {
            auto* h = reinterpret_cast<nlmsghdr*>(buf.data() + off);
            if (h->nlmsg_len < sizeof(nlmsghdr) || off + h->nlmsg_len > total) break;
            off += NLMSG_ALIGN(h->nlmsg_len);
            if (h->nlmsg_seq != seq) continue;
            if (h->nlmsg_type == NLMSG_ERROR) {
                auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(h));
                if (e->error == 0) return {};
                return make_error(-e->error, op, key);
            }
            if (h->nlmsg_type == NLMSG_DONE) return {};
            on_msg(h);
        }
    }
}

}  // namespace ballast::agent::rtnl
