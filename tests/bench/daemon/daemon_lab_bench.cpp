// ballastd vs keepalived 2.2.7 on the same table and checks, one after the other in ONE
// kernel-lab run (scripts/bench-daemon):
//
//   daemon_lab_bench [services=5000] [reals=10] [interval_s=60] [order=kb, of k b f]
//
// The process moves into a private network namespace (the director). A second namespace, the
// farm, holds the real servers 10.60.0.1..R behind a veth, and one listening socket per service
// port (10000 + s, bound to every address) that accepts and closes connections, so every TCP
// check succeeds until its port is closed. Service s is 10.100.(s/250).(s%250+1):80, wrr,
// NAT, real i = 10.60.0.(i+1):(10000 + s), weight 1, a TCP check every interval_s (timeout 3 s).
//
// For each daemon (k keepalived -n -C, b ballastd), in a director namespace of its own (the
// farm's veth recreated there), so it starts from a pristine IPVS: empty table, empty dest trash:
//   cold     time from exec until IPVS holds every service with every real server (polled
//            every 100 ms; the full dump that confirms it is not counted);
//   steady   after every check has run once: CPU of the daemon's process tree per second over
//            30 s, and its resident memory (VmRSS of every process of the tree);
//   reload   one real server's weight changed in the file, SIGHUP: time until the kernel shows
//            it (polled every 5 ms), and for ballastd the IPVS writes it made (its log);
//   verdicts (ballastd) 20 services' ports (BALLAST_BENCH_FLAP_SERVICES) closed, then
//            reopened, each for interval + 15 s: the daemon's own verdict-to-kernel-ack
//            percentiles (logged at stop: from the verdict reaching the Director until
//            apply() returns with the kernel's ack);
//   floor    the same edit with nothing around it, as a peer in the same boot, window and
//            load: through that whole verdict window a thread of the bench sends
//            IPVS_CMD_SET_DEST (one real server's weight 1 -> 0 or back, the edit a verdict
//            makes) through the same IpvsNetlinkClient::apply every 50-150 ms and times the call
//            until the kernel's ack, into the same 50 us histogram ballastd uses. Its service,
//            10.200.0.1:80 wrr with 10 reals like the others, exists only for the window;
//            ballastd never touches a service it does not own. What it shows is the netlink
//            round trip and the guest's scheduling under ballastd's check load: a floor that
//            no daemon's verdict-to-ack can beat in that run. Also measured for 20 s in the
//            idle guest (the farm only) before the first daemon starts;
//   restart  SIGTERM, then start again: ballastd's time to READY and its IPVS writes (0 when
//            the table is intact); for keepalived, the time until IPVS holds the whole table
//            again, timed like its cold start (1-5 s in the 5,000 x 10 runs against a 160-190 s
//            cold start, so what its stop leaves in the kernel decides this figure; not checked
//            here, so it is not a restart time to compare with ballastd's READY).
// f in the order: the cold start's floor, the same adds sent by IpvsNetlinkClient::apply from
// memory in a fresh namespace (no process, no config file), timed until the last ack; a: the
// same with an ack asked for every request (IpvsNetlinkClient::Options::ack_every_request, what
// the client did before 2026-12-06), not only for each batch's last. The other parts of a
// cold start's floor: x, the process start (ballastd --version: exec, its libraries, static
// initialisation; timed to its exit); p, the parse of ballastd's config file with toml++, the
// library its config is read with, as ballastd parses it (read whole, split at every 250th
// "[[service]]" line, the pieces parsed on up to 4 threads, each tree dropped) and nothing else
// (no validation, no model). Their medians' sum with f's is the floor of a start from the file,
// printed with keepalived's median over it.
// Prints a Markdown table, and the cold starts of every run with their medians.
// BALLAST_BENCH_COLD_ONLY=1: only the cold starts (each daemon started, timed, stopped, cleaned
// up), so one boot can alternate several samples, e.g. order "fkbfkbfkb".
// BALLAST_BENCH_RELOAD_CAP_S (default 300) caps the reload wait.
// With the resident memory it prints each process's anonymous memory by mapping (/proc/PID/smaps:
// the main malloc heap, other arenas, stacks, libraries' written pages). Diagnostics:
// BALLAST_BENCH_STOP_AFTER_RSS=1 stops each daemon once its memory is read (the next one follows);
// ballastd first reloads the same file and has its memory read again 15 s later (after the
// trim a reload makes), and is killed, not stopped;
// BALLAST_BENCH_BALLASTD_WRAP="heaptrack -o DIR/ballastd" runs ballastd under a heap profiler,
// and with the former what ballastd held when its memory was read shows as never freed.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ballast/bench/proc_tree.hpp"
#include "ballast/bench/toml_pieces.hpp"
#include "ballast/health/runner.hpp"
#include "ballast/kernel/ipvs_netlink_client.hpp"
#include "ballast/testing/lab.hpp"
#include "lab_support.hpp"

