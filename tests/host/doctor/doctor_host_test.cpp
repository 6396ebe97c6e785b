// `ballastctl doctor` against real namespaces: a director namespace with one interface
// towards a real-server namespace that runs a TCP listener. The binary itself runs inside
// the director namespace (ip netns exec), exactly as an operator would run it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "ballast/config/config.hpp"
#include "ballast/doctor/doctor.hpp"
#include "ballast/nft/netlink_nft_client.hpp"
#include "ballast/policy/policy.hpp"
#include "ballast/testing/netns.hpp"
#include "ballast/testing/socket.hpp"

namespace {

using namespace ballast;
using ballast::testing::Fd;
using ballast::testing::listen_tcp;
using ballast::testing::NetNs;

struct TempFile {
    std::string path;
    explicit TempFile(const std::string& text) {
        char name[] = "/tmp/ballast-doctor-XXXXXX";
        int fd = ::mkstemp(name);
        if (fd < 0) throw std::runtime_error("mkstemp failed");
        ::close(fd);
        path = name;
        std::ofstream(path) << text;
    }
    ~TempFile() { std::remove(path.c_str()); }
};

struct DoctorRun {
    int status = 0;
    boost::json::object json;
    // The one check with this name and subject.
    boost::json::object check(const std::string& name, const std::string& subject) const {
        for (const auto& c : json.at("checks").as_array()) {
            const auto& o = c.as_object();
            if (o.at("check").as_string() == name && o.at("subject").as_string() == subject)
                return o;
        }
        throw std::runtime_error("no check " + name + " " + subject + " in " +
                                 boost::json::serialize(json));
    }
    std::string verdict(const std::string& name, const std::string& subject) const {
        return std::string(check(name, subject).at("verdict").as_string());
    }
    std::string reason(const std::string& name, const std::string& subject) const {
        return std::string(check(name, subject).at("reason").as_string());
    }
};

class DoctorHost : public ::testing::Test {
protected:
    NetNs director{"ddr"}, real{"drs"};
    std::string director_if;
    std::unique_ptr<TempFile> config;
    std::unique_ptr<Fd> listener;

    void SetUp() override {
        auto link = ballast::testing::connect(director, "10.213.1.254/24", real, "10.213.1.10/24");
        director_if = link.a_if;
        config = std::make_unique<TempFile>(
            "[director]\n"
            "interfaces = [\"" +
            director_if +
            "\"]\n"
            "[[service]]\n"
            "name = \"web\"\n"
            "vip = \"192.0.2.1\"\n"
            "port = 8080\n"
            "check = { type = \"tcp\", timeout = \"500ms\" }\n"
            "[[service.real]]\n"
            "address = \"10.213.1.10\"\n");
        listener =
            std::make_unique<Fd>(real.run_inside([] { return listen_tcp("10.213.1.10", 8080); }));
    }

    DoctorRun run_doctor() const {
        auto out =
            director.try_exec(std::string(BALLASTCTL) + " doctor -c " + config->path + " --json");
        DoctorRun r;
        r.status = out.status;
        try {
            r.json = boost::json::parse(out.output).as_object();
        } catch (const std::exception& e) {
            throw std::runtime_error("not JSON (" + std::string(e.what()) + "): " + out.output);
        }
        return r;
    }

