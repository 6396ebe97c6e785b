#include "mnl_request.hpp"

#include <libmnl/libmnl.h>
#include <sys/socket.h>

#include <cerrno>
#include <vector>

namespace ballast::agent {
namespace {

struct Exchange {
    const std::function<void(const nlmsghdr*, size_t)>* on_msg;
};

int on_data(const nlmsghdr* h, void* data) {
    (*static_cast<Exchange*>(data)->on_msg)(h, h->nlmsg_len);
    return MNL_CB_OK;
}

}  // namespace

MnlRequester::~MnlRequester() {
    if (nl_) mnl_socket_close(nl_);
}

Status MnlRequester::open() {
    nl_ = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    if (!nl_) return make_error(errno, "socket(NETLINK_ROUTE)");
    if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0)
        return make_error(errno, "bind(NETLINK_ROUTE)");
    portid_ = mnl_socket_get_portid(nl_);
    int one = 1;
    // Extended acks: the kernel's own message for EINVAL and friends.
    (void)mnl_socket_setsockopt(nl_, NETLINK_EXT_ACK, &one, sizeof one);
    // A kernel that never answers must not stall the agent: 5 s per receive.
    timeval tv{5, 0};
    if (::setsockopt(mnl_socket_get_fd(nl_), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
        return make_error(errno, "setsockopt(SO_RCVTIMEO)");
    return {};
}

Status MnlRequester::transact(nlmsghdr* req,
                              const std::function<void(const nlmsghdr*, size_t)>& on_msg,
                              const std::string& op, const std::string& key) {
    std::vector<char> buf(65536);
    // Whatever an earlier, failed exchange left behind would fail this one's sequence check.
    while (::recv(mnl_socket_get_fd(nl_), buf.data(), buf.size(), MSG_DONTWAIT) > 0) {
    }
    const uint32_t seq = seq_++;
    req->nlmsg_seq = seq;
    req->nlmsg_flags |= NLM_F_ACK;
    if (mnl_socket_sendto(nl_, req, req->nlmsg_len) < 0) return make_error(errno, op, key);
    Exchange ex{&on_msg};
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return make_error(errno, op, key);
        }
        int r = mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, portid_, on_data, &ex);
        if (r == MNL_CB_STOP) return {};  // the ack (error 0) or NLMSG_DONE
        if (r == MNL_CB_ERROR) return make_error(errno, op, key);
    }
}

}  // namespace ballast::agent
