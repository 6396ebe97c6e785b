// Pure verdicts of `ballastctl doctor`: config + FakeSysctl + facts -> checks.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "ballast/config/config.hpp"
#include "ballast/doctor/doctor.hpp"
#include "ballast/fakes/fake_sysctl.hpp"
#include "ballast/policy/policy.hpp"

namespace {

using namespace ballast;
using agent::Check;
using agent::Verdict;

model::DirectorConfig load(const std::string& toml) {
    auto r = config::load_string(toml, "test.toml");
    if (!r.ok()) {
        std::string all;
        for (const auto& d : r.diagnostics) all += config::format(d) + "\n";
        throw std::runtime_error(all);
    }
    return *r.config;
}

const char* kConfig = R"(
[director]
interfaces = ["eth1"]

[[service]]
name = "web"
vip = "192.0.2.1"
port = 80
[[service.real]]
address = "10.0.0.2"
[[service.real]]
address = "10.0.0.3"
)";

// A director where every sysctl is as it should be.
fakes::FakeSysctl good_sysctls() {
    return fakes::FakeSysctl({{"net.ipv4.ip_forward", "1"},
                              {"net.ipv4.conf.all.send_redirects", "0"},
                              {"net.ipv4.conf.eth1.send_redirects", "0"},
                              {"net.ipv4.conf.all.rp_filter", "0"},
                              {"net.ipv4.conf.eth1.rp_filter", "2"}});
}

model::IpvsTable table_for(const model::DirectorConfig& c) {
    model::IpvsTable t;
    for (const auto& s : c.services) {
        model::IpvsService svc{s.key, s.spec, {}};
        for (const auto& r : s.reals) svc.reals[r.key] = r.spec;
        t.services[s.key] = svc;
    }
    return t;
}

// Facts of a director that ballastd set up completely, every real server answering.
doctor::DirectorFacts good_facts(const model::DirectorConfig& c) {
    doctor::DirectorFacts f;
    auto table = nft::build_table(policy::desired_nat(c));
    if (!table) throw std::runtime_error(table.error().describe());
    f.nft_table = std::optional<nft::TableModel>(*table);
    f.ipvs = kernel::IpvsSnapshot{table_for(c), {}, {}, {}};
    for (const auto& k : doctor::reachability_probes(c)) f.probes[k] = {true, "connected"};
    return f;
}

std::vector<Check> named(const agent::Report& r, const std::string& name) {
    std::vector<Check> out;
    for (const auto& c : r.checks)
        if (c.name == name) out.push_back(c);
    return out;
}

const Check& only(const agent::Report& r, const std::string& name, const std::string& subject) {
    const Check* found = nullptr;
    for (const auto& c : r.checks)
        if (c.name == name && c.subject == subject) {
            EXPECT_EQ(found, nullptr) << "two checks " << name << " " << subject;
            found = &c;
        }
    if (!found) throw std::runtime_error("no check " + name + " " + subject);
    return *found;
}

TEST(Doctor, EverythingRightPassesEveryCheck) {
    auto c = load(kConfig);
    auto s = good_sysctls();
    auto r = doctor::evaluate(c, s, good_facts(c));
    for (const auto& chk : r.checks)
        EXPECT_EQ(chk.verdict, Verdict::pass)
            << chk.name << " " << chk.subject << ": " << chk.reason;
    EXPECT_EQ(named(r, "forwarding").size(), 1u);
    EXPECT_EQ(named(r, "send_redirects").size(), 2u);
    EXPECT_EQ(named(r, "rp_filter").size(), 1u);
    EXPECT_EQ(named(r, "ipvs").size(), 1u);
    EXPECT_EQ(named(r, "reachability").size(), 2u);
    EXPECT_EQ(doctor::exit_code(r), doctor::kExitOk);
}

TEST(Doctor, ForwardingOffFailsWithTheSysctlFix) {
    auto c = load(kConfig);
    auto s = good_sysctls();
    ASSERT_TRUE(s.write("net.ipv4.ip_forward", "0"));
    auto r = doctor::evaluate(c, s, good_facts(c));
    const auto& f = only(r, "forwarding", "net.ipv4.ip_forward");
    EXPECT_EQ(f.verdict, Verdict::fail);
    EXPECT_NE(f.reason.find("= 0, must be 1"), std::string::npos) << f.reason;
    EXPECT_EQ(f.fix, "sysctl -w net.ipv4.ip_forward=1");
    EXPECT_EQ(doctor::exit_code(r), doctor::kExitChecksFail);
}

