#include "ballast/kernel/ipvs_codec.hpp"

#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <linux/ip_vs.h>
#include <linux/netlink.h>

#include <cstring>
#include <optional>

namespace ballast::kernel::ipvs {

using model::IpAddress;
using model::IpvsOp;
using model::RealKey;
using model::RealSpec;
using model::ServiceKey;
using model::ServiceSpec;

namespace {

constexpr uint16_t kWrite = NLM_F_REQUEST | NLM_F_ACK;
constexpr uint16_t kGet = NLM_F_REQUEST;
constexpr uint16_t kDump = NLM_F_REQUEST | NLM_F_DUMP;

nl::MessageBuilder start(std::vector<uint8_t>& out, Header h, uint16_t flags, uint8_t cmd) {
    nl::MessageBuilder b(out);
    b.begin(h.family_id, flags, h.seq, cmd, IPVS_GENL_VERSION);
    return b;
}

void put_addr(nl::MessageBuilder& b, uint16_t type, const IpAddress& a) {
    b.put(type, a.bytes.data(), a.size());
}

// The identity of a service inside IPVS_CMD_ATTR_SERVICE.
void put_service_key(nl::MessageBuilder& b, const ServiceKey& k) {
    b.put_u16(IPVS_SVC_ATTR_AF, k.family);
    if (k.is_fwmark()) {
        b.put_u32(IPVS_SVC_ATTR_FWMARK, k.fwmark);
    } else {
        b.put_u16(IPVS_SVC_ATTR_PROTOCOL, static_cast<uint16_t>(k.protocol));
        put_addr(b, IPVS_SVC_ATTR_ADDR, k.addr);
        b.put_be16(IPVS_SVC_ATTR_PORT, k.port);
    }
}

// IPv4: the mask in network order; IPv6: the prefix length as a plain u32 (1..128).
uint32_t wire_netmask(const ServiceKey& k, const ServiceSpec& s) {
    if (k.family == AF_INET6) return s.netmask >= 1 && s.netmask <= 128 ? s.netmask : 128;
    return htonl(s.netmask);
}

uint32_t wire_flags(const ServiceSpec& s) {
    model::ServiceFlags f = s.flags;
    f.hashed = false;  // kernel-managed: a set HASHED bit on add breaks the kernel's hashing
    f.persistent = s.persistence.has_value();
    return f.to_bits();
}

void service_request(std::vector<uint8_t>& out, Header h, uint16_t flags, uint8_t cmd,
                     const ServiceKey& k, const ServiceSpec* spec) {
    auto b = start(out, h, flags, cmd);
    size_t nest = b.begin_nest(IPVS_CMD_ATTR_SERVICE);
    put_service_key(b, k);
    if (spec) {
        b.put_string(IPVS_SVC_ATTR_SCHED_NAME, spec->scheduler);
        if (!spec->pe_name.empty()) b.put_string(IPVS_SVC_ATTR_PE_NAME, spec->pe_name);
        ip_vs_flags fl{wire_flags(*spec), 0xffffffffu};
        b.put(IPVS_SVC_ATTR_FLAGS, &fl, sizeof fl);
        b.put_u32(IPVS_SVC_ATTR_TIMEOUT, spec->persistence.value_or(0));
        b.put_u32(IPVS_SVC_ATTR_NETMASK, wire_netmask(k, *spec));
    }
    b.end_nest(nest);
    b.end();
}

void dest_request(std::vector<uint8_t>& out, Header h, uint8_t cmd, const ServiceKey& svc,
                  const RealKey& r, const RealSpec* spec) {
    auto b = start(out, h, kWrite, cmd);
    size_t s = b.begin_nest(IPVS_CMD_ATTR_SERVICE);
    put_service_key(b, svc);
    b.end_nest(s);
    size_t d = b.begin_nest(IPVS_CMD_ATTR_DEST);
    put_addr(b, IPVS_DEST_ATTR_ADDR, r.addr);
    b.put_be16(IPVS_DEST_ATTR_PORT, r.port);
    b.put_u16(IPVS_DEST_ATTR_ADDR_FAMILY, r.addr.family);
    if (spec) {
        b.put_u32(IPVS_DEST_ATTR_FWD_METHOD, static_cast<uint32_t>(spec->forward));
        b.put_u32(IPVS_DEST_ATTR_WEIGHT, spec->weight);
        b.put_u32(IPVS_DEST_ATTR_U_THRESH, spec->upper_threshold);
        b.put_u32(IPVS_DEST_ATTR_L_THRESH, spec->lower_threshold);
    }
    b.end_nest(d);
    b.end();
}

}  // namespace

void encode_new_service(std::vector<uint8_t>& out, Header h, const ServiceKey& key,
                        const ServiceSpec& spec) {
    service_request(out, h, kWrite, IPVS_CMD_NEW_SERVICE, key, &spec);
}
void encode_set_service(std::vector<uint8_t>& out, Header h, const ServiceKey& key,
                        const ServiceSpec& spec) {
    service_request(out, h, kWrite, IPVS_CMD_SET_SERVICE, key, &spec);
}
void encode_del_service(std::vector<uint8_t>& out, Header h, const ServiceKey& key) {
    service_request(out, h, kWrite, IPVS_CMD_DEL_SERVICE, key, nullptr);
}
void encode_get_service(std::vector<uint8_t>& out, Header h, const ServiceKey& key) {
    service_request(out, h, kGet, IPVS_CMD_GET_SERVICE, key, nullptr);
}
void encode_dump_services(std::vector<uint8_t>& out, Header h) {
    auto b = start(out, h, kDump, IPVS_CMD_GET_SERVICE);
    b.end();
}
void encode_new_dest(std::vector<uint8_t>& out, Header h, const ServiceKey& svc,
                     const RealKey& real, const RealSpec& spec) {
    dest_request(out, h, IPVS_CMD_NEW_DEST, svc, real, &spec);
}
void encode_set_dest(std::vector<uint8_t>& out, Header h, const ServiceKey& svc,
                     const RealKey& real, const RealSpec& spec) {
    dest_request(out, h, IPVS_CMD_SET_DEST, svc, real, &spec);
}
void encode_del_dest(std::vector<uint8_t>& out, Header h, const ServiceKey& svc,
                     const RealKey& real) {
    dest_request(out, h, IPVS_CMD_DEL_DEST, svc, real, nullptr);
}
void encode_dump_dests(std::vector<uint8_t>& out, Header h, const ServiceKey& svc) {
    auto b = start(out, h, kDump, IPVS_CMD_GET_DEST);
    size_t s = b.begin_nest(IPVS_CMD_ATTR_SERVICE);
    put_service_key(b, svc);
    b.end_nest(s);
    b.end();
}

void encode_set_timeouts(std::vector<uint8_t>& out, Header h, const Timeouts& t) {
    auto b = start(out, h, kWrite, IPVS_CMD_SET_CONFIG);
    if (t.tcp) b.put_u32(IPVS_CMD_ATTR_TIMEOUT_TCP, t.tcp);
    if (t.tcp_fin) b.put_u32(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, t.tcp_fin);
    if (t.udp) b.put_u32(IPVS_CMD_ATTR_TIMEOUT_UDP, t.udp);
    b.end();
}
void encode_get_timeouts(std::vector<uint8_t>& out, Header h) {
    auto b = start(out, h, kGet, IPVS_CMD_GET_CONFIG);
    b.end();
}

void encode_new_daemon(std::vector<uint8_t>& out, Header h, const SyncDaemon& d) {
    auto b = start(out, h, kWrite, IPVS_CMD_NEW_DAEMON);
    size_t n = b.begin_nest(IPVS_CMD_ATTR_DAEMON);
    b.put_u32(IPVS_DAEMON_ATTR_STATE, static_cast<uint32_t>(d.state));
    b.put_string(IPVS_DAEMON_ATTR_MCAST_IFN, d.mcast_ifn);
    b.put_u32(IPVS_DAEMON_ATTR_SYNC_ID, d.sync_id);
    if (d.sync_maxlen) b.put_u16(IPVS_DAEMON_ATTR_SYNC_MAXLEN, *d.sync_maxlen);
    if (d.mcast_group) {
        if (d.mcast_group->is_v4())
            put_addr(b, IPVS_DAEMON_ATTR_MCAST_GROUP, *d.mcast_group);
        else
            put_addr(b, IPVS_DAEMON_ATTR_MCAST_GROUP6, *d.mcast_group);
    }
    // Host byte order, unlike the service and destination ports (the kernel keeps a u16).
    if (d.mcast_port) b.put_u16(IPVS_DAEMON_ATTR_MCAST_PORT, *d.mcast_port);
    if (d.mcast_ttl) b.put_u8(IPVS_DAEMON_ATTR_MCAST_TTL, *d.mcast_ttl);
    b.end_nest(n);
    b.end();
}
void encode_del_daemon(std::vector<uint8_t>& out, Header h, SyncDaemon::State state) {
    auto b = start(out, h, kWrite, IPVS_CMD_DEL_DAEMON);
    size_t n = b.begin_nest(IPVS_CMD_ATTR_DAEMON);
    b.put_u32(IPVS_DAEMON_ATTR_STATE, static_cast<uint32_t>(state));
    b.end_nest(n);
    b.end();
}
void encode_dump_daemons(std::vector<uint8_t>& out, Header h) {
    auto b = start(out, h, kDump, IPVS_CMD_GET_DAEMON);
    b.end();
}
void encode_flush(std::vector<uint8_t>& out, Header h) {
    auto b = start(out, h, kWrite, IPVS_CMD_FLUSH);
    b.end();
}
void encode_zero(std::vector<uint8_t>& out, Header h, const ServiceKey* svc) {
    auto b = start(out, h, kWrite, IPVS_CMD_ZERO);
    if (svc) {
        size_t n = b.begin_nest(IPVS_CMD_ATTR_SERVICE);
        put_service_key(b, *svc);
        b.end_nest(n);
    }
    b.end();
}
void encode_get_info(std::vector<uint8_t>& out, Header h) {
    auto b = start(out, h, kGet, IPVS_CMD_GET_INFO);
    b.end();
}

void encode_op(std::vector<uint8_t>& out, Header h, const IpvsOp& op) {
    switch (op.kind) {
        case IpvsOp::Kind::add_service:
            return encode_new_service(out, h, op.service, op.service_spec);
        case IpvsOp::Kind::edit_service:
            return encode_set_service(out, h, op.service, op.service_spec);
        case IpvsOp::Kind::del_service:
            return encode_del_service(out, h, op.service);
        case IpvsOp::Kind::add_dest:
            return encode_new_dest(out, h, op.service, op.real, op.real_spec);
        case IpvsOp::Kind::edit_dest:
            return encode_set_dest(out, h, op.service, op.real, op.real_spec);
        case IpvsOp::Kind::del_dest:
            return encode_del_dest(out, h, op.service, op.real);
    }
}

// ---------------------------------------------------------------- decoders

namespace {

// Attribute tables are filled in place: no copy through a Result on the decoder's hot path.
#define TRY_TABLE(var, n, bytes) \
    nl::AttrTable<n> var;        \
    if (Status var##_st = nl::parse_attr_table_into(bytes, var); !var##_st) return var##_st.error()

#define TRY_ASSIGN(var, expr)             \
    auto var##_r = (expr);                \
    if (!var##_r) return var##_r.error(); \
    auto var = std::move(*var##_r) /* NOLINT(bugprone-macro-parentheses): var is a name */

Error bad(std::string_view what, std::string_view where) {
    return nl::malformed(what, where);
}

Result<nl::GenlView> ipvs_payload(const nl::Message& m, std::initializer_list<uint8_t> cmds,
                                  std::string_view where) {
    if (m.type == NLMSG_ERROR || m.type == NLMSG_DONE || m.type < NLMSG_MIN_TYPE)
        return bad("control message instead of a reply", where);
    auto g = nl::genl_view(m.payload);
    if (!g) return g.error();
    for (uint8_t c : cmds)
        if (g->cmd == c) return g;
    return bad("unexpected command " + std::to_string(g->cmd), where);
}

Result<IpAddress> get_addr(const nl::Attr& a, uint16_t family, std::string_view where) {
    IpAddress ip;
    ip.family = static_cast<uint8_t>(family);
    size_t need = family == AF_INET ? 4 : 16;
    if (a.payload.size() < need || a.payload.size() > 16) return bad("address length", where);
    std::memcpy(ip.bytes.data(), a.payload.data(), need);
    return ip;
}

Result<uint16_t> get_family(const nl::Attr& a, std::string_view where) {
    auto f = nl::get_u16(a);
    if (!f) return f.error();
    if (*f != AF_INET && *f != AF_INET6) return bad("address family " + std::to_string(*f), where);
    return *f;
}

// One pass over the nest without an attribute table: this runs for every service and every
// destination of a dump. Counters are u32 in the old STATS nest and u64 in STATS64.
Result<IpvsStats> decode_stats(const nl::Attr& nest) {
    IpvsStats s;
    uint64_t* fields[] = {nullptr, &s.conns, &s.inpkts, &s.outpkts, &s.inbytes, &s.outbytes,
                          &s.cps,  &s.inpps, &s.outpps, &s.inbps,   &s.outbps};
    std::optional<nl::Attr> wrong_size;  // the first counter of a size we cannot read
    Status st = nl::for_each_attr(nest.payload, [&](const nl::Attr& a) {
        if (a.type < IPVS_STATS_ATTR_CONNS || a.type > IPVS_STATS_ATTR_OUTBPS) return;
        if (a.payload.size() == sizeof(uint32_t)) {
            uint32_t v;
            std::memcpy(&v, a.payload.data(), sizeof v);
            *fields[a.type] = v;
        } else if (a.payload.size() == sizeof(uint64_t)) {
            std::memcpy(fields[a.type], a.payload.data(), sizeof(uint64_t));
        } else if (!wrong_size) {
            wrong_size = a;
        }
    });
    if (!st) return st.error();
    if (wrong_size) return nl::get_u32_or_u64(*wrong_size).error();
    return s;
}

// STATS64 where the kernel offers it, else the older mixed-width STATS.
Result<IpvsStats> pick_stats(const auto& table, uint16_t stats, uint16_t stats64) {
    if (table.present(stats64)) return decode_stats(table[stats64]);
    if (table.present(stats)) return decode_stats(table[stats]);
    return IpvsStats{};
}

using ServiceTable = nl::AttrTable<IPVS_SVC_ATTR_MAX + 1>;
constexpr std::string_view kServiceReply = "IPVS_CMD_GET_SERVICE reply";

// The reply's IPVS_CMD_ATTR_SERVICE nest, parsed into t.
Status service_table(const nl::Message& m, ServiceTable& t) {
    constexpr std::string_view where = kServiceReply;
    TRY_ASSIGN(g, ipvs_payload(m, {IPVS_CMD_NEW_SERVICE}, where));
    TRY_TABLE(top, IPVS_CMD_ATTR_MAX + 1, g.attrs);
    if (!top.present(IPVS_CMD_ATTR_SERVICE)) return bad("no IPVS_CMD_ATTR_SERVICE", where);
    return nl::parse_attr_table_into(top[IPVS_CMD_ATTR_SERVICE].payload, t);
}

Result<ServiceKey> service_key(const ServiceTable& t) {
    constexpr std::string_view where = kServiceReply;
    if (!t.present(IPVS_SVC_ATTR_AF)) return bad("no IPVS_SVC_ATTR_AF", where);
    TRY_ASSIGN(af, get_family(t[IPVS_SVC_ATTR_AF], where));
    if (t.present(IPVS_SVC_ATTR_FWMARK)) {
        TRY_ASSIGN(mark, nl::get_u32(t[IPVS_SVC_ATTR_FWMARK]));
        if (mark == 0) return bad("fwmark 0", where);
        return ServiceKey::mark(mark, static_cast<uint8_t>(af));
    }
    if (!t.present(IPVS_SVC_ATTR_PROTOCOL) || !t.present(IPVS_SVC_ATTR_ADDR) ||
        !t.present(IPVS_SVC_ATTR_PORT))
        return bad("service without fwmark or protocol/address/port", where);
    TRY_ASSIGN(proto, nl::get_u16(t[IPVS_SVC_ATTR_PROTOCOL]));
    if (proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != IPPROTO_SCTP)
        return bad("protocol " + std::to_string(proto), where);
    TRY_ASSIGN(addr, get_addr(t[IPVS_SVC_ATTR_ADDR], af, where));
    TRY_ASSIGN(port, nl::get_be16(t[IPVS_SVC_ATTR_PORT]));
    return ServiceKey::inet(static_cast<model::Protocol>(proto), addr, port);
}

}  // namespace

Result<ServiceKey> decode_service_key(const nl::Message& m) {
    ServiceTable t;
    if (Status st = service_table(m, t); !st) return st.error();
    return service_key(t);
}

Result<ServiceEntry> decode_service(const nl::Message& m) {
    constexpr std::string_view where = kServiceReply;
    ServiceTable t;
    if (Status st = service_table(m, t); !st) return st.error();
    TRY_ASSIGN(key, service_key(t));
    const uint16_t af = key.family;

    ServiceEntry e;
    e.key = key;
    if (t.present(IPVS_SVC_ATTR_SCHED_NAME)) {
        TRY_ASSIGN(s, nl::get_string(t[IPVS_SVC_ATTR_SCHED_NAME]));
        e.spec.scheduler = std::move(s);
    }
    if (t.present(IPVS_SVC_ATTR_PE_NAME)) {
        TRY_ASSIGN(s, nl::get_string(t[IPVS_SVC_ATTR_PE_NAME]));
        e.spec.pe_name = std::move(s);
    }
    if (t.present(IPVS_SVC_ATTR_FLAGS)) {
        const auto& p = t[IPVS_SVC_ATTR_FLAGS].payload;
        if (p.size() != sizeof(ip_vs_flags)) return bad("IPVS_SVC_ATTR_FLAGS size", where);
        ip_vs_flags fl;
        std::memcpy(&fl, p.data(), sizeof fl);
        e.spec.flags = model::ServiceFlags::from_bits(fl.flags);
    }
    uint32_t timeout = 0;
    if (t.present(IPVS_SVC_ATTR_TIMEOUT)) {
        TRY_ASSIGN(v, nl::get_u32(t[IPVS_SVC_ATTR_TIMEOUT]));
        timeout = v;
    }
    if (e.spec.flags.persistent) e.spec.persistence = timeout;
    if (t.present(IPVS_SVC_ATTR_NETMASK)) {
        TRY_ASSIGN(v, nl::get_u32(t[IPVS_SVC_ATTR_NETMASK]));
        e.spec.netmask = af == AF_INET ? ntohl(v) : v;
    } else if (af == AF_INET6) {
        e.spec.netmask = 128;
    }
    TRY_ASSIGN(stats, pick_stats(t, IPVS_SVC_ATTR_STATS, IPVS_SVC_ATTR_STATS64));
    e.stats = stats;
    return e;
}

Result<DestEntry> decode_dest(const nl::Message& m, const ServiceKey& svc) {
    constexpr std::string_view where = "IPVS_CMD_GET_DEST reply";
    TRY_ASSIGN(g, ipvs_payload(m, {IPVS_CMD_NEW_DEST}, where));
    TRY_TABLE(top, IPVS_CMD_ATTR_MAX + 1, g.attrs);
    if (!top.present(IPVS_CMD_ATTR_DEST)) return bad("no IPVS_CMD_ATTR_DEST", where);
    TRY_TABLE(t, IPVS_DEST_ATTR_MAX + 1, top[IPVS_CMD_ATTR_DEST].payload);
    uint16_t af = svc.family;
    if (t.present(IPVS_DEST_ATTR_ADDR_FAMILY)) {
        TRY_ASSIGN(f, get_family(t[IPVS_DEST_ATTR_ADDR_FAMILY], where));
        af = f;
    }
    if (!t.present(IPVS_DEST_ATTR_ADDR) || !t.present(IPVS_DEST_ATTR_PORT))
        return bad("destination without address or port", where);
    DestEntry e;
    TRY_ASSIGN(addr, get_addr(t[IPVS_DEST_ATTR_ADDR], af, where));
    TRY_ASSIGN(port, nl::get_be16(t[IPVS_DEST_ATTR_PORT]));
    e.key = RealKey{addr, port};
    if (t.present(IPVS_DEST_ATTR_FWD_METHOD)) {
        TRY_ASSIGN(fwd, nl::get_u32(t[IPVS_DEST_ATTR_FWD_METHOD]));
        fwd &= IP_VS_CONN_F_FWD_MASK;
        if (fwd > IP_VS_CONN_F_BYPASS) return bad("forwarding method", where);
        e.spec.forward = static_cast<model::ForwardMethod>(fwd);
    }
    struct U32Field {
        uint16_t type;
        uint32_t* field;
    };
    const U32Field fields[] = {{IPVS_DEST_ATTR_WEIGHT, &e.spec.weight},
                               {IPVS_DEST_ATTR_U_THRESH, &e.spec.upper_threshold},
                               {IPVS_DEST_ATTR_L_THRESH, &e.spec.lower_threshold},
                               {IPVS_DEST_ATTR_ACTIVE_CONNS, &e.counters.active_conns},
                               {IPVS_DEST_ATTR_INACT_CONNS, &e.counters.inactive_conns},
                               {IPVS_DEST_ATTR_PERSIST_CONNS, &e.counters.persist_conns}};
    for (const auto& f : fields) {
        if (!t.present(f.type)) continue;
        const nl::Attr& a = t[f.type];
        if (a.payload.size() != sizeof(uint32_t)) return nl::get_u32(a).error();
        std::memcpy(f.field, a.payload.data(), sizeof(uint32_t));
    }
    TRY_ASSIGN(stats, pick_stats(t, IPVS_DEST_ATTR_STATS, IPVS_DEST_ATTR_STATS64));
    e.counters.stats = stats;
    return e;
}

ServiceDests collect_dests(std::vector<DestEntry>& dests) {
    sort_by_key_first_wins(dests, [](const DestEntry& d) -> const RealKey& { return d.key; });
    ServiceDests out;
    model::IpvsReals::sequence_type reals;
    CountersByReal::sequence_type counters;
    reals.reserve(dests.size());
    counters.reserve(dests.size());
    for (const auto& d : dests) {
        reals.emplace_back(d.key, d.spec);
        counters.emplace_back(d.key, d.counters);
    }
    // Already in key order without repeats: adopted as they are.
    out.reals.adopt_sequence(boost::container::ordered_unique_range, std::move(reals));
    out.counters.adopt_sequence(boost::container::ordered_unique_range, std::move(counters));
    return out;
}

Result<SyncDaemon> decode_daemon(const nl::Message& m) {
    constexpr std::string_view where = "IPVS_CMD_GET_DAEMON reply";
    TRY_ASSIGN(g, ipvs_payload(m, {IPVS_CMD_NEW_DAEMON}, where));
    TRY_TABLE(top, IPVS_CMD_ATTR_MAX + 1, g.attrs);
    if (!top.present(IPVS_CMD_ATTR_DAEMON)) return bad("no IPVS_CMD_ATTR_DAEMON", where);
    TRY_TABLE(t, IPVS_DAEMON_ATTR_MAX + 1, top[IPVS_CMD_ATTR_DAEMON].payload);
    if (!t.present(IPVS_DAEMON_ATTR_STATE) || !t.present(IPVS_DAEMON_ATTR_MCAST_IFN) ||
        !t.present(IPVS_DAEMON_ATTR_SYNC_ID))
        return bad("daemon without state, interface or sync id", where);
    SyncDaemon d;
    TRY_ASSIGN(state, nl::get_u32(t[IPVS_DAEMON_ATTR_STATE]));
    if (state != IP_VS_STATE_MASTER && state != IP_VS_STATE_BACKUP)
        return bad("daemon state " + std::to_string(state), where);
    d.state = static_cast<SyncDaemon::State>(state);
    TRY_ASSIGN(ifn, nl::get_string(t[IPVS_DAEMON_ATTR_MCAST_IFN]));
    d.mcast_ifn = std::move(ifn);
    TRY_ASSIGN(id, nl::get_u32(t[IPVS_DAEMON_ATTR_SYNC_ID]));
    d.sync_id = id;
    if (t.present(IPVS_DAEMON_ATTR_SYNC_MAXLEN)) {
        TRY_ASSIGN(v, nl::get_u16(t[IPVS_DAEMON_ATTR_SYNC_MAXLEN]));
        d.sync_maxlen = v;
    }
    if (t.present(IPVS_DAEMON_ATTR_MCAST_GROUP)) {
        TRY_ASSIGN(v, get_addr(t[IPVS_DAEMON_ATTR_MCAST_GROUP], AF_INET, where));
        d.mcast_group = v;
    }
    if (t.present(IPVS_DAEMON_ATTR_MCAST_GROUP6)) {
        TRY_ASSIGN(v, get_addr(t[IPVS_DAEMON_ATTR_MCAST_GROUP6], AF_INET6, where));
        d.mcast_group = v;
    }
    if (t.present(IPVS_DAEMON_ATTR_MCAST_PORT)) {
        TRY_ASSIGN(v, nl::get_u16(t[IPVS_DAEMON_ATTR_MCAST_PORT]));  // host order
        d.mcast_port = v;
    }
    if (t.present(IPVS_DAEMON_ATTR_MCAST_TTL)) {
        TRY_ASSIGN(v, nl::get_u8(t[IPVS_DAEMON_ATTR_MCAST_TTL]));
        d.mcast_ttl = v;
    }
    return d;
}

Result<Info> decode_info(const nl::Message& m) {
    constexpr std::string_view where = "IPVS_CMD_GET_INFO reply";
    TRY_ASSIGN(g, ipvs_payload(m, {IPVS_CMD_SET_INFO}, where));
    TRY_TABLE(t, IPVS_INFO_ATTR_MAX + 1, g.attrs);
    if (!t.present(IPVS_INFO_ATTR_VERSION) || !t.present(IPVS_INFO_ATTR_CONN_TAB_SIZE))
        return bad("no version or connection table size", where);
    TRY_ASSIGN(version, nl::get_u32(t[IPVS_INFO_ATTR_VERSION]));
    TRY_ASSIGN(size, nl::get_u32(t[IPVS_INFO_ATTR_CONN_TAB_SIZE]));
    return Info{version, size};
}

Result<Timeouts> decode_timeouts(const nl::Message& m) {
    constexpr std::string_view where = "IPVS_CMD_GET_CONFIG reply";
    TRY_ASSIGN(g, ipvs_payload(m, {IPVS_CMD_SET_CONFIG}, where));
    TRY_TABLE(t, IPVS_CMD_ATTR_MAX + 1, g.attrs);
    Timeouts out;
    struct Field {
        uint16_t type;
        uint32_t* field;
    };
    const Field fields[] = {{IPVS_CMD_ATTR_TIMEOUT_TCP, &out.tcp},
                            {IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, &out.tcp_fin},
                            {IPVS_CMD_ATTR_TIMEOUT_UDP, &out.udp}};
    for (const auto& f : fields) {
        if (!t.present(f.type)) return bad("missing timeout attribute", where);
        TRY_ASSIGN(v, nl::get_u32(t[f.type]));
        *f.field = v;
    }
    return out;
}

#undef TRY_ASSIGN
#undef TRY_TABLE

std::string Info::version_string() const {
    return std::to_string((version >> 16) & 0xff) + "." + std::to_string((version >> 8) & 0xff) +
           "." + std::to_string(version & 0xff);
}

}  // namespace ballast::kernel::ipvs
