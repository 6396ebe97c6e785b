// Pure verdicts against a programmed RouteQuery/HostInfo.
#include <gtest/gtest.h>
#include <linux/rtnetlink.h>

#include "ballast/agent/nl_dump.hpp"
#include "ballast/agent/verdict.hpp"
#include "ballast/fakes/agent_fakes.hpp"

using namespace ballast::agent;
using ballast::fakes::FakeHostInfo;
using ballast::fakes::FakeRouteQuery;

namespace {

IpAddress ip(const char* s) {
    return *IpAddress::parse(s);
}
IpPrefix pfx(const char* s) {
    return *IpPrefix::parse(s);
}
// A local address with its subnet length (IpPrefix::parse would mask the host bits).
Address local(int ifindex, const char* a, uint8_t len) {
    return Address{ifindex, IpPrefix{ip(a), len}};
}

RouteAnswer via(const char* gw, int oif, uint32_t table = RT_TABLE_MAIN, uint32_t metric = 0,
                const char* matched = "0.0.0.0/0") {
    RouteAnswer a;
    a.gateway = ip(gw);
    a.oif = oif;
    a.table = table;
    a.metric = metric;
    a.matched = pfx(matched);
    return a;
}

RouteAnswer onlink(int oif, const char* matched) {
    RouteAnswer a;
    a.oif = oif;
    a.matched = pfx(matched);
    return a;
}

Route default_route(const char* gw, int oif, uint32_t metric, uint32_t table = RT_TABLE_MAIN) {
    Route r;
    r.table = table;
    r.dst = pfx("0.0.0.0/0");
    r.gateway = ip(gw);
    r.oif = oif;
    r.metric = metric;
    return r;
}

// Real server 10.0.0.5 on eth0 (director 10.0.0.1), second NIC eth1 192.168.1.5 (gw .1).
struct Host : ::testing::Test {
    FakeRouteQuery q;
    FakeHostInfo h;
    AgentSettings s;

    void SetUp() override {
        q.link_list = {Link{1, "lo", true, true, "", 0}, Link{2, "eth0", true, true, "", 0},
                       Link{3, "eth1", true, true, "", 0}};
        q.address_list = {local(2, "10.0.0.5", 24), local(3, "192.168.1.5", 24)};
        q.rule_list = {Rule{AF_INET, 0, {}, {}, RT_TABLE_LOCAL, 1, "", "", 0},
                       Rule{AF_INET, 32766, {}, {}, RT_TABLE_MAIN, 1, "", "", 0}};
        q.answer("10.0.0.1", "10.0.0.5", onlink(2, "10.0.0.0/24"));
        s.real_servers = {RealServerEntry{ip("10.0.0.5"), ip("10.0.0.1"), {80}, Transport::tcp}};
        s.probe_clients = {ip("10.255.255.1"), ip("203.0.113.9")};
        h.socket_list = {Socket{Transport::tcp, ip("0.0.0.0"), 80, 0x0A}};
    }

    void route_all_via(const char* gw, int oif, uint32_t table = RT_TABLE_MAIN,
                       uint32_t metric = 0) {
        for (const char* c : {"10.255.255.1", "203.0.113.9"})
            q.answer(c, "10.0.0.5", via(gw, oif, table, metric));
    }

