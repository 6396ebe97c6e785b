// Sysctl planner (pure) and applier over a temp directory standing in for /proc/sys.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "ballast/fakes/fake_sysctl.hpp"
#include "ballast/sysctl/applier.hpp"
#include "ballast/sysctl/plan.hpp"
#include "ballast/sysctl/proc_sysctl.hpp"

using namespace ballast;
using namespace ballast::sysctl;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> keys(const std::vector<DesiredSysctl>& v) {
    std::vector<std::string> k;
    for (const auto& d : v) k.push_back(d.key);
    return k;
}

// A fake /proc/sys: files under a fresh temp dir, removed afterwards.
struct FakeProcSys {
    fs::path root;
    FakeProcSys() {
        std::string tmpl = (fs::temp_directory_path() / "ballast-sysctl-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp");
        root = tmpl;
    }
    ~FakeProcSys() { fs::remove_all(root); }
    void set(const std::string& rel_path, const std::string& value) {
        fs::create_directories((root / rel_path).parent_path());
        std::ofstream(root / rel_path) << value << "\n";
    }
    std::string get(const std::string& rel_path) {
        std::ifstream in(root / rel_path);
        std::string v;
        in >> v;
        return v;
    }
};

}  // namespace

TEST(SysctlPlan, DefaultsForAnIpv4DirectorWithoutIpvs) {
    SysctlInputs in;
    in.interfaces = {"eth0", "eth1.100"};
    EXPECT_EQ(keys(plan_sysctls(in)),
              (std::vector<std::string>{"net.ipv4.ip_forward", "net.ipv4.conf.all.send_redirects",
                                        "net.ipv4.conf.eth0.send_redirects",
                                        "net.ipv4.conf.eth1/100.send_redirects"}));
    for (const auto& d : plan_sysctls(in)) EXPECT_FALSE(d.reason.empty());
}

TEST(SysctlPlan, Ipv6AndIpvsAddTheirKeys) {
    SysctlInputs in;
    in.ipv6_services = true;
    in.ipvs_present = true;
    in.settings.vs_conntrack = 1;
    auto plan = plan_sysctls(in);
    auto k = keys(plan);
    EXPECT_NE(std::find(k.begin(), k.end(), "net.ipv6.conf.all.forwarding"), k.end());
    EXPECT_NE(std::find(k.begin(), k.end(), "net.ipv4.vs.expire_nodest_conn"), k.end());
    EXPECT_NE(std::find(k.begin(), k.end(), "net.ipv4.vs.expire_quiescent_template"), k.end());
    EXPECT_EQ(plan.back().key, "net.ipv4.vs.conntrack");
    EXPECT_EQ(plan.back().value, "1");
}

TEST(SysctlPlan, DefaultsCanBeSwitchedOffOrOverridden) {
    SysctlInputs in;
    in.ipvs_present = true;
    in.interfaces = {"eth0"};
    in.settings.disable_send_redirects = false;
    in.settings.expire_quiescent_template = false;
    in.settings.extra = {{"net.ipv4.ip_forward", "0"}, {"net.ipv4.vs.snat_reroute", "0"}};
    auto plan = plan_sysctls(in);
    EXPECT_EQ(keys(plan),
              (std::vector<std::string>{"net.ipv4.ip_forward", "net.ipv4.vs.expire_nodest_conn",
                                        "net.ipv4.vs.snat_reroute"}));
    EXPECT_EQ(plan[0].value, "0");
    EXPECT_EQ(plan[0].reason, "configured override");
}

TEST(ProcSysctl, KeysMapToPathsLikeSysctl8) {
    ProcSysctl p("/x");
    EXPECT_EQ(p.path_of("net.ipv4.conf.eth1/100.send_redirects"),
              "/x/net/ipv4/conf/eth1.100/send_redirects");
    EXPECT_EQ(p.path_of("net.ipv4.ip_forward"), "/x/net/ipv4/ip_forward");
}

