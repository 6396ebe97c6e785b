#include "ballast/nft/ruleset.hpp"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "ballast/nft/intervals.hpp"

namespace ballast::nft {
namespace {

// nft's datatype ids (src/datatype.h) and NFTNL_UDATA_SET_KEYBYTEORDER values.
constexpr uint32_t kTypeIpAddr = 7;
constexpr uint32_t kTypeIp6Addr = 8;
constexpr uint32_t kTypeIfname = 41;
constexpr uint32_t kByteorderHost = 1;
constexpr uint32_t kByteorderBig = 2;

Bytes key_byteorder_udata(uint32_t byteorder) {
    // One TLV: type NFTNL_UDATA_SET_KEYBYTEORDER (0), length 4, value in host order.
    Bytes b{0, 4, 0, 0, 0, 0};
    std::memcpy(b.data() + 2, &byteorder, 4);
    return b;
}

Bytes u8(uint8_t v) {
    return Bytes{v};
}
Bytes be16(uint16_t v) {
    return Bytes{static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
}
Bytes host32(uint32_t v) {
    Bytes b(4);
    std::memcpy(b.data(), &v, 4);
    return b;
}
Bytes addr_bytes(const model::IpAddress& a) {
    return Bytes(a.bytes.begin(), a.bytes.begin() + static_cast<std::ptrdiff_t>(a.size()));
}
Bytes ifname_bytes(const std::string& name) {
    Bytes b(IFNAMSIZ, 0);
    std::memcpy(b.data(), name.data(), std::min(name.size(), size_t{IFNAMSIZ - 1}));
    return b;
}

// `ip saddr` / `ip6 saddr` / `ip daddr` / `ip6 daddr` in the inet family: nft first
// matches the network protocol, then loads the address from the network header.
void match_family(std::vector<Expr>& e, bool v6) {
    e.push_back(MetaLoad{NFT_META_NFPROTO, NFT_REG_1});
    e.push_back(Cmp{NFT_REG_1, NFT_CMP_EQ, u8(v6 ? NFPROTO_IPV6 : NFPROTO_IPV4)});
}
Payload address_load(bool v6, bool source) {
    // iphdr: saddr @12, daddr @16 (4 bytes); ipv6hdr: saddr @8, daddr @24 (16 bytes).
    const uint32_t offset = v6 ? (source ? 8 : 24) : (source ? 12 : 16);
    return Payload{NFT_REG_1, NFT_PAYLOAD_NETWORK_HEADER, offset, v6 ? 16u : 4u};
}

Rule masquerade_rule(bool v6, bool with_egress) {
    Rule r;
    match_family(r.exprs, v6);
    r.exprs.push_back(address_load(v6, true));
    r.exprs.push_back(Lookup{NFT_REG_1, v6 ? kSetRs6 : kSetRs4, 0});
    if (with_egress) {
        r.exprs.push_back(MetaLoad{NFT_META_OIFNAME, NFT_REG_1});
        r.exprs.push_back(Lookup{NFT_REG_1, kSetEgress, 0});
    }
    r.exprs.push_back(Masquerade{});
    return r;
}

bool has_ports(uint8_t proto) {
    switch (proto) {
        case IPPROTO_TCP:
        case IPPROTO_UDP:
        case IPPROTO_SCTP:
        case IPPROTO_DCCP:
        case IPPROTO_UDPLITE:
            return true;
        default:
            return false;
    }
}

Result<Rule> mark_rule(const kernel::MarkGroup& g, const model::GroupMatch& m) {
    const std::string where = "group " + g.name;
    if (m.port_first == 0 && m.port_last != 0)
        return make_error(EINVAL, "nft mark rule", where, "port range without a first port");
    if (m.port_first != 0 && !has_ports(m.ip_protocol))
        return make_error(EINVAL, "nft mark rule", where,
                          "IP protocol " + std::to_string(m.ip_protocol) + " has no ports");
    if (m.port_last != 0 && m.port_last < m.port_first)
        return make_error(EINVAL, "nft mark rule", where, "port range ends before it starts");
    Rule r;
    const bool v6 = g.vip.is_v6();
    match_family(r.exprs, v6);
    r.exprs.push_back(address_load(v6, false));
    r.exprs.push_back(Cmp{NFT_REG_1, NFT_CMP_EQ, addr_bytes(g.vip)});
    r.exprs.push_back(MetaLoad{NFT_META_L4PROTO, NFT_REG_1});
    r.exprs.push_back(Cmp{NFT_REG_1, NFT_CMP_EQ, u8(m.ip_protocol)});
    if (m.port_first != 0) {
        // Destination port: offset 2 in tcp/udp/sctp/dccp/udplite headers.
        r.exprs.push_back(Payload{NFT_REG_1, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2});
        if (m.port_last == 0 || m.port_last == m.port_first) {
            r.exprs.push_back(Cmp{NFT_REG_1, NFT_CMP_EQ, be16(m.port_first)});
        } else {
            r.exprs.push_back(Cmp{NFT_REG_1, NFT_CMP_GTE, be16(m.port_first)});
            r.exprs.push_back(Cmp{NFT_REG_1, NFT_CMP_LTE, be16(m.port_last)});
        }
    }
    r.exprs.push_back(Immediate{NFT_REG_1, host32(g.mark)});
    r.exprs.push_back(MetaSet{NFT_META_MARK, NFT_REG_1});
    return r;
}

std::string bytes_text(const std::string& set, const Bytes& b) {
    if (set == kSetEgress)
        return std::string(reinterpret_cast<const char*>(b.data()),
                           strnlen(reinterpret_cast<const char*>(b.data()), b.size()));
    model::IpAddress a;
    a.family = b.size() == 16 ? AF_INET6 : AF_INET;
    std::copy(b.begin(), b.end(), a.bytes.begin());
    return a.to_string();
}

std::string intervals_text(const std::string& set, const std::vector<Interval>& v) {
    std::string s;
    for (const auto& i : v) {
        if (!s.empty()) s += ", ";
        s += bytes_text(set, i.first);
        if (i.last != i.first) s += "-" + bytes_text(set, i.last);
    }
    return s;
}

bool all_zero(const Bytes& b) {
    return std::all_of(b.begin(), b.end(), [](uint8_t c) { return c == 0; });
}

// Appends ops creating the whole table (after an optional delete).
void create_all(std::vector<NftOp>& ops, const TableModel& desired) {
    // nft's order (table, chains, sets with elements, rules), so handles come out the same.
    ops.push_back(AddTable{});
    for (const auto& c : desired.chains) {
        ChainModel shape = c;
        shape.rules.clear();
        ops.push_back(AddChain{shape});
    }
    for (const auto& s : desired.sets) {
        SetModel shape = s;
        shape.elements.clear();
        ops.push_back(AddSet{shape});
        if (!s.elements.empty())
            ops.push_back(AddElements{s.name, s.elements, true, s.flags, s.key_len});
    }
    for (const auto& c : desired.chains)
        for (const auto& r : c.rules) ops.push_back(AddRule{c.name, r});
}

}  // namespace

bool SetModel::is_interval() const {
    return (flags & NFT_SET_INTERVAL) != 0;
}

bool SetModel::same_shape(const SetModel& o) const {
    return name == o.name && flags == o.flags && key_type == o.key_type && key_len == o.key_len &&
           userdata == o.userdata;
}

bool ChainModel::same_shape(const ChainModel& o) const {
    return name == o.name && type == o.type && hooknum == o.hooknum && priority == o.priority &&
           policy == o.policy;
}

const SetModel* TableModel::find_set(const std::string& name) const {
    for (const auto& s : sets)
        if (s.name == name) return &s;
    return nullptr;
}

const ChainModel* TableModel::find_chain(const std::string& name) const {
    for (const auto& c : chains)
        if (c.name == name) return &c;
    return nullptr;
}

Result<TableModel> build_table(const kernel::NatDesired& desired) {
    TableModel t;
    SetModel rs4{kSetRs4, NFT_SET_INTERVAL, kTypeIpAddr, 4, key_byteorder_udata(kByteorderBig), {},
                 false};
    SetModel rs6{
        kSetRs6, NFT_SET_INTERVAL, kTypeIp6Addr, 16, key_byteorder_udata(kByteorderBig), {}, false};
    for (const auto& p : desired.real_servers) {
        if (p.length > p.addr.size() * 8)
            return make_error(EINVAL, "nft real-server set", p.to_string(), "prefix too long");
    }
    for (const auto& r : normalise(desired.real_servers)) {
        (r.first.is_v6() ? rs6 : rs4).elements.push_back({addr_bytes(r.first), addr_bytes(r.last)});
    }
    SetModel egress{kSetEgress, 0,    kTypeIfname, IFNAMSIZ, key_byteorder_udata(kByteorderHost),
                    {},         false};
    std::set<std::string> names;
    for (const auto& n : desired.egress_interfaces) {
        if (n.empty() || n.size() >= IFNAMSIZ || n.find('\0') != std::string::npos)
            return make_error(EINVAL, "nft egress set", n, "not a valid interface name");
        names.insert(n);
    }
    for (const auto& n : names) egress.elements.push_back({ifname_bytes(n), ifname_bytes(n)});
    t.sets = {rs4, rs6, egress};

    ChainModel post{kChainPostrouting, "nat", NF_INET_POST_ROUTING, 100, NF_ACCEPT, {}};
    post.rules.push_back(masquerade_rule(false, !names.empty()));
    post.rules.push_back(masquerade_rule(true, !names.empty()));
    ChainModel pre{kChainPrerouting, "filter", NF_INET_PRE_ROUTING, -150, NF_ACCEPT, {}};
    for (const auto& g : desired.mark_groups) {
        if (g.mark == 0)
            return make_error(EINVAL, "nft mark rule", "group " + g.name, "mark 0 is not a mark");
        if (g.matches.empty())
            return make_error(EINVAL, "nft mark rule", "group " + g.name, "group has no matches");
        for (const auto& m : g.matches) {
            auto r = mark_rule(g, m);
            if (!r) return r.error();
            pre.rules.push_back(std::move(*r));
        }
    }
    t.chains = {post, pre};
    return t;
}

std::vector<NftOp> plan(const std::optional<TableModel>& observed, const TableModel& desired) {
    std::vector<NftOp> ops;
    if (!observed) {
        create_all(ops, desired);
        return ops;
    }
    bool rebuild = observed->flags != desired.flags;
    for (const auto& s : desired.sets) {
        const auto* o = observed->find_set(s.name);
        if (o && !o->same_shape(s)) rebuild = true;
    }
    for (const auto& c : desired.chains) {
        const auto* o = observed->find_chain(c.name);
        if (o && !o->same_shape(c)) rebuild = true;
    }
    if (rebuild) {
        ops.push_back(DeleteTable{});
        create_all(ops, desired);
        return ops;
    }

    std::vector<NftOp> set_ops, del_rules, add_rules, chain_ops;
    for (const auto& s : desired.sets) {
        const auto* o = observed->find_set(s.name);
        if (!o) {
            SetModel shape = s;
            shape.elements.clear();
            set_ops.push_back(AddSet{shape});
            if (!s.elements.empty())
                set_ops.push_back(AddElements{s.name, s.elements, true, s.flags, s.key_len});
            continue;
        }
        std::set<Interval> want(s.elements.begin(), s.elements.end());
        std::set<Interval> have(o->elements.begin(), o->elements.end());
        std::vector<Interval> gone, added;
        for (const auto& i : have)
            if (!want.count(i)) gone.push_back(i);
        for (const auto& i : want)
            if (!have.count(i)) added.push_back(i);
        if (!gone.empty()) set_ops.push_back(DeleteElements{s.name, gone, s.flags, s.key_len});
        if (!added.empty()) {
            const bool was_empty = o->elements.empty() && !o->zero_marker;
            set_ops.push_back(AddElements{s.name, added, was_empty, s.flags, s.key_len});
        }
    }
    for (const auto& c : desired.chains) {
        const auto* o = observed->find_chain(c.name);
        if (!o) {
            ChainModel shape = c;
            shape.rules.clear();
            chain_ops.push_back(AddChain{shape});
            for (const auto& r : c.rules) add_rules.push_back(AddRule{c.name, r});
            continue;
        }
        // Multiset difference: kept rules keep their handles and counters.
        std::vector<bool> used(c.rules.size(), false);
        for (const auto& have : o->rules) {
            bool matched = false;
            for (size_t i = 0; i < c.rules.size(); ++i) {
                if (!used[i] && c.rules[i].same_as(have)) {
                    used[i] = matched = true;
                    break;
                }
            }
            if (!matched) del_rules.push_back(DeleteRule{c.name, have.handle});
        }
        for (size_t i = 0; i < c.rules.size(); ++i)
            if (!used[i]) add_rules.push_back(AddRule{c.name, c.rules[i]});
    }
    for (auto* part : {&set_ops, &chain_ops, &del_rules, &add_rules})
        ops.insert(ops.end(), part->begin(), part->end());
    return ops;
}

std::string describe(const NftOp& op) {
    struct V {
        std::string operator()(const DeleteTable&) { return "delete table inet ballast"; }
        std::string operator()(const AddTable&) { return "add table inet ballast"; }
        std::string operator()(const AddSet& o) { return "add set " + o.set.name; }
        std::string operator()(const AddElements& o) {
            return "add element " + o.set + " { " + intervals_text(o.set, o.elements) + " }";
        }
        std::string operator()(const DeleteElements& o) {
            return "delete element " + o.set + " { " + intervals_text(o.set, o.elements) + " }";
        }
        std::string operator()(const AddChain& o) { return "add chain " + o.chain.name; }
        std::string operator()(const DeleteRule& o) {
            return "delete rule " + o.chain + " handle " + std::to_string(o.handle);
        }
        std::string operator()(const AddRule& o) {
            return "add rule " + o.chain + " (" + std::to_string(o.rule.exprs.size()) +
                   " expressions)";
        }
    };
    return std::visit(V{}, op);
}

std::vector<Interval> intervals_from_raw(std::vector<RawElement> raw, bool* zero_marker) {
    if (zero_marker) *zero_marker = false;
    // Ends sort before starts at the same key: an end at k closes the range before k.
    std::sort(raw.begin(), raw.end(), [](const RawElement& a, const RawElement& b) {
        if (a.key != b.key) return a.key < b.key;
        return a.interval_end && !b.interval_end;
    });
    std::vector<Interval> out;
    std::optional<Bytes> open;
    auto before = [](Bytes k) {
        for (size_t i = k.size(); i-- > 0;)
            if (k[i]-- != 0) break;
        return k;
    };
    for (const auto& e : raw) {
        if (!e.interval_end) {
            if (open) out.push_back({*open, before(e.key)});
            open = e.key;
        } else if (open) {
            out.push_back({*open, before(e.key)});
            open.reset();
        } else if (all_zero(e.key) && zero_marker) {
            *zero_marker = true;
        }
    }
    if (open) out.push_back({*open, Bytes(open->size(), 0xff)});
    return out;
}

std::vector<RawElement> raw_from_intervals(const std::vector<Interval>& intervals,
                                           bool zero_marker) {
    std::vector<RawElement> raw;
    if (zero_marker && !intervals.empty() && !all_zero(intervals.front().first))
        raw.push_back({Bytes(intervals.front().first.size(), 0), true});
    for (const auto& i : intervals) {
        raw.push_back({i.first, false});
        Bytes end = i.last;
        bool carry = true;
        for (size_t k = end.size(); carry && k-- > 0;) carry = ++end[k] == 0;
        if (!carry) raw.push_back({end, true});  // no end element when last is the top address
    }
    return raw;
}

kernel::NatObserved to_observed(const TableModel& table) {
    kernel::NatObserved o;
    o.table_present = true;
    for (const char* name : {kSetRs4, kSetRs6}) {
        if (const auto* s = table.find_set(name)) {
            for (const auto& i : s->elements) {
                model::IpAddress a, b;
                a.family = b.family = i.first.size() == 16 ? AF_INET6 : AF_INET;
                std::copy(i.first.begin(), i.first.end(), a.bytes.begin());
                std::copy(i.last.begin(), i.last.end(), b.bytes.begin());
                o.real_server_ranges.push_back({a, b});
            }
        }
    }
    if (const auto* s = table.find_set(kSetEgress))
        for (const auto& i : s->elements)
            o.egress_interfaces.push_back(bytes_text(kSetEgress, i.first));
    std::sort(o.egress_interfaces.begin(), o.egress_interfaces.end());
    if (const auto* c = table.find_chain(kChainPostrouting)) o.postrouting_rules = c->rules.size();
    if (const auto* c = table.find_chain(kChainPrerouting)) o.prerouting_rules = c->rules.size();
    for (const auto& s : table.sets)
        if (s.name != kSetRs4 && s.name != kSetRs6 && s.name != kSetEgress)
            o.foreign_objects.push_back("set " + s.name);
    for (const auto& c : table.chains)
        if (c.name != kChainPostrouting && c.name != kChainPrerouting)
            o.foreign_objects.push_back("chain " + c.name);
    return o;
}

}  // namespace ballast::nft