TEST(Doctor, Ipv6ServiceAlsoNeedsIpv6Forwarding) {
    auto c = load(R"(
[[service]]
name = "v6"
vip = "2001:db8::1"
port = 80
[[service.real]]
address = "2001:db8:1::2"
)");
    fakes::FakeSysctl s({{"net.ipv4.ip_forward", "1"},
                         {"net.ipv6.conf.all.forwarding", "0"},
                         {"net.ipv4.conf.all.send_redirects", "0"}});
    auto r = doctor::evaluate(c, s, good_facts(c));
    const auto& f = only(r, "forwarding", "net.ipv6.conf.all.forwarding");
    EXPECT_EQ(f.verdict, Verdict::fail);
    EXPECT_EQ(f.fix, "sysctl -w net.ipv6.conf.all.forwarding=1");
    EXPECT_EQ(only(r, "forwarding", "net.ipv4.ip_forward").verdict, Verdict::pass);
}

TEST(Doctor, SendRedirectsOnAnInterfaceFailsAndSaysWhy) {
    auto c = load(kConfig);
    auto s = good_sysctls();
    ASSERT_TRUE(s.write("net.ipv4.conf.eth1.send_redirects", "1"));
    auto r = doctor::evaluate(c, s, good_facts(c));
    const auto& f = only(r, "send_redirects", "net.ipv4.conf.eth1.send_redirects");
    EXPECT_EQ(f.verdict, Verdict::fail);
    EXPECT_NE(f.reason.find("redirected around the director"), std::string::npos) << f.reason;
    EXPECT_EQ(f.fix, "sysctl -w net.ipv4.conf.eth1.send_redirects=0");
    EXPECT_EQ(only(r, "send_redirects", "net.ipv4.conf.all.send_redirects").verdict, Verdict::pass);
}

TEST(Doctor, MissingInterfaceFailsItsSendRedirectsCheck) {
    auto c = load(kConfig);
    fakes::FakeSysctl s({{"net.ipv4.ip_forward", "1"}, {"net.ipv4.conf.all.send_redirects", "0"}});
    auto r = doctor::evaluate(c, s, good_facts(c));
    const auto& f = only(r, "send_redirects", "net.ipv4.conf.eth1.send_redirects");
    EXPECT_EQ(f.verdict, Verdict::fail);
    EXPECT_NE(f.reason.find("does the interface exist"), std::string::npos) << f.reason;
}

TEST(Doctor, StrictRpFilterWarnsWithLooseFix) {
    auto c = load(kConfig);
    auto s = good_sysctls();
    // Effective = max(all, eth1) = 1: strict.
    ASSERT_TRUE(s.write("net.ipv4.conf.all.rp_filter", "1"));
    ASSERT_TRUE(s.write("net.ipv4.conf.eth1.rp_filter", "0"));
    auto r = doctor::evaluate(c, s, good_facts(c));
    const auto& f = only(r, "rp_filter", "eth1");
    EXPECT_EQ(f.verdict, Verdict::warn);
    EXPECT_NE(f.reason.find("strict reverse-path filtering"), std::string::npos);
    EXPECT_EQ(f.fix, "sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.eth1.rp_filter=2");
    EXPECT_EQ(doctor::exit_code(r), doctor::kExitOk);  // a warning is not a failure
}

TEST(Doctor, BondWithASlaveDownWarns) {
    auto c = load(kConfig);
    auto s = good_sysctls();
    auto f = good_facts(c);
    f.bonds.emplace("eth1",
                    agent::BondState{"active-backup 1", "ens1", {{"ens1", true}, {"ens2", false}}});
    auto r = doctor::evaluate(c, s, f);
    const auto& b = only(r, "bond", "eth1");
    EXPECT_EQ(b.verdict, Verdict::warn);
    EXPECT_NE(b.reason.find("ens2 link down (1/2 up)"), std::string::npos) << b.reason;
}

TEST(Doctor, MissingNftTableFails) {
    auto c = load(kConfig);
    auto s = good_sysctls();
    auto f = good_facts(c);
    f.nft_table = std::optional<nft::TableModel>{};
    auto r = doctor::evaluate(c, s, f);
    const auto& t = only(r, "nft-table", "inet ballast");
    EXPECT_EQ(t.verdict, Verdict::fail);
    EXPECT_NE(t.reason.find("does not exist"), std::string::npos);
    EXPECT_TRUE(named(r, "masquerade-set").empty());
}

TEST(Doctor, RealServerMissingFromTheMasqueradeSetFailsNamingIt) {
    auto c = load(kConfig);
    auto s = good_sysctls();
    auto f = good_facts(c);
    // The table as it was before 10.0.0.3 was added to the config.
    auto older = c;
    older.services[0].reals.pop_back();
    auto table = nft::build_table(policy::desired_nat(older));
    ASSERT_TRUE(table);
    f.nft_table = std::optional<nft::TableModel>(*table);
    auto r = doctor::evaluate(c, s, f);
    const auto& m = only(r, "masquerade-set", "inet ballast sets rs4/rs6");
    EXPECT_EQ(m.verdict, Verdict::fail);
    EXPECT_NE(m.reason.find("10.0.0.3"), std::string::npos) << m.reason;
    EXPECT_EQ(m.reason.find("10.0.0.2"), std::string::npos) << m.reason;
}