using namespace std::chrono_literals;
using namespace ballast;
using Clock = std::chrono::steady_clock;

namespace {

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "daemon_lab_bench: %s: %s\n", what.c_str(), std::strerror(errno));
    std::exit(1);
}

double since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string vip(size_t s) {
    return "10.100." + std::to_string(s / 250) + "." + std::to_string(s % 250 + 1);
}
std::string real_addr(size_t i) {
    return "10.60.0." + std::to_string(i + 1);
}
uint16_t port_of(size_t s) {
    return static_cast<uint16_t>(10000 + s);
}

std::string read_file(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// The real servers: one listener per service port in the farm namespace, accepting and closing
// every connection on one epoll thread. Ports can be closed (checks fail) and opened again.
class Farm {
public:
    Farm(size_t services, size_t reals) : reals_(reals) {
        link();
        ep_ = epoll_create1(EPOLL_CLOEXEC);
        if (ep_ < 0) die("epoll_create1");
        fds_.assign(services, -1);
        std::set<size_t> all;
        for (size_t s = 0; s < services; ++s) all.insert(s);
        open(all);
        thread_ = std::thread([this] { serve(); });
    }
    ~Farm() {
        stop_ = true;
        thread_.join();
        for (int fd : fds_)
            if (fd >= 0) ::close(fd);
        ::close(ep_);
    }
    void open(const std::set<size_t>& which) {
        ns_.run([&] {
            for (size_t s : which) {
                if (fds_[s] >= 0) continue;
                const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                const int one = 1;
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
                sockaddr_in sa{};
                sa.sin_family = AF_INET;
                sa.sin_port = htons(port_of(s));
                if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
                    ::listen(fd, 1024) != 0)
                    die("listen on port " + std::to_string(port_of(s)));
                epoll_event ev{};
                ev.events = EPOLLIN;
                ev.data.fd = fd;
                if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
                fds_[s] = fd;
            }
            return 0;
        });
    }
    void close(const std::set<size_t>& which) {
        for (size_t s : which)
            if (fds_[s] >= 0) {
                epoll_ctl(ep_, EPOLL_CTL_DEL, fds_[s], nullptr);
                ::close(fds_[s]);
                fds_[s] = -1;
            }
    }
    uint64_t accepted() const { return accepted_.load(); }
    // The veth from the calling thread's network namespace (the director's) to the farm, with
    // the real servers' addresses on the farm's end.
    void link() {
        const std::string tid = std::to_string(ns_.tid());
        testing::check_argv(
            {"ip", "link", "add", "dfarm", "type", "veth", "peer", "name", "pfarm", "netns", tid});
        testing::check_argv({"ip", "addr", "add", "10.60.255.254/16", "dev", "dfarm"});
        testing::check_argv({"ip", "link", "set", "dfarm", "up"});
        std::string batch = "link set pfarm up\nlink set lo up\n";
        for (size_t i = 0; i < reals_; ++i) batch += "addr add " + real_addr(i) + "/16 dev pfarm\n";
        batch += "route add default via 10.60.255.254\n";
        ns_.check({"ip", "-batch", "-"}, batch);
    }
    // Deletes the veth (both ends, the farm's addresses with it); the listeners stay.
    void unlink() { testing::check_argv({"ip", "link", "del", "dfarm"}); }

private:
    void serve() {
        std::vector<epoll_event> evs(256);
        while (!stop_) {
            const int k = epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), 100);
            for (int j = 0; j < k; ++j)
                for (;;) {
                    const int c = accept4(evs[static_cast<size_t>(j)].data.fd, nullptr, nullptr,
                                          SOCK_CLOEXEC);
                    if (c < 0) break;
                    ::close(c);
                    ++accepted_;
                }
        }
    }
    testing::IsolatedNetns ns_;
    size_t reals_;
    int ep_ = -1;
    std::vector<int> fds_;
    std::atomic<uint64_t> accepted_{0};
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// The floor under ballastd's verdict-to-ack (see the header): the same one-weight edit through
// the same client, timed on a thread of its own while the window lasts.
class EditFloor {
public:
    EditFloor() {
        auto client = kernel::IpvsNetlinkClient::open();
        if (!client) die("IPVS: " + client.error().describe());
        ipvs_ = std::move(*client);
        model::ServiceSpec spec;
        spec.scheduler = "wrr";
        if (auto st = ipvs_->add_service(key_, spec); !st)
            die("floor service: " + st.error().describe());
        for (size_t i = 0; i < 10; ++i)
            if (auto st = ipvs_->add_dest(key_, real(i), {}); !st)
                die("floor real: " + st.error().describe());
        started_ = Clock::now();
        thread_ = std::thread([this] { run(); });
    }
    ~EditFloor() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        thread_.join();
        if (auto st = ipvs_->del_service(key_); !st)
            std::fprintf(stderr, "daemon_lab_bench: floor service left behind: %s\n",
                         st.error().describe().c_str());
    }
    EditFloor(const EditFloor&) = delete;
    EditFloor& operator=(const EditFloor&) = delete;

    // "N edits over T s, p50 .. us, p99 .. us, max .. us" (ballastd's own log line's units).
    std::string summary() const {
        std::lock_guard lock(mutex_);
        std::string s = std::to_string(hist_.total) + " edits over " +
                        std::to_string(static_cast<int>(since(started_))) + " s, p50 " +
                        std::to_string(hist_.percentile(50).count()) + " us, p99 " +
                        std::to_string(hist_.percentile(99).count()) + " us, max " +
                        std::to_string(max_.count()) + " us";
        if (failed_) s += ", " + std::to_string(failed_) + " failed";
        return s;
    }