TEST(SysctlApplier, ChangesOnlyWhatDiffersLogsOnceAndRemembersOldValues) {
    FakeProcSys sys;
    sys.set("net/ipv4/ip_forward", "0");
    sys.set("net/ipv4/conf/all/send_redirects", "1");
    sys.set("net/ipv4/conf/eth0/send_redirects", "0");  // already right
    ProcSysctl access(sys.root.string());
    SysctlInputs in;
    in.interfaces = {"eth0"};
    SysctlApplier applier(access);

    auto first = applier.apply(plan_sysctls(in));
    EXPECT_TRUE(first.errors.empty());
    ASSERT_EQ(first.changes.size(), 2u);
    EXPECT_EQ(first.changes[0],
              (SysctlChange{"net.ipv4.ip_forward", "0", "1", plan_sysctls(in)[0].reason}));
    EXPECT_EQ(first.changes[1].old_value, "1");
    EXPECT_EQ(sys.get("net/ipv4/ip_forward"), "1");
    EXPECT_EQ(sys.get("net/ipv4/conf/all/send_redirects"), "0");

    auto second = applier.apply(plan_sysctls(in));
    EXPECT_TRUE(second.changes.empty());
    EXPECT_TRUE(second.errors.empty());

    // Someone flips it back: changed again, but the remembered original stays the first one.
    sys.set("net/ipv4/ip_forward", "0");
    auto third = applier.apply(plan_sysctls(in));
    ASSERT_EQ(third.changes.size(), 1u);
    EXPECT_EQ(applier.previous_values().at("net.ipv4.ip_forward"), "0");
    EXPECT_EQ(applier.previous_values().at("net.ipv4.conf.all.send_redirects"), "1");
    EXPECT_EQ(applier.previous_values().count("net.ipv4.conf.eth0.send_redirects"), 0u);
}

TEST(SysctlApplier, MissingKeyIsAnErrorNamingItAndTheRestIsStillApplied) {
    FakeProcSys sys;
    sys.set("net/ipv4/ip_forward", "0");
    sys.set("net/ipv4/conf/all/send_redirects", "1");
    ProcSysctl access(sys.root.string());
    SysctlInputs in;
    in.interfaces = {"nosuch0"};
    SysctlApplier applier(access);
    auto r = applier.apply(plan_sysctls(in));
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].key, "net.ipv4.conf.nosuch0.send_redirects");
    EXPECT_EQ(r.errors[0].code, ENOENT);
    EXPECT_EQ(r.changes.size(), 2u);
}

TEST(SysctlApplier, IpvsIsDetectedByItsDirectory) {
    FakeProcSys sys;
    sys.set("net/ipv4/ip_forward", "1");
    ProcSysctl access(sys.root.string());
    EXPECT_FALSE(ipvs_present(access));
    sys.set("net/ipv4/vs/expire_nodest_conn", "0");
    EXPECT_TRUE(ipvs_present(access));
}

TEST(RpFilter, StrictIsReportedUsingTheMaxOfAllAndInterface) {
    FakeProcSys sys;
    sys.set("net/ipv4/conf/all/rp_filter", "0");
    sys.set("net/ipv4/conf/eth0/rp_filter", "1");
    sys.set("net/ipv4/conf/eth1/rp_filter", "2");
    sys.set("net/ipv4/conf/eth2/rp_filter", "0");
    ProcSysctl access(sys.root.string());
    auto f = strict_rp_filter(access, {"eth0", "eth1", "eth2"});
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].interface, "eth0");
    EXPECT_NE(f[0].message.find("asymmetric"), std::string::npos);

    sys.set("net/ipv4/conf/all/rp_filter", "1");
    f = strict_rp_filter(access, {"eth0", "eth1", "eth2"});
    ASSERT_EQ(f.size(), 2u);  // eth1: max(1, 2) = 2 is loose, not strict
    EXPECT_EQ(f[1].interface, "eth2");
    EXPECT_EQ(f[1].all, 1);
    EXPECT_EQ(f[1].interface_value, 0);
    EXPECT_EQ(f[1].effective, 1);
    EXPECT_EQ(sys.get("net/ipv4/conf/eth2/rp_filter"), "0");  // reported, not changed
}

TEST(SysctlApplier, AFailedWriteIsReportedAndNotRememberedAsChanged) {
    fakes::FakeSysctl sys({{"net.ipv4.ip_forward", "0"},
                           {"net.ipv4.conf.all.send_redirects", "1"},
                           {"net.ipv4.vs.expire_nodest_conn", "0"}});
    sys.fail_writes("net.ipv4.ip_forward", EROFS);
    SysctlInputs in;
    in.ipvs_present = ipvs_present(sys);
    in.settings.expire_quiescent_template = false;
    SysctlApplier applier(sys);
    auto r = applier.apply(plan_sysctls(in));
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].code, EROFS);
    EXPECT_EQ(r.errors[0].key, "net.ipv4.ip_forward");
    ASSERT_EQ(r.changes.size(), 2u);
    EXPECT_EQ(applier.previous_values().count("net.ipv4.ip_forward"), 0u);
    EXPECT_EQ(sys.writes(), (std::vector<std::pair<std::string, std::string>>{
                                {"net.ipv4.conf.all.send_redirects", "0"},
                                {"net.ipv4.vs.expire_nodest_conn", "1"}}));
}
