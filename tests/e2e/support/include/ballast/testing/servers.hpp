#pragma once
// Small servers on the real servers and the client side of the traffic, for kernel-lab
// end-to-end tests. Each server runs on its own thread; its sockets live in the namespace of
// the IsolatedNetns it was started in.
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ballast/testing/lab.hpp"
#include "ballast/testing/socket.hpp"

namespace ballast::testing {

// HTTP/1.0 on ip:port: every request is answered "200 OK" with the server's name as the
// body; GET /bytes/N answers N bytes. stop() closes the listener (new connections are
// refused), start() opens it again.
class HttpServer {
public:
    HttpServer(IsolatedNetns& ns, std::string ip, uint16_t port, std::string name);
    ~HttpServer();
    void start();
    void stop();
    uint64_t requests() const { return requests_.load(); }

private:
    void serve(int listener);
    IsolatedNetns& ns_;
    std::string ip_;
    uint16_t port_;
    std::string name_;
    std::atomic<uint64_t> requests_{0};
    Fd listener_;
    std::thread thread_;
    std::atomic<bool> stopping_{false};
};

// Echoes whatever each connection sends, until it closes (for long-lived connections).
class EchoServer {
public:
    EchoServer(IsolatedNetns& ns, std::string ip, uint16_t port);
    ~EchoServer();

private:
    Fd listener_;
    std::thread thread_;
    std::atomic<bool> stopping_{false};
    std::mutex mutex_;
    std::vector<std::thread> sessions_;
};

// One HTTP GET to ip:port from the calling thread's namespace: the body, or throws
// (naming the failure: refused, reset, timeout) after `timeout`.
std::string http_get(const std::string& ip, uint16_t port, const std::string& path = "/",
                     std::chrono::milliseconds timeout = std::chrono::seconds(5));

// n requests to ip:port from `client`, one after another: how many each name answered,
// with failures counted under "error: <why>".
std::map<std::string, int> http_tally(IsolatedNetns& client, const std::string& ip, uint16_t port,
                                      int n);

// A connection kept open through the test: a thread sends a line and reads it back every
// `period`; anything else than the echo (reset, close, timeout) is recorded.
class LongConnection {
public:
    LongConnection(IsolatedNetns& client, const std::string& ip, uint16_t port,
                   std::chrono::milliseconds period = std::chrono::milliseconds(50));
    ~LongConnection();
    uint64_t round_trips() const { return round_trips_.load(); }
    bool failed() const;
    std::string failure() const;
    void stop();

private:
    Fd sock_;
    std::chrono::milliseconds period_;
    std::atomic<uint64_t> round_trips_{0};
    std::atomic<bool> stopping_{false};
    mutable std::mutex mutex_;
    std::string failure_;
    std::thread thread_;
};

}  // namespace ballast::testing
