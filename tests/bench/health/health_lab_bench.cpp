// keepalived vs ballast's HealthRunner, both checking the same N TCP targets
// every second, measured one after the other in ONE run (scripts/bench-health-lab
// runs this inside the kernel lab):
//
//   health_lab_bench [targets=1000] [warmup_s=15] [window_s=30] [order=kbf]
//
// order: which checkers to measure, in turn: k keepalived, b ballast, B ballast
// with a 1 ms wake-up granularity (the default before 2026-12-05), o ballast's
// tcp_half_open check, f the floor, h the half-open floor.
//
// The process moves into a private network namespace (needs root), so the
// IPVS table keepalived programs and the listeners live and die with it. It
// hosts all N listeners itself (127.20.0.0/16 on lo, ten ports per address),
// accepting and closing every connection on one epoll thread, and counts the
// accepted connections: that is the number of checks each checker performed.
//
// (a) keepalived -n -C with a generated keepalived.conf: N/10 virtual servers
//     (NAT, rr) with ten real servers each, TCP_CHECK, delay_loop 1,
//     connect_timeout 3.
// (b) this program re-executed as "runner N": one HealthRunner, tcp check,
//     interval 1 s, timeout 3 s, rise 1, fall 3, on one thread.
// (c) the floor, re-executed as "floor N": a bare epoll loop making the same
//     connects on the same exact schedule -- what any TCP checker must pay here.
// (d) the half-open floor, re-executed as "halfopen N": one raw socket sending
//     SYNs and reading SYN-ACKs on the same schedule (the kernel resets each),
//     counted by its own SYN-ACKs -- the least any TCP liveness probe can cost.
//
// After the warm-up each checker is measured for the window: CPU = utime +
// stime from /proc/PID/stat of the process and its live children (keepalived's
// checker child), read at the window's start and end; checks = connections
// accepted in the window. The runner also reports its own finished runs and
// timer lateness for exactly the window (SIGUSR1 resets its stats, SIGUSR2
// prints them and ends it). Prints a Markdown table.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ballast/health/runner.hpp"

using namespace std::chrono_literals;

namespace {

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "health_lab_bench: %s: %s\n", what.c_str(), std::strerror(errno));
    std::exit(1);
}

// Target i: address 127.20.a.b (ten targets per address), port 20000 + i % 10.
std::string target_addr(size_t i) {
    const size_t a = i / 10;
    return "127.20." + std::to_string(a / 250) + "." + std::to_string(a % 250 + 1);
}
uint16_t target_port(size_t i) {
    return static_cast<uint16_t>(20000 + i % 10);
}

void raise_nofile() {
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

// ---- (b) the ballast runner, as its own process --------------------------------

struct NullSink : ballast::health::HealthSink {
    void on_health_event(const ballast::health::HealthEvent&) override {}
};

int runner_main(size_t n, bool half_open) {
    using namespace ballast::health;
    raise_nofile();
    ballast::model::CheckSpec spec;
    spec.type =
        half_open ? ballast::model::CheckType::tcp_half_open : ballast::model::CheckType::tcp;
    spec.interval = 1000ms;
    spec.timeout = 3000ms;  // keepalived's connect_timeout 3
    spec.rise = 1;
    spec.fall = 3;
    std::vector<CheckKey> keys;
    for (size_t i = 0; i < n; ++i) {
        keys.push_back(
            CheckKey{{*ballast::model::IpAddress::parse(target_addr(i)), target_port(i)}, spec});
    }
    boost::asio::io_context io;
    NullSink sink;
    RunnerOptions options;
    options.seed = 1;
    // BALLAST_WAKE_US: the runner's wake-up granularity (default 1000 us; 0 = every check on time).
    if (const char* w = std::getenv("BALLAST_WAKE_US"))
        options.wake_granularity = std::chrono::microseconds(std::stol(w));
    HealthRunner runner(io, sink, options);
    boost::asio::signal_set signals(io, SIGUSR1, SIGUSR2);
    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& ec, int sig) {
            if (ec) return;
            if (sig == SIGUSR1) {
                runner.reset_stats();
                signals.async_wait(on_signal);
                return;
            }
            const auto& st = runner.stats();
            size_t up = 0;
            for (const auto& k : keys) up += runner.state(k) == State::up;
            std::printf("%llu %lld %lld %lld %zu\n",
                        static_cast<unsigned long long>(st.runs_finished),
                        static_cast<long long>(st.lateness.percentile(50).count()),
                        static_cast<long long>(st.lateness.percentile(99).count()),
                        static_cast<long long>(st.lateness.percentile(99.9).count()), up);
            std::fflush(stdout);
            io.stop();
        };
    signals.async_wait(on_signal);
    runner.reload(keys);
    std::printf("ready\n");
    std::fflush(stdout);
    io.run();
    return 0;
}

