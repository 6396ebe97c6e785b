#include "ballast/agent/verdict.hpp"

#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace ballast::agent {
namespace {

using model::IpAddress;

std::string table_name(uint32_t t) {
    switch (t) {
        case RT_TABLE_MAIN:
            return "main";
        case RT_TABLE_LOCAL:
            return "local";
        case RT_TABLE_DEFAULT:
            return "default";
        default:
            return std::to_string(t);
    }
}

const Link* find_link(const std::vector<Link>& links, int index) {
    for (const auto& l : links)
        if (l.index == index) return &l;
    return nullptr;
}

std::string ifname(const std::vector<Link>& links, int index) {
    if (const Link* l = find_link(links, index)) return l->name;
    return "if" + std::to_string(index);
}

const Address* find_address(const std::vector<Address>& addrs, const IpAddress& a) {
    for (const auto& x : addrs)
        if (x.prefix.addr == a) return &x;
    return nullptr;
}

// The subnet a local address sits in, e.g. 10.0.0.5/24 -> 10.0.0.0/24.
IpPrefix network_of(const IpPrefix& p) {
    IpPrefix net = p;
    for (size_t i = 0; i < net.addr.size(); ++i) {
        int bits = static_cast<int>(p.length) - static_cast<int>(i) * 8;
        uint8_t mask = bits >= 8 ? 0xff : bits <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - bits));
        net.addr.bytes[i] &= mask;
    }
    return net;
}

std::string host_prefix(const IpAddress& a) {
    return a.to_string() + (a.is_v4() ? "/32" : "/128");
}

std::string ip_cmd(const IpAddress& a) {
    return a.is_v4() ? "ip" : "ip -6";
}

Check make(std::string name, std::string subject, Verdict v, std::string reason,
           std::string fix = {}) {
    return Check{std::move(name), std::move(subject), v, std::move(reason), std::move(fix)};
}

// The commands `--repair` would run for one real server (index i in the config).
std::string repair_commands(const AgentSettings& s, size_t i, const RealServerEntry& rs,
                            const std::string& dev, const std::optional<IpPrefix>& net) {
    uint32_t table = s.repair.table_base + static_cast<uint32_t>(i);
    std::string ip = ip_cmd(rs.address);
    std::string t = std::to_string(table);
    std::string cmd = ip + " rule add from " + host_prefix(rs.address) + " lookup " + t +
                      " priority " + std::to_string(s.repair.priority) + "; ";
    if (net)
        cmd += ip + " route replace " + net->to_string() + " dev " + dev + " src " +
               rs.address.to_string() + " table " + t + "; ";
    cmd += ip + " route replace default via " + rs.director.to_string() + " dev " + dev +
           " table " + t + "   (or: ballast-agent --repair)";
    return cmd;
}

bool rule_selects(const Rule& r, const IpAddress& src, const IpAddress& dst) {
    if (r.action != FR_ACT_TO_TBL) return false;
    if (r.src && !r.src->contains(src)) return false;
    if (r.dst && !r.dst->contains(dst)) return false;
    if (!r.iif.empty() && r.iif != "lo") return false;  // output lookups come from lo
    if (!r.oif.empty() || r.fwmark != 0) return false;
    return true;
}

std::string describe_rule(const Rule& r) {
    std::string from = r.src ? r.src->to_string() : "all";
    return "rule " + std::to_string(r.priority) + " (from " + from + " lookup " +
           table_name(r.table) + ")";
}

std::string describe_route(const Route& r, const std::vector<Link>& links) {
    std::string s = r.dst.length == 0 ? std::string("default") : r.dst.to_string();
    if (r.gateway) s += " via " + r.gateway->to_string();
    s += " dev " + ifname(links, r.oif);
    s += " metric " + std::to_string(r.metric) + " (table " + table_name(r.table) + ")";
    return s;
}

