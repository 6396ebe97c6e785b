#include "ballast/agent/repair.hpp"

#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>

#include <algorithm>
#include <boost/json.hpp>

namespace ballast::agent {
namespace {

namespace json = boost::json;

std::string ipc(uint8_t family) {
    return family == AF_INET6 ? "ip -6" : "ip";
}

bool same_route(const Route& a, const Route& b) {
    return a.table == b.table && a.dst == b.dst && a.gateway == b.gateway && a.oif == b.oif;
}

bool same_rule(const Rule& a, const Rule& b) {
    return a.family == b.family && a.priority == b.priority && a.src == b.src && a.dst == b.dst &&
           a.table == b.table && a.iif == b.iif && a.oif == b.oif && a.fwmark == b.fwmark &&
           a.action == b.action;
}

IpPrefix host_route(const IpAddress& a) {
    return IpPrefix{a, static_cast<uint8_t>(a.is_v4() ? 32 : 128)};
}

const char* kind_name(RepairKind k) {
    switch (k) {
        case RepairKind::rule:
            return "rule";
        case RepairKind::route:
            return "route";
        case RepairKind::sysctl:
            return "sysctl";
    }
    return "?";
}

}  // namespace

std::string RepairOp::command(bool undo) const {
    switch (kind) {
        case RepairKind::rule:
            return ipc(rule.family) + " rule " + (undo ? "del" : "add") + " from " +
                   (rule.src ? rule.src->to_string() : "all") + " lookup " +
                   std::to_string(rule.table) + " priority " + std::to_string(rule.priority);
        case RepairKind::route: {
            std::string s = ipc(route.dst.addr.family) + " route " + (undo ? "del " : "add ") +
                            (route.dst.length == 0 ? "default" : route.dst.to_string());
            if (route.gateway) s += " via " + route.gateway->to_string();
            s += " dev " + ifname;
            if (route.prefsrc) s += " src " + route.prefsrc->to_string();
            return s + " table " + std::to_string(route.table);
        }
        case RepairKind::sysctl:
            return "sysctl -w " + sysctl + "=" + std::to_string(undo ? old_value : new_value);
    }
    return {};
}

RepairPlan plan_repair(const AgentSettings& s, const RepairInput& in) {
    RepairPlan plan;
    for (size_t i = 0; i < s.real_servers.size() && i < in.paths.size(); ++i) {
        const RealServerEntry& rs = s.real_servers[i];
        const DirectorPath& path = in.paths[i];
        const std::string rip = rs.address.to_string();
        if (!path.link || !path.rip_net) {
            plan.problems.push_back("cannot repair " + rip + ": " +
                                    (!path.rip_net ? "it is not configured on this host"
                                                   : "director " + rs.director.to_string() +
                                                         " is not on-link from it"));
            continue;
        }
        const uint32_t table = s.repair.table_base + static_cast<uint32_t>(i);

        Rule rule;
        rule.family = rs.address.family;
        rule.priority = s.repair.priority;
        rule.src = host_route(rs.address);
        rule.table = table;
        rule.action = FR_ACT_TO_TBL;

        Route connected;
        connected.table = table;
        connected.dst = *path.rip_net;
        connected.oif = path.link->index;
        connected.scope = RT_SCOPE_LINK;
        connected.protocol = RTPROT_STATIC;
        connected.prefsrc = rs.address;

        Route def;
        def.table = table;
        def.dst = IpPrefix{IpAddress{}, 0};
        def.dst.addr.family = rs.address.family;
        def.gateway = rs.director;
        def.oif = path.link->index;
        def.scope = RT_SCOPE_UNIVERSE;
        def.protocol = RTPROT_STATIC;

        // Table T must hold nothing but what we would put there.
        bool conflict = false;
        for (const auto& r : in.routes) {
            if (r.table != table || r.dst.addr.family != rs.address.family) continue;
            if (!same_route(r, connected) && !same_route(r, def)) {
                plan.problems.push_back(
                    "cannot repair " + rip + ": table " + std::to_string(table) +
                    " already holds " +
                    (r.dst.length == 0 ? std::string("default") : r.dst.to_string()) +
                    " which ballast-agent did not put there; choose another "
                    "repair.table_base");
                conflict = true;
                break;
            }
        }
        for (const auto& r : in.rules) {
            if (conflict) break;
            if (r.table == table && r.family == rule.family && !same_rule(r, rule)) {
                plan.problems.push_back("cannot repair " + rip + ": rule " +
                                        std::to_string(r.priority) + " already looks up table " +
                                        std::to_string(table) +
                                        "; choose another repair.table_base");
                conflict = true;
            }
        }
        if (conflict) continue;

        auto has_route = [&](const Route& want) {
            return std::any_of(in.routes.begin(), in.routes.end(),
                               [&](const Route& r) { return same_route(r, want); });
        };
        // Routes first, then the rule: the rule never points at an incomplete table.
        for (const Route* want : {&connected, &def}) {
            if (has_route(*want)) continue;
            RepairOp op;
            op.kind = RepairKind::route;
            op.route = *want;
            op.ifname = path.link->name;
            plan.ops.push_back(op);
        }
        if (!std::any_of(in.rules.begin(), in.rules.end(),
                         [&](const Rule& r) { return same_rule(r, rule); })) {
            RepairOp op;
            op.kind = RepairKind::rule;
            op.rule = rule;
            plan.ops.push_back(op);
        }

        if (s.repair.rp_filter_loose && rs.address.is_v4()) {
            auto all = in.rp_filter.find("all");
            auto dev = in.rp_filter.find(path.link->name);
            if (all != in.rp_filter.end() && dev != in.rp_filter.end() &&
                std::max(all->second, dev->second) == 1) {
                std::string key = "net.ipv4.conf." + path.link->name + ".rp_filter";
                bool planned = std::any_of(plan.ops.begin(), plan.ops.end(),
                                           [&](const RepairOp& o) { return o.sysctl == key; });
                if (!planned) {
                    RepairOp op;
                    op.kind = RepairKind::sysctl;
                    op.ifname = path.link->name;
                    op.sysctl = key;
                    op.old_value = dev->second;
                    // max(all, dev) is the effective value: 2 on the device is loose
                    // whatever `all` says, and leaves every other interface alone.
                    op.new_value = 2;
                    plan.ops.push_back(op);
                }
            }
        }
    }
    return plan;
}

std::vector<RepairOp> plan_undo(const std::vector<RepairOp>& applied, const RepairInput& cur) {
    std::vector<RepairOp> out;
    for (auto it = applied.rbegin(); it != applied.rend(); ++it) {
        const RepairOp& op = *it;
        switch (op.kind) {
            case RepairKind::rule:
                if (std::any_of(cur.rules.begin(), cur.rules.end(),
                                [&](const Rule& r) { return same_rule(r, op.rule); }))
                    out.push_back(op);
                break;
            case RepairKind::route:
                if (std::any_of(cur.routes.begin(), cur.routes.end(), [&](const Route& r) {
                        return r.table == op.route.table && r.dst == op.route.dst &&
                               r.gateway == op.route.gateway;
                    }))
                    out.push_back(op);
                break;
            case RepairKind::sysctl: {
                auto v = cur.rp_filter.find(op.ifname);
                if (v != cur.rp_filter.end() && v->second == op.new_value) out.push_back(op);
                break;
            }
        }
    }
    return out;
}

namespace {

json::array ops_json(const std::vector<RepairOp>& ops) {
    json::array arr;
    for (const auto& op : ops) {
        json::object o;
        o["kind"] = kind_name(op.kind);
        switch (op.kind) {
            case RepairKind::rule:
                o["family"] = op.rule.family == AF_INET6 ? 6 : 4;
                o["priority"] = op.rule.priority;
                o["from"] = op.rule.src ? op.rule.src->to_string() : "all";
                o["table"] = op.rule.table;
                break;
            case RepairKind::route:
                o["table"] = op.route.table;
                o["dst"] = op.route.dst.to_string();
                if (op.route.gateway) o["via"] = op.route.gateway->to_string();
                if (op.route.prefsrc) o["src"] = op.route.prefsrc->to_string();
                o["dev"] = op.ifname;
                o["ifindex"] = op.route.oif;
                o["scope"] = op.route.scope;
                o["protocol"] = op.route.protocol;
                break;
            case RepairKind::sysctl:
                o["key"] = op.sysctl;
                o["dev"] = op.ifname;
                o["old"] = op.old_value;
                o["new"] = op.new_value;
                break;
        }
        arr.push_back(std::move(o));
    }
    return arr;
}

Error bad_state(const std::string& where, const std::string& what) {
    return make_error(EINVAL, "parse repair state", where, where + ": " + what);
}

Result<std::vector<RepairOp>> parse_ops(const json::array& list, const std::string& name) {
    auto bad = bad_state;
    std::vector<RepairOp> out;
    size_t i = 0;
    for (const auto& v : list) {
        std::string where = name + "[" + std::to_string(i++) + "]";
        const json::object* o = v.if_object();
        if (!o) return bad(where, "expected an object");
        auto str = [&](const char* k) -> std::optional<std::string> {
            const json::value* x = o->if_contains(k);
            if (!x || !x->is_string()) return std::nullopt;
            return std::string(x->as_string());
        };
        auto num = [&](const char* k, int64_t lo, int64_t hi) -> std::optional<int64_t> {
            const json::value* x = o->if_contains(k);
            if (!x || (!x->is_int64() && !x->is_uint64())) return std::nullopt;
            int64_t n = x->is_int64() ? x->as_int64() : static_cast<int64_t>(x->as_uint64());
            if (x->is_uint64() && x->as_uint64() > static_cast<uint64_t>(INT64_MAX))
                return std::nullopt;
            if (n < lo || n > hi) return std::nullopt;
            return n;
        };
        auto kind = str("kind");
        RepairOp op;
        if (kind == "rule") {
            auto fam = num("family", 4, 6);
            auto prio = num("priority", 0, UINT32_MAX);
            auto table = num("table", 1, UINT32_MAX);
            auto from = str("from");
            if (!fam || (*fam != 4 && *fam != 6) || !prio || !table || !from)
                return bad(where, "rule needs family (4|6), priority, from, table");
            op.kind = RepairKind::rule;
            op.rule.family = *fam == 6 ? AF_INET6 : AF_INET;
            op.rule.priority = static_cast<uint32_t>(*prio);
            op.rule.table = static_cast<uint32_t>(*table);
            op.rule.action = FR_ACT_TO_TBL;
            if (*from != "all") {
                auto p = IpPrefix::parse(*from);
                if (!p || p->addr.family != op.rule.family) return bad(where, "bad 'from'");
                op.rule.src = *p;
            }
        } else if (kind == "route") {
            auto table = num("table", 1, UINT32_MAX);
            auto dst = str("dst");
            auto dev = str("dev");
            auto ifindex = num("ifindex", 0, INT32_MAX);
            auto scope = num("scope", 0, 255);
            auto proto = num("protocol", 0, 255);
            if (!table || !dst || !dev || !ifindex || !scope || !proto)
                return bad(where, "route needs table, dst, dev, ifindex, scope, protocol");
            if (!valid_ifname(*dev)) return bad(where, "'dev' is not an interface name");
            auto p = IpPrefix::parse(*dst);
            if (!p) return bad(where, "bad 'dst'");
            op.kind = RepairKind::route;
            op.route.table = static_cast<uint32_t>(*table);
            op.route.dst = *p;
            op.route.oif = static_cast<int>(*ifindex);
            op.route.scope = static_cast<uint8_t>(*scope);
            op.route.protocol = static_cast<uint8_t>(*proto);
            op.ifname = *dev;
            if (auto via = str("via")) {
                auto a = IpAddress::parse(*via);
                if (!a || a->family != p->addr.family) return bad(where, "bad 'via'");
                op.route.gateway = *a;
            }
            if (auto src = str("src")) {
                auto a = IpAddress::parse(*src);
                if (!a || a->family != p->addr.family) return bad(where, "bad 'src'");
                op.route.prefsrc = *a;
            }
        } else if (kind == "sysctl") {
            auto key = str("key");
            auto dev = str("dev");
            auto old_v = num("old", 0, 2);
            auto new_v = num("new", 0, 2);
            if (!key || !dev || !old_v || !new_v)
                return bad(where, "sysctl needs key, dev, old (0..2), new (0..2)");
            if (!valid_ifname(*dev)) return bad(where, "'dev' is not an interface name");
            if (*key != "net.ipv4.conf." + *dev + ".rp_filter")
                return bad(where, "only net.ipv4.conf.<dev>.rp_filter is ever recorded");
            op.kind = RepairKind::sysctl;
            op.sysctl = *key;
            op.ifname = *dev;
            op.old_value = static_cast<int>(*old_v);
            op.new_value = static_cast<int>(*new_v);
        } else {
            return bad(where, "kind must be rule, route or sysctl");
        }
        out.push_back(std::move(op));
    }
    return out;
}

}  // namespace

std::vector<RepairOp> RepairRecord::changes() const {
    std::vector<RepairOp> all = applied;
    all.insert(all.end(), pending.begin(), pending.end());
    return all;
}

std::string serialize_state(const RepairRecord& r) {
    json::object root;
    root["version"] = 2;
    root["boot_id"] = r.boot_id;
    root["applied"] = ops_json(r.applied);
    root["pending"] = ops_json(r.pending);
    return json::serialize(root) + "\n";
}

Result<RepairRecord> parse_state(std::string_view text) {
    boost::system::error_code ec;
    json::value root = json::parse(text, ec);
    if (ec) return bad_state("state file", "not JSON: " + ec.message());
    const json::object* obj = root.if_object();
    if (!obj) return bad_state("state file", "expected an object");
    const json::value* ver = obj->if_contains("version");
    if (!ver || !ver->is_int64() || (ver->as_int64() != 1 && ver->as_int64() != 2))
        return bad_state("version", "expected version 1 or 2");
    const bool v2 = ver->as_int64() == 2;
    RepairRecord out;
    if (v2) {
        const json::value* boot = obj->if_contains("boot_id");
        if (!boot || !boot->is_string()) return bad_state("boot_id", "expected a string");
        out.boot_id = std::string(boot->as_string());
    }
    for (const char* name : {"applied", "pending"}) {
        if (!v2 && std::string_view(name) == "pending") break;
        const json::value* list = obj->if_contains(name);
        if (!list || !list->is_array()) return bad_state(name, "expected an array");
        auto ops = parse_ops(list->as_array(), name);
        if (!ops) return ops.error();
        (std::string_view(name) == "applied" ? out.applied : out.pending) = std::move(*ops);
    }
    return out;
}

bool valid_ifname(std::string_view n) {
    if (n.empty() || n.size() > 15 || n == "." || n == "..") return false;
    return std::none_of(n.begin(), n.end(), [](char c) {
        return c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
               c == '\v' || c == '\f' || c == '\0';
    });
}

}  // namespace ballast::agent
