// The host lab itself: two namespaces joined by veth exchange a TCP message.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <thread>

#include "ballast/testing/netns.hpp"
#include "ballast/testing/socket.hpp"

using namespace ballast::testing;

namespace {}  // namespace

TEST(HostLab, RootAndNamespacesAreAvailable) {
    ASSERT_NO_THROW(require_netns_capability());
}

TEST(HostLab, TwoNamespacesExchangeATcpMessageOverVeth) {
    NetNs server("srv"), client("cli");
    connect(server, "10.200.0.1/24", client, "10.200.0.2/24");

    // Listen inside the server namespace; the socket stays there after the thread ends.
    Fd l = server.run_inside([] { return listen_tcp("10.200.0.1", 7000); });

    std::string sent = "hello from " + client.name();
    std::string seen_peer;
    std::thread server_thread([&] {
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        Fd c(::accept(l.fd, reinterpret_cast<sockaddr*>(&peer), &len));
        char buf[128] = {};
        ssize_t n = ::read(c.fd, buf, sizeof buf - 1);
        char addr[INET_ADDRSTRLEN] = {};
        ::inet_ntop(AF_INET, &peer.sin_addr, addr, sizeof addr);
        seen_peer = addr;
        if (n > 0) (void)!::write(c.fd, buf, static_cast<size_t>(n));  // echo
    });

    std::string echoed = client.run_inside([&] {
        Fd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        auto sa = v4("10.200.0.1", 7000);
        if (::connect(c.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
            throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
        if (::write(c.fd, sent.data(), sent.size()) != static_cast<ssize_t>(sent.size()))
            throw std::runtime_error("short write");
        char buf[128] = {};
        ssize_t n = ::read(c.fd, buf, sizeof buf - 1);
        return std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
    });
    server_thread.join();

    EXPECT_EQ(echoed, sent);
    EXPECT_EQ(seen_peer, "10.200.0.2");
}

TEST(HostLab, NamespacesAreIsolatedFromEachOther) {
    NetNs a("isa"), b("isb");
    // Without a link, b has no route to an address that only exists in a.
    a.exec("ip addr add 10.201.0.1/32 dev lo");
    EXPECT_NE(a.exec("ip route get 10.201.0.1").find("dev lo"), std::string::npos);
    auto r = b.try_exec("ip route get 10.201.0.1");
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.output.find("unreachable"), std::string::npos) << r.output;
    EXPECT_NE(a.exec("ip -o addr show dev lo").find("10.201.0.1"), std::string::npos);
    EXPECT_EQ(b.exec("ip -o addr show dev lo").find("10.201.0.1"), std::string::npos);
}

TEST(HostLab, NamespaceIsRemovedWhenDone) {
    std::string name;
    {
        NetNs ns("gone");
        name = ns.name();
        EXPECT_NE(sh("ip netns list").find(name), std::string::npos);
    }
    EXPECT_EQ(sh("ip netns list").find(name), std::string::npos);
}