    // A copy: callers often pass a temporary Report.
    std::optional<Check> find(const Report& r, const std::string& name,
                              const std::string& subject = "") {
        for (const auto& c : r.checks)
            if (c.name == name && (subject.empty() || c.subject == subject)) return c;
        return std::nullopt;
    }
};

TEST_F(Host, SingleHomedViaDirectorPassesEveryCheck) {
    q.route_list = {default_route("10.0.0.1", 2, 0)};
    route_all_via("10.0.0.1", 2);
    Report r = evaluate(s, q, h);
    EXPECT_EQ(r.overall(), Verdict::pass) << (r.first_failure() ? r.first_failure()->reason : "");
    ASSERT_TRUE(find(r, "return-route", "10.0.0.5 -> 203.0.113.9"));
    EXPECT_NE(find(r, "multihoming")->reason.find("single default route"), std::string::npos);
    EXPECT_EQ(agent_reply(r, false, std::nullopt), "up");
    // The verdict asked the kernel exactly the `ip route get CLIENT from RIP` questions.
    EXPECT_NE(std::find(q.calls.begin(), q.calls.end(), "lookup 203.0.113.9 from 10.0.0.5"),
              q.calls.end());
    EXPECT_NE(std::find(q.calls.begin(), q.calls.end(), "lookup 10.0.0.1 from 10.0.0.5"),
              q.calls.end());
}

TEST_F(Host, ReturnRouteViaOtherGatewayFailsNamingGatewayAndWhy) {
    q.route_list = {default_route("192.168.1.1", 3, 50), default_route("10.0.0.1", 2, 100)};
    route_all_via("192.168.1.1", 3, RT_TABLE_MAIN, 50);
    Report r = evaluate(s, q, h);
    auto rr = find(r, "return-route", "10.0.0.5 -> 203.0.113.9");
    ASSERT_TRUE(rr);
    EXPECT_EQ(rr->verdict, Verdict::fail);
    EXPECT_EQ(rr->reason,
              "return route to 203.0.113.9 leaves via 192.168.1.1 (eth1), not director 10.0.0.1");
    EXPECT_NE(rr->fix.find("ip rule add from 10.0.0.5/32 lookup 1000 priority 1000"),
              std::string::npos);
    EXPECT_NE(rr->fix.find("ip route replace default via 10.0.0.1 dev eth0 table 1000"),
              std::string::npos);
    auto mh = find(r, "multihoming");
    EXPECT_EQ(mh->verdict, Verdict::fail);
    EXPECT_NE(mh->reason.find("default via 192.168.1.1 dev eth1 metric 50 (table main)"),
              std::string::npos)
        << mh->reason;
    EXPECT_NE(mh->reason.find("lower metric (50 < 100)"), std::string::npos) << mh->reason;
    EXPECT_EQ(
        agent_reply(r, false, 80),
        "down #return route to 10.255.255.1 leaves via 192.168.1.1 (eth1), not director 10.0.0.1");
}

TEST_F(Host, DirectorDefaultInUnconsultedTableIsNamed) {
    q.route_list = {default_route("192.168.1.1", 3, 0), default_route("10.0.0.1", 2, 0, 200)};
    route_all_via("192.168.1.1", 3);
    Report r = evaluate(s, q, h);
    EXPECT_NE(find(r, "multihoming")->reason.find("table 200"), std::string::npos);
    EXPECT_NE(find(r, "multihoming")->reason.find("is not consulted"), std::string::npos);
}

TEST_F(Host, PolicyRulePerSourcePassesDespiteTwoDefaults) {
    q.route_list = {default_route("192.168.1.1", 3, 0), default_route("10.0.0.1", 2, 0, 1000)};
    q.rule_list.push_back(Rule{AF_INET, 1000, pfx("10.0.0.5/32"), {}, 1000, 1, "", "", 0});
    route_all_via("10.0.0.1", 2, 1000);
    Report r = evaluate(s, q, h);
    EXPECT_EQ(r.overall(), Verdict::pass);
    EXPECT_NE(find(r, "multihoming")->reason.find("rule 1000 (from 10.0.0.5/32 lookup 1000)"),
              std::string::npos)
        << find(r, "multihoming")->reason;
}

TEST_F(Host, DirectorWinningOnlyByMetricWarns) {
    q.route_list = {default_route("10.0.0.1", 2, 10), default_route("192.168.1.1", 3, 20)};
    route_all_via("10.0.0.1", 2, RT_TABLE_MAIN, 10);
    Report r = evaluate(s, q, h);
    EXPECT_EQ(find(r, "multihoming")->verdict, Verdict::warn);
    EXPECT_EQ(r.overall(), Verdict::warn);
    EXPECT_EQ(agent_reply(r, false, std::nullopt), "up");
}

TEST_F(Host, OnLinkClientBypassesDirector) {
    q.route_list = {default_route("10.0.0.1", 2, 0)};
    route_all_via("10.0.0.1", 2);
    q.answer("203.0.113.9", "10.0.0.5", onlink(2, "203.0.113.0/24"));
    Report r = evaluate(s, q, h);
    auto rr = find(r, "return-route", "10.0.0.5 -> 203.0.113.9");
    EXPECT_EQ(rr->verdict, Verdict::fail);
    EXPECT_NE(rr->reason.find("on-link via eth0: replies bypass director 10.0.0.1"),
              std::string::npos);
}

TEST_F(Host, NoReturnRouteFails) {
    q.fail("203.0.113.9", "10.0.0.5", ENETUNREACH);
    q.answer("10.255.255.1", "10.0.0.5", via("10.0.0.1", 2));
    Report r = evaluate(s, q, h);
    EXPECT_EQ(find(r, "return-route", "10.0.0.5 -> 203.0.113.9")->verdict, Verdict::fail);
    EXPECT_NE(find(r, "return-route", "10.0.0.5 -> 203.0.113.9")->reason.find("no return route"),
              std::string::npos);
}

TEST_F(Host, DirectorBehindAGatewayFails) {
    q.answer("10.0.0.1", "10.0.0.5", via("10.0.0.254", 2));
    Report r = evaluate(s, q, h);
    EXPECT_EQ(find(r, "director")->verdict, Verdict::fail);
    EXPECT_NE(find(r, "director")->reason.find("not on-link"), std::string::npos);
    EXPECT_FALSE(find(r, "return-route"));  // no director device to compare with
}

TEST_F(Host, StrictRpFilterWithAsymmetricRoutingFails) {
    route_all_via("192.168.1.1", 3);
    h.rp_filters = {{"all", 1}, {"eth0", 0}};
    Report r = evaluate(s, q, h);
    auto rp = find(r, "rp_filter");
    EXPECT_EQ(rp->verdict, Verdict::fail);
    EXPECT_NE(rp->reason.find("strict rp_filter on eth0 (effective 1 = max of all=1, eth0=0)"),
              std::string::npos)
        << rp->reason;
    EXPECT_NE(rp->reason.find("reverse path leaves via eth1"), std::string::npos);
    EXPECT_EQ(rp->fix.substr(0, 41), "sysctl -w net.ipv4.conf.eth0.rp_filter=2 ");
}

TEST_F(Host, LooseRpFilterWithAsymmetricRoutingPasses) {
    route_all_via("192.168.1.1", 3);
    h.rp_filters = {{"all", 1}, {"eth0", 2}};
    Report r = evaluate(s, q, h);
    EXPECT_EQ(find(r, "rp_filter")->verdict, Verdict::pass);
    EXPECT_NE(find(r, "rp_filter")->reason.find("loose"), std::string::npos);
}

TEST_F(Host, StrictRpFilterWithSymmetricRoutingPasses) {
    route_all_via("10.0.0.1", 2);
    h.rp_filters = {{"all", 1}, {"eth0", 1}};
    EXPECT_EQ(find(evaluate(s, q, h), "rp_filter")->verdict, Verdict::pass);
}

TEST_F(Host, MissingAddressFails) {
    q.address_list = {local(3, "192.168.1.5", 24), local(2, "10.0.0.9", 24)};
    Report r = evaluate(s, q, h);
    auto a = find(r, "address");
    EXPECT_EQ(a->verdict, Verdict::fail);
    EXPECT_EQ(a->reason, "10.0.0.5 is not configured on any interface");
    EXPECT_EQ(a->fix, "ip addr add 10.0.0.5/24 dev eth0");
    EXPECT_EQ(agent_reply(r, false, std::nullopt),
              "down #10.0.0.5 is not configured on any interface");
}

TEST_F(Host, InterfaceDownFails) {
    q.link_list[1].admin_up = false;
    q.link_list[1].oper_up = false;
    auto a = find(evaluate(s, q, h), "address");
    EXPECT_EQ(a->verdict, Verdict::fail);
    EXPECT_EQ(a->reason, "interface eth0 carrying 10.0.0.5 is down");
    EXPECT_EQ(a->fix, "ip link set dev eth0 up");
}

TEST_F(Host, NoCarrierFails) {
    q.link_list[1].oper_up = false;
    EXPECT_NE(find(evaluate(s, q, h), "address")->reason.find("no carrier"), std::string::npos);
}

TEST_F(Host, NothingListeningFailsAndWildcardOrExactPasses) {
    route_all_via("10.0.0.1", 2);
    h.socket_list = {
        Socket{Transport::tcp, ip("10.0.0.5"), 81, 0x0A},  // other port
        Socket{Transport::tcp, ip("10.0.0.5"), 80, 0x01},  // established, not listening
        Socket{Transport::udp, ip("0.0.0.0"), 80, 0x07}};  // other protocol
    auto l = find(evaluate(s, q, h), "listener");
    EXPECT_EQ(l->verdict, Verdict::fail);
    EXPECT_EQ(l->reason, "nothing listens on 10.0.0.5:80/tcp (nor on the wildcard)");
    h.socket_list = {Socket{Transport::tcp, ip("10.0.0.5"), 80, 0x0A}};
    EXPECT_EQ(find(evaluate(s, q, h), "listener")->verdict, Verdict::pass);
    h.socket_list = {Socket{Transport::tcp, ip("::"), 80, 0x0A}};
    EXPECT_EQ(find(evaluate(s, q, h), "listener")->verdict, Verdict::pass);
}

TEST_F(Host, BondWithSlaveDownWarnsAllDownFails) {
    q.link_list[1].kind = "bond";
    route_all_via("10.0.0.1", 2);
    h.bonds["eth0"] = BondState{"active-backup 1", "ens1", {{"ens1", true}, {"ens2", false}}};
    Report r = evaluate(s, q, h);
    auto b = find(r, "bond");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->verdict, Verdict::warn);
    EXPECT_NE(b->reason.find("slave ens2 link down (1/2 up)"), std::string::npos) << b->reason;
    EXPECT_NE(b->reason.find("active ens1"), std::string::npos);
    h.bonds["eth0"].slaves[0].link_up = false;
    EXPECT_EQ(find(evaluate(s, q, h), "bond")->verdict, Verdict::fail);
    h.bonds["eth0"].slaves = {{"ens1", true}, {"ens2", true}};
    EXPECT_EQ(find(evaluate(s, q, h), "bond")->verdict, Verdict::pass);
}

