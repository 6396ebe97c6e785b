#pragma once
// Repair plans (pure): per real server, `from RIP lookup T` at a chosen priority,
// and in T the RIP's connected route plus `default via DIP dev IF`; optionally
// loose rp_filter. What was applied is recorded as JSON so --undo removes exactly that.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ballast/agent/route_query.hpp"
#include "ballast/agent/settings.hpp"
#include "ballast/agent/verdict.hpp"

namespace ballast::agent {

enum class RepairKind : uint8_t { rule, route, sysctl };

struct RepairOp {
    RepairKind kind = RepairKind::rule;
    Rule rule;           // kind == rule
    Route route;         // kind == route
    std::string ifname;  // route device / sysctl interface (by name: survives ifindex churn)
    std::string sysctl;  // kind == sysctl, e.g. "net.ipv4.conf.eth0.rp_filter"
    int old_value = 0;
    int new_value = 0;
    bool operator==(const RepairOp&) const = default;

    // The equivalent command, e.g. "ip rule add from 10.0.0.5/32 lookup 1000 priority 1000".
    std::string command(bool undo = false) const;
};

struct RepairPlan {
    std::vector<RepairOp> ops;
    std::vector<std::string> problems;  // reasons a real server cannot be repaired
};

// Facts the planner needs; gathered by the shell.
struct RepairInput {
    std::vector<DirectorPath> paths;       // one per settings.real_servers, same order
    std::vector<Rule> rules;               // both families
    std::vector<Route> routes;             // both families, all tables
    std::map<std::string, int> rp_filter;  // "all" and each director interface
};

// Only what is missing; nothing when everything is already in place (idempotent).
// A table or rule that exists but is not what we would install is a problem, never
// overwritten: kernel state we do not own is not touched.
RepairPlan plan_repair(const AgentSettings& settings, const RepairInput& input);

// Undo in reverse order. `current` says what is still there: absent rules/routes are
// skipped; a sysctl is restored only while it still holds the value we set.
std::vector<RepairOp> plan_undo(const std::vector<RepairOp>& applied, const RepairInput& current);

// What repair changed, as recorded on disk. The intent is written before anything is
// applied (pending), the result after (applied, pending cleared): a crash in between leaves
// the changes findable by --undo. Routes, rules and sysctls do not survive a reboot, so
// the record names the boot it was made in.
struct RepairRecord {
    std::string boot_id;  // /proc/sys/kernel/random/boot_id; empty in a version-1 record
    std::vector<RepairOp> applied;
    std::vector<RepairOp> pending;
    bool operator==(const RepairRecord&) const = default;
    // Everything that may be in the kernel: applied, then pending (undo reverses it).
    std::vector<RepairOp> changes() const;
};

// State-file codec (JSON, version 2; version 1 -- applied only, no boot -- is read too).
// parse_state returns an error naming what is wrong.
std::string serialize_state(const RepairRecord& record);
Result<RepairRecord> parse_state(std::string_view json);

// A Linux interface name: 1..15 bytes, not "." or "..", no '/', ':' or blank (the kernel's
// dev_valid_name). Names from a record or a config become paths under /proc/sys.
bool valid_ifname(std::string_view name);

}  // namespace ballast::agent
