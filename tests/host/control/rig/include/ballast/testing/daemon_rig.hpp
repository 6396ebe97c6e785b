#pragma once
// A ballastd without a kernel: the real Director, health runner and control hub (control
// socket, status page, metrics) on a loop thread of its own, with FakeIpvs / FakeNftClient /
// FakeSysctl for the kernel and the real state files in a directory of the test's. The host's
// kernel has no IPVS, so this is how the control socket and the status page are tested
// against real clients (ballastctl, Chromium, promtool); the kernel lab runs the real
// ballastd. What it leaves out is ballastd's shell: signals, sd_notify, the dump thread
// (resync() dumps on the loop).
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "ballast/control/hub.hpp"
#include "ballast/daemon/director.hpp"
#include "ballast/fakes/fake_ipvs.hpp"
#include "ballast/fakes/fake_nft.hpp"
#include "ballast/fakes/fake_sysctl.hpp"
#include "ballast/health/runner.hpp"

namespace ballast::testing {

class DaemonRig final : public health::HealthSink {
public:
    // `config` is the TOML text; it is written to <dir>/ballast.toml (the file reload reads),
    // and the state directory is <dir>/state. The directory must exist.
    DaemonRig(std::string dir, const std::string& config);
    // Changes to the hub's settings before start (e.g. port 0, short timeouts).
    std::function<void(control::HubSettings&)> adjust;
    // Called by start() after each of its steps ("config", "director", "hub", "checks",
    // "published"), on the calling thread (a memory benchmark measures each one's share).
    std::function<void(std::string_view step)> after_step;
    ~DaemonRig() override;

    // Director start (adopting what the fake kernel holds), hub start, checks, loop thread.
    // Throws with the error when something cannot start.
    void start();

    // Runs fn on the loop thread and returns its result.
    template <typename F>
    auto on_loop(F&& fn) -> decltype(fn()) {
        std::packaged_task<decltype(fn())()> task(std::forward<F>(fn));
        auto done = task.get_future();
        boost::asio::post(io_, [&task] { task(); });
        return done.get();
    }

    // Replaces the config file (a reload through the control socket reads it).
    void write_config(const std::string& config);
    // What a reload through the control socket does: re-reads the file, applies it, reloads
    // the checks and publishes. On the loop thread.
    control::ReloadResult reload();
    // What ballastd's shell does when a resync is due: a full dump of the fake kernel (made
    // here on the loop, where the fake lives, not on a dump thread), compared and repaired by
    // the Director, then published, and freed memory handed back (malloc_trim) as the shell
    // does. On the loop thread. Returns how long the malloc_trim took.
    std::chrono::nanoseconds resync();

    uint16_t http_port() { return hub_->http_port(); }
    control::Hub& hub() { return *hub_; }
    daemon::Director& director() { return *director_; }
    fakes::FakeIpvs& ipvs() { return ipvs_; }
    health::HealthRunner& runner() { return *runner_; }
    const std::string& config_path() const { return config_path_; }
    const std::string& state_dir() const { return state_dir_; }
    // Every log line and event message so far.
    std::vector<std::string> log() const;
    bool logged(const std::string& needle) const;

    void on_health_event(const health::HealthEvent& event) override;
    void on_run_finished(const health::RunResult& run) override;

private:
    void settle();
    daemon::Now now() const;
    void write_log(const std::string& line);

    std::string dir_, config_path_, state_dir_;
    boost::asio::io_context io_;
    fakes::FakeIpvs ipvs_;
    fakes::FakeNftClient nft_;
    fakes::FakeSysctl sysctl_;
    std::unique_ptr<daemon::StateStore> store_;
    std::unique_ptr<daemon::Director> director_;
    std::unique_ptr<health::HealthRunner> runner_;
    std::unique_ptr<control::Hub> hub_;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_;
    std::thread loop_;
    mutable std::mutex log_mutex_;
    std::vector<std::string> log_;
};

}  // namespace ballast::testing
