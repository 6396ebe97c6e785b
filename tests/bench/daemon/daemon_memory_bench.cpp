// ballastd's memory at S services x R real servers with TCP checks (issue #12: resident memory
// <= keepalived's). Natively, over the fake kernel: the real Director, health runner and control
// hub (DaemonRig, as ballastd's shell wires them, with a control socket and no status listener,
// like the kernel lab's ballastd).
//
//   daemon_memory_bench [services=5000] [reals=10] [interval_s=10] [cpu_window_s=0]
//
// The table is the lab's (daemon_lab_bench): service s = 10.100.(s/250).(s%250+1):80, wrr, R
// real servers of weight 1, [defaults.check] tcp every interval_s (timeout 3 s, rise 1, fall 2).
// Real server i of service s is 127.(s/250).(s%250).(i+1):P, so every check has its own target,
// and one listener on 0.0.0.0:P (P ephemeral) accepts and closes, so every check succeeds.
//
// Heap in use is mallinfo2().uordblks with one malloc arena for every thread (M_ARENA_MAX=1,
// set before any thread starts), so the loop thread's and the status thread's allocations are
// counted too; RSS is VmRSS / VmHWM. Reported:
//   steps    the heap and RSS after each step of the daemon's start (config loaded, Director
//            started, hub started, checks planned in the runner, first publish), after every
//            check has run once, after each of three resyncs (the fake kernel's counters
//            changed before each; the dump made on the loop: the kernel lab's RSS is read after
//            several; each ends with the shell's malloc_trim, timed on the loop), and after two
//            one-weight reloads;
//   held     the heap each structure the Director holds takes, measured as what a copy of it
//            costs (config, check plan, health book, decisions, programmed table, the last
//            dump's counters, and the hub's published counters where they are its own), and the
//            fake kernel's own share (its table and counters, and its log of the ops applied, which
//            is dropped here): in production the table is in the kernel, so the fake's share is
//            not ballastd's;
//   busy     then every real's and service's counters in the fake kernel set to a busy
//            director's (set_busy_counters()), one more resync, and the last dump's counters
//            held by the Director again (a representation that spends fewer bytes on small
//            values would show too little with the fake's mostly zero counters);
//   cpu      with cpu_window_s > 0, at the end: the CPU per completed check of the whole rig
//            (the loop thread: runner, Director, hub) over its first pass (from the start until
//            every check ran once: 50,000 first results, each a change from "unknown") and over
//            a steady window of cpu_window_s after it; then, in the same process, the same two
//            of a HealthRunner alone on a thread of its own over the same check plan (the rig's
//            runner stopped first), with a sink that only counts: what ballastd adds per
//            result beyond the runner; and, between the two, every check's result replayed
//            into the rig's sink with the runner stopped (see replay()). CPU is getrusage:
//            RUSAGE_THREAD of the loop thread, and RUSAGE_SELF of the process (which includes the
//            listener's accepts, the same for both).
// BALLAST_BENCH_EXIT_AFTER_RESYNCS=1 ends the process after the third resync without freeing
// anything, for a heap profiler: `heaptrack daemon_memory_bench 5000 10 10`, then
// `heaptrack_print -l 0 -p 0 -a 0 -T 0 -n 1 ...` reports what is held at that point as leaked.
#include <malloc.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include "ballast/bench/proc_tree.hpp"
#include "ballast/testing/daemon_rig.hpp"

using namespace ballast;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

double mib(double bytes) {
    return bytes / (1024.0 * 1024.0);
}

size_t heap_in_use() {
    return mallinfo2().uordblks;
}

// VmRSS and VmHWM in bytes.
std::pair<size_t, size_t> rss() {
    std::ifstream f("/proc/self/status");
    size_t now = 0, peak = 0;
    for (std::string line; std::getline(f, line);) {
        if (line.rfind("VmRSS:", 0) == 0) now = std::strtoull(line.c_str() + 6, nullptr, 10);
        if (line.rfind("VmHWM:", 0) == 0) peak = std::strtoull(line.c_str() + 6, nullptr, 10);
    }
    return {now * 1024, peak * 1024};
}

