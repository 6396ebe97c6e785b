// Sysctls applied inside a network namespace through the real /proc/sys (per-netns for net.*).
#include <gtest/gtest.h>

#include "ballast/sysctl/applier.hpp"
#include "ballast/sysctl/plan.hpp"
#include "ballast/sysctl/proc_sysctl.hpp"
#include "ballast/testing/netns.hpp"

using namespace ballast;
using namespace ballast::sysctl;
using namespace ballast::testing;

namespace {
std::string value(const NetNs& ns, const std::string& key) {
    auto v = ns.exec("sysctl -n " + key);
    while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
    return v;
}
}  // namespace

TEST(SysctlHost, DirectorSysctlsAreAppliedOnceInsideTheNamespace) {
    NetNs dir("sdr"), peer("spr");
    auto link = connect(dir, "10.220.0.1/24", peer, "10.220.0.2/24");
    dir.exec(
        "sysctl -qw net.ipv4.ip_forward=0 net.ipv4.conf.all.send_redirects=1 "
        "net.ipv4.conf." +
        link.a_if + ".send_redirects=1");
    const std::string host_forward = value(peer, "net.ipv4.ip_forward");

    SysctlInputs in;
    in.interfaces = {link.a_if};
    in.ipv6_services = true;
    auto report = dir.run_inside([&] {
        ProcSysctl access;
        in.ipvs_present = ipvs_present(access);
        SysctlApplier applier(access);
        auto first = applier.apply(plan_sysctls(in));
        auto second = applier.apply(plan_sysctls(in));
        if (!second.changes.empty()) throw std::runtime_error("second apply changed something");
        return first;
    });
    EXPECT_TRUE(report.errors.empty()) << report.errors[0].describe();
    EXPECT_EQ(report.changes.size(), 4u);  // forward v4+v6, send_redirects all+iface
    EXPECT_EQ(value(dir, "net.ipv4.ip_forward"), "1");
    EXPECT_EQ(value(dir, "net.ipv6.conf.all.forwarding"), "1");
    EXPECT_EQ(value(dir, "net.ipv4.conf.all.send_redirects"), "0");
    EXPECT_EQ(value(dir, "net.ipv4.conf." + link.a_if + ".send_redirects"), "0");
    // Another namespace is untouched.
    EXPECT_EQ(value(peer, "net.ipv4.ip_forward"), host_forward);
    EXPECT_EQ(value(peer, "net.ipv4.conf." + link.b_if + ".send_redirects"), "1");
}

TEST(SysctlHost, StrictRpFilterIsReportedNotChanged) {
    NetNs dir("srp"), peer("srq");
    auto link = connect(dir, "10.221.0.1/24", peer, "10.221.0.2/24");
    dir.exec("sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf." + link.a_if +
             ".rp_filter=1");
    auto findings = dir.run_inside([&] { return strict_rp_filter(ProcSysctl(), {link.a_if}); });
    ASSERT_EQ(findings.size(), 1u);
    EXPECT_EQ(findings[0].interface, link.a_if);
    EXPECT_EQ(value(dir, "net.ipv4.conf." + link.a_if + ".rp_filter"), "1");

    dir.exec("sysctl -qw net.ipv4.conf." + link.a_if + ".rp_filter=2");
    findings = dir.run_inside([&] { return strict_rp_filter(ProcSysctl(), {link.a_if}); });
    EXPECT_TRUE(findings.empty());
}
