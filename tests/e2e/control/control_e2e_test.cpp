// ballastctl against the real ballastd, in the kernel lab (one process, one topology: a
// client, the director, three real servers serving HTTP and echo):
//   - `ballastctl drain` takes one real server out of new connections while connections it
//     already has keep moving bytes; `enable` brings it back;
//   - a drain survives a reload and a daemon restart (the override is stored), and shows in
//     `ballastctl status` with who set it;
//   - `ballastctl top` shows the kernel's counters from a fresh dump; `plan` shows a diff;
//   - the daemon's /metrics passes `promtool check metrics` with the real IPVS counters.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <thread>

#include "ballast/kernel/ipvs_netlink_client.hpp"
#include "ballast/testing/process.hpp"
#include "ballast/testing/servers.hpp"
#include "ballast/testing/topology.hpp"

using namespace ballast;
using namespace ballast::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint16_t kWebPort = 80, kStreamPort = 7000, kStatusPort = 9180;

std::string config_text(const std::string& dir, int rs3_weight) {
    std::string t = "[director]\nstate_directory = \"" + dir + "/state\"\ncontrol_socket = \"" +
                    dir +
                    "/ballastd.sock\"\nstatus_listen = \"127.0.0.1:" + std::to_string(kStatusPort) +
                    "\"\nresync_interval = \"2s\"\n"
                    "interfaces = [\"dc\", \"dr1\", \"dr2\", \"dr3\"]\n"
                    "[defaults.check]\ntype = \"tcp\"\ninterval = \"500ms\"\ntimeout = "
                    "\"300ms\"\nrise = 1\nfall = 2\n"
                    "[[service]]\nname = \"web\"\nvip = \"" +
                    std::string(Topology::kVip) + "\"\nport = 80\nscheduler = \"rr\"\n";
    const int weights[] = {1, 1, rs3_weight};
    for (size_t i = 0; i < 3; ++i)
        t += "[[service.real]]\naddress = \"" + Topology::real_ip(i) +
             ":80\"\nweight = " + std::to_string(weights[i]) + "\n";
    t += "[[service]]\nname = \"stream\"\nvip = \"" + std::string(Topology::kVip) +
         "\"\nport = 7000\nscheduler = \"rr\"\n";
    for (size_t i = 0; i < 3; ++i)
        t += "[[service.real]]\naddress = \"" + Topology::real_ip(i) + ":7000\"\n";
    return t;
}

struct Dest {
    uint32_t weight = 0;
    uint32_t active = 0;
};

// A service's reals as the director's kernel holds them: weight and active connections.
std::map<std::string, Dest> dests(IsolatedNetns& director, uint16_t port) {
    return director.run([port] {
        auto client = kernel::IpvsNetlinkClient::open();
        if (!client) throw CommandFailed(client.error().describe());
        auto snap = (*client)->dump();
        if (!snap) throw CommandFailed(snap.error().describe());
        std::map<std::string, Dest> out;
        for (const auto& [key, svc] : snap->table.services) {
            if (key.is_fwmark() || key.port != port) continue;
            for (const auto& [real, spec] : svc.reals) {
                Dest d{spec.weight, 0};
                auto c = snap->dest_counters.find(key);
                if (c != snap->dest_counters.end())
                    if (auto it = c->second.find(real); it != c->second.end())
                        d.active = it->second.active_conns;
                out[real.to_string()] = d;
            }
        }
        return out;
    });
}

Clock::duration wait_until(const std::function<bool()>& cond, Clock::duration limit,
                           const std::string& what) {
    const auto start = Clock::now();
    while (!cond()) {
        if (Clock::now() - start > limit) {
            ADD_FAILURE() << "timed out waiting for " << what;
            return Clock::now() - start;
        }
        std::this_thread::sleep_for(50ms);
    }
    return Clock::now() - start;
}

std::string rs(size_t i, uint16_t port) {
    return Topology::real_ip(i) + ":" + std::to_string(port);
}

std::string show(const std::map<std::string, int>& tally) {
    std::string s;
    for (const auto& [k, v] : tally) s += k + "=" + std::to_string(v) + " ";
    return s;
}

int errors(const std::map<std::string, int>& tally) {
    int n = 0;
    for (const auto& [k, v] : tally)
        if (k.rfind("error", 0) == 0) n += v;
    return n;
}

