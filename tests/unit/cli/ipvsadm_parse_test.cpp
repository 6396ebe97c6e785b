// ballastctl's ipvsadm command line: every option and what it fills in, every refusal with
// ipvsadm 1.31's words and exit status (the lab test compares the same against ipvsadm
// itself), and ballastctl's own options.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <random>

#include "ballast/ipvsadm/parse.hpp"

namespace ballast::ipvsadm {
namespace {

// Names from a table instead of libc.
class TableNames final : public Names {
public:
    std::optional<uint32_t> ipv4_by_name(const std::string& name) override {
        if (name == "web") return inet_addr("192.0.2.80");
        return std::nullopt;
    }
    std::optional<std::string> host_by_addr(int, const uint8_t*) override { return std::nullopt; }
    std::optional<uint16_t> port_by_name(const std::string& name, const char* proto) override {
        if (name == "http" && std::string(proto) == "tcp") return 80;
        if (name == "domain") return 53;
        return std::nullopt;
    }
    std::optional<std::string> service_by_port(uint16_t, const char*) override {
        return std::nullopt;
    }
};

Parsed parse(std::vector<std::string> args, bool reading_stdin = false) {
    args.insert(args.begin(), "ipvsadm");
    TableNames names;
    return parse_command(args, reading_stdin, names);
}

Command ok(std::vector<std::string> args) {
    Parsed p = parse(args);
    if (auto* s = std::get_if<Stop>(&p)) {
        ADD_FAILURE() << "refused: " << s->err;
        return {};
    }
    return std::get<Command>(p);
}

// The refusal: (exit status, stderr).
std::pair<int, std::string> refused(std::vector<std::string> args, bool reading_stdin = false) {
    Parsed p = parse(args, reading_stdin);
    if (auto* s = std::get_if<Stop>(&p)) return {s->exit_code, s->err};
    ADD_FAILURE() << "accepted";
    return {};
}

std::string v4(const Command& c) {
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, c.svc.addr.data(), buf, sizeof buf);
    return buf;
}

TEST(IpvsadmParse, EveryCommandLongAndShort) {
    EXPECT_EQ(ok({"-A", "-t", "1.2.3.4:80"}).cmd, Cmd::add);
    EXPECT_EQ(ok({"--add-service", "-t", "1.2.3.4:80"}).cmd, Cmd::add);
    EXPECT_EQ(ok({"-E", "-t", "1.2.3.4:80"}).cmd, Cmd::edit);
    EXPECT_EQ(ok({"--edit-service", "-t", "1.2.3.4:80"}).cmd, Cmd::edit);
    EXPECT_EQ(ok({"-D", "-t", "1.2.3.4:80"}).cmd, Cmd::del);
    EXPECT_EQ(ok({"--delete-service", "-t", "1.2.3.4:80"}).cmd, Cmd::del);
    EXPECT_EQ(ok({"-C"}).cmd, Cmd::flush);
    EXPECT_EQ(ok({"--clear"}).cmd, Cmd::flush);
    EXPECT_EQ(ok({"-R"}).cmd, Cmd::restore);
    EXPECT_EQ(ok({"--restore"}).cmd, Cmd::restore);
    EXPECT_EQ(ok({"-S"}).cmd, Cmd::save);
    EXPECT_TRUE(ok({"--save"}).format.rule);
    EXPECT_EQ(ok({"-a", "-t", "1.2.3.4:80", "-r", "10.0.0.1"}).cmd, Cmd::add_dest);
    EXPECT_EQ(ok({"--add-server", "-t", "1.2.3.4:80", "-r", "10.0.0.1"}).cmd, Cmd::add_dest);
    EXPECT_EQ(ok({"-e", "-t", "1.2.3.4:80", "-r", "10.0.0.1"}).cmd, Cmd::edit_dest);
    EXPECT_EQ(ok({"--edit-server", "-t", "1.2.3.4:80", "-r", "10.0.0.1"}).cmd, Cmd::edit_dest);
    EXPECT_EQ(ok({"-d", "-t", "1.2.3.4:80", "-r", "10.0.0.1"}).cmd, Cmd::del_dest);
    EXPECT_EQ(ok({"--delete-server", "-t", "1.2.3.4:80", "-r", "10.0.0.1"}).cmd, Cmd::del_dest);
    EXPECT_EQ(ok({"-L"}).cmd, Cmd::list);
    EXPECT_EQ(ok({"-l"}).cmd, Cmd::list);
    EXPECT_EQ(ok({"--list"}).cmd, Cmd::list);
    EXPECT_EQ(ok({"-Z"}).cmd, Cmd::zero);
    EXPECT_EQ(ok({"--zero"}).cmd, Cmd::zero);
    auto set = ok({"--set", "10", "0", "30"});
    EXPECT_EQ(set.cmd, Cmd::timeout);
    EXPECT_EQ(set.timeouts, (kernel::ipvs::Timeouts{10, 0, 30}));
    auto start = ok({"--start-daemon", "backup"});
    EXPECT_EQ(start.cmd, Cmd::start_daemon);
    EXPECT_EQ(start.daemon.state, kernel::ipvs::SyncDaemon::State::backup);
    EXPECT_EQ(start.daemon.mcast_ifn, "eth0");  // ipvsadm's default interface
    auto stop = ok({"--stop-daemon", "master"});
    EXPECT_EQ(stop.cmd, Cmd::stop_daemon);
    EXPECT_EQ(stop.daemon.state, kernel::ipvs::SyncDaemon::State::master);
}

TEST(IpvsadmParse, ServicesOfEveryKind) {
    auto t = ok({"-A", "-t", "192.0.2.1:80"});
    EXPECT_EQ(t.svc.af, AF_INET);
    EXPECT_EQ(t.svc.protocol, IPPROTO_TCP);
    EXPECT_EQ(v4(t), "192.0.2.1");
    EXPECT_EQ(t.svc.port, 80);
    EXPECT_EQ(t.svc.scheduler, "wlc");  // the default
    EXPECT_EQ(t.svc.netmask, 0xffffffffu);
    EXPECT_EQ(t.svc.key(), model::ServiceKey::inet(model::Protocol::tcp,
                                                   *model::IpAddress::parse("192.0.2.1"), 80));

    EXPECT_EQ(ok({"-A", "--tcp-service=web:http"}).svc.port, 80);
    EXPECT_EQ(v4(ok({"-A", "--tcp-service=web:http"})), "192.0.2.80");
    EXPECT_EQ(ok({"-A", "-u", "192.0.2.1:domain"}).svc.protocol, IPPROTO_UDP);
    EXPECT_EQ(ok({"-A", "--udp-service", "192.0.2.1:53"}).svc.port, 53);
    auto sctp = ok({"-A", "--sctp-service", "192.0.2.1:3868"});
    EXPECT_EQ(sctp.svc.protocol, IPPROTO_SCTP);
    auto v6 = ok({"-A", "-t", "[2001:db8::1]:443"});
    EXPECT_EQ(v6.svc.af, AF_INET6);
    EXPECT_EQ(v6.svc.netmask, 128u);
    EXPECT_EQ(v6.svc.port, 443);
    EXPECT_EQ(ok({"-Z", "-t", "2001:db8::1"}).svc.port, 0);  // a bare v6 address, no port
    auto mark = ok({"-A", "-f", "4294967295"});
    EXPECT_EQ(mark.svc.fwmark, 4294967295u);
    EXPECT_EQ(mark.svc.af, AF_INET);
    auto mark6 = ok({"-A", "--fwmark-service", "7", "--ipv6"});
    EXPECT_EQ(mark6.svc.af, AF_INET6);
    EXPECT_EQ(mark6.svc.netmask, 128u);
    EXPECT_EQ(mark6.svc.key(), model::ServiceKey::mark(7, AF_INET6));
    // ipvsadm's quirk: an IPv4 address in brackets loses its port.
    EXPECT_EQ(ok({"-Z", "-t", "[10.0.0.1]:80"}).svc.port, 0);
    // Bundled: -At and the value attached.
    EXPECT_EQ(ok({"-At192.0.2.1:80"}).svc.port, 80);
}

TEST(IpvsadmParse, ServiceAttributes) {
    auto s = ok({"-A", "-t", "192.0.2.1:80", "-s", "sh", "-b", "sh-fallback,sh-port", "-p", "100",
                 "-M", "255.255.255.0", "--pe", "sip"});
    EXPECT_EQ(s.svc.scheduler, "sh");
    EXPECT_EQ(s.svc.flags, kSvcPersistent | kSvcSched1 | kSvcSched2);
    EXPECT_EQ(s.svc.timeout, 100u);
    EXPECT_EQ(s.svc.netmask, inet_addr("255.255.255.0"));
    EXPECT_EQ(s.svc.pe_name, "sip");
    // -p without a value: ipvsadm's IPVS_SVC_PERSISTENT_TIMEOUT, 360 s.
    EXPECT_EQ(ok({"-A", "-t", "192.0.2.1:80", "-p"}).svc.timeout, 360u);
    EXPECT_EQ(ok({"-A", "-t", "192.0.2.1:80", "-p", "-s", "rr"}).svc.timeout, 360u);
    EXPECT_EQ(ok({"-A", "-t", "192.0.2.1:80", "--persistent=42"}).svc.timeout, 42u);
    EXPECT_EQ(ok({"-A", "-t", "192.0.2.1", "-p"}).svc.port, 0);  // port 0 needs persistence
    auto mh =
        ok({"-A", "-u", "192.0.2.1:53", "--scheduler", "mh", "--sched-flags", "mh-port", "--ops"});
    EXPECT_EQ(mh.svc.flags, kSvcOnePacket | kSvcSched2);
    EXPECT_EQ(ok({"-A", "-t", "192.0.2.1:80", "-b", "flag-1,flag-3"}).svc.flags,
              kSvcSched1 | kSvcSched3);
    auto prefix = ok({"-A", "-t", "[2001:db8::1]:80", "-p", "-M", "64"});
    EXPECT_EQ(prefix.svc.netmask, 64u);
    // -M before an IPv6 address is read as IPv4, then reset to /128 by the address.
    EXPECT_EQ(ok({"-A", "-M", "64", "-t", "[2001:db8::1]:80"}).svc.netmask, 128u);
    EXPECT_EQ(ok({"-A", "-t", "1.2.3.4:80", "-s", "averyveryverylongname"}).svc.scheduler,
              "averyveryverylo");  // 15 characters, as ipvsadm copies them
    auto spec_key = ok({"-E", "-t", "192.0.2.1:80", "-p", "10", "-M", "255.255.0.0"});
    EXPECT_EQ(spec_key.svc.flags & kSvcPersistent, kSvcPersistent);
}

TEST(IpvsadmParse, RealServers) {
    auto m = ok({"-a", "-t", "192.0.2.1:80", "-r", "10.0.0.1:8080", "-m", "-w", "5", "-x", "100",
                 "-y", "10"});
    EXPECT_EQ(m.dest.af, AF_INET);
    EXPECT_EQ(m.dest.port, 8080);
    EXPECT_EQ(m.dest.conn_flags, kFwdMasq);
    EXPECT_EQ(m.dest.weight, 5u);
    EXPECT_EQ(m.dest.u_threshold, 100u);
    EXPECT_EQ(m.dest.l_threshold, 10u);
    EXPECT_EQ(m.dest.spec(), (model::RealSpec{model::ForwardMethod::masquerade, 5, 100, 10}));
    // The defaults: direct routing, weight 1, and the service's port.
    auto g = ok({"-a", "-t", "192.0.2.1:80", "-r", "10.0.0.1"});
    EXPECT_EQ(g.dest.conn_flags, kFwdRoute);
    EXPECT_EQ(g.dest.weight, 1u);
    EXPECT_EQ(g.dest.port, 80);
    // Routing and tunnels cannot change the port.
    EXPECT_EQ(ok({"-a", "-t", "192.0.2.1:80", "-r", "10.0.0.1:8080", "-g"}).dest.port, 80);
    EXPECT_EQ(ok({"-e", "-t", "192.0.2.1:80", "-r", "10.0.0.1:8080", "--ipip"}).dest.port, 80);
    EXPECT_EQ(ok({"-a", "-t", "192.0.2.1:80", "-r", "10.0.0.1:8080", "--masquerading"}).dest.port,
              8080);
    EXPECT_EQ(ok({"-a", "-t", "192.0.2.1:80", "--real-server", "10.0.0.1", "--gatewaying"})
                  .dest.conn_flags,
              kFwdRoute);
    // A delete keeps the port it was given.
    EXPECT_EQ(ok({"-d", "-t", "192.0.2.1:80", "-r", "10.0.0.1:8080"}).dest.port, 8080);
    // -r before -t takes the service's port as it was then (none).
    EXPECT_EQ(ok({"-a", "-r", "10.0.0.1", "-m", "-t", "192.0.2.1:80"}).dest.port, 0);
    // Tunnels may mix families; the weight goes up to INT_MAX in Debian's ipvsadm.
    auto mixed = ok({"-a", "-t", "192.0.2.1:80", "-r", "[2001:db8::2]:80", "-i", "--weight",
                     "2147483647", "--u-threshold", "7", "--l-threshold", "3"});
    EXPECT_EQ(mixed.dest.af, AF_INET6);
    EXPECT_EQ(mixed.dest.weight, 2147483647u);
    EXPECT_EQ(ok({"-a", "-f", "3", "-r", "10.0.0.1", "-m"}).dest.port, 0);
    EXPECT_EQ(ok({"-a", "-t", "192.0.2.1:80", "-r", "10.0.0.1", "-i", "--tun-type", "ipip"})
                  .dest.tun_type,
              0);
    auto gue = ok({"-a", "-t", "192.0.2.1:80", "-r", "10.0.0.1", "-i", "--tun-type", "gue",
                   "--tun-port", "6080", "--tun-csum"});
    EXPECT_EQ(gue.dest.tun_type, 1);
    EXPECT_EQ(gue.dest.tun_port, 6080);
    EXPECT_EQ(gue.dest.tun_flags, 1);
    EXPECT_EQ(ok({"-a", "-t", "192.0.2.1:80", "-r", "10.0.0.1", "-i", "--tun-type", "gre",
                  "--tun-nocsum"})
                  .dest.tun_type,
              2);
    EXPECT_EQ(ok({"-a", "-t", "192.0.2.1:80", "-r", "10.0.0.1", "-i", "--tun-type", "gue",
                  "--tun-port", "1", "--tun-remcsum"})
                  .dest.tun_flags,
              2);
}

TEST(IpvsadmParse, ListingOptions) {
    auto l = ok({"-L", "-n", "--stats", "--exact", "--nosort", "--sort"});
    EXPECT_TRUE(l.format.numeric && l.format.stats && l.format.exact && l.format.nosort);
    EXPECT_TRUE(ok({"-Ln", "--rate"}).format.rate);
    EXPECT_TRUE(ok({"-L", "--thresholds"}).format.thresholds);
    EXPECT_TRUE(ok({"-L", "--persistent-conn"}).format.persistent_conn);
    EXPECT_TRUE(ok({"-L", "--tun-info"}).format.tun_info);
    EXPECT_TRUE(ok({"-L", "-c"}).options.has(Opt::connection));
    EXPECT_TRUE(ok({"-L", "--connection", "--persistent-conn"}).options.has(Opt::connection));
    EXPECT_TRUE(ok({"-L", "--timeout"}).options.has(Opt::timeout));
    EXPECT_TRUE(ok({"-L", "--daemon"}).options.has(Opt::daemon));
    EXPECT_TRUE(ok({"-L", "-t", "1.2.3.4:80", "-n"}).options.has(Opt::service));
    EXPECT_TRUE(ok({"-L", "--numeric"}).format.numeric);
    EXPECT_TRUE(ok({"-S", "-n"}).format.rule);
    EXPECT_TRUE(ok({"-Z", "-t", "0.0.0.0:0"}).svc.is_empty());
}

TEST(IpvsadmParse, DaemonOptions) {
    auto d = ok({"--start-daemon", "master", "--mcast-interface", "eth1", "--syncid", "9",
                 "--sync-maxlen", "1400", "--mcast-group", "239.1.2.3", "--mcast-port", "9000",
                 "--mcast-ttl", "3"});
    EXPECT_EQ(d.daemon.mcast_ifn, "eth1");
    EXPECT_EQ(d.daemon.sync_id, 9u);
    EXPECT_EQ(d.daemon.sync_maxlen, std::optional<uint16_t>(1400));
    EXPECT_EQ(d.daemon.mcast_group, model::IpAddress::parse("239.1.2.3"));
    EXPECT_EQ(d.daemon.mcast_port, std::optional<uint16_t>(9000));
    EXPECT_EQ(d.daemon.mcast_ttl, std::optional<uint8_t>(3));
    EXPECT_EQ(ok({"--start-daemon", "master", "--mcast-group", "ff02::1"}).daemon.mcast_group,
              model::IpAddress::parse("ff02::1"));
    EXPECT_EQ(ok({"--stop-daemon", "backup", "--syncid", "4"}).daemon.sync_id, 4u);
}

TEST(IpvsadmParse, RefusalsHaveIpvsadmsWordsAndStatus) {
    const std::string try_help = "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n";
    using R = std::pair<int, std::string>;
    // The first option must be a command.
    EXPECT_EQ(refused({"-t", "1.2.3.4:80", "-A"}), (R{255, try_help}));
    EXPECT_EQ(refused({"-Q"}), (R{255, try_help}));
    EXPECT_EQ(refused({"foo"}), (R{255, try_help}));
    EXPECT_EQ(refused({"--start-daemon"}), (R{255, try_help}));
    // popt's own errors after the command end the line, not a restore.
    EXPECT_EQ(refused({"-L", "--bogus"}), (R{255, "--bogus: unknown option\n"}));
    EXPECT_EQ(refused({"-A", "-t"}), (R{255, "-t: missing argument\n"}));
    auto p = parse({"-L", "--bogus"});
    EXPECT_FALSE(std::get<Stop>(p).ends_restore);
    EXPECT_EQ(refused({"-L", "-A"}), (R{2, "invalid option `-A'\n"}));
    EXPECT_EQ(refused({"-L", "-h"}), (R{2, "invalid option `-h'\n"}));
    EXPECT_EQ(refused({"--start-daemon", "x"}),
              (R{2, "illegal start-daemon parameter specified\n"}));
    EXPECT_EQ(refused({"--stop-daemon", "x"}), (R{2, "illegal start_daemon specified\n"}));

    // Option checks, in ipvsadm's order.
    EXPECT_EQ(refused({"-A"}),
              (R{2,
                 "You need to supply the 'service-address' option for the 'add-service' "
                 "command\n"}));
    EXPECT_EQ(refused({"-a", "-t", "1.2.3.4:80"}),
              (R{2, "You need to supply the 'real-server' option for the 'add-server' command\n"}));
    EXPECT_EQ(refused({"-C", "-n"}), (R{2, "Illegal 'numeric' option with the 'flush' command\n"}));
    EXPECT_EQ(refused({"-L", "-c", "-t", "1.2.3.4:80"}),
              (R{2,
                 "The option 'service-address' conflicts with the 'connection' option in the "
                 "'list' command\n"}));
    EXPECT_EQ(refused({"-L", "-n", "-n"}), (R{2, "multiple 'numeric' options specified\n"}));
    EXPECT_EQ(refused({"-a", "-t", "1.2.3.4:80", "-r", "10.0.0.1", "-m", "-g"}),
              (R{2, "multiple 'forwarding-method' options specified\n"}));
    EXPECT_EQ(refused({"-L", "-c", "--stats"}), (R{2, "options conflicts in the list command\n"}));
    EXPECT_EQ(refused({"-L", "--daemon", "--persistent-conn"}),
              (R{2, "options conflicts in the list command\n"}));
    EXPECT_EQ(refused({"--set", "1", "2"}), (R{2, "--set option requires 3 timeout values\n"}));
    EXPECT_EQ(refused({"--set", "1", "2", "x"}), (R{2, "invalid timeout value `x' specified\n"}));
    EXPECT_EQ(refused({"-L", "foo"}), (R{2, "unexpected argument foo\n"}));
    EXPECT_EQ(refused({"-R"}, true), (R{255, try_help}));  // no -R inside -R

    // Values.
    EXPECT_EQ(refused({"-A", "-t", "80"}),
              (R{2, "illegal virtual server address[:port] specified\n"}));
    EXPECT_EQ(refused({"-A", "-t", "1.2.3.4:99999"}),
              (R{2, "illegal virtual server address[:port] specified\n"}));
    EXPECT_EQ(refused({"-A", "-u", "1.2.3.4:http"}),  // http is tcp only in the table
              (R{2, "illegal virtual server address[:port] specified\n"}));
    EXPECT_EQ(refused({"-A", "-t", "[2001:db8::1]"}),
              (R{2, "illegal virtual server address[:port] specified\n"}));
    EXPECT_EQ(refused({"-a", "-t", "1.2.3.4:80", "-r", "nohost"}),
              (R{2, "illegal real server address[:port] specified\n"}));
    EXPECT_EQ(refused({"-A", "-f", "0"}), (R{2, "invalid fwmark value `0' specified\n"}));
    EXPECT_EQ(refused({"-A", "-f", "-5"}), (R{2, "invalid fwmark value `-5' specified\n"}));
    EXPECT_EQ(refused({"-A", "-f", "4294967296"}),
              (R{2, "invalid fwmark value `4294967296' specified\n"}));
    EXPECT_EQ(refused({"-A", "-t", "1.2.3.4:80", "-p", "0"}),
              (R{2, "invalid timeout value `0' specified\n"}));
    EXPECT_EQ(refused({"-A", "-t", "1.2.3.4:80", "-p", "2678401"}),
              (R{2, "invalid timeout value `2678401' specified\n"}));
    EXPECT_EQ(refused({"-A", "-t", "1.2.3.4:80", "-M", "x"}),
              (R{2, "illegal virtual server persistent mask specified\n"}));
    EXPECT_EQ(refused({"-A", "-t", "[::1]:80", "-M", "129"}),
              (R{2, "illegal ipv6 netmask specified\n"}));
    EXPECT_EQ(refused({"-A", "-6"}), (R{2, "-6 used before -f\n\n"}));
    EXPECT_EQ(refused({"-A", "-t", "1.2.3.4"}),
              (R{2, "Zero port specified for non-persistent service\n"}));
    EXPECT_EQ(refused({"-A", "-t", "1.2.3.4:80", "-o"}),
              (R{2, "One-Packet Scheduling is only for UDP virtual services\n"}));
    EXPECT_EQ(refused({"-A", "-t", "1.2.3.4:80", "-b", "sh-port"}),
              (R{2, "incompatible scheduler flag `sh-port'\n"}));
    EXPECT_EQ(refused({"-A", "-t", "1.2.3.4:80", "-b", "x"}),
              (R{2, "invalid scheduler flag `x'\n"}));
    EXPECT_EQ(refused({"-a", "-t", "1.2.3.4:80", "-r", "10.0.0.1", "-w", "-1"}),
              (R{2, "illegal weight specified\n"}));
    EXPECT_EQ(refused({"-a", "-t", "1.2.3.4:80", "-r", "10.0.0.1", "-x", "y"}),
              (R{2, "illegal u_threshold specified\n"}));
    EXPECT_EQ(refused({"-a", "-t", "1.2.3.4:80", "-r", "10.0.0.1", "-y", "-3"}),
              (R{2, "illegal l_threshold specified\n"}));
    EXPECT_EQ(refused({"-a", "-t", "1.2.3.4:80", "-r", "[::2]:80", "-m"}),
              (R{2, "Different address family is allowed only for tunneling servers\n"}));
    EXPECT_EQ(refused({"-a", "-t", "1.2.3.4:80", "-r", "10.0.0.1", "--tun-type", "gre"}),
              (R{2, "Tunnel options conflict with forward method\n"}));
    EXPECT_EQ(refused({"-a", "-t", "1.2.3.4:80", "-r", "10.0.0.1", "-i", "--tun-type", "x"}),
              (R{2, "illegal tunnel type specified\n"}));
    EXPECT_EQ(refused({"-a", "-t", "1.2.3.4:80", "-r", "10.0.0.1", "-i", "--tun-type", "gue"}),
              (R{2, "You need to supply the 'tun-port' option for the 'gue' tunnel type\n"}));
    EXPECT_EQ(refused({"-a", "-t", "1.2.3.4:80", "-r", "10.0.0.1", "-i", "--tun-port", "5"}),
              (R{2, "Illegal 'tun-port' option with the 'ipip' tunnel type\n"}));
    EXPECT_EQ(refused({"-a", "-t", "1.2.3.4:80", "-r", "10.0.0.1", "-i", "--tun-type", "gre",
                       "--tun-csum", "--tun-nocsum"}),
              (R{2,
                 "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gre' "
                 "tunnel type\n"}));
    EXPECT_EQ(refused({"-a", "-t", "1.2.3.4:80", "-r", "10.0.0.1", "-i", "--tun-port", "0"}),
              (R{2, "illegal tunnel port specified\n"}));
    EXPECT_EQ(refused({"--start-daemon", "master", "--syncid", "256"}),
              (R{2, "illegal syncid specified\n"}));
    EXPECT_EQ(refused({"--start-daemon", "master", "--mcast-group", "10.0.0.1"}),
              (R{2, "invalid IPv4 mcast-group `10.0.0.1'\n"}));
    EXPECT_EQ(refused({"--start-daemon", "master", "--mcast-group", "2001:db8::1"}),
              (R{2, "invalid IPv6 mcast-group `2001:db8::1'\n"}));
    EXPECT_EQ(refused({"--start-daemon", "master", "--mcast-port", "0"}),
              (R{2, "illegal mcast-port specified\n"}));
    EXPECT_EQ(refused({"--start-daemon", "master", "--mcast-ttl", "256"}),
              (R{2, "illegal mcast-ttl specified\n"}));
    EXPECT_EQ(refused({"--start-daemon", "master", "--sync-maxlen", "65508"}),
              (R{2, "illegal sync-maxlen specified\n"}));
}

TEST(IpvsadmParse, HelpAndVersionStopWithStatusZero) {
    auto h = std::get<Stop>(parse({"-h"}));
    EXPECT_EQ(h.exit_code, 0);
    EXPECT_NE(h.out.find("ipvsadm -A|-E virtual-service"), std::string::npos) << h.out;
    EXPECT_TRUE(h.err.empty());
    auto v = std::get<Stop>(parse({"--version"}));
    EXPECT_EQ(v.exit_code, 0);
    EXPECT_EQ(v.out, version_line());
}

TEST(IpvsadmParse, BallastctlsOwnOptionsAreTakenOutAnywhere) {
    std::vector<std::string> argv = {"ballastctl",  "-L",         "-o",
                                     "json",        "-n",         "--force",
                                     "--state-dir", "/tmp/s",     "--socket=/tmp/x.sock",
                                     "--config",    "/etc/b.toml"};
    auto x = take_extras(argv);
    ASSERT_TRUE(std::holds_alternative<Extras>(x));
    const Extras& e = std::get<Extras>(x);
    EXPECT_TRUE(e.json);
    EXPECT_TRUE(e.force);
    EXPECT_EQ(e.state_dir, "/tmp/s");
    EXPECT_EQ(e.socket, "/tmp/x.sock");
    EXPECT_EQ(e.config, "/etc/b.toml");
    EXPECT_EQ(argv, (std::vector<std::string>{"ballastctl", "-L", "-n"}));

    for (auto form : {std::vector<std::string>{"-j"},
                      {"--json"},
                      {"-ojson"},
                      {"--output=json"},
                      {"--output", "json"}}) {
        std::vector<std::string> a = {"ballastctl", "-Ln"};
        a.insert(a.end(), form.begin(), form.end());
        auto r = take_extras(a);
        EXPECT_TRUE(std::get<Extras>(r).json) << form[0];
        EXPECT_EQ(a.size(), 2u) << form[0];
    }
    // ipvsadm's -o (one-packet scheduling) and option values stay ipvsadm's.
    std::vector<std::string> ops = {"ballastctl", "-A", "-u", "1.2.3.4:53", "-o"};
    EXPECT_FALSE(std::get<Extras>(take_extras(ops)).json);
    EXPECT_EQ(ops.size(), 5u);
    std::vector<std::string> value = {"ballastctl", "-A", "-s", "--force"};
    EXPECT_FALSE(std::get<Extras>(take_extras(value)).force);
    EXPECT_EQ(value.size(), 4u);
    std::vector<std::string> after = {"ballastctl", "-L", "--", "--json"};
    EXPECT_FALSE(std::get<Extras>(take_extras(after)).json);
    std::vector<std::string> bad = {"ballastctl", "-L", "--output", "yaml"};
    auto stop = std::get<Stop>(take_extras(bad));
    EXPECT_EQ(stop.exit_code, 2);
    EXPECT_EQ(stop.err, "ballastctl: --output must be json or text, not 'yaml'\n");
    std::vector<std::string> missing = {"ballastctl", "-L", "--state-dir"};
    EXPECT_EQ(std::get<Stop>(take_extras(missing)).err, "ballastctl: --state-dir needs a value\n");
}

}  // namespace
}  // namespace ballast::ipvsadm

