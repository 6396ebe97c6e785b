// ballast-agent against real rtnetlink: each test builds a namespace topology
// (real server, director, another gateway, a client) and asserts verdicts and reasons.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "ballast/agent/agent.hpp"
#include "ballast/agent/netlink.hpp"
#include "ballast/agent/verdict.hpp"
#include "ballast/testing/netns.hpp"
#include "ballast/testing/socket.hpp"

using namespace ballast::agent;
using namespace ballast::testing;

namespace {

IpAddress ip(const char* s) {
    return *IpAddress::parse(s);
}

// A TCP listener created inside ns, bound to addr:port.
Fd listen_in(const NetNs& ns, const std::string& addr, uint16_t port) {
    return ns.run_inside([&] { return listen_tcp(addr, port); });
}

// Connects from the calling thread's namespace, reads one line; nullopt when no
// line arrives within the timeout.
std::optional<std::string> fetch_line_here(const std::string& addr, uint16_t port, int timeout_ms) {
    {
        Fd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        auto sa = v4(addr, port);
        if (::connect(c.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 &&
            errno != EINPROGRESS)
            return std::nullopt;
        std::string line;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        while (std::chrono::steady_clock::now() < deadline) {
            pollfd p{c.fd, POLLIN, 0};
            int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            deadline - std::chrono::steady_clock::now())
                                            .count());
            if (::poll(&p, 1, std::max(left, 1)) <= 0) break;
            char buf[512];
            ssize_t n = ::read(c.fd, buf, sizeof buf);
            if (n <= 0) break;
            line.append(buf, static_cast<size_t>(n));
            if (line.find('\n') != std::string::npos) return line.substr(0, line.find('\n'));
        }
        return std::nullopt;
    }
}

std::optional<std::string> fetch_line(const NetNs& ns, const std::string& addr, uint16_t port,
                                      int timeout_ms) {
    return ns.run_inside([&] { return fetch_line_here(addr, port, timeout_ms); });
}

