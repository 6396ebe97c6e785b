#include "shell.hpp"

#include <malloc.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <random>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <boost/asio/post.hpp>

#include "ballast/config/config.hpp"
#include "ballast/health/probe.hpp"
#include "ballast/kernel/ipvs_netlink_client.hpp"
#include "ballast/version.hpp"

namespace ballast::daemon {

namespace asio = boost::asio;

namespace {

const char* level_name(Severity s) {
    switch (s) {
        case Severity::debug:
            return "debug";
        case Severity::info:
            return "info";
        case Severity::notice:
            return "notice";
        case Severity::warning:
            return "warning";
        case Severity::error:
            return "error";
    }
    return "?";
}

// stderr is the journal when JOURNAL_STREAM names its device and inode (systemd.exec(5)).
bool stderr_is_journal() {
    const char* js = std::getenv("JOURNAL_STREAM");
    if (!js) return false;
    unsigned long dev = 0, ino = 0;
    if (std::sscanf(js, "%lu:%lu", &dev, &ino) != 2) return false;
    struct stat st {};
    if (::fstat(STDERR_FILENO, &st) != 0) return false;
    return st.st_dev == dev && st.st_ino == ino;
}

}  // namespace

Log::Log(Severity threshold) : threshold_(threshold), journal_(stderr_is_journal()) {}

void Log::write(Severity s, const std::string& message) const {
    if (static_cast<int>(s) > static_cast<int>(threshold_)) return;
    if (journal_) {
        fmt::print(stderr, "<{}>{}\n", static_cast<int>(s), message);
    } else {
        const auto now = std::chrono::system_clock::now();
        const auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
        fmt::print(stderr, "{:%Y-%m-%dT%H:%M:%S}.{:03d}Z {}: {}\n",
                   fmt::gmtime(std::chrono::system_clock::to_time_t(now)), ms.count(),
                   level_name(s), message);
    }
    std::fflush(stderr);
}

void Log::event(const Event& e) const {
    write(e.severity, e.message);
}

DumpWorker::DumpWorker(asio::io_context& io) : io_(io), thread_([this] { work(); }) {}

DumpWorker::~DumpWorker() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

void DumpWorker::request(Done done) {
    {
        std::lock_guard lock(mutex_);
        pending_ = std::move(done);
    }
    wake_.notify_all();
}

LazyDumper::LazyDumper() = default;
LazyDumper::~LazyDumper() = default;

Result<kernel::IpvsSnapshot> LazyDumper::dump() {
    if (!client_) {
        // The counters encoded as the dump arrives: the daemon keeps only that form, and a
        // 5,000 x 10 dump's maps would be ~7 MiB on top of everything at every resync.
        kernel::IpvsNetlinkClient::Options options;
        options.encode_dump_counters = true;
        auto opened = kernel::IpvsNetlinkClient::open(options);
        if (!opened) return opened.error();
        client_ = std::move(*opened);
    }
    auto result = client_->dump();
    if (!result) client_.reset();  // a fresh socket next time
    return result;
}

void DumpWorker::work() {
    LazyDumper dumper;
    for (;;) {
        Done done;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || pending_; });
            if (stopping_) return;
            done = std::move(*pending_);
            pending_.reset();
        }
        auto result = dumper.dump();
        asio::post(io_, [done = std::move(done), result = std::move(result)]() mutable {
            done(std::move(result));
        });
    }
}

namespace {
health::RunnerOptions runner_options() {
    health::RunnerOptions o;
    o.seed = std::random_device{}();
    return o;
}

// A start or a reload parses the whole file (toml++'s tree is several times the config's size)
// and drops it, with the plans it built on the way; a resync drops the last dump's table and
// counters for the new one's. glibc keeps freed memory below the top of its heaps resident;
// this hands it back (about 70 MiB after a start or reload at 5,000 x 10, 20-30 MiB after a
// resync, for 5-20 ms of the loop: daemon_memory_bench).
void release_freed_memory() {
    ::malloc_trim(0);
}
}  // namespace

Shell::Shell(asio::io_context& io, Director& director, std::string config_path, const Log& log)
    : io_(io),
      director_(director),
      config_path_(std::move(config_path)),
      log_(log),
      runner_(io, *this, runner_options()),
      dumps_(io),
      signals_(io, SIGHUP, SIGTERM, SIGINT),
      tick_(io),
      watchdog_(io),
      status_timer_(io) {}

Shell::~Shell() {
    runner_.stop();
}

