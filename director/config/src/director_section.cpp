// [director] and [director.sysctl].
#include <set>

#include "reader.hpp"
#include "sections.hpp"

namespace ballast::config::detail {

namespace {

bool valid_ifname(std::string_view s) {
    // IFNAMSIZ is 16 including the NUL; '/' and whitespace are not allowed by the kernel.
    if (s.empty() || s.size() > 15 || s == "." || s == "..") return false;
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return c > ' ' && c < 127 && c != '/' && c != ':'; });
}

void read_ifnames(Ctx& ctx, const Reader& r, std::string_view key, std::vector<std::string>& out) {
    auto names = r.strings(key);
    if (!names) return;
    auto* arr = r.node(key)->as_array();
    std::set<std::string> seen;
    for (size_t i = 0; i < names->size(); ++i) {
        auto& name = (*names)[i];
        auto where = ctx.loc(arr->get(i)->source());
        if (!valid_ifname(name))
            ctx.error(where, index_path(r.path(key), i),
                      "invalid interface name '" + name +
                          "' (1 to 15 characters, no '/', ':' or spaces)");
        else if (!seen.insert(name).second)
            ctx.error(where, index_path(r.path(key), i),
                      "interface '" + name + "' is listed twice");
        else
            out.push_back(name);
    }
}

// Sysctls with their own named setting: "extra" must not set them behind its back.
constexpr std::pair<std::string_view, std::string_view> kNamedSysctls[] = {
    {"net.ipv4.ip_forward", "ip_forward"},
    {"net.ipv6.conf.all.forwarding", "ip_forward"},
    {"net.ipv4.conf.all.send_redirects", "disable_send_redirects"},
    {"net.ipv4.vs.expire_nodest_conn", "expire_nodest_conn"},
    {"net.ipv4.vs.expire_quiescent_template", "expire_quiescent_template"},
    {"net.ipv4.vs.conntrack", "vs_conntrack"},
};

bool valid_sysctl_name(std::string_view s) {
    if (s.size() < 5 || s.size() > 128 || s.substr(0, 4) != "net.") return false;
    char prev = '.';
    for (char c : s) {
        bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
        if (!word && c != '.') return false;
        if (c == '.' && prev == '.') return false;
        prev = c;
    }
    return prev != '.';
}

void read_sysctl(Ctx& ctx, const toml::table& t, const std::string& path, SysctlSettings& s) {
    Reader r(ctx, t, path,
             {"ip_forward", "disable_send_redirects", "expire_nodest_conn",
              "expire_quiescent_template", "vs_conntrack", "extra"});
    if (auto v = r.boolean("ip_forward")) s.ip_forward = *v;
    if (auto v = r.boolean("disable_send_redirects")) s.disable_send_redirects = *v;
    if (auto v = r.boolean("expire_nodest_conn")) s.expire_nodest_conn = *v;
    if (auto v = r.boolean("expire_quiescent_template")) s.expire_quiescent_template = *v;
    if (auto v = r.integer("vs_conntrack", 0, 1)) s.vs_conntrack = static_cast<int>(*v);
    auto* extra = r.table("extra");
    if (!extra) return;
    std::string extra_path = r.path("extra");
    for (auto&& [k, v] : *extra) {
        std::string name(k.str());
        std::string p = child_path(extra_path, name);
        auto where = ctx.loc(k.source());
        if (!valid_sysctl_name(name)) {
            ctx.error(where, p,
                      "invalid sysctl name '" + name +
                          "' (expected a dotted name under net., e.g. "
                          "\"net.ipv4.vs.sloppy_tcp\")");
            continue;
        }
        auto named = std::find_if(std::begin(kNamedSysctls), std::end(kNamedSysctls),
                                  [&](auto& e) { return e.first == name; });
        if (named != std::end(kNamedSysctls)) {
            ctx.error(where, p,
                      "'" + name + "' has its own setting: use director.sysctl." +
                          std::string(named->second));
            continue;
        }
        if (auto* str = v.as_string()) {
            s.extra[name] = str->get();
        } else if (auto* i = v.as_integer()) {
            s.extra[name] = std::to_string(i->get());
        } else if (auto* b = v.as_boolean()) {
            s.extra[name] = b->get() ? "1" : "0";
        } else {
            ctx.error(ctx.loc(v.source()), p,
                      "expected a string, integer or boolean, got " + type_name(v.type()));
        }
    }
}

}  // namespace

void read_director(Ctx& ctx, const toml::table& t, DirectorSettings& d) {
    Reader r(ctx, t, "director",
             {"interfaces", "egress_interfaces", "control_socket", "control_group", "status_listen",
              "status_write", "drain_timeout", "resync_interval", "state_directory",
              "panic_threshold", "fwmark_range", "sysctl"});
    read_ifnames(ctx, r, "interfaces", d.interfaces);
    read_ifnames(ctx, r, "egress_interfaces", d.egress_interfaces);
    if (auto v = r.str("control_socket")) {
        // sun_path holds 108 bytes including the NUL.
        if (v->empty() || v->front() != '/')
            r.error("control_socket", "must be an absolute path");
        else if (v->size() > 107)
            r.error("control_socket", "path is too long for a unix socket (at most 107 bytes)");
        else
            d.control_socket = *v;
    }
    if (auto v = r.str("status_listen")) {
        auto ep = Endpoint::parse(*v);
        if (!ep)
            r.error("status_listen", "invalid listen address '" + *v +
                                         "' (expected \"addr:port\" or \"[v6]:port\")");
        else if (ep->port == 0)
            r.error("status_listen", "port must be between 1 and 65535");
        else
            d.status_listen = ep;
    }
    if (auto v = r.str("control_group")) {
        // A group name as useradd accepts it (the daemon resolves it at start).
        const bool ok =
            !v->empty() && v->size() <= 32 && std::all_of(v->begin(), v->end(), [](char c) {
                return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
                       c == '.';
            });
        if (!ok)
            r.error("control_group", "invalid group name '" + *v + "'");
        else
            d.control_group = *v;
    }
    if (auto v = r.boolean("status_write")) d.status_write = *v;
    if (auto v = r.duration("drain_timeout")) d.drain_timeout = *v;
    if (auto v = r.duration("resync_interval")) {
        if (*v < std::chrono::seconds(1))
            r.error("resync_interval", "must be at least 1s");
        else
            d.resync_interval = *v;
    }
    if (auto v = r.str("state_directory")) {
        if (v->empty() || v->front() != '/')
            r.error("state_directory", "must be an absolute path");
        else
            d.state_directory = *v;
    }
    if (auto v = r.integer("panic_threshold", 1, 100))
        d.panic_threshold = static_cast<uint32_t>(*v);
    if (auto* a = r.array("fwmark_range")) {
        if (a->size() != 2) {
            r.error("fwmark_range", "expected two integers [first, last], got " +
                                        std::to_string(a->size()) + " elements");
        } else {
            auto first = Reader::integer_value(
                ctx, *a->get(0), index_path(r.path("fwmark_range"), 0), 1, 0xffffffff);
            auto last = Reader::integer_value(ctx, *a->get(1),
                                              index_path(r.path("fwmark_range"), 1), 1, 0xffffffff);
            if (first && last && *first > *last)
                r.error("fwmark_range", "first mark must not be greater than the last");
            else if (first && last) {
                d.fwmark_first = static_cast<uint32_t>(*first);
                d.fwmark_last = static_cast<uint32_t>(*last);
            }
        }
    }
    if (auto* s = r.table("sysctl")) read_sysctl(ctx, *s, r.path("sysctl"), d.sysctl);
}

}  // namespace ballast::config::detail
