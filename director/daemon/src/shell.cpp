#include "shell.hpp"

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
#include "ballast/kernel/ipvs_netlink_client.hpp"

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

void DumpWorker::work() {
    std::unique_ptr<kernel::IpvsNetlinkClient> client;
    for (;;) {
        Done done;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || pending_; });
            if (stopping_) return;
            done = std::move(*pending_);
            pending_.reset();
        }
        Result<kernel::IpvsSnapshot> result = make_error(EIO, "IPVS_CMD_GET_SERVICE");
        if (!client) {
            auto opened = kernel::IpvsNetlinkClient::open();
            if (opened)
                client = std::move(*opened);
            else
                result = opened.error();
        }
        if (client) {
            result = client->dump();
            if (!result) client.reset();  // a fresh socket next time
        }
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
      watchdog_(io) {}

Shell::~Shell() {
    runner_.stop();
}

Now Shell::now() const {
    return Now{std::chrono::steady_clock::now(), std::chrono::system_clock::now()};
}

void Shell::start() {
    runner_.reload(director_.checks().keys());
    wait_signal();
    if (sd_watchdog_enabled(0, &watchdog_usec_) > 0) arm_watchdog();
    settle();
}

void Shell::on_health_event(const health::HealthEvent& event) {
    director_.on_health_event(event, now());
    settle();
}

void Shell::settle() {
    for (const auto& e : director_.take_events()) log_.event(e);
    const auto& st = director_.reconcile_status();
    if (!ready_ && st.in_sync) {
        ready_ = true;
        sd_notify(0, "READY=1");
        log_.write(Severity::notice, "ready: the kernel matches " + config_path_);
    }
    notify_status();
    if (director_.resync_due(std::chrono::steady_clock::now())) start_resync();
    arm_tick();
}

void Shell::notify_status() {
    const auto& st = director_.reconcile_status();
    size_t reals = 0, out = 0;
    for (const auto& [key, d] : director_.decisions())
        for (const auto& r : d.reals) {
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
        director_.tick(now());
        settle();
    });
}

void Shell::start_resync() {
    director_.begin_resync();
    dumps_.request([this](Result<kernel::IpvsSnapshot> observed) {
        director_.finish_resync(observed, now());
        settle();
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

void Shell::reload() {
    const auto usec = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
    sd_notify(0, fmt::format("RELOADING=1\nMONOTONIC_USEC={}", usec).c_str());
    log_.write(Severity::info, "reload: reading " + config_path_);
    auto loaded = config::load_file(config_path_);
    if (!loaded.ok()) {
        for (const auto& d : loaded.diagnostics) log_.write(Severity::error, config::format(d));
        log_.write(Severity::error,
                   fmt::format("reload rejected: {} error{} in {}; the running configuration "
                               "stays, nothing was changed",
                               loaded.diagnostics.size(), loaded.diagnostics.size() == 1 ? "" : "s",
                               config_path_));
    } else {
        director_.reload(std::move(*loaded.config), now());
        runner_.reload(director_.checks().keys());
    }
    sd_notify(0, "READY=1");
    settle();
}

void Shell::stop(int signal) {
    sd_notify(0, "STOPPING=1");
    log_.write(Severity::notice,
               fmt::format("stopping on {}: checks stop; IPVS, the nft table and the sysctls "
                           "stay as they are, so traffic keeps flowing",
                           signal == SIGINT ? "SIGINT" : "SIGTERM"));
    runner_.stop();
    tick_.cancel();
    watchdog_.cancel();
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
