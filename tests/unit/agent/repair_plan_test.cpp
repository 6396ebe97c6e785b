// Repair planning, undo planning and the state-file codec.
#include <gtest/gtest.h>
#include <linux/rtnetlink.h>

#include "ballast/agent/repair.hpp"

using namespace ballast::agent;

namespace {

IpAddress ip(const char* s) {
    return *IpAddress::parse(s);
}
IpPrefix pfx(const char* s) {
    return *IpPrefix::parse(s);
}

struct Plan : ::testing::Test {
    AgentSettings s;
    RepairInput in;
    void SetUp() override {
        s.real_servers = {RealServerEntry{ip("10.0.0.5"), ip("10.0.0.1"), {80}, Transport::tcp}};
        in.paths = {DirectorPath{ip("10.0.0.5"), ip("10.0.0.1"), Link{2, "eth0", true, true, "", 0},
                                 pfx("10.0.0.0/24")}};
        in.rp_filter = {{"all", 1}, {"eth0", 0}};
    }
    // What the kernel would show after applying ops.
    void apply(const std::vector<RepairOp>& ops) {
        for (const auto& op : ops) {
            if (op.kind == RepairKind::rule) in.rules.push_back(op.rule);
            if (op.kind == RepairKind::route) in.routes.push_back(op.route);
            if (op.kind == RepairKind::sysctl) in.rp_filter[op.ifname] = op.new_value;
        }
    }
};

TEST_F(Plan, InstallsRoutesThenRuleIntoTableBase) {
    RepairPlan p = plan_repair(s, in);
    ASSERT_TRUE(p.problems.empty());
    ASSERT_EQ(p.ops.size(), 3u);
    EXPECT_EQ(p.ops[0].command(), "ip route add 10.0.0.0/24 dev eth0 src 10.0.0.5 table 1000");
    EXPECT_EQ(p.ops[1].command(), "ip route add default via 10.0.0.1 dev eth0 table 1000");
    EXPECT_EQ(p.ops[2].command(), "ip rule add from 10.0.0.5/32 lookup 1000 priority 1000");
    EXPECT_EQ(p.ops[2].command(true), "ip rule del from 10.0.0.5/32 lookup 1000 priority 1000");
}

TEST_F(Plan, IsIdempotent) {
    apply(plan_repair(s, in).ops);
    RepairPlan again = plan_repair(s, in);
    EXPECT_TRUE(again.ops.empty());
    EXPECT_TRUE(again.problems.empty());
}

TEST_F(Plan, SecondRealServerGetsNextTable) {
    s.real_servers.push_back(RealServerEntry{ip("10.0.1.5"), ip("10.0.1.1"), {}, Transport::tcp});
    in.paths.push_back(DirectorPath{ip("10.0.1.5"), ip("10.0.1.1"),
                                    Link{3, "eth1", true, true, "", 0}, pfx("10.0.1.0/24")});
    RepairPlan p = plan_repair(s, in);
    ASSERT_EQ(p.ops.size(), 6u);
    EXPECT_EQ(p.ops[5].command(), "ip rule add from 10.0.1.5/32 lookup 1001 priority 1000");
}

TEST_F(Plan, ForeignRouteInTableIsAProblemNotOverwritten) {
    Route foreign;
    foreign.table = 1000;
    foreign.dst = pfx("0.0.0.0/0");
    foreign.gateway = ip("192.168.1.1");
    foreign.oif = 3;
    in.routes.push_back(foreign);
    RepairPlan p = plan_repair(s, in);
    EXPECT_TRUE(p.ops.empty());
    ASSERT_EQ(p.problems.size(), 1u);
    EXPECT_NE(p.problems[0].find("table 1000 already holds default"), std::string::npos);
}

TEST_F(Plan, UnrepairableWithoutDirectorPath) {
    in.paths[0].link.reset();
    RepairPlan p = plan_repair(s, in);
    EXPECT_TRUE(p.ops.empty());
    EXPECT_NE(p.problems.at(0).find("not on-link"), std::string::npos);
}

TEST_F(Plan, LooseRpFilterOnlyWhenAskedAndStrict) {
    EXPECT_EQ(plan_repair(s, in).ops.size(), 3u);
    s.repair.rp_filter_loose = true;
    RepairPlan p = plan_repair(s, in);
    ASSERT_EQ(p.ops.size(), 4u);
    EXPECT_EQ(p.ops[3].command(), "sysctl -w net.ipv4.conf.eth0.rp_filter=2");
    EXPECT_EQ(p.ops[3].command(true), "sysctl -w net.ipv4.conf.eth0.rp_filter=0");
    in.rp_filter["all"] = 0;
    EXPECT_EQ(plan_repair(s, in).ops.size(), 3u);
}

TEST_F(Plan, UndoRevertsInReverseAndSkipsWhatIsGone) {
    s.repair.rp_filter_loose = true;
    auto ops = plan_repair(s, in).ops;
    apply(ops);
    auto undo = plan_undo(ops, in);
    ASSERT_EQ(undo.size(), 4u);
    EXPECT_EQ(undo[0].kind, RepairKind::sysctl);
    EXPECT_EQ(undo[1].kind, RepairKind::rule);
    // Someone already removed the rule and changed rp_filter again: leave both alone.
    in.rules.clear();
    in.rp_filter["eth0"] = 1;
    undo = plan_undo(ops, in);
    ASSERT_EQ(undo.size(), 2u);
    EXPECT_EQ(undo[0].kind, RepairKind::route);
}

TEST_F(Plan, StateRoundTrips) {
    s.repair.rp_filter_loose = true;
    auto ops = plan_repair(s, in).ops;
    RepairRecord record{"5b1c2b8e-1f0c-4a57-9d5c-3f4e2a1b0c9d", ops, {ops.front()}};
    auto parsed = parse_state(serialize_state(record));
    ASSERT_TRUE(parsed.ok()) << parsed.error().describe();
    EXPECT_EQ(*parsed, record);
    EXPECT_EQ(parsed->changes().size(), ops.size() + 1);
    // A version-1 record (applied only, no boot) still reads.
    auto v1 = parse_state(R"({"version":1,"applied":[]})");
    ASSERT_TRUE(v1.ok());
    EXPECT_EQ(v1->boot_id, "");
}

TEST(State, RejectsBadInputNamingThePlace) {
    EXPECT_FALSE(parse_state("").ok());
    EXPECT_FALSE(parse_state("[]").ok());
    EXPECT_FALSE(parse_state(R"({"version":2,"applied":[]})").ok());
    auto r = parse_state(R"({"version":1,"applied":[{"kind":"rule","family":4}]})");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().describe().find("applied[0]"), std::string::npos);
    auto s = parse_state(
        R"({"version":1,"applied":[{"kind":"sysctl","key":"net.ipv4.ip_forward","dev":"eth0","old":0,"new":1}]})");
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().describe().find("rp_filter"), std::string::npos);
    EXPECT_TRUE(parse_state(R"({"version":1,"applied":[]})").ok());
}

}  // namespace