double load_average() {
    std::ifstream f("/proc/loadavg");
    double one = 0;
    f >> one;
    return one;
}

std::string config(int services, int reals, int interval_s, uint16_t port, int changed_weight) {
    std::ostringstream c;
    c << "[director]\n[defaults.check]\ntype = \"tcp\"\ninterval = \"" << interval_s
      << "s\"\ntimeout = \"3s\"\nrise = 1\nfall = 2\n";
    for (int s = 0; s < services; ++s) {
        c << "[[service]]\nname = \"s" << s << "\"\nvip = \"10.100." << s / 250 << "."
          << s % 250 + 1 << "\"\nport = 80\nscheduler = \"wrr\"\n";
        for (int r = 0; r < reals; ++r)
            c << "[[service.real]]\naddress = \"127." << s / 250 << "." << s % 250 << "." << r + 1
              << ":" << port << "\"\nweight = " << (s == 0 && r == 0 ? changed_weight : 1) << "\n";
    }
    return c.str();
}

// Accepts and closes every connection, so every TCP check succeeds.
class Listener {
public:
    Listener() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        socklen_t len = sizeof a;
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::listen(fd_, 4096) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
            std::perror("daemon_memory_bench: listener");
            std::exit(1);
        }
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] {
            for (int c; (c = ::accept(fd_, nullptr, nullptr)) >= 0 || errno == EINTR;)
                if (c >= 0) ::close(c);
        });
    }
    ~Listener() {
        ::shutdown(fd_, SHUT_RDWR);
        thread_.join();
        ::close(fd_);
    }
    uint16_t port() const { return port_; }

private:
    int fd_ = -1;
    uint16_t port_ = 0;
    std::thread thread_;
};

class Report {
public:
    explicit Report(size_t base) : base_(base), last_(base) {}
    void step(const std::string& what) {
        const size_t h = heap_in_use();
        const auto [now, peak] = rss();
        std::printf("| %s | %.1f | %+.1f | %.1f | %.1f |\n", what.c_str(), mib(h - base_),
                    mib(static_cast<double>(h) - static_cast<double>(last_)), mib(now), mib(peak));
        if (std::getenv("BALLAST_BENCH_MAPS")) {
            const auto mi = mallinfo2();
            std::printf(
                "    sbrk'd %.1f MiB, mmapped %.1f MiB, free in arenas %.1f MiB; anon: %s\n",
                mib(mi.arena), mib(mi.hblkhd), mib(mi.fordblks),
                bench::anon_map_of(getpid()).substr(0, 300).c_str());
        }
        std::fflush(stdout);
        last_ = h;
    }

private:
    size_t base_, last_;
};

// What a copy of `value` costs on the heap (the copy is made and dropped on the caller's thread).
template <typename T>
size_t copy_cost(const T& value) {
    const size_t before = heap_in_use();
    auto* copy = new T(value);
    const size_t after = heap_in_use();
    delete copy;
    return after - before;
}

// The decisions are shared (the hub publishes them): the map and each decision once. Every copy
// is held until the heap is read: a decision copied and dropped one at a time would come back
// from malloc's thread cache, already counted as in use, and read as free.
size_t decisions_cost(const daemon::Director::Decisions& decisions) {
    const size_t before = heap_in_use();
    auto map = std::make_unique<daemon::Director::Decisions>(decisions);
    std::vector<policy::ServiceDecision> copies;
    copies.reserve(decisions.size());
    for (const auto& [key, d] : decisions) copies.push_back(*d);
    return heap_in_use() - before;
}

// The heap the published counters hold of their own: what a copy costs, or nothing when they
// are the Director's own object, shared.
size_t published_counters_cost(const control::PublishedState& published,
                               const daemon::Director& director) {
    const auto counters = published.counters();
    if (!counters || counters == director.counters()) return 0;
    return copy_cost(*counters);
}