TEST_F(Host, NonBondHasNoBondCheck) {
    route_all_via("10.0.0.1", 2);
    EXPECT_FALSE(find(evaluate(s, q, h), "bond"));
}

TEST(AgentReply, DrainAndWeight) {
    Report ok;
    ok.checks = {Check{"address", "x", Verdict::pass, "fine", ""}};
    EXPECT_EQ(agent_reply(ok, true, 50), "drain");
    EXPECT_EQ(agent_reply(ok, false, 75), "up 75%");
    EXPECT_EQ(agent_reply(ok, false, 0), "up 1%");  // 0% would be drain: keep the server usable
    Report bad = ok;
    bad.checks.push_back(Check{"listener", "y", Verdict::fail, "line one\nline two", ""});
    EXPECT_EQ(agent_reply(bad, true, 50), "down #line one line two");
}

TEST(AgentReply, WeightFromLoadavg) {
    EXPECT_EQ(weight_from_loadavg(0.0, 4), 100);
    EXPECT_EQ(weight_from_loadavg(1.0, 4), 75);
    EXPECT_EQ(weight_from_loadavg(8.0, 4), 1);
    EXPECT_EQ(weight_from_loadavg(0.5, 0), 50);
}

}  // namespace

namespace {

// The agent's own failures are no evidence against the server: a dump interrupted by a
// concurrent change, a socket it could not open, a reply it could not read all warn (the
// reply stays "up"), while the kernel's answers (no route) still fail.
TEST_F(Host, AgentInternalErrorsWarnAndNeverAnswerDown) {
    q.route_list = {default_route("10.0.0.1", 2, 0)};
    route_all_via("10.0.0.1", 2);
    // The error a link dump interrupted on every try yields (nl_dump_test).
    q.links_error = dump_retrying("RTM_GETLINK dump", [] { return -NLE_DUMP_INTR; }).error();
    Report r = evaluate(s, q, h);
    ASSERT_FALSE(r.checks.empty());
    EXPECT_EQ(r.checks.front().verdict, Verdict::warn) << r.checks.front().reason;
    EXPECT_NE(r.checks.front().reason.find("Dump inconsistency detected"), std::string::npos);
    EXPECT_EQ(agent_reply(r, false, std::nullopt), "up");

    q.links_error.reset();
    q.addresses_error = ballast::make_error(EMFILE, "RTM_GETADDR dump");
    EXPECT_EQ(agent_reply(evaluate(s, q, h), false, std::nullopt), "up");
    q.addresses_error.reset();

    for (int err : {ENOBUFS, EMFILE, ENOMEM, EAGAIN, EBADMSG}) {
        q.fail("203.0.113.9", "10.0.0.5", err);
        Report rr = evaluate(s, q, h);
        auto c = find(rr, "return-route", "10.0.0.5 -> 203.0.113.9");
        ASSERT_TRUE(c);
        EXPECT_EQ(c->verdict, Verdict::warn) << std::strerror(err) << ": " << c->reason;
        EXPECT_EQ(agent_reply(rr, false, std::nullopt), "up") << std::strerror(err);
    }
    q.fail("10.0.0.1", "10.0.0.5", ENOBUFS);
    EXPECT_EQ(find(evaluate(s, q, h), "director")->verdict, Verdict::warn);

    // The kernel saying there is no route is evidence.
    q.answer("10.0.0.1", "10.0.0.5", onlink(2, "10.0.0.0/24"));
    q.fail("203.0.113.9", "10.0.0.5", ENETUNREACH);
    Report unreachable = evaluate(s, q, h);
    EXPECT_EQ(find(unreachable, "return-route", "10.0.0.5 -> 203.0.113.9")->verdict, Verdict::fail);
    EXPECT_EQ(agent_reply(unreachable, false, std::nullopt).rfind("down #", 0), 0u);
}

}  // namespace
