// Health checker at scale, on loopback: N TCP targets (listeners spread over
// 127.10.0.0/16, ephemeral ports; the kernel completes handshakes, nobody
// accepts) checked every second by one HealthRunner on one thread.
//
//   health_bench [targets=10000] [seconds=10] [stopped=100]
//
// Runs in a private network namespace (unshare, needs root) so that the
// "silently dropped" case can add an nft drop rule for the stopped targets
// without touching the host; nothing is left behind when the process exits.
//
// Reports checks/s, CPU seconds per 10,000 checks (user+sys of this
// single-threaded process), timer lateness p50/p99, memory (RSS growth from
// creating the runner), and the detection latency when `stopped` targets have
// their listener closed at once (connect refused), and when `stopped` other
// targets have their packets dropped (nft), against the bound
// interval x fall + timeout.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ballast/health/runner.hpp"

using namespace ballast::health;
using namespace std::chrono_literals;

namespace {

long rss_kib() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return 0;
}

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct Listener {
    int fd;
    ballast::model::Endpoint ep;
};

Listener listen_on(size_t i) {
    const std::string addr =
        "127.10." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        ::listen(fd, 4096) != 0) {
        std::perror(("listener " + addr).c_str());
        std::exit(1);
    }
    socklen_t len = sizeof sa;
    getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    return {fd, {*ballast::model::IpAddress::parse(addr), ntohs(sa.sin_port)}};
}

struct Sink : HealthSink {
    void on_health_event(const HealthEvent& e) override {
        if (e.transition && e.state == State::down) down_at.emplace(e.check, e.at);
    }
    std::map<CheckKey, TimePoint> down_at;
};

}  // namespace

int main(int argc, char** argv) {
    const size_t n = argc > 1 ? std::stoul(argv[1]) : 10000;
    const int seconds = argc > 2 ? std::stoi(argv[2]) : 10;
    const size_t stopped = std::min(n, argc > 3 ? std::stoul(argv[3]) : size_t{100});

    // A private network namespace: its own loopback, and a place for the drop rule.
    const bool netns = ::unshare(CLONE_NEWNET) == 0 && std::system("ip link set lo up") == 0;

    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);

    std::vector<Listener> listeners;
    for (size_t i = 0; i < n; ++i) listeners.push_back(listen_on(i));

    ballast::model::CheckSpec spec;
    spec.type = ballast::model::CheckType::tcp;
    spec.interval = 1000ms;
    spec.timeout = 1000ms;
    spec.rise = 1;
    spec.fall = 3;
    std::vector<CheckKey> keys;
    for (const auto& l : listeners) keys.push_back(CheckKey{l.ep, spec});

    boost::asio::io_context io;
    Sink sink;
    const long rss0 = rss_kib();
    RunnerOptions options;
    options.seed = 1;
    // BALLAST_WAKE_US: the runner's wake-up granularity (default 1000 us; 0 = every check on time).
    if (const char* w = std::getenv("BALLAST_WAKE_US"))
        options.wake_granularity = std::chrono::microseconds(std::stol(w));
    HealthRunner runner(io, sink, options);
    runner.reload(keys);
    // run() until a timer stops it, as the daemon's loop runs (run_for() would add its
    // own clock reads and wake-ups to every handler it runs).
    auto run_for = [&io](std::chrono::milliseconds d) {
        boost::asio::steady_timer stop(io, d);
        stop.async_wait([&io](const boost::system::error_code&) { io.stop(); });
        io.restart();
        io.run();
    };
    run_for(2s);  // first round + settle
    runner.reset_stats();

    const double cpu0 = cpu_seconds();
    const auto t0 = SteadyClock::now();
    run_for(std::chrono::seconds(seconds));
    const double wall = std::chrono::duration<double>(SteadyClock::now() - t0).count();
    const double cpu = cpu_seconds() - cpu0;
    const auto& st = runner.stats();
    const double checks = static_cast<double>(st.runs_finished);
    const long rss1 = rss_kib();
    size_t up = 0;
    for (const auto& k : keys) up += runner.state(k) == State::up;

    std::printf("targets                 %zu (up %zu)\n", n, up);
    std::printf("checks/s                %.0f (goal %zu)\n", checks / wall, n);
    std::printf("CPU s per 10,000 checks %.3f (%.1f%% of one core)\n", cpu / checks * 10000,
                cpu / wall * 100);
    std::printf("timer lateness          p50 %lld us, p99 %lld us, p99.9 %lld us\n",
                static_cast<long long>(st.lateness.percentile(50).count()),
                static_cast<long long>(st.lateness.percentile(99).count()),
                static_cast<long long>(st.lateness.percentile(99.9).count()));
    std::printf("memory                  RSS +%ld KiB for the runner (%.1f KiB per target)\n",
                rss1 - rss0, static_cast<double>(rss1 - rss0) / static_cast<double>(n));

    const auto bound = spec.interval * spec.fall + spec.timeout;
    auto detect = [&](const char* what, const std::function<void()>& stop) {
        sink.down_at.clear();
        // Measured from when the stop is surely in effect (after nft returned: loading the
        // rule blocks this single-threaded loop for a moment, which would otherwise count).
        const auto stop_begin = SteadyClock::now();
        stop();
        const auto stop_at = SteadyClock::now();
        const double stop_took = std::chrono::duration<double>(stop_at - stop_begin).count();
        while (sink.down_at.size() < stopped && SteadyClock::now() - stop_at < bound + 3s) {
            run_for(50ms);
        }
        std::vector<double> lat;
        for (const auto& [k, t] : sink.down_at) {
            lat.push_back(std::chrono::duration<double>(t - stop_at).count());
        }
        std::sort(lat.begin(), lat.end());
        const double b = std::chrono::duration<double>(bound).count();
        if (lat.empty()) {
            std::printf("detection (%-11s) none of %zu reported down\n", what, stopped);
            return false;
        }
        std::printf(
            "detection (%-11s) %zu/%zu down; min %.2f s, median %.2f s, max %.2f s; bound %.1f s "
            "(stopping took %.2f s)\n",
            what, lat.size(), stopped, lat.front(), lat[lat.size() / 2], lat.back(), b, stop_took);
        return lat.size() == stopped && lat.back() <= b;
    };
    if (stopped == 0) return 0;
    const size_t stride = n / stopped;
    bool ok = detect("closed port", [&] {
        for (size_t i = 0; i < stopped; ++i) ::close(listeners[i * stride].fd);
    });
    if (!netns) {
        std::printf("detection (dropped    ) skipped: no private network namespace (needs root)\n");
        return 1;
    }
    ok = detect(
             "dropped",
             [&] {
                 std::string script =
                     "table ip ballast_bench {\n chain in {\n  type filter hook input priority 0;\n"
                     "  ip daddr { ";
                 for (size_t i = 0; i < stopped; ++i) {
                     script +=
                         (i ? ", " : "") + listeners[i * stride + stride / 2].ep.addr.to_string();
                 }
                 script += " } drop\n }\n}\n";
                 FILE* nft = popen("nft -f -", "w");
                 if (!nft || std::fputs(script.c_str(), nft) < 0 || pclose(nft) != 0) {
                     std::printf("nft failed\n");
                     std::exit(1);
                 }
             }) &&
         ok;
    return ok ? 0 : 1;
}
