#include "ballast/sysctl/plan.hpp"

#include <algorithm>

namespace ballast::sysctl {

std::string interface_key_part(const std::string& interface) {
    std::string s = interface;
    std::replace(s.begin(), s.end(), '.', '/');
    return s;
}

std::vector<DesiredSysctl> plan_sysctls(const SysctlInputs& in) {
    std::vector<DesiredSysctl> out;
    const auto& s = in.settings;
    if (s.ip_forward) {
        out.push_back({"net.ipv4.ip_forward", "1", "the director forwards LVS-NAT traffic"});
        if (in.ipv6_services)
            out.push_back({"net.ipv6.conf.all.forwarding", "1",
                           "the director forwards IPv6 LVS-NAT traffic"});
    }
    if (s.disable_send_redirects) {
        // The kernel sends redirects if conf.all OR conf.<if> allows it: both must be 0.
        const std::string why =
            "ICMP redirects would let real servers on the client's segment bypass the director";
        out.push_back({"net.ipv4.conf.all.send_redirects", "0", why});
        for (const auto& i : in.interfaces)
            out.push_back({"net.ipv4.conf." + interface_key_part(i) + ".send_redirects", "0", why});
    }
    if (in.ipvs_present) {
        if (s.expire_nodest_conn)
            out.push_back({"net.ipv4.vs.expire_nodest_conn", "1",
                           "expire connections to deleted real servers at once"});
        if (s.expire_quiescent_template)
            out.push_back({"net.ipv4.vs.expire_quiescent_template", "1",
                           "persistent clients leave a real server whose weight is 0"});
        if (s.vs_conntrack)
            out.push_back({"net.ipv4.vs.conntrack", std::to_string(*s.vs_conntrack),
                           "configured director.sysctl.vs_conntrack"});
    }
    for (const auto& entry : s.extra) {
        const std::string& key = entry.first;
        const std::string& value = entry.second;
        auto it =
            std::find_if(out.begin(), out.end(), [&key](const auto& d) { return d.key == key; });
        if (it != out.end()) {
            it->value = value;
            it->reason = "configured override";
        } else {
            out.push_back({key, value, "configured"});
        }
    }
    return out;
}

}  // namespace ballast::sysctl
