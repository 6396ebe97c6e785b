#pragma once
// Small servers on the real servers and the client side of the traffic, for kernel-lab
// end-to-end tests and the demo. Servers run on threads of their own; their sockets live in
// the namespace of the IsolatedNetns they were started in (or, for the constructors without
// one, the calling thread's namespace: the demo's tool runs under `ip netns exec`).
// Addresses may be IPv4 or IPv6 ("fd00::1", no brackets).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_set>
#include <vector>

#include "ballast/testing/lab.hpp"
#include "ballast/testing/socket.hpp"

namespace ballast::testing {

// The bytes of GET /data/N: byte i is the same in every download, and no short period
// repeats, so a lost, repeated or reordered block changes the checksum.
void fill_data(uint64_t offset, char* out, size_t n);
// SHA-256 of the first n bytes of that stream, as `sha256sum` prints it.
std::string data_sha256(uint64_t n);

// Incremental SHA-256 (OpenSSL), lower-case hex.
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void update(const char* data, size_t n);
    std::string hex();

private:
    void* ctx_;
};

// HTTP/1.0 on ip:port, many connections at once (one epoll loop):
//   GET /            -> 200, the server's name
//   GET /bytes/N     -> N bytes 'x'
//   GET /data/N      -> the first N bytes of fill_data's stream
//   GET /sleep/MS    -> the server's name, MS milliseconds later
// A query "?id=N" is remembered (saw(N)). stop() closes the listener: new connections are
// refused while those already accepted are still answered (a graceful stop); start() opens
// it again.
class HttpServer {
public:
    HttpServer(IsolatedNetns& ns, std::string ip, uint16_t port, std::string name);
    HttpServer(std::string ip, uint16_t port, std::string name);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;
    void start();
    void stop();
    uint64_t requests() const { return requests_.load(); }
    bool saw(uint64_t id) const;

private:
    using Clock = std::chrono::steady_clock;
    struct Connection;
    enum class Command { listen, close_listener, quit };
    HttpServer(IsolatedNetns* ns, std::string ip, uint16_t port, std::string name);
    void loop();
    void command(Command c, Fd listener = Fd());
    void accept_all();
    void on_readable(Connection& c);
    void respond(Connection& c, const std::string& request);
    void write_some(Connection& c);
    void set_timer(Connection& c, std::optional<Clock::time_point> at);
    void close_connection(int fd);

    IsolatedNetns* ns_;
    std::string ip_;
    uint16_t port_;
    std::string name_;
    std::atomic<uint64_t> requests_{0};
    mutable std::mutex ids_mutex_;
    std::unordered_set<uint64_t> ids_;
    // Commands to the loop, each acknowledged so start()/stop() return when it is done.
    std::mutex commands_mutex_;
    std::deque<std::tuple<Command, Fd, std::promise<void>>> commands_;
    Fd epoll_, wake_, listener_;
    bool listening_ = false;  // the caller's view
    std::map<int, std::unique_ptr<Connection>> connections_;
    std::set<std::pair<Clock::time_point, int>> timers_;  // (when, connection)
    std::thread thread_;
};

// Echoes whatever each connection sends, until it closes (for long-lived connections).
class EchoServer {
public:
    EchoServer(IsolatedNetns& ns, std::string ip, uint16_t port);
    ~EchoServer();
    uint64_t accepted() const { return accepted_.load(); }
    // Connections accepted from `ip` ("10.50.1.2"): a client's, not the director's checks.
    uint64_t accepted_from(const std::string& ip) const;
    int open_sessions() const { return open_.load(); }

private:
    Fd listener_;
    std::thread thread_;
    std::atomic<bool> stopping_{false};
    std::atomic<uint64_t> accepted_{0};
    std::atomic<int> open_{0};
    mutable std::mutex mutex_;
    std::vector<std::thread> sessions_;
    std::map<std::string, uint64_t> accepted_from_;
};

// A DNS-like UDP service: every query for an A (IPv4 answer) or AAAA (IPv6 answer) record is
// answered with `answer`, whatever the name. stop() closes the socket (queries then get ICMP
// port unreachable), start() opens it again.
class DnsServer {
public:
    DnsServer(IsolatedNetns& ns, std::string ip, uint16_t port, std::string answer);
    DnsServer(std::string ip, uint16_t port, std::string answer);
    ~DnsServer();
    void start();
    void stop();
    uint64_t queries() const { return queries_.load(); }

private:
    DnsServer(IsolatedNetns* ns, std::string ip, uint16_t port, std::string answer);
    IsolatedNetns* ns_;
    std::string ip_, answer_;
    uint16_t port_;
    std::atomic<uint64_t> queries_{0};
    std::atomic<bool> stopping_{false};
    Fd socket_;
    std::thread thread_;
};

// One HTTP GET to ip:port from the calling thread's namespace: the body, or throws
// (naming the failure: refused, reset, timeout) after `timeout`.
std::string http_get(const std::string& ip, uint16_t port, const std::string& path = "/",
                     std::chrono::milliseconds timeout = std::chrono::seconds(5));

// n requests to ip:port from `client`, one after another: how many each name answered,
// with failures counted under "error: <why>".
std::map<std::string, int> http_tally(IsolatedNetns& client, const std::string& ip, uint16_t port,
                                      int n);
// The same from the calling thread's namespace, from source address `source` if not empty.
std::map<std::string, int> http_tally_here(const std::string& ip, uint16_t port, int n,
                                           const std::string& source = "");

// One A (or AAAA, for an IPv6 server) query over a fresh UDP socket from the calling thread's
// namespace, from `source` if not empty: the answer's address, or throws (timeout, refused,
// bad reply).
std::string dns_query(const std::string& ip, uint16_t port, const std::string& name,
                      std::chrono::milliseconds timeout = std::chrono::seconds(3),
                      const std::string& source = "");
// n queries from `client`, one after another, from `source` if not empty: how many each answer
// came back, failures under "error: <why>".
std::map<std::string, int> dns_tally(IsolatedNetns& client, const std::string& ip, uint16_t port,
                                     int n, const std::string& source = "");

// GET /data/N from the calling thread's namespace, read at no more than bytes_per_second
// (0: as fast as it comes), hashed as it arrives.
struct Download {
    uint64_t bytes = 0;
    std::string sha256;           // of what arrived
    std::string expected_sha256;  // of the N bytes the server sends
    double seconds = 0;
    std::string error;  // empty when the whole body arrived
    bool intact(uint64_t n) const {
        return error.empty() && bytes == n && sha256 == expected_sha256;
    }
};
Download download_data(const std::string& ip, uint16_t port, uint64_t n,
                       uint64_t bytes_per_second = 0,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));

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

// Tallies ("rs1" -> 300, "error: refused" -> 2): the sum of the error entries, and one line.
int error_count(const std::map<std::string, int>& tally);
std::string tally_text(const std::map<std::string, int>& tally);

}  // namespace ballast::testing
