// Byte-exact tests of the IPVS codec. Expected bytes use the raw numbers of
// linux/ip_vs.h (written out, not the enum names) so a mismatch with the header shows.
#include "ballast/kernel/ipvs_codec.hpp"

#include <gtest/gtest.h>

#include "wire_bytes.hpp"

namespace ballast::kernel::ipvs {
namespace {

using model::ForwardMethod;
using model::IpAddress;
using model::IpvsOp;
using model::Protocol;
using model::RealKey;
using model::RealSpec;
using model::ServiceKey;
using model::ServiceSpec;
using testing::WireBytes;

constexpr uint16_t kFamily = 0x24;  // a plausible dynamic genl family id
constexpr uint16_t kReqAck = 0x1 | 0x4;
constexpr uint16_t kDump = 0x1 | 0x300;

IpAddress ip(const char* s) {
    return *IpAddress::parse(s);
}
ServiceKey vip80() {
    return ServiceKey::inet(Protocol::tcp, ip("192.0.2.1"), 80);
}

nl::Message one_message(const std::vector<uint8_t>& bytes) {
    auto msgs = nl::split_messages(bytes);
    EXPECT_TRUE(msgs.ok());
    EXPECT_EQ(msgs->size(), 1u);
    return msgs->front();
}

// fn(message, length) for every cut of a one-message reply that still splits into a message;
// nlmsg_len follows the cut, so the attribute parsers (not the framing) meet the truncation.
template <typename Fn>
void for_each_truncation(const std::vector<uint8_t>& full, Fn fn) {
    for (size_t len = 0; len < full.size(); ++len) {
        std::vector<uint8_t> cut(full.begin(), full.begin() + len);
        if (len >= 4) cut[0] = uint8_t(len), cut[1] = uint8_t(len >> 8);
        auto msgs = nl::split_messages(cut);
        if (!msgs.ok() || msgs->empty()) continue;
        fn(msgs->front(), len);
    }
}

TEST(IpvsEncode, NewServiceIpv4TcpIsByteExact) {
    std::vector<uint8_t> out;
    ServiceSpec spec;  // wlc, not persistent, netmask 255.255.255.255
    encode_new_service(out, {kFamily, 7}, vip80(), spec);
    const std::vector<uint8_t> expected = {
        92, 0, 0, 0, 0x24, 0,    0x05, 0,   7,    0,    0,    0,
        0,  0, 0, 0,                       // nlmsghdr, REQUEST|ACK, seq 7
        1,  1, 0, 0,                       // IPVS_CMD_NEW_SERVICE, version 1
        72, 0, 1, 0,                       // IPVS_CMD_ATTR_SERVICE
        6,  0, 1, 0, 2,    0,    0,    0,  // SVC_ATTR_AF = AF_INET
        6,  0, 2, 0, 6,    0,    0,    0,  // SVC_ATTR_PROTOCOL = TCP
        8,  0, 3, 0, 192,  0,    2,    1,  // SVC_ATTR_ADDR
        6,  0, 4, 0, 0,    80,   0,    0,  // SVC_ATTR_PORT (be16)
        8,  0, 6, 0, 'w',  'l',  'c',  0,  // SVC_ATTR_SCHED_NAME
        12, 0, 7, 0, 0,    0,    0,    0,   0xff, 0xff, 0xff, 0xff,  // SVC_ATTR_FLAGS {flags, mask}
        8,  0, 8, 0, 0,    0,    0,    0,                            // SVC_ATTR_TIMEOUT
        8,  0, 9, 0, 0xff, 0xff, 0xff, 0xff};                        // SVC_ATTR_NETMASK (be32)
    EXPECT_EQ(out, expected);
}

TEST(IpvsEncode, PersistentOnePacketShServiceSetsFlagsTimeoutAndMask) {
    ServiceSpec spec;
    spec.scheduler = "sh";
    spec.persistence = 300;
    spec.netmask = 0xffffff00;
    spec.flags.one_packet = true;
    spec.flags.sched_flag1 = true;  // sh-fallback
    spec.flags.sched_flag2 = true;  // sh-port
    spec.flags.hashed = true;       // must never be sent
    auto key = ServiceKey::inet(Protocol::udp, ip("192.0.2.1"), 53);
    std::vector<uint8_t> out;
    encode_set_service(out, {kFamily, 8}, key, spec);

    WireBytes w;
    size_t m = w.msg(kFamily, kReqAck, 8, 2 /*IPVS_CMD_SET_SERVICE*/);
    size_t s = w.open(1);
    w.attr16(1, 2), w.attr16(2, 17), w.attr_raw(3, {192, 0, 2, 1}), w.attr_raw(4, {0, 53});
    w.attr_str(6, "sh");
    w.le16(12), w.le16(7), w.le32(0x1 | 0x4 | 0x8 | 0x10), w.le32(0xffffffff);
    w.attr32(8, 300);
    w.attr_raw(9, {255, 255, 255, 0});
    w.close(s);
    w.end_msg(m);
    EXPECT_EQ(out, w.b);
}

TEST(IpvsEncode, FwmarkIpv6ServiceUsesMarkAndPrefixLength) {
    ServiceSpec spec;
    spec.scheduler = "mh";
    spec.persistence = 60;
    spec.netmask = 64;
    spec.pe_name = "sip";
    std::vector<uint8_t> out;
    encode_new_service(out, {kFamily, 9}, ServiceKey::mark(7, AF_INET6), spec);

    WireBytes w;
    size_t m = w.msg(kFamily, kReqAck, 9, 1);
    size_t s = w.open(1);
    w.attr16(1, 10 /*AF_INET6*/), w.attr32(5 /*FWMARK*/, 7);
    w.attr_str(6, "mh"), w.attr_str(11 /*PE_NAME*/, "sip");
    w.le16(12), w.le16(7), w.le32(0x1), w.le32(0xffffffff);
    w.attr32(8, 60), w.attr32(9, 64);  // IPv6 netmask: prefix length, host order
    w.close(s);
    w.end_msg(m);
    EXPECT_EQ(out, w.b);
}

TEST(IpvsEncode, Ipv6ServiceWithoutPersistenceSendsPrefix128) {
    std::vector<uint8_t> out;
    auto key = ServiceKey::inet(Protocol::sctp, ip("2001:db8::1"), 443);
    encode_new_service(out, {kFamily, 1}, key, ServiceSpec{});  // model default netmask
    auto m = one_message(out);
    auto g = nl::genl_view(m.payload);
    auto top = nl::parse_attr_table<8>(g->attrs);
    auto svc = nl::parse_attr_table<16>((*top)[1].payload);
    EXPECT_EQ(*nl::get_u32((*svc)[9]), 128u);
    EXPECT_EQ(*nl::get_u16((*svc)[2]), 132);  // IPPROTO_SCTP
    EXPECT_EQ((*svc)[3].payload.size(), 16u);
}

TEST(IpvsEncode, NewDestMasqIsByteExact) {
    std::vector<uint8_t> out;
    RealSpec spec{ForwardMethod::masquerade, 5, 100, 10};
    encode_new_dest(out, {kFamily, 3}, vip80(), RealKey{ip("10.0.0.2"), 8080}, spec);
    const std::vector<uint8_t> expected = {
        116, 0, 0,  0, 0x24, 0,    0x05, 0, 3, 0, 0, 0, 0, 0, 0, 0,  // nlmsghdr
        5,   1, 0,  0,                                               // IPVS_CMD_NEW_DEST
        36,  0, 1,  0,                                               // IPVS_CMD_ATTR_SERVICE
        6,   0, 1,  0, 2,    0,    0,    0,                          //   AF
        6,   0, 2,  0, 6,    0,    0,    0,                          //   PROTOCOL
        8,   0, 3,  0, 192,  0,    2,    1,                          //   ADDR
        6,   0, 4,  0, 0,    80,   0,    0,                          //   PORT
        60,  0, 2,  0,                                               // IPVS_CMD_ATTR_DEST
        8,   0, 1,  0, 10,   0,    0,    2,                          //   DEST_ATTR_ADDR
        6,   0, 2,  0, 0x1f, 0x90, 0,    0,                          //   DEST_ATTR_PORT 8080
        6,   0, 11, 0, 2,    0,    0,    0,                          //   DEST_ATTR_ADDR_FAMILY
        8,   0, 3,  0, 0,    0,    0,    0,                          //   FWD_METHOD masq
        8,   0, 4,  0, 5,    0,    0,    0,                          //   WEIGHT
        8,   0, 5,  0, 100,  0,    0,    0,                          //   U_THRESH
        8,   0, 6,  0, 10,   0,    0,    0};                         //   L_THRESH
    EXPECT_EQ(out, expected);
}

TEST(IpvsEncode, DelDestCarriesOnlyKeys) {
    std::vector<uint8_t> out;
    encode_del_dest(out, {kFamily, 4}, vip80(), RealKey{ip("10.0.0.2"), 80});
    WireBytes w;
    size_t m = w.msg(kFamily, kReqAck, 4, 7 /*IPVS_CMD_DEL_DEST*/);
    size_t s = w.open(1);
    w.attr16(1, 2), w.attr16(2, 6), w.attr_raw(3, {192, 0, 2, 1}), w.attr_raw(4, {0, 80});
    w.close(s);
    size_t d = w.open(2);
    w.attr_raw(1, {10, 0, 0, 2}), w.attr_raw(2, {0, 80}), w.attr16(11, 2);
    w.close(d);
    w.end_msg(m);
    EXPECT_EQ(out, w.b);
}

TEST(IpvsEncode, DumpsUseNlmFDumpAndDestDumpNamesTheService) {
    std::vector<uint8_t> out;
    encode_dump_services(out, {kFamily, 10});
    WireBytes w;
    size_t m = w.msg(kFamily, kDump, 10, 4 /*IPVS_CMD_GET_SERVICE*/);
    w.end_msg(m);
    EXPECT_EQ(out, w.b);

    out.clear();
    encode_dump_dests(out, {kFamily, 11}, ServiceKey::mark(3));
    WireBytes d;
    m = d.msg(kFamily, kDump, 11, 8 /*IPVS_CMD_GET_DEST*/);
    size_t s = d.open(1);
    d.attr16(1, 2), d.attr32(5, 3);
    d.close(s);
    d.end_msg(m);
    EXPECT_EQ(out, d.b);
}

TEST(IpvsEncode, ConfigDaemonZeroInfoAndFamilyRequests) {
    std::vector<uint8_t> out;
    encode_set_timeouts(out, {kFamily, 1}, Timeouts{900, 0, 300});
    WireBytes w;
    size_t m = w.msg(kFamily, kReqAck, 1, 12 /*SET_CONFIG*/);
    w.attr32(4 /*TIMEOUT_TCP*/, 900), w.attr32(6 /*TIMEOUT_UDP*/, 300);  // 0 = unchanged: omitted
    w.end_msg(m);
    EXPECT_EQ(out, w.b);

    out.clear();
    SyncDaemon dmn;
    dmn.state = SyncDaemon::State::backup;
    dmn.mcast_ifn = "eth0";
    dmn.sync_id = 9;
    dmn.mcast_port = 8848;
    dmn.mcast_ttl = 2;
    encode_new_daemon(out, {kFamily, 2}, dmn);
    WireBytes d;
    m = d.msg(kFamily, kReqAck, 2, 9 /*NEW_DAEMON*/);
    size_t n = d.open(3 /*CMD_ATTR_DAEMON*/);
    d.attr32(1, 2), d.attr_str(2, "eth0"), d.attr32(3, 9);
    // The kernel keeps the sync port as a host-order u16 (ipvsadm shows port=8848).
    d.attr16(7 /*MCAST_PORT*/, 8848), d.attr_raw(8 /*MCAST_TTL*/, {2});
    d.close(n);
    d.end_msg(m);
    EXPECT_EQ(out, d.b);

    out.clear();
    encode_del_daemon(out, {kFamily, 3}, SyncDaemon::State::master);
    WireBytes dd;
    m = dd.msg(kFamily, kReqAck, 3, 10 /*DEL_DAEMON*/);
    n = dd.open(3);
    dd.attr32(1, 1);
    dd.close(n);
    dd.end_msg(m);
    EXPECT_EQ(out, dd.b);

    out.clear();
    encode_dump_daemons(out, {kFamily, 4});
    encode_get_timeouts(out, {kFamily, 5});
    encode_get_info(out, {kFamily, 6});
    encode_zero(out, {kFamily, 7}, nullptr);
    encode_flush(out, {kFamily, 8});
    WireBytes q;
    m = q.msg(kFamily, kDump, 4, 11), q.end_msg(m);
    m = q.msg(kFamily, 0x1, 5, 13), q.end_msg(m);
    m = q.msg(kFamily, 0x1, 6, 15), q.end_msg(m);
    m = q.msg(kFamily, kReqAck, 7, 16), q.end_msg(m);
    m = q.msg(kFamily, kReqAck, 8, 17 /*FLUSH*/), q.end_msg(m);
    EXPECT_EQ(out, q.b);
}

TEST(IpvsEncode, EncodeOpMatchesTheDirectEncoders) {
    RealSpec spec{ForwardMethod::route, 3, 0, 0};
    RealKey r{ip("10.0.0.3"), 80};
    std::vector<uint8_t> a, b;
    encode_op(a, {kFamily, 5}, IpvsOp::edit_dest(vip80(), r, spec));
    encode_set_dest(b, {kFamily, 5}, vip80(), r, spec);
    EXPECT_EQ(a, b);
    EXPECT_EQ(a[16], 6);  // IPVS_CMD_SET_DEST
}

// ---- decoding replies shaped like the kernel's (16-byte addresses, STATS and STATS64) ----

void kernel_service_attrs(WireBytes& w, bool with_stats64) {
    w.attr16(1, 2), w.attr16(2, 6);
    w.attr_raw(3, {192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    w.attr_raw(4, {0, 80});
    w.attr_str(6, "wrr");
    w.le16(12), w.le16(7), w.le32(0x1 | 0x2), w.le32(0xffffffff);
    w.attr32(8, 120);
    w.attr_raw(9, {255, 255, 0, 0});
    size_t st = w.open(10 /*SVC_ATTR_STATS*/);
    w.attr32(1, 11), w.attr32(2, 22), w.attr32(3, 33), w.attr64(4, 4444), w.attr64(5, 5555);
    w.attr32(6, 6), w.attr32(7, 7), w.attr32(8, 8), w.attr32(9, 9), w.attr32(10, 10);
    w.close(st);
    if (with_stats64) {
        size_t s64 = w.open(12 /*SVC_ATTR_STATS64*/);
        w.attr64(1, 0x100000001ull), w.attr64(2, 22), w.attr64(3, 33), w.attr64(4, 4444);
        w.attr64(5, 5555), w.attr64(6, 6), w.attr64(7, 7), w.attr64(8, 8), w.attr64(9, 9);
        w.attr64(10, 10);
        w.close(s64);
    }
}

std::vector<uint8_t> kernel_service_reply(bool with_stats64) {
    WireBytes w;
    size_t m = w.msg(kFamily, 0x2 /*NLM_F_MULTI*/, 5, 1 /*NEW_SERVICE*/);
    size_t s = w.open(1);
    kernel_service_attrs(w, with_stats64);
    w.close(s);
    w.end_msg(m);
    return w.b;
}

TEST(IpvsDecode, ServiceWithFlagsPersistenceAndStats64) {
    auto bytes = kernel_service_reply(true);
    auto e = decode_service(one_message(bytes));
    ASSERT_TRUE(e.ok()) << e.error().describe();
    EXPECT_EQ(e->key, vip80());
    EXPECT_EQ(e->spec.scheduler, "wrr");
    EXPECT_TRUE(e->spec.flags.persistent);
    EXPECT_TRUE(e->spec.flags.hashed);
    EXPECT_EQ(e->spec.persistence, std::optional<uint32_t>(120));
    EXPECT_EQ(e->spec.netmask, 0xffff0000u);
    EXPECT_EQ(e->stats.conns, 0x100000001ull);  // the 64-bit value wins over the u32 one
    EXPECT_EQ(e->stats.inbytes, 4444u);
    EXPECT_EQ(e->stats.outbps, 10u);
}

TEST(IpvsDecode, ServiceFallsBackToThirtyTwoBitStats) {
    auto bytes = kernel_service_reply(false);
    auto e = decode_service(one_message(bytes));
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->stats.conns, 11u);
    EXPECT_EQ(e->stats.outbytes, 5555u);
    EXPECT_EQ(e->stats.cps, 6u);
}

TEST(IpvsDecode, FwmarkServiceWithoutPersistence) {
    WireBytes w;
    size_t m = w.msg(kFamily, 0x2, 5, 1);
    size_t s = w.open(1);
    w.attr16(1, 10), w.attr32(5, 42), w.attr_str(6, "rr");
    w.le16(12), w.le16(7), w.le32(0x2 | 0x4), w.le32(0xffffffff);
    w.attr32(8, 0), w.attr32(9, 128);
    w.close(s);
    w.end_msg(m);
    auto e = decode_service(one_message(w.b));
    ASSERT_TRUE(e.ok()) << e.error().describe();
    EXPECT_EQ(e->key, ServiceKey::mark(42, AF_INET6));
    EXPECT_FALSE(e->spec.persistence.has_value());
    EXPECT_TRUE(e->spec.flags.one_packet);
    EXPECT_EQ(e->spec.netmask, 128u);
}

TEST(IpvsDecode, DestWithCountersThresholdsAndFamily) {
    WireBytes w;
    size_t m = w.msg(kFamily, 0x2, 6, 5 /*NEW_DEST*/);
    size_t d = w.open(2);
    w.attr_raw(1, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});
    w.attr_raw(2, {0, 80});
    w.attr32(3, 3 /*DROUTE*/), w.attr32(4, 7), w.attr32(5, 500), w.attr32(6, 50);
    w.attr32(7, 12), w.attr32(8, 34), w.attr32(9, 5);
    w.attr16(11, 10);
    size_t s64 = w.open(12);
    w.attr64(1, 99), w.attr64(4, 1ull << 40);
    w.close(s64);
    w.close(d);
    w.end_msg(m);
    auto svc = ServiceKey::inet(Protocol::tcp, ip("2001:db8::1"), 80);
    auto e = decode_dest(one_message(w.b), svc);
    ASSERT_TRUE(e.ok()) << e.error().describe();
    EXPECT_EQ(e->key, (RealKey{ip("2001:db8::2"), 80}));
    EXPECT_EQ(e->spec, (RealSpec{ForwardMethod::route, 7, 500, 50}));
    EXPECT_EQ(e->counters.active_conns, 12u);
    EXPECT_EQ(e->counters.inactive_conns, 34u);
    EXPECT_EQ(e->counters.persist_conns, 5u);
    EXPECT_EQ(e->counters.stats.conns, 99u);
    EXPECT_EQ(e->counters.stats.inbytes, 1ull << 40);
}

// A dest reply as a 6.1 kernel sends it: every attribute, both stats nests, tunnel fields.
std::vector<uint8_t> kernel_dest_reply() {
    WireBytes w;
    size_t m = w.msg(kFamily, 0x2 /*NLM_F_MULTI*/, 9, 5 /*NEW_DEST*/);
    size_t d = w.open(2 /*CMD_ATTR_DEST*/);
    w.attr_raw(1, {10, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
    w.attr_raw(2, {0x1f, 0x90});
    w.attr32(3, 0 /*MASQ*/), w.attr32(4, 3), w.attr32(5, 0), w.attr32(6, 0);
    w.attr32(7, 2), w.attr32(8, 1), w.attr32(9, 0);
    size_t st = w.open(10 /*DEST_ATTR_STATS*/);
    w.attr32(1, 11), w.attr32(2, 22), w.attr32(3, 33), w.attr64(4, 4444), w.attr64(5, 5555);
    w.attr32(6, 6), w.attr32(7, 7), w.attr32(8, 8), w.attr32(9, 9), w.attr32(10, 10);
    w.close(st);
    w.attr16(11, 2 /*AF_INET*/);
    size_t s64 = w.open(12 /*DEST_ATTR_STATS64*/);
    w.attr64(1, 0x100000001ull), w.attr64(2, 22), w.attr64(3, 33), w.attr64(4, 4444);
    w.attr64(5, 5555), w.attr64(6, 6), w.attr64(7, 7), w.attr64(8, 8), w.attr64(9, 9);
    w.attr64(10, 10);
    w.close(s64);
    w.attr_raw(13, {0}), w.attr16(14, 0), w.attr16(15, 0);  // tunnel type, port, flags
    w.close(d);
    w.end_msg(m);
    return w.b;
}

TEST(IpvsDecode, DestReadsAKernelReply) {
    const auto bytes = kernel_dest_reply();
    auto m = one_message(bytes);
    auto e = decode_dest(m, vip80());
    ASSERT_TRUE(e.ok()) << e.error().describe();
    EXPECT_EQ(e->key, (RealKey{ip("10.0.0.7"), 8080}));
    EXPECT_EQ(e->spec, (RealSpec{ForwardMethod::masquerade, 3, 0, 0}));
    EXPECT_EQ(e->counters.active_conns, 2u);
    EXPECT_EQ(e->counters.inactive_conns, 1u);
    EXPECT_EQ(e->counters.stats.conns, 0x100000001ull);  // STATS64 wins over STATS
    EXPECT_EQ(e->counters.stats.outbps, 10u);
}

// Every truncation and many single-byte corruptions of a kernel reply: decode_dest rejects or
// reads each (never past its bounds: the sanitizer build runs this), and reads the harmless
// changes (counter values) as the kernel reply with that value.
TEST(IpvsDecode, DestSurvivesTruncatedAndCorruptedReplies) {
    const auto full = kernel_dest_reply();
    const auto v6 = ServiceKey::mark(1, AF_INET6);
    size_t read = 0, tried = 0;
    for_each_truncation(full, [&](const nl::Message& m, size_t) {
        ++tried;
        read += decode_dest(m, vip80()).ok();
        read += decode_dest(m, v6).ok();
    });
    EXPECT_EQ(read, 0u) << "a truncated reply lacks the address or port, or breaks a nest";
    // Every byte after the netlink header set to a few telling values: lengths, types,
    // families, forwarding methods and counter widths all go wrong somewhere.
    for (size_t at = 16; at < full.size(); ++at) {
        for (uint8_t v : {uint8_t{0}, uint8_t{1}, uint8_t{3}, uint8_t{5}, uint8_t{10},
                          uint8_t{0x7f}, uint8_t{0xff}}) {
            auto bad = full;
            bad[at] = v;
            auto msgs = nl::split_messages(bad);
            if (!msgs.ok() || msgs->empty()) continue;
            ++tried;
            read += decode_dest(msgs->front(), vip80()).ok();
            read += decode_dest(msgs->front(), v6).ok();
        }
    }
    EXPECT_GT(tried, 1000u);
    EXPECT_GT(read, 0u);         // it reads the harmless changes (counter values)...
    EXPECT_LT(read, tried * 2);  // ...and rejects others
}

TEST(IpvsDecode, ServiceKeyAloneIsDecodeServicesKey) {
    auto k = decode_service_key(one_message(kernel_service_reply(true)));
    ASSERT_TRUE(k.ok()) << k.error().describe();
    EXPECT_EQ(*k, vip80());
    for_each_truncation(kernel_service_reply(false), [](const nl::Message& m, size_t len) {
        auto e = decode_service(m);
        if (!e.ok()) return;
        auto key = decode_service_key(m);
        ASSERT_TRUE(key.ok()) << "cut at " << len;
        EXPECT_EQ(*key, e->key);
    });
    // A dest reply has no service key.
    EXPECT_FALSE(decode_service_key(one_message(kernel_dest_reply())).ok());
}

TEST(IpvsDecode, InfoTimeoutsDaemonAndFamilyId) {
    WireBytes i;
    size_t m = i.msg(kFamily, 0, 1, 14 /*SET_INFO*/);
    i.attr32(1, 0x010201), i.attr32(2, 4096);
    i.end_msg(m);
    auto info = decode_info(one_message(i.b));
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->version_string(), "1.2.1");
    EXPECT_EQ(info->conn_tab_size, 4096u);

    WireBytes t;
    m = t.msg(kFamily, 0, 1, 12 /*SET_CONFIG*/);
    t.attr32(4, 900), t.attr32(5, 120), t.attr32(6, 300);
    t.end_msg(m);
    auto to = decode_timeouts(one_message(t.b));
    ASSERT_TRUE(to.ok());
    EXPECT_EQ(*to, (Timeouts{900, 120, 300}));

    WireBytes d;
    m = d.msg(kFamily, 0x2, 1, 9 /*NEW_DAEMON*/);
    size_t n = d.open(3);
    d.attr32(1, 1), d.attr_str(2, "eth1"), d.attr32(3, 4), d.attr16(4, 1472);
    d.attr_raw(5, {224, 0, 0, 81}), d.attr16(7, 8848), d.attr_raw(8, {1});
    d.close(n);
    d.end_msg(m);
    auto dm = decode_daemon(one_message(d.b));
    ASSERT_TRUE(dm.ok()) << dm.error().describe();
    EXPECT_EQ(dm->state, SyncDaemon::State::master);
    EXPECT_EQ(dm->mcast_ifn, "eth1");
    EXPECT_EQ(dm->sync_id, 4u);
    EXPECT_EQ(dm->sync_maxlen, std::optional<uint16_t>(1472));
    EXPECT_EQ(dm->mcast_group, std::optional<IpAddress>(ip("224.0.0.81")));
    EXPECT_EQ(dm->mcast_port, std::optional<uint16_t>(8848));
    EXPECT_EQ(dm->mcast_ttl, std::optional<uint8_t>(1));
}

TEST(IpvsDecode, MalformedRepliesAreErrors) {
    // Wrong width for the address family.
    WireBytes w;
    size_t m = w.msg(kFamily, 0, 1, 1);
    size_t s = w.open(1);
    w.attr32(1, 2);
    w.close(s);
    w.end_msg(m);
    auto r = decode_service(one_message(w.b));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, EBADMSG);

    // Unknown protocol, IPv4 address too short, flags struct of the wrong size.
    auto with = [](auto fill) {
        WireBytes x;
        size_t mm = x.msg(kFamily, 0, 1, 1);
        size_t ss = x.open(1);
        fill(x);
        x.close(ss);
        x.end_msg(mm);
        return x.b;
    };
    EXPECT_FALSE(
        decode_service(one_message(with([](WireBytes& x) {
            x.attr16(1, 2), x.attr16(2, 99), x.attr_raw(3, {1, 2, 3, 4}), x.attr_raw(4, {0, 1});
        }))).ok());
    EXPECT_FALSE(decode_service(one_message(with([](WireBytes& x) {
                     x.attr16(1, 2), x.attr16(2, 6), x.attr_raw(3, {1, 2}), x.attr_raw(4, {0, 1});
                 }))).ok());
    EXPECT_FALSE(decode_service(one_message(with([](WireBytes& x) {
                     x.attr16(1, 2), x.attr32(5, 1), x.attr32(7, 0);
                 }))).ok());
    // A service reply fed to the dest decoder, and a control message.
    auto svc_bytes = kernel_service_reply(true);
    EXPECT_FALSE(decode_dest(one_message(svc_bytes), vip80()).ok());
    WireBytes done;
    done.le32(20), done.le16(3 /*NLMSG_DONE*/), done.le16(2), done.le32(1), done.le32(0);
    done.le32(0);
    EXPECT_FALSE(decode_service(one_message(done.b)).ok());
}

TEST(IpvsDecode, EveryTruncationOfAValidReplyIsHandled) {
    for_each_truncation(kernel_service_reply(true), [](const nl::Message& m, size_t) {
        auto e = decode_service(m);
        if (e.ok()) {
            EXPECT_EQ(e->key, vip80());  // only cuts after the key can succeed
        }
    });
}

}  // namespace
}  // namespace ballast::kernel::ipvs
