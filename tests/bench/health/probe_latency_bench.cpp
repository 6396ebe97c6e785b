// How soon verdicts arrive, and how late checks start while the loop also
// serves misbehaving servers -- the timings the host tests used to assert
// (tests/host/health assert behaviour only). On loopback, no privileges.
//
//   probe_latency_bench [rounds=5]
//
// (1) Each probe against a farm server, `rounds` times: time from start_probe to
//     the verdict, against the check's timeout (tcp refused and dropped, udp
//     port unreachable, http hang and reset, exec timeout).
// (2) The runner's start lateness (p50/p99) over 3 s for 20 healthy tcp checks
//     every 200 ms beside servers that hang, drip, reset and flood.
// Prints Markdown tables for BENCHMARKS.md.
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "../../host/health/farm.hpp"
#include "ballast/health/runner.hpp"

using namespace ballast::health;
using namespace std::chrono_literals;
using ballast::health::testing::Farm;

namespace {

CheckKey key(ballast::model::CheckType type, uint16_t port, Millis timeout,
             Millis interval = 1000ms, const std::string& addr = "127.0.0.1") {
    CheckKey k;
    k.target = ballast::model::Endpoint{*ballast::model::IpAddress::parse(addr), port};
    k.spec.edit().type = type;
    k.spec.edit().timeout = timeout;
    k.spec.edit().interval = interval;
    k.spec.edit().rise = 1;
    k.spec.edit().fall = 1;
    return k;
}

struct NullSink : HealthSink {
    void on_health_event(const HealthEvent&) override {}
};

}  // namespace

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 5;
    Farm farm;
    using T = ballast::model::CheckType;
    struct Case {
        std::string name;
        CheckKey key;
    };
    std::vector<Case> cases;
    cases.push_back({"tcp, connect refused", key(T::tcp, farm.dead_udp_port("127.0.0.1"), 1000ms)});
    cases.push_back({"tcp, SYNs dropped",
                     key(T::tcp, farm.syn_dropping("127.0.0.3"), 300ms, 1000ms, "127.0.0.3")});
    auto udp = key(T::udp, farm.dead_udp_port("127.0.0.1"), 2000ms);
    udp.spec.edit().send = "ping";
    cases.push_back({"udp, ICMP port unreachable", udp});
    cases.push_back({"http, server hangs after accept",
                     key(T::http, farm.tcp("127.0.0.1", [&](int) { farm.nap(10s); }), 500ms)});
    cases.push_back({"http, reset", key(T::http,
                                        farm.tcp("127.0.0.1",
                                                 [](int fd) {
                                                     Farm::read_request(fd);
                                                     linger l{1, 0};
                                                     setsockopt(fd, SOL_SOCKET, SO_LINGER, &l,
                                                                sizeof l);
                                                 }),
                                        1000ms)});
    auto exec = key(T::exec, 1, 300ms);
    exec.spec.edit().command = {"/bin/sh", "-c", "sleep 30"};
    cases.push_back({"exec, program hangs", exec});

    std::printf(
        "| probe | timeout | verdict after (min / max over %d) | verdict |\n|---|---|---|---|\n",
        rounds);
    for (const auto& c : cases) {
        double lo = 1e9, hi = 0;
        std::string reason;
        for (int i = 0; i < rounds; ++i) {
            boost::asio::io_context io;
            ProbeContext ctx(io);
            const auto t0 = std::chrono::steady_clock::now();
            double took = 0;
            auto run = start_probe(ctx, c.key, [&](ProbeResult r) {
                took =
                    std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                        .count();
                reason = r.reason;
            });
            io.run();
            lo = std::min(lo, took);
            hi = std::max(hi, took);
        }
        std::printf("| %s | %lld ms | %.1f / %.1f ms | %s |\n", c.name.c_str(),
                    static_cast<long long>(c.key.spec->timeout.count()), lo, hi, reason.c_str());
    }

    // (2) the runner beside misbehaving servers
    boost::asio::io_context io;
    NullSink sink;
    RunnerOptions options;
    options.seed = 7;
    HealthRunner runner(io, sink, options);
    std::vector<CheckKey> keys;
    keys.push_back(key(T::http, farm.tcp("127.0.0.1", [&](int) { farm.nap(30s); }), 500ms));
    keys.push_back(key(T::http, farm.listen_only("127.0.0.1"), 500ms));
    keys.push_back(key(T::http,
                       farm.tcp("127.0.0.1",
                                [&](int fd) {
                                    Farm::read_request(fd);
                                    for (char ch : std::string("HTTP/1.1 200 OK\r\n")) {
                                        Farm::send_all(fd, std::string_view(&ch, 1));
                                        if (!farm.nap(1s)) return;
                                    }
                                }),
                       800ms));
    keys.push_back(key(T::http,
                       farm.tcp("127.0.0.1",
                                [](int fd) {
                                    Farm::read_request(fd);
                                    Farm::send_all(fd, "HTTP/1.1 200 OK\r\n\r\n");
                                    std::string chunk(64 * 1024, 'x');
                                    for (int i = 0; i < 1600; ++i) {
                                        if (::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL) <=
                                            0)
                                            return;
                                    }
                                }),
                       500ms));
    for (int i = 0; i < 20; ++i) {
        const std::string addr = "127.0.1." + std::to_string(i + 1);
        keys.push_back(key(T::tcp, farm.tcp_accept_close(addr), 500ms, 200ms, addr));
    }
    runner.reload(keys);
    io.run_for(3s);
    const auto& st = runner.stats();
    std::printf(
        "\n| runner beside hanging, dripping and flooding servers (3 s) | runs | start "
        "lateness p50 / p99 |\n|---|---|---|\n| 20 tcp every 200 ms + 4 bad http | %llu | "
        "%.2f / %.2f ms |\n",
        static_cast<unsigned long long>(st.runs_finished),
        static_cast<double>(st.lateness.percentile(50).count()) / 1000.0,
        static_cast<double>(st.lateness.percentile(99).count()) / 1000.0);
    runner.stop();
    return 0;
}
