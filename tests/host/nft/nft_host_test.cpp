// NetlinkNftClient against the real kernel, in network namespaces: nft-listing fidelity,
// masquerade with real TCP traffic (client / director / real server), idempotency, drift
// repair, foreign tables, and firewall-mark groups.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ballast/nft/netlink_nft_client.hpp"
#include "ballast/testing/netns.hpp"
#include "ballast/testing/socket.hpp"

using namespace ballast;
using namespace ballast::testing;
using ballast::kernel::MarkGroup;
using ballast::kernel::NatDesired;
using ballast::model::GroupMatch;
using ballast::model::IpAddress;
using ballast::model::IpPrefix;

namespace {

IpPrefix pfx(const char* s) {
    return *IpPrefix::parse(s);
}
IpAddress ip(const char* s) {
    return *IpAddress::parse(s);
}

std::unique_ptr<nft::NetlinkNftClient> open_in(const NetNs& ns) {
    return ns.run_inside([] {
        auto c = nft::NetlinkNftClient::open();
        if (!c) throw std::runtime_error(c.error().describe());
        return std::move(*c);
    });
}

// The state reference.nft spells out by hand (merged, deduplicated form in the file).
NatDesired reference_state() {
    NatDesired d;
    d.real_servers = {pfx("10.0.1.0/24"),   pfx("10.0.0.0/24"), pfx("10.0.0.9"),
                      pfx("10.1.0.5"),      pfx("10.9.0.0/31"), pfx("10.9.0.2"),
                      pfx("2001:db8::/64"), pfx("2001:db8::5"), pfx("2001:db8:1::7")};
    d.egress_interfaces = {"uplink1", "eth0", "eth0"};
    d.mark_groups = {
        MarkGroup{"ipsec", ip("192.0.2.1"), 0x1000, {{17, 500, 500}, {17, 4500, 0}, {50, 0, 0}}},
        MarkGroup{"web6", ip("2001:db8::1"), 0x1001, {{6, 8000, 8010}, {132, 0, 0}}},
    };
    return d;
}

// JSON listing without object handles (a reloaded table gets new ones).
std::string json_without_handles(const NetNs& ns) {
    return std::regex_replace(ns.exec("nft --json list table inet ballast"),
                              std::regex(R"("handle": [0-9]+(, )?)"), "");
}

std::string listing(const NetNs& ns) {
    return ns.exec("nft list table inet ballast");
}
// The expressions as the kernel returns them, decoded by nft itself. Set elements come
// in the kernel's hash order (random per set), so those lines are sorted.
std::string netlink_listing(const NetNs& ns) {
    std::istringstream in(ns.exec("nft --debug=netlink list table inet ballast"));
    std::string out, line;
    std::vector<std::string> elements;
    auto flush = [&] {
        std::sort(elements.begin(), elements.end());
        for (const auto& e : elements) out += e + "\n";
        elements.clear();
    };
    while (std::getline(in, line)) {
        if (line.rfind("\telement", 0) == 0) {
            elements.push_back(line);
            continue;
        }
        flush();
        out += line + "\n";
    }
    flush();
    return out;
}

void expect_same_tables(const nft::TableModel& a, const nft::TableModel& b) {
    EXPECT_EQ(a.flags, b.flags);
    ASSERT_EQ(a.sets.size(), b.sets.size());
    for (const auto& s : a.sets) {
        const auto* o = b.find_set(s.name);
        ASSERT_NE(o, nullptr) << s.name;
        EXPECT_TRUE(s.same_shape(*o)) << s.name;
        EXPECT_EQ(s.elements, o->elements) << s.name;
        EXPECT_EQ(s.zero_marker, o->zero_marker) << s.name;
    }
    ASSERT_EQ(a.chains.size(), b.chains.size());
    for (const auto& c : a.chains) {
        const auto* o = b.find_chain(c.name);
        ASSERT_NE(o, nullptr) << c.name;
        EXPECT_TRUE(c.same_shape(*o)) << c.name;
        ASSERT_EQ(c.rules.size(), o->rules.size()) << c.name;
        for (size_t i = 0; i < c.rules.size(); ++i)
            EXPECT_TRUE(c.rules[i].same_as(o->rules[i])) << c.name << " rule " << i;
    }
}

nft::TableModel dump_or_throw(nft::NetlinkNftClient& c) {
    auto t = c.dump_table();
    if (!t) throw std::runtime_error(t.error().describe());
    if (!*t) throw std::runtime_error("table inet ballast missing");
    return **t;
}

// Client / director / real-server namespaces. The client routes the real-server subnet
// back via the director, so without masquerade connections still work (with the RIP).
struct ThreeHosts {
    NetNs client{"ncl"}, director{"ndr"}, real{"nrs"};
    ThreeHosts() {
        connect(client, "10.210.1.1/24", director, "10.210.1.254/24");
        auto rs_link = connect(director, "10.210.2.254/24", real, "10.210.2.10/24");
        real.exec("ip addr add 10.210.2.11/24 dev " + rs_link.b_if);
        real.exec("ip route add default via 10.210.2.254");
        client.exec("ip route add 10.210.2.0/24 via 10.210.1.254");
        director.exec("sysctl -qw net.ipv4.ip_forward=1");
    }

