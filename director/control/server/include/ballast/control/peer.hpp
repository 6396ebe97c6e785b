#pragma once
// Who is on the other end of a unix socket (SO_PEERCRED, SO_PEERGROUPS), and whether they may
// change the daemon's state.
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "ballast/model/result.hpp"

namespace ballast::control {

struct PeerCredentials {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;  // supplementary groups (SO_PEERGROUPS); may be empty
    // "uid 0 (root) pid 4242": what an override records as set_by.
    std::string describe() const;
};

Result<PeerCredentials> peer_credentials(int fd);

// The user's name, or nullopt when the uid has none.
std::optional<std::string> user_name(uid_t uid);

// The control group's id; empty name = root only (nullopt). An unknown group is an error.
Result<std::optional<gid_t>> control_gid(const std::string& group);

// Root, or a member (primary or supplementary) of the control group.
bool may_change_state(const PeerCredentials& peer, std::optional<gid_t> control_group);

}  // namespace ballast::control
