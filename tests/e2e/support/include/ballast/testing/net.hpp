#pragma once
// Addresses of either family, sockets opened in the calling thread's namespace, and threads
// that join a namespace, for end-to-end tests and the demo's tool.
#include <sys/socket.h>

#include <functional>
#include <future>
#include <string>
#include <thread>

#include "ballast/testing/lab.hpp"
#include "ballast/testing/socket.hpp"

namespace ballast::testing {

// An IPv4 or IPv6 socket address.
struct SockAddr {
    sockaddr_storage storage{};
    socklen_t length = 0;
    int family() const { return storage.ss_family; }
    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// "10.0.0.1" or "fd00::1" (no brackets) and a port; throws CommandFailed on bad text.
SockAddr sock_addr(const std::string& ip, uint16_t port);
// "10.0.0.1:80" / "[fd00::1]:80".
std::string to_string(const SockAddr& a);
// "10.0.0.1" / "fd00::1".
std::string ip_text(const SockAddr& a);

// A TCP listener (SOCK_STREAM) or a bound UDP socket (SOCK_DGRAM) on ip:port, non-blocking,
// opened in the calling thread's network namespace. Throws CommandFailed.
Fd listen_on(const std::string& ip, uint16_t port, int type = SOCK_STREAM, int backlog = 4096);

// The calling thread joins ns's network namespace (sockets it opens from now on live there).
void enter_netns(const IsolatedNetns& ns);

// Runs fn on a new thread inside ns; its result (or exception) through the future. For work
// that must not occupy ns's own worker (a download while the test sends other traffic).
template <typename F>
auto async_in(IsolatedNetns& ns, F fn) -> std::future<decltype(fn())> {
    return std::async(std::launch::async, [&ns, fn = std::move(fn)]() mutable {
        enter_netns(ns);
        return fn();
    });
}

// Makes ns visible to `ip netns exec NAME ...` (a bind mount at /run/netns/NAME) so that it
// outlives this process; `ip netns del NAME` removes it. Throws CommandFailed.
void publish_netns(const IsolatedNetns& ns, const std::string& name);

// Raises this process's descriptor limit to at least n (root may raise the hard limit).
void raise_fd_limit(unsigned long n);

}  // namespace ballast::testing
