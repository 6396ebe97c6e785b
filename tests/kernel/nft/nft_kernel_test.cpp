// ballast's nft table next to real IPVS (kernel lab):
//  - a firewall-mark group (ISAKMP UDP 500 + ESP) on one VIP, one persistent fwmark IPVS
//    service: each client's UDP 500 and ESP reach the same real server; with rr the second
//    client lands on the other one;
//  - with net.ipv4.vs.conntrack left at 0 (ballast's default), IPVS-NAT traffic works next
//    to the masquerade rules (replies come from the VIP, the real server sees the client)
//    and a connection the real server opens itself leaves with the director's address.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "ballast/nft/netlink_nft_client.hpp"
#include "ballast/sysctl/applier.hpp"
#include "ballast/sysctl/proc_sysctl.hpp"
#include "ballast/testing/lab.hpp"
#include "ballast/testing/socket.hpp"

using namespace ballast;
using namespace ballast::testing;

namespace {

constexpr const char* kVip = "10.40.0.100";

std::string peer_of(const sockaddr_in& sa) {
    char buf[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &sa.sin_addr, buf, sizeof buf);
    return buf;
}

void send_packet(int type, int proto, const std::string& dst, uint16_t port,
                 uint16_t source_port = 0) {
    Fd s(::socket(AF_INET, type | SOCK_CLOEXEC, proto));
    if (s.fd < 0) throw CommandFailed(std::string("socket: ") + std::strerror(errno));
    if (source_port != 0) {
        auto src = v4("0.0.0.0", source_port);
        if (::bind(s.fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0)
            throw CommandFailed(std::string("bind: ") + std::strerror(errno));
    }
    auto sa = v4(dst, port);
    const char payload[16] = "ballast-group";
    if (::sendto(s.fd, payload, sizeof payload, 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa) !=
        static_cast<ssize_t>(sizeof payload))
        throw CommandFailed(std::string("sendto: ") + std::strerror(errno));
}

// Connects (optionally from a bound source) and returns the address the connection
// reached according to getpeername(), i.e. where the replies came from.
std::string connect_tcp(const std::string& src, const std::string& dst, uint16_t port) {
    Fd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!src.empty()) {
        auto s = v4(src, 0);
        if (::bind(c.fd, reinterpret_cast<sockaddr*>(&s), sizeof s) != 0)
            throw CommandFailed("bind " + src);
    }
    timeval tv{10, 0};
    ::setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    auto d = v4(dst, port);
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&d), sizeof d) != 0)
        throw CommandFailed("connect " + dst + ": " + std::strerror(errno));
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    ::getpeername(c.fd, reinterpret_cast<sockaddr*>(&peer), &len);
    return peer_of(peer);
}

std::string accept_peer(int listener) {
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    Fd c(::accept(listener, reinterpret_cast<sockaddr*>(&peer), &len));
    if (c.fd < 0) throw CommandFailed("accept failed");
    return peer_of(peer);
}

std::vector<uint64_t> counters(IsolatedNetns& ns) {
    std::vector<uint64_t> out;
    const std::string text = ns.check({"nft", "list", "table", "inet", "cnt"});
    std::regex re(R"(counter packets ([0-9]+))");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
         ++it)
        out.push_back(std::stoull((*it)[1]));
    return out;
}

// client1 --- director --- client2, director --- rs1, director --- rs2 (each its own /24).
struct Lab {
    IsolatedNetns director, client1, client2, rs1, rs2;
    std::unique_ptr<nft::NetlinkNftClient> nft_client;

    Lab() {
        require_ipvs_kernel();
        auto link = [&](IsolatedNetns& peer, const std::string& name, const std::string& net) {
            director.check({"ip", "-batch", "-"},
                           "link add d" + name + " type veth peer name p" + name + " netns " +
                               std::to_string(peer.tid()) + "\naddr add " + net + ".1/24 dev d" +
                               name + "\nlink set d" + name + " up\n");
            peer.check({"ip", "-batch", "-"}, "addr add " + net + ".2/24 dev p" + name +
                                                  "\nlink set p" + name +
                                                  " up\nroute add default via " + net + ".1\n");
        };
        link(client1, "c1", "10.40.1");
        link(client2, "c2", "10.40.2");
        link(rs1, "r1", "10.41.1");
        link(rs2, "r2", "10.41.2");
        director.check({"ip", "addr", "add", std::string(kVip) + "/32", "dev", "lo"});
        director.run([] {
            sysctl::ProcSysctl access;
            sysctl::SysctlInputs in;
            in.interfaces = {"dc1", "dc2", "dr1", "dr2"};
            in.ipvs_present = sysctl::ipvs_present(access);
            if (!in.ipvs_present) throw CommandFailed("no net.ipv4.vs in the director namespace");
            auto r = sysctl::SysctlApplier(access).apply(sysctl::plan_sysctls(in));
            if (!r.errors.empty()) throw CommandFailed(r.errors[0].describe());
        });
        nft_client = director.run([] {
            auto c = nft::NetlinkNftClient::open();
            if (!c) throw CommandFailed(c.error().describe());
            return std::move(*c);
        });
    }
};

}  // namespace

