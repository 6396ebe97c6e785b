// The director checklist where the kernel has IPVS and bonding (scripts/lab-vm): IPVS
// services set up as ballastd would -> the ipvs checks pass; a real server removed -> fail
// naming it; a bonded director interface with a slave down -> warn. Runs in the guest's
// own namespace because bond state is read from /sys, which shows the namespace sysfs was
// mounted in; the guest is disposable and every name is unique anyway.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>

#include "ballast/config/config.hpp"
#include "ballast/doctor/doctor.hpp"
#include "ballast/doctor/gather.hpp"
#include "ballast/kernel/ipvs_netlink_client.hpp"
#include "ballast/nft/netlink_nft_client.hpp"
#include "ballast/policy/policy.hpp"
#include "ballast/sysctl/proc_sysctl.hpp"
#include "ballast/testing/lab.hpp"

using namespace ballast;
using namespace ballast::testing;

namespace {

struct Cleanup {
    std::vector<std::string> links;
    int fd = -1;
    ~Cleanup() {
        if (fd >= 0) ::close(fd);
        for (const auto& n : links) run_argv({"ip", "link", "del", n});
    }
};

// Runs fn when the scope ends, whatever happens.
struct AtExit {
    std::function<void()> fn;
    ~AtExit() { fn(); }
};

const agent::Check& find(const agent::Report& r, const std::string& name,
                         const std::string& subject) {
    for (const auto& c : r.checks)
        if (c.name == name && c.subject == subject) return c;
    throw std::runtime_error("no check " + name + " " + subject);
}

TEST(DoctorKernel, IpvsServicesPassAndBondSlaveDownWarns) {
    require_ipvs_kernel();
    ASSERT_TRUE(loaded_modules().count("bonding")) << "the lab did not load bonding";
    const std::string bond = unique_name("dbd"), s1 = unique_name("ds"), s2 = unique_name("ds"),
                      p1 = unique_name("dp"), p2 = unique_name("dp");
    Cleanup cleanup;
    cleanup.links = {bond, s1, s2};
    check_argv(
        {"ip", "link", "add", bond, "type", "bond", "mode", "active-backup", "miimon", "50"});
    check_argv({"ip", "link", "add", s1, "type", "veth", "peer", "name", p1});
    check_argv({"ip", "link", "add", s2, "type", "veth", "peer", "name", p2});
    check_argv({"ip", "link", "set", s1, "master", bond});
    check_argv({"ip", "link", "set", s2, "master", bond});
    // p2 stays down, so slave s2 has no carrier.
    for (const auto& l : {p1, s1, s2, bond}) check_argv({"ip", "link", "set", l, "up"});
    check_argv({"ip", "addr", "add", "10.124.0.5/24", "dev", bond});
    check_argv({"ip", "link", "set", "lo", "up"});  // local delivery to the real server

    auto loaded =
        config::load_string("[director]\ninterfaces = [\"" + bond +
                                "\"]\n"
                                "[[service]]\nname = \"web\"\nvip = \"192.0.2.80\"\nport = 80\n"
                                "check = { type = \"tcp\", timeout = \"1s\" }\n"
                                "[[service.real]]\naddress = \"10.124.0.5:8080\"\n",
                            "lab.toml");
    ASSERT_TRUE(loaded.ok()) << (loaded.diagnostics.empty()
                                     ? std::string()
                                     : config::format(loaded.diagnostics.front()));
    const auto& cfg = *loaded.config;

    // Set up the director as ballastd would: sysctls, table inet ballast, IPVS.
    check_argv({"sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.send_redirects=0",
                "net.ipv4.conf." + bond + ".send_redirects=0", "net.ipv4.vs.expire_nodest_conn=1",
                "net.ipv4.vs.expire_quiescent_template=1"});
    auto nft_client = nft::NetlinkNftClient::open();
    ASSERT_TRUE(nft_client) << nft_client.error().describe();
    auto applied = (*nft_client)->apply(policy::desired_nat(cfg));
    ASSERT_TRUE(applied) << applied.error().describe();
    auto ipvs = kernel::IpvsNetlinkClient::open();
    ASSERT_TRUE(ipvs) << ipvs.error().describe();
    const auto& svc = cfg.services.at(0);
    const auto& real = svc.reals.at(0);
    std::vector<model::IpvsOp> ops = {model::IpvsOp::add_service(svc.key, svc.spec),
                                      model::IpvsOp::add_dest(svc.key, real.key, real.spec)};
    for (const auto& st : (*ipvs)->apply(ops)) ASSERT_TRUE(st) << st.error().describe();
    AtExit undo_kernel{[&] {
        (void)(*ipvs)->del_service(svc.key);
        (void)(*nft_client)->remove();
    }};
    // The real server: a listener on the bond's address.
    cleanup.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(8080);
    ::inet_pton(AF_INET, "10.124.0.5", &sa.sin_addr);
    ASSERT_EQ(::bind(cleanup.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    ASSERT_EQ(::listen(cleanup.fd, 8), 0);

    sysctl::ProcSysctl proc;
    auto r = doctor::evaluate(cfg, proc, doctor::gather_facts(cfg));
    const auto& svc_check = find(r, "ipvs", "web 192.0.2.80:80/tcp");
    EXPECT_EQ(svc_check.verdict, agent::Verdict::pass) << svc_check.reason;
    EXPECT_EQ(find(r, "forwarding", "net.ipv4.ip_forward").verdict, agent::Verdict::pass);
    EXPECT_EQ(find(r, "sysctl", "net.ipv4.vs.expire_nodest_conn").verdict, agent::Verdict::pass);
    EXPECT_EQ(find(r, "masquerade-set", "inet ballast sets rs4/rs6").verdict, agent::Verdict::pass);
    const auto& reach = find(r, "reachability", "tcp 10.124.0.5:8080");
    EXPECT_EQ(reach.verdict, agent::Verdict::pass) << reach.reason;
    const auto& b = find(r, "bond", bond);
    EXPECT_EQ(b.verdict, agent::Verdict::warn) << b.reason;
    EXPECT_NE(b.reason.find(s2), std::string::npos) << b.reason;

    // The real server disappears from IPVS behind the daemon's back.
    ASSERT_TRUE((*ipvs)->del_dest(svc.key, real.key));
    r = doctor::evaluate(cfg, proc, doctor::gather_facts(cfg));
    const auto& gone = find(r, "ipvs", "web 192.0.2.80:80/tcp");
    EXPECT_EQ(gone.verdict, agent::Verdict::fail);
    EXPECT_NE(gone.reason.find("10.124.0.5:8080"), std::string::npos) << gone.reason;
}

}  // namespace
