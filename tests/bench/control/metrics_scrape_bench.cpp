// What a /metrics scrape costs the daemon at 5,000 services x 10 real servers, and whether
// scraping delays health verdicts' kernel edits. Runs the real Director, runner and control
// hub over the fake kernel (DaemonRig; the host has no IPVS) and scrapes over HTTP from a
// forked child, so the daemon's CPU is this process's (getrusage RUSAGE_SELF, user + sys)
// and the client's is not; the status thread's share (it renders /metrics) is shown beside it.
//
//   metrics_scrape_bench [services=5000] [reals=10] [verdicts=2000]
//
// Scrapes: cold (every service serialized), steady (nothing changed), after 1 % of the
// services' decisions changed, after the first dump (every counter series new), after 10 dumps
// that changed every real's counters (and their min, median and max) (the fake kernel reports a
// service's own counters as zero, so those five series per service stay the same). Peer in the same
// run: the same per-real series held in a prometheus-cpp Registry (a Gauge per series) and
// serialized whole at every scrape (Collect + TextSerializer), the plain way to use the library.
// Verdicts: one health event posted to the loop at a time, its decision + kernel edit + publish
// timed from the post to its completion, while nothing else happens and while a client scrapes
// /metrics back to back.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "ballast/testing/daemon_rig.hpp"

using namespace ballast;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

double thread_cpu_ms() {
    timespec t{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

// Time on CPU of this process's thread named ballast-status (the status server's, which
// renders /metrics), in ms, from its schedstat (ns); 0 before it exists.
double status_thread_cpu_ms() {
    namespace fs = std::filesystem;
    for (const auto& task : fs::directory_iterator("/proc/self/task")) {
        std::ifstream comm(task.path() / "comm");
        std::string name;
        if (!std::getline(comm, name) || name != "ballast-status") continue;
        std::ifstream stat(task.path() / "schedstat");
        unsigned long long ns = 0;
        stat >> ns;
        return static_cast<double>(ns) / 1e6;
    }
    return 0;
}

// Client mode (the bench runs itself as the client, so the client's CPU is not the daemon's):
// GET target, read it all, print the body size.
int client_main(uint16_t port, const std::string& target, bool gzip) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 1;
    const std::string req = "GET " + target +
                            " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
                            (gzip ? "Accept-Encoding: gzip\r\n" : "") + "\r\n";
    (void)::write(fd, req.data(), req.size());
    static char buf[1 << 20];
    uint64_t total = 0;
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) total += static_cast<uint64_t>(n);
    std::printf("%llu\n", static_cast<unsigned long long>(total));
    return 0;
}

// GET target from a client process started with posix_spawn (no fork of this big process,
// whose page-table copy would be charged to the daemon and stall its threads); the body size.
size_t scrape(uint16_t port, const std::string& target, bool gzip = false) {
    int pipefd[2];
    if (::pipe(pipefd) != 0) std::abort();
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    const std::string p = std::to_string(port);
    char* argv[] = {const_cast<char*>("metrics_scrape_bench"),
                    const_cast<char*>(gzip ? "--client-gzip" : "--client"),
                    const_cast<char*>(p.c_str()), const_cast<char*>(target.c_str()), nullptr};
    pid_t pid = 0;
    if (posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv, environ) != 0) std::abort();
    posix_spawn_file_actions_destroy(&fa);
    ::close(pipefd[1]);
    std::string out;
    char buf[64];
    for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) > 0;)
        out.append(buf, static_cast<size_t>(n));
    ::close(pipefd[0]);
    ::waitpid(pid, nullptr, 0);
    return static_cast<size_t>(std::strtoull(out.c_str(), nullptr, 10));
}

