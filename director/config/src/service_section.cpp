// [[service]], its group members, persistence and [[service.real]].
#include "reader.hpp"
#include "sections.hpp"

namespace ballast::config::detail {

namespace {

struct ProtoName {
    std::string_view name;
    uint8_t number;
    bool has_ports;
};
constexpr ProtoName kGroupProtocols[] = {
    {"tcp", 6, true},  {"udp", 17, true},  {"sctp", 132, true}, {"esp", 50, false},
    {"ah", 51, false}, {"gre", 47, false}, {"icmp", 1, false},  {"ipv6-icmp", 58, false},
};

std::string protocol_name(uint8_t number) {
    for (auto& p : kGroupProtocols)
        if (p.number == number) return std::string(p.name);
    return "protocol " + std::to_string(number);
}

}  // namespace

std::string describe(const GroupMatch& m) {
    std::string s = protocol_name(m.ip_protocol);
    if (m.port_first) s += " " + std::to_string(m.port_first);
    if (m.port_last != m.port_first) s += "-" + std::to_string(m.port_last);
    return s;
}

bool overlaps(const GroupMatch& a, const GroupMatch& b) {
    if (a.ip_protocol != b.ip_protocol) return false;
    if (a.port_first == 0 || b.port_first == 0) return true;  // 0 = any port
    return a.port_first <= b.port_last && b.port_first <= a.port_last;
}

namespace {

const std::vector<std::string_view> kServiceKeys = {
    "name",         "vip",     "port",        "protocol",       "fwmark",
    "family",       "group",   "scheduler",   "persistence",    "one_packet",
    "sh_fallback",  "sh_port", "mh_fallback", "mh_port",        "on_failure",
    "sorry_server", "check",   "real",        "panic_threshold"};

const std::vector<std::string_view> kRealKeys = {
    "address", "weight", "forward", "upper_threshold", "lower_threshold", "agent_port"};

std::optional<IpAddress> read_vip(const Reader& r) {
    auto text = r.str("vip");
    if (!text) {
        if (!r.has("vip")) r.missing("vip");
        return std::nullopt;
    }
    auto a = IpAddress::parse(*text);
    if (!a) {
        r.error("vip", "invalid IP address '" + *text + "'");
        return std::nullopt;
    }
    if (a->is_unspecified() || a->is_multicast()) {
        r.error("vip", "a VIP cannot be the unspecified or a multicast address");
        return std::nullopt;
    }
    return a;
}

void read_group(Ctx& ctx, const Reader& r, ServiceDraft& s) {
    auto* a = r.array("group");
    if (!a) return;
    if (a->empty()) r.error("group", "a group needs at least one member");
    for (size_t i = 0; i < a->size(); ++i) {
        std::string p = index_path(r.path("group"), i);
        auto* t = a->get(i)->as_table();
        if (!t) {
            ctx.error(ctx.loc(a->get(i)->source()), p,
                      "expected a table like {protocol = \"udp\", port = 500}, got " +
                          type_name(a->get(i)->type()));
            continue;
        }
        Reader m(ctx, *t, p, {"protocol", "port", "port_last"});
        GroupMatch g;
        const ProtoName* proto = nullptr;
        bool ok = true;
        if (auto* pn = m.node("protocol")) {
            if (auto* str = pn->as_string()) {
                for (auto& e : kGroupProtocols)
                    if (e.name == str->get()) proto = &e;
                if (!proto) {
                    std::vector<std::string_view> names;
                    for (auto& e : kGroupProtocols) names.push_back(e.name);
                    m.error("protocol", "unknown protocol '" + str->get() + "' (expected " +
                                            join(names) + ", or a protocol number)");
                    ok = false;
                } else {
                    g.ip_protocol = proto->number;
                }
            } else if (auto n = Reader::integer_value(ctx, *pn, m.path("protocol"), 1, 255)) {
                g.ip_protocol = static_cast<uint8_t>(*n);
                for (auto& e : kGroupProtocols)
                    if (e.number == g.ip_protocol) proto = &e;
            } else {
                ok = false;
            }
        } else {
            m.missing("protocol");
            ok = false;
        }
        bool port_protocol = proto && proto->has_ports;
        // ICMP differs per family; the member must match the VIP's.
        if (ok && s.family && (g.ip_protocol == IPPROTO_ICMP || g.ip_protocol == IPPROTO_ICMPV6)) {
            bool v6 = *s.family == AF_INET6;
            if (v6 != (g.ip_protocol == IPPROTO_ICMPV6)) {
                m.error("protocol", std::string("use protocol \"") + (v6 ? "ipv6-icmp" : "icmp") +
                                        "\" on an " + family_name(*s.family) + " VIP");
                ok = false;
            }
        }
        if (auto port = m.integer("port", 1, 65535)) {
            if (ok && !port_protocol)
                m.error("port", protocol_name(g.ip_protocol) + " has no ports");
            g.port_first = g.port_last = static_cast<uint16_t>(*port);
        } else if (m.has("port")) {
            ok = false;
        }
        if (auto last = m.integer("port_last", 1, 65535)) {
            if (!m.has("port"))
                m.error("port_last", "'port_last' needs 'port' (the first port of the range)");
            else if (g.port_first && *last < g.port_first)
                m.error("port_last", "port_last must not be below port");
            else
                g.port_last = static_cast<uint16_t>(*last);
        }
        if (!ok) continue;
        for (size_t j = 0; j < s.cfg.group.size(); ++j) {
            if (overlaps(s.cfg.group[j], g)) {
                ctx.error(m.self(), p,
                          "group member " + describe(g) + " overlaps " + describe(s.cfg.group[j]) +
                              " (" + ctx.line_of(s.group_origins[j].where) + ")");
                ok = false;
                break;
            }
        }
        if (!ok) continue;
        s.cfg.group.push_back(g);
        s.group_origins.push_back(m.origin());
    }
}

void read_persistence(Ctx& ctx, const Reader& r, ServiceDraft& s) {
    auto* n = r.node("persistence");
    if (!n) return;
    ServiceSpec& spec = s.cfg.spec;
    const std::string path = r.path("persistence");
    std::optional<Millis> timeout;
    if (n->is_string()) {
        timeout = Reader::duration_value(ctx, *n, path);
    } else if (auto* t = n->as_table()) {
        Reader p(ctx, *t, path, {"timeout", "netmask", "prefix", "engine"});
        timeout = p.duration("timeout");
        if (!p.has("timeout")) p.missing("timeout");
        if (p.has("netmask") && p.has("prefix"))
            p.error("prefix", "give either 'netmask' or 'prefix', not both");
        else if (auto mask = p.str("netmask")) {
            auto a = IpAddress::parse(*mask);
            uint32_t bits = 0;
            if (a && a->is_v4())
                bits = (uint32_t(a->bytes[0]) << 24) | (uint32_t(a->bytes[1]) << 16) |
                       (uint32_t(a->bytes[2]) << 8) | a->bytes[3];
            bool contiguous = ((~bits) & (~bits + 1)) == 0;  // ones, then zeros
            if (s.family == AF_INET6)
                p.error("netmask", "an IPv6 service takes 'prefix', not 'netmask'");
            else if (!a || !a->is_v4() || !contiguous)
                p.error("netmask",
                        "invalid netmask '" + *mask + "' (expected e.g. \"255.255.255.0\")");
            else
                spec.netmask = bits;
        } else if (p.has("prefix")) {
            int64_t max = s.family == AF_INET6 ? 128 : 32;
            if (auto len = p.integer("prefix", s.family == AF_INET6 ? 1 : 0, max)) {
                if (s.family == AF_INET6)
                    spec.netmask = static_cast<uint32_t>(*len);
                else
                    spec.netmask = *len == 0 ? 0 : ~uint32_t{0} << (32 - *len);
            }
        }
        if (auto engine = p.str("engine")) {
            if (*engine != "sip")
                p.error("engine", "unknown persistence engine '" + *engine + "' (expected sip)");
            else if (!s.explicit_fwmark && s.cfg.group.empty() &&
                     s.cfg.key.protocol != Protocol::udp)
                p.error("engine", "persistence engine 'sip' needs a udp service");
            else
                spec.pe_name = *engine;
        }
    } else {
        ctx.error(ctx.loc(n->source()), path,
                  "expected a duration string or a table {timeout = \"5m\", netmask = ...}, got " +
                      type_name(n->type()));
        return;
    }
    if (!timeout) return;
    if (timeout->count() < 1000 || timeout->count() % 1000 != 0) {
        ctx.error(ctx.loc(n->is_table() ? n->as_table()->get("timeout")->source() : n->source()),
                  n->is_table() ? child_path(path, "timeout") : path,
                  "persistence timeout must be a whole number of seconds, at least 1s");
        return;
    }
    spec.persistence = static_cast<uint32_t>(timeout->count() / 1000);
    spec.flags.persistent = true;
}

// Per real: what the file gives is read without copies, and a key path is made only for an error.
std::optional<RealServerConfig> read_real(Ctx& ctx, const toml::table& t, std::string path,
                                          ServiceDraft& s, SourceLocation& address_where) {
    Reader r(ctx, t, std::move(path), kRealKeys);
    RealServerConfig real;
    real.where = r.self();
    bool ok = true;
    const bool inet = s.key_ok && !s.explicit_fwmark && s.cfg.group.empty();
    if (auto text = r.text("address")) {
        // Without a port: the service port, or (fwmark services) the packet's own port.
        std::optional<uint16_t> default_port =
            inet ? std::optional<uint16_t>(s.cfg.key.port) : std::optional<uint16_t>(0);
        auto ep = Endpoint::parse(*text, default_port);
        if (!ep) {
            r.error("address", "invalid real server address '" + std::string(*text) +
                                   "' (expected \"addr:port\", \"[v6]:port\", or an address alone "
                                   "for the service's port)");
            ok = false;
        } else if (ep->port == 0 && Endpoint::parse(*text)) {
            r.error("address",
                    "port must be between 1 and 65535 (leave it out to keep the "
                    "packet's port)");
            ok = false;
        } else if (s.family && ep->addr.family != *s.family) {
            r.error("address", "real server " + ep->addr.to_string() + " is " +
                                   family_name(ep->addr.family) + " but the service is " +
                                   family_name(*s.family));
            ok = false;
        } else if (ep->addr.is_unspecified() || ep->addr.is_multicast()) {
            r.error("address", "a real server cannot be the unspecified or a multicast address");
            ok = false;
        } else {
            real.key = RealKey{ep->addr, ep->port};
        }
    } else {
        if (!r.has("address")) r.missing("address");
        ok = false;
    }
    address_where = r.at("address");
    if (auto w = r.integer("weight", 0, kMaxWeight)) real.spec.weight = static_cast<Weight>(*w);
    if (auto f = r.str("forward")) {
        auto m = parse_forward_method(*f);
        if (!m) {
            r.error("forward",
                    "unknown forward method '" + *f + "' (expected masq, route or tunnel)");
        } else {
            real.spec.forward = *m;
            // Direct routing and tunnelling deliver the packet unchanged: no port rewrite.
            if (*m != ForwardMethod::masquerade && ok && inet && real.key.port != s.cfg.key.port)
                r.error("forward", "forward = \"" + *f + "\" cannot change the port (" +
                                       std::to_string(s.cfg.key.port) + " -> " +
                                       std::to_string(real.key.port) + "); use masq");
        }
    }
    if (auto v = r.integer("upper_threshold", 0, 0xffffffff))
        real.spec.upper_threshold = static_cast<uint32_t>(*v);
    if (auto v = r.integer("lower_threshold", 0, 0xffffffff)) {
        real.spec.lower_threshold = static_cast<uint32_t>(*v);
        if (*v > 0 && (real.spec.upper_threshold == 0 ||
                       real.spec.lower_threshold >= real.spec.upper_threshold))
            r.error("lower_threshold", "lower_threshold needs an upper_threshold above it");
    }
    if (auto v = r.integer("agent_port", 1, 65535)) real.agent_port = static_cast<uint16_t>(*v);
    if (!ok) return std::nullopt;
    return real;
}

// The service's identity: fwmark, a group on a VIP, or protocol + VIP + port.
void read_identity(Ctx& ctx, const Reader& r, ServiceDraft& s) {
    ServiceConfig& cfg = s.cfg;
    if (r.has("fwmark")) {
        s.explicit_fwmark = true;
        s.key_origin = r.origin("fwmark");
        for (auto k : {"vip", "port", "protocol", "group"})
            r.forbid(k, "cannot be used with 'fwmark' (a fwmark service matches marked packets)");
        uint8_t family = AF_INET;
        if (auto f = r.str("family")) {
            if (*f == "ipv6")
                family = AF_INET6;
            else if (*f != "ipv4")
                r.error("family", "family must be \"ipv4\" or \"ipv6\", got '" + *f + "'");
        }
        s.family = family;
        if (auto mark = r.integer("fwmark", 1, 0xffffffff)) {
            cfg.key = ServiceKey::mark(static_cast<uint32_t>(*mark), family);
            s.key_ok = true;
        }
    } else if (r.has("group")) {
        s.key_origin = r.origin("vip");
        r.forbid("port", "cannot be used with 'group' (give ports in the group members)");
        r.forbid("protocol", "cannot be used with 'group' (give protocols in the group members)");
        r.forbid("family", "applies only to fwmark services (the VIP gives the family)");
        auto vip = read_vip(r);
        if (vip) s.family = vip->family;
        read_group(ctx, r, s);
        if (vip && !cfg.group.empty()) {
            cfg.group_vip = vip;
            cfg.key = ServiceKey::mark(0, vip->family);  // mark allocated after all services
            s.key_ok = true;
        }
    } else {
        s.key_origin = r.origin("vip");
        r.forbid("family", "applies only to fwmark services (the VIP gives the family)");
        auto vip = read_vip(r);
        if (vip) s.family = vip->family;
        Protocol proto = Protocol::tcp;
        bool proto_ok = true;
        if (auto p = r.str("protocol")) {
            if (auto parsed = parse_protocol(*p))
                proto = *parsed;
            else {
                r.error("protocol", "unknown protocol '" + *p +
                                        "' (expected tcp, udp or sctp; for others use a group)");
                proto_ok = false;
            }
        } else if (r.has("protocol")) {
            proto_ok = false;
        }
        auto port = r.integer("port", 1, 65535);
        if (!r.has("port")) r.missing("port");
        if (vip && port && proto_ok) {
            cfg.key = ServiceKey::inet(proto, *vip, static_cast<uint16_t>(*port));
            s.key_ok = true;
        }
    }
    if (s.family == AF_INET6) cfg.spec.netmask = 128;
}

// [[service.real]]: each read, checked against the service's check and family.
void read_reals(Ctx& ctx, const Reader& r, ServiceDraft& s) {
    ServiceConfig& cfg = s.cfg;
    if (auto* reals = r.node("real")) {
        auto* a = reals->as_array();
        if (!a) {
            r.error("real", "expected an array of tables ([[service.real]]), got " +
                                type_name(reals->type()));
        } else {
            // Sized once, exactly when the config is accepted (a real server left out is an
            // error): grown one at a time, it would hold up to twice what it needs.
            cfg.reals.reserve(a->size());
            s.real_where.reserve(a->size());
            s.real_index.reserve(a->size());
            const std::string reals_path = r.path("real");
            for (size_t i = 0; i < a->size(); ++i) {
                auto* rt = a->get(i)->as_table();
                if (!rt) {
                    ctx.error(
                        ctx.loc(a->get(i)->source()), index_path(reals_path, i),
                        "expected a table ([[service.real]]), got " + type_name(a->get(i)->type()));
                    continue;
                }
                SourceLocation address_where;
                auto real = read_real(ctx, *rt, index_path(reals_path, i), s, address_where);
                if (!real) continue;
                auto dup = std::find_if(cfg.reals.begin(), cfg.reals.end(),
                                        [&](auto& o) { return o.key == real->key; });
                if (dup != cfg.reals.end()) {
                    ctx.error(address_where, s.address_path_of(i),
                              "duplicate real server " + real->key.to_string() + " (first at " +
                                  ctx.line_of(dup->where) + ")");
                    continue;
                }
                if (cfg.check && cfg.check->type == CheckType::agent && !cfg.check->port &&
                    !real->agent_port)
                    ctx.error(real->where, index_path(reals_path, i),
                              "an agent check needs 'agent_port' on each real server or 'port' in "
                              "the service's check");
                // A fwmark real server without a port takes the packet's: probes
                // that connect somewhere need the check to name the port.
                if (cfg.check && cfg.check->type == CheckType::tcp_half_open &&
                    !real->key.addr.is_v4())
                    ctx.error(address_where, s.address_path_of(i),
                              "a tcp_half_open check probes IPv4 real servers only (" +
                                  real->key.addr.to_string() + " is IPv6: use type = \"tcp\")");
                bool port_probe = cfg.check && cfg.check->type != CheckType::exec &&
                                  cfg.check->type != CheckType::agent;
                if (port_probe && s.key_ok && !cfg.check->port && real->key.port == 0)
                    ctx.error(address_where, s.address_path_of(i),
                              "real server " + real->key.addr.to_string() + " has no port, so a " +
                                  std::string(to_string(cfg.check->type)) +
                                  " check needs 'port' in the service's check");
                cfg.reals.push_back(*real);
                s.real_where.push_back(address_where);
                s.real_index.push_back(static_cast<uint32_t>(i));
            }
        }
    }
}

}  // namespace

void read_service(Ctx& ctx, const toml::table& t, const std::string& path,
                  const CheckDraft& defaults, ServiceDraft& s) {
    Reader r(ctx, t, path, kServiceKeys);
    s.path = path;
    ServiceConfig& cfg = s.cfg;
    cfg.where = r.self();
    s.name_origin = r.origin("name");

    if (auto name = r.str("name")) {
        bool valid = !name->empty() && name->size() <= 64 &&
                     std::all_of(name->begin(), name->end(), [](char c) {
                         return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
                     });
        if (!valid)
            r.error("name", "invalid service name '" + *name +
                                "' (1 to 64 letters, digits, '_', '-' or '.')");
        else
            cfg.name = *name;
    } else if (!r.has("name")) {
        r.missing("name");
    }

    read_identity(ctx, r, s);

    if (auto sched = r.str("scheduler")) {
        if (is_known_scheduler(*sched)) {
            cfg.spec.scheduler = *sched;
        } else {
            std::vector<std::string_view> known(std::begin(kSchedulers), std::end(kSchedulers));
            std::string hint = did_you_mean(*sched, known);
            r.error("scheduler", "unknown scheduler '" + *sched + "'" +
                                     (hint.empty() ? " (known: " + join(known) + ")" : hint));
        }
    }
    read_persistence(ctx, r, s);

    if (auto v = r.boolean("one_packet"); v && *v) {
        bool udp = s.explicit_fwmark ? false
                   : cfg.group.empty()
                       ? cfg.key.protocol == Protocol::udp
                       : std::all_of(cfg.group.begin(), cfg.group.end(),
                                     [](auto& g) { return g.ip_protocol == IPPROTO_UDP; });
        if (!udp)
            r.error("one_packet", "one_packet needs a udp service (or a group of udp members)");
        else
            cfg.spec.flags.one_packet = true;
    }
    auto sched_flag = [&](std::string_view key, std::string_view scheduler, bool& flag) {
        auto v = r.boolean(key);
        if (!v || !*v) return;
        if (cfg.spec.scheduler != scheduler)
            r.error(key, "'" + std::string(key) + "' needs scheduler = \"" +
                             std::string(scheduler) + "\"");
        else
            flag = true;
    };
    sched_flag("sh_fallback", "sh", cfg.spec.flags.sched_flag1);
    sched_flag("sh_port", "sh", cfg.spec.flags.sched_flag2);
    sched_flag("mh_fallback", "mh", cfg.spec.flags.sched_flag1);
    sched_flag("mh_port", "mh", cfg.spec.flags.sched_flag2);

    if (auto v = r.str("on_failure")) {
        if (*v == "quiesce")
            cfg.on_failure = OnFailure::quiesce;
        else if (*v == "remove")
            cfg.on_failure = OnFailure::remove;
        else
            r.error("on_failure", "on_failure must be \"quiesce\" or \"remove\", got '" + *v + "'");
    }
    if (auto v = r.integer("panic_threshold", 1, 100))
        cfg.panic_threshold = static_cast<uint32_t>(*v);

    const bool inet = s.key_ok && !s.explicit_fwmark && cfg.group.empty();
    s.sorry_origin = r.origin("sorry_server");
    if (auto text = r.str("sorry_server")) {
        auto ep = Endpoint::parse(
            *text, inet ? std::optional<uint16_t>(cfg.key.port) : std::optional<uint16_t>(0));
        if (!ep)
            r.error("sorry_server", "invalid address '" + *text +
                                        "' (expected \"addr:port\", "
                                        "\"[v6]:port\" or an address alone)");
        else if (s.family && ep->addr.family != *s.family)
            r.error("sorry_server", "sorry server " + ep->addr.to_string() + " is " +
                                        family_name(ep->addr.family) + " but the service is " +
                                        family_name(*s.family));
        else if (ep->addr.is_unspecified() || ep->addr.is_multicast())
            r.error("sorry_server",
                    "a sorry server cannot be the unspecified or a multicast address");
        else
            cfg.sorry_server = RealKey{ep->addr, ep->port};
    }

    CheckDraft check = defaults;
    if (auto* ct = r.table("check")) {
        apply_check(ctx, *ct, r.path("check"), check, false);
        validate_check(ctx, check, Origin{ctx.loc(ct->source()), r.path("check")});
    }
    if (check.spec.type != CheckType::none) cfg.check = ctx.share(check.spec);

    read_reals(ctx, r, s);
}

}  // namespace ballast::config::detail
