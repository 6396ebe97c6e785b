#pragma once
// Pure verdicts: the LVS-NAT checklist of one real server, decided from what
// RouteQuery and HostInfo report. No I/O of its own.
#include <optional>
#include <string>
#include <vector>

#include "ballast/agent/host_info.hpp"
#include "ballast/agent/route_query.hpp"
#include "ballast/agent/settings.hpp"

namespace ballast::agent {

enum class Verdict : uint8_t { pass, warn, fail };
const char* to_string(Verdict v);

struct Check {
    std::string name;     // "address", "director", "return-route", "multihoming", "rp_filter",
                          // "listener", "bond"
    std::string subject;  // what was checked, e.g. "10.0.0.5 -> 203.0.113.9"
    Verdict verdict = Verdict::pass;
    std::string reason;  // one line; for fail/warn it says what is wrong and why
    std::string fix;     // the exact command that fixes it (empty on pass)
    bool operator==(const Check&) const = default;
};

struct Report {
    std::vector<Check> checks;
    Verdict overall() const;
    const Check* first_failure() const;  // first fail, else nullptr
};

// Per real server: the device facing its director, as found by the checks
// (repair plans from it).
struct DirectorPath {
    model::IpAddress rip;
    model::IpAddress director;
    std::optional<Link> link;         // interface carrying the RIP / facing the director
    std::optional<IpPrefix> rip_net;  // the RIP's connected subnet
};

// An error of the agent itself (an interrupted dump, no descriptor or memory, a reply it
// could not decode), as opposed to the kernel's answer about the host (no route). Checks
// that meet one warn instead of failing: the agent never answers down for its own trouble.
bool is_agent_fault(const Error& e);

// Runs every check for every configured real server.
Report evaluate(const AgentSettings& settings, RouteQuery& routes, HostInfo& host);

// Finds the interface that faces the director for one real server (nullopt link if
// the RIP is not local or the director is not on-link from it).
DirectorPath find_director_path(const RealServerEntry& rs, RouteQuery& routes);

// The bond verdict of one bonded interface from its state (or the error reading it):
// all slaves up = pass, some down = warn, none up (or no slave) = fail. Shared with
// `ballastctl doctor`, which checks the director's bonds the same way.
Check bond_check(const std::string& ifname, const Result<BondState>& state);

// The HAProxy agent-check line (without newline): "drain", "down #<reason>", or "up"
// with " N%" appended when weight_percent is set.
std::string agent_reply(const Report& report, bool drain, std::optional<int> weight_percent);

// Load signal -> weight percent: 100 when idle, down to 1 when the 1-minute load
// average reaches the CPU count.
int weight_from_loadavg(double load1, unsigned cpus);

}  // namespace ballast::agent
