// ipvsadm 1.31's listing formats from made-up kernel replies. The expected lines were worked
// out from ipvsadm's printf formats by hand (and the lab test compares the same functions
// with ipvsadm itself on real kernels).
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "ballast/ipvsadm/format.hpp"
#include "ballast/ipvsadm/json.hpp"

namespace ballast::ipvsadm {
namespace {

using model::ForwardMethod;
using model::IpAddress;
using model::ServiceKey;

IpAddress ip(const char* s) {
    return *IpAddress::parse(s);
}

ServiceEntry tcp(const char* addr, uint16_t port, const char* sched = "wlc") {
    ServiceEntry e;
    e.key = ServiceKey::inet(model::Protocol::tcp, ip(addr), port);
    e.spec.scheduler = sched;
    e.spec.netmask = e.key.family == AF_INET6 ? 128 : 0xffffffff;
    return e;
}

DestEntry dest(const char* addr, uint16_t port, ForwardMethod fwd, uint32_t weight,
               uint32_t active = 0, uint32_t inactive = 0) {
    DestEntry d;
    d.key = {ip(addr), port};
    d.spec = {fwd, weight, 0, 0};
    d.counters.active_conns = active;
    d.counters.inactive_conns = inactive;
    return d;
}

// Long names for some addresses and the usual services.
class LongNames final : public Names {
public:
    std::optional<uint32_t> ipv4_by_name(const std::string&) override { return std::nullopt; }
    std::optional<std::string> host_by_addr(int af, const uint8_t* addr) override {
        char buf[INET6_ADDRSTRLEN];
        std::string a = inet_ntop(af, addr, buf, sizeof buf);
        if (a == "192.0.2.1") return "a-rather-long-virtual-host.example.org";
        if (a == "10.0.0.2") return "a-real-server-with-a-long-name.example.org";
        if (a == "2001:db8::1")
            return "an-ipv6-host-whose-name-is-longer-than-fifty-nine-bytes.example.org";
        return std::nullopt;
    }
    std::optional<uint16_t> port_by_name(const std::string&, const char*) override {
        return std::nullopt;
    }
    std::optional<std::string> service_by_port(uint16_t port, const char* proto) override {
        if (port == 80 && std::string(proto) == "tcp") return "http";
        return std::nullopt;
    }
};

Format numeric() {
    Format f;
    f.numeric = true;
    return f;
}

TEST(IpvsadmFormat, DefaultListingOfAServiceAndItsRealServers) {
    auto s = tcp("192.0.2.1", 80);
    s.spec.flags.sched_flag1 = true;
    s.spec.flags.persistent = true;
    s.spec.flags.one_packet = true;
    s.spec.persistence = 100;
    s.spec.netmask = 0xffffff00;
    NoNames names;
    // Given in the kernel's order (newest first); listed sorted.
    std::string out = service_lines(s,
                                    {dest("10.0.0.3", 80, ForwardMethod::route, 0),
                                     dest("10.0.0.2", 8080, ForwardMethod::masquerade, 3, 4, 5)},
                                    numeric(), names);
    EXPECT_EQ(out,
              "TCP  192.0.2.1:80 wlc (flag-1) persistent 100 mask 255.255.255.0 ops\n"
              "  -> 10.0.0.2:8080                Masq    3      4          5         \n"
              "  -> 10.0.0.3:80                  Route   0      0          0         \n");
    Format nosort = numeric();
    nosort.nosort = true;
    std::string kernel_order = service_lines(s,
                                             {dest("10.0.0.3", 80, ForwardMethod::route, 0),
                                              dest("10.0.0.2", 8080, ForwardMethod::masquerade, 3)},
                                             nosort, names);
    EXPECT_LT(kernel_order.find("10.0.0.3"), kernel_order.find("10.0.0.2"));
}

TEST(IpvsadmFormat, RulesForEveryKindOfService) {
    NoNames names;
    Format rule = numeric();
    rule.rule = true;
    auto sh = tcp("192.0.2.1", 80, "sh");
    sh.spec.flags.sched_flag1 = sh.spec.flags.sched_flag2 = true;
    sh.spec.flags.persistent = true;
    sh.spec.persistence = 360;
    sh.spec.pe_name = "sip";
    EXPECT_EQ(service_lines(sh,
                            {dest("10.0.0.2", 8080, ForwardMethod::masquerade, 3),
                             dest("10.0.0.4", 80, ForwardMethod::tunnel, 1),
                             dest("10.0.0.5", 80, ForwardMethod::route, 2),
                             dest("10.0.0.6", 80, ForwardMethod::local, 2)},
                            rule, names),
              "-A -t 192.0.2.1:80 -s sh -p 360 --pe sip -b sh-fallback,sh-port\n"
              "-a -t 192.0.2.1:80 -r 10.0.0.2:8080 -m -w 3\n"
              "-a -t 192.0.2.1:80 -r 10.0.0.4:80 -i -w 1 --tun-type ipip\n"
              "-a -t 192.0.2.1:80 -r 10.0.0.5:80 -g -w 2\n"
              "-a -t 192.0.2.1:80 -r 10.0.0.6:80 -g -w 2\n");
    ServiceEntry mark6;
    mark6.key = ServiceKey::mark(3000000000u, AF_INET6);
    mark6.spec.scheduler = "mh";
    mark6.spec.flags.sched_flag2 = true;
    mark6.spec.flags.persistent = true;
    mark6.spec.persistence = 10;
    mark6.spec.netmask = 64;
    // ipvsadm 1.31 prints a mark with %d: above 2^31 it is negative.
    EXPECT_EQ(service_lines(mark6, {}, rule, names),
              "-A -f -1294967296 -6 -s mh -p 10 -M 64 -b mh-port\n");
    EXPECT_EQ(service_lines(mark6, {}, numeric(), names),
              "FWM  -1294967296 IPv6 mh (mh-port) persistent 10 mask 64\n");
    ServiceEntry udp;
    udp.key = ServiceKey::inet(model::Protocol::udp, ip("2001:db8::1"), 53);
    udp.spec.scheduler = "rr";
    udp.spec.netmask = 128;
    udp.spec.flags.one_packet = true;
    EXPECT_EQ(service_lines(udp, {}, rule, names), "-A -u [2001:db8::1]:53 -s rr -o\n");
    ServiceEntry sctp;
    sctp.key = ServiceKey::inet(model::Protocol::sctp, ip("192.0.2.9"), 3868);
    sctp.spec.scheduler = "wlc";
    EXPECT_EQ(service_lines(sctp, {}, rule, names), "-A --sctp-service 192.0.2.9:3868 -s wlc\n");
    EXPECT_EQ(service_lines(sctp, {}, numeric(), names), "SCTP 192.0.2.9:3868 wlc\n");
}

TEST(IpvsadmFormat, CountersRatesThresholdsPersistenceAndTunnelColumns) {
    NoNames names;
    auto s = tcp("192.0.2.1", 80);
    s.stats.conns = 12, s.stats.inpkts = 100000000, s.stats.outpkts = 3;
    s.stats.inbytes = 1000000000, s.stats.outbytes = 5;
    auto d = dest("10.0.0.2", 8080, ForwardMethod::masquerade, 3, 4, 5);
    d.spec.upper_threshold = 100, d.spec.lower_threshold = 10;
    d.counters.persist_conns = 6;
    // libipvs reads a destination's 64-bit packet and connection counters with a 32-bit getter.
    d.counters.stats.conns = (1ull << 32) + 7, d.counters.stats.inpkts = 1;
    d.counters.stats.outpkts = 2, d.counters.stats.inbytes = (1ull << 32) + 5;
    d.counters.stats.cps = 1, d.counters.stats.inpps = 2, d.counters.stats.outpps = 3;
    d.counters.stats.inbps = 4, d.counters.stats.outbps = 5;

    Format f = numeric();
    f.stats = true;
    EXPECT_EQ(service_lines(s, {d}, f, names),
              "TCP  192.0.2.1:80                       12  100000K        3    1000M        5\n"
              "  -> 10.0.0.2:8080                       7        1        2    4294M        0\n");
    f = numeric();
    f.rate = true;
    EXPECT_EQ(service_lines(s, {d}, f, names),
              "TCP  192.0.2.1:80                        0        0        0        0        0\n"
              "  -> 10.0.0.2:8080                       1        2        3        4        5\n");
    f = numeric();
    f.thresholds = true;
    EXPECT_EQ(table_title(f),
              "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn \n"
              "  -> RemoteAddress:Port\n");
    EXPECT_EQ(service_lines(s, {d}, f, names),
              "TCP  192.0.2.1:80 wlc\n"
              "  -> 10.0.0.2:8080                100        10         4          5         \n");
    f = numeric();
    f.persistent_conn = true;
    EXPECT_EQ(service_lines(s, {d}, f, names),
              "TCP  192.0.2.1:80 wlc\n"
              "  -> 10.0.0.2:8080                3         6           4          5         \n");
    f = numeric();
    f.tun_info = true;
    EXPECT_EQ(
        service_lines(s, {d, dest("10.0.0.4", 80, ForwardMethod::tunnel, 1)}, f, names),
        "TCP  192.0.2.1:80 wlc\n"
        "  -> 10.0.0.2:8080                Masq    n/a           3      4          5         \n"
        "  -> 10.0.0.4:80                  Tunnel  ipip          1      0          0         \n");
}

TEST(IpvsadmFormat, LargeNumbersAndExactNumbers) {
    NoNames names;
    auto s = tcp("192.0.2.1", 80);
    auto column = [&](uint64_t v, bool exact) {
        s.stats.conns = v;
        Format f = numeric();
        f.stats = true;
        f.exact = exact;
        std::string line = service_lines(s, {}, f, names);
        return line.substr(33, line.size() - 33 - 4 * 9 - 1);
    };
    EXPECT_EQ(column(99999999, false), " 99999999");
    EXPECT_EQ(column(100000000, false), "  100000K");
    EXPECT_EQ(column(999999999, false), "  999999K");
    EXPECT_EQ(column(1000000000, false), "    1000M");
    EXPECT_EQ(column(99999999999ull, false), "   99999M");
    EXPECT_EQ(column(100000000000ull, false), "     100G");
    EXPECT_EQ(column(99999999999999ull, false), "   99999G");
    EXPECT_EQ(column(100000000000000ull, false), "     100T");
    EXPECT_EQ(column(5, true), "        5");
    EXPECT_EQ(column(123456789, true), " 123456789");
}

TEST(IpvsadmFormat, NamesAndTheirTruncation) {
    LongNames names;
    Format f;  // names, not numeric
    auto s = tcp("192.0.2.1", 80);
    std::string out =
        service_lines(s, {dest("10.0.0.2", 80, ForwardMethod::masquerade, 1)}, f, names);
    // The service column is cut at 33 bytes, the real server's at 28 (IPv4 only).
    EXPECT_EQ(out,
              "TCP  a-rather-long-virtual-host.e wlc\n"
              "  -> a-real-server-with-a-long-na Masq    1      0          0         \n");
    auto v6 = tcp("2001:db8::1", 8080);
    // IPv6 is not cut at 33, but ipvsadm's 60-byte buffer still cuts at 59.
    EXPECT_EQ(service_lines(v6, {}, f, names),
              "TCP  [an-ipv6-host-whose-name-is-longer-than-fifty-nine-bytes.ex wlc\n");
    Format rule;
    rule.rule = true;
    EXPECT_EQ(service_lines(s, {}, rule, names),
              "-A -t a-rather-long-virtual-host.example.org:http -s wlc\n");
}

TEST(IpvsadmFormat, SortsAsIpvsadmIncludingItsWrappedComparison) {
    auto order = [](std::vector<const char*> kernel_order) {
        std::vector<ServiceEntry> v;
        for (auto a : kernel_order) v.push_back(tcp(a, 80));
        sort_services(v);
        std::vector<std::string> out;
        for (const auto& s : v) out.push_back(s.key.addr.to_string());
        return out;
    };
    // Addresses compare by a wrapped 32-bit difference, so the result depends on the input
    // order exactly as glibc's merge sort makes it for ipvsadm.
    EXPECT_EQ(order({"200.0.0.1", "10.0.0.1", "100.0.0.1"}),
              (std::vector<std::string>{"200.0.0.1", "10.0.0.1", "100.0.0.1"}));
    EXPECT_EQ(order({"10.0.0.1", "100.0.0.1", "200.0.0.1"}),
              (std::vector<std::string>{"10.0.0.1", "100.0.0.1", "200.0.0.1"}));
    EXPECT_EQ(order({"100.0.0.1", "200.0.0.1", "10.0.0.1", "150.0.0.1"}),
              (std::vector<std::string>{"100.0.0.1", "150.0.0.1", "200.0.0.1", "10.0.0.1"}));
    // Fwmark services first by mark, then by family; protocol before address.
    std::vector<ServiceEntry> mixed;
    mixed.push_back(tcp("192.0.2.1", 80));
    ServiceEntry m;
    m.key = ServiceKey::mark(5);
    mixed.push_back(m);
    ServiceEntry u;
    u.key = ServiceKey::inet(model::Protocol::udp, ip("10.0.0.1"), 53);
    mixed.push_back(u);
    sort_services(mixed);
    EXPECT_EQ(mixed[0].key.protocol, model::Protocol::tcp);
    EXPECT_EQ(mixed[1].key.protocol, model::Protocol::udp);
    EXPECT_TRUE(mixed[2].key.is_fwmark());

    std::vector<DestEntry> d = {dest("10.0.0.1", 90, ForwardMethod::route, 1),
                                dest("10.0.0.1", 80, ForwardMethod::route, 1),
                                dest("9.0.0.1", 80, ForwardMethod::route, 1)};
    sort_dests(d);
    EXPECT_EQ(d[0].key.addr.to_string(), "9.0.0.1");
    EXPECT_EQ(d[1].key.port, 80);
    EXPECT_EQ(d[2].key.port, 90);
}

TEST(IpvsadmFormat, HeaderTimeoutsAndDaemons) {
    EXPECT_EQ(version_header({0x010201, 4096}), "IP Virtual Server version 1.2.1 (size=4096)\n");
    EXPECT_EQ(timeouts_line({900, 120, 300}), "Timeout (tcp tcpfin udp): 900 120 300\n");
    kernel::ipvs::SyncDaemon m;
    m.state = kernel::ipvs::SyncDaemon::State::master;
    m.mcast_ifn = "eth0";
    m.sync_id = 3;
    m.sync_maxlen = 1472;
    m.mcast_group = ip("224.0.0.81");
    m.mcast_port = 8848;
    m.mcast_ttl = 1;
    kernel::ipvs::SyncDaemon b;
    b.state = kernel::ipvs::SyncDaemon::State::backup;
    b.mcast_ifn = "lo";
    b.mcast_port = 0;  // zero values are left out, as ipvsadm leaves them out
    EXPECT_EQ(daemon_lines({m, b}),
              "master sync daemon (mcast=eth0, syncid=3, maxlen=1472, group=224.0.0.81, "
              "port=8848, ttl=1)\n"
              "backup sync daemon (mcast=lo, syncid=0)\n");
    Format plain;
    EXPECT_EQ(table_title(plain),
              "Prot LocalAddress:Port Scheduler Flags\n"
              "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
    plain.rule = true;
    EXPECT_EQ(table_title(plain), "");
}

TEST(IpvsadmFormat, ConnectionsFromTheProcFile) {
    const std::string proc =
        "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n"
        "TCP 0A080002 B26E 0A080064 0050 0A090002 1B59 ESTABLISHED     119\n"
        "UDP 2001:0db8:0000:0000:0000:0000:0000:0002 13C4 2001:0db8:0000:0000:0000:0000:0000:0001 "
        "13C4 2001:0db8:0001:0000:0000:0000:0000:0001 13C4 UDP               5 sip abc\n";
    auto records = connection_records(proc);
    ASSERT_EQ(records.size(), 2u);
    auto tcp_conn = parse_connection(records[0]);
    auto udp_conn = parse_connection(records[1]);
    ASSERT_TRUE(tcp_conn && udp_conn);
    EXPECT_EQ(udp_conn->fields, 11);
    NoNames names;
    Format f = numeric();
    EXPECT_EQ(connections_title(f),
              "IPVS connection entries\n"
              "pro expire state       source             virtual            destination\n");
    EXPECT_EQ(connection_line(*tcp_conn, f, names),
              "TCP 01:59  ESTABLISHED 10.8.0.2:45678     10.8.0.100:80      10.9.0.2:7001\n");
    f.persistent_conn = true;
    EXPECT_EQ(connection_line(*udp_conn, f, names),
              "UDP 00:05  UDP         [2001:db8::2]:5060 [2001:db8::1]:5060 [2001:db8:1::1]:5060 "
              "sip                abc\n");
    // Without the persistence engine's words, the short line even with --persistent-conn.
    EXPECT_EQ(connection_line(*tcp_conn, f, names),
              "TCP 01:59  ESTABLISHED 10.8.0.2:45678     10.8.0.100:80      10.9.0.2:7001\n");
    EXPECT_FALSE(parse_connection("   \n"));
    EXPECT_TRUE(connection_records("").empty());
}

// The JSON schema: every key, its type, and counters as exact numbers.
TEST(IpvsadmJson, TableSchema) {
    auto s = tcp("192.0.2.1", 80, "sh");
    s.spec.flags.sched_flag2 = true;
    s.spec.flags.persistent = true;
    s.spec.persistence = 300;
    s.spec.netmask = 0xffffff00;
    s.stats.conns = 1ull << 40;
    s.stats.outbps = 7;
    auto d = dest("10.0.0.2", 8080, ForwardMethod::masquerade, 3, 4, 5);
    d.spec.upper_threshold = 9;
    d.counters.stats.inbytes = (1ull << 33) + 1;
    ServiceEntry mark;
    mark.key = ServiceKey::mark(7, AF_INET6);
    mark.spec.scheduler = "rr";
    mark.spec.netmask = 128;
    auto text = table_json({0x010201, 4096}, {{s, {d}}, {mark, {}}});
    ASSERT_EQ(text.back(), '\n');
    auto doc = boost::json::parse(text).as_object();
    EXPECT_EQ(doc.at("schema"), "ballast.ipvsadm/1");
    EXPECT_EQ(doc.at("ipvs").at("version"), "1.2.1");
    EXPECT_EQ(doc.at("ipvs").at("conn_tab_size").to_number<uint64_t>(), 4096u);
    const auto& services = doc.at("services").as_array();
    ASSERT_EQ(services.size(), 2u);
    const auto& j = services[0].as_object();
    EXPECT_EQ(j.size(), 13u);
    EXPECT_EQ(j.at("family"), "ipv4");
    EXPECT_EQ(j.at("protocol"), "tcp");
    EXPECT_EQ(j.at("address"), "192.0.2.1");
    EXPECT_EQ(j.at("port").to_number<int>(), 80);
    EXPECT_TRUE(j.at("fwmark").is_null());
    EXPECT_EQ(j.at("scheduler"), "sh");
    EXPECT_EQ(j.at("sched_flags").as_array(), boost::json::array({"sh-port"}));
    EXPECT_EQ(j.at("persistence").at("timeout").to_number<int>(), 300);
    EXPECT_EQ(j.at("persistence").at("netmask"), "255.255.255.0");
    EXPECT_TRUE(j.at("pe").is_null());
    EXPECT_EQ(j.at("one_packet"), false);
    EXPECT_EQ(j.at("stats").at("conns").to_number<uint64_t>(), 1ull << 40);
    for (const char* k : {"conns", "inpkts", "outpkts", "inbytes", "outbytes"})
        EXPECT_TRUE(j.at("stats").at(k).is_number()) << k;
    for (const char* k : {"cps", "inpps", "outpps", "inbps", "outbps"})
        EXPECT_TRUE(j.at("rates").at(k).is_number()) << k;
    EXPECT_EQ(j.at("rates").at("outbps").to_number<int>(), 7);
    const auto& r = j.at("reals").as_array().at(0).as_object();
    EXPECT_EQ(r.size(), 12u);
    EXPECT_EQ(r.at("family"), "ipv4");
    EXPECT_EQ(r.at("address"), "10.0.0.2");
    EXPECT_EQ(r.at("port").to_number<int>(), 8080);
    EXPECT_EQ(r.at("forward"), "masq");
    EXPECT_EQ(r.at("weight").to_number<int>(), 3);
    EXPECT_EQ(r.at("upper_threshold").to_number<int>(), 9);
    EXPECT_EQ(r.at("lower_threshold").to_number<int>(), 0);
    EXPECT_EQ(r.at("active_conns").to_number<int>(), 4);
    EXPECT_EQ(r.at("inactive_conns").to_number<int>(), 5);
    EXPECT_EQ(r.at("persistent_conns").to_number<int>(), 0);
    // Not truncated as ipvsadm's text is: JSON carries the kernel's 64-bit value.
    EXPECT_EQ(r.at("stats").at("inbytes").to_number<uint64_t>(), (1ull << 33) + 1);
    const auto& m = services[1].as_object();
    EXPECT_EQ(m.at("family"), "ipv6");
    EXPECT_EQ(m.at("fwmark").to_number<uint64_t>(), 7u);
    EXPECT_TRUE(m.at("protocol").is_null());
    EXPECT_TRUE(m.at("address").is_null());
    EXPECT_TRUE(m.at("persistence").is_null());
    EXPECT_TRUE(m.at("reals").as_array().empty());
}

TEST(IpvsadmJson, TimeoutsDaemonsAndConnectionsSchema) {
    auto t = boost::json::parse(timeouts_json({900, 120, 300})).as_object();
    EXPECT_EQ(t.at("schema"), "ballast.ipvsadm/1");
    EXPECT_EQ(t.at("timeouts").at("tcp").to_number<int>(), 900);
    EXPECT_EQ(t.at("timeouts").at("tcp_fin").to_number<int>(), 120);
    EXPECT_EQ(t.at("timeouts").at("udp").to_number<int>(), 300);

    kernel::ipvs::SyncDaemon m;
    m.mcast_ifn = "eth0";
    m.sync_id = 3;
    m.mcast_port = 8848;
    auto d = boost::json::parse(daemons_json({m})).as_object();
    const auto& dm = d.at("daemons").as_array().at(0).as_object();
    EXPECT_EQ(dm.at("state"), "master");
    EXPECT_EQ(dm.at("mcast_interface"), "eth0");
    EXPECT_EQ(dm.at("syncid").to_number<int>(), 3);
    EXPECT_EQ(dm.at("mcast_port").to_number<int>(), 8848);
    EXPECT_TRUE(dm.at("mcast_group").is_null());
    EXPECT_TRUE(dm.at("sync_maxlen").is_null());
    EXPECT_TRUE(dm.at("mcast_ttl").is_null());

    auto c = parse_connection("TCP 0A080002 B26E 0A080064 0050 0A090002 1B59 ESTABLISHED 119\n");
    ASSERT_TRUE(c);
    auto cj = boost::json::parse(connections_json({*c})).as_object();
    const auto& conn = cj.at("connections").as_array().at(0).as_object();
    EXPECT_EQ(conn.at("protocol"), "TCP");
    EXPECT_EQ(conn.at("state"), "ESTABLISHED");
    EXPECT_EQ(conn.at("expires").to_number<int>(), 119);
    EXPECT_EQ(conn.at("client").at("address"), "10.8.0.2");
    EXPECT_EQ(conn.at("client").at("port").to_number<int>(), 45678);
    EXPECT_EQ(conn.at("virtual").at("address"), "10.8.0.100");
    EXPECT_EQ(conn.at("destination").at("port").to_number<int>(), 7001);
    EXPECT_TRUE(conn.at("pe_name").is_null());
}

}  // namespace
}  // namespace ballast::ipvsadm
