#pragma once
// Non-routing facts about the host: sysctls, sockets, bonds. The /proc and /sys
// adapter lives in realserver-agent/netlink; tests use a fake.
#include <cstdint>
#include <string>
#include <vector>

#include "ballast/agent/sockets.hpp"
#include "ballast/model/result.hpp"

namespace ballast::agent {

struct BondSlave {
    std::string name;
    bool link_up = false;  // bonding_slave/mii_status == "up"
    bool operator==(const BondSlave&) const = default;
};

struct BondState {
    std::string mode;          // e.g. "active-backup 1"
    std::string active_slave;  // empty when the mode has none
    std::vector<BondSlave> slaves;
    bool operator==(const BondState&) const = default;
};

class HostInfo {
public:
    virtual ~HostInfo() = default;
    // net.ipv4.conf.<name>.rp_filter; name "all" for the global value.
    virtual Result<int> rp_filter(const std::string& ifname) = 0;
    // Listening TCP and unconnected UDP sockets of this network namespace.
    virtual Result<std::vector<Socket>> sockets() = 0;
    virtual Result<BondState> bond(const std::string& ifname) = 0;
};

}  // namespace ballast::agent
