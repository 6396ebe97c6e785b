#include "ballast/testing/net.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ballast::testing {

namespace {

std::string errno_text(const std::string& what) {
    return what + ": " + std::strerror(errno);
}

}  // namespace

SockAddr sock_addr(const std::string& ip, uint16_t port) {
    SockAddr a;
    if (ip.find(':') == std::string::npos) {
        auto* s = reinterpret_cast<sockaddr_in*>(&a.storage);
        s->sin_family = AF_INET;
        s->sin_port = htons(port);
        if (::inet_pton(AF_INET, ip.c_str(), &s->sin_addr) != 1)
            throw CommandFailed("not an IPv4 address: " + ip);
        a.length = sizeof(sockaddr_in);
    } else {
        auto* s = reinterpret_cast<sockaddr_in6*>(&a.storage);
        s->sin6_family = AF_INET6;
        s->sin6_port = htons(port);
        if (::inet_pton(AF_INET6, ip.c_str(), &s->sin6_addr) != 1)
            throw CommandFailed("not an IPv6 address: " + ip);
        a.length = sizeof(sockaddr_in6);
    }
    return a;
}

std::string ip_text(const SockAddr& a) {
    char text[INET6_ADDRSTRLEN] = {};
    if (a.family() == AF_INET6)
        ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&a.storage)->sin6_addr, text,
                    sizeof text);
    else
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_addr, text,
                    sizeof text);
    return text;
}

std::string to_string(const SockAddr& a) {
    if (a.family() == AF_INET6)
        return "[" + ip_text(a) + "]:" +
               std::to_string(ntohs(reinterpret_cast<const sockaddr_in6*>(&a.storage)->sin6_port));
    return ip_text(a) + ":" +
           std::to_string(ntohs(reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_port));
}

Fd listen_on(const std::string& ip, uint16_t port, int type, int backlog) {
    const SockAddr a = sock_addr(ip, port);
    Fd fd(::socket(a.family(), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (fd.fd < 0) throw CommandFailed(errno_text("socket"));
    const int one = 1;
    ::setsockopt(fd.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.fd, a.get(), a.length) != 0)
        throw CommandFailed(errno_text("bind " + to_string(a)));
    if (type == SOCK_STREAM && ::listen(fd.fd, backlog) != 0)
        throw CommandFailed(errno_text("listen " + to_string(a)));
    return fd;
}

void enter_netns(const IsolatedNetns& ns) {
    const std::string path = "/proc/self/task/" + std::to_string(ns.tid()) + "/ns/net";
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.fd < 0) throw CommandFailed(errno_text("open " + path));
    if (::setns(fd.fd, CLONE_NEWNET) != 0) throw CommandFailed(errno_text("setns " + path));
}

void publish_netns(const IsolatedNetns& ns, const std::string& name) {
    if (::mkdir("/run/netns", 0755) != 0 && errno != EEXIST)
        throw CommandFailed(errno_text("mkdir /run/netns"));
    const std::string target = "/run/netns/" + name;
    Fd file(::open(target.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
    if (file.fd < 0) throw CommandFailed(errno_text("create " + target));
    const std::string source = "/proc/self/task/" + std::to_string(ns.tid()) + "/ns/net";
    if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
        const std::string why = errno_text("bind-mount " + source + " on " + target);
        ::unlink(target.c_str());
        throw CommandFailed(why);
    }
}

void raise_fd_limit(unsigned long n) {
    rlimit r{};
    ::getrlimit(RLIMIT_NOFILE, &r);
    if (r.rlim_cur >= n) return;
    r.rlim_cur = n;
    if (r.rlim_max < n) r.rlim_max = n;
    if (::setrlimit(RLIMIT_NOFILE, &r) != 0)
        throw CommandFailed(errno_text("setrlimit(RLIMIT_NOFILE, " + std::to_string(n) + ")"));
}

}  // namespace ballast::testing