private:
    static model::RealKey real(size_t i) {
        return model::RealKey{*model::IpAddress::parse(real_addr(i)), 9999};
    }
    void run() {
        std::mt19937 rng(12);
        std::uniform_int_distribution<int> gap_ms(50, 150);
        model::RealSpec spec;
        std::unique_lock lock(mutex_);
        while (!wake_.wait_for(lock, std::chrono::milliseconds(gap_ms(rng)),
                               [this] { return stop_; })) {
            lock.unlock();
            spec.weight = spec.weight == 1 ? 0 : 1;
            const auto op = model::IpvsOp::edit_dest(key_, real(0), spec);
            const auto t0 = Clock::now();
            const bool ok = static_cast<bool>(ipvs_->apply({&op, 1}).front());
            const auto us =
                std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0);
            lock.lock();
            if (!ok) {
                ++failed_;
                continue;
            }
            hist_.add(us);
            max_ = std::max(max_, us);
        }
    }
    const model::ServiceKey key_ =
        model::ServiceKey::inet(model::Protocol::tcp, *model::IpAddress::parse("10.200.0.1"), 80);
    std::unique_ptr<kernel::IpvsNetlinkClient> ipvs_;
    Clock::time_point started_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool stop_ = false;
    health::LatenessHistogram hist_;
    std::chrono::microseconds max_{0};
    uint64_t failed_ = 0;
    std::thread thread_;
};

struct Params {
    size_t services = 5000, reals = 10;
    int interval_s = 60;
    size_t reload_service() const { return services / 2; }
};

// The daemon under test: how to write its config, start it, reload it and clean up after it.
class Daemon {
public:
    virtual ~Daemon() = default;
    virtual std::string name() const = 0;
    virtual void write_config(const Params& p, uint32_t reload_weight) = 0;
    virtual pid_t start() = 0;
    virtual void reload(pid_t pid) { ::kill(pid, SIGHUP); }
    virtual void cleanup() = 0;
    std::string dir;
    std::string log;
};

pid_t spawn(const std::vector<std::string>& argv, const std::string& log) {
    const pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        std::perror("exec");
        _exit(127);
    }
    return pid;
}

class Keepalived final : public Daemon {
public:
    std::string name() const override { return "keepalived 2.2.7"; }
    void write_config(const Params& p, uint32_t reload_weight) override {
        std::string c = "global_defs {\n  router_id ballast_bench\n}\n";
        for (size_t s = 0; s < p.services; ++s) {
            c += "virtual_server " + vip(s) + " 80 {\n  delay_loop " +
                 std::to_string(p.interval_s) + "\n  lb_algo wrr\n  lb_kind NAT\n  protocol TCP\n";
            for (size_t i = 0; i < p.reals; ++i)
                c += "  real_server " + real_addr(i) + " " + std::to_string(port_of(s)) +
                     " {\n    weight " +
                     std::to_string(s == p.reload_service() && i == 0 ? reload_weight : 1) +
                     "\n    TCP_CHECK {\n      connect_timeout 3\n    }\n  }\n";
            c += "}\n";
        }
        std::ofstream(dir + "/keepalived.conf") << c;
    }
    pid_t start() override {
        return spawn({"keepalived", "-n", "-C", "-G", "-l", "-f", dir + "/keepalived.conf", "-p",
                      dir + "/keepalived.pid", "-c", dir + "/checkers.pid"},
                     log);
    }
    void cleanup() override { testing::run_argv({"ipvsadm", "-C"}); }
};

