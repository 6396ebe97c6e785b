#include "ballast/sysctl/applier.hpp"

#include <algorithm>

namespace ballast::sysctl {

SysctlApplyReport SysctlApplier::apply(const std::vector<DesiredSysctl>& desired) {
    SysctlApplyReport report;
    for (const auto& d : desired) {
        auto current = access_.read(d.key);
        if (!current) {
            report.errors.push_back(current.error());
            continue;
        }
        if (*current == d.value) continue;
        if (auto s = access_.write(d.key, d.value); !s) {
            report.errors.push_back(s.error());
            continue;
        }
        previous_.try_emplace(d.key, *current);
        report.changes.push_back({d.key, *current, d.value, d.reason});
    }
    return report;
}

bool ipvs_present(const kernel::SysctlAccess& access) {
    return access.exists("net.ipv4.vs");
}

std::vector<RpFilterFinding> strict_rp_filter(const kernel::SysctlAccess& access,
                                              const std::vector<std::string>& interfaces) {
    std::vector<RpFilterFinding> out;
    auto value = [&](const std::string& key) {
        auto v = access.read(key);
        return v ? std::atoi(v->c_str()) : 0;
    };
    const int all = value("net.ipv4.conf.all.rp_filter");
    for (const auto& i : interfaces) {
        const int own = value("net.ipv4.conf." + interface_key_part(i) + ".rp_filter");
        const int effective = std::max(all, own);
        if (effective != 1) continue;
        out.push_back(
            {i, all, own, effective,
             "strict reverse-path filtering on director interface " + i +
                 " (effective rp_filter=1 = max(all=" + std::to_string(all) + ", " + i + "=" +
                 std::to_string(own) +
                 ")): packets arriving on an interface other than the one the route back to "
                 "their source uses are dropped, which breaks LVS-NAT when client or real-server "
                 "traffic is routed asymmetrically (multi-homed director, several uplinks). "
                 "ballast does not change it; if routing is asymmetric set "
                 "net.ipv4.conf.all.rp_filter and net.ipv4.conf." +
                 interface_key_part(i) + ".rp_filter to 2 (loose)."});
    }
    return out;
}

}  // namespace ballast::sysctl
