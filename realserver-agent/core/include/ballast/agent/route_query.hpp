#pragma once
// What the agent asks the kernel about routing. The rtnetlink adapter lives in
// realserver-agent/netlink; tests use a recording fake (tests/fakes).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ballast/model/address.hpp"
#include "ballast/model/result.hpp"

namespace ballast::agent {

using model::IpAddress;
using model::IpPrefix;

struct Link {
    int index = 0;
    std::string name;
    bool admin_up = false;  // IFF_UP
    bool oper_up = false;   // IFF_LOWER_UP / IFF_RUNNING: carrier present
    std::string kind;       // IFLA_INFO_KIND: "bond", "veth", "" for plain devices
    int master = 0;         // ifindex of the bond/bridge this link is enslaved to, 0 if none
    bool operator==(const Link&) const = default;
};

// A local address: prefix.addr is the address, prefix.length its subnet length.
struct Address {
    int ifindex = 0;
    IpPrefix prefix;
    bool operator==(const Address&) const = default;
};

// The kernel's answer to `ip route get DST from SRC`: the effective next hop and
// device (route cache and exceptions included), plus the FIB entry that matched
// (`ip route get fibmatch`) so a verdict can say which table and metric won.
struct RouteAnswer {
    uint8_t type = 1;  // RTN_UNICAST, RTN_LOCAL, RTN_UNREACHABLE, ...
    std::optional<IpAddress> gateway;
    int oif = 0;
    uint32_t table = 254;             // table of the matching FIB entry
    uint32_t metric = 0;              // priority of the matching FIB entry
    std::optional<IpPrefix> matched;  // destination prefix of the matching FIB entry
    bool operator==(const RouteAnswer&) const = default;
};

// One route of any table (RTM_GETROUTE dump).
struct Route {
    uint32_t table = 254;
    uint8_t type = 1;  // RTN_UNICAST
    IpPrefix dst;
    std::optional<IpAddress> gateway;
    int oif = 0;
    uint32_t metric = 0;
    uint8_t protocol = 0;
    uint8_t scope = 0;
    std::optional<IpAddress> prefsrc;
    bool operator==(const Route&) const = default;
};

// One policy-routing rule (RTM_GETRULE dump).
struct Rule {
    uint8_t family = AF_INET;
    uint32_t priority = 0;
    std::optional<IpPrefix> src;
    std::optional<IpPrefix> dst;
    uint32_t table = 254;
    uint8_t action = 1;  // FR_ACT_TO_TBL
    std::string iif;
    std::string oif;
    uint32_t fwmark = 0;
    bool operator==(const Rule&) const = default;
};

class RouteQuery {
public:
    virtual ~RouteQuery() = default;
    // `ip route get DST from SRC` (honours policy rules, like the kernel's output path).
    virtual Result<RouteAnswer> lookup(const IpAddress& dst, const IpAddress& src) = 0;
    virtual Result<std::vector<Link>> links() = 0;
    virtual Result<std::vector<Address>> addresses() = 0;
    virtual Result<std::vector<Route>> routes(uint8_t family) = 0;  // every table
    virtual Result<std::vector<Rule>> rules(uint8_t family) = 0;
};

}  // namespace ballast::agent