namespace ballast::ipvsadm {
namespace {

// The fast path for plain lines must read every line exactly as popt does: the same command,
// or the same refusal, message and status. Random lines from every option (short and long) and
// values of every kind, plus the shapes only popt handles.
TEST(IpvsadmParse, PlainLinesReadWithoutPoptAsPoptReadsThem) {
    const std::vector<std::string> options = {"-A",
                                              "-E",
                                              "-D",
                                              "-C",
                                              "-L",
                                              "-l",
                                              "-Z",
                                              "-a",
                                              "-e",
                                              "-d",
                                              "-R",
                                              "-S",
                                              "-h",
                                              "-v",
                                              "--add-service",
                                              "--list",
                                              "--set",
                                              "--save",
                                              "--start-daemon",
                                              "--stop-daemon",
                                              "-t",
                                              "-u",
                                              "-f",
                                              "-s",
                                              "-p",
                                              "-M",
                                              "-r",
                                              "-m",
                                              "-i",
                                              "-g",
                                              "-w",
                                              "-x",
                                              "-y",
                                              "-n",
                                              "-c",
                                              "-X",
                                              "-6",
                                              "-o",
                                              "-b",
                                              "--tcp-service",
                                              "--udp-service",
                                              "--sctp-service",
                                              "--fwmark-service",
                                              "--scheduler",
                                              "--persistent",
                                              "--netmask",
                                              "--real-server",
                                              "--masquerading",
                                              "--ipip",
                                              "--gatewaying",
                                              "--weight",
                                              "--u-threshold",
                                              "--l-threshold",
                                              "--numeric",
                                              "--connection",
                                              "--mcast-interface",
                                              "--syncid",
                                              "--timeout",
                                              "--daemon",
                                              "--stats",
                                              "--rate",
                                              "--thresholds",
                                              "--persistent-conn",
                                              "--nosort",
                                              "--sort",
                                              "--exact",
                                              "--ipv6",
                                              "--ops",
                                              "--pe",
                                              "--sched-flags",
                                              "--mcast-group",
                                              "--mcast-port",
                                              "--mcast-ttl",
                                              "--sync-maxlen",
                                              "--tun-info",
                                              "--tun-type",
                                              "--tun-port",
                                              "--tun-nocsum",
                                              "--tun-csum",
                                              "--tun-remcsum"};
    const std::vector<std::string> values = {"10.0.0.1:80",
                                             "[2001:db8::1]:53",
                                             "10.0.0.2",
                                             "7",
                                             "0",
                                             "-5",
                                             "300",
                                             "255.255.255.0",
                                             "64",
                                             "rr",
                                             "sh",
                                             "sh-port",
                                             "flag-1,flag-3",
                                             "master",
                                             "backup",
                                             "ipip",
                                             "gue",
                                             "",
                                             "web:http",
                                             "x",
                                             "-",
                                             "--",
                                             "-Ln",
                                             "--weight=3",
                                             "-t10.0.0.1:80",
                                             "239.1.2.3",
                                             "eth0"};
    std::mt19937 rng(14);
    auto pick = [&](const std::vector<std::string>& v) {
        return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
    };
    TableNames names;
    size_t plain_lines = 0;
    for (int i = 0; i < 20000; ++i) {
        std::vector<std::string> argv = {"ipvsadm"};
        const int words = std::uniform_int_distribution<int>(1, 8)(rng);
        for (int w = 0; w < words; ++w)
            argv.push_back(std::uniform_int_distribution<int>(0, 2)(rng) ? pick(options)
                                                                         : pick(values));
        Parsed fast = parse_command(argv, false, names);
        Parsed popt = parse_command(argv, false, names, Tokenizer::popt);
        std::string line;
        for (const auto& a : argv) line += " '" + a + "'";
        ASSERT_EQ(fast.index(), popt.index()) << line;
        if (auto* s = std::get_if<Stop>(&popt)) {
            EXPECT_EQ(std::get<Stop>(fast), *s) << line;
        } else {
            EXPECT_TRUE(std::get<Command>(fast) == std::get<Command>(popt)) << line;
            ++plain_lines;
        }
    }
    EXPECT_GT(plain_lines, 100u);  // the comparison saw commands, not only refusals
}

}  // namespace
}  // namespace ballast::ipvsadm