    // Opens a TCP connection from the real server (bound to source) to the client's listener
    // and returns the peer address the listener sees.
    std::string peer_seen_by_client(const std::string& source) {
        static uint16_t port = 7100;
        const uint16_t p = port++;
        Fd l = client.run_inside([p] { return listen_tcp("10.210.1.1", p); });
        std::string seen;
        std::thread acceptor([&] {
            sockaddr_in peer{};
            socklen_t len = sizeof peer;
            Fd c(::accept(l.fd, reinterpret_cast<sockaddr*>(&peer), &len));
            char addr[INET_ADDRSTRLEN] = {};
            ::inet_ntop(AF_INET, &peer.sin_addr, addr, sizeof addr);
            seen = addr;
        });
        try {
            real.run_inside([&] {
                Fd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
                auto src = v4(source, 0);
                if (::bind(c.fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0)
                    throw std::runtime_error("bind source " + source);
                timeval tv{5, 0};
                ::setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
                auto dst = v4("10.210.1.1", p);
                if (::connect(c.fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0)
                    throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
            });
        } catch (...) {
            ::shutdown(l.fd, SHUT_RDWR);
            acceptor.join();
            throw;
        }
        acceptor.join();
        return seen;
    }
};

}  // namespace

TEST(NftHost, TableMatchesWhatNftWritesForTheSameRules) {
    NetNs ours("nfo"), ref("nfr");
    auto client = open_in(ours);
    auto applied = client->apply(reference_state());
    ASSERT_TRUE(applied.ok()) << applied.error().describe();
    EXPECT_TRUE(applied->batch_sent);

    ref.exec(std::string("nft -f ") + BALLAST_NFT_REFERENCE);
    auto ref_client = open_in(ref);

    // nft shows our rules as it shows its own: same text, same decoded expressions.
    const std::string text = listing(ours);
    EXPECT_EQ(text, listing(ref));
    EXPECT_EQ(text.find("unknown"), std::string::npos) << text;
    EXPECT_EQ(netlink_listing(ours), netlink_listing(ref));
    EXPECT_NE(text.find("ip saddr @rs4 oifname @egress masquerade"), std::string::npos) << text;
    EXPECT_NE(text.find("ip daddr 192.0.2.1 meta l4proto esp meta mark set 0x00001000"),
              std::string::npos)
        << text;
    EXPECT_EQ(ours.exec("nft --json list table inet ballast"),
              ref.exec("nft --json list table inet ballast"));

    // Kernel state, attribute for attribute (set flags, key types, userdata, elements).
    expect_same_tables(dump_or_throw(*client), dump_or_throw(*ref_client));

    // The table nft wrote is already what we want: nothing to send.
    auto again = ref_client->apply(reference_state());
    ASSERT_TRUE(again.ok()) << again.error().describe();
    EXPECT_FALSE(again->batch_sent);
}

TEST(NftHost, NftListingReloadsIntoAnIdenticalTable) {
    NetNs ns("nfl");
    auto client = open_in(ns);
    ASSERT_TRUE(client->apply(reference_state()).ok());
    const std::string before = listing(ns);
    const std::string json_before = json_without_handles(ns);
    const auto model_before = dump_or_throw(*client);

    ns.exec("nft list table inet ballast > /tmp/ballast-" + ns.name() + ".nft");
    ns.exec("nft delete table inet ballast");
    ns.exec("nft -f /tmp/ballast-" + ns.name() + ".nft; rc=$?; rm -f /tmp/ballast-" + ns.name() +
            ".nft; exit $rc");

    EXPECT_EQ(listing(ns), before);
    EXPECT_EQ(json_without_handles(ns), json_before);
    expect_same_tables(dump_or_throw(*client), model_before);
    auto again = client->apply(reference_state());
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again->batch_sent);
}

TEST(NftHost, ApplyingTheSameStateTwiceSendsNothing) {
    NetNs ns("nfi");
    auto client = open_in(ns);
    auto first = client->apply(reference_state());
    ASSERT_TRUE(first.ok()) << first.error().describe();
    EXPECT_TRUE(first->batch_sent);
    auto second = client->apply(reference_state());
    ASSERT_TRUE(second.ok());
    EXPECT_FALSE(second->batch_sent);
    EXPECT_TRUE(second->changes.empty());
}

TEST(NftHost, RealServersChangeAsSetElementsOnly) {
    NetNs ns("nfe");
    auto client = open_in(ns);
    NatDesired d;
    d.real_servers = {pfx("10.0.0.0/24"), pfx("10.5.0.1")};
    ASSERT_TRUE(client->apply(d).ok());
    const auto handles_before = ns.exec("nft -a list chain inet ballast postrouting");

    // Grow a prefix into an overlapping larger one, drop one, add another: one batch.
    d.real_servers = {pfx("10.0.0.0/23"), pfx("10.7.0.1"), pfx("2001:db8::9")};
    auto r = client->apply(d);
    ASSERT_TRUE(r.ok()) << r.error().describe();
    for (const auto& c : r->changes) EXPECT_EQ(c.find("rule"), std::string::npos) << c;
    EXPECT_EQ(ns.exec("nft -a list chain inet ballast postrouting"), handles_before);
    const auto text = listing(ns);
    EXPECT_NE(text.find("elements = { 10.0.0.0/23, 10.7.0.1 }"), std::string::npos) << text;
    EXPECT_NE(text.find("elements = { 2001:db8::9 }"), std::string::npos) << text;

    auto seen = client->dump();
    ASSERT_TRUE(seen.ok());
    ASSERT_EQ(seen->real_server_ranges.size(), 3u);
    EXPECT_EQ(seen->real_server_ranges[0].first, ip("10.0.0.0"));
    EXPECT_EQ(seen->real_server_ranges[0].last, ip("10.0.1.255"));
    EXPECT_EQ(seen->real_server_ranges[2].first, ip("2001:db8::9"));

    d.real_servers.clear();
    ASSERT_TRUE(client->apply(d).ok());
    seen = client->dump();
    ASSERT_TRUE(seen.ok());
    EXPECT_TRUE(seen->real_server_ranges.empty());
    d.real_servers = {pfx("10.3.0.0/16")};
    ASSERT_TRUE(client->apply(d).ok());
    EXPECT_NE(listing(ns).find("elements = { 10.3.0.0/16 }"), std::string::npos) << listing(ns);
}

TEST(NftHost, DriftIsRepairedAndForeignTablesAreUntouched) {
    NetNs ns("nfd");
    ns.exec(
        "nft add table ip operator && nft add chain ip operator input "
        "\"{ type filter hook input priority 0; policy accept; }\" && "
        "nft add rule ip operator input tcp dport 22 counter");
    const std::string foreign = ns.exec("nft list table ip operator");
    auto client = open_in(ns);
    ASSERT_TRUE(client->apply(reference_state()).ok());
    const std::string good = listing(ns);

    // An element and a rule deleted behind our back come back.
    ns.exec("nft delete element inet ballast rs4 \"{ 10.1.0.5 }\"");
    const std::string handle = ns.exec(
        "nft -a list chain inet ballast prerouting | grep \"dport 4500\" | sed \"s/.*handle //\"");
    ns.exec("nft delete rule inet ballast prerouting handle " + handle);
    auto seen = client->dump();
    ASSERT_TRUE(seen.ok());
    EXPECT_EQ(seen->prerouting_rules, 4u);
    auto r = client->apply(reference_state());
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_TRUE(r->batch_sent);
    EXPECT_EQ(r->changes.size(), 2u);
    EXPECT_EQ(listing(ns).size(), good.size());
    // The rule comes back at the end of its chain (order between mark rules is irrelevant).
    const std::string repaired = listing(ns);
    EXPECT_NE(repaired.find("udp dport 4500 meta mark set 0x00001000"), std::string::npos);
    EXPECT_NE(repaired.find("10.1.0.5"), std::string::npos);
    auto settled = client->apply(reference_state());
    ASSERT_TRUE(settled.ok());
    EXPECT_FALSE(settled->batch_sent);

    // An operator's `nft flush ruleset` removes everything; the next apply restores ours.
    ns.exec("nft flush ruleset");
    seen = client->dump();
    ASSERT_TRUE(seen.ok());
    EXPECT_FALSE(seen->table_present);
    r = client->apply(reference_state());
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_TRUE(r->batch_sent);
    EXPECT_EQ(listing(ns), good);

    // A chain whose hook was changed is rebuilt (whole table, one batch).
    ns.exec(
        "nft add table ip operator && nft add chain ip operator input "
        "\"{ type filter hook input priority 0; policy accept; }\" && "
        "nft add rule ip operator input tcp dport 22 counter");
    ns.exec(
        "nft delete chain inet ballast prerouting && nft add chain inet ballast prerouting "
        "\"{ type filter hook prerouting priority 0; policy accept; }\"");
    r = client->apply(reference_state());
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_EQ(listing(ns), good);
    EXPECT_EQ(ns.exec("nft list table ip operator"), foreign);

    ASSERT_TRUE(client->remove().ok());
    EXPECT_FALSE(ns.try_exec("nft list table inet ballast").status == 0);
    EXPECT_TRUE(client->remove().ok());  // absent table: still success
    EXPECT_EQ(ns.exec("nft list table ip operator"), foreign);
}

TEST(NftHost, RealServerTrafficLeavesWithTheDirectorAddress) {
    ThreeHosts hosts;
    EXPECT_EQ(hosts.peer_seen_by_client("10.210.2.10"), "10.210.2.10");  // no table yet

    auto client = open_in(hosts.director);
    NatDesired d;
    d.real_servers = {pfx("10.210.2.10")};
    ASSERT_TRUE(client->apply(d).ok());
    EXPECT_EQ(hosts.peer_seen_by_client("10.210.2.10"), "10.210.1.254");
    EXPECT_EQ(hosts.peer_seen_by_client("10.210.2.11"), "10.210.2.11");  // not in the set

    // Set changes apply to new connections.
    d.real_servers = {pfx("10.210.2.11")};
    ASSERT_TRUE(client->apply(d).ok());
    EXPECT_EQ(hosts.peer_seen_by_client("10.210.2.11"), "10.210.1.254");
    EXPECT_EQ(hosts.peer_seen_by_client("10.210.2.10"), "10.210.2.10");

    // Egress restricted to an interface the traffic does not leave by: no masquerade.
    d.egress_interfaces = {"nosuchif0"};
    ASSERT_TRUE(client->apply(d).ok());
    EXPECT_EQ(hosts.peer_seen_by_client("10.210.2.11"), "10.210.2.11");
    d.egress_interfaces.clear();
    ASSERT_TRUE(client->apply(d).ok());
    EXPECT_EQ(hosts.peer_seen_by_client("10.210.2.11"), "10.210.1.254");

    ASSERT_TRUE(client->remove().ok());
    EXPECT_EQ(hosts.peer_seen_by_client("10.210.2.11"), "10.210.2.11");
}

namespace {
// Packet counts of the counter rules in a table, in rule order.
std::vector<uint64_t> counters(const NetNs& ns, const std::string& table) {
    std::vector<uint64_t> out;
    const std::string text = ns.exec("nft list table " + table);
    std::regex re(R"(counter packets ([0-9]+))");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
         ++it)
        out.push_back(std::stoull((*it)[1]));
    return out;
}

// Packets cross the veth asynchronously (softirq): wait until the counts settle on expected.
std::vector<uint64_t> counters_when(const NetNs& ns, const std::string& table,
                                    const std::vector<uint64_t>& expected) {
    auto seen = counters(ns, table);
    for (int i = 0; i < 100 && seen != expected; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        seen = counters(ns, table);
    }
    return seen;
}

void send_packet(const NetNs& from, int type, int proto, const std::string& dst, uint16_t port) {
    from.run_inside([&] {
        Fd s(::socket(AF_INET, type | SOCK_CLOEXEC, proto));
        if (s.fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
        auto sa = v4(dst, port);
        const char payload[16] = "ballast-fwmark";
        if (::sendto(s.fd, payload, sizeof payload, 0, reinterpret_cast<sockaddr*>(&sa),
                     sizeof sa) != static_cast<ssize_t>(sizeof payload))
            throw std::runtime_error(std::string("sendto: ") + std::strerror(errno));
    });
}
}  // namespace

TEST(NftHost, GroupMembersFromAClientGetTheGroupMark) {
    NetNs client("nmc"), director("nmd");
    connect(client, "10.230.1.1/24", director, "10.230.1.254/24");
    director.exec("ip addr add 10.230.9.9/32 dev lo");
    client.exec("ip route add 10.230.9.9/32 via 10.230.1.254");

    auto nft_client = open_in(director);
    NatDesired d;
    d.mark_groups = {
        MarkGroup{"ipsec", ip("10.230.9.9"), 0x1000, {{17, 500, 0}, {17, 4500, 0}, {50, 0, 0}}}};
    ASSERT_TRUE(nft_client->apply(d).ok());
    // Test-only table after ours (priority 0 > mangle): counts packets by mark and protocol.
    director.exec(
        "nft add table inet marktest && nft add chain inet marktest c "
        "\"{ type filter hook prerouting priority 0; policy accept; }\" && "
        "nft add rule inet marktest c meta mark 0x1000 udp dport 500 counter && "
        "nft add rule inet marktest c meta mark 0x1000 udp dport 4500 counter && "
        "nft add rule inet marktest c meta mark 0x1000 meta l4proto esp counter && "
        "nft add rule inet marktest c meta mark 0 udp dport 501 counter && "
        "nft add rule inet marktest c meta mark 0x1001 udp dport 600 counter");
    EXPECT_EQ(counters(director, "inet marktest"), (std::vector<uint64_t>{0, 0, 0, 0, 0}));

    send_packet(client, SOCK_DGRAM, 0, "10.230.9.9", 500);
    send_packet(client, SOCK_DGRAM, 0, "10.230.9.9", 4500);
    send_packet(client, SOCK_RAW, IPPROTO_ESP, "10.230.9.9", 0);
    send_packet(client, SOCK_DGRAM, 0, "10.230.9.9", 501);  // not a member: stays unmarked
    const std::vector<uint64_t> after_first{1, 1, 1, 1, 0};
    EXPECT_EQ(counters_when(director, "inet marktest", after_first), after_first);

    // Changing the group (new mark, UDP 600 instead of 4500) rewrites its rules in one batch.
    d.mark_groups[0].mark = 0x1001;
    d.mark_groups[0].matches = {{17, 600, 0}};
    auto r = nft_client->apply(d);
    ASSERT_TRUE(r.ok()) << r.error().describe();
    send_packet(client, SOCK_DGRAM, 0, "10.230.9.9", 600);
    send_packet(client, SOCK_DGRAM, 0, "10.230.9.9", 500);  // no longer a member
    const std::vector<uint64_t> after_change{1, 1, 1, 1, 1};
    EXPECT_EQ(counters_when(director, "inet marktest", after_change), after_change);
}

TEST(NftHost, AFailingBatchChangesNothing) {
    NetNs ns("nfa");
    auto client = open_in(ns);
    NatDesired d;
    d.real_servers = {pfx("10.0.0.1")};
    ASSERT_TRUE(client->apply(d).ok());
    const std::string before = listing(ns);
    // A valid element addition followed by the deletion of a rule that does not exist.
    std::vector<nft::NftOp> ops = {
        nft::AddElements{"rs4", {{{10, 0, 0, 2}, {10, 0, 0, 2}}}, false, NFT_SET_INTERVAL, 4},
        nft::DeleteRule{"postrouting", 999999}};
    auto s = client->send_batch(ops);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ENOENT) << s.error().describe();
    EXPECT_NE(s.error().describe().find("delete rule postrouting handle 999999"), std::string::npos)
        << s.error().describe();
    EXPECT_EQ(listing(ns), before);
    EXPECT_EQ(listing(ns).find("10.0.0.2"), std::string::npos);
}