// ---- (c) and (d): the floors -- the same checks with nothing around them ----------

volatile sig_atomic_t floor_signal = 0;

std::vector<sockaddr_in> target_sockaddrs(size_t n) {
    std::vector<sockaddr_in> addrs(n);
    for (size_t i = 0; i < n; ++i) {
        addrs[i].sin_family = AF_INET;
        addrs[i].sin_port = htons(target_port(i));
        inet_pton(AF_INET, target_addr(i).c_str(), &addrs[i].sin_addr);
    }
    return addrs;
}

// What both floors count for the window: verdicts, and how late each check started.
struct FloorCounts {
    explicit FloorCounts(size_t n) : up(n, 0) {}
    void done(size_t i, bool ok) {
        up[i] = ok;
        ++finished;
    }
    std::vector<char> up;
    ballast::health::LatenessHistogram lateness;
    uint64_t finished = 0;
};

// The floors' one loop: target i is started at start + round s + i/N s by start(i), with no
// timers, callbacks or state machine; between starts, wait(timeout_ms, counts) collects
// outcomes. SIGUSR1 resets the counts (window start), SIGUSR2 prints them and ends.
template <class Start, class Wait>
int run_floor(size_t n, Start start_check, Wait wait) {
    using clock = std::chrono::steady_clock;
    struct sigaction sa {};
    sa.sa_handler = [](int sig) { floor_signal = sig; };
    sigaction(SIGUSR1, &sa, nullptr);  // no SA_RESTART: the wait returns EINTR
    sigaction(SIGUSR2, &sa, nullptr);
    FloorCounts counts(n);
    std::printf("ready\n");
    std::fflush(stdout);
    const auto start = clock::now();
    size_t next = 0;
    uint64_t round = 0;
    auto due = [&] {
        return start + std::chrono::seconds(round) +
               std::chrono::nanoseconds(1'000'000'000LL * static_cast<long long>(next) /
                                        static_cast<long long>(n));
    };
    for (;;) {
        if (floor_signal == SIGUSR1) {
            floor_signal = 0;
            counts.lateness = {};
            counts.finished = 0;
        } else if (floor_signal == SIGUSR2) {
            break;
        }
        const auto now = clock::now();
        while (now >= due()) {
            counts.lateness.add(std::chrono::duration_cast<std::chrono::microseconds>(now - due()));
            start_check(next);
            if (++next == n) next = 0, ++round;
        }
        const auto wait_ms =
            std::chrono::ceil<std::chrono::milliseconds>(due() - clock::now()).count();
        wait(static_cast<int>(std::max<long long>(0, wait_ms)), counts);
    }
    size_t ups = 0;
    for (char u : counts.up) ups += u != 0;
    std::printf("%llu %lld %lld %lld %zu\n", static_cast<unsigned long long>(counts.finished),
                static_cast<long long>(counts.lateness.percentile(50).count()),
                static_cast<long long>(counts.lateness.percentile(99).count()),
                static_cast<long long>(counts.lateness.percentile(99.9).count()), ups);
    std::fflush(stdout);
    return 0;
}