TEST(NftKernel, GroupMembersOfOneClientReachOneRealServer) {
    Lab lab;
    kernel::NatDesired d;
    d.real_servers = {*model::IpPrefix::parse("10.41.1.2"), *model::IpPrefix::parse("10.41.2.2")};
    d.mark_groups = {kernel::MarkGroup{
        "ipsec", *model::IpAddress::parse(kVip), 0x1000, {{17, 500, 0}, {50, 0, 0}}}};
    auto applied = lab.nft_client->apply(d);
    ASSERT_TRUE(applied.ok()) << applied.error().describe();
    // One persistent fwmark service for the group (what the reconciler will program).
    lab.director.check({"ipvsadm", "-R"},
                       "-A -f 4096 -s rr -p 300\n"
                       "-a -f 4096 -r 10.41.1.2:0 -m -w 1\n"
                       "-a -f 4096 -r 10.41.2.2:0 -m -w 1\n");
    // Per real server: UDP 500 and ESP packets of each client (IPVS-NAT keeps the client source).
    const std::string counting =
        "table inet cnt {\n chain c {\n  type filter hook prerouting priority 0; policy accept;\n"
        "  ip saddr 10.40.1.2 udp dport 500 counter\n"
        "  ip saddr 10.40.1.2 meta l4proto esp counter\n"
        "  ip saddr 10.40.2.2 udp dport 500 counter\n"
        "  ip saddr 10.40.2.2 meta l4proto esp counter\n }\n}\n";
    lab.rs1.check({"nft", "-f", "-"}, counting);
    lab.rs2.check({"nft", "-f", "-"}, counting);

    // IKE runs from port 500 to port 500: IPVS forwards ESP only along the UDP 500 -> 500
    // connection of the same client (ip_vs_proto_ah_esp.c); it never schedules ESP itself. So a
    // client's ESP is sent once its UDP 500 reached a real server, as IKE's negotiation comes
    // before any ESP: sent back to back, the two packets can be handled out of order on two CPUs
    // (each veth hop queues on the sending CPU's backlog), and an ESP packet that arrives before
    // the connection exists is not IPVS's.
    std::vector<uint64_t> a, b;
    // Polls the real servers' counters until `total` packets were counted (packets cross veths
    // asynchronously), at most 2 s.
    auto wait_for = [&](uint64_t total) {
        for (int i = 0; i < 20; ++i) {
            a = counters(lab.rs1);
            b = counters(lab.rs2);
            uint64_t seen = 0;
            for (auto v : a) seen += v;
            for (auto v : b) seen += v;
            if (seen >= total) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    };
    uint64_t sent = 0;
    for (auto* client : {&lab.client1, &lab.client2}) {
        client->run([] { send_packet(SOCK_DGRAM, 0, kVip, 500, 500); });
        wait_for(++sent);
        client->run([] { send_packet(SOCK_RAW, IPPROTO_ESP, kVip, 0); });
        wait_for(++sent);
    }
    ASSERT_EQ(a.size(), 4u);
    ASSERT_EQ(b.size(), 4u);
    // Each client's UDP 500 and ESP arrived together at exactly one real server...
    EXPECT_EQ(a[0] + b[0], 1u);
    EXPECT_EQ(a[0], a[1]) << "client1's ISAKMP and ESP were split";
    EXPECT_EQ(b[0], b[1]);
    EXPECT_EQ(a[2] + b[2], 1u);
    EXPECT_EQ(a[2], a[3]) << "client2's ISAKMP and ESP were split";
    EXPECT_EQ(b[2], b[3]);
    // ...and with rr the second client's template went to the other server.
    EXPECT_NE(a[0], a[2]);
    const std::string conns = lab.director.check({"ipvsadm", "-Lnc"});
    EXPECT_NE(conns.find("10.40.1.2"), std::string::npos) << conns;
}

TEST(NftKernel, IpvsNatAndMasqueradeWorkTogetherWithVsConntrackOff) {
    Lab lab;
    const std::string vs_conntrack = lab.director.check({"cat", "/proc/sys/net/ipv4/vs/conntrack"});
    ASSERT_EQ(vs_conntrack, "0\n");  // ballast leaves the kernel default unless configured
    // ...and set the IPVS expiry sysctls because IPVS exists here.
    auto vs_values = lab.director.run([] {
        sysctl::ProcSysctl access;
        return *access.read("net.ipv4.vs.expire_nodest_conn") +
               *access.read("net.ipv4.vs.expire_quiescent_template");
    });
    EXPECT_EQ(vs_values, "11");
    kernel::NatDesired d;
    d.real_servers = {*model::IpPrefix::parse("10.41.1.2")};
    ASSERT_TRUE(lab.nft_client->apply(d).ok());
    lab.director.check({"ipvsadm", "-R"},
                       "-A -t 10.40.0.100:80 -s rr\n-a -t 10.40.0.100:80 -r 10.41.1.2:8080 -m\n");

    // Client -> VIP through IPVS-NAT: the real server sees the client, the client sees the VIP.
    Fd rs_listener(lab.rs1.run([] { return listen_tcp("10.41.1.2", 8080); }));
    std::string seen_by_rs;
    std::thread acceptor([&] { seen_by_rs = accept_peer(rs_listener.fd); });
    std::string reached;
    try {
        reached = lab.client1.run([] { return connect_tcp("", kVip, 80); });
    } catch (...) {
        ::shutdown(rs_listener.fd, SHUT_RDWR);
        acceptor.join();
        throw;
    }
    acceptor.join();
    EXPECT_EQ(reached, kVip);
    EXPECT_EQ(seen_by_rs, "10.40.1.2");

    // The real server's own connection to the client leaves masqueraded.
    Fd client_listener(lab.client1.run([] { return listen_tcp("10.40.1.2", 9000); }));
    std::string seen_by_client;
    std::thread acceptor2([&] { seen_by_client = accept_peer(client_listener.fd); });
    try {
        lab.rs1.run([] { return connect_tcp("10.41.1.2", "10.40.1.2", 9000); });
    } catch (...) {
        ::shutdown(client_listener.fd, SHUT_RDWR);
        acceptor2.join();
        throw;
    }
    acceptor2.join();
    EXPECT_EQ(seen_by_client, "10.40.1.1");
}
