#pragma once
// ballastd's thin shell: the event loop and everything with side effects around the Director
// (signals, timers, the dump thread, the health runner, sd_notify, logging). Nothing here
// decides anything.
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "ballast/control/hub.hpp"
#include "ballast/daemon/director.hpp"
#include "ballast/health/runner.hpp"
#include "ballast/kernel/ipvs_client.hpp"

namespace ballast::kernel {
class IpvsNetlinkClient;
}

namespace ballast::daemon {

// One line per event, journald-friendly: with stderr connected to the journal
// (JOURNAL_STREAM), "<N>message" so journald records the priority; otherwise a UTC timestamp
// and the level.
class Log {
public:
    explicit Log(Severity threshold = Severity::info);
    void write(Severity s, const std::string& message) const;
    void event(const Event& e) const;

private:
    Severity threshold_;
    bool journal_;
};

// A full IPVS dump on a netlink socket of its own, opened at the first dump and again after a
// failed one.
class LazyDumper {
public:
    LazyDumper();
    ~LazyDumper();
    Result<kernel::IpvsSnapshot> dump();

private:
    std::unique_ptr<kernel::IpvsNetlinkClient> client_;
};

// The full IPVS dump, made on a thread of its own with its own socket, so a dump of a large
// table (a second or more) never delays a health verdict's edit on the loop.
class DumpWorker {
public:
    using Done = std::function<void(Result<kernel::IpvsSnapshot>)>;
    explicit DumpWorker(boost::asio::io_context& io);
    ~DumpWorker();
    DumpWorker(const DumpWorker&) = delete;
    DumpWorker& operator=(const DumpWorker&) = delete;
    // Dumps, then posts done(result) to the io_context. One request at a time.
    void request(Done done);

private:
    void work();
    boost::asio::io_context& io_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::optional<Done> pending_;
    bool stopping_ = false;
    std::thread thread_;
};

class Shell final : public health::HealthSink {
public:
    Shell(boost::asio::io_context& io, Director& director, std::string config_path, const Log& log);
    ~Shell() override;

    // Starts the control socket and status page (an error: neither could be set up), the
    // checks, timers and signal handling; io.run() then runs until SIGTERM/SIGINT.
    Status start();
    void on_health_event(const health::HealthEvent& event) override;
    void on_inconclusive_run(const health::InconclusiveRun& run) override;
    void on_run_finished(const health::RunResult& run) override;

private:
    Now now() const;
    // After anything changed: log the events, notify systemd, schedule the next tick/resync.
    void settle();
    void arm_tick();
    void start_resync();
    void wait_signal();
    control::ReloadResult reload();
    Status start_hub();
    void stop(int signal);
    void arm_watchdog();
    void notify_status();

    boost::asio::io_context& io_;
    Director& director_;
    std::string config_path_;
    const Log& log_;
    health::HealthRunner runner_;
    DumpWorker dumps_;
    boost::asio::signal_set signals_;
    boost::asio::steady_timer tick_;
    boost::asio::steady_timer watchdog_;
    std::optional<SteadyTime> tick_at_;
    // From a check's verdict to the kernel's ack of the edit it caused (events that wrote).
    health::LatenessHistogram verdict_to_ack_;
    std::chrono::microseconds verdict_to_ack_max_{0};
    uint64_t inconclusive_ = 0;
    std::optional<std::chrono::steady_clock::time_point> inconclusive_logged_;
    uint64_t watchdog_usec_ = 0;
    bool ready_ = false;
    std::string last_status_;
    std::unique_ptr<control::Hub> hub_;  // control socket, status page, metrics
};

}  // namespace ballast::daemon
