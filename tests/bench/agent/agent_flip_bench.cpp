// How fast the agent-check answer follows a route change (tests/host/agent only asserts
// that it does). A real server namespace with a second gateway: each round adds a default
// route via that gateway with the lower metric (the answer must turn "down") and deletes it
// (back to "up"). Timed from just before `ip route add/del` starts (so the `ip` process's
// start-up is in every figure, alike) to the first answer seen by a director polling every
// 1 ms. The peer, in the same rounds: a bare rtnetlink socket in the
// real server's namespace, subscribed to IPv4 route changes -- when the kernel's
// notification arrives, the floor for any event-driven agent.
//   sudo build/gcc/tests/bench/agent/agent_flip_bench [rounds]
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <future>
#include <thread>
#include <vector>

#include "ballast/agent/agent.hpp"
#include "ballast/agent/netlink.hpp"
#include "ballast/testing/netns.hpp"
#include "ballast/testing/socket.hpp"

using namespace ballast::agent;
using namespace ballast::testing;
using Clock = std::chrono::steady_clock;

namespace {

std::optional<std::string> ask(uint16_t port) {
    Fd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    timeval tv{1, 0};
    ::setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    auto sa = v4("10.0.0.5", port);
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return std::nullopt;
    std::string line;
    char buf[512];
    ssize_t n;
    while ((n = ::read(c.fd, buf, sizeof buf)) > 0) {
        line.append(buf, static_cast<size_t>(n));
        if (line.find('\n') != std::string::npos) return line.substr(0, line.find('\n'));
    }
    return std::nullopt;
}

void report(const char* what, std::vector<double> ms) {
    std::sort(ms.begin(), ms.end());
    auto at = [&](double q) {
        return ms[static_cast<size_t>(q * static_cast<double>(ms.size() - 1))];
    };
    std::printf("%-44s n=%zu  median %.2f ms  p90 %.2f ms  max %.2f ms\n", what, ms.size(), at(0.5),
                at(0.9), ms.back());
}

}  // namespace

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 20;
    require_netns_capability();
    NetNs rs("bfr"), dir("bfd"), gw("bfg");
    VethLink to_dir = connect(rs, "10.0.0.5/24", dir, "10.0.0.1/24");
    VethLink to_gw = connect(rs, "192.168.1.5/24", gw, "192.168.1.1/24");
    rs.exec("sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0");
    rs.exec("ip route add default via 10.0.0.1 metric 100");
    Fd service = rs.run_inside([] { return listen_tcp("0.0.0.0", 8080); });

    AgentSettings s;
    s.real_servers = {RealServerEntry{
        *IpAddress::parse("10.0.0.5"), *IpAddress::parse("10.0.0.1"), {8080}, Transport::tcp}};
    s.probe_clients = {*IpAddress::parse("203.0.113.9")};
    s.interval_ms = 3600000;  // only rtnetlink events re-evaluate
    s.listen = ballast::model::Endpoint{*IpAddress::parse("10.0.0.5"), 0};
    s.drain_file.clear();

    boost::asio::io_context io;
    std::unique_ptr<Agent> agent;
    std::promise<uint16_t> bound;
    std::thread runner([&] {
        rs.enter();
        auto q = open_route_query();
        agent = std::make_unique<Agent>(io, s, std::move(*q), system_host_info());
        if (auto st = agent->start(); !st) {
            std::fprintf(stderr, "start: %s\n", st.error().describe().c_str());
            std::exit(1);
        }
        bound.set_value(agent->agent_endpoint().port);
        io.run();
    });
    const uint16_t port = bound.get_future().get();

    // The peer: a netlink listener in the real server's namespace.
    Fd nl = rs.run_inside([] {
        Fd f(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
        sockaddr_nl sa{};
        sa.nl_family = AF_NETLINK;
        sa.nl_groups = RTMGRP_IPV4_ROUTE;
        ::bind(f.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
        return f;
    });
    auto drain = [&] {
        char buf[16384];
        while (::recv(nl.fd, buf, sizeof buf, MSG_DONTWAIT) > 0) {
        }
    };
    auto notified_after = [&](Clock::time_point start) {
        pollfd p{nl.fd, POLLIN, 0};
        ::poll(&p, 1, 5000);
        return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    };
    auto answered_after = [&](const std::string& prefix, Clock::time_point start) {
        return dir.run_inside([&] {
            while (Clock::now() - start < std::chrono::seconds(5)) {
                auto line = ask(port);
                if (line && line->rfind(prefix, 0) == 0) break;
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
            return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        });
    };

    std::vector<double> agent_down, agent_up, notify_down, notify_up;
    const std::string ns = "ip -n " + rs.name() + " route ";
    for (int i = 0; i < rounds; ++i) {
        // The netlink listener's round, then the agent's (one route change each).
        drain();
        auto t0 = Clock::now();
        sh(ns + "add default via 192.168.1.1 metric 10");
        notify_down.push_back(notified_after(t0));
        drain();
        t0 = Clock::now();
        sh(ns + "del default via 192.168.1.1 metric 10");
        notify_up.push_back(notified_after(t0));

        t0 = Clock::now();
        sh(ns + "add default via 192.168.1.1 metric 10");
        agent_down.push_back(answered_after("down", t0));
        t0 = Clock::now();
        sh(ns + "del default via 192.168.1.1 metric 10");
        agent_up.push_back(answered_after("up", t0));
    }
    io.stop();
    runner.join();
    std::printf("agent_flip_bench: %d rounds (clock starts as `ip route` is started)\n", rounds);
    report("route added   -> agent answers down", agent_down);
    report("route removed -> agent answers up", agent_up);
    report("route added   -> netlink listener notified", notify_down);
    report("route removed -> netlink listener notified", notify_up);
    return 0;
}
