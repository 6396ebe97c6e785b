#pragma once
// What the director's sysctls must be, from the configuration. Pure.
#include <string>
#include <vector>

#include "ballast/model/director_config.hpp"

namespace ballast::sysctl {

struct SysctlInputs {
    model::SysctlSettings settings;
    std::vector<std::string> interfaces;  // director interfaces (send_redirects=0 on each)
    bool ipv6_services = false;           // some virtual service has an IPv6 VIP
    bool ipvs_present = false;            // /proc/sys/net/ipv4/vs exists
};

struct DesiredSysctl {
    std::string key;  // sysctl(8) notation; '.' inside an interface name is written '/'
    std::string value;
    std::string reason;
    auto operator<=>(const DesiredSysctl&) const = default;
};

// "eth0.100" -> "eth0/100", as sysctl(8) writes interface names inside keys.
std::string interface_key_part(const std::string& interface);

// In order: forwarding, send_redirects (all, then each interface), IPVS expiry, IPVS
// conntrack (only when configured), then `extra` keys. An extra key replaces a planned one.
std::vector<DesiredSysctl> plan_sysctls(const SysctlInputs& in);

}  // namespace ballast::sysctl