TEST(NftHost, ThousandsOfRealServersGoInOneBatch) {
    NetNs ns("nfb");
    auto client = open_in(ns);
    NatDesired d;
    for (int i = 0; i < 4000; ++i) {
        IpAddress a = ip("10.0.0.0");
        a.bytes[1] = static_cast<uint8_t>(i / 250);
        a.bytes[2] = static_cast<uint8_t>(i % 250);
        a.bytes[3] = 1;
        d.real_servers.push_back(IpPrefix{a, 32});
        IpAddress b = ip("2001:db8::1");
        b.bytes[14] = static_cast<uint8_t>(i >> 8);
        b.bytes[15] = static_cast<uint8_t>(i);
        d.real_servers.push_back(IpPrefix{b, 128});
    }
    auto r = client->apply(d);
    ASSERT_TRUE(r.ok()) << r.error().describe();
    auto seen = client->dump();
    ASSERT_TRUE(seen.ok()) << seen.error().describe();
    EXPECT_EQ(seen->real_server_ranges.size(), 8000u);
    auto again = client->apply(d);
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again->batch_sent);
    // Drop every other one: one batch of deletions.
    d.real_servers.resize(4000);
    r = client->apply(d);
    ASSERT_TRUE(r.ok()) << r.error().describe();
    seen = client->dump();
    ASSERT_TRUE(seen.ok());
    EXPECT_EQ(seen->real_server_ranges.size(), 4000u);
}