bool is_default(const Route& r, uint8_t family) {
    return r.dst.length == 0 && r.dst.addr.family == family && r.type == RTN_UNICAST &&
           r.table != RT_TABLE_LOCAL;
}

struct Probe {
    IpAddress client;
    Result<RouteAnswer> answer;
};

// The lookup failed for the agent's own reasons: no answer from the kernel either way.
bool agent_fault(const Result<RouteAnswer>& a) {
    return !a && is_agent_fault(a.error());
}

Check agent_error(std::string name, std::string subject, const std::string& what, const Error& e) {
    return make(std::move(name), std::move(subject), Verdict::warn,
                "agent error, not evidence against this server: " + what + ": " + e.describe());
}

// Why the winning route beat the director's: the multihoming explanation.
Check multihoming(const RealServerEntry& rs, int director_if, const std::vector<Probe>& probes,
                  const std::vector<Link>& links, RouteQuery& q) {
    std::string subject = rs.address.to_string();
    auto routes = q.routes(rs.address.family);
    auto rules = q.rules(rs.address.family);
    if (!routes || !rules)
        return make(
            "multihoming", subject, Verdict::warn,
            "cannot list routes/rules: " + (!routes ? routes.error() : rules.error()).describe());
    std::vector<Route> defaults;
    for (const auto& r : *routes)
        if (is_default(r, rs.address.family)) defaults.push_back(r);
    std::vector<Rule> sorted = *rules;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const Rule& a, const Rule& b) { return a.priority < b.priority; });

    auto via_director = [&](const Route& r) {
        return r.gateway && *r.gateway == rs.director && r.oif == director_if;
    };
    const Probe* bad = nullptr;
    for (const auto& p : probes)
        if (!p.answer || !p.answer->gateway || *p.answer->gateway != rs.director ||
            p.answer->oif != director_if) {
            bad = &p;
            break;
        }
    const Probe& p = bad ? *bad : probes.front();
    const Rule* chose = nullptr;
    if (p.answer)
        for (const auto& r : sorted)
            if (rule_selects(r, rs.address, p.client) && r.table == p.answer->table) {
                chose = &r;
                break;
            }
    std::string by_rule = chose ? ", chosen by " + describe_rule(*chose) : "";

    if (!bad) {
        if (defaults.size() <= 1)
            return make("multihoming", subject, Verdict::pass,
                        defaults.empty()
                            ? "no default route; replies follow specific routes via the director"
                            : "single default route: " + describe_route(defaults[0], links));
        // Several defaults: fine when a rule selecting on the RIP picks the table,
        // fragile when the director wins only by metric in a shared table.
        if (chose && chose->src && chose->src->length > 0)
            return make("multihoming", subject, Verdict::pass,
                        std::to_string(defaults.size()) + " default routes; replies from " +
                            subject + " use table " + table_name(p.answer->table) + by_rule);
        std::string others;
        for (const auto& d : defaults)
            if (!via_director(d)) others += (others.empty() ? "" : ", ") + describe_route(d, links);
        return make("multihoming", subject, Verdict::warn,
                    "the director's default route wins only by metric over " + others +
                        "; a metric change would divert replies",
                    "ballast-agent --repair   (per-source policy routing for " + subject + ")");
    }
    if (agent_fault(p.answer))
        return agent_error("multihoming", subject, "cannot look up the return route",
                           p.answer.error());
    if (!p.answer)
        return make("multihoming", subject, Verdict::fail,
                    "no route from " + subject + " to " + p.client.to_string() + ": " +
                        p.answer.error().describe());
    const RouteAnswer& a = *p.answer;
    std::string winner;
    const Route* win = nullptr;
    for (const auto& r : *routes)
        if (r.table == a.table && a.matched && r.dst == *a.matched && r.metric == a.metric &&
            r.oif == a.oif) {
            win = &r;
            break;
        }
    winner = win ? describe_route(*win, links)
                 : (a.gateway ? "via " + a.gateway->to_string() : std::string("on-link")) +
                       " dev " + ifname(links, a.oif) + " (table " + table_name(a.table) + ")";
    std::string why;
    const Route* ours = nullptr;
    for (const auto& d : defaults)
        if (via_director(d) && (!ours || d.table == a.table)) ours = &d;
    if (win && win->dst.length > 0) {
        why = "a more specific route matches " + p.client.to_string();
    } else if (!ours) {
        why = "no default route via director " + rs.director.to_string() + " in any table";
    } else if (ours->table == a.table) {
        why = ours->metric > a.metric ? "lower metric (" + std::to_string(a.metric) + " < " +
                                            std::to_string(ours->metric) + ")"
                                      : "same metric, installed first";
        why = "it wins over " + describe_route(*ours, links) + ": " + why;
    } else {
        why = "table " + table_name(ours->table) + " (which has " + describe_route(*ours, links) +
              ") is not consulted for " + subject + " before table " + table_name(a.table);
    }
    return make("multihoming", subject, Verdict::fail,
                winner + " carries replies from " + subject + by_rule + "; " + why);
}

}  // namespace