class Ballastd final : public Daemon {
public:
    std::string name() const override { return "ballastd"; }
    void write_config(const Params& p, uint32_t reload_weight) override {
        std::string c = "[director]\nstate_directory = \"" + dir + "/state\"\ncontrol_socket = \"" +
                        dir + "/ballastd.sock\"\n[defaults.check]\ntype = \"tcp\"\ninterval = \"" +
                        std::to_string(p.interval_s) +
                        "s\"\ntimeout = \"3s\"\nrise = 1\nfall = 2\n";
        for (size_t s = 0; s < p.services; ++s) {
            c += "[[service]]\nname = \"s" + std::to_string(s) + "\"\nvip = \"" + vip(s) +
                 "\"\nport = 80\nscheduler = \"wrr\"\n";
            for (size_t i = 0; i < p.reals; ++i)
                c += "[[service.real]]\naddress = \"" + real_addr(i) + ":" +
                     std::to_string(port_of(s)) + "\"\nweight = " +
                     std::to_string(s == p.reload_service() && i == 0 ? reload_weight : 1) + "\n";
        }
        std::ofstream(dir + "/ballast.toml") << c;
    }
    // BALLAST_BENCH_BALLASTD_WRAP: words put before ballastd's command line, for a diagnostic
    // run (e.g. "heaptrack -o DIR/ballastd"; with BALLAST_BENCH_STOP_AFTER_RSS=1).
    pid_t start() override {
        std::vector<std::string> argv;
        if (const char* wrap = std::getenv("BALLAST_BENCH_BALLASTD_WRAP")) {
            std::istringstream words(wrap);
            for (std::string w; words >> w;) argv.push_back(w);
        }
        for (std::string a : {std::string(BALLASTD_PATH), std::string("-c"), dir + "/ballast.toml"})
            argv.push_back(a);
        return spawn(argv, log);
    }
    void cleanup() override {
        testing::run_argv({BALLASTD_PATH, "-c", dir + "/ballast.toml", "--cleanup"});
    }
};

// IPVS holds every service with every real (cheap probes first, then the confirmations). When
// it does, *seen is when the cheap probes had found the table complete: the list of services and
// the full dump that confirm it (0.7 s at 5,000 x 10 in the lab) are not part of the daemon's
// time. The probes ask for the real servers of three services, the last first (both daemons add
// in file order, ballastd in key order, the same here): while a daemon programs the table each
// is one short request that fails or finds too few. Listing every service (a dump of 5,000,
// which holds the kernel's IPVS lock the daemon's adds wait for) comes only after they pass.
bool fully_programmed(kernel::IpvsNetlinkClient& ipvs, const Params& p,
                      Clock::time_point* seen = nullptr) {
    for (size_t s : {p.services - 1, p.services / 2, size_t{0}}) {
        auto key =
            model::ServiceKey::inet(model::Protocol::tcp, *model::IpAddress::parse(vip(s)), 80);
        auto dests = ipvs.list_dests(key);
        if (!dests || dests->size() < p.reals) return false;
    }
    const auto probed = Clock::now();
    auto list = ipvs.list_services();
    if (!list || list->size() < p.services) return false;
    if (seen) *seen = probed;
    auto all = ipvs.dump();
    return all && all->table.services.size() >= p.services &&
           all->table.real_count() >= p.services * p.reals;
}

// Polls every 50 ms; the time until the probes saw the whole table (see fully_programmed).
double wait_programmed(kernel::IpvsNetlinkClient& ipvs, const Params& p, Clock::time_point t0,
                       pid_t pid, const std::string& who) {
    Clock::time_point seen;
    while (!fully_programmed(ipvs, p, &seen)) {
        if (waitpid(pid, nullptr, WNOHANG) == pid) die(who + " exited while programming");
        if (since(t0) > 1800) die(who + " did not program the table in 30 min");
        std::this_thread::sleep_for(50ms);
    }
    return std::chrono::duration<double>(seen - t0).count();
}

void stop(pid_t pid) {
    ::kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
}

std::string last_match(const std::string& text, const std::string& re) {
    std::smatch m;
    std::string last;
    std::regex r(re);
    for (auto it = text.cbegin(); std::regex_search(it, text.cend(), m, r); it = m.suffix().first)
        last = m[1];
    return last;
}

std::string fmt3(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.3f", v);
    return b;
}

// How long a reload may take to show in the kernel before it is recorded as not applied
// (keepalived 2.2.7 at 5,000 x 10 in the TCG lab did not show it within 15 min).
double reload_cap_s() {
    const char* v = std::getenv("BALLAST_BENCH_RELOAD_CAP_S");
    return v ? std::atof(v) : 300.0;
}

// How many services' ports the verdict phase closes and reopens (more: more verdicts to take
// percentiles of, at long intervals where few reals fail fall = 2 checks within the window).
size_t flap_services(const Params& p) {
    const char* v = std::getenv("BALLAST_BENCH_FLAP_SERVICES");
    const size_t n = v ? std::strtoul(v, nullptr, 10) : 20;
    return std::clamp<size_t>(n, 1, p.services);
}