// What an exchange that ended early (an error ack, a timeout) leaves in the client's socket: an
// ack with a sequence number the next exchange does not expect. It is sent here, as the kernel
// would, to the client's port id (the namespace's only other nfnetlink socket) from a socket of
// our own. Runs inside the namespace.
void leave_stale_ack_for_the_client() {
    int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
    sockaddr_nl self{};
    self.nl_family = AF_NETLINK;
    socklen_t len = sizeof self;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&self), sizeof self) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&self), &len) != 0)
        throw std::runtime_error("bind: " + std::string(std::strerror(errno)));
    // "sk Eth Pid ...": the netfilter sockets (Eth 12) of this thread's namespace.
    std::ifstream table("/proc/thread-self/net/netlink");
    std::string line;
    std::getline(table, line);
    std::vector<uint32_t> others;
    while (std::getline(table, line)) {
        std::istringstream row(line);
        std::string sk;
        int protocol = -1;
        uint32_t portid = 0;
        row >> sk >> protocol >> portid;
        if (protocol == NETLINK_NETFILTER && portid != 0 && portid != self.nl_pid)
            others.push_back(portid);
    }
    if (others.size() != 1)
        throw std::runtime_error("expected one other nfnetlink socket, found " +
                                 std::to_string(others.size()));
    struct {
        nlmsghdr hdr;
        nlmsgerr err;
    } ack{};
    ack.hdr.nlmsg_len = sizeof ack;
    ack.hdr.nlmsg_type = NLMSG_ERROR;
    ack.hdr.nlmsg_seq = 0x5eed;
    ack.hdr.nlmsg_pid = others[0];
    ack.err.msg.nlmsg_len = sizeof(nlmsghdr);
    ack.err.msg.nlmsg_seq = 0x5eed;
    sockaddr_nl to{};
    to.nl_family = AF_NETLINK;
    to.nl_pid = others[0];
    const ssize_t n =
        ::sendto(fd, &ack, sizeof ack, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    const int err = errno;
    ::close(fd);
    if (n != ssize_t(sizeof ack))
        throw std::runtime_error("sendto: " + std::string(std::strerror(err)));
}