// The floor under a plain scrape: the same number of bytes written through a loopback TCP
// socket to the same client, from a buffer made beforehand (nothing rendered), as the status
// server writes them (1 MB writes). The writing thread's CPU (RUSAGE_THREAD), in ms.
double socket_copy_floor_ms(size_t bytes) {
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listener, 1) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len) != 0)
        std::abort();
    double cpu = 0;
    std::thread server([&] {
        const std::string body(1 << 20, 'x');
        const int fd = ::accept(listener, nullptr, nullptr);
        char req[1024];
        (void)::read(fd, req, sizeof req);  // the GET
        rusage u0{}, u1{};
        ::getrusage(RUSAGE_THREAD, &u0);
        for (size_t sent = 0; sent < bytes;) {
            const ssize_t n = ::write(fd, body.data(), std::min(body.size(), bytes - sent));
            if (n <= 0) break;
            sent += static_cast<size_t>(n);
        }
        ::getrusage(RUSAGE_THREAD, &u1);
        ::close(fd);
        auto ms = [](const timeval& x, const timeval& y) {
            return (y.tv_sec - x.tv_sec) * 1e3 + (y.tv_usec - x.tv_usec) / 1e3;
        };
        cpu = ms(u0.ru_utime, u1.ru_utime) + ms(u0.ru_stime, u1.ru_stime);
    });
    scrape(ntohs(a.sin_port), "/");
    server.join();
    ::close(listener);
    return cpu;
}

std::string config(int services, int reals) {
    std::ostringstream c;
    c << "[director]\n";  // the control socket is left out below
    for (int s = 0; s < services; ++s) {
        c << "[[service]]\nname = \"svc" << s << "\"\nvip = \"10." << s / 250 << "." << s % 250
          << ".1\"\nport = 80\nscheduler = \"wrr\"\n"
          << "check = { type = \"tcp\", interval = \"1h\", timeout = \"1s\" }\n";
        for (int r = 0; r < reals; ++r)
            c << "[[service.real]]\naddress = \"127." << s / 250 << "." << s % 250 << "." << r + 1
              << ":8080\"\nweight = " << r + 1 << "\n";
    }
    return c.str();
}

health::HealthEvent event_for(daemon::Director& d, size_t service, health::State state) {
    const auto& svc = d.config().services.at(service);
    const auto& real = svc.reals.front().key;
    return health::HealthEvent{health::make_check_key(real.addr, real.port, *svc.check),
                               state,
                               true,
                               state == health::State::down ? "connect refused" : "connected",
                               Clock::now(),
                               std::nullopt,
                               std::nullopt};
}

struct Percentiles {
    double p50, p99, max;
};
Percentiles percentiles(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    auto at = [&](double p) {
        return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
    };
    return {at(0.5), at(0.99), v.back()};
}

// The plain way: a Gauge per series in a Registry, everything serialized at every scrape.
// The same series as ours: per real configured/effective weight, health, active and inactive
// connections; per service info, panic, sorry, down and the five IPVS counters.
class RegistryPeer {
public:
    explicit RegistryPeer(const control::PublishedState::Snapshot& snap) {
        using prometheus::BuildGauge;
        auto& info = BuildGauge().Name("ballast_service_info").Help("h").Register(registry_);
        auto& panic = BuildGauge().Name("ballast_service_panic").Help("h").Register(registry_);
        auto& sorry =
            BuildGauge().Name("ballast_service_sorry_server_active").Help("h").Register(registry_);
        auto& down =
            BuildGauge().Name("ballast_service_real_servers_down").Help("h").Register(registry_);
        auto& conf =
            BuildGauge().Name("ballast_real_weight_configured").Help("h").Register(registry_);
        auto& eff =
            BuildGauge().Name("ballast_real_weight_effective").Help("h").Register(registry_);
        auto& health = BuildGauge().Name("ballast_real_health").Help("h").Register(registry_);
        auto& active = BuildGauge()
                           .Name("ballast_ipvs_backend_connections_active")
                           .Help("h")
                           .Register(registry_);
        auto& inactive = BuildGauge()
                             .Name("ballast_ipvs_backend_connections_inactive")
                             .Help("h")
                             .Register(registry_);
        std::vector<prometheus::Family<prometheus::Gauge>*> counters;
        for (const char* n :
             {"ballast_ipvs_connections_total", "ballast_ipvs_incoming_packets_total",
              "ballast_ipvs_outgoing_packets_total", "ballast_ipvs_incoming_bytes_total",
              "ballast_ipvs_outgoing_bytes_total"})
            counters.push_back(&BuildGauge().Name(n).Help("h").Register(registry_));
        for (const auto& e : snap.services) {
            const auto v = control::decided_view(*e);
            const prometheus::Labels svc{{"local_address", v.key.addr.to_string()},
                                         {"local_port", std::to_string(v.key.port)},
                                         {"proto", "TCP"}};
            auto named = svc;
            named["service"] = v.name;
            auto withsched = named;
            withsched["scheduler"] = v.scheduler;
            withsched["check"] = v.check_type;
            info.Add(withsched).Set(1);
            panic.Add(named).Set(v.panic);
            sorry.Add(named).Set(v.sorry_active);
            down.Add(named).Set(v.down);
            for (auto* c : counters) c->Add(svc).Set(0);
            for (size_t i = 0; i < v.reals.size(); ++i) {
                auto real = named;
                const auto& key = e->decision->reals[i].real;
                real["remote_address"] = key.addr.to_string();
                real["remote_port"] = std::to_string(key.port);
                auto backend = svc;
                backend["remote_address"] = real["remote_address"];
                backend["remote_port"] = real["remote_port"];
                conf.Add(real).Set(v.reals[i].configured);
                eff.Add(real).Set(v.reals[i].effective);
                health.Add(real).Set(v.reals[i].state == "up" ? 1 : 0);
                active.Add(backend).Set(0);
                inactive.Add(backend).Set(0);
            }
        }
    }
    size_t scrape() const {
        std::ostringstream os;
        prometheus::TextSerializer().Serialize(os, registry_.Collect());
        return os.str().size();
    }

private:
    prometheus::Registry registry_;
};

