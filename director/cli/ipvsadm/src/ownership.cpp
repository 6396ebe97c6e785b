#include "ballast/ipvsadm/ownership.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <filesystem>

#include "ballast/config/config.hpp"
#include "ballast/state/ownership.hpp"

namespace ballast::ipvsadm {

DaemonPaths daemon_paths(const Extras& extras) {
    DaemonPaths p;
    std::string config = extras.config.value_or(kDefaultConfig);
    std::error_code ec;
    if (extras.config || std::filesystem::exists(config, ec)) {
        auto loaded = config::load_file(config);
        if (loaded.ok()) {
            p.socket = loaded.config->director.control_socket;
            p.state_dir = loaded.config->director.state_directory;
        }
    }
    if (extras.socket) p.socket = *extras.socket;
    if (extras.state_dir) p.state_dir = *extras.state_dir;
    return p;
}

namespace {

// Connecting is enough to know someone serves the socket; nothing is sent.
bool socket_answers(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) return false;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return false;
    int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    int err = errno;
    ::close(fd);
    // A full backlog (EAGAIN) or a socket we may not use (EACCES) still has a daemon behind it.
    return rc == 0 || err == EAGAIN || err == EACCES || err == EPERM;
}

std::string describe(const model::ServiceKey& k) {
    if (k.is_fwmark())
        return "FWM " + std::to_string(k.fwmark) + (k.family == AF_INET6 ? " IPv6" : "");
    std::string proto(model::to_string(k.protocol));
    for (auto& ch : proto) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return proto + " " + model::Endpoint{k.addr, k.port}.to_string();
}

}  // namespace

OwnedServices DaemonOwnership::probe(const Extras& extras) {
    OwnedServices out;
    const DaemonPaths paths = daemon_paths(extras);
    out.daemon_running = socket_answers(paths.socket);
    if (!out.daemon_running) return out;
    auto owned = state::load_ownership(paths.state_dir);
    if (owned)
        out.services = std::move(*owned);
    else
        out.problem = owned.error().describe();
    return out;
}

std::string edit_warning(Cmd cmd, const model::ServiceKey& key) {
    const bool real = cmd == Cmd::add_dest || cmd == Cmd::edit_dest || cmd == Cmd::del_dest;
    std::string w = "ballastctl: warning: " + describe(key) +
                    " belongs to the running ballastd, which will revert this change; ";
    if (real)
        w += "use `ballastctl drain`, `ballastctl enable` or `ballastctl weight` for its real "
             "servers, or change the config and run `ballastctl reload`";
    else
        w += "change the service in ballastd's config and run `ballastctl reload` instead";
    return w + " (--force silences this warning)";
}

std::string flush_warning(size_t owned) {
    return "ballastctl: warning: -C also deletes the " + std::to_string(owned) +
           " service(s) that the running ballastd owns, and it will add them back; to remove "
           "them, change ballastd's config and run `ballastctl reload` (--force silences this "
           "warning)";
}

}  // namespace ballast::ipvsadm
