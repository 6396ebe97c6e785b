#include <set>

#include "ballast/policy/policy.hpp"

namespace ballast::policy {

kernel::NatDesired desired_nat(const model::DirectorConfig& config) {
    kernel::NatDesired d;
    std::set<model::IpAddress> seen;
    auto add = [&](const model::IpAddress& a) {
        if (seen.insert(a).second)
            d.real_servers.push_back(model::IpPrefix{a, static_cast<uint8_t>(a.size() * 8)});
    };
    for (const auto& s : config.services) {
        for (const auto& r : s.reals) add(r.key.addr);
        if (s.sorry_server) add(s.sorry_server->addr);
        if (!s.group.empty() && s.group_vip)
            d.mark_groups.push_back(kernel::MarkGroup{s.name, *s.group_vip, s.key.fwmark, s.group});
    }
    d.egress_interfaces = config.director.egress_interfaces;
    return d;
}

}  // namespace ballast::policy
