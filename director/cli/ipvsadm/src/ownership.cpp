#include "ballast/ipvsadm/ownership.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ballast/config/config.hpp"

namespace ballast::ipvsadm {

namespace json = boost::json;

DaemonPaths daemon_paths(const Extras& extras) {
    DaemonPaths p;
    std::string config = extras.config.value_or(kDefaultConfig);
    std::error_code ec;
    if (extras.config || std::filesystem::exists(config, ec)) {
        auto loaded = config::load_file(config);
        if (loaded.ok()) p.socket = loaded.config->director.control_socket;
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

std::optional<model::ServiceKey> key_from_string(const std::string& s) {
    if (s.starts_with("fwmark ")) {
        auto slash = s.find('/');
        if (slash == std::string::npos) return std::nullopt;
        std::string mark = s.substr(7, slash - 7), fam = s.substr(slash + 1);
        char* end = nullptr;
        unsigned long m = std::strtoul(mark.c_str(), &end, 10);
        if (*end || m == 0 || m > 0xffffffffUL || (fam != "ipv4" && fam != "ipv6"))
            return std::nullopt;
        return model::ServiceKey::mark(static_cast<uint32_t>(m),
                                       fam == "ipv6" ? AF_INET6 : AF_INET);
    }
    auto slash = s.rfind('/');
    if (slash == std::string::npos) return std::nullopt;
    auto proto = model::parse_protocol(s.substr(slash + 1));
    auto ep = model::Endpoint::parse(s.substr(0, slash));
    if (!proto || !ep) return std::nullopt;
    return model::ServiceKey::inet(*proto, ep->addr, ep->port);
}

std::optional<model::ServiceKey> key_from_object(const json::object& o) {
    if (auto* m = o.if_contains("fwmark"); m && !m->is_null()) {
        if (!m->is_uint64() && !m->is_int64()) return std::nullopt;
        auto mark = m->to_number<int64_t>();
        if (mark <= 0 || mark > 0xffffffffLL) return std::nullopt;
        auto* f = o.if_contains("family");
        bool v6 = f && f->is_string() && f->as_string() == "ipv6";
        return model::ServiceKey::mark(static_cast<uint32_t>(mark), v6 ? AF_INET6 : AF_INET);
    }
    auto* p = o.if_contains("protocol");
    auto* a = o.if_contains("address");
    auto* port = o.if_contains("port");
    if (!p || !a || !port || !p->is_string() || !a->is_string() || !port->is_number())
        return std::nullopt;
    auto proto = model::parse_protocol(std::string(p->as_string()));
    auto addr = model::IpAddress::parse(std::string(a->as_string()));
    auto n = port->to_number<int64_t>();
    if (!proto || !addr || n < 0 || n > 65535) return std::nullopt;
    return model::ServiceKey::inet(*proto, *addr, static_cast<uint16_t>(n));
}

std::string describe(const model::ServiceKey& k) {
    if (k.is_fwmark())
        return "FWM " + std::to_string(k.fwmark) + (k.family == AF_INET6 ? " IPv6" : "");
    std::string proto(model::to_string(k.protocol));
    for (auto& ch : proto) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return proto + " " + model::Endpoint{k.addr, k.port}.to_string();
}

}  // namespace

Result<std::set<model::ServiceKey>> load_owned_services(const std::string& dir) {
    const std::string path = dir + "/ownership.json";
    std::ifstream in(path);
    if (!in) return make_error(errno ? errno : ENOENT, "read", path, "cannot read " + path);
    std::stringstream text;
    text << in.rdbuf();
    auto bad = [&](const std::string& what) {
        return make_error(EBADMSG, "parse", path, path + ": " + what);
    };
    boost::system::error_code ec;
    json::value v = json::parse(text.str(), ec);
    if (ec) return bad("not JSON: " + ec.message());
    if (!v.is_object()) return bad("not a JSON object");
    const auto& o = v.as_object();
    auto* version = o.if_contains("version");
    if (!version || !version->is_number() || version->to_number<int64_t>() != 1)
        return bad("unknown version (expected 1)");
    auto* services = o.if_contains("services");
    if (!services || !services->is_array()) return bad("no \"services\" array");
    std::set<model::ServiceKey> keys;
    size_t i = 0;
    for (const auto& s : services->as_array()) {
        std::optional<model::ServiceKey> k;
        if (s.is_string()) k = key_from_string(std::string(s.as_string()));
        if (s.is_object()) k = key_from_object(s.as_object());
        if (!k) return bad("services[" + std::to_string(i) + "] is not a service");
        keys.insert(*k);
        ++i;
    }
    return keys;
}

OwnedServices DaemonOwnership::probe(const Extras& extras) {
    OwnedServices out;
    const DaemonPaths paths = daemon_paths(extras);
    out.daemon_running = socket_answers(paths.socket);
    if (!out.daemon_running) return out;
    auto owned = load_owned_services(paths.state_dir);
    if (owned)
        out.services = std::move(*owned);
    else
        out.problem = owned.error().message;
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