double load_average() {
    std::ifstream f("/proc/loadavg");
    double one = 0;
    f >> one;
    return one;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 4 && std::string(argv[1]).rfind("--client", 0) == 0)
        return client_main(static_cast<uint16_t>(std::atoi(argv[2])), argv[3],
                           std::string(argv[1]) == "--client-gzip");
    const int services = argc > 1 ? std::atoi(argv[1]) : 5000;
    const int reals = argc > 2 ? std::atoi(argv[2]) : 10;
    const int verdicts = argc > 3 ? std::atoi(argv[3]) : 2000;
    std::signal(SIGPIPE, SIG_IGN);
    char tmpl[] = "/tmp/ballast-scrape-XXXXXX";
    const std::string dir = ::mkdtemp(tmpl);
    std::printf("metrics_scrape_bench: %d services x %d real servers, load average %.1f\n",
                services, reals, load_average());
    const auto t0 = Clock::now();
    testing::DaemonRig rig(dir, config(services, reals));
    rig.adjust = [](control::HubSettings& s) {
        s.status_listen = model::Endpoint{*model::IpAddress::parse("127.0.0.1"), 0};
        s.fresh_interval = 0ms;
        s.control_socket.clear();
    };
    rig.start();
    std::printf("daemon up in %.1f s (config, Director start, first publish)\n",
                std::chrono::duration<double>(Clock::now() - t0).count());
    const uint16_t port = rig.http_port();

    // Each row: a scrape with Accept-Encoding: gzip (as Prometheus asks), then a plain one
    // (whose texts the gzip scrape has already brought up to date); or the other way round.
    // The daemon's CPU of each timed scrape, by encoding (for the summary of the rows after
    // dumps).
    double last_cpu[2] = {0, 0};
    auto timed = [&](bool gzip) {
        rusage u0{}, u1{};
        ::getrusage(RUSAGE_SELF, &u0);
        const double status0 = status_thread_cpu_ms();
        const size_t bytes = scrape(port, "/metrics", gzip);
        const double status = status_thread_cpu_ms() - status0;
        ::getrusage(RUSAGE_SELF, &u1);
        auto ms = [](const timeval& a, const timeval& b) {
            return (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_usec - a.tv_usec) / 1e3;
        };
        const double cpu = ms(u0.ru_utime, u1.ru_utime) + ms(u0.ru_stime, u1.ru_stime);
        last_cpu[gzip ? 1 : 0] = cpu;
        std::printf("  %s %6.1f ms CPU (%5.1f user %5.1f sys; status thread %5.1f) %5.1f MB",
                    gzip ? "gzip" : "text", cpu, ms(u0.ru_utime, u1.ru_utime),
                    ms(u0.ru_stime, u1.ru_stime), status, static_cast<double>(bytes) / 1e6);
    };
    auto timed_scrape = [&](const char* what, bool gzip_first = true) {
        std::printf("  %-42s", what);
        timed(gzip_first);
        std::printf(" |");
        timed(!gzip_first);
        std::printf("\n");
    };
    std::printf(
        "\n/metrics over HTTP (daemon CPU = this process; the client is a spawned process;\n"
        "first a gzip scrape, as Prometheus asks, then a plain one, unless said):\n");
    timed_scrape("cold: every service serialized");
    for (int i = 0; i < 5; ++i) timed_scrape("steady: nothing changed");
    // 1 % of the services change their decisions (one real each goes down).
    rig.on_loop([&] {
        for (int s = 0; s < services; s += 100)
            rig.on_health_event(
                event_for(rig.director(), static_cast<size_t>(s), health::State::down));
        return 0;
    });
    timed_scrape("after 1 % of services changed decisions");
    timed_scrape("steady again");
    // Dumps in which every real's counters changed: the first one's series are all new, the
    // next one's are the same series with new values (every resync's dump while traffic flows).
    auto dump_with_new_counters = [&](uint32_t round) {
        rig.on_loop([&] {
            uint32_t i = 0;
            for (const auto& [key, svc] : rig.ipvs().table().services)
                for (const auto& [real, spec] : svc.reals) {
                    kernel::DestCounters c;
                    c.active_conns = (++i * 7 + round) % 50;
                    c.inactive_conns = (i * 13 + round) % 200;
                    c.stats.conns = 100 * round + i;
                    c.stats.inbytes = uint64_t{1000000} * round + i;
                    rig.ipvs().set_dest_counters(key, real, c);
                }
            return 0;
        });
        // The dump (its cost is not the scrape's). The hub answers a fresh request from the
        // last dump when that one was less than ten of its durations ago, so ask until the
        // published counters are a new dump's.
        const auto before = rig.hub().published().snapshot().counters;
        while (rig.hub().published().snapshot().counters == before) {
            std::this_thread::sleep_for(200ms);
            scrape(port, "/api/v1/status?fresh=1");
        }
        rig.on_loop([] { return 0; });  // and what the loop does after it
        std::this_thread::sleep_for(100ms);
    };
    dump_with_new_counters(1);
    timed_scrape("after the first dump (counter series new)");
    timed_scrape("steady again");
    std::vector<double> after_dump;  // gzip, the first scrape after each dump
    for (uint32_t round = 2; round <= 11; ++round) {
        dump_with_new_counters(round);
        timed_scrape("after a dump changed every real's counters");
        after_dump.push_back(last_cpu[1]);
    }
    std::sort(after_dump.begin(), after_dump.end());
    std::printf("  gzip after each of %zu dumps: min %.1f, median %.1f, max %.1f ms CPU\n",
                after_dump.size(), after_dump.front(), after_dump[after_dump.size() / 2],
                after_dump.back());
    for (uint32_t round = 12; round <= 13; ++round) {
        dump_with_new_counters(round);
        timed_scrape("the same, plain scrape first", false);
    }
    for (int i = 0; i < 3; ++i) timed_scrape("steady again");
    {
        const size_t plain = scrape(port, "/metrics");
        std::vector<double> floor;
        for (int i = 0; i < 5; ++i) floor.push_back(socket_copy_floor_ms(plain));
        std::sort(floor.begin(), floor.end());
        std::printf(
            "  floor of a plain scrape: %.1f MB through a loopback socket from a ready buffer, "
            "no rendering: min %.1f, median %.1f, max %.1f ms CPU (5 runs)\n",
            static_cast<double>(plain) / 1e6, floor.front(), floor[2], floor.back());
    }

    std::printf("\nIn-process serialization of the same series, CPU per scrape:\n");
    {
        auto snap = rig.hub().published().snapshot();
        const double b0 = thread_cpu_ms();
        RegistryPeer peer(snap);
        const double built = thread_cpu_ms() - b0;
        std::vector<double> runs;
        size_t bytes = 0;
        for (int i = 0; i < 3; ++i) {
            const double c0 = thread_cpu_ms();
            bytes = peer.scrape();
            runs.push_back(thread_cpu_ms() - c0);
        }
        std::printf(
            "  peer: Registry of Gauges, Collect + TextSerializer: %.1f ms (min of 3), "
            "%.1f MB; building it %.1f ms\n",
            *std::min_element(runs.begin(), runs.end()), static_cast<double>(bytes) / 1e6, built);
        control::Metrics ours("bench");
        const double c0 = thread_cpu_ms();
        auto first = ours.render(snap, {});
        const double cold = thread_cpu_ms() - c0;
        runs.clear();
        for (int i = 0; i < 3; ++i) {
            const double c1 = thread_cpu_ms();
            auto text = ours.render(snap, {});
            runs.push_back(thread_cpu_ms() - c1);
        }
        std::printf("  ours: cold %.1f ms, steady %.1f ms (min of 3), %.1f MB in %zu pieces\n",
                    cold, *std::min_element(runs.begin(), runs.end()),
                    static_cast<double>(first.size) / 1e6, first.parts.size());
        // After a dump with new values for every real's counters (the same series).
        auto next_dump = [&snap](uint64_t round) {
            auto c = snap.counters->decode();
            for (auto& [key, dests] : c.dests)
                for (auto& [real, d] : dests) {
                    d.active_conns = static_cast<uint32_t>((d.active_conns + round) % 50);
                    d.inactive_conns = static_cast<uint32_t>((d.inactive_conns + 3 * round) % 200);
                }
            for (auto& [key, st] : c.services) st.conns += round, st.inbytes += 1000 * round;
            return std::make_shared<const control::PublishedCounters>(snap.counters->at, c);
        };
        for (const auto encoding :
             {control::Metrics::Encoding::identity, control::Metrics::Encoding::gzip}) {
            const bool gz = encoding == control::Metrics::Encoding::gzip;
            ours.render(snap, {}, encoding);  // the gzip members of what is there now
            runs.clear();
            size_t size = 0;
            for (uint64_t round = 1; round <= 3; ++round) {
                auto changed = snap;
                changed.counters = next_dump(round + (gz ? 10 : 0));
                const double c1 = thread_cpu_ms();
                size = ours.render(changed, {}, encoding).size;
                runs.push_back(thread_cpu_ms() - c1);
            }
            std::printf(
                "  ours, %s, after a dump changed every counter (services' too): %.1f ms "
                "(min of 3), %.1f MB\n",
                gz ? "gzip" : "text", *std::min_element(runs.begin(), runs.end()),
                static_cast<double>(size) / 1e6);
        }
    }

    std::printf("\nVerdict -> decision + kernel edit + publish on the loop, %d verdicts each:\n",
                verdicts);
    auto run_verdicts = [&](const char* what) {
        std::vector<double> lat;
        lat.reserve(static_cast<size_t>(verdicts));
        for (int i = 0; i < verdicts; ++i) {
            const size_t s = static_cast<size_t>((i * 37) % services);
            const auto state = (i / services) % 2 ? health::State::up : health::State::down;
            auto ev = event_for(rig.director(), s, state);
            const auto p0 = Clock::now();
            rig.on_loop([&] {
                rig.on_health_event(ev);
                return 0;
            });
            lat.push_back(std::chrono::duration<double, std::milli>(Clock::now() - p0).count());
            std::this_thread::sleep_for(1ms);
        }
        auto p = percentiles(lat);
        std::printf("  %-40s p50 %6.3f ms  p99 %6.3f ms  max %7.3f ms\n", what, p.p50, p.p99,
                    p.max);
    };
    run_verdicts("no scrapes");
    std::atomic<bool> stop{false};
    std::atomic<int> scrapes{0};
    std::thread scraper([&] {
        while (!stop) {
            scrape(port, "/metrics", true);
            ++scrapes;
        }
    });
    run_verdicts("while /metrics (gzip) is scraped back to back");
    stop = true;
    scraper.join();
    std::printf("  (%d scrapes meanwhile)\n", scrapes.load());
    std::string rm = "rm -rf " + dir;
    if (std::system(rm.c_str()) != 0) return 1;
    return 0;
}
