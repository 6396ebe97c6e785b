#pragma once
// `ballastctl doctor`: the director side of the LVS-NAT checklist, decided from what the
// shell (gather.hpp) read. Pure: no I/O, clock or sockets of its own. Checks and their
// rendering are the ones ballast-agent doctor uses (ballast/agent/verdict.hpp).
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ballast/agent/host_info.hpp"
#include "ballast/agent/verdict.hpp"
#include "ballast/health/check_plan.hpp"
#include "ballast/kernel/ipvs_client.hpp"
#include "ballast/kernel/nft_client.hpp"
#include "ballast/kernel/sysctl.hpp"
#include "ballast/model/director_config.hpp"
#include "ballast/model/result.hpp"
#include "ballast/nft/ruleset.hpp"

namespace ballast::doctor {

// One reachability probe's outcome (reason as the health probes word it, e.g.
// "connect refused").
struct ProbeOutcome {
    bool up = false;
    std::string reason;
};

// What the shell read from the kernel; sysctls are read through a SysctlAccess instead.
struct DirectorFacts {
    // Table inet ballast (nullopt = absent), or why it could not be dumped.
    Result<std::optional<nft::TableModel>> nft_table = std::optional<nft::TableModel>{};
    Result<kernel::IpvsSnapshot> ipvs = kernel::IpvsSnapshot{};
    // Director interfaces that are bonds, with their state (or the error reading it).
    std::map<std::string, Result<agent::BondState>> bonds;
    // One outcome per probe of reachability_probes(); a missing one is reported as not run.
    std::map<health::CheckKey, ProbeOutcome> probes;
};

// The probes that show each real server answers: the service's configured check when it
// is tcp/http/https/udp/dns, else a TCP connect for TCP services; each with a timeout of
// at most kProbeTimeoutCap. UDP/fwmark services without such a check are not probed.
inline constexpr model::Millis kProbeTimeoutCap{2000};
std::vector<health::CheckKey> reachability_probes(const model::DirectorConfig& config);

// The checklist, in order: forwarding, send_redirects, other planned sysctls, rp_filter,
// bonds, nftables table / masquerade chain / real-server set, IPVS services and their
// real servers, reachability.
agent::Report evaluate(const model::DirectorConfig& config, const kernel::SysctlAccess& sysctl,
                       const DirectorFacts& facts);

// {"verdict": ..., "config": FILE, "checks": [{check, subject, verdict, reason, fix?}]}
std::string render_json(const agent::Report& report, const std::string& config_file);

// Exit codes, as ballast-agent doctor: 0 no check fails (warnings allowed), 1 config or
// usage error, 2 some check fails.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitChecksFail = 2;
int exit_code(const agent::Report& report);

}  // namespace ballast::doctor
