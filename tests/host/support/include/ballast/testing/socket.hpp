#pragma once
// Small socket helpers shared by the host and kernel-lab tests.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

namespace ballast::testing {

// An owned file descriptor, closed when it goes out of scope.
struct Fd {
    int fd = -1;
    explicit Fd(int f = -1) : fd(f) {}
    Fd(Fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd = std::exchange(o.fd, -1);
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }
    void reset() {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
};

// An IPv4 socket address from dotted text and a port.
inline sockaddr_in v4(const std::string& addr, uint16_t port) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    ::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
    return sa;
}

// A listening TCP socket on addr:port, created on the calling thread and so in its
// network namespace (it stays there when the thread moves on). Throws on failure.
inline Fd listen_tcp(const std::string& addr, uint16_t port, int backlog = 16) {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    int one = 1;
    ::setsockopt(fd.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    auto sa = v4(addr, port);
    if (::bind(fd.fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        ::listen(fd.fd, backlog) != 0)
        throw std::runtime_error("bind/listen " + addr + ":" + std::to_string(port) + ": " +
                                 std::strerror(errno));
    return fd;
}

}  // namespace ballast::testing