// (c) One epoll: non-blocking connect, wait writable, SO_ERROR, RST close -- the syscalls
// any TCP checker makes. Loopback targets all answer, so no timeout handling.
int floor_main(size_t n) {
    raise_nofile();
    const auto addrs = target_sockaddrs(n);
    const int ep = epoll_create1(EPOLL_CLOEXEC);
    std::vector<int> fd_of(n, -1);
    std::vector<epoll_event> evs(256);
    return run_floor(
        n,
        [&](size_t i) {
            if (fd_of[i] >= 0) return;  // the previous run is still in flight: skip
            const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            ::connect(fd, reinterpret_cast<const sockaddr*>(&addrs[i]), sizeof addrs[i]);
            epoll_event ev{};
            ev.events = EPOLLOUT;
            ev.data.u64 = i;
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
            fd_of[i] = fd;
        },
        [&](int timeout_ms, FloorCounts& counts) {
            const int k = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), timeout_ms);
            for (int j = 0; j < k; ++j) {
                const size_t i = evs[static_cast<size_t>(j)].data.u64;
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(fd_of[i], SOL_SOCKET, SO_ERROR, &err, &len);
                const linger lg{1, 0};
                setsockopt(fd_of[i], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
                ::close(fd_of[i]);
                fd_of[i] = -1;
                counts.done(i, err == 0);
            }
        });
}

// (d) The cheapest TCP liveness probe there is: no socket per check, no handshake
// completed. One raw socket sends each target a SYN (sequence number = target index) and
// reads the SYN-ACKs; the kernel answers each SYN-ACK with a RST (no socket owns the
// port), so the listener's half-open request is dropped and nothing is accepted. Three
// packets per check instead of the five or more of a connect and close: a lower bound
// for what any TCP checker costs in this lab, kernel included.
uint16_t csum_fold(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

int halfopen_main(size_t n) {
    const int raw = ::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (raw < 0) die("raw socket");
    sockaddr_in self{};
    self.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &self.sin_addr);
    if (::bind(raw, reinterpret_cast<sockaddr*>(&self), sizeof self) != 0) die("bind raw");
    const uint32_t src = self.sin_addr.s_addr;
    const auto addrs = target_sockaddrs(n);
    const uint16_t sport_base = 30000;
    auto send_syn = [&](size_t i) {
        uint8_t h[20] = {};
        const uint16_t sport = htons(static_cast<uint16_t>(sport_base + i));
        const uint16_t dport = addrs[i].sin_port;
        const uint32_t seq = htonl(static_cast<uint32_t>(i));
        std::memcpy(h, &sport, 2);
        std::memcpy(h + 2, &dport, 2);
        std::memcpy(h + 4, &seq, 4);
        h[12] = 5 << 4;  // data offset: 5 words
        h[13] = 0x02;    // SYN
        h[14] = 0xff;    // window 65535
        h[15] = 0xff;
        // Checksum over the pseudo header (src, dst, protocol, length) and the header.
        uint32_t sum = 0;
        auto add16 = [&sum](const uint8_t* p, size_t len) {
            for (size_t k = 0; k + 1 < len; k += 2)
                sum += static_cast<uint32_t>(p[k] << 8 | p[k + 1]);
        };
        add16(reinterpret_cast<const uint8_t*>(&src), 4);
        add16(reinterpret_cast<const uint8_t*>(&addrs[i].sin_addr.s_addr), 4);
        sum += IPPROTO_TCP + sizeof h;
        add16(h, sizeof h);
        const uint16_t c = htons(csum_fold(sum));
        std::memcpy(h + 16, &c, 2);
        ::sendto(raw, h, sizeof h, 0, reinterpret_cast<const sockaddr*>(&addrs[i]),
                 sizeof addrs[i]);
    };
    constexpr size_t kBatch = 64;
    std::vector<std::array<uint8_t, 128>> bufs(kBatch);
    std::vector<iovec> iov(kBatch);
    std::vector<mmsghdr> msgs(kBatch);
    for (size_t k = 0; k < kBatch; ++k) {
        iov[k] = {bufs[k].data(), bufs[k].size()};
        msgs[k].msg_hdr.msg_iov = &iov[k];
        msgs[k].msg_hdr.msg_iovlen = 1;
    }
    return run_floor(n, send_syn, [&](int timeout_ms, FloorCounts& counts) {
        pollfd pfd{raw, POLLIN, 0};
        if (::poll(&pfd, 1, timeout_ms) <= 0) return;
        for (;;) {
            const int k = recvmmsg(raw, msgs.data(), kBatch, 0, nullptr);
            if (k <= 0) break;
            for (int j = 0; j < k; ++j) {
                // Every TCP packet on lo arrives here (our SYNs and the RSTs too): keep the
                // SYN-ACKs to our ports. The raw socket hands over the IP header first.
                const uint8_t* p = bufs[static_cast<size_t>(j)].data();
                const size_t len = msgs[static_cast<size_t>(j)].msg_len;
                const size_t ihl = (p[0] & 0x0f) * 4u;
                if (len < ihl + 20) continue;
                const uint8_t* t = p + ihl;
                if ((t[13] & 0x12) != 0x12) continue;  // SYN and ACK
                const size_t i = static_cast<size_t>(t[2] << 8 | t[3]) - sport_base;
                uint32_t ack = 0;
                std::memcpy(&ack, t + 8, 4);
                if (i >= n || ntohl(ack) != i + 1) continue;
                counts.done(i, true);
            }
        }
    });
}

