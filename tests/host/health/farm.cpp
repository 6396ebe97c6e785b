#include "farm.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <stdexcept>

namespace ballast::health::testing {

Farm::Farm() = default;

Farm::~Farm() {
    stop_ = true;
    {
        std::lock_guard lk(mu_);
        for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : listeners_) t.join();
    // No new workers can appear now.
    for (auto& t : workers_) t.join();
    for (int fd : fds_) ::close(fd);
}

NoFreeDescriptors::NoFreeDescriptors() {
    if (::getrlimit(RLIMIT_NOFILE, &saved_) != 0) throw std::runtime_error("getrlimit");
    const int lowest_free = ::dup(0);
    if (lowest_free < 0) throw std::runtime_error("dup");
    ::close(lowest_free);
    rlimit starved = saved_;
    starved.rlim_cur = static_cast<rlim_t>(lowest_free);
    if (::setrlimit(RLIMIT_NOFILE, &starved) != 0) throw std::runtime_error("setrlimit");
}

NoFreeDescriptors::~NoFreeDescriptors() {
    ::setrlimit(RLIMIT_NOFILE, &saved_);
}

PrivateNetns::PrivateNetns() {
    host_ns_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (host_ns_ < 0) throw std::runtime_error("open /proc/thread-self/ns/net");
    if (::unshare(CLONE_NEWNET) != 0)
        throw std::runtime_error(std::string("unshare(CLONE_NEWNET): ") + strerror(errno));
    sh("ip link set lo up");
}

PrivateNetns::~PrivateNetns() {
    ::setns(host_ns_, CLONE_NEWNET);
    ::close(host_ns_);
}

void PrivateNetns::sh(const std::string& command) const {
    if (std::system(command.c_str()) != 0) throw std::runtime_error("failed: " + command);
}

void drop_capability(int cap) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (::syscall(SYS_capget, &header, data) != 0) throw std::runtime_error("capget");
    const uint32_t bit = 1u << (cap % 32);
    auto& d = data[cap / 32];
    d.effective &= ~bit;
    d.permitted &= ~bit;
    d.inheritable &= ~bit;
    if (::syscall(SYS_capset, &header, data) != 0) throw std::runtime_error("capset");
}

void wait_for(const std::function<bool()>& done) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done() && std::chrono::steady_clock::now() < give_up)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

void Farm::track(int fd) {
    std::lock_guard lk(mu_);
    fds_.push_back(fd);
    if (stop_) ::shutdown(fd, SHUT_RDWR);
}

bool Farm::nap(std::chrono::milliseconds d) const {
    const auto end = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < end) {
        if (stop_) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return !stop_;
}

int Farm::bind_socket(int type, const std::string& addr, uint16_t& port) {
    int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = 0;
    if (inet_pton(AF_INET, addr.c_str(), &sa.sin_addr) != 1) throw std::runtime_error("addr");
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        throw std::runtime_error("bind " + addr + ": " + strerror(errno));
    }
    socklen_t len = sizeof sa;
    getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    port = ntohs(sa.sin_port);
    return fd;
}

uint16_t Farm::tcp(const std::string& addr, Handler handler) {
    uint16_t port = 0;
    int lfd = bind_socket(SOCK_STREAM, addr, port);
    ::listen(lfd, 1024);
    track(lfd);
    auto counter = std::make_shared<std::atomic<uint64_t>>(0);
    {
        std::lock_guard lk(mu_);
        counters_.emplace_back(port, counter);
    }
    listeners_.emplace_back([this, lfd, handler, counter] {
        while (!stop_) {
            int fd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) {
                if (stop_ || errno == EINVAL || errno == EBADF) return;
                continue;
            }
            ++*counter;
            std::lock_guard lk(mu_);
            fds_.push_back(fd);
            if (stop_) {
                ::shutdown(fd, SHUT_RDWR);
                return;
            }
            workers_.emplace_back([this, handler, fd] {
                handler(fd);
                std::lock_guard lk2(mu_);
                std::erase(fds_, fd);
                ::close(fd);
            });
        }
    });
    return port;
}