TEST(NftHost, AnAckLeftInTheSocketDoesNotFailTheNextExchange) {
    NetNs ns("nfs");
    auto client = open_in(ns);
    NatDesired d;
    d.real_servers = {pfx("10.0.0.1")};
    ASSERT_TRUE(client->apply(d).ok());
    ns.run_inside(leave_stale_ack_for_the_client);
    auto seen = client->dump();
    ASSERT_TRUE(seen.ok()) << seen.error().describe();
    EXPECT_EQ(seen->real_server_ranges.size(), 1u);
    // Before a batch too.
    ns.run_inside(leave_stale_ack_for_the_client);
    d.real_servers.push_back(pfx("10.0.0.2"));
    auto applied = client->apply(d);
    ASSERT_TRUE(applied.ok()) << applied.error().describe();
    EXPECT_TRUE(applied->batch_sent);
    ns.run_inside(leave_stale_ack_for_the_client);
    auto removed = client->remove();
    EXPECT_TRUE(removed.ok()) << removed.error().describe();
}

TEST(NftHost, ABatchPlannedOnAStaleDumpIsRefused) {
    NetNs ns("nfg");
    auto client = open_in(ns);
    NatDesired d;
    d.real_servers = {pfx("10.0.0.1")};
    ASSERT_TRUE(client->apply(d).ok());
    auto table = client->dump_table();
    ASSERT_TRUE(table.ok() && table->has_value());
    auto generation = client->read_generation();  // the ruleset the dump saw
    ASSERT_TRUE(generation.ok()) << generation.error().describe();
    const uint32_t seen = *generation;

    // Someone changes nftables between our dump and our batch.
    ns.exec("nft add table ip someone_else");
    d.real_servers.push_back(pfx("10.0.0.2"));
    auto ops = nft::plan(*table, *nft::build_table(d));
    ASSERT_EQ(ops.size(), 1u);
    auto s = client->send_batch(ops, seen);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ERESTART) << s.error().describe();
    EXPECT_EQ(listing(ns).find("10.0.0.2"), std::string::npos);

    // apply() dumps again and succeeds.
    auto r = client->apply(d);
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_NE(listing(ns).find("10.0.0.2"), std::string::npos);
    auto now = client->read_generation();
    ASSERT_TRUE(now.ok()) << now.error().describe();
    EXPECT_GT(*now, seen);
}

