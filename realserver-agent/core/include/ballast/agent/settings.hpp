#pragma once
// The agent's settings, as read from its TOML file (realserver-agent/config).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ballast/agent/sockets.hpp"
#include "ballast/model/address.hpp"

namespace ballast::agent {

// One real-server address and the director that must carry its replies.
struct RealServerEntry {
    model::IpAddress address;   // RIP
    model::IpAddress director;  // DIP: the director's address on the real server's segment
    std::vector<uint16_t> ports;
    Transport transport = Transport::tcp;
    bool operator==(const RealServerEntry&) const = default;
};

// Client addresses used to probe the return path. The defaults pick one private
// and one public-looking address that are unlikely to be on any local segment:
// 10.255.255.1 (top of 10/8) and 203.0.113.9 (TEST-NET-3), and for IPv6
// fdff:ffff:ffff::1 (ULA) and 2001:db8:ffff::9 (documentation range).
std::vector<model::IpAddress> default_probe_clients();

struct RepairSettings {
    bool enabled = false;          // repair = true: repair at start (same as --repair)
    uint32_t table_base = 1000;    // real server i gets table table_base + i
    uint32_t priority = 1000;      // priority of each `from RIP lookup T` rule
    bool rp_filter_loose = false;  // also set rp_filter=2 where strict mode would drop
    std::string state_file = "/var/lib/ballast-agent/repair.json";
    bool operator==(const RepairSettings&) const = default;
};

enum class LoadSignal : uint8_t { none, loadavg, file };

struct AgentSettings {
    std::vector<RealServerEntry> real_servers;
    std::vector<model::IpAddress> probe_clients = default_probe_clients();
    std::optional<model::Endpoint> listen;         // agent-check; default <first RIP>:5555
    std::optional<model::Endpoint> status_listen;  // HTTP status/metrics; none = off
    std::string drain_file = "/run/ballast-agent/drain";
    LoadSignal load = LoadSignal::none;
    std::string load_file;        // for load = "file": a number 0..100 (weight percent)
    uint32_t interval_ms = 5000;  // periodic re-evaluation besides rtnetlink events
    RepairSettings repair;
    bool operator==(const AgentSettings&) const = default;
};

inline constexpr uint16_t kDefaultAgentPort = 5555;

}  // namespace ballast::agent