uint16_t Farm::tcp_accept_close(const std::string& addr) {
    uint16_t port = 0;
    int lfd = bind_socket(SOCK_STREAM, addr, port);
    ::listen(lfd, 1024);
    track(lfd);
    auto counter = std::make_shared<std::atomic<uint64_t>>(0);
    {
        std::lock_guard lk(mu_);
        counters_.emplace_back(port, counter);
    }
    listeners_.emplace_back([this, lfd, counter] {
        while (!stop_) {
            int fd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) {
                if (stop_ || errno == EINVAL || errno == EBADF) return;
                continue;
            }
            ++*counter;
            ::close(fd);
        }
    });
    return port;
}

uint16_t Farm::listen_only(const std::string& addr) {
    uint16_t port = 0;
    int fd = bind_socket(SOCK_STREAM, addr, port);
    ::listen(fd, 1024);
    track(fd);
    return port;
}

uint16_t Farm::syn_dropping(const std::string& addr) {
    uint16_t port = 0;
    const int lfd = bind_socket(SOCK_STREAM, addr, port);
    ::listen(lfd, 0);
    track(lfd);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
    // Connect until one handshake does not complete: from then on SYNs are dropped.
    for (int i = 0; i < 16; ++i) {
        const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c < 0) throw std::runtime_error("socket");
        track(c);
        if (::connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) continue;
        if (errno != EINPROGRESS)
            throw std::runtime_error("connect: " + std::string(strerror(errno)));
        pollfd p{c, POLLOUT, 0};
        if (::poll(&p, 1, 200) == 0) return port;
    }
    throw std::runtime_error("syn_dropping: the accept queue never filled");
}

uint16_t Farm::dead_udp_port(const std::string& addr) {
    uint16_t port = 0;
    int fd = bind_socket(SOCK_DGRAM, addr, port);
    ::close(fd);
    return port;
}

namespace {
template <class Reply>
void udp_loop(const std::atomic<bool>& stop, int fd, Reply reply) {
    timeval tv{0, 100000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[2048];
    while (!stop) {
        sockaddr_in from{};
        socklen_t len = sizeof from;
        ssize_t n = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (n < 0) continue;
        std::string out = reply(std::string(buf, static_cast<size_t>(n)));
        if (!out.empty()) {
            ::sendto(fd, out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
        }
    }
}
}  // namespace

uint16_t Farm::udp_echo(const std::string& addr) {
    uint16_t port = 0;
    int fd = bind_socket(SOCK_DGRAM, addr, port);
    track(fd);
    listeners_.emplace_back(
        [this, fd] { udp_loop(stop_, fd, [](const std::string& in) { return "echo:" + in; }); });
    return port;
}

uint16_t Farm::dns(const std::string& addr) {
    uint16_t port = 0;
    int fd = bind_socket(SOCK_DGRAM, addr, port);
    track(fd);
    listeners_.emplace_back([this, fd] {
        udp_loop(stop_, fd, [](std::string q) -> std::string {
            if (q.size() < 17) return {};
            // Name "nx.test" gets NXDOMAIN, everything else one A record 127.0.0.1.
            const bool nx = q.find("\x02nx\x04test") != std::string::npos;
            q[2] = static_cast<char>(q[2] | 0x80);
            q[3] = static_cast<char>(0x80 | (nx ? 3 : 0));
            if (nx) return q;
            q[7] = 1;
            const char rr[] = {'\xc0', 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1};
            q.append(rr, sizeof rr);
            return q;
        });
    });
    return port;
}

uint64_t Farm::accepted(uint16_t port) const {
    std::lock_guard lk(mu_);
    for (const auto& [p, c] : counters_) {
        if (p == port) return *c;
    }
    return 0;
}

void Farm::send_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n <= 0) return;
        data.remove_prefix(static_cast<size_t>(n));
    }
}

std::string Farm::read_request(int fd) {
    std::string req;
    char buf[1024];
    while (req.find("\r\n\r\n") == std::string::npos && req.size() < 8192) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
    }
    return req;
}