    std::string redirects_key() const { return "net.ipv4.conf." + director_if + ".send_redirects"; }
};

TEST_F(DoctorHost, ForwardingAndSendRedirectsFailUntilSet) {
    director.exec("sysctl -qw net.ipv4.ip_forward=0 net.ipv4.conf.all.send_redirects=1 " +
                  redirects_key() + "=1");
    auto before = run_doctor();
    EXPECT_EQ(before.status, doctor::kExitChecksFail);
    EXPECT_EQ(before.json.at("verdict").as_string(), "fail");
    EXPECT_EQ(before.verdict("forwarding", "net.ipv4.ip_forward"), "fail");
    EXPECT_EQ(before.check("forwarding", "net.ipv4.ip_forward").at("fix").as_string(),
              "sysctl -w net.ipv4.ip_forward=1");
    EXPECT_EQ(before.verdict("send_redirects", "net.ipv4.conf.all.send_redirects"), "fail");
    EXPECT_EQ(before.verdict("send_redirects", redirects_key()), "fail");
    EXPECT_NE(before.reason("send_redirects", redirects_key()).find("redirected around"),
              std::string::npos);

    director.exec("sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 " +
                  redirects_key() + "=0");
    auto after = run_doctor();
    EXPECT_EQ(after.verdict("forwarding", "net.ipv4.ip_forward"), "pass");
    EXPECT_EQ(after.verdict("send_redirects", "net.ipv4.conf.all.send_redirects"), "pass");
    EXPECT_EQ(after.verdict("send_redirects", redirects_key()), "pass");
}

TEST_F(DoctorHost, NftTableMissingFailsThenPassesOnceApplied) {
    auto before = run_doctor();
    EXPECT_EQ(before.verdict("nft-table", "inet ballast"), "fail");
    EXPECT_NE(before.reason("nft-table", "inet ballast").find("does not exist"), std::string::npos);

    auto loaded = config::load_file(config->path);
    ASSERT_TRUE(loaded.ok());
    auto desired = policy::desired_nat(*loaded.config);
    director.run_inside([&] {
        auto client = nft::NetlinkNftClient::open();
        if (!client) throw std::runtime_error(client.error().describe());
        auto applied = (*client)->apply(desired);
        if (!applied) throw std::runtime_error(applied.error().describe());
    });
    auto after = run_doctor();
    EXPECT_EQ(after.verdict("nft-table", "inet ballast"), "pass");
    EXPECT_EQ(after.verdict("masquerade", "inet ballast chain postrouting"), "pass");
    EXPECT_EQ(after.verdict("masquerade-set", "inet ballast sets rs4/rs6"), "pass");
    // Exactly one nft-table check: nothing else differs from the config.
    size_t tables = 0;
    for (const auto& c : after.json.at("checks").as_array())
        if (c.as_object().at("check").as_string() == "nft-table") ++tables;
    EXPECT_EQ(tables, 1u);
}

TEST_F(DoctorHost, ReachableRealServerPassesStoppedListenerFails) {
    const std::string subject = "tcp 10.213.1.10:8080";
    auto up = run_doctor();
    EXPECT_EQ(up.verdict("reachability", subject), "pass") << up.reason("reachability", subject);

    listener->reset();
    auto down = run_doctor();
    EXPECT_EQ(down.verdict("reachability", subject), "fail");
    EXPECT_NE(down.reason("reachability", subject).find("refused"), std::string::npos)
        << down.reason("reachability", subject);
    EXPECT_EQ(down.status, doctor::kExitChecksFail);
}

// This host's kernel has no IPVS (the kernel lab has; see tests/kernel/doctor).
TEST_F(DoctorHost, IpvsAbsentFailsWithModprobe) {
    auto r = run_doctor();
    EXPECT_EQ(r.verdict("ipvs", "IPVS"), "fail");
    EXPECT_NE(r.reason("ipvs", "IPVS").find("load ip_vs"), std::string::npos);
    EXPECT_EQ(r.check("ipvs", "IPVS").at("fix").as_string(), "modprobe ip_vs");
    EXPECT_EQ(r.status, doctor::kExitChecksFail);
}

TEST_F(DoctorHost, ConfigErrorIsReportedWithItsPlaceAndExitsOne) {
    TempFile bad("[[service]]\nname = \"web\"\nvip = \"192.0.2.1\"\nport = 99999\n");
    auto out = director.try_exec(std::string(BALLASTCTL) + " doctor -c " + bad.path + " --json");
    EXPECT_EQ(out.status, doctor::kExitError);
    EXPECT_NE(out.output.find(bad.path + ":4:"), std::string::npos) << out.output;
}

}  // namespace
