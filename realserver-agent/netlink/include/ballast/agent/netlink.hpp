#pragma once
// rtnetlink and /proc,/sys adapters: the kernel side of RouteQuery, HostInfo and
// repair. Sockets are opened in the calling thread's network namespace.
#include <memory>
#include <string>
#include <vector>

#include "ballast/agent/host_info.hpp"
#include "ballast/agent/repair.hpp"
#include "ballast/agent/route_query.hpp"

namespace ballast::agent {

// RouteQuery over rtnetlink: RTM_GETROUTE requests (with RTA_SRC/RTA_DST, plus a
// RTM_F_FIB_MATCH request for the matching entry's table and metric) and libnl-route-3
// dumps of links, addresses, routes and rules.
Result<std::unique_ptr<RouteQuery>> open_route_query();

// HostInfo from /proc/sys (rp_filter), /proc/thread-self/net (sockets) and
// /sys/class/net/<bond>/bonding (bonds).
std::unique_ptr<HostInfo> system_host_info();

// Applies or reverts repair ops over rtnetlink (rules, routes) and /proc/sys
// (rp_filter). apply() stops at the first failure and returns what it applied so
// far in `applied`, so the state file always matches the kernel.
class RepairExecutor {
public:
    virtual ~RepairExecutor() = default;
    virtual Status apply(const std::vector<RepairOp>& ops, std::vector<RepairOp>& applied) = 0;
    virtual Status revert(const std::vector<RepairOp>& ops) = 0;
};
Result<std::unique_ptr<RepairExecutor>> open_repair_executor();

// The facts plan_repair/plan_undo need, read from the kernel.
Result<RepairInput> gather_repair_input(const AgentSettings& settings, RouteQuery& routes,
                                        HostInfo& host);

}  // namespace ballast::agent