bool is_agent_fault(const Error& e) {
    switch (e.code) {
        case EINTR:    // a dump interrupted by a concurrent change (NLM_F_DUMP_INTR), retried
        case EAGAIN:   // a receive timed out
        case ENOBUFS:  // socket buffer overrun
        case ENOMEM:
        case EMFILE:
        case ENFILE:
        case EBADF:
        case EBADMSG:  // a reply the agent could not decode
        case EPROTO:   // a reply out of sequence
        case EIO:      // a libnl error with no errno of its own
            return true;
        default:
            return false;
    }
}

const char* to_string(Verdict v) {
    switch (v) {
        case Verdict::pass:
            return "pass";
        case Verdict::warn:
            return "warn";
        case Verdict::fail:
            return "fail";
    }
    return "?";
}

Verdict Report::overall() const {
    Verdict v = Verdict::pass;
    for (const auto& c : checks) v = std::max(v, c.verdict);
    return v;
}

const Check* Report::first_failure() const {
    for (const auto& c : checks)
        if (c.verdict == Verdict::fail) return &c;
    return nullptr;
}

std::vector<IpAddress> default_probe_clients() {
    return {*IpAddress::parse("10.255.255.1"), *IpAddress::parse("203.0.113.9"),
            *IpAddress::parse("fdff:ffff:ffff::1"), *IpAddress::parse("2001:db8:ffff::9")};
}

DirectorPath find_director_path(const RealServerEntry& rs, RouteQuery& q) {
    DirectorPath path{rs.address, rs.director, std::nullopt, std::nullopt};
    auto links = q.links();
    auto addrs = q.addresses();
    if (!links || !addrs) return path;
    if (const Address* a = find_address(*addrs, rs.address)) {
        path.rip_net = network_of(a->prefix);
        auto d = q.lookup(rs.director, rs.address);
        if (d && !d->gateway && d->type == RTN_UNICAST)
            if (const Link* l = find_link(*links, d->oif)) path.link = *l;
    }
    return path;
}