// What months of traffic leave in a busy director's counters: every real's values log-uniform
// in ranges a large site sees (connections 10^6-10^9, bytes 10^10-10^14, rates up to 10^9 B/s;
// no persistence), a service's stats the sums of its reals'.
void set_busy_counters(fakes::FakeIpvs& ipvs) {
    std::mt19937_64 rng(2026);
    const auto in = [&rng](double lo, double hi) {
        std::uniform_real_distribution<double> log_of(std::log(lo), std::log(hi));
        return static_cast<uint64_t>(std::exp(log_of(rng)));
    };
    for (const auto& [key, service] : ipvs.table().services) {
        kernel::IpvsStats sum;
        for (const auto& [real, spec] : service.reals) {
            kernel::DestCounters c;
            c.active_conns = static_cast<uint32_t>(in(1, 500));
            c.inactive_conns = static_cast<uint32_t>(in(1, 5000));
            auto& s = c.stats;
            s.conns = in(1e6, 1e9), s.inpkts = in(1e8, 1e11), s.outpkts = in(1e8, 1e11);
            s.inbytes = in(1e10, 1e13), s.outbytes = in(1e11, 1e14);
            s.cps = in(1, 1e3), s.inpps = in(10, 1e5), s.outpps = in(10, 1e5);
            s.inbps = in(1e3, 1e8), s.outbps = in(1e4, 1e9);
            sum.conns += s.conns, sum.inpkts += s.inpkts, sum.outpkts += s.outpkts;
            sum.inbytes += s.inbytes, sum.outbytes += s.outbytes;
            sum.cps += s.cps, sum.inpps += s.inpps, sum.outpps += s.outpps;
            sum.inbps += s.inbps, sum.outbps += s.outbps;
            ipvs.set_dest_counters(key, real, c);
        }
        ipvs.set_service_stats(key, sum);
    }
}

double cpu_seconds(int who) {
    rusage u{};
    ::getrusage(who, &u);
    const auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    return s(u.ru_utime) + s(u.ru_stime);
}

// Runs fn on io's thread and returns its result.
template <typename F>
auto run_on(boost::asio::io_context& io, F&& fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::forward<F>(fn));
    auto done = task.get_future();
    boost::asio::post(io, [&task] { task(); });
    return done.get();
}

// A steady window: the loop thread's CPU (read on it by `on_loop`), the process's, and the
// checks completed (read on the loop too).
struct CpuSample {
    double loop = 0, process = 0;
    uint64_t runs = 0;
    Clock::time_point at;
};

template <typename OnLoop, typename Runs>
CpuSample cpu_sample(OnLoop on_loop, Runs runs) {
    auto s = on_loop([&] { return CpuSample{cpu_seconds(RUSAGE_THREAD), 0, runs(), {}}; });
    s.process = cpu_seconds(RUSAGE_SELF);
    s.at = Clock::now();
    return s;
}

void cpu_row(const std::string& what, const CpuSample& a, const CpuSample& b) {
    const double secs = std::chrono::duration<double>(b.at - a.at).count();
    const double n = static_cast<double>(b.runs - a.runs);
    std::printf("| %s | %.0f | %.2f | %.2f | %.3f | %.3f | %.1f |\n", what.c_str(), n / secs,
                (b.loop - a.loop) / n * 1e6, (b.process - a.process) / n * 1e6,
                (b.loop - a.loop) / secs, (b.process - a.process) / secs, load_average());
    std::fflush(stdout);
}

// The runner's peer: counts what it is told, nothing more.
class CountingSink final : public health::HealthSink {
public:
    void on_health_event(const health::HealthEvent&) override { ++events; }
    void on_run_finished(const health::RunResult&) override { ++runs; }
    uint64_t events = 0, runs = 0;
};

