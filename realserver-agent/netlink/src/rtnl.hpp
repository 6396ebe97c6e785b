#pragma once
// A minimal request/ack rtnetlink socket for single requests whose errno matters.
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ballast/model/result.hpp"

namespace ballast::agent::rtnl {

class Request {
public:
    Request(uint16_t type, uint16_t flags, const void* header, size_t header_len);
    void attr(uint16_t type, const void* data, size_t len);
    void u32(uint16_t type, uint32_t v) { attr(type, &v, sizeof v); }
    nlmsghdr* hdr() { return reinterpret_cast<nlmsghdr*>(buf_.data()); }
    size_t size() const { return buf_.size(); }

private:
    std::vector<char> buf_;
};

class Socket {
public:
    Socket() = default;
    ~Socket();
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    Status open();
    // Sends req (ACK requested) and calls on_msg for each reply until the ack/error.
    Status transact(Request& req, const std::function<void(const nlmsghdr*)>& on_msg,
                    const std::string& op, const std::string& key);

private:
    int fd_ = -1;
    uint32_t seq_ = 1;
};

}  // namespace ballast::agent::rtnl