// ---- the farm and the measurements ----------------------------------------------

struct Cpu {
    double user = 0, sys = 0;
    double total() const { return user + sys; }
    Cpu operator-(const Cpu& o) const { return {user - o.user, sys - o.sys}; }
};

Cpu ticks_of(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto close = s.rfind(')');
    if (close == std::string::npos) return {};
    std::istringstream in(s.substr(close + 2));
    std::string field;
    // Fields after "(comm)": state(3) ppid(4) ... utime(14) stime(15).
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && in >> field; ++i) {
        if (i == 14) utime = std::stoull(field);
        if (i == 15) stime = std::stoull(field);
    }
    return {static_cast<double>(utime), static_cast<double>(stime)};
}

pid_t ppid_of(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto close = s.rfind(')');
    if (close == std::string::npos) return -1;
    std::istringstream in(s.substr(close + 2));
    std::string state;
    pid_t ppid = -1;
    in >> state >> ppid;
    return ppid;
}

// CPU seconds of `root` and every live descendant.
Cpu cpu_of_tree(pid_t root) {
    std::vector<pid_t> all;
    if (DIR* d = opendir("/proc")) {
        while (dirent* e = readdir(d)) {
            if (e->d_name[0] >= '1' && e->d_name[0] <= '9') all.push_back(std::atoi(e->d_name));
        }
        closedir(d);
    }
    std::vector<pid_t> tree{root};
    for (bool grew = true; grew;) {
        grew = false;
        for (pid_t p : all) {
            if (std::find(tree.begin(), tree.end(), p) != tree.end()) continue;
            if (std::find(tree.begin(), tree.end(), ppid_of(p)) != tree.end()) {
                tree.push_back(p);
                grew = true;
            }
        }
    }
    Cpu ticks;
    for (pid_t p : tree) {
        const Cpu t = ticks_of(p);
        ticks.user += t.user;
        ticks.sys += t.sys;
    }
    const auto hz = static_cast<double>(sysconf(_SC_CLK_TCK));
    return {ticks.user / hz, ticks.sys / hz};
}

struct Farm {
    std::vector<int> fds;
    std::atomic<uint64_t> accepted{0};
    std::atomic<bool> stop{false};
    std::thread thread;

    explicit Farm(size_t n) {
        const int ep = epoll_create1(EPOLL_CLOEXEC);
        if (ep < 0) die("epoll_create1");
        for (size_t i = 0; i < n; ++i) {
            const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
            const int one = 1;
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            sockaddr_in sa{};
            sa.sin_family = AF_INET;
            sa.sin_port = htons(target_port(i));
            inet_pton(AF_INET, target_addr(i).c_str(), &sa.sin_addr);
            if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
                ::listen(fd, 4096) != 0) {
                die("listener " + target_addr(i) + ":" + std::to_string(target_port(i)));
            }
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.fd = fd;
            if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
            fds.push_back(fd);
        }
        thread = std::thread([this, ep] {
            std::vector<epoll_event> evs(256);
            while (!stop.load(std::memory_order_relaxed)) {
                const int k = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
                for (int j = 0; j < k; ++j) {
                    for (;;) {
                        const int c = accept4(evs[j].data.fd, nullptr, nullptr, SOCK_CLOEXEC);
                        if (c < 0) break;
                        ::close(c);
                        accepted.fetch_add(1, std::memory_order_relaxed);
                    }
                }
            }
            ::close(ep);
        });
    }
    ~Farm() {
        stop = true;
        thread.join();
        for (int fd : fds) ::close(fd);
    }
};