Now Shell::now() const {
    return Now{std::chrono::steady_clock::now(), std::chrono::system_clock::now()};
}

Status Shell::start() {
    if (auto st = start_hub(); !st) return st;
    runner_.reload(director_.checks());
    wait_signal();
    if (sd_watchdog_enabled(0, &watchdog_usec_) > 0) arm_watchdog();
    settle();
    release_freed_memory();
    return {};
}

// --- the control socket, status page and metrics (director/control) ---------------------
namespace {
using SteadyClock = std::chrono::steady_clock;
}  // namespace

Status Shell::start_hub() {
    control::LoopHooks hooks;
    hooks.settle = [this] { settle(); };
    hooks.reload = [this] { return reload(); };
    hooks.log = [this](Severity s, const std::string& m) { log_.write(s, m); };
    // Fresh counters for `ballastctl top`: a dump on the hub's own thread and socket.
    hooks.dump = [dumper = std::make_shared<LazyDumper>()] { return dumper->dump(); };
    hub_ = std::make_unique<control::Hub>(
        io_, director_,
        control::HubSettings::from(director_.config(), std::string("ballastd ") + kVersion,
                                   config_path_),
        std::move(hooks));
    return hub_->start();
}

void Shell::on_run_finished(const health::RunResult& run) {
    if (hub_) hub_->on_run_finished(run);
}
// ------------------------------------------------------------------------------------------

void Shell::on_health_event(const health::HealthEvent& event) {
    const auto writes = director_.reconcile_status().ops_applied;
    const auto t0 = SteadyClock::now();
    director_.on_health_event(event, now());
    const auto took = SteadyClock::now() - t0;
    if (hub_) {
        hub_->observe("health", took);
        hub_->on_health_event(event);
    }
    if (director_.reconcile_status().ops_applied != writes) {
        // apply() returns once the kernel acked every write.
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(took);
        verdict_to_ack_.add(us);
        verdict_to_ack_max_ = std::max(verdict_to_ack_max_, us);
    }
    settle();
}

void Shell::on_inconclusive_run(const health::InconclusiveRun& run) {
    // The checker's own fault (no descriptors, no memory...): no server changes state. Said
    // at most every 10 s, with how many there were, since it can happen thousands of times a
    // second.
    ++inconclusive_;
    const auto t = std::chrono::steady_clock::now();
    if (inconclusive_logged_ && t - *inconclusive_logged_ < std::chrono::seconds(10)) return;
    log_.write(Severity::warning,
               fmt::format("the director's own fault, not the server's: {}: {}; its state stays "
                           "{} ({} such results so far)",
                           run.check.to_string(), run.reason, health::to_string(run.state),
                           inconclusive_));
    inconclusive_logged_ = t;
}

void Shell::settle() {
    auto events = director_.take_events();
    for (const auto& e : events) log_.event(e);
    if (hub_) hub_->publish(events);
    const auto& st = director_.reconcile_status();
    if (!ready_ && st.in_sync) {
        ready_ = true;
        sd_notify(0, "READY=1");
        log_.write(Severity::notice, "ready: the kernel matches " + config_path_);
    }
    request_status();
    if (director_.resync_due(std::chrono::steady_clock::now())) start_resync();
    arm_tick();
}

void Shell::request_status() {
    const auto t = std::chrono::steady_clock::now();
    if (!status_at_ || t - *status_at_ >= std::chrono::seconds(1)) {
        status_at_ = t;
        notify_status();
        return;
    }
    if (status_pending_) return;
    status_pending_ = true;
    status_timer_.expires_at(*status_at_ + std::chrono::seconds(1));
    status_timer_.async_wait([this](const boost::system::error_code& ec) {
        status_pending_ = false;
        if (ec) return;
        status_at_ = std::chrono::steady_clock::now();
        notify_status();
    });
}

void Shell::notify_status() {
    const auto& st = director_.reconcile_status();
    size_t reals = 0, out = 0;
    for (const auto& [key, d] : director_.decisions())
        for (const auto& r : d->reals) {
            if (r.sorry) continue;
            ++reals;
            if (r.effective == 0 || !r.present) ++out;
        }
    std::string status =
        fmt::format("{} services, {} real servers ({} without traffic); {}",
                    director_.decisions().size(), reals, out,
                    st.in_sync ? "kernel in sync"
                               : fmt::format("{} IPVS keys failing, retrying", st.failing.size()));
    if (status == last_status_) return;
    last_status_ = status;
    sd_notify(0, ("STATUS=" + status).c_str());
}