TEST(Doctor, MasqueradeChainWithoutRulesFails) {
    auto c = load(kConfig);
    auto s = good_sysctls();
    auto f = good_facts(c);
    auto table = **f.nft_table;
    for (auto& ch : table.chains)
        if (ch.name == nft::kChainPostrouting) ch.rules.clear();
    f.nft_table = std::optional<nft::TableModel>(table);
    auto r = doctor::evaluate(c, s, f);
    EXPECT_EQ(only(r, "masquerade", "inet ballast chain postrouting").verdict, Verdict::fail);
}

TEST(Doctor, IpvsMissingFromTheKernelFailsWithModprobe) {
    auto c = load(kConfig);
    auto s = good_sysctls();
    auto f = good_facts(c);
    f.ipvs = make_error(ENOENT, "CTRL_CMD_GETFAMILY", "IPVS",
                        "IPVS is not available in this kernel: load ip_vs");
    auto r = doctor::evaluate(c, s, f);
    const auto& i = only(r, "ipvs", "IPVS");
    EXPECT_EQ(i.verdict, Verdict::fail);
    EXPECT_NE(i.reason.find("load ip_vs"), std::string::npos);
    EXPECT_EQ(i.fix, "modprobe ip_vs");
}

TEST(Doctor, IpvsServiceOrRealMissingFails) {
    auto c = load(kConfig);
    auto s = good_sysctls();
    auto f = good_facts(c);
    f.ipvs->table.services.begin()->second.reals.erase(c.services[0].reals[1].key);
    auto r = doctor::evaluate(c, s, f);
    const auto& i = only(r, "ipvs", "web 192.0.2.1:80/tcp");
    EXPECT_EQ(i.verdict, Verdict::fail);
    EXPECT_NE(i.reason.find("10.0.0.3:80"), std::string::npos) << i.reason;

    f.ipvs->table.services.clear();
    r = doctor::evaluate(c, s, f);
    EXPECT_NE(only(r, "ipvs", "web 192.0.2.1:80/tcp").reason.find("not in the kernel"),
              std::string::npos);
}

TEST(Doctor, UnreachableRealServerFailsWithTheProbeReason) {
    auto c = load(kConfig);
    auto s = good_sysctls();
    auto f = good_facts(c);
    auto keys = doctor::reachability_probes(c);
    ASSERT_EQ(keys.size(), 2u);
    f.probes[keys[1]] = {false, "connect refused"};
    f.probes.erase(keys[0]);
    auto r = doctor::evaluate(c, s, f);
    const auto& down = only(r, "reachability", keys[1].to_string());
    EXPECT_EQ(down.verdict, Verdict::fail);
    EXPECT_NE(down.reason.find("connect refused"), std::string::npos);
    EXPECT_NE(down.fix.find("ip route get " + keys[1].target.addr.to_string()), std::string::npos);
    EXPECT_EQ(only(r, "reachability", keys[0].to_string()).verdict, Verdict::warn);
}

TEST(Doctor, ProbesUseTheConfiguredCheckWithACappedTimeout) {
    auto c = load(R"(
[[service]]
name = "web"
vip = "192.0.2.1"
port = 80
check = { type = "http", path = "/health", timeout = "5s", interval = "10s" }
[[service.real]]
address = "10.0.0.2"
[[service]]
name = "dns"
vip = "192.0.2.1"
port = 53
protocol = "udp"
check.type = "none"
[[service.real]]
address = "10.0.0.9"
)");
    auto keys = doctor::reachability_probes(c);
    ASSERT_EQ(keys.size(), 1u);  // the unchecked UDP service cannot be probed
    EXPECT_EQ(keys[0].spec->type, model::CheckType::http);
    EXPECT_EQ(keys[0].spec->path, "/health");
    EXPECT_EQ(keys[0].spec->timeout, doctor::kProbeTimeoutCap);
    EXPECT_EQ(keys[0].target.to_string(), "10.0.0.2:80");
}

TEST(Doctor, JsonCarriesEveryCheckAndTheOverallVerdict) {
    auto c = load(kConfig);
    auto s = good_sysctls();
    ASSERT_TRUE(s.write("net.ipv4.ip_forward", "0"));
    auto r = doctor::evaluate(c, s, good_facts(c));
    auto j = boost::json::parse(doctor::render_json(r, "/etc/ballast/ballast.toml")).as_object();
    EXPECT_EQ(j["verdict"].as_string(), "fail");
    EXPECT_EQ(j["config"].as_string(), "/etc/ballast/ballast.toml");
    const auto& checks = j["checks"].as_array();
    ASSERT_EQ(checks.size(), r.checks.size());
    const auto& first = checks[0].as_object();
    EXPECT_EQ(first.at("check").as_string(), "forwarding");
    EXPECT_EQ(first.at("verdict").as_string(), "fail");
    EXPECT_EQ(first.at("fix").as_string(), "sysctl -w net.ipv4.ip_forward=1");
}

}  // namespace
