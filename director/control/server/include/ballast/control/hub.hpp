#pragma once
// The operator's side of ballastd: the control socket, the status page and its API, and
// /metrics, on a thread of their own ("the status thread"), so that no client -- however many,
// however slow, whatever it asks for -- delays the loop that turns health verdicts into
// kernel writes.
//
// Threads:
//   - the daemon's loop calls publish() after every change (and the on_* hooks as checks
//     run): it republishes only the services whose decisions changed (published.hpp);
//   - the status thread answers queries from the published state alone, and hands every
//     command (drain, enable, weight, reload, plan's preview) to the loop as one posted
//     job whose reply comes back to it;
//   - a dump thread makes the fresh dumps `status --fresh` (ballastctl top) asks for.
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "ballast/control/control_server.hpp"
#include "ballast/control/http_server.hpp"
#include "ballast/control/metrics.hpp"
#include "ballast/control/published.hpp"
#include "ballast/daemon/director.hpp"
#include "ballast/health/runner.hpp"
#include "ballast/model/director_config.hpp"

namespace ballast::control {

struct HubSettings {
    std::string daemon;       // "ballastd 0.1.0"
    std::string config_path;  // the file reload reads
    std::string control_socket;
    std::string control_group;
    std::optional<model::Endpoint> status_listen;
    bool status_write = false;
    ControlLimits control;
    HttpLimits http;
    // A fresh dump at most this often, and no more often than ten times the last dump's
    // duration (so a slow dump of a huge table is not repeated back to back).
    std::chrono::milliseconds fresh_interval{1000};
    std::chrono::milliseconds lateness_period{250};

    // From the config's [director] section.
    static HubSettings from(const model::DirectorConfig& config, std::string daemon,
                            std::string config_path);
};

// A reload as the shell did it: rejected (problems) or applied (outcome).
struct ReloadResult {
    std::string file;
    std::vector<std::string> problems;
    std::optional<daemon::ReloadOutcome> outcome;
    size_t services = 0;
};

// What only the shell can do. settle and reload are called on the loop thread; log from any.
struct LoopHooks {
    std::function<void()> settle;          // after a command changed the Director
    std::function<ReloadResult()> reload;  // re-read the config file, apply it, settle
    std::function<void(daemon::Severity, const std::string&)> log;
    // A full IPVS dump for fresh counters, made on the hub's dump thread (optional: without
    // it, counters come from the resyncs only).
    std::function<Result<kernel::IpvsSnapshot>()> dump;
    std::function<daemon::Now()> now;  // default: the steady and system clocks
};

class Hub final : private ControlBackend, private HttpHandler {
public:
    // The status thread's nice value is the loop's plus this (at most 19): it serves requests
    // while the loop is idle or on the other core, and waits while the loop needs the CPU.
    static constexpr int kStatusThreadNice = 10;

    Hub(boost::asio::io_context& loop, daemon::Director& director, HubSettings settings,
        LoopHooks hooks);
    ~Hub() override;
    Hub(const Hub&) = delete;
    Hub& operator=(const Hub&) = delete;

    // Creates the control socket and the status listener, publishes the Director's state and
    // starts the status thread. On the loop thread.
    Status start();
    // Closes both and stops the threads. On the loop thread.
    void stop();

    // Loop thread, after every change: the events are also sent to `events` subscribers.
    void publish(const std::vector<daemon::Event>& events);
    // Loop thread, from the health runner.
    void on_run_finished(const health::RunResult& run);
    void on_health_event(const health::HealthEvent& event);  // before the Director's publish
    // Loop thread: how long an input took from arrival to kernel ack; a resync's dump.
    void observe(std::string_view trigger, std::chrono::nanoseconds took);
    void observe_dump(std::chrono::nanoseconds took);

    uint16_t http_port() const { return http_port_; }
    bool writes_allowed() const { return writes_allowed_; }
    const std::string& write_token() const { return token_; }
    PublishedState& published() { return published_; }

private:
    // ControlBackend (status thread)
    void handle(ControlCall call, std::function<void(std::string)> reply) override;
    std::vector<std::string> event_backlog(size_t n) override;
    void log(daemon::Severity severity, std::string message) override;
    // HttpHandler (status thread)
    void handle(const HttpRequest& request, const boost::asio::ip::tcp::endpoint& peer,
                std::function<void(HttpResponse)> done) override;

    daemon::Now now() const;
    // Runs fn on the loop; its reply line comes back on the status thread.
    void on_loop(std::function<std::string()> fn, std::function<void(std::string)> reply);
    // Loop thread.
    void sync_checks();
    void republish(const model::ServiceKey& key);
    void publish_counters();
    void arm_lateness_probe();
    struct OverrideRequest {
        Verb verb = Verb::drain;
        std::optional<ServiceRef> service;
        model::RealKey real;
        model::Weight weight = 0;
        std::string set_by;
    };
    std::string apply_override(const boost::json::value& id, const OverrideRequest& r);
    // Status thread.
    void status(const Request& req, std::function<void(std::string)> reply);
    void with_fresh_counters(std::function<void()> then);
    StatusView status_view(const std::optional<ServiceRef>& only, bool& found);
    std::string read_config_reply(const Request& req, UniqueFd file, bool plan,
                                  std::function<void(std::string)> reply);
    HttpResponse http_status(bool fresh_done);

    boost::asio::io_context& loop_;
    daemon::Director& director_;
    HubSettings settings_;
    LoopHooks hooks_;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // loop jobs check it

    // Loop thread only.
    // The checks' last runs: a real server's are found by its checks' keys, named as
    // plan_checks names them (no index by real server: that was another 50,000 map nodes at
    // 5,000 x 10). Replaced (runs carried over) when the check plan changes.
    std::shared_ptr<CheckRuns> runs_;
    std::map<std::pair<model::ServiceKey, model::RealKey>, std::vector<TransitionCount>>
        transitions_;
    std::map<model::ServiceKey, size_t> config_index_;
    bool synced_ = false;
    uint64_t seen_resyncs_ = UINT64_MAX;
    boost::asio::steady_timer lateness_timer_;
    std::chrono::steady_clock::time_point lateness_due_{};

    // Shared (thread-safe).
    PublishedState published_;
    // Events for `events` subscribers, encoded and sent by the status thread in batches: the
    // loop posts one job while this is non-empty, not one per settle (a start's 50,000 first
    // results would wake the status thread 50,000 times).
    std::mutex pending_events_mutex_;
    std::vector<EventView> pending_events_;
    Metrics metrics_;

    // Status thread only.
    boost::asio::io_context ops_;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>
        ops_guard_;
    std::thread ops_thread_;
    std::unique_ptr<ControlServer> control_;
    std::unique_ptr<HttpServer> http_;
    uint16_t http_port_ = 0;
    bool writes_allowed_ = false;
    std::string token_;
    boost::asio::thread_pool dump_pool_{1};
    bool sampling_ = false;
    std::optional<std::chrono::steady_clock::time_point> last_sample_;
    std::chrono::nanoseconds last_sample_took_{0};
    std::vector<std::function<void()>> fresh_waiters_;
    bool stopped_ = false;
};

}  // namespace ballast::control
