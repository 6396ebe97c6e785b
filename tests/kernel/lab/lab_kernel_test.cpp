// The kernel lab itself (runs inside scripts/lab-vm): IPVS and the modules
// ballast needs are there, plain ipvsadm programs and reads back a NAT
// service, and nft masquerade rewrites real packets. One binary with few
// execs, because every process start is slow under TCG.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ballast/testing/lab.hpp"
#include "ballast/testing/socket.hpp"

using namespace ballast::testing;

namespace {

std::vector<std::string> split_ws(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> out;
    std::string w;
    while (in >> w) out.push_back(w);
    return out;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) out.push_back(line);
    return out;
}

std::string read_file(const std::string& path) {
    std::ifstream f(path);
    if (!f) throw CommandFailed("cannot read " + path);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

// One row of `ipvsadm -Ln`: a service ("TCP 10.0.0.1:80 wlc") or a real
// server under it ("-> 10.0.1.2:80 Masq 3 0 0").
struct ListedService {
    std::string protocol, address, scheduler;
    struct Real {
        std::string address, forward;
        int weight;
    };
    std::vector<Real> reals;
};

std::vector<ListedService> parse_ipvsadm_list(const std::string& text) {
    std::vector<ListedService> services;
    for (const auto& line : lines_of(text)) {
        auto w = split_ws(line);
        if (w.empty()) continue;
        if (w[0] == "TCP" || w[0] == "UDP" || w[0] == "SCTP") {
            if (w.size() < 3) throw CommandFailed("short service line: " + line);
            services.push_back({w[0], w[1], w[2], {}});
        } else if (w[0] == "->" && w.size() >= 4 && w[1] != "RemoteAddress:Port") {
            if (services.empty()) throw CommandFailed("real server before a service: " + line);
            services.back().reals.push_back({w[1], w[2], std::stoi(w[3])});
        }
    }
    return services;
}

// Service lines of /proc/net/ip_vs: the kernel's own view, addresses in hex
// ("TCP  0A0A0001:0050 wlc", "  -> 0A0A0102:0050      Masq    3      0          0").
std::vector<std::vector<std::string>> proc_ip_vs_rows(const std::string& text) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& line : lines_of(text)) {
        auto w = split_ws(line);
        if (!w.empty() &&
            (w[0] == "TCP" || w[0] == "UDP" || (w[0] == "->" && w[1] != "RemoteAddress:Port")))
            rows.push_back(w);
    }
    return rows;
}

std::string errno_text(const std::string& what) {
    return what + ": " + std::strerror(errno);
}

// Accepts one connection (10 s limit), echoes one message, returns the peer address.
std::string accept_echo_once(int listener) {
    pollfd p{listener, POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) throw CommandFailed("no connection arrived within 10 s");
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    Fd c(::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC));
    if (c.fd < 0) throw CommandFailed(errno_text("accept"));
    char buf[256];
    ssize_t n = ::read(c.fd, buf, sizeof buf);
    if (n > 0) (void)!::write(c.fd, buf, static_cast<size_t>(n));
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &peer.sin_addr, text, sizeof text);
    return text;
}

// Connects from `source` to `dest`:`port`, sends `message`, returns the echo.
std::string send_from(const char* source, const char* dest, uint16_t port,
                      const std::string& message) {
    Fd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (c.fd < 0) throw CommandFailed(errno_text("socket"));
    timeval limit{5, 0};  // connect and read give up after 5 s instead of hanging
    ::setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    ::setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    auto src = v4(source, 0);
    if (::bind(c.fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0)
        throw CommandFailed(errno_text(std::string("bind ") + source));
    auto dst = v4(dest, port);
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0)
        throw CommandFailed(errno_text(std::string("connect ") + dest));
    if (::write(c.fd, message.data(), message.size()) != static_cast<ssize_t>(message.size()))
        throw CommandFailed(errno_text("write"));
    char buf[256];
    ssize_t n = ::read(c.fd, buf, sizeof buf);
    if (n < 0) throw CommandFailed(errno_text("read echo"));
    return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

TEST(KernelLab, KernelHasIpvs) {
    ASSERT_NO_THROW(require_ipvs_kernel());
    std::string header = read_file("/proc/net/ip_vs");
    EXPECT_EQ(header.rfind("IP Virtual Server version ", 0), 0u) << header;
}

TEST(KernelLab, EveryLabModuleIsLoaded) {
    auto loaded = loaded_modules();
    for (const char* m :
         {"ip_vs",        "ip_vs_rr",  "ip_vs_wrr", "ip_vs_lc",       "ip_vs_wlc",
          "ip_vs_sh",     "ip_vs_mh",  "ip_vs_sed", "ip_vs_nq",       "nf_conntrack",
          "nf_nat",       "nf_tables", "nft_masq",  "nft_chain_nat",  "veth",
          "dummy",        "bonding",   "libcrc32c", "crc32c_generic", "9p",
          "9pnet_virtio", "virtio_pci"})
        EXPECT_TRUE(loaded.count(m)) << "module " << m << " is not loaded in the lab guest";
}

TEST(KernelLab, IpvsadmCreatesNatServiceAndReadsItBack) {
    IsolatedNetns ns;
    ns.check({"ipvsadm", "-A", "-t", "10.10.0.1:80", "-s", "wlc"});
    ns.check({"ipvsadm", "-a", "-t", "10.10.0.1:80", "-r", "10.10.1.2:80", "-m", "-w", "3"});

    auto listed = parse_ipvsadm_list(ns.check({"ipvsadm", "-Ln"}));
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0].protocol, "TCP");
    EXPECT_EQ(listed[0].address, "10.10.0.1:80");
    EXPECT_EQ(listed[0].scheduler, "wlc");
    ASSERT_EQ(listed[0].reals.size(), 1u);
    EXPECT_EQ(listed[0].reals[0].address, "10.10.1.2:80");
    EXPECT_EQ(listed[0].reals[0].forward, "Masq");
    EXPECT_EQ(listed[0].reals[0].weight, 3);

    auto saved = lines_of(ns.check({"ipvsadm", "-S", "-n"}));
    EXPECT_EQ(saved, (std::vector<std::string>{"-A -t 10.10.0.1:80 -s wlc",
                                               "-a -t 10.10.0.1:80 -r 10.10.1.2:80 -m -w 3"}));

    // The kernel's own table in that namespace agrees (no exec: /proc of the worker thread).
    auto rows = ns.run([] { return proc_ip_vs_rows(read_file("/proc/thread-self/net/ip_vs")); });
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0], (std::vector<std::string>{"TCP", "0A0A0001:0050", "wlc"}));
    ASSERT_GE(rows[1].size(), 4u);
    EXPECT_EQ(rows[1][1], "0A0A0102:0050");
    EXPECT_EQ(rows[1][2], "Masq");
    EXPECT_EQ(rows[1][3], "3");

    // ...and nothing leaked into the namespace this test started in.
    EXPECT_EQ(read_file("/proc/self/net/ip_vs").find("0A0A0001"), std::string::npos);
}

