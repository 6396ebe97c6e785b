#pragma once
// One rtnetlink request at a time over libmnl, for the requests whose errno matters
// (route lookups, repair). Dumps go through libnl-route-3's caches instead.
#include <linux/netlink.h>

#include <functional>
#include <string>

#include "ballast/model/result.hpp"

struct mnl_socket;

namespace ballast::agent {

class MnlRequester {
public:
    MnlRequester() = default;
    ~MnlRequester();
    MnlRequester(const MnlRequester&) = delete;
    MnlRequester& operator=(const MnlRequester&) = delete;

    Status open();
    // Sends req with an ack requested and hands each reply message (with its length) to
    // on_msg until the ack; the kernel's errno comes back as the error. Replies left from
    // an earlier exchange are drained first; a kernel that never answers times out.
    Status transact(nlmsghdr* req, const std::function<void(const nlmsghdr*, size_t)>& on_msg,
                    const std::string& op, const std::string& key);

private:
    mnl_socket* nl_ = nullptr;
    unsigned portid_ = 0;
    uint32_t seq_ = 1;
};

}  // namespace ballast::agent