const std::string kFloorName = "floor: the same adds by IpvsNetlinkClient::apply";
const std::string kFloorEveryAckName = "floor, every request acked";
const std::string kExecFloorName = "floor: process start (ballastd --version)";
const std::string kParseFloorName = "floor: toml++ parse of ballastd's file, in pieces";

// BALLAST_BENCH_COLD_ONLY=1: each daemon of the order is only started, timed to fully
// programmed, stopped and cleaned up (repeat letters for more samples: "kbfkbf").
bool cold_only() {
    return std::getenv("BALLAST_BENCH_COLD_ONLY") != nullptr;
}

// The cold start's floor ("f" in the order): the same table sent by IpvsNetlinkClient::apply
// from memory (no process start, no config file), one add per service and real server, timed
// until the kernel acked the last; then checked with the same full dump the daemons are.
double program_floor(const Params& p, bool ack_every_request) {
    std::vector<model::IpvsOp> ops;
    ops.reserve(p.services * (p.reals + 1));
    model::ServiceSpec spec;
    spec.scheduler = "wrr";
    for (size_t s = 0; s < p.services; ++s)
        ops.push_back(model::IpvsOp::add_service(
            model::ServiceKey::inet(model::Protocol::tcp, *model::IpAddress::parse(vip(s)), 80),
            spec));
    for (size_t s = 0; s < p.services; ++s)
        for (size_t i = 0; i < p.reals; ++i)
            ops.push_back(model::IpvsOp::add_dest(
                model::ServiceKey::inet(model::Protocol::tcp, *model::IpAddress::parse(vip(s)), 80),
                model::RealKey{*model::IpAddress::parse(real_addr(i)), port_of(s)},
                model::RealSpec{model::ForwardMethod::masquerade, 1, 0, 0}));
    kernel::IpvsNetlinkClient::Options options;
    options.ack_every_request = ack_every_request;
    auto ipvs = kernel::IpvsNetlinkClient::open(options);
    if (!ipvs) die("IPVS: " + ipvs.error().describe());
    const auto t0 = Clock::now();
    for (const auto& st : (*ipvs)->apply(ops))
        if (!st) die("floor: " + st.error().describe());
    const double took = since(t0);
    if (!fully_programmed(**ipvs, p)) die("floor: the table is not complete");
    std::vector<model::IpvsOp> dels;
    for (size_t s = 0; s < p.services; ++s)
        dels.push_back(model::IpvsOp::del_service(ops[s].service));
    for (const auto& st : (*ipvs)->apply(dels))
        if (!st) die("floor cleanup: " + st.error().describe());
    std::fprintf(stderr, "floor%s: programmed %zu x %zu in %.2f s\n",
                 ack_every_request ? " (every request acked)" : "", p.services, p.reals, took);
    return took;
}

// The process start's floor ("x" in the order): ballastd --version, timed from fork to exit.
double exec_floor() {
    const auto t0 = Clock::now();
    const pid_t pid = spawn({BALLASTD_PATH, "--version"}, "/dev/null");
    int st = 0;
    waitpid(pid, &st, 0);
    const double took = since(t0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) die("ballastd --version failed");
    std::fprintf(stderr, "floor: ballastd --version in %.3f s\n", took);
    return took;
}

// The config parse's floor ("p" in the order): see the header. The file is ballastd's own.
double parse_floor(const Params& p) {
    Ballastd b;
    char tmpl[] = "/tmp/ballast-parse-floor-XXXXXX";
    if (!mkdtemp(tmpl)) die("mkdtemp");
    b.dir = tmpl;
    b.write_config(p, 1);
    const std::string path = b.dir + "/ballast.toml";
    const auto t0 = Clock::now();
    std::string text;  // read whole into a string of the file's size, as ballastd reads it
    {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        struct stat st {};
        if (fd < 0 || ::fstat(fd, &st) != 0) die("parse floor: cannot read " + path);
        text.resize(static_cast<size_t>(st.st_size));
        for (size_t got = 0; got < text.size();) {
            const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
            if (n <= 0) die("parse floor: cannot read " + path);
            got += static_cast<size_t>(n);
        }
        ::close(fd);
    }
    const auto pieces = bench::service_pieces(text);
    const size_t services = bench::parse_pieces(pieces);  // throws on a bad piece: not ours
    const double took = since(t0);
    if (services != p.services) die("parse floor: " + std::to_string(services) + " services");
    std::remove(path.c_str());
    ::rmdir(b.dir.c_str());
    std::fprintf(stderr, "floor: toml++ parsed ballastd's %zu-byte file in %zu pieces in %.3f s\n",
                 text.size(), pieces.size(), took);
    return took;
}

