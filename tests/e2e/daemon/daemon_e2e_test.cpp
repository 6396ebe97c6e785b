// ballastd end to end, in the kernel lab: a client, the director running the real ballastd
// binary, three real servers serving HTTP. Real traffic through the VIP:
//   - wrr 3:2:1 over 600 connections;
//   - a stopped server leaves within the detection bound and gets no new connections; back
//     when it is restarted;
//   - one long-lived connection keeps moving bytes across five reloads and a daemon restart;
//   - the restart writes nothing to IPVS;
//   - `ipvsadm -C` is repaired within one resync period;
//   - a bad reload leaves traffic flowing and changes nothing;
//   - after SIGTERM traffic still flows; `ballastd --cleanup` removes only what it owns.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "ballast/testing/ipvs_view.hpp"
#include "ballast/testing/process.hpp"
#include "ballast/testing/servers.hpp"
#include "ballast/testing/topology.hpp"

using namespace ballast;
using namespace ballast::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint16_t kWebPort = 80, kStreamPort = 7000;
// Checks every 500 ms, down after 2 failures of at most 300 ms: detected within 1.3 s.
constexpr auto kDetectionBound = 1300ms;
constexpr auto kResync = 2s;

std::string config_text(const std::string& dir, int rs3_weight, const char* stream_scheduler) {
    std::string t = "[director]\nstate_directory = \"" + dir + "/state\"\ncontrol_socket = \"" +
                    dir +
                    "/ballastd.sock\"\nresync_interval = \"2s\"\ndrain_timeout = \"10s\"\n"
                    "interfaces = [\"dc\", \"dr1\", \"dr2\", \"dr3\"]\n"
                    "[defaults.check]\ntype = \"tcp\"\ninterval = \"500ms\"\ntimeout = "
                    "\"300ms\"\nrise = 1\nfall = 2\n"
                    "[[service]]\nname = \"web\"\nvip = \"" +
                    std::string(Topology::kVip) + "\"\nport = 80\nscheduler = \"wrr\"\n";
    const int weights[] = {3, 2, rs3_weight};
    for (size_t i = 0; i < 3; ++i)
        t += "[[service.real]]\naddress = \"" + Topology::real_ip(i) +
             ":80\"\nweight = " + std::to_string(weights[i]) + "\n";
    t += "[[service]]\nname = \"stream\"\nvip = \"" + std::string(Topology::kVip) +
         "\"\nport = 7000\nscheduler = \"" + stream_scheduler + "\"\n";
    for (size_t i = 0; i < 3; ++i)
        t += "[[service.real]]\naddress = \"" + Topology::real_ip(i) + ":7000\"\n";
    return t;
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
}

// Weights of the reals of VIP:port/tcp as the director's kernel holds them ("10.51.1.2:80" ->
// 3); empty when the service is missing.
std::map<std::string, uint32_t> weights(IsolatedNetns& director, uint16_t port) {
    return ballast::testing::weights(kernel_service(
        director, std::string(Topology::kVip) + ":" + std::to_string(port) + "/tcp"));
}

// How long until cond() holds; fails the test after `limit`.
Clock::duration wait_until(const std::function<bool()>& cond, Clock::duration limit,
                           const std::string& what) {
    std::chrono::milliseconds took{};
    if (!wait_for(cond, std::chrono::duration_cast<std::chrono::milliseconds>(limit), &took))
        ADD_FAILURE() << "timed out waiting for " << what;
    return took;
}

double ms(Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

std::string rs(size_t i) {
    return Topology::real_ip(i) + ":80";
}

size_t count(const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
    return n;
}

}  // namespace