TEST(KernelLab, EveryLabSchedulerAcceptsAService) {
    const std::vector<std::string> schedulers = {"rr", "wrr", "lc", "wlc", "sh", "mh", "sed", "nq"};
    IsolatedNetns ns;
    std::string rules;
    for (size_t i = 0; i < schedulers.size(); ++i)
        rules += "-A -t 10.20.0.1:" + std::to_string(8000 + i) + " -s " + schedulers[i] + "\n";
    ns.check({"ipvsadm", "-R"}, rules);  // one exec for all of them

    auto listed = parse_ipvsadm_list(ns.check({"ipvsadm", "-Ln"}));
    ASSERT_EQ(listed.size(), schedulers.size());
    for (size_t i = 0; i < schedulers.size(); ++i) {
        auto address = "10.20.0.1:" + std::to_string(8000 + i);
        bool found = false;
        for (const auto& s : listed)
            if (s.address == address) {
                found = true;
                EXPECT_EQ(s.scheduler, schedulers[i]) << address;
            }
        EXPECT_TRUE(found) << address << " missing from ipvsadm -Ln";
    }
}

// director (192.168.77.1 on a dummy, 10.9.0.1 on veth) -- server (10.9.0.2).
// Without nft the server sees the director's private source; with a
// masquerade rule on the veth it sees 10.9.0.1 and the reply still arrives.
TEST(KernelLab, NftMasqueradeRewritesTheSourceOnEgress) {
    IsolatedNetns director, server;
    director.check({"ip", "-batch", "-"}, "link add va type veth peer name vb netns " +
                                              std::to_string(server.tid()) +
                                              "\n"
                                              "addr add 10.9.0.1/24 dev va\n"
                                              "link set va up\n"
                                              "link add priv type dummy\n"
                                              "addr add 192.168.77.1/32 dev priv\n"
                                              "link set priv up\n");
    server.check({"ip", "-batch", "-"},
                 "addr add 10.9.0.2/24 dev vb\n"
                 "link set vb up\n"
                 "route add 192.168.77.0/24 via 10.9.0.1\n");
    Fd listener(server.run([] { return listen_tcp("10.9.0.2", 7001); }));

    auto exchange = [&](const std::string& message) {
        std::string peer, error;
        std::thread accepter([&] {
            try {
                peer = accept_echo_once(listener.fd);
            } catch (const std::exception& e) {
                error = e.what();
            }
        });
        std::string echoed;
        try {
            echoed =
                director.run([&] { return send_from("192.168.77.1", "10.9.0.2", 7001, message); });
        } catch (...) {
            accepter.join();
            throw;
        }
        accepter.join();
        if (!error.empty()) throw CommandFailed(error);
        EXPECT_EQ(echoed, message);
        return peer;
    };

    EXPECT_EQ(exchange("before nft"), "192.168.77.1");

    director.check({"nft", "-f", "-"},
                   "table ip ballast_lab_nat {\n"
                   "  chain postrouting {\n"
                   "    type nat hook postrouting priority srcnat; policy accept;\n"
                   "    oifname \"va\" ip saddr 192.168.77.0/24 masquerade\n"
                   "  }\n"
                   "}\n");
    EXPECT_EQ(exchange("after nft"), "10.9.0.1");
}
