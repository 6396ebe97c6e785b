#include "ballast/control/peer.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace ballast::control {

std::string PeerCredentials::describe() const {
    auto name = user_name(uid);
    return "uid " + std::to_string(uid) + (name ? " (" + *name + ")" : "") + " pid " +
           std::to_string(pid);
}

Result<PeerCredentials> peer_credentials(int fd) {
    struct ucred cred {};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        return make_error(errno, "getsockopt(SO_PEERCRED)");
    PeerCredentials peer{cred.pid, cred.uid, cred.gid, {}};
    // Supplementary groups: grow the buffer until it fits (ERANGE says how much is needed).
    std::vector<gid_t> groups(16);
    for (int attempt = 0; attempt < 4; ++attempt) {
        socklen_t size = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &size) == 0) {
            groups.resize(size / sizeof(gid_t));
            peer.groups = std::move(groups);
            break;
        }
        if (errno != ERANGE) break;  // an old kernel: the primary gid alone counts
        groups.resize(size / sizeof(gid_t) + 1);
    }
    return peer;
}

std::optional<std::string> user_name(uid_t uid) {
    struct passwd pw {};
    struct passwd* found = nullptr;
    std::vector<char> buf(4096);
    if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || !found) return std::nullopt;
    return std::string(pw.pw_name);
}

Result<std::optional<gid_t>> control_gid(const std::string& group) {
    if (group.empty()) return std::optional<gid_t>{};
    struct group gr {};
    struct group* found = nullptr;
    std::vector<char> buf(16384);
    const int rc = ::getgrnam_r(group.c_str(), &gr, buf.data(), buf.size(), &found);
    if (rc != 0) return make_error(rc, "getgrnam", group);
    if (!found)
        return make_error(ENOENT, "getgrnam", group,
                          "director.control_group: no group named '" + group + "'");
    return std::optional<gid_t>(gr.gr_gid);
}

bool may_change_state(const PeerCredentials& peer, std::optional<gid_t> control_group) {
    if (peer.uid == 0) return true;
    if (!control_group) return false;
    return peer.gid == *control_group ||
           std::find(peer.groups.begin(), peer.groups.end(), *control_group) != peer.groups.end();
}

}  // namespace ballast::control
