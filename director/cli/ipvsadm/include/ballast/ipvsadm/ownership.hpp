#pragma once
// Which services a running ballastd owns, so a direct edit of one warns that the daemon will
// revert it. Running = its control socket accepts a connection; owned = listed in
// <state directory>/ownership.json, which the daemon writes (read with ballast_state).
#include <cstddef>
#include <optional>
#include <set>
#include <string>

#include "ballast/ipvsadm/command.hpp"
#include "ballast/model/ipvs.hpp"

namespace ballast::ipvsadm {

inline constexpr const char* kDefaultSocket = "/run/ballast/ballastd.sock";
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
    std::string state_dir = "/var/lib/ballast";
};
// --socket / --state-dir, else director.control_socket / director.state_directory of --config
// FILE (or of the default config when it exists), else the defaults.
DaemonPaths daemon_paths(const Extras& extras);

// The real thing: connect() to the control socket, then read the ownership record.
class DaemonOwnership final : public Ownership {
public:
    OwnedServices probe(const Extras& extras) override;
};

// The warnings, one line each (no trailing newline).
std::string edit_warning(Cmd cmd, const model::ServiceKey& key);
std::string flush_warning(size_t owned);

}  // namespace ballast::ipvsadm