// ballastd's own work per result, without the runner or sockets: every check's result fed to
// the rig's sink on the loop (Director, hub, settle: what a run's callback does), timed on the
// loop thread. "changed" is a first pass's result: a transition with new words, so the service
// is decided again and republished, its weights unchanged; "unchanged" is the same result again
// without a transition (an agent-reply-only event that changed nothing).
void replay(testing::DaemonRig& rig, const health::CheckPlan& plan) {
    const auto feed = [&](bool transition) {
        return rig.on_loop([&] {
            const double t0 = cpu_seconds(RUSAGE_THREAD);
            for (const auto& [key, users] : plan.checks)
                rig.on_health_event(health::HealthEvent{key, health::State::up, transition,
                                                        "replayed", health::SteadyClock::now(),
                                                        std::nullopt, std::nullopt});
            return (cpu_seconds(RUSAGE_THREAD) - t0) / static_cast<double>(plan.checks.size());
        });
    };
    const double changed = feed(true), unchanged = feed(false);
    std::printf(
        "\nreplayed results, Director + hub only (loop thread CPU per result, %zu each): "
        "changed %.2f us, unchanged %.2f us\n\n",
        plan.checks.size(), changed * 1e6, unchanged * 1e6);
    std::fflush(stdout);
}

// `first` is the rig's first pass: from its start until every check ran once.
void cpu_phase(testing::DaemonRig& rig, std::pair<CpuSample, CpuSample> first, size_t checks,
               int interval_s, int window_s) {
    std::printf(
        "\nCPU per completed check (pid %d): the first pass (every check's first result, from "
        "the start until every check ran once), then a steady window of %d s:\n\n"
        "| what | checks/s | loop thread CPU per check (us) | process CPU per check (us) | "
        "loop thread (cores) | process (cores) | load average at end |\n"
        "|---|---|---|---|---|---|---|\n",
        static_cast<int>(::getpid()), window_s);
    cpu_row("rig (runner + Director + hub), first pass", first.first, first.second);
    const auto rig_loop = [&](auto fn) { return rig.on_loop(fn); };
    const auto rig_runs = [&] { return rig.runner().stats().runs_finished; };
    const auto a = cpu_sample(rig_loop, rig_runs);
    std::this_thread::sleep_for(std::chrono::seconds(window_s));
    cpu_row("rig (runner + Director + hub), steady", a, cpu_sample(rig_loop, rig_runs));

    const auto plan = rig.on_loop([&] {
        rig.runner().stop();
        return rig.director().checks();
    });
    replay(rig, plan);
    boost::asio::io_context io;
    auto guard = boost::asio::make_work_guard(io);
    CountingSink sink;
    health::RunnerOptions ro;
    ro.seed = 42;
    health::HealthRunner runner(io, sink, ro);
    std::thread loop([&] { io.run(); });
    const auto peer_loop = [&](auto fn) { return run_on(io, fn); };
    const auto peer_runs = [&] { return runner.stats().runs_finished; };
    const auto p0 = cpu_sample(peer_loop, [&] {
        runner.reload(plan);
        return uint64_t{0};
    });
    const auto t0 = Clock::now();
    while (run_on(io, peer_runs) < checks &&
           Clock::now() - t0 < std::chrono::seconds(3 * interval_s + 30))
        std::this_thread::sleep_for(200ms);
    const auto p1 = cpu_sample(peer_loop, peer_runs);
    cpu_row("runner alone (same plan, counting sink), first pass", p0, p1);
    std::this_thread::sleep_for(std::chrono::seconds(window_s));
    cpu_row("runner alone (same plan, counting sink), steady", p1,
            cpu_sample(peer_loop, peer_runs));
    run_on(io, [&] {
        runner.stop();
        return 0;
    });
    guard.reset();
    loop.join();
}

}  // namespace