namespace {

// A record names devices that become paths (/proc/sys/net/ipv4/conf/<dev>/rp_filter) and
// route devices: only a valid interface name is accepted.
TEST(State, DeviceNamesMustBeInterfaceNames) {
    auto sysctl = [](const std::string& dev) {
        return parse_state(R"({"version":1,"applied":[{"kind":"sysctl","key":"net.ipv4.conf.)" +
                           dev + R"(.rp_filter","dev":")" + dev + R"(","old":1,"new":2}]})")
            .ok();
    };
    EXPECT_TRUE(sysctl("eth0"));
    EXPECT_TRUE(sysctl("bond0.100"));
    EXPECT_FALSE(sysctl("../../../../../etc/x"));
    EXPECT_FALSE(sysctl(".."));
    EXPECT_FALSE(sysctl("a-name-longer-than15"));
    EXPECT_FALSE(sysctl(""));
    EXPECT_FALSE(sysctl("eth 0"));
    auto route = [](const std::string& dev) {
        return parse_state(
                   R"({"version":1,"applied":[{"kind":"route","table":1000,"dst":"0.0.0.0/0","via":"10.0.0.1","dev":")" +
                   dev + R"(","ifindex":2,"scope":0,"protocol":4}]})")
            .ok();
    };
    EXPECT_TRUE(route("eth0"));
    EXPECT_FALSE(route("eth0/x"));
    EXPECT_FALSE(route("eth:0"));
}

}  // namespace
