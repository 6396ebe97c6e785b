// The IpvsClient contract (tests/contract/ipvs) against IpvsNetlinkClient and real IPVS, in the
// kernel lab: each test gets a fresh network namespace (IPVS state is per namespace). The same
// suite runs against FakeIpvs in tests/unit/ipvs/ipvs_contract_test.cpp.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "ballast/contract/ipvs_contract.hpp"
#include "ballast/kernel/ipvs_netlink_client.hpp"
#include "ballast/testing/lab.hpp"

namespace ballast::contract {
namespace {

using testing::IsolatedNetns;

sockaddr_in v4(const model::IpAddress& a, uint16_t port) {
    sockaddr_in s{};
    s.sin_family = AF_INET;
    s.sin_port = htons(port);
    std::memcpy(&s.sin_addr, a.bytes.data(), 4);
    return s;
}

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error(what + ": " + std::strerror(errno));
}

// The director's namespace holds the client and, for traffic, a local client whose connections
// to the VIP IPVS schedules; the real server lives in a second namespace behind a veth.
class KernelSubject : public IpvsSubject {
public:
    KernelSubject() {
        testing::require_ipvs_kernel();
        auto c = director_.run([] { return kernel::IpvsNetlinkClient::open(); });
        if (!c) throw std::runtime_error(c.error().describe());
        client_ = std::move(*c);
    }
    ~KernelSubject() override {
        for (int fd : fds_) ::close(fd);
    }
    kernel::IpvsClient& client() override { return *client_; }

    void hold_connection(const model::ServiceKey& service, const model::RealKey& real) override {
        if (!server_) {
            server_ = std::make_unique<IsolatedNetns>();
            director_.check({"ip", "-batch", "-"},
                            "link add vd type veth peer name vr netns " +
                                std::to_string(server_->tid()) + "\n" +
                                "addr add 10.77.0.1/24 dev vd\nlink set vd up\n"
                                "route add " +
                                service.addr.to_string() + "/32 dev vd\n");
            server_->check({"ip", "-batch", "-"},
                           "addr add " + real.addr.to_string() + "/24 dev vr\nlink set vr up\n");
        }
        const int listener = server_->run([&] {
            int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd < 0) fail("socket");
            int one = 1;
            ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            auto at = v4(real.addr, real.port);
            if (::bind(fd, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0) fail("bind");
            if (::listen(fd, 4) != 0) fail("listen");
            return fd;
        });
        fds_.push_back(listener);
        fds_.push_back(director_.run([&] {
            int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd < 0) fail("socket");
            timeval limit{5, 0};  // give up instead of hanging
            ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
            auto vip = v4(service.addr, service.port);
            if (::connect(fd, reinterpret_cast<sockaddr*>(&vip), sizeof vip) != 0) {
                ::close(fd);
                fail("connect to " + service.to_string());
            }
            return fd;
        }));
        pollfd p{listener, POLLIN, 0};
        if (::poll(&p, 1, 10000) != 1) throw std::runtime_error("no connection arrived in 10 s");
        int accepted = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (accepted < 0) fail("accept");
        fds_.push_back(accepted);
    }

private:
    IsolatedNetns director_;
    std::unique_ptr<IsolatedNetns> server_;
    std::unique_ptr<kernel::IpvsNetlinkClient> client_;
    std::vector<int> fds_;
};

INSTANTIATE_TEST_SUITE_P(Kernel, IpvsContract,
                         ::testing::Values(IpvsSubjectFactory{
                             "IpvsNetlinkClient",
                             [] { return std::make_unique<KernelSubject>(); }}),
                         subject_name);

}  // namespace
}  // namespace ballast::contract