int main(int argc, char** argv) {
    // Before any thread: mallinfo2 then sees every allocation. BALLAST_BENCH_ARENA_MAX=N sets
    // another limit ("glibc": glibc's own), to see what arenas cost in RSS (heap in use is then
    // the main arena's only).
    const char* arenas = std::getenv("BALLAST_BENCH_ARENA_MAX");
    if (!arenas)
        ::mallopt(M_ARENA_MAX, 1);
    else if (std::string(arenas) != "glibc")
        ::mallopt(M_ARENA_MAX, std::atoi(arenas));
    const int services = argc > 1 ? std::atoi(argv[1]) : 5000;
    const int reals = argc > 2 ? std::atoi(argv[2]) : 10;
    const int interval_s = argc > 3 ? std::atoi(argv[3]) : 10;
    const int cpu_window_s = argc > 4 ? std::atoi(argv[4]) : 0;
    const size_t checks = static_cast<size_t>(services) * static_cast<size_t>(reals);
    char tmpl[] = "/tmp/ballast-memory-XXXXXX";
    const std::string dir = ::mkdtemp(tmpl);
    Listener listener;
    std::printf(
        "daemon_memory_bench: %d services x %d real servers, TCP checks every %d s, "
        "load average %.1f\n\n",
        services, reals, interval_s, load_average());
    std::printf(
        "| step | heap in use (MiB) | step's share (MiB) | VmRSS (MiB) | VmHWM (MiB) |\n"
        "|---|---|---|---|---|\n");
    Report report(heap_in_use());
    report.step("before (process, listener)");
    auto rig = std::make_unique<testing::DaemonRig>(
        dir, config(services, reals, interval_s, listener.port(), 1));
    rig->adjust = [&dir](control::HubSettings& s) {
        s.control_socket = dir + "/ballastd.sock";
        s.status_listen.reset();
    };
    rig->after_step = [&report](std::string_view step) { report.step(std::string(step)); };
    rig->start();
    const auto rig_loop = [&](auto fn) { return rig->on_loop(fn); };
    const auto rig_runs = [&] { return rig->runner().stats().runs_finished; };
    const auto first_start = cpu_sample(rig_loop, rig_runs);

    // The fake kernel's op log (production has none): its size, then dropped.
    const size_t op_log = rig->on_loop([&] {
        const auto& records = rig->ipvs().records();
        const size_t bytes = records.capacity() * sizeof(records.front());
        rig->ipvs().clear_records();
        return bytes;
    });

    const auto t0 = Clock::now();
    while (rig->on_loop([&] { return rig->runner().stats().runs_finished; }) < checks) {
        if (Clock::now() - t0 > std::chrono::seconds(3 * interval_s + 30)) {
            std::fprintf(stderr, "daemon_memory_bench: checks did not all run\n");
            return 1;
        }
        std::this_thread::sleep_for(200ms);
    }
    const auto first_end = cpu_sample(rig_loop, rig_runs);
    const auto [ran, down] = rig->on_loop([&] {
        size_t n = 0;
        for (const auto& [key, users] : rig->director().checks().checks)
            if (rig->runner().state(key) == health::State::down) ++n;
        return std::pair{rig->runner().stats().runs_finished, n};
    });
    report.step("every check ran once (" + std::to_string(ran) + " runs, " + std::to_string(down) +
                " down)");

    // Resyncs, as ballastd makes one every director.resync_interval (by the time the lab reads
    // its RSS, several ran). Before each, the fake kernel's counters of one real per service
    // change, so every dump brings new values (their first setting is the fake's own memory).
    const auto set_counters = [&](uint32_t round) {
        rig->on_loop([&] {
            for (const auto& [key, service] : rig->ipvs().table().services) {
                if (service.reals.empty()) continue;
                kernel::DestCounters c;
                c.active_conns = round;
                c.inactive_conns = 2 * round;
                c.stats.conns = 3 * round;
                c.stats.inbytes = 1000 * round;
                rig->ipvs().set_dest_counters(key, service.reals.begin()->first, c);
            }
            return 0;
        });
    };
    set_counters(1);
    report.step("fake kernel: counters set on one real per service");
    const char* ordinals[] = {"first", "second", "third"};
    for (uint32_t i = 0; i < 3; ++i) {
        if (i > 0) set_counters(i + 1);
        const auto [total, trim] = rig->on_loop([&] {
            const auto t0 = Clock::now();
            const auto trim = rig->resync();
            return std::pair{Clock::now() - t0, trim};
        });
        const auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
        char took[96];
        std::snprintf(took, sizeof took,
                      " resync (%.0f ms on the loop, of which malloc_trim %.1f ms)", ms(total),
                      ms(trim));
        report.step(ordinals[i] + std::string(took));
    }
    // For a heap profiler (heaptrack): ends the process here without freeing anything, so that
    // what it reports as leaked is what the daemon holds in its steady state.
    if (std::getenv("BALLAST_BENCH_EXIT_AFTER_RESYNCS")) std::_Exit(0);

    rig->write_config(config(services, reals, interval_s, listener.port(), 2));
    // The reload's outcome (its check diff, its writes) is dropped before measuring, as the
    // shell drops it once the reply is sent.
    const auto writes = rig->on_loop([&] {
        const auto r = rig->reload();
        return r.outcome ? std::optional(r.outcome->ops.size()) : std::nullopt;
    });
    if (!writes) {
        std::fprintf(stderr, "daemon_memory_bench: reload failed\n");
        return 1;
    }
    report.step("one-weight reload (" + std::to_string(*writes) + " IPVS write)");
    rig->write_config(config(services, reals, interval_s, listener.port(), 3));
    rig->on_loop([&] { return rig->reload().services; });
    report.step("second one-weight reload");

    const auto held = rig->on_loop([&] {
        auto& d = rig->director();
        std::vector<std::pair<std::string, size_t>> rows{
            {"config (DirectorConfig)", copy_cost(d.config())},
            {"check plan (CheckPlan)", copy_cost(d.checks())},
            {"health book (HealthBook)", copy_cost(d.health())},
            {"decisions", decisions_cost(d.decisions())},
            {"programmed table (IpvsTable)", copy_cost(d.programmed())},
            {"last dump's counters (Director)", copy_cost(*d.counters())},
            {"last dump's counters (published by the hub)",
             published_counters_cost(rig->hub().published(), d)},
            {"fake kernel: table and counters (FakeIpvs)", copy_cost(rig->ipvs())},
        };
        return rows;
    });
    std::printf("\n| held by | heap (MiB) | per check (B) |\n|---|---|---|\n");
    for (const auto& [what, bytes] : held)
        std::printf("| %s | %.1f | %.0f |\n", what.c_str(), mib(bytes),
                    static_cast<double>(bytes) / static_cast<double>(checks));
    std::printf("| fake kernel: op log at start (capacity; dropped) | %.1f | %.0f |\n", mib(op_log),
                static_cast<double>(op_log) / static_cast<double>(checks));
    std::printf("\nsizeof: CheckKey %zu, CheckSpec %zu, RealServerConfig %zu, ServiceConfig %zu\n",
                sizeof(health::CheckKey), sizeof(model::CheckSpec), sizeof(model::RealServerConfig),
                sizeof(model::ServiceConfig));

    // The counters above are the fake kernel's, mostly zero (one real per service has some);
    // a busy director's are not, and are held in more bytes where held encoded.
    std::printf(
        "\nevery real busy (synthetic counters of months of traffic, in the fake kernel), then "
        "one more resync:\n\n| step | heap in use (MiB) | step's share (MiB) | VmRSS (MiB) | "
        "VmHWM (MiB) |\n|---|---|---|---|---|\n");
    rig->on_loop([&] {
        set_busy_counters(rig->ipvs());
        return 0;
    });
    report.step("fake kernel: every real's and service's counters busy");
    rig->on_loop([&] { return rig->resync(); });
    report.step("resync of the busy table");
    const size_t busy = rig->on_loop([&] { return copy_cost(*rig->director().counters()); });
    std::printf("\n| held by | heap (MiB) | per check (B) |\n|---|---|---|\n");
    std::printf("| last dump's counters (Director), every real busy | %.1f | %.0f |\n", mib(busy),
                static_cast<double>(busy) / static_cast<double>(checks));
    if (cpu_window_s > 0)
        cpu_phase(*rig, {first_start, first_end}, checks, interval_s, cpu_window_s);
    rig.reset();
    return 0;
}
