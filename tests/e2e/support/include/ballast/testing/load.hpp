#pragma once
// A load generator for end-to-end tests: one thread in the client's namespace keeps
// `concurrency` HTTP connections open through the VIP at all times (one epoll loop; each
// finished connection is replaced at once) and records how every connection ended.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ballast/testing/lab.hpp"

namespace ballast::testing {

struct LoadOptions {
    std::string vip;
    uint16_t port = 80;
    std::vector<std::string> sources;  // client addresses, used in turn (more ports to use)
    size_t concurrency = 1000;
    // Each request is GET /sleep/think_ms?id=N: the server holds it that long, so connections
    // stay open across the faults the test makes.
    unsigned think_ms = 500;
    std::chrono::milliseconds timeout = std::chrono::seconds(10);  // a hang, past this
};

enum class Outcome {
    ok,             // 200 and a server's name
    refused,        // RST to the SYN
    reset_early,    // reset or closed before any byte of the reply
    broken_reply,   // reset, closed or malformed after part of the reply
    timeout,        // no whole reply within the timeout
    connect_error,  // any other failure to connect (no route, no local port, ...)
};
const char* to_string(Outcome o);

struct ConnectionRecord {
    uint64_t id = 0;
    std::chrono::steady_clock::time_point opened, ended;
    Outcome outcome = Outcome::ok;
    std::string detail;
};

struct LoadStats {
    uint64_t started = 0;
    uint64_t completed = 0;  // any outcome
    std::map<Outcome, uint64_t> outcomes;
    std::map<std::string, uint64_t> by_server;  // ok replies per server name
    std::vector<uint32_t> ok_ms;                // each ok connection's duration, in order
};

class LoadClient {
public:
    LoadClient(IsolatedNetns& client, LoadOptions options);
    ~LoadClient();
    LoadClient(const LoadClient&) = delete;
    LoadClient& operator=(const LoadClient&) = delete;
    // Stops opening connections, lets those open end (each within the timeout), joins.
    // Throws CommandFailed if the generator itself failed (epoll, descriptors).
    void finish();
    LoadStats stats() const;
    // Every connection that did not end `ok`.
    std::vector<ConnectionRecord> failures() const;

private:
    void run();
    IsolatedNetns& client_;
    LoadOptions options_;
    std::atomic<bool> finishing_{false};
    mutable std::mutex mutex_;
    LoadStats stats_;
    std::vector<ConnectionRecord> failures_;
    std::string fatal_;  // the loop itself failed (epoll, descriptors)
    std::thread thread_;
};

}  // namespace ballast::testing