void Shell::arm_tick() {
    auto at = director_.next_tick();
    if (at == tick_at_) return;
    tick_at_ = at;
    if (!at) {
        tick_.cancel();
        return;
    }
    tick_.expires_at(*at);
    tick_.async_wait([this, at](const boost::system::error_code& ec) {
        if (ec || tick_at_ != at) return;
        tick_at_.reset();
        const auto t0 = SteadyClock::now();
        director_.tick(now());
        if (hub_) hub_->observe("tick", SteadyClock::now() - t0);
        settle();
    });
}

void Shell::start_resync() {
    director_.begin_resync();
    dumps_.request([this, t0 = SteadyClock::now()](Result<kernel::IpvsSnapshot> observed) {
        const auto t1 = SteadyClock::now();
        director_.finish_resync(std::move(observed), now());
        if (hub_) {
            hub_->observe_dump(t1 - t0);
            hub_->observe("resync", SteadyClock::now() - t1);
        }
        settle();
        release_freed_memory();
    });
}

void Shell::wait_signal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
            wait_signal();
            reload();
        } else {
            stop(sig);
        }
    });
}

control::ReloadResult Shell::reload() {
    const auto usec = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
    sd_notify(0, fmt::format("RELOADING=1\nMONOTONIC_USEC={}", usec).c_str());
    log_.write(Severity::info, "reload: reading " + config_path_);
    control::ReloadResult result;
    result.file = config_path_;
    auto loaded = config::load_file(config_path_);
    // The new check plan is made once: its privileges are checked before anything changes.
    std::shared_ptr<const health::CheckPlan> checks;
    std::vector<std::string> missing;
    if (loaded.ok()) {
        checks = std::make_shared<const health::CheckPlan>(
            health::plan_checks(loaded.config->services, loaded.config->default_check));
        missing = health::missing_privileges(*checks);
    }
    if (!loaded.ok()) {
        for (const auto& d : loaded.diagnostics) {
            result.problems.push_back(config::format(d));
            log_.write(Severity::error, result.problems.back());
        }
        log_.write(Severity::error,
                   fmt::format("reload rejected: {} error{} in {}; the running configuration "
                               "stays, nothing was changed",
                               loaded.diagnostics.size(), loaded.diagnostics.size() == 1 ? "" : "s",
                               config_path_));
    } else if (!missing.empty()) {
        director_.reject_reload(config_path_, missing, now());
        result.problems = std::move(missing);
    } else {
        const auto& was = director_.config().director;
        const auto& next = loaded.config->director;
        if (was.control_socket != next.control_socket || was.control_group != next.control_group ||
            was.status_listen != next.status_listen || was.status_write != next.status_write)
            log_.write(Severity::warning,
                       "reload: control_socket, control_group, status_listen and status_write "
                       "take effect at the next start; the control socket and status page keep "
                       "their current settings");
        const auto t0 = SteadyClock::now();
        result.outcome = director_.reload(std::move(*loaded.config), std::move(checks), now());
        result.services = director_.config().services.size();
        if (hub_) hub_->observe("reload", SteadyClock::now() - t0);
        runner_.reload(director_.checks());
    }
    sd_notify(0, "READY=1");
    settle();
    release_freed_memory();
    return result;
}

void Shell::stop(int signal) {
    sd_notify(0, "STOPPING=1");
    log_.write(Severity::notice,
               fmt::format("stopping on {}: checks stop; IPVS, the nft table and the sysctls "
                           "stay as they are, so traffic keeps flowing",
                           signal == SIGINT ? "SIGINT" : "SIGTERM"));
    if (verdict_to_ack_.total)
        log_.write(
            Severity::info,
            fmt::format("verdict to kernel ack: {} edits, p50 {} us, p99 {} us, max {} us",
                        verdict_to_ack_.total, verdict_to_ack_.percentile(50).count(),
                        verdict_to_ack_.percentile(99).count(), verdict_to_ack_max_.count()));
    runner_.stop();
    tick_.cancel();
    watchdog_.cancel();
    status_timer_.cancel();
    if (hub_) hub_->stop();
    io_.stop();
}

void Shell::arm_watchdog() {
    // Only the loop pets the watchdog: a stuck loop is restarted by systemd.
    watchdog_.expires_after(std::chrono::microseconds(watchdog_usec_ / 2));
    watchdog_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        sd_notify(0, "WATCHDOG=1");
        arm_watchdog();
    });
}

}  // namespace ballast::daemon