// GET path from 127.0.0.1:port in the calling thread's namespace (HTTP/1.0: until close).
std::string local_get(uint16_t port, const std::string& path) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        throw CommandFailed("connect to the status listener failed");
    }
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    (void)::write(fd, req.data(), req.size());
    std::string out;
    char buf[65536];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
    ::close(fd);
    const auto body = out.find("\r\n\r\n");
    return body == std::string::npos ? out : out.substr(body + 4);
}

}  // namespace

TEST(ControlE2E, DrainStopsNewConnectionsExistingOnesFinishEnableSurvivesReloadAndRestart) {
    Topology net(3);
    std::string tmpl = "/tmp/ballast-ctl-e2e-XXXXXX";
    const std::string dir = ::mkdtemp(tmpl.data());
    const std::string cfg = dir + "/ballast.toml";
    const std::string sock = dir + "/ballastd.sock";
    std::ofstream(cfg) << config_text(dir, 1);
    std::vector<std::unique_ptr<HttpServer>> http;
    std::vector<std::unique_ptr<EchoServer>> echo;
    for (size_t i = 0; i < 3; ++i) {
        http.push_back(std::make_unique<HttpServer>(*net.reals[i], Topology::real_ip(i), kWebPort,
                                                    "rs" + std::to_string(i + 1)));
        echo.push_back(
            std::make_unique<EchoServer>(*net.reals[i], Topology::real_ip(i), kStreamPort));
    }
    int runs = 0;
    auto start_daemon = [&] {
        auto p = std::make_unique<Process>(net.director,
                                           std::vector<std::string>{BALLASTD_PATH, "-c", cfg},
                                           dir + "/ballastd-" + std::to_string(++runs) + ".log");
        p->wait_for_log("ready: the kernel matches", 60s);
        return p;
    };
    auto ctl = [&](std::vector<std::string> args) {
        args.insert(args.begin(), BALLASTCTL_PATH);
        args.push_back("--socket");
        args.push_back(sock);
        return net.director.exec(args);
    };
    auto daemon = start_daemon();
    wait_until([&] { return dests(net.director, kStreamPort).size() == 3; }, 10s, "stream");

    // One long-lived connection per real server (rr), before the drain.
    std::vector<std::unique_ptr<LongConnection>> before;
    for (int i = 0; i < 3; ++i)
        before.push_back(
            std::make_unique<LongConnection>(net.client, Topology::kVip, kStreamPort, 100ms));
    wait_until(
        [&] {
            auto d = dests(net.director, kStreamPort);
            return d[rs(1, kStreamPort)].active == 1 && d[rs(0, kStreamPort)].active == 1;
        },
        10s, "a connection on each real server");

    // Drain rs2 in every service that has it (here: stream, port 7000).
    auto drained = ctl({"drain", rs(1, kStreamPort)});
    ASSERT_EQ(drained.status, 0) << drained.output;
    EXPECT_NE(drained.output.find("drained by uid 0 (root) pid"), std::string::npos)
        << drained.output;
    EXPECT_EQ(dests(net.director, kStreamPort)[rs(1, kStreamPort)].weight, 0u);
    // New connections go elsewhere...
    std::vector<std::unique_ptr<LongConnection>> after;
    for (int i = 0; i < 6; ++i)
        after.push_back(
            std::make_unique<LongConnection>(net.client, Topology::kVip, kStreamPort, 100ms));
    wait_until(
        [&] {
            auto d = dests(net.director, kStreamPort);
            return d[rs(0, kStreamPort)].active + d[rs(2, kStreamPort)].active == 8;
        },
        10s, "the six new connections on rs1 and rs3");
    EXPECT_EQ(dests(net.director, kStreamPort)[rs(1, kStreamPort)].active, 1u);
    // ...while the one rs2 had keeps moving bytes.
    std::vector<uint64_t> trips;
    for (auto& c : before) trips.push_back(c->round_trips());
    wait_until(
        [&] {
            for (size_t i = 0; i < before.size(); ++i)
                if (before[i]->round_trips() < trips[i] + 10) return false;
            return true;
        },
        15s, "the connections made before the drain to keep moving");
    for (auto& c : before) EXPECT_FALSE(c->failed()) << c->failure();
    for (auto& c : after) c->stop();

    // The same in the HTTP service: drain rs2 there by service name.
    ASSERT_EQ(ctl({"drain", rs(1, kWebPort), "--service", "web"}).status, 0);
    auto tally = http_tally(net.client, Topology::kVip, kWebPort, 60);
    EXPECT_EQ(tally.count("rs2"), 0u) << show(tally);
    EXPECT_EQ(errors(tally), 0) << show(tally);

    // status shows it, and who did it.
    auto status = ctl({"status"});
    ASSERT_EQ(status.status, 0) << status.output;
    EXPECT_NE(status.output.find("override: drained by uid 0 (root) pid"), std::string::npos)
        << status.output;

    // A reload keeps the drain.
    std::ofstream(cfg) << config_text(dir, 2);
    auto reloaded = ctl({"reload"});
    ASSERT_EQ(reloaded.status, 0) << reloaded.output;
    EXPECT_NE(reloaded.output.find("reloaded " + cfg), std::string::npos) << reloaded.output;
    wait_until([&] { return dests(net.director, kWebPort)[rs(2, kWebPort)].weight == 2; }, 10s,
               "the reload in the kernel");
    EXPECT_EQ(dests(net.director, kWebPort)[rs(1, kWebPort)].weight, 0u);
    EXPECT_EQ(dests(net.director, kStreamPort)[rs(1, kStreamPort)].weight, 0u);

    // A restart keeps it too (the override is in the state directory).
    daemon->signal(SIGTERM);
    ASSERT_EQ(daemon->wait(30s), std::optional<int>(0)) << daemon->log();
    daemon = start_daemon();
    EXPECT_EQ(dests(net.director, kWebPort)[rs(1, kWebPort)].weight, 0u);
    EXPECT_EQ(dests(net.director, kStreamPort)[rs(1, kStreamPort)].weight, 0u);
    tally = http_tally(net.client, Topology::kVip, kWebPort, 60);
    EXPECT_EQ(tally.count("rs2"), 0u) << show(tally);
    for (auto& c : before) EXPECT_FALSE(c->failed()) << c->failure();

    // enable brings it back.
    auto enabled = ctl({"enable", rs(1, kWebPort)});
    ASSERT_EQ(enabled.status, 0) << enabled.output;
    ASSERT_EQ(ctl({"enable", rs(1, kStreamPort)}).status, 0);
    EXPECT_EQ(dests(net.director, kWebPort)[rs(1, kWebPort)].weight, 1u);
    tally = http_tally(net.client, Topology::kVip, kWebPort, 60);
    EXPECT_GT(tally["rs2"], 0) << show(tally);
    EXPECT_EQ(errors(tally), 0) << show(tally);
    EXPECT_NE(
        daemon->log().find("control: enable " + rs(1, kWebPort) + " in every service from uid 0"),
        std::string::npos)
        << daemon->log();

    // top: the kernel's counters from a fresh dump (the connections still open).
    auto top = ctl({"top", "-n", "1"});
    ASSERT_EQ(top.status, 0) << top.output;
    EXPECT_NE(top.output.find("stream " + std::string(Topology::kVip) + ":7000/tcp"),
              std::string::npos)
        << top.output;

    // plan: what going back to weight 1 for rs3 would do.
    std::ofstream(dir + "/next.toml") << config_text(dir, 1);
    auto plan = ctl({"plan", dir + "/next.toml"});
    ASSERT_EQ(plan.status, 0) << plan.output;
    EXPECT_NE(plan.output.find("~ real " + rs(2, kWebPort) + " in web (" +
                               std::string(Topology::kVip) + ":80/tcp): weight 2 -> 1"),
              std::string::npos)
        << plan.output;

    // /metrics of the real daemon passes promtool, with the kernel's connection counts.
    const auto metrics = net.director.run([] { return local_get(kStatusPort, "/metrics"); });
    std::ofstream(dir + "/scrape.prom") << metrics;
    auto checked = net.director.exec({"promtool", "check", "metrics"}, metrics);
    EXPECT_EQ(checked.status, 0) << checked.output;
    EXPECT_EQ(checked.output, "") << checked.output;
    EXPECT_NE(metrics.find("ballast_ipvs_backend_connections_active{local_address=\"" +
                           std::string(Topology::kVip) +
                           "\",local_port=\"7000\",proto=\"TCP\","
                           "remote_address=\"" +
                           Topology::real_ip(1) + "\",remote_port=\"7000\"} 1"),
              std::string::npos)
        << metrics.substr(0, 3000);
    EXPECT_NE(metrics.find("ballast_real_weight_effective{"), std::string::npos);

    for (auto& c : before) {
        c->stop();
        EXPECT_FALSE(c->failed()) << c->failure();
    }
    daemon->signal(SIGTERM);
    EXPECT_EQ(daemon->wait(30s), std::optional<int>(0));
    if (HasFailure()) std::cout << "ballastd's log:\n" << daemon->log();
}
