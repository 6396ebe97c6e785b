// (8) A bond with one slave down is a warning, naming the slave, mode and active slave.
// Runs in the kernel lab (bonding module). The bond lives in the guest's own network
// namespace because the agent reads /sys/class/net/<bond>/bonding, and sysfs shows the
// namespace it was mounted in; the guest is disposable and names are unique anyway.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "ballast/agent/netlink.hpp"
#include "ballast/agent/verdict.hpp"
#include "ballast/testing/lab.hpp"

using namespace ballast::agent;
using namespace ballast::testing;

namespace {

std::optional<Check> bond_check(const AgentSettings& s) {
    auto q = open_route_query();
    if (!q) throw std::runtime_error(q.error().describe());
    auto h = system_host_info();
    Report r = evaluate(s, **q, *h);
    for (const auto& c : r.checks)
        if (c.name == "bond") return c;
    return std::nullopt;
}

// Removes the links whatever happens (deleting one veth end removes its peer).
struct Links {
    std::vector<std::string> names;
    ~Links() {
        for (const auto& n : names) run_argv({"ip", "link", "del", n});
    }
};

TEST(AgentBond, SlaveDownIsAWarning) {
    require_ipvs_kernel();
    ASSERT_TRUE(loaded_modules().count("bonding")) << "the lab did not load bonding";
    const std::string bond = unique_name("abd"), s1 = unique_name("as"), s2 = unique_name("as"),
                      p1 = unique_name("ap"), p2 = unique_name("ap");
    Links cleanup{{bond, s1, s2}};
    check_argv(
        {"ip", "link", "add", bond, "type", "bond", "mode", "active-backup", "miimon", "50"});
    check_argv({"ip", "link", "add", s1, "type", "veth", "peer", "name", p1});
    check_argv({"ip", "link", "add", s2, "type", "veth", "peer", "name", p2});
    check_argv({"ip", "link", "set", s1, "master", bond});
    check_argv({"ip", "link", "set", s2, "master", bond});
    for (const auto& l : {p1, p2, s1, s2, bond}) check_argv({"ip", "link", "set", l, "up"});
    check_argv({"ip", "addr", "add", "10.123.0.5/24", "dev", bond});
    check_argv({"ip", "route", "add", "203.0.113.0/24", "via", "10.123.0.1", "dev", bond});

    AgentSettings s;
    s.real_servers = {RealServerEntry{
        *IpAddress::parse("10.123.0.5"), *IpAddress::parse("10.123.0.1"), {}, Transport::tcp}};
    s.probe_clients = {*IpAddress::parse("203.0.113.9")};

    auto wait_for = [&](Verdict want) {
        std::optional<Check> c;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < deadline) {
            c = bond_check(s);
            if (c && c->verdict == want) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return c;
    };

    auto healthy = wait_for(Verdict::pass);
    ASSERT_TRUE(healthy) << "no bond check for " << bond;
    EXPECT_EQ(healthy->verdict, Verdict::pass) << healthy->reason;
    EXPECT_NE(healthy->reason.find("mode active-backup 1"), std::string::npos) << healthy->reason;
    EXPECT_NE(healthy->reason.find("all 2 slaves up"), std::string::npos) << healthy->reason;

    // Pull the cable of the second slave: its peer goes down, the slave loses carrier.
    check_argv({"ip", "link", "set", p2, "down"});
    auto degraded = wait_for(Verdict::warn);
    ASSERT_TRUE(degraded);
    EXPECT_EQ(degraded->verdict, Verdict::warn) << degraded->reason;
    EXPECT_NE(degraded->reason.find("slave " + s2 + " link down (1/2 up)"), std::string::npos)
        << degraded->reason;
    EXPECT_NE(degraded->reason.find("active " + s1), std::string::npos) << degraded->reason;

    check_argv({"ip", "link", "set", p1, "down"});
    auto dead = wait_for(Verdict::fail);
    ASSERT_TRUE(dead);
    EXPECT_EQ(dead->verdict, Verdict::fail) << dead->reason;
    EXPECT_NE(dead->reason.find("no slave has link"), std::string::npos) << dead->reason;
}

}  // namespace