TEST(NftHost, Ipv6RealServerTrafficLeavesWithTheDirectorAddress) {
    NetNs client("n6c"), director("n6d"), real("n6r");
    // connect() addresses IPv4; the IPv6 addresses go on afterwards (nodad: usable at once).
    auto front = connect(client, "10.212.1.1/24", director, "10.212.1.254/24");
    auto back = connect(director, "10.212.2.254/24", real, "10.212.2.10/24");
    client.exec("ip -6 addr add fd00:212:1::1/64 dev " + front.a_if + " nodad");
    director.exec("ip -6 addr add fd00:212:1::fe/64 dev " + front.b_if + " nodad && " +
                  "ip -6 addr add fd00:212:2::fe/64 dev " + back.a_if + " nodad && " +
                  "sysctl -qw net.ipv6.conf.all.forwarding=1");
    real.exec("ip -6 addr add fd00:212:2::10/64 dev " + back.b_if + " nodad && " +
              "ip -6 route add default via fd00:212:2::fe");
    client.exec("ip -6 route add fd00:212:2::/64 via fd00:212:1::fe");

    auto peer_seen = [&] {
        int lfd = client.run_inside([] {
            int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in6 sa{};
            sa.sin6_family = AF_INET6;
            sa.sin6_port = htons(7200);
            ::inet_pton(AF_INET6, "fd00:212:1::1", &sa.sin6_addr);
            int one = 1;
            ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, 4))
                throw std::runtime_error(std::string("bind/listen v6: ") + std::strerror(errno));
            return fd;
        });
        Fd l(lfd);
        std::string seen;
        std::thread acceptor([&] {
            sockaddr_in6 peer{};
            socklen_t len = sizeof peer;
            Fd c(::accept(l.fd, reinterpret_cast<sockaddr*>(&peer), &len));
            char buf[INET6_ADDRSTRLEN] = {};
            ::inet_ntop(AF_INET6, &peer.sin6_addr, buf, sizeof buf);
            seen = buf;
        });
        try {
            real.run_inside([] {
                Fd c(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
                sockaddr_in6 dst{};
                dst.sin6_family = AF_INET6;
                dst.sin6_port = htons(7200);
                ::inet_pton(AF_INET6, "fd00:212:1::1", &dst.sin6_addr);
                timeval tv{5, 0};
                ::setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
                if (::connect(c.fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0)
                    throw std::runtime_error(std::string("connect v6: ") + std::strerror(errno));
            });
        } catch (...) {
            ::shutdown(l.fd, SHUT_RDWR);
            acceptor.join();
            throw;
        }
        acceptor.join();
        return seen;
    };

    EXPECT_EQ(peer_seen(), "fd00:212:2::10");
    auto nft_client = open_in(director);
    NatDesired d;
    d.real_servers = {pfx("fd00:212:2::/64")};
    ASSERT_TRUE(nft_client->apply(d).ok());
    EXPECT_EQ(peer_seen(), "fd00:212:1::fe");
    ASSERT_TRUE(nft_client->remove().ok());
    EXPECT_EQ(peer_seen(), "fd00:212:2::10");
}