struct Result {
    std::string name;
    double wall = 0;
    Cpu cpu;
    uint64_t checks = 0;
    std::string extra;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Waits until the farm has seen connections for a while, then the warm-up.
void warm_up(Farm& farm, pid_t pid, int warmup_s, const char* who) {
    const auto t0 = std::chrono::steady_clock::now();
    while (farm.accepted.load() == 0) {
        if (waitpid(pid, nullptr, WNOHANG) == pid) {
            std::fprintf(stderr, "health_lab_bench: %s exited before checking anything\n", who);
            std::exit(1);
        }
        if (seconds_since(t0) > 120) {
            std::fprintf(stderr, "health_lab_bench: %s made no check in 120 s\n", who);
            std::exit(1);
        }
        std::this_thread::sleep_for(100ms);
    }
    std::fprintf(stderr, "health_lab_bench: %s: first check after %.1f s; warming up %d s\n", who,
                 seconds_since(t0), warmup_s);
    std::this_thread::sleep_for(std::chrono::seconds(warmup_s));
}

std::string keepalived_conf(size_t n) {
    std::string c = "global_defs {\n  router_id ballast_bench\n}\n";
    for (size_t vs = 0; vs * 10 < n; ++vs) {
        c += "virtual_server 10.100." + std::to_string(vs / 250) + "." +
             std::to_string(vs % 250 + 1) +
             " 80 {\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n";
        for (size_t i = vs * 10; i < std::min(n, vs * 10 + 10); ++i) {
            c += "  real_server " + target_addr(i) + " " + std::to_string(target_port(i)) +
                 " {\n    weight 1\n    TCP_CHECK {\n      connect_timeout 3\n    }\n  }\n";
        }
        c += "}\n";
    }
    return c;
}

Result measure_keepalived(Farm& farm, size_t n, int warmup_s, int window_s) {
    char dir_tmpl[] = "/tmp/ballast-bench-XXXXXX";
    const std::string dir = mkdtemp(dir_tmpl) ? dir_tmpl : (die("mkdtemp"), "");
    const std::string conf = dir + "/keepalived.conf";
    std::ofstream(conf) << keepalived_conf(n);
    const std::string log = dir + "/keepalived.log";
    const pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        const std::string pidf = dir + "/keepalived.pid", chkf = dir + "/checkers.pid";
        execlp("keepalived", "keepalived", "-n", "-C", "-G", "-l", "-f", conf.c_str(), "-p",
               pidf.c_str(), "-c", chkf.c_str(), static_cast<char*>(nullptr));
        std::perror("exec keepalived");
        _exit(127);
    }
    warm_up(farm, pid, warmup_s, "keepalived");
    Result r{"keepalived 2.2.7 (TCP_CHECK, delay_loop 1, connect_timeout 3)", 0, {}, 0, ""};
    const Cpu cpu0 = cpu_of_tree(pid);
    const uint64_t acc0 = farm.accepted.load();
    const auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(window_s));
    r.cpu = cpu_of_tree(pid) - cpu0;
    r.checks = farm.accepted.load() - acc0;
    r.wall = seconds_since(t0);
    // IPVS state keepalived made (in our private namespace): proof it ran as configured.
    int dests = 0;
    {
        std::ifstream f("/proc/net/ip_vs");
        std::string line;
        while (std::getline(f, line))
            dests += line.find("  -> ") == 0 && line.find("RemoteAddress") == std::string::npos;
    }
    r.extra = std::to_string(dests) + " IPVS real servers programmed";
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    std::system(("rm -rf " + dir).c_str());
    return r;
}