TEST(DaemonE2E, TrafficFailoverReloadsRestartDriftAndStop) {
    Topology net(3);
    std::string tmpl = "/tmp/ballast-e2e-XXXXXX";
    const std::string dir = ::mkdtemp(tmpl.data());
    const std::string cfg = dir + "/ballast.toml";
    write_file(cfg, config_text(dir, 1, "rr"));
    // A service ballast does not own: never touched.
    net.director.check({"ipvsadm", "-A", "-t", "10.50.0.200:25", "-s", "rr"});

    std::vector<std::unique_ptr<HttpServer>> http;
    std::vector<std::unique_ptr<EchoServer>> echo;
    for (size_t i = 0; i < 3; ++i) {
        http.push_back(std::make_unique<HttpServer>(*net.reals[i], Topology::real_ip(i), kWebPort,
                                                    "rs" + std::to_string(i + 1)));
        echo.push_back(
            std::make_unique<EchoServer>(*net.reals[i], Topology::real_ip(i), kStreamPort));
    }

    // Each run of the daemon logs to its own file.
    int runs = 0;
    auto start_daemon = [&] {
        return std::make_unique<Process>(net.director,
                                         std::vector<std::string>{BALLASTD_PATH, "-c", cfg},
                                         dir + "/ballastd-" + std::to_string(++runs) + ".log");
    };
    auto daemon = start_daemon();
    daemon->wait_for_log("ready: the kernel matches", 30s);
    ASSERT_EQ(weights(net.director, kWebPort),
              (std::map<std::string, uint32_t>{{rs(0), 3}, {rs(1), 2}, {rs(2), 1}}));

    // wrr 3:2:1 over 600 connections.
    auto tally = http_tally(net.client, Topology::kVip, kWebPort, 600);
    EXPECT_EQ(error_count(tally), 0) << tally_text(tally);
    EXPECT_NEAR(tally["rs1"], 300, 30) << tally_text(tally);
    EXPECT_NEAR(tally["rs2"], 200, 30) << tally_text(tally);
    EXPECT_NEAR(tally["rs3"], 100, 30) << tally_text(tally);

    // rs2 stops: out within the detection bound, no new connections, no client errors.
    http[1]->stop();
    const auto out = wait_until([&] { return weights(net.director, kWebPort)[rs(1)] == 0; }, 10s,
                                "rs2 to be taken out");
    std::cout << "rs2 taken out " << ms(out) << " ms after it stopped (bound "
              << ms(kDetectionBound) << " ms + the lab's scheduling)\n";
    EXPECT_LT(out, kDetectionBound + 3s);
    tally = http_tally(net.client, Topology::kVip, kWebPort, 240);
    EXPECT_EQ(tally.count("rs2"), 0u) << tally_text(tally);
    EXPECT_EQ(error_count(tally), 0) << tally_text(tally);
    EXPECT_NE(daemon->log().find(rs(1) + " down: connect refused"), std::string::npos)
        << daemon->log();
    // ...and back when it is restarted.
    http[1]->start();
    wait_until([&] { return weights(net.director, kWebPort)[rs(1)] == 2; }, 10s, "rs2 back");
    tally = http_tally(net.client, Topology::kVip, kWebPort, 240);
    EXPECT_GT(tally["rs2"], 0) << tally_text(tally);
    EXPECT_EQ(error_count(tally), 0) << tally_text(tally);

    // One long-lived connection across five reloads and a restart.
    {
        LongConnection stream(net.client, Topology::kVip, kStreamPort);
        for (int i = 1; i <= 5; ++i) {
            write_file(cfg, config_text(dir, i % 2 ? 2 : 1, i % 2 ? "wrr" : "rr"));
            daemon->signal(SIGHUP);
            wait_until([&] { return count(daemon->log(), "reloaded " + cfg) == size_t(i); }, 20s,
                       "reload " + std::to_string(i));
            wait_until([&] { return weights(net.director, kWebPort)[rs(2)] == (i % 2 ? 2u : 1u); },
                       5s, "reload " + std::to_string(i) + " in the kernel");
        }
        const auto trips = stream.round_trips();
        daemon->signal(SIGTERM);
        ASSERT_EQ(daemon->wait(20s), std::optional<int>(0)) << daemon->log();
        daemon = start_daemon();
        daemon->wait_for_log("ready: the kernel matches", 30s);
        // The restart found the kernel as the config wants it: nothing written.
        EXPECT_NE(daemon->log().find("checks; 0 IPVS writes"), std::string::npos) << daemon->log();
        wait_until([&] { return stream.round_trips() > trips + 20; }, 10s,
                   "the long connection to keep moving after the restart");
        stream.stop();
        EXPECT_FALSE(stream.failed()) << stream.failure();
        std::cout << "long connection: " << stream.round_trips()
                  << " round trips across 5 reloads and a restart\n";
    }

    // ipvsadm -C: repaired within one resync period.
    net.director.check({"ipvsadm", "-C"});
    const auto repaired = wait_until([&] { return weights(net.director, kWebPort).size() == 3; },
                                     kResync + 8s, "ipvsadm -C to be repaired");
    std::cout << "ipvsadm -C repaired after " << ms(repaired) << " ms (resync_interval "
              << ms(kResync) << " ms)\n";
    EXPECT_LT(repaired, kResync + 3s);
    wait_until(
        [&] {
            return daemon->log().find("IPVS was changed behind ballast's back") !=
                   std::string::npos;
        },
        5s, "the drift to be logged");
    net.director.check({"ipvsadm", "-A", "-t", "10.50.0.200:25", "-s", "rr"});  // -C took it

    // A bad reload: logged, nothing changes, traffic flows.
    const auto before = weights(net.director, kWebPort);
    write_file(cfg, config_text(dir, 1, "rr") + "[[service]]\nname = 5\n");
    daemon->signal(SIGHUP);
    daemon->wait_for_log("reload rejected", 20s);
    EXPECT_EQ(weights(net.director, kWebPort), before);
    tally = http_tally(net.client, Topology::kVip, kWebPort, 60);
    EXPECT_EQ(error_count(tally), 0) << tally_text(tally);
    EXPECT_TRUE(daemon->running());

    // SIGTERM: the daemon goes, the kernel state stays, traffic flows.
    daemon->signal(SIGTERM);
    ASSERT_EQ(daemon->wait(20s), std::optional<int>(0)) << daemon->log();
    tally = http_tally(net.client, Topology::kVip, kWebPort, 60);
    EXPECT_EQ(error_count(tally), 0) << tally_text(tally);
    EXPECT_EQ(weights(net.director, kWebPort), before);

    // --cleanup removes exactly what ballast owns.
    write_file(cfg, config_text(dir, 1, "rr"));
    auto cleaned = net.director.exec({BALLASTD_PATH, "-c", cfg, "--cleanup"});
    EXPECT_EQ(cleaned.status, 0) << cleaned.output;
    EXPECT_TRUE(weights(net.director, kWebPort).empty());
    const auto list = net.director.check({"ipvsadm", "-Ln"});
    EXPECT_NE(list.find("10.50.0.200:25"), std::string::npos) << list;
    EXPECT_EQ(list.find("10.50.0.100"), std::string::npos) << list;
    EXPECT_NE(net.director.exec({"nft", "list", "table", "inet", "ballast"}).status, 0);
    if (HasFailure()) std::cout << "ballastd's log:\n" << daemon->log();
}