struct Row {
    std::string name;
    double cold = 0, restart = 0, reload = 0;
    bool reload_applied = true;
    std::string restart_writes = "-", reload_writes = "-", verdicts = "-", floor = "-";
    double cpu_per_s = 0;
    long rss_kib = 0;
    size_t procs = 0;
    uint64_t checks_per_s = 0;
    bool memory_only = false;  // BALLAST_BENCH_STOP_AFTER_RSS: no reload, verdicts or restart
};

Row measure(Daemon& d, Farm& farm, const Params& p) {
    Row row;
    row.name = d.name();
    char tmpl[] = "/tmp/ballast-daemon-bench-XXXXXX";
    if (!mkdtemp(tmpl)) die("mkdtemp");
    d.dir = tmpl;
    d.log = d.dir + "/daemon.log";
    d.write_config(p, 1);
    auto ipvs = kernel::IpvsNetlinkClient::open();
    if (!ipvs) die("IPVS: " + ipvs.error().describe());

    auto t0 = Clock::now();
    pid_t pid = d.start();
    row.cold = wait_programmed(**ipvs, p, t0, pid, d.name());
    if (dynamic_cast<Ballastd*>(&d)) {  // its own account of the start (written once ready)
        for (int i = 0; i < 100 && last_match(read_file(d.log), R"((start took [^\n]*))").empty();
             ++i)
            std::this_thread::sleep_for(50ms);
        std::fprintf(stderr, "ballastd: %s\n",
                     last_match(read_file(d.log), R"((start took [^\n]*))").c_str());
    }
    if (cold_only()) {
        std::fprintf(stderr, "%s: programmed %zu x %zu in %.2f s\n", d.name().c_str(), p.services,
                     p.reals, row.cold);
        stop(pid);
        d.cleanup();
        return row;
    }
    std::fprintf(stderr, "%s: programmed %zu x %zu in %.2f s; warming up %d s\n", d.name().c_str(),
                 p.services, p.reals, row.cold, p.interval_s + 10);

    std::this_thread::sleep_for(std::chrono::seconds(p.interval_s + 10));
    const auto cpu0 = bench::cpu_of_tree(pid);
    const auto acc0 = farm.accepted();
    const auto w0 = Clock::now();
    std::this_thread::sleep_for(30s);
    row.cpu_per_s = (bench::cpu_of_tree(pid) - cpu0).total() / since(w0);
    row.checks_per_s =
        static_cast<uint64_t>(static_cast<double>(farm.accepted() - acc0) / since(w0));
    std::tie(row.rss_kib, row.procs) = bench::rss_of_tree(pid);
    std::fprintf(stderr, "%s: resident memory by process: %s\n", d.name().c_str(),
                 bench::rss_parts_of_tree(pid).c_str());
    const auto say_maps = [&] {
        for (pid_t p : bench::process_tree(pid))
            std::fprintf(stderr, "%s: anonymous memory of %d by mapping: %s\n", d.name().c_str(), p,
                         bench::anon_map_of(p).c_str());
    };
    say_maps();
    // A diagnostic run: the memory read again just after a reload of the same file (ballastd
    // hands freed memory back after one: what of it was free but resident), then ballastd killed,
    // so that under a heap profiler (BALLAST_BENCH_BALLASTD_WRAP) what it held shows as never
    // freed.
    if (std::getenv("BALLAST_BENCH_STOP_AFTER_RSS")) {
        if (dynamic_cast<Ballastd*>(&d)) {
            d.reload(pid);
            std::this_thread::sleep_for(15s);
            std::fprintf(stderr, "%s: after a reload of the same file: %s\n", d.name().c_str(),
                         bench::rss_parts_of_tree(pid).c_str());
            say_maps();
            for (pid_t p : bench::process_tree(pid))
                if (bench::read_proc(p, "comm").rfind("ballastd", 0) == 0) ::kill(p, SIGKILL);
            int st = 0;
            waitpid(pid, &st, 0);
        } else {
            stop(pid);
        }
        std::fprintf(stderr,
                     "%s: stopped after reading its memory (BALLAST_BENCH_STOP_AFTER_RSS)\n",
                     d.name().c_str());
        d.cleanup();
        row.memory_only = true;
        return row;
    }

    // Reload: one real server's weight.
    d.write_config(p, 5);
    const auto key = model::ServiceKey::inet(model::Protocol::tcp,
                                             *model::IpAddress::parse(vip(p.reload_service())), 80);
    const auto first_real =
        model::RealKey{*model::IpAddress::parse(real_addr(0)), port_of(p.reload_service())};
    t0 = Clock::now();
    d.reload(pid);
    std::string seen;  // what the kernel showed last, said if the reload never shows
    for (;;) {
        auto dests = (*ipvs)->list_dests(key);
        bool shown = false;
        if (!dests) seen = "list_dests: " + dests.error().describe();
        if (dests) {
            seen = "the first real server not listed";
            for (const auto& e : *dests)
                if (e.key == first_real) {
                    seen = "weight " + std::to_string(e.spec.weight);
                    shown = e.spec.weight == 5;
                }
        }
        if (shown) break;
        if (since(t0) > reload_cap_s()) break;  // recorded as "> cap", the run goes on
        std::this_thread::sleep_for(5ms);
    }
    row.reload = since(t0);
    row.reload_applied = row.reload <= reload_cap_s();
    std::fprintf(stderr, "%s: reload %s in %.3f s\n", d.name().c_str(),
                 row.reload_applied ? "applied" : "NOT applied", row.reload);
    if (!row.reload_applied) {
        const std::string text = read_file(d.log);
        std::fprintf(stderr, "  the kernel showed: %s; the end of its log:\n%s\n", seen.c_str(),
                     text.substr(text.size() > 3000 ? text.size() - 3000 : 0).c_str());
    }
    std::this_thread::sleep_for(2s);
    if (dynamic_cast<Ballastd*>(&d))
        row.reload_writes = last_match(read_file(d.log), R"(checks \+\d+ -\d+ =\d+; (\d+) IPVS)");

    // Verdicts: ports closed and reopened (ballastd measures verdict-to-ack itself).
    if (dynamic_cast<Ballastd*>(&d)) {
        std::set<size_t> flap;
        const size_t n = flap_services(p);
        for (size_t s = 0; s < n; ++s) flap.insert(s * p.services / n);
        const EditFloor floor;
        farm.close(flap);
        std::this_thread::sleep_for(std::chrono::seconds(p.interval_s + 15));
        farm.open(flap);
        std::this_thread::sleep_for(std::chrono::seconds(p.interval_s + 15));
        row.floor = floor.summary();
    }

    // Restart.
    stop(pid);
    const std::string before = read_file(d.log);
    if (dynamic_cast<Ballastd*>(&d)) {
        const auto line = last_match(before, R"(verdict to kernel ack: ([^\n]*))");
        if (!line.empty()) row.verdicts = line;
    }
    t0 = Clock::now();
    pid = d.start();
    if (dynamic_cast<Ballastd*>(&d)) {
        while (read_file(d.log).find("ready:", before.size()) == std::string::npos) {
            if (waitpid(pid, nullptr, WNOHANG) == pid) die("ballastd exited on restart");
            std::this_thread::sleep_for(10ms);
        }
        row.restart = since(t0);
        row.restart_writes =
            last_match(read_file(d.log).substr(before.size()), R"(checks; (\d+) IPVS writes)");
    } else {
        row.restart = wait_programmed(**ipvs, p, t0, pid, d.name());
    }
    stop(pid);
    d.cleanup();
    return row;
}

}  // namespace

