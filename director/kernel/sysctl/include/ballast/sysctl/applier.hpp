#pragma once
// Applies desired sysctls through a SysctlAccess: writes only what differs, remembers the
// value each key had before ballast first changed it, returns every change (old -> new) for
// the caller to log, and reports strict rp_filter on director interfaces without changing it.
#include <map>
#include <string>
#include <vector>

#include "ballast/kernel/sysctl.hpp"
#include "ballast/model/result.hpp"
#include "ballast/sysctl/plan.hpp"

namespace ballast::sysctl {

struct SysctlChange {
    std::string key;
    std::string old_value;
    std::string new_value;
    std::string reason;
    auto operator<=>(const SysctlChange&) const = default;
};

struct SysctlApplyReport {
    std::vector<SysctlChange> changes;  // empty when everything already matched
    std::vector<Error> errors;  // keys that could not be read or written (others still applied)
};

class SysctlApplier {
public:
    explicit SysctlApplier(kernel::SysctlAccess& access) : access_(access) {}
    SysctlApplyReport apply(const std::vector<DesiredSysctl>& desired);
    // Value each key had before ballast's first change to it.
    const std::map<std::string, std::string>& previous_values() const { return previous_; }

private:
    kernel::SysctlAccess& access_;
    std::map<std::string, std::string> previous_;
};

// Whether IPVS is loaded in this namespace (net.ipv4.vs exists).
bool ipvs_present(const kernel::SysctlAccess& access);

struct RpFilterFinding {
    std::string interface;
    int all = 0;
    int interface_value = 0;
    int effective = 0;  // max(all, interface): what the kernel applies
    std::string message;
};

// Director interfaces whose effective rp_filter is strict (1). Read-only.
std::vector<RpFilterFinding> strict_rp_filter(const kernel::SysctlAccess& access,
                                              const std::vector<std::string>& interfaces);

}  // namespace ballast::sysctl
