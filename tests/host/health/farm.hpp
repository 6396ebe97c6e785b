#pragma once
// A farm of misbehaving (and a few well-behaved) servers on loopback, run by
// plain blocking threads so their misbehaviour cannot borrow time from the
// checker's event loop. Everything is torn down (sockets shut down, threads
// joined) in the destructor, even when a test fails.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include <openssl/ssl.h>

namespace ballast::health::testing {

class Farm {
public:
    using Handler = std::function<void(int fd)>;
    Farm();
    ~Farm();

    // TCP listener on addr:0 calling `handler` on its own thread per connection
    // (the farm closes the fd when the handler returns). Returns the port.
    uint16_t tcp(const std::string& addr, Handler handler);
    // Accepts and closes at once on the listener's own thread (no thread per
    // connection): a cheap healthy TCP target whose accepts are counted.
    uint16_t tcp_accept_close(const std::string& addr);
    // Listens but never accepts: the kernel completes handshakes, nobody answers.
    uint16_t listen_only(const std::string& addr);
    // A listener whose accept queue is full (backlog 0, filled by the farm's own
    // connects): the kernel drops every further SYN, as a black-holed server would.
    uint16_t syn_dropping(const std::string& addr);
    // A UDP port with nothing behind it (bound, then closed).
    uint16_t dead_udp_port(const std::string& addr);
    // UDP echo (prefix "echo:") and a tiny DNS server answering A queries with 127.0.0.1.
    uint16_t udp_echo(const std::string& addr);
    uint16_t dns(const std::string& addr);

    // Connections accepted so far by the listener on `port`.
    uint64_t accepted(uint16_t port) const;

    bool stopping() const { return stop_; }
    // Sleeps up to d, returning early (false) when the farm is stopping.
    bool nap(std::chrono::milliseconds d) const;

    // Handlers for common behaviours.
    static void send_all(int fd, std::string_view data);
    static std::string read_request(int fd);  // until "\r\n\r\n" (or EOF / 8 KiB)

private:
    int bind_socket(int type, const std::string& addr, uint16_t& port);
    void track(int fd);

    std::atomic<bool> stop_{false};
    mutable std::mutex mu_;
    std::vector<int> fds_;
    std::vector<std::thread> listeners_;
    std::vector<std::thread> workers_;
    std::vector<std::pair<uint16_t, std::shared_ptr<std::atomic<uint64_t>>>> counters_;
};

// While it lives, this process can make no new descriptor (every socket(), pipe(),
// epoll_create1() fails with EMFILE), as on a director that ran out of them: the
// soft RLIMIT_NOFILE is lowered to the lowest free descriptor number, and restored
// when it goes away. (In the sanitizer build, UBSan's vptr check needs a pipe
// the first time it meets a dynamic type: run the code paths once before, as the
// tests do, so it has met them.)
class NoFreeDescriptors {
public:
    NoFreeDescriptors();
    ~NoFreeDescriptors();
    NoFreeDescriptors(const NoFreeDescriptors&) = delete;
    NoFreeDescriptors& operator=(const NoFreeDescriptors&) = delete;

private:
    rlimit saved_{};
};

// While it lives, the calling thread works in a network namespace of its own
// (loopback up): sockets it makes and commands it runs (sh) live there, and the
// host's namespace is never touched. Throws when that cannot be had (not root).
class PrivateNetns {
public:
    PrivateNetns();
    ~PrivateNetns();
    PrivateNetns(const PrivateNetns&) = delete;
    PrivateNetns& operator=(const PrivateNetns&) = delete;
    // Runs a shell command inside; throws when it fails.
    void sh(const std::string& command) const;

private:
    int host_ns_ = -1;
};

// Drops `cap` from this process's effective, permitted and inheritable sets.
void drop_capability(int cap);

// Polls `done` every 10 ms for up to 5 s (for what other threads do).
void wait_for(const std::function<bool()>& done);

// A test PKI made with OpenSSL APIs at run time: a CA and leaf certificates.
struct TestPki {
    struct Pem {
        std::string cert;
        std::string key;
    };
    TestPki();
    ~TestPki();
    std::string ca_pem() const;
    // Leaf for IP 127.0.0.1 signed by the CA, valid from now+not_before_days to now+not_after_days.
    Pem leaf(long not_before_days, long not_after_days) const;
    // A self-signed leaf for 127.0.0.1 (not from the CA).
    Pem self_signed() const;

    EVP_PKEY* ca_key = nullptr;
    X509* ca_cert = nullptr;
};

// A TLS server on the farm: handshake with the given cert, then answer any
// request with "HTTP/1.1 200 OK".
uint16_t tls_http_server(Farm& farm, const std::string& addr, const TestPki::Pem& pem);

}  // namespace ballast::health::testing
