#pragma once
// The nftables boundary. The reconciler hands over the desired NAT state (real-server
// addresses to masquerade, egress interfaces, firewall-mark service groups); the
// libnftnl adapter (director/kernel/nft) makes table "inet ballast" match it in one
// atomic batch. Nothing outside that table is ever read or written.
#include <cstdint>
#include <string>
#include <vector>

#include "ballast/model/address.hpp"
#include "ballast/model/director_config.hpp"
#include "ballast/model/result.hpp"

namespace ballast::kernel {

// One firewall-mark service group: every packet to vip matching one of the matches gets mark.
struct MarkGroup {
    std::string name;  // for messages only
    model::IpAddress vip;
    uint32_t mark = 0;
    std::vector<model::GroupMatch> matches;
    auto operator<=>(const MarkGroup&) const = default;
};

struct NatDesired {
    // Sources to masquerade: real-server addresses or prefixes, IPv4 and IPv6 mixed, in any
    // order, duplicates and overlaps allowed (they are merged).
    std::vector<model::IpPrefix> real_servers;
    // Masquerade only when leaving through one of these; empty = any interface.
    std::vector<std::string> egress_interfaces;
    std::vector<MarkGroup> mark_groups;
};

// An inclusive address range as the kernel's interval set holds it.
struct AddressRange {
    model::IpAddress first;
    model::IpAddress last;
    auto operator<=>(const AddressRange&) const = default;
};

// What a dump of our table shows, in the reconciler's terms.
struct NatObserved {
    bool table_present = false;
    std::vector<AddressRange> real_server_ranges;  // IPv4 first, then IPv6, ascending
    std::vector<std::string> egress_interfaces;    // sorted
    size_t postrouting_rules = 0;
    size_t prerouting_rules = 0;
    // Sets or chains in our table that ballast does not create (left alone).
    std::vector<std::string> foreign_objects;
};

// What apply() did: nothing when the kernel already matched.
struct NftApplied {
    bool batch_sent = false;
    std::vector<std::string> changes;  // one line per change, e.g. "add element rs4 10.0.0.2"
};

class NftClient {
public:
    virtual ~NftClient() = default;
    virtual Result<NatObserved> dump() = 0;
    // Compares the kernel with desired and sends the difference as ONE batch (none if equal).
    // Restores anything deleted behind our back (elements, rules, sets, chains, the table).
    virtual Result<NftApplied> apply(const NatDesired& desired) = 0;
    // Deletes table inet ballast (absent table = success).
    virtual Status remove() = 0;
};

}  // namespace ballast::kernel