Report evaluate(const AgentSettings& s, RouteQuery& q, HostInfo& host) {
    Report report;
    auto& out = report.checks;
    auto links = q.links();
    auto addrs = q.addresses();
    if (!links || !addrs) {
        // Whatever stops the agent reading the interfaces is its own trouble (an interrupted
        // dump that kept failing, no descriptor, no memory): warn, never answer down for it.
        out.push_back(agent_error("netlink", "links/addresses", "cannot read interfaces",
                                  !links ? links.error() : addrs.error()));
        return report;
    }
    auto sockets = host.sockets();

    for (size_t i = 0; i < s.real_servers.size(); ++i) {
        const RealServerEntry& rs = s.real_servers[i];
        const std::string rip = rs.address.to_string();
        const std::string dip = rs.director.to_string();

        // Address: the RIP is configured here and its interface is up.
        const Address* addr = find_address(*addrs, rs.address);
        bool route_checks = false;
        if (!addr) {
            std::string dev = "<dev>";
            uint8_t len = rs.address.is_v4() ? 24 : 64;
            for (const auto& a : *addrs)
                if (a.prefix.addr.family == rs.address.family && a.prefix.contains(rs.director)) {
                    dev = ifname(*links, a.ifindex);
                    len = a.prefix.length;
                }
            out.push_back(make("address", rip, Verdict::fail,
                               rip + " is not configured on any interface",
                               ip_cmd(rs.address) + " addr add " + rip + "/" + std::to_string(len) +
                                   " dev " + dev));
        } else {
            std::string dev = ifname(*links, addr->ifindex);
            const Link* l = find_link(*links, addr->ifindex);
            if (l && !l->admin_up) {
                out.push_back(make("address", rip, Verdict::fail,
                                   "interface " + dev + " carrying " + rip + " is down",
                                   "ip link set dev " + dev + " up"));
            } else if (l && !l->oper_up) {
                out.push_back(
                    make("address", rip, Verdict::fail,
                         "interface " + dev + " carrying " + rip + " has no carrier (link down)",
                         "check the cable/peer of " + dev + " (ip link show " + dev + ")"));
            } else {
                out.push_back(make("address", rip, Verdict::pass,
                                   addr->prefix.to_string() + " on " + dev + " (up)"));
                route_checks = true;
            }
        }

        // Director: on-link from the RIP; its device is the one replies must use.
        int director_if = 0;
        std::optional<IpPrefix> rip_net;
        if (addr) rip_net = network_of(addr->prefix);
        if (route_checks) {
            auto d = q.lookup(rs.director, rs.address);
            std::string subject = rip + " -> director " + dip;
            if (agent_fault(d)) {
                out.push_back(
                    agent_error("director", subject, "cannot look up the director", d.error()));
            } else if (!d) {
                out.push_back(make(
                    "director", subject, Verdict::fail,
                    "no route from " + rip + " to director " + dip + ": " + d.error().describe(),
                    "set director = to the director's address on " + rip + "'s segment"));
            } else if (d->type == RTN_LOCAL) {
                out.push_back(make("director", subject, Verdict::fail,
                                   "director " + dip + " is an address of this host",
                                   "set director = to the director's address, not this host's"));
            } else if (d->gateway) {
                out.push_back(make("director", subject, Verdict::fail,
                                   "director " + dip + " is not on-link from " + rip +
                                       ": it is reached via " + d->gateway->to_string() + " (" +
                                       ifname(*links, d->oif) + ")",
                                   "LVS-NAT needs the director on the real server's segment: "
                                   "set director = to its address there"));
            } else {
                director_if = d->oif;
                out.push_back(
                    make("director", subject, Verdict::pass,
                         "director " + dip + " is on-link via " + ifname(*links, d->oif)));
            }
        }

        // Return route for every probe client of the RIP's family.
        std::vector<Probe> probes;
        if (director_if != 0) {
            std::string dev = ifname(*links, director_if);
            std::string fix = repair_commands(s, i, rs, dev, rip_net);
            for (const auto& c : s.probe_clients) {
                if (c.family != rs.address.family) continue;
                Probe p{c, q.lookup(c, rs.address)};
                std::string subject = rip + " -> " + c.to_string();
                if (agent_fault(p.answer)) {
                    out.push_back(agent_error("return-route", subject,
                                              "cannot look up the return route to " + c.to_string(),
                                              p.answer.error()));
                } else if (!p.answer) {
                    out.push_back(make("return-route", subject, Verdict::fail,
                                       "no return route to " + c.to_string() + " from " + rip +
                                           ": " + p.answer.error().describe(),
                                       fix));
                } else if (p.answer->type != RTN_UNICAST) {
                    out.push_back(make("return-route", subject, Verdict::fail,
                                       "return route to " + c.to_string() +
                                           " is not a unicast route (type " +
                                           std::to_string(p.answer->type) + ")",
                                       fix));
                } else if (!p.answer->gateway) {
                    out.push_back(
                        make("return-route", subject, Verdict::fail,
                             "return route to " + c.to_string() + " is on-link via " +
                                 ifname(*links, p.answer->oif) + ": replies bypass director " + dip,
                             ip_cmd(c) + " route add " + host_prefix(c) + " via " + dip + " dev " +
                                 dev + " table " +
                                 std::to_string(s.repair.table_base + static_cast<uint32_t>(i)) +
                                 "   (and the policy rule: " + fix + ")"));
                } else if (*p.answer->gateway != rs.director || p.answer->oif != director_if) {
                    out.push_back(make("return-route", subject, Verdict::fail,
                                       "return route to " + c.to_string() + " leaves via " +
                                           p.answer->gateway->to_string() + " (" +
                                           ifname(*links, p.answer->oif) + "), not director " + dip,
                                       fix));
                } else {
                    out.push_back(make("return-route", subject, Verdict::pass,
                                       "return route to " + c.to_string() +
                                           " leaves via director " + dip + " (" + dev +
                                           "), table " + table_name(p.answer->table)));
                }
                probes.push_back(std::move(p));
            }
            if (!probes.empty()) out.push_back(multihoming(rs, director_if, probes, *links, q));
        }

        // rp_filter (IPv4 only): effective value on the interface facing the director.
        if (director_if != 0 && rs.address.is_v4()) {
            std::string dev = ifname(*links, director_if);
            auto all = host.rp_filter("all");
            auto dv = host.rp_filter(dev);
            if (!all || !dv) {
                out.push_back(
                    make("rp_filter", dev, Verdict::warn,
                         "cannot read rp_filter: " + (!all ? all.error() : dv.error()).describe()));
            } else {
                int eff = std::max(*all, *dv);
                std::string values =
                    "all=" + std::to_string(*all) + ", " + dev + "=" + std::to_string(*dv);
                const Probe* dropped = nullptr;
                for (const auto& p : probes) {
                    if (agent_fault(p.answer)) continue;
                    bool no_route = !p.answer || p.answer->type != RTN_UNICAST;
                    bool asymmetric = !no_route && p.answer->oif != director_if;
                    if ((eff == 1 && (no_route || asymmetric)) || (eff >= 2 && no_route)) {
                        dropped = &p;
                        break;
                    }
                }
                if (eff == 0) {
                    out.push_back(make("rp_filter", dev, Verdict::pass,
                                       "rp_filter off on " + dev + " (" + values + ")"));
                } else if (!dropped) {
                    out.push_back(make("rp_filter", dev, Verdict::pass,
                                       std::string(eff == 1 ? "strict" : "loose") +
                                           " rp_filter on " + dev + " (" + values +
                                           ") accepts client packets: the reverse path of every "
                                           "probe client is " +
                                           dev));
                } else if (eff == 1) {
                    std::string via = dropped->answer ? ifname(*links, dropped->answer->oif)
                                                      : std::string("nowhere (no route)");
                    out.push_back(make(
                        "rp_filter", dev, Verdict::fail,
                        "strict rp_filter on " + dev + " (effective 1 = max of " + values +
                            ") drops client packets from " + dropped->client.to_string() +
                            " that the director forwards in on " + dev +
                            ": their reverse path leaves via " + via,
                        "sysctl -w net.ipv4.conf." + dev +
                            ".rp_filter=2   (loose; or fix the return route, then strict passes)"));
                } else {
                    out.push_back(make("rp_filter", dev, Verdict::fail,
                                       "loose rp_filter on " + dev + " (" + values +
                                           ") drops packets from " + dropped->client.to_string() +
                                           ": no route back",
                                       repair_commands(s, i, rs, dev, rip_net)));
                }
            }
        }

        // Listener: something accepts RIP:PORT (or the wildcard) for the protocol.
        const char* proto = rs.transport == Transport::tcp ? "tcp" : "udp";
        for (uint16_t port : rs.ports) {
            std::string subject = rip + ":" + std::to_string(port) + "/" + proto;
            if (!sockets) {
                out.push_back(make("listener", subject, Verdict::warn,
                                   "cannot read sockets: " + sockets.error().describe()));
            } else if (is_listening(*sockets, rs.transport, rs.address, port)) {
                out.push_back(make("listener", subject, Verdict::pass,
                                   std::string("a ") + proto + " socket accepts " + subject));
            } else {
                out.push_back(make("listener", subject, Verdict::fail,
                                   "nothing listens on " + subject + " (nor on the wildcard)",
                                   std::string("start the service bound to ") + rip + ":" +
                                       std::to_string(port) + " or the wildcard (check: ss -l" +
                                       (rs.transport == Transport::tcp ? "t" : "u") + "n)"));
            }
        }

        // Bond: the interface facing the director (or carrying the RIP) when it is one.
        int bond_if = director_if != 0 ? director_if : (addr ? addr->ifindex : 0);
        if (const Link* l = find_link(*links, bond_if); l && l->kind == "bond") {
            out.push_back(bond_check(l->name, host.bond(l->name)));
        }
    }
    return report;
}

