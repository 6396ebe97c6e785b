#pragma once
// Which services a running ballastd owns, so a direct edit of one warns that the daemon will
// revert it. Running = its control socket accepts a connection; owned = listed in
// <state directory>/ownership.json, which the daemon writes.
#include <cstddef>
#include <optional>
#include <set>
#include <string>

#include "ballast/ipvsadm/command.hpp"
#include "ballast/model/ipvs.hpp"
#include "ballast/model/result.hpp"

namespace ballast::ipvsadm {

inline constexpr const char* kDefaultSocket = "/run/ballast/ballastd.sock";
inline constexpr const char* kDefaultStateDir = "/var/lib/ballast";
inline constexpr const char* kDefaultConfig = "/etc/ballast/ballast.toml";

struct OwnedServices {
    bool daemon_running = false;
    std::set<model::ServiceKey> services;
    std::optional<std::string> problem;  // running, but its record could not be read
};

class Ownership {
public:
    virtual ~Ownership() = default;
    virtual OwnedServices probe(const Extras& extras) = 0;
};

struct DaemonPaths {
    std::string socket = kDefaultSocket;
    std::string state_dir = kDefaultStateDir;
};
// --socket / --state-dir, else director.control_socket of --config FILE (or of the default
// config when it exists), else the defaults.
DaemonPaths daemon_paths(const Extras& extras);

// The real thing: connect() to the control socket, then read the ownership record.
class DaemonOwnership final : public Ownership {
public:
    OwnedServices probe(const Extras& extras) override;
};

// <dir>/ownership.json: {"version":1,"services":[...]}, each service either a key string as
// ServiceKey::to_string() writes it ("192.0.2.1:80/tcp", "[2001:db8::1]:53/udp",
// "fwmark 7/ipv4") or an object {"protocol","address","port"} / {"fwmark","family"}.
// (Stands in for the daemon's ballast::state::load_ownership until that library lands.)
Result<std::set<model::ServiceKey>> load_owned_services(const std::string& dir);

// The warnings, one line each (no trailing newline).
std::string edit_warning(Cmd cmd, const model::ServiceKey& key);
std::string flush_warning(size_t owned);

}  // namespace ballast::ipvsadm