int main(int argc, char** argv) {
    Params p;
    if (argc > 1) p.services = std::stoul(argv[1]);
    if (argc > 2) p.reals = std::stoul(argv[2]);
    if (argc > 3) p.interval_s = std::stoi(argv[3]);
    const std::string order = argc > 4 ? argv[4] : "kb";
    if (p.services == 0 || p.services > 60000 || p.reals == 0 || p.reals > 250)
        die("services must be 1..60000 and reals 1..250");
    rlimit nofile{1 << 17, 1 << 17};
    setrlimit(RLIMIT_NOFILE, &nofile);
    testing::require_ipvs_kernel();
    // Kept open until exit, so no namespace's teardown runs behind a later measurement.
    const auto fresh_director_netns = [] {
        if (Status st = lab::enter_fresh_netns_kept_open(); !st) die(st.error().describe());
    };
    fresh_director_netns();
    Farm farm(p.services, p.reals);
    std::string idle_floor;
    {
        const EditFloor floor;
        std::this_thread::sleep_for(20s);
        idle_floor = floor.summary();
    }

    std::vector<Row> rows;
    for (char who : order) {
        // Each daemon starts in a network namespace of its own, so nothing the one before left
        // in the kernel is there: IPVS keeps every deleted real server in its "dest trash" for
        // 2-3 min and each IPVS_CMD_NEW_DEST walks that whole list, so after the first daemon's
        // 50,000 were deleted the second daemon's cold start took 10-15x longer (runs 8 and 12).
        if (!rows.empty()) {
            farm.unlink();
            fresh_director_netns();
            farm.link();
        }
        if (who == 'f' || who == 'a') {
            Row r;
            r.name = who == 'f' ? kFloorName : kFloorEveryAckName;
            r.cold = program_floor(p, who == 'a');
            rows.push_back(r);
            continue;
        }
        if (who == 'x' || who == 'p') {
            Row r;
            r.name = who == 'x' ? kExecFloorName : kParseFloorName;
            r.cold = who == 'x' ? exec_floor() : parse_floor(p);
            rows.push_back(r);
            continue;
        }
        Keepalived k;
        Ballastd b;
        Daemon& d = who == 'k' ? static_cast<Daemon&>(k) : static_cast<Daemon&>(b);
        rows.push_back(measure(d, farm, p));
    }
    // Cold starts by daemon, in the order run, with their medians.
    std::map<std::string, std::vector<double>> colds;
    for (const auto& r : rows) colds[r.name].push_back(r.cold);
    const auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v.empty() ? 0.0 : v[v.size() / 2];
    };
    std::printf("\ncold start to fully programmed, %zu x %zu, each in a fresh namespace:\n\n",
                p.services, p.reals);
    std::printf("| who | runs, in order (s) | median (s) |\n|---|---|---|\n");
    for (const auto& [name, v] : colds) {
        std::string runs;
        for (double c : v) runs += (runs.empty() ? "" : ", ") + fmt3(c);
        std::printf("| %s | %s | %.3f |\n", name.c_str(), runs.c_str(), median(v));
    }
    if (colds.count("ballastd") && colds.count(Keepalived().name()))
        std::printf("cold start, medians: keepalived / ballastd = %.1fx\n",
                    median(colds[Keepalived().name()]) / median(colds["ballastd"]));
    if (colds.count("ballastd") && colds.count(kFloorName))
        std::printf("cold start, medians: ballastd / floor = %.2fx\n",
                    median(colds["ballastd"]) / median(colds[kFloorName]));
    if (colds.count(kFloorName) && colds.count(kExecFloorName) && colds.count(kParseFloorName)) {
        const double from_file = median(colds[kExecFloorName]) + median(colds[kParseFloorName]) +
                                 median(colds[kFloorName]);
        std::printf(
            "floor of a start from the file (process start + toml++ parse + adds): %.3f s\n",
            from_file);
        if (colds.count(Keepalived().name()))
            std::printf("cold start, medians: keepalived / that floor = %.2fx\n",
                        median(colds[Keepalived().name()]) / from_file);
        if (colds.count("ballastd"))
            std::printf("cold start, medians: ballastd / that floor = %.2fx\n",
                        median(colds["ballastd"]) / from_file);
    }
    if (cold_only()) return 0;
    // The floors (every name of one starts "floor") are not daemons.
    rows.erase(std::remove_if(rows.begin(), rows.end(),
                              [](const Row& r) { return r.name.rfind("floor", 0) == 0; }),
               rows.end());
    std::printf(
        "\n%zu services x %zu real servers, TCP checks every %d s (%zu checks/s); "
        "reload cap %.0f s\n\n",
        p.services, p.reals, p.interval_s, p.services * p.reals / static_cast<size_t>(p.interval_s),
        reload_cap_s());
    std::printf(
        "| daemon | cold start to fully programmed | restart | restart IPVS writes | "
        "reload of one weight until the kernel shows it | reload IPVS writes | CPU "
        "(cores, steady) | checks/s seen | RSS (processes) | verdict -> kernel ack | "
        "floor: the same edit by the bench, same window |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (const auto& r : rows)
        std::printf(
            "| %s | %.2f s | %s | %s | %s | %s | %.3f | %llu | %.1f MiB (%zu) | %s | %s |\n",
            r.name.c_str(), r.cold, r.memory_only ? "-" : (fmt3(r.restart) + " s").c_str(),
            r.restart_writes.c_str(),
            (r.memory_only      ? std::string("-")
             : r.reload_applied ? fmt3(r.reload) + " s"
                                : "> " + fmt3(r.reload) + " s, not shown")
                .c_str(),
            r.reload_writes.c_str(), r.cpu_per_s, static_cast<unsigned long long>(r.checks_per_s),
            static_cast<double>(r.rss_kib) / 1024.0, r.procs, r.verdicts.c_str(), r.floor.c_str());
    std::printf("\nfloor in the idle guest (the farm only, before any daemon): %s\n",
                idle_floor.c_str());
    // Ratios keepalived / ballastd; a reload keepalived did not show within the cap gives a
    // lower bound (the cap over ballastd's time), never a figure.
    const Row* kr = nullptr;
    const Row* br = nullptr;
    for (const auto& r : rows) (r.name == "ballastd" ? br : kr) = &r;
    if (kr && br) {
        std::printf("cold start: keepalived / ballastd = %.1fx\n", kr->cold / br->cold);
        if (br->reload_applied && !br->memory_only && !kr->memory_only)
            std::printf("reload: keepalived / ballastd %s %.1fx\n",
                        kr->reload_applied ? "=" : ">=", kr->reload / br->reload);
    }
    return 0;
}