Check bond_check(const std::string& ifname, const Result<BondState>& b) {
    if (!b)
        return make("bond", ifname, Verdict::warn,
                    "cannot read bond state: " + b.error().describe());
    std::vector<std::string> down;
    for (const auto& sl : b->slaves)
        if (!sl.link_up) down.push_back(sl.name);
    std::string desc = ifname + " mode " + b->mode +
                       (b->active_slave.empty() ? "" : ", active " + b->active_slave);
    if (b->slaves.empty() || down.size() == b->slaves.size())
        return make("bond", ifname, Verdict::fail, desc + ": no slave has link",
                    "ip link set dev <slave> master " + ifname + " and check cabling");
    if (!down.empty()) {
        std::string names;
        for (const auto& n : down) names += (names.empty() ? "" : ", ") + n;
        return make("bond", ifname, Verdict::warn,
                    desc + ": slave " + names + " link down (" +
                        std::to_string(b->slaves.size() - down.size()) + "/" +
                        std::to_string(b->slaves.size()) + " up)",
                    "check cabling/peer of " + names + "; ip link set dev " + down.front() + " up");
    }
    return make("bond", ifname, Verdict::pass,
                desc + ", all " + std::to_string(b->slaves.size()) + " slaves up");
}

std::string agent_reply(const Report& report, bool drain, std::optional<int> weight_percent) {
    if (const Check* f = report.first_failure()) {
        std::string reason = f->reason;
        // One line, no separators HAProxy would split on inside the reason's word.
        for (char& c : reason)
            if (c == '\n' || c == '\r') c = ' ';
        if (reason.size() > 200) reason.resize(200);
        // "down #reason", not "down#reason": HAProxy ends a word only at a blank or
        // comma, so "down#..." would be one unknown word; '#' starting a word opens the
        // description. ballast's own health checker accepts both.
        return "down #" + reason;
    }
    if (drain) return "drain";
    if (weight_percent) return "up " + std::to_string(std::clamp(*weight_percent, 1, 100)) + "%";
    return "up";
}

int weight_from_loadavg(double load1, unsigned cpus) {
    if (cpus == 0) cpus = 1;
    double busy = load1 / static_cast<double>(cpus);
    if (!(busy >= 0)) busy = 0;  // NaN
    return std::clamp(static_cast<int>(std::lround(100.0 * (1.0 - busy))), 1, 100);
}

}  // namespace ballast::agent