// (b) and (c): this program re-executed in `mode` ("runner" or "floor").
Result measure_self(Farm& farm, size_t n, int warmup_s, int window_s, const std::string& mode,
                    const char* wake_us = nullptr) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) die("pipe");
    const pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        dup2(out[1], 1);
        const std::string nstr = std::to_string(n);
        if (wake_us) setenv("BALLAST_WAKE_US", wake_us, 1);
        execl("/proc/self/exe", "health_lab_bench", mode.c_str(), nstr.c_str(),
              static_cast<char*>(nullptr));
        std::perror("exec self");
        _exit(127);
    }
    ::close(out[1]);
    FILE* from = fdopen(out[0], "r");
    char line[256] = {};
    if (!std::fgets(line, sizeof line, from) || std::strncmp(line, "ready", 5) != 0) {
        std::fprintf(stderr, "health_lab_bench: %s did not start\n", mode.c_str());
        std::exit(1);
    }
    const bool floor = mode == "floor";
    // Half-open probes are never accepted: counted by their own verdicts.
    const bool runner_half = mode == "runner_half";
    const bool halfopen = mode == "halfopen" || runner_half;
    // A half-open probe is never accepted: wait for the warm-up alone.
    if (halfopen) {
        std::fprintf(stderr, "health_lab_bench: half-open floor: warming up %d s\n", warmup_s);
        std::this_thread::sleep_for(std::chrono::seconds(warmup_s));
    } else {
        warm_up(farm, pid, warmup_s, floor ? "floor" : "ballast runner");
    }
    Result r{runner_half ? "ballast HealthRunner (tcp_half_open, interval 1 s, timeout 3 s)"
             : halfopen  ? "half-open floor: raw SYN, SYN-ACK read, kernel RST (no connect)"
             : floor     ? "floor: bare epoll connect loop (no timers, no callbacks)"
             : wake_us
                 ? "ballast HealthRunner (tcp, interval 1 s, timeout 3 s, wake-up granularity " +
                       std::string(wake_us) + " us)"
                 : "ballast HealthRunner (tcp, interval 1 s, timeout 3 s)",
             0,
             {},
             0,
             ""};
    const Cpu cpu0 = cpu_of_tree(pid);
    const uint64_t acc0 = farm.accepted.load();
    kill(pid, SIGUSR1);
    const auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(window_s));
    r.cpu = cpu_of_tree(pid) - cpu0;
    r.checks = farm.accepted.load() - acc0;
    r.wall = seconds_since(t0);
    kill(pid, SIGUSR2);
    unsigned long long runs = 0;
    long long p50 = 0, p99 = 0, p999 = 0;
    size_t up = 0;
    if (!std::fgets(line, sizeof line, from) ||
        std::sscanf(line, "%llu %lld %lld %lld %zu", &runs, &p50, &p99, &p999, &up) != 5) {
        std::fprintf(stderr, "health_lab_bench: no stats from %s\n", mode.c_str());
        std::exit(1);
    }
    std::fclose(from);
    waitpid(pid, nullptr, 0);
    if (halfopen) r.checks = runs;  // its SYN-ACKs received in the window
    // The histogram's last bucket holds everything from 100 ms up.
    auto ms = [](long long us) {
        return us >= 100'000 ? std::string(">= 100") : std::to_string(us / 1000.0).substr(0, 5);
    };
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "runs finished %llu (%.0f/s); up %zu/%zu; timer lateness p50 %s / p99 %s / "
                  "p99.9 %s ms",
                  runs, static_cast<double>(runs) / r.wall, up, n, ms(p50).c_str(), ms(p99).c_str(),
                  ms(p999).c_str());
    r.extra = buf;
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 2 && std::string(argv[1]) == "runner")
        return runner_main(std::stoul(argv[2]), false);
    if (argc > 2 && std::string(argv[1]) == "runner_half")
        return runner_main(std::stoul(argv[2]), true);
    if (argc > 2 && std::string(argv[1]) == "floor") return floor_main(std::stoul(argv[2]));
    if (argc > 2 && std::string(argv[1]) == "halfopen") return halfopen_main(std::stoul(argv[2]));
    const size_t n = argc > 1 ? std::stoul(argv[1]) : 1000;
    const int warmup_s = argc > 2 ? std::stoi(argv[2]) : 15;
    const int window_s = argc > 3 ? std::stoi(argv[3]) : 30;
    const std::string order = argc > 4 ? argv[4] : "kbf";
    if (n == 0 || n > 25000 || order.empty() ||
        order.find_first_not_of("kbBofh") != std::string::npos) {
        std::fprintf(stderr,
                     "usage: health_lab_bench [targets<=25000] [warmup_s] [window_s] [order]\n"
                     "  order: k keepalived, b ballast, B ballast waking every 1 ms, o ballast "
                     "tcp_half_open, f floor, h half-open floor, in measuring "
                     "order (default kbf)\n");
        return 2;
    }
    if (::unshare(CLONE_NEWNET) != 0) die("unshare(CLONE_NEWNET) (needs root)");
    if (std::system("ip link set lo up") != 0) die("ip link set lo up");
    raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    Farm farm(n);

    std::vector<Result> results;
    double per_check_k = 0, per_check_b = 0, per_check_f = 0, per_check_h = 0;
    for (char who : order) {
        farm.accepted = 0;
        results.push_back(who == 'k'   ? measure_keepalived(farm, n, warmup_s, window_s)
                          : who == 'b' ? measure_self(farm, n, warmup_s, window_s, "runner")
                          : who == 'B' ? measure_self(farm, n, warmup_s, window_s, "runner", "1000")
                          : who == 'o' ? measure_self(farm, n, warmup_s, window_s, "runner_half")
                          : who == 'h' ? measure_self(farm, n, warmup_s, window_s, "halfopen")
                                       : measure_self(farm, n, warmup_s, window_s, "floor"));
        const auto& r = results.back();
        const double pc = r.checks ? r.cpu.total() / static_cast<double>(r.checks) * 1e6 : 0;
        if (who == 'k') per_check_k = pc;
        if (who == 'b') per_check_b = pc;
        if (who == 'f') per_check_f = pc;
        if (who == 'h') per_check_h = pc;
        std::fprintf(stderr, "health_lab_bench: %s: %llu checks in %.1f s, %.2f CPU s\n",
                     r.name.c_str(), static_cast<unsigned long long>(r.checks), r.wall,
                     r.cpu.total());
    }

    std::printf(
        "| checker (%zu targets, %d s window after %d s warm-up) | checks/s (ideal %zu) | "
        "CPU, %% of one vCPU (user + sys) | CPU per check | user CPU per check | notes "
        "|\n|---|---|---|---|---|---|\n",
        n, window_s, warmup_s, n);
    for (const auto& r : results) {
        const double pc = r.checks ? r.cpu.total() / static_cast<double>(r.checks) * 1e6 : 0;
        const double upc = r.checks ? r.cpu.user / static_cast<double>(r.checks) * 1e6 : 0;
        std::printf("| %s | %.0f | %.1f %% (%.1f + %.1f) | %.0f us | %.0f us | %s |\n",
                    r.name.c_str(), static_cast<double>(r.checks) / r.wall,
                    r.cpu.total() / r.wall * 100, r.cpu.user / r.wall * 100,
                    r.cpu.sys / r.wall * 100, pc, upc, r.extra.c_str());
    }
    if (per_check_k > 0 && per_check_b > 0) {
        std::printf("\nballast CPU per check = %.3f of keepalived's (target <= 0.25: %s)\n",
                    per_check_b / per_check_k, per_check_b <= per_check_k / 4 ? "met" : "NOT met");
    }
    if (per_check_k > 0 && per_check_f > 0)
        std::printf("connect floor CPU per check = %.3f of keepalived's\n",
                    per_check_f / per_check_k);
    if (per_check_k > 0 && per_check_h > 0)
        std::printf("half-open floor CPU per check = %.3f of keepalived's\n",
                    per_check_h / per_check_k);
    if (per_check_f > 0 && per_check_b > 0)
        std::printf("ballast CPU per check = %.3f of the connect floor's\n",
                    per_check_b / per_check_f);
    return 0;
}