// One HTTP/1.0 GET from the calling thread's namespace; the whole response.
std::string http_get_here(const std::string& addr, uint16_t port, const std::string& path) {
    Fd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    timeval tv{2, 0};
    ::setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    auto sa = v4(addr, port);
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
        throw std::runtime_error("connect " + addr + ": " + std::strerror(errno));
    std::string req = "GET " + path + " HTTP/1.0\r\n\r\n";
    if (::write(c.fd, req.data(), req.size()) != static_cast<ssize_t>(req.size()))
        throw std::runtime_error("write");
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(c.fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
}

// Answers every connection on the listener with a greeting until stopped.
class Greeter {
public:
    Greeter(Fd listener, std::string greeting)
        : l_(std::move(listener)), greeting_(std::move(greeting)) {
        t_ = std::thread([this] {
            while (!stop_) {
                pollfd p{l_.fd, POLLIN, 0};
                if (::poll(&p, 1, 50) <= 0) continue;
                Fd c(::accept(l_.fd, nullptr, nullptr));
                if (c.fd >= 0) (void)!::write(c.fd, greeting_.data(), greeting_.size());
            }
        });
    }
    ~Greeter() {
        stop_ = true;
        t_.join();
    }

private:
    Fd l_;
    std::string greeting_;
    std::atomic<bool> stop_{false};
    std::thread t_;
};

Report evaluate_in(const NetNs& ns, const AgentSettings& s) {
    return ns.run_inside([&] {
        auto q = open_route_query();
        if (!q) throw std::runtime_error(q.error().describe());
        auto h = system_host_info();
        return evaluate(s, **q, *h);
    });
}

std::optional<Check> find(const Report& r, const std::string& name,
                          const std::string& subject = "") {
    for (const auto& c : r.checks)
        if (c.name == name && (subject.empty() || c.subject == subject)) return c;
    return std::nullopt;
}

std::string dump(const Report& r) {
    std::string s;
    for (const auto& c : r.checks)
        s += std::string(to_string(c.verdict)) + " " + c.name + " " + c.subject + ": " + c.reason +
             "\n";
    return s;
}

// A temp file removed at scope exit.
struct TempFile {
    std::string path;
    explicit TempFile(const std::string& stem) : path("/tmp/" + unique_name(stem)) {}
    ~TempFile() { std::remove(path.c_str()); }
};

// Real server rs (10.0.0.5/24) with its director dir (10.0.0.1/24); optionally a second
// NIC to another gateway gw (192.168.1.5 -> 192.168.1.1) and a client (203.0.113.9)
// behind the director. Addresses repeat across tests: each test has its own namespaces.
struct Lab : ::testing::Test {
    NetNs rs{"ars"};
    NetNs dir{"adr"};
    VethLink rs_dir;
    AgentSettings settings;

    void SetUp() override {
        require_netns_capability();
        rs_dir = connect(rs, "10.0.0.5/24", dir, "10.0.0.1/24");
        rs.exec(
            "sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 "
            "net.ipv4.conf." +
            rs_dir.a_if + ".rp_filter=0");
        settings.real_servers = {
            RealServerEntry{ip("10.0.0.5"), ip("10.0.0.1"), {8080}, Transport::tcp}};
        settings.probe_clients = {ip("10.255.255.1"), ip("203.0.113.9")};
    }

    std::string rs_if() const { return rs_dir.a_if; }

    std::unique_ptr<NetNs> gw, client;
    VethLink rs_gw, dir_client;
    void add_other_gateway() {
        gw = std::make_unique<NetNs>("agw");
        rs_gw = connect(rs, "192.168.1.5/24", *gw, "192.168.1.1/24");
        rs.exec("sysctl -qw net.ipv4.conf." + rs_gw.a_if + ".rp_filter=0");
    }
    void add_client() {
        client = std::make_unique<NetNs>("acl");
        dir_client = connect(*client, "203.0.113.9/24", dir, "203.0.113.1/24");
        client->exec("ip route add default via 203.0.113.1");
        dir.exec("sysctl -qw net.ipv4.ip_forward=1");
    }

    std::string write_config(const TempFile& cfg, const TempFile& state,
                             const std::string& extra = "") {
        std::ofstream out(cfg.path);
        out << "probe_clients = [\"10.255.255.1\", \"203.0.113.9\"]\n"
            << "[repair]\nstate_file = \"" << state.path << "\"\n"
            << extra
            << "[[real_server]]\naddress = \"10.0.0.5\"\ndirector = \"10.0.0.1\"\nports = [8080]\n";
        return cfg.path;
    }

    std::string agent(const std::string& args) {
        return rs.exec(std::string(BALLAST_AGENT_BIN) + " " + args);
    }

    std::string routing_dump() {
        // Without the link-local entries: IPv6 adds them when DAD ends, whenever that is.
        return rs.exec(
            "{ ip rule; ip -6 rule; ip route show table all; ip -6 route show table all; "
            "sysctl net.ipv4.conf.all.rp_filter net.ipv4.conf." +
            rs_if() + ".rp_filter; } | grep -v 'local fe80::'");
    }
};

// (1) Single-homed real server, default via the director: every check passes.
TEST_F(Lab, SingleHomedDefaultViaDirectorPasses) {
    rs.exec("ip route add default via 10.0.0.1");
    Fd l = listen_in(rs, "10.0.0.5", 8080);
    Report r = evaluate_in(rs, settings);
    EXPECT_EQ(r.overall(), Verdict::pass) << dump(r);
    auto rr = find(r, "return-route", "10.0.0.5 -> 203.0.113.9");
    ASSERT_TRUE(rr) << dump(r);
    EXPECT_EQ(rr->reason, "return route to 203.0.113.9 leaves via director 10.0.0.1 (" + rs_if() +
                              "), table main");
    EXPECT_EQ(agent_reply(r, false, std::nullopt), "up");
}

// (2) Second NIC whose default route has the lower metric: fail naming the gateway;
// after --repair: pass, and a real TCP reply reaches the client through the director.
TEST_F(Lab, LowerMetricDefaultElsewhereFailsThenRepairFixesRealTraffic) {
    add_other_gateway();
    add_client();
    rs.exec(
        "ip route add default via 192.168.1.1 metric 10 && ip route add default via 10.0.0.1 "
        "metric 100");
    Greeter server(listen_in(rs, "10.0.0.5", 8080), "hello from the real server\n");

    Report before = evaluate_in(rs, settings);
    auto rr = find(before, "return-route", "10.0.0.5 -> 203.0.113.9");
    ASSERT_TRUE(rr) << dump(before);
    EXPECT_EQ(rr->verdict, Verdict::fail);
    EXPECT_EQ(rr->reason, "return route to 203.0.113.9 leaves via 192.168.1.1 (" + rs_gw.a_if +
                              "), not director 10.0.0.1");
    auto mh = find(before, "multihoming");
    EXPECT_EQ(mh->verdict, Verdict::fail);
    EXPECT_NE(
        mh->reason.find("default via 192.168.1.1 dev " + rs_gw.a_if + " metric 10 (table main)"),
        std::string::npos)
        << mh->reason;
    EXPECT_NE(mh->reason.find("lower metric (10 < 100)"), std::string::npos) << mh->reason;
    // The verdict is the kernel's truth: the reply really is lost (it leaves via gw).
    EXPECT_EQ(fetch_line(*client, "10.0.0.5", 8080, 1500), std::nullopt);

    TempFile cfg("agcfg"), state("agst");
    write_config(cfg, state);
    std::string out = agent("-c " + cfg.path + " --repair --no-serve");
    EXPECT_NE(out.find("ip rule add from 10.0.0.5/32 lookup 1000 priority 1000"), std::string::npos)
        << out;

    Report after = evaluate_in(rs, settings);
    EXPECT_EQ(after.overall(), Verdict::pass) << dump(after);
    EXPECT_EQ(
        find(after, "return-route", "10.0.0.5 -> 203.0.113.9")->reason,
        "return route to 203.0.113.9 leaves via director 10.0.0.1 (" + rs_if() + "), table 1000");
    EXPECT_EQ(fetch_line(*client, "10.0.0.5", 8080, 3000),
              std::optional<std::string>("hello from the real server"));

    // Idempotent: a second repair changes nothing.
    EXPECT_NE(agent("-c " + cfg.path + " --repair --no-serve").find("nothing to do"),
              std::string::npos);
}

// (3) Two interfaces on the same subnet, a policy rule per source address: pass.
TEST_F(Lab, SameSubnetTwoInterfacesWithPerSourceRulesPasses) {
    // A second link between rs and the director, both ends in 10.0.0.0/24, bridged on the
    // director side so 10.0.0.1 answers on both.
    VethLink second = connect(rs, "10.0.0.6/24", dir, "10.0.0.2/24");
    dir.exec("ip addr del 10.0.0.1/24 dev " + rs_dir.b_if + " && ip addr del 10.0.0.2/24 dev " +
             second.b_if + " && ip link add br0 type bridge && ip link set " + rs_dir.b_if +
             " master br0 && ip link set " + second.b_if +
             " master br0 && ip addr add 10.0.0.1/24 dev br0 && ip link set br0 up");
    rs.exec("sysctl -qw net.ipv4.conf." + second.a_if + ".rp_filter=0");
    rs.exec("ip route add default via 10.0.0.1 dev " + rs_if());
    rs.exec("ip route add 10.0.0.0/24 dev " + rs_if() +
            " src 10.0.0.5 table 101 && ip route add default via 10.0.0.1 dev " + rs_if() +
            " table 101 && ip rule add from 10.0.0.5 lookup 101 priority 101");
    rs.exec("ip route add 10.0.0.0/24 dev " + second.a_if +
            " src 10.0.0.6 table 102 && ip route add default via 10.0.0.1 dev " + second.a_if +
            " table 102 && ip rule add from 10.0.0.6 lookup 102 priority 102");
    settings.real_servers.push_back(
        RealServerEntry{ip("10.0.0.6"), ip("10.0.0.1"), {8080}, Transport::tcp});
    Fd l = listen_in(rs, "0.0.0.0", 8080);

    Report r = evaluate_in(rs, settings);
    EXPECT_EQ(r.first_failure(), nullptr) << dump(r);
    EXPECT_EQ(find(r, "director", "10.0.0.6 -> director 10.0.0.1")->reason,
              "director 10.0.0.1 is on-link via " + second.a_if);
    EXPECT_EQ(find(r, "return-route", "10.0.0.6 -> 203.0.113.9")->reason,
              "return route to 203.0.113.9 leaves via director 10.0.0.1 (" + second.a_if +
                  "), table 102");
    EXPECT_EQ(
        find(r, "return-route", "10.0.0.5 -> 203.0.113.9")->reason,
        "return route to 203.0.113.9 leaves via director 10.0.0.1 (" + rs_if() + "), table 101");
    auto mh = find(r, "multihoming", "10.0.0.6");
    EXPECT_EQ(mh->verdict, Verdict::pass);
    EXPECT_NE(mh->reason.find("rule 102 (from 10.0.0.6/32 lookup 102)"), std::string::npos)
        << mh->reason;
}

// (4) Strict rp_filter with asymmetric routing: fail with the rp_filter reason; loose: pass.
TEST_F(Lab, StrictRpFilterWithAsymmetricRoutingFailsLoosePasses) {
    add_other_gateway();
    rs.exec("ip route add default via 192.168.1.1");
    rs.exec("sysctl -qw net.ipv4.conf.all.rp_filter=1");
    Report strict = evaluate_in(rs, settings);
    auto rp = find(strict, "rp_filter");
    ASSERT_TRUE(rp) << dump(strict);
    EXPECT_EQ(rp->verdict, Verdict::fail);
    EXPECT_NE(rp->reason.find("strict rp_filter on " + rs_if() + " (effective 1 = max of all=1, " +
                              rs_if() + "=0)"),
              std::string::npos)
        << rp->reason;
    EXPECT_NE(rp->reason.find("reverse path leaves via " + rs_gw.a_if), std::string::npos)
        << rp->reason;
    EXPECT_EQ(rp->fix.rfind("sysctl -w net.ipv4.conf." + rs_if() + ".rp_filter=2", 0), 0u);

    rs.exec("sysctl -qw net.ipv4.conf." + rs_if() + ".rp_filter=2");
    Report loose = evaluate_in(rs, settings);
    EXPECT_EQ(find(loose, "rp_filter")->verdict, Verdict::pass) << dump(loose);
    EXPECT_NE(find(loose, "rp_filter")->reason.find("loose rp_filter on " + rs_if()),
              std::string::npos);
    // The asymmetric return route itself is still wrong, and still said so.
    EXPECT_EQ(find(loose, "return-route", "10.0.0.5 -> 203.0.113.9")->verdict, Verdict::fail);
}

// (5) RIP not configured; interface down; nothing listening: fail with each reason.
TEST_F(Lab, MissingAddressDownInterfaceAndNoListenerFailWithReasons) {
    rs.exec("ip route add default via 10.0.0.1");
    AgentSettings missing = settings;
    missing.real_servers[0].address = ip("10.0.0.7");
    Report r1 = evaluate_in(rs, missing);
    EXPECT_EQ(find(r1, "address")->reason, "10.0.0.7 is not configured on any interface");
    EXPECT_EQ(find(r1, "address")->fix, "ip addr add 10.0.0.7/24 dev " + rs_if());
    EXPECT_EQ(agent_reply(r1, false, std::nullopt),
              "down #10.0.0.7 is not configured on any interface");

    Report r2 = evaluate_in(rs, settings);  // nothing listens on 8080
    EXPECT_EQ(find(r2, "listener")->verdict, Verdict::fail);
    EXPECT_EQ(find(r2, "listener")->reason,
              "nothing listens on 10.0.0.5:8080/tcp (nor on the wildcard)");
    Fd other = listen_in(rs, "10.0.0.5", 8081);  // the wrong port does not count
    EXPECT_EQ(find(evaluate_in(rs, settings), "listener")->verdict, Verdict::fail);

    rs.exec("ip link set " + rs_if() + " down");
    Report r3 = evaluate_in(rs, settings);
    EXPECT_EQ(find(r3, "address")->verdict, Verdict::fail);
    EXPECT_EQ(find(r3, "address")->reason, "interface " + rs_if() + " carrying 10.0.0.5 is down");
    EXPECT_EQ(find(r3, "address")->fix, "ip link set dev " + rs_if() + " up");
}

// An Agent on its own thread inside a namespace; counters read on that thread.
struct AgentThread {
    boost::asio::io_context io;
    std::unique_ptr<Agent> agent;
    std::thread runner;
    uint16_t port = 0;
    uint16_t status_port = 0;  // when settings.status_listen is set

    AgentThread(const NetNs& ns, const AgentSettings& s) {
        std::promise<uint16_t> bound;
        runner = std::thread([&] {
            try {
                ns.enter();
                auto q = open_route_query();
                if (!q) throw std::runtime_error(q.error().describe());
                agent = std::make_unique<Agent>(io, s, std::move(*q), system_host_info());
                if (auto st = agent->start(); !st) throw std::runtime_error(st.error().describe());
                if (auto st = agent->status_endpoint()) status_port = st->port;
                bound.set_value(agent->agent_endpoint().port);
            } catch (...) {
                bound.set_exception(std::current_exception());
                return;
            }
            io.run();
        });
        try {
            port = bound.get_future().get();
        } catch (...) {
            runner.join();
            throw;
        }
    }
    ~AgentThread() {
        io.stop();
        runner.join();
    }
    AgentCounters counters() {
        std::promise<AgentCounters> c;
        boost::asio::post(io, [&] { c.set_value(agent->counters()); });
        return c.get_future().get();
    }
};

// (6) A route change while the responder runs: the agent-check answer flips, driven by
// rtnetlink (the periodic timer is set to a minute, so it cannot be what flips it).
TEST_F(Lab, RouteChangeFlipsAgentAnswerThroughNetlinkEvents) {
    add_other_gateway();
    rs.exec("ip route add default via 10.0.0.1 metric 100");
    Fd l = listen_in(rs, "0.0.0.0", 8080);
    settings.interval_ms = 60000;
    settings.listen = ballast::model::Endpoint{ip("10.0.0.5"), 0};
    settings.status_listen = ballast::model::Endpoint{ip("127.0.0.1"), 0};
    settings.drain_file.clear();

    AgentThread a(rs, settings);
    const uint16_t port = a.port, status_port = a.status_port;

    // The director asks, as HAProxy's agent-check would.
    EXPECT_EQ(fetch_line(dir, "10.0.0.5", port, 2000), std::optional<std::string>("up"));

    // Polls from one thread inside the director namespace (no thread per probe) until the
    // answer changes; 5 s only bounds a broken agent. How fast it flips is measured by
    // tests/bench/agent (agent_flip_bench), not asserted here.
    auto poll_until = [&](const std::string& prefix) {
        return dir.run_inside([&] {
            auto start = std::chrono::steady_clock::now();
            while (std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
                auto line = fetch_line_here("10.0.0.5", port, 500);
                if (line && line->rfind(prefix, 0) == 0) return true;
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
            return false;
        });
    };

    sh("ip -n " + rs.name() + " route add default via 192.168.1.1 metric 10");
    ASSERT_TRUE(poll_until("down #return route to "))
        << "agent-check answer did not flip to down within 5 s";
    EXPECT_EQ(
        fetch_line(dir, "10.0.0.5", port, 2000),
        std::optional<std::string>("down #return route to 10.255.255.1 leaves via 192.168.1.1 (" +
                                   rs_gw.a_if + "), not director 10.0.0.1"));

    sh("ip -n " + rs.name() + " route del default via 192.168.1.1 metric 10");
    ASSERT_TRUE(poll_until("up")) << "agent-check answer did not flip back to up within 5 s";

    // The status endpoint shows the same checklist; the metrics count the notifications.
    std::string status =
        rs.run_inside([&] { return http_get_here("127.0.0.1", status_port, "/status"); });
    EXPECT_NE(status.find("200 OK"), std::string::npos) << status;
    EXPECT_NE(status.find("\"agent_reply\":\"up\""), std::string::npos) << status;
    EXPECT_NE(status.find("\"check\":\"return-route\""), std::string::npos) << status;
    std::string metrics =
        rs.run_inside([&] { return http_get_here("127.0.0.1", status_port, "/metrics"); });
    EXPECT_NE(metrics.find("ballast_agent_up 1"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("ballast_agent_check_verdict{check=\"return-route\",subject=\"10.0.0.5 "
                           "-> 203.0.113.9\"} 0"),
              std::string::npos)
        << metrics;
    EXPECT_EQ(metrics.find("ballast_agent_netlink_events_total 0\n"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("ballast_agent_netlink_events_total "), std::string::npos) << metrics;
}

// (7) --undo restores the routing tables (and rp_filter) exactly; doctor changes nothing.
TEST_F(Lab, UndoRestoresRoutingExactly) {
    add_other_gateway();
    rs.exec(
        "ip route add default via 192.168.1.1 metric 10 && ip route add default via 10.0.0.1 "
        "metric 100");
    rs.exec(
        "ip rule add from 192.168.1.5 lookup 55 priority 500 && ip route add default via "
        "192.168.1.1 table 55");
    rs.exec("sysctl -qw net.ipv4.conf." + rs_if() + ".rp_filter=1");
    TempFile cfg("agcfg"), state("agst");
    write_config(cfg, state, "rp_filter_loose = true\n");
    const std::string before = routing_dump();

    auto doctor = rs.try_exec(std::string(BALLAST_AGENT_BIN) + " -c " + cfg.path + " doctor");
    EXPECT_EQ(doctor.status, 2) << doctor.output;  // checks fail
    EXPECT_NE(doctor.output.find("[FAIL] return-route"), std::string::npos) << doctor.output;
    EXPECT_EQ(routing_dump(), before) << "doctor changed kernel state";
    agent("-c " + cfg.path + " --repair --dry-run");
    EXPECT_EQ(routing_dump(), before) << "--dry-run changed kernel state";

    agent("-c " + cfg.path + " --repair --no-serve");
    const std::string repaired = routing_dump();
    EXPECT_NE(repaired, before);
    EXPECT_NE(repaired.find("from 10.0.0.5 lookup 1000"), std::string::npos) << repaired;
    EXPECT_NE(repaired.find("rp_filter = 2"), std::string::npos) << repaired;

    std::string out = agent("-c " + cfg.path + " --undo");
    EXPECT_NE(out.find("4 change(s) reverted"), std::string::npos) << out;
    EXPECT_EQ(routing_dump(), before);
    EXPECT_NE(agent("-c " + cfg.path + " --undo").find("no repair recorded"), std::string::npos);
}

}  // namespace

namespace {

// IPv6: the same return-route check and repair/undo, over AF_INET6 rtnetlink.
TEST(LabV6, ReturnRouteCheckRepairAndUndo) {
    require_netns_capability();
    NetNs rs("a6r"), dir("a6d"), gw("a6g");
    VethLink to_dir = connect(rs, "2001:db8:1::5/64 nodad", dir, "2001:db8:1::1/64 nodad");
    VethLink to_gw = connect(rs, "2001:db8:2::5/64 nodad", gw, "2001:db8:2::1/64 nodad");
    rs.exec(
        "ip -6 route add default via 2001:db8:2::1 metric 10 && ip -6 route add default via "
        "2001:db8:1::1 metric 100");
    AgentSettings s;
    s.real_servers = {
        RealServerEntry{ip("2001:db8:1::5"), ip("2001:db8:1::1"), {}, Transport::tcp}};
    s.probe_clients = default_probe_clients();  // the two IPv6 defaults apply

    Report before = evaluate_in(rs, s);
    auto rr = find(before, "return-route", "2001:db8:1::5 -> 2001:db8:ffff::9");
    ASSERT_TRUE(rr) << dump(before);
    EXPECT_EQ(rr->reason, "return route to 2001:db8:ffff::9 leaves via 2001:db8:2::1 (" +
                              to_gw.a_if + "), not director 2001:db8:1::1");
    EXPECT_FALSE(find(before, "rp_filter"));  // IPv6 has no rp_filter

    TempFile cfg("a6cfg"), state("a6st");
    {
        std::ofstream out(cfg.path);
        out << "[repair]\nstate_file = \"" << state.path << "\"\n"
            << "[[real_server]]\naddress = \"2001:db8:1::5\"\ndirector = \"2001:db8:1::1\"\n";
    }
    // Without the link-local entries: they appear whenever DAD ends.
    auto dump6 = [&] {
        return rs.exec("{ ip -6 rule; ip -6 route show table all; } | grep -v 'local fe80::'");
    };
    const std::string tables_before = dump6();
    std::string out =
        rs.exec(std::string(BALLAST_AGENT_BIN) + " -c " + cfg.path + " --repair --no-serve");
    EXPECT_NE(out.find("ip -6 rule add from 2001:db8:1::5/128 lookup 1000 priority 1000"),
              std::string::npos)
        << out;
    Report after = evaluate_in(rs, s);
    EXPECT_EQ(after.first_failure(), nullptr) << dump(after);
    EXPECT_EQ(find(after, "return-route", "2001:db8:1::5 -> 2001:db8:ffff::9")->reason,
              "return route to 2001:db8:ffff::9 leaves via director 2001:db8:1::1 (" + to_dir.a_if +
                  "), table 1000");

    rs.exec(std::string(BALLAST_AGENT_BIN) + " -c " + cfg.path + " --undo");
    EXPECT_EQ(dump6(), tables_before);
}

}  // namespace

namespace {

// The real binary serving in a namespace (started in the background; its pid), stopped
// at scope exit. `prefix` wraps the command (e.g. prlimit).
struct ServedAgent {
    const NetNs& ns;
    int pid = 0;
    std::string log = "/tmp/" + unique_name("aglog");

    ServedAgent(const NetNs& n, const std::string& config, const std::string& prefix = "") : ns(n) {
        pid = std::stoi(ns.exec(prefix + " " + BALLAST_AGENT_BIN + " -c " + config + " >" + log +
                                " 2>&1 & echo $!"));
    }
    ~ServedAgent() {
        ::kill(pid, SIGTERM);
        for (int i = 0; i < 100 && alive(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (alive()) ::kill(pid, SIGKILL);
        std::remove(log.c_str());
    }
    bool alive() const {
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string pid_s, comm, state;
        return stat >> pid_s >> comm >> state && state != "Z" && state != "X";
    }
    size_t open_fds() const {
        size_t n = 0;
        for ([[maybe_unused]] const auto& e :
             std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
            ++n;
        return n;
    }
    std::string output() const {
        std::ifstream in(log);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
};

// Non-blocking connections from the calling thread's namespace, all to one endpoint; each
// counts as closed once the peer ends it (EOF or reset).
struct Connections {
    std::vector<Fd> fds;
    Connections(const std::string& addr, uint16_t port, size_t n) {
        for (size_t i = 0; i < n; ++i) {
            Fd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
            if (c.fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
            auto sa = v4(addr, port);
            if (::connect(c.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 &&
                errno != EINPROGRESS)
                throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
            fds.push_back(std::move(c));
        }
    }
    void send_all(const std::string& bytes) {
        for (auto& c : fds)
            if (c.fd >= 0) (void)!::send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    }
    // Closed by the peer: reads what is there; EOF or an error means closed.
    size_t closed_by_peer() {
        size_t n = 0;
        for (auto& c : fds) {
            if (c.fd < 0) {
                ++n;
                continue;
            }
            char buf[4096];
            ssize_t r;
            while ((r = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
            }
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                c.reset();
                ++n;
            }
        }
        return n;
    }
};

void raise_nofile(rlim_t n) {
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur >= n) return;
    rl.rlim_cur = n;
    if (rl.rlim_max < n) rl.rlim_max = n;
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0)
        throw std::runtime_error(std::string("setrlimit: ") + std::strerror(errno));
}

// A served agent on 10.0.0.5 (agent-check :5555, status :9555) whose checks pass, asked
// from the director's namespace.
struct Served : Lab {
    TempFile cfg{"agsvc"}, state{"agsvst"};
    Fd service;
    void SetUp() override {
        Lab::SetUp();
        rs.exec("ip route add default via 10.0.0.1");
        service = listen_in(rs, "0.0.0.0", 8080);
        std::ofstream out(cfg.path);
        out << "probe_clients = [\"10.255.255.1\", \"203.0.113.9\"]\n"
            << "listen = \"10.0.0.5:5555\"\nstatus_listen = \"10.0.0.5:9555\"\n"
            << "drain_file = \"\"\ninterval_ms = 60000\n"
            << "[repair]\nstate_file = \"" << state.path << "\"\n"
            << "[[real_server]]\naddress = \"10.0.0.5\"\ndirector = \"10.0.0.1\"\n"
            << "ports = [8080]\n";
    }
    // The director's agent-check: one line, or nullopt.
    std::optional<std::string> ask() { return fetch_line(dir, "10.0.0.5", 5555, 3000); }
    std::optional<std::string> wait_until_serving(const ServedAgent& a) {
        for (int i = 0; i < 100; ++i) {
            if (auto line = ask()) return line;
            if (!a.alive()) return std::nullopt;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return std::nullopt;
    }
    std::string status_page() {
        return dir.run_inside([&] { return http_get_here("10.0.0.5", 9555, "/status"); });
    }
};

// Slowloris: 20 clients that send a request head one byte at a time and never finish it.
// The agent ends each once the request deadline passes; the director is answered all along.
TEST_F(Served, SlowlorisClientsAreCutOffAndTheDirectorIsStillAnswered) {
    ServedAgent agent(rs, cfg.path);
    ASSERT_EQ(wait_until_serving(agent), std::optional<std::string>("up")) << agent.output();
    std::optional<std::string> during;
    size_t closed = 0;
    dir.run_inside([&] {
        Connections slow("10.0.0.5", 9555, 20);
        slow.send_all("GET /status HTTP/1.1\r\nHost: x\r\n");
        // Up to 30 s (six times the 5 s request deadline): a byte every 250 ms each.
        for (int tick = 0; tick < 120 && closed < slow.fds.size(); ++tick) {
            slow.send_all("X");
            std::this_thread::sleep_for(std::chrono::milliseconds(250));
            closed = slow.closed_by_peer();
            if (tick == 4) during = fetch_line_here("10.0.0.5", 5555, 3000);
        }
    });
    EXPECT_EQ(closed, 20u) << "slow clients still connected after 30 s";
    EXPECT_EQ(during, std::optional<std::string>("up"));
    EXPECT_EQ(ask(), std::optional<std::string>("up"));
    EXPECT_NE(status_page().find("200 OK"), std::string::npos);
    EXPECT_TRUE(agent.alive()) << agent.output();
}

// 1,000 idle connections to each port: the agent holds a bounded number of descriptors
// (sessions are capped; the oldest gives way), and answers the director and /status.
TEST_F(Served, ThousandIdleConnectionsHoldBoundedDescriptors) {
    raise_nofile(8192);
    ServedAgent agent(rs, cfg.path);
    ASSERT_EQ(wait_until_serving(agent), std::optional<std::string>("up")) << agent.output();
    const size_t idle_fds = agent.open_fds();
    std::optional<std::string> during;
    std::string status_during;
    size_t fds_during = 0;
    dir.run_inside([&] {
        Connections http("10.0.0.5", 9555, 1000), check("10.0.0.5", 5555, 1000);
        std::this_thread::sleep_for(std::chrono::seconds(1));  // let the agent accept them all
        fds_during = agent.open_fds();
        during = fetch_line_here("10.0.0.5", 5555, 3000);
        status_during = http_get_here("10.0.0.5", 9555, "/status");
    });
    // The caps (64 HTTP + 256 agent-check sessions) plus what the agent had at rest, plus
    // a few in passing (a socket just accepted before the oldest is closed, a /proc read).
    EXPECT_LE(fds_during, idle_fds + 64 + 256 + 4) << "at rest: " << idle_fds;
    EXPECT_EQ(during, std::optional<std::string>("up"));
    EXPECT_NE(status_during.find("200 OK"), std::string::npos) << status_during;
    EXPECT_EQ(ask(), std::optional<std::string>("up"));
    EXPECT_TRUE(agent.alive()) << agent.output();
}

// Descriptor exhaustion: the agent runs with RLIMIT_NOFILE 64 while 300 idle clients hold
// each port. Its sessions are capped within the limit, so the director is answered during
// the flood and after it.
TEST_F(Served, LoweredDescriptorLimitStillAnswersTheDirector) {
    raise_nofile(4096);
    ServedAgent agent(rs, cfg.path, "prlimit --nofile=64:64");
    ASSERT_EQ(wait_until_serving(agent), std::optional<std::string>("up")) << agent.output();
    std::optional<std::string> during;
    dir.run_inside([&] {
        Connections http("10.0.0.5", 9555, 300), check("10.0.0.5", 5555, 300);
        std::this_thread::sleep_for(std::chrono::seconds(1));
        during = fetch_line_here("10.0.0.5", 5555, 3000);
    });
    EXPECT_EQ(during, std::optional<std::string>("up"));
    std::optional<std::string> after;
    for (int i = 0; i < 50 && !after; ++i) after = ask();  // the flood's sessions wind down
    EXPECT_EQ(after, std::optional<std::string>("up"));
    EXPECT_NE(status_page().find("200 OK"), std::string::npos);
    EXPECT_TRUE(agent.alive()) << agent.output();
    EXPECT_LE(agent.open_fds(), 64u);
}

}  // namespace

namespace {

// The soft RLIMIT_NOFILE of this process lowered so that no new descriptor can be made
// (the lowest free number becomes the limit); restored at scope exit.
struct NoFreeDescriptors {
    rlimit saved{};
    NoFreeDescriptors() {
        ::getrlimit(RLIMIT_NOFILE, &saved);
        int lowest_free = ::dup(0);
        ::close(lowest_free);
        rlimit none = saved;
        none.rlim_cur = static_cast<rlim_t>(lowest_free);
        ::setrlimit(RLIMIT_NOFILE, &none);
    }
    ~NoFreeDescriptors() { ::setrlimit(RLIMIT_NOFILE, &saved); }
};

// accept() failing with EMFILE backs off (50 ms doubling to 1 s) instead of spinning, and
// the connection that waited in the backlog is answered once descriptors are free again.
TEST_F(Lab, AcceptOutOfDescriptorsBacksOffThenAnswers) {
    rs.exec("ip route add default via 10.0.0.1");
    Fd l = listen_in(rs, "0.0.0.0", 8080);
    settings.interval_ms = 60000;
    settings.listen = ballast::model::Endpoint{ip("10.0.0.5"), 0};
    settings.drain_file.clear();
    AgentThread a(rs, settings);

    uint64_t errors_in_window = 0;
    std::optional<std::string> answer;
    dir.run_inside([&] {
        Fd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        const uint64_t before = a.counters().accept_errors;
        {
            NoFreeDescriptors exhausted;
            auto sa = v4("10.0.0.5", a.port);
            ASSERT_TRUE(::connect(c.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 ||
                        errno == EINPROGRESS)
                << std::strerror(errno);
            std::this_thread::sleep_for(std::chrono::seconds(1));
            errors_in_window = a.counters().accept_errors - before;
        }
        std::string line;
        for (int i = 0; i < 100 && line.find('\n') == std::string::npos; ++i) {
            pollfd p{c.fd, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            char buf[256];
            ssize_t n = ::read(c.fd, buf, sizeof buf);
            if (n <= 0) break;
            line.append(buf, static_cast<size_t>(n));
        }
        if (line.find('\n') != std::string::npos) answer = line.substr(0, line.find('\n'));
    });
    // 50 + 100 + 200 + 400 ms fill the second: a handful of attempts, not a busy loop.
    EXPECT_GE(errors_in_window, 1u);
    EXPECT_LE(errors_in_window, 8u);
    EXPECT_EQ(answer, std::optional<std::string>("up"));
}

}  // namespace

namespace {

// HAProxy's agent-send: the director writes a line, before or after the reply came. The
// agent reads it before closing, so the director reads the reply, then a clean end (FIN),
// and its socket never sees a reset (SO_ERROR stays 0).
TEST_F(Served, DirectorThatSendsGetsTheReplyAndACleanClose) {
    ServedAgent agent(rs, cfg.path);
    ASSERT_EQ(wait_until_serving(agent), std::optional<std::string>("up")) << agent.output();
    std::vector<std::string> endings;
    dir.run_inside([&] {
        for (int i = 0; i < 20; ++i) {
            Fd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
            timeval tv{3, 0};
            ::setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            auto sa = v4("10.0.0.5", 5555);
            ASSERT_EQ(::connect(c.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
            if (i % 2) std::this_thread::sleep_for(std::chrono::milliseconds(50));  // after
            std::string hello = "ballast-director-1 " + std::string(200, 'x') + "\n";
            ASSERT_EQ(::send(c.fd, hello.data(), hello.size(), MSG_NOSIGNAL),
                      static_cast<ssize_t>(hello.size()));
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            std::string got;
            char buf[512];
            ssize_t n;
            while ((n = ::read(c.fd, buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
            endings.push_back(got +
                              (n == 0 ? "<EOF>" : "<" + std::string(std::strerror(errno)) + ">") +
                              (err ? " then reset (" + std::string(std::strerror(err)) + ")" : ""));
        }
    });
    for (const auto& e : endings) EXPECT_EQ(e, "up\n<EOF>");
}

}  // namespace

namespace {

// A live scrape of /metrics passes `promtool check metrics` (format and lint), with the
// counters the listeners keep.
TEST_F(Served, LiveMetricsPassPromtool) {
    ServedAgent agent(rs, cfg.path);
    ASSERT_EQ(wait_until_serving(agent), std::optional<std::string>("up")) << agent.output();
    dir.run_inside([&] { (void)http_get_here("10.0.0.5", 9555, "/nope"); });  // a 404
    std::string res = dir.run_inside([&] { return http_get_here("10.0.0.5", 9555, "/metrics"); });
    ASSERT_NE(res.find("200 OK"), std::string::npos) << res;
    ASSERT_NE(res.find("\r\n\r\n"), std::string::npos) << res;
    std::string body = res.substr(res.find("\r\n\r\n") + 4);
    EXPECT_NE(body.find("ballast_agent_up 1"), std::string::npos) << body;
    // The 404 and this response itself.
    EXPECT_NE(body.find("ballast_agent_http_responses_total 2"), std::string::npos) << body;
    TempFile scrape("agprom");
    std::ofstream(scrape.path) << body;
    CommandOutput check = run("promtool check metrics < " + scrape.path);
    EXPECT_EQ(check.status, 0) << check.output << "\n" << body;
    EXPECT_EQ(check.output, "") << body;
}

}  // namespace

namespace {

// The repair record on disk. Each test starts from the lower-metric topology that repair
// fixes (4 changes with rp_filter_loose: 2 routes, the rule, rp_filter).
struct Record : Lab {
    TempFile cfg{"agrc"}, state{"agrs"};
    void SetUp() override {
        Lab::SetUp();
        add_other_gateway();
        rs.exec(
            "ip route add default via 192.168.1.1 metric 10 && ip route add default via "
            "10.0.0.1 metric 100");
        rs.exec("sysctl -qw net.ipv4.conf." + rs_if() + ".rp_filter=1");
        write_config(cfg, state, "rp_filter_loose = true\n");
    }
    CommandOutput agent_try(const std::string& args) {
        return rs.try_exec(std::string(BALLAST_AGENT_BIN) + " -c " + cfg.path + " " + args);
    }
    std::string read(const std::string& path) {
        std::ifstream in(path);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
};

// The temporary file is unique and never followed: a symlink planted at the old fixed name
// (<record>.tmp) is left alone, and the record is private (0600).
TEST_F(Record, WriteFollowsNoSymlinkAndIsPrivate) {
    TempFile victim("agvictim");
    std::ofstream(victim.path) << "precious\n";
    const std::string planted = state.path + ".tmp";
    ASSERT_EQ(::symlink(victim.path.c_str(), planted.c_str()), 0);
    struct Unplant {
        std::string p;
        ~Unplant() { std::remove(p.c_str()); }
    } unplant{planted};
    auto out = agent_try("--repair --no-serve");
    EXPECT_EQ(out.status, 0) << out.output;
    EXPECT_EQ(read(victim.path), "precious\n");
    struct stat st {};
    ASSERT_EQ(::lstat(state.path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    // A symlink in place of the record itself is refused, not read through.
    std::string record = read(state.path);
    TempFile elsewhere("agelse");
    std::ofstream(elsewhere.path) << record;
    std::remove(state.path.c_str());
    ASSERT_EQ(::symlink(elsewhere.path.c_str(), state.path.c_str()), 0);
    auto undo = agent_try("--undo");
    EXPECT_NE(undo.status, 0) << undo.output;
    EXPECT_NE(undo.output.find("symbolic link"), std::string::npos) << undo.output;
}

// A record that cannot be read for any reason but "no such file" stops repair before it
// changes anything: the next write would have dropped what the record held.
TEST_F(Record, UnreadableRecordStopsRepairBeforeAnyChange) {
    TempFile not_a_dir("agnd");
    std::ofstream(not_a_dir.path) << "a file where the record's directory should be\n";
    {
        std::ofstream out(cfg.path);
        out << "probe_clients = [\"10.255.255.1\", \"203.0.113.9\"]\n"
            << "[repair]\nrp_filter_loose = true\nstate_file = \"" << not_a_dir.path
            << "/repair.json\"\n"
            << "[[real_server]]\naddress = \"10.0.0.5\"\ndirector = \"10.0.0.1\"\n";
    }
    const std::string before = routing_dump();
    auto out = agent_try("--repair --no-serve");
    EXPECT_NE(out.status, 0) << out.output;
    EXPECT_NE(out.output.find("Not a directory"), std::string::npos) << out.output;
    EXPECT_EQ(routing_dump(), before) << out.output;
}

// A corrupt record is reported; the agent does not repair over it, and serves.
TEST_F(Record, CorruptRecordIsReportedAndTheAgentServes) {
    std::ofstream(state.path) << "{\"version\":1,\"applied\":[{\"kind\":";
    {
        std::ofstream out(cfg.path);
        out << "probe_clients = [\"10.255.255.1\", \"203.0.113.9\"]\n"
            << "listen = \"10.0.0.5:5555\"\ndrain_file = \"\"\n"
            << "[repair]\nenabled = true\nstate_file = \"" << state.path << "\"\n"
            << "[[real_server]]\naddress = \"10.0.0.5\"\ndirector = \"10.0.0.1\"\n";
    }
    const std::string before = routing_dump();
    ServedAgent agent(rs, cfg.path);
    std::optional<std::string> line;
    for (int i = 0; i < 100 && !line && agent.alive(); ++i) {
        line = fetch_line(dir, "10.0.0.5", 5555, 500);
        if (!line) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(line) << "not serving: " << agent.output();
    EXPECT_EQ(line->rfind("down #return route to 10.255.255.1 leaves via 192.168.1.1", 0), 0u)
        << *line;
    EXPECT_NE(agent.output().find(state.path), std::string::npos) << agent.output();
    EXPECT_EQ(routing_dump(), before);
}

// Intent first: changes applied but whose result was never written (a crash between the
// two) are still in the record, as pending, and --undo removes them. A record from
// another boot describes nothing that is left and is not undone.
TEST_F(Record, PendingChangesAreUndoneAndAnotherBootsRecordIsNot) {
    const std::string before = routing_dump();
    ASSERT_EQ(agent_try("--repair --no-serve").status, 0);
    std::string record = read(state.path);
    ASSERT_NE(record.find("\"boot_id\""), std::string::npos) << record;
    // As left by a crash after applying: everything still pending, nothing applied.
    auto at = record.find("\"applied\"");
    ASSERT_NE(at, std::string::npos) << record;
    std::string crashed = record;
    crashed.replace(at, 9, "\"pending\"");
    auto pending_at = record.find("\"pending\"");
    ASSERT_NE(pending_at, std::string::npos) << record;
    crashed.replace(pending_at, 9, "\"applied\"");
    std::ofstream(state.path) << crashed;
    auto undo = agent_try("--undo");
    EXPECT_EQ(undo.status, 0) << undo.output;
    EXPECT_NE(undo.output.find("4 change(s) reverted"), std::string::npos) << undo.output;
    EXPECT_EQ(routing_dump(), before);

    ASSERT_EQ(agent_try("--repair --no-serve").status, 0);
    const std::string repaired = routing_dump();
    record = read(state.path);
    auto id = record.find("\"boot_id\":\"");
    ASSERT_NE(id, std::string::npos);
    record.replace(id + 11, 8, "00000000");
    std::ofstream(state.path) << record;
    undo = agent_try("--undo");
    EXPECT_EQ(undo.status, 0) << undo.output;
    EXPECT_NE(undo.output.find("earlier boot"), std::string::npos) << undo.output;
    EXPECT_EQ(routing_dump(), repaired);
}

}  // namespace

namespace {

// SIGHUP re-reads the config (here: the port to check moves to one nothing listens on)
// instead of killing the agent; a broken config on SIGHUP is reported and the running one
// kept.
TEST_F(Served, SighupReloadsTheConfigAndKeepsServing) {
    ServedAgent agent(rs, cfg.path);
    ASSERT_EQ(wait_until_serving(agent), std::optional<std::string>("up")) << agent.output();
    std::string text;
    {
        std::ifstream in(cfg.path);
        text.assign(std::istreambuf_iterator<char>(in), {});
    }
    auto at = text.find("ports = [8080]");
    ASSERT_NE(at, std::string::npos);
    std::ofstream(cfg.path) << std::string(text).replace(at, 14, "ports = [8081]");
    ASSERT_EQ(::kill(agent.pid, SIGHUP), 0);
    std::optional<std::string> line;
    for (int i = 0; i < 100; ++i) {
        line = ask();
        if (line && line->rfind("down", 0) == 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(agent.alive()) << agent.output();
    EXPECT_EQ(line, std::optional<std::string>(
                        "down #nothing listens on 10.0.0.5:8081/tcp (nor on the wildcard)"));

    std::ofstream(cfg.path) << "this is = = not toml\n";
    ASSERT_EQ(::kill(agent.pid, SIGHUP), 0);
    for (int i = 0; i < 100 && agent.output().find("reload failed") == std::string::npos; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_TRUE(agent.alive());
    EXPECT_NE(agent.output().find("reload failed; keeping the running config"), std::string::npos)
        << agent.output();
    EXPECT_EQ(ask(), line);
}

}  // namespace

namespace {

// The unit's privileged step, `--no-serve` alone: repairs only when [repair] enabled.
TEST_F(Record, NoServeRepairsOnlyWhenEnabled) {
    const std::string before = routing_dump();
    auto off = agent_try("--no-serve");
    EXPECT_EQ(off.status, 0) << off.output;
    EXPECT_NE(off.output.find("repair: not run"), std::string::npos) << off.output;
    EXPECT_EQ(routing_dump(), before);

    write_config(cfg, state, "enabled = true\nrp_filter_loose = true\n");
    auto on = agent_try("--no-serve");
    EXPECT_EQ(on.status, 0) << on.output;
    EXPECT_NE(on.output.find("4 change(s) recorded"), std::string::npos) << on.output;
    EXPECT_NE(routing_dump(), before);
    EXPECT_NE(agent_try("--repair --no-repair").status, 0);
}

}  // namespace