// ---- PKI ----

namespace {

EVP_PKEY* new_key() {
    return EVP_EC_gen("P-256");
}

X509* new_cert(EVP_PKEY* key, const char* cn, long nb_days, long na_days) {
    X509* x = X509_new();
    X509_set_version(x, 2);
    static long serial = 1;
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), nb_days * 86400);
    X509_gmtime_adj(X509_getm_notAfter(x), na_days * 86400);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                               -1, -1, 0);
    return x;
}

void add_ext(X509* x, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
}

std::string pem_of(X509* x) {
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char* p = nullptr;
    long n = BIO_get_mem_data(b, &p);
    std::string s(p, static_cast<size_t>(n));
    BIO_free(b);
    return s;
}

std::string pem_of(EVP_PKEY* k) {
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
    char* p = nullptr;
    long n = BIO_get_mem_data(b, &p);
    std::string s(p, static_cast<size_t>(n));
    BIO_free(b);
    return s;
}

}  // namespace

TestPki::TestPki() {
    ca_key = new_key();
    ca_cert = new_cert(ca_key, "ballast test CA", -1, 30);
    X509_set_issuer_name(ca_cert, X509_get_subject_name(ca_cert));
    add_ext(ca_cert, ca_cert, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(ca_cert, ca_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
    X509_sign(ca_cert, ca_key, EVP_sha256());
}

TestPki::~TestPki() {
    X509_free(ca_cert);
    EVP_PKEY_free(ca_key);
}

std::string TestPki::ca_pem() const {
    return pem_of(ca_cert);
}

TestPki::Pem TestPki::leaf(long not_before_days, long not_after_days) const {
    EVP_PKEY* k = new_key();
    X509* x = new_cert(k, "127.0.0.1", not_before_days, not_after_days);
    X509_set_issuer_name(x, X509_get_subject_name(ca_cert));
    add_ext(x, ca_cert, NID_subject_alt_name, "IP:127.0.0.1");
    X509_sign(x, ca_key, EVP_sha256());
    Pem out{pem_of(x), pem_of(k)};
    X509_free(x);
    EVP_PKEY_free(k);
    return out;
}

TestPki::Pem TestPki::self_signed() const {
    EVP_PKEY* k = new_key();
    X509* x = new_cert(k, "127.0.0.1", -1, 30);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    add_ext(x, x, NID_subject_alt_name, "IP:127.0.0.1");
    X509_sign(x, k, EVP_sha256());
    Pem out{pem_of(x), pem_of(k)};
    X509_free(x);
    EVP_PKEY_free(k);
    return out;
}

uint16_t tls_http_server(Farm& farm, const std::string& addr, const TestPki::Pem& pem) {
    SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
    std::shared_ptr<SSL_CTX> ctx(raw, SSL_CTX_free);
    BIO* cb = BIO_new_mem_buf(pem.cert.data(), static_cast<int>(pem.cert.size()));
    X509* cert = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
    BIO_free(cb);
    BIO* kb = BIO_new_mem_buf(pem.key.data(), static_cast<int>(pem.key.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
    BIO_free(kb);
    SSL_CTX_use_certificate(raw, cert);
    SSL_CTX_use_PrivateKey(raw, key);
    X509_free(cert);
    EVP_PKEY_free(key);
    return farm.tcp(addr, [ctx](int fd) {
        SSL* ssl = SSL_new(ctx.get());
        SSL_set_fd(ssl, fd);
        if (SSL_accept(ssl) == 1) {
            char buf[4096];
            std::string req;
            while (req.find("\r\n\r\n") == std::string::npos) {
                int n = SSL_read(ssl, buf, sizeof buf);
                if (n <= 0) break;
                req.append(buf, static_cast<size_t>(n));
            }
            const std::string resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
            SSL_write(ssl, resp.data(), static_cast<int>(resp.size()));
            SSL_shutdown(ssl);
        }
        SSL_free(ssl);
    });
}

}  // namespace ballast::health::testing
