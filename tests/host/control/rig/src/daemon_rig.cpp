#include "ballast/testing/daemon_rig.hpp"

#include <malloc.h>
#include <sys/stat.h>

#include <fstream>
#include <stdexcept>

#include "ballast/config/config.hpp"
#include "ballast/state/overrides.hpp"
#include "ballast/state/ownership.hpp"

namespace ballast::testing {

namespace {

class FileStore final : public daemon::StateStore {
public:
    explicit FileStore(std::string dir) : dir_(std::move(dir)) {}
    Result<std::set<model::ServiceKey>> load_ownership() override {
        return state::load_ownership(dir_);
    }
    Status save_ownership(const std::set<model::ServiceKey>& s) override {
        return state::save_ownership(dir_, s);
    }
    Result<policy::Overrides> load_overrides() override { return state::load_overrides(dir_); }
    Status save_overrides(const policy::Overrides& o) override {
        return state::save_overrides(dir_, o);
    }

private:
    std::string dir_;
};

}  // namespace

DaemonRig::DaemonRig(std::string dir, const std::string& config)
    : dir_(std::move(dir)),
      config_path_(dir_ + "/ballast.toml"),
      state_dir_(dir_ + "/state"),
      sysctl_({{"net.ipv4.ip_forward", "1"}, {"net.ipv4.conf.all.send_redirects", "0"}}) {
    ::mkdir(state_dir_.c_str(), 0700);
    write_config(config);
    store_ = std::make_unique<FileStore>(state_dir_);
}

DaemonRig::~DaemonRig() {
    if (loop_.joinable()) {
        on_loop([this] {
            runner_->stop();
            hub_->stop();
            return 0;
        });
        guard_.reset();
        io_.stop();
        loop_.join();
    }
}

void DaemonRig::write_config(const std::string& config) {
    std::ofstream(config_path_) << config;
}

daemon::Now DaemonRig::now() const {
    return daemon::Now{std::chrono::steady_clock::now(), std::chrono::system_clock::now()};
}

void DaemonRig::write_log(const std::string& line) {
    std::lock_guard lock(log_mutex_);
    log_.push_back(line);
}

std::vector<std::string> DaemonRig::log() const {
    std::lock_guard lock(log_mutex_);
    return log_;
}

bool DaemonRig::logged(const std::string& needle) const {
    for (const auto& l : log())
        if (l.find(needle) != std::string::npos) return true;
    return false;
}

void DaemonRig::start() {
    const auto step = [this](std::string_view name) {
        if (after_step) after_step(name);
    };
    auto loaded = config::load_file(config_path_);
    if (!loaded.ok()) throw std::runtime_error(config::format(loaded.diagnostics.front()));
    step("config");
    director_ = std::make_unique<daemon::Director>(std::move(*loaded.config),
                                                   daemon::Ports{ipvs_, nft_, sysctl_}, *store_);
    if (auto st = director_->start(ipvs_.dump(), now()); !st)
        throw std::runtime_error(st.error().describe());
    step("director");
    health::RunnerOptions ro;
    ro.seed = 42;
    runner_ = std::make_unique<health::HealthRunner>(io_, *this, ro);
    control::LoopHooks hooks;
    hooks.settle = [this] { settle(); };
    hooks.reload = [this] { return reload(); };
    hooks.log = [this](daemon::Severity, const std::string& m) { write_log(m); };
    // The fake kernel lives on the loop: a fresh dump is made there.
    hooks.dump = [this] { return on_loop([this] { return ipvs_.dump(); }); };
    auto settings =
        control::HubSettings::from(director_->config(), "ballastd test-rig", config_path_);
    if (adjust) adjust(settings);
    hub_ = std::make_unique<control::Hub>(io_, *director_, std::move(settings), std::move(hooks));
    if (auto st = hub_->start(); !st) throw std::runtime_error(st.error().describe());
    step("hub");
    runner_->reload(director_->checks());
    step("checks");
    settle();
    ::malloc_trim(0);  // as ballastd's shell does after a start and a reload
    step("published");
    guard_.emplace(io_.get_executor());
    loop_ = std::thread([this] { io_.run(); });
}

void DaemonRig::settle() {
    auto events = director_->take_events();
    for (const auto& e : events) write_log(e.message);
    hub_->publish(events);
}

control::ReloadResult DaemonRig::reload() {
    control::ReloadResult r;
    r.file = config_path_;
    auto loaded = config::load_file(config_path_);
    if (!loaded.ok()) {
        for (const auto& d : loaded.diagnostics) r.problems.push_back(config::format(d));
    } else {
        r.outcome = director_->reload(std::move(*loaded.config), now());
        r.services = director_->config().services.size();
        runner_->reload(director_->checks());
    }
    settle();
    ::malloc_trim(0);
    return r;
}

std::chrono::nanoseconds DaemonRig::resync() {
    director_->begin_resync();
    director_->finish_resync(ipvs_.dump(), now());
    settle();
    const auto t0 = std::chrono::steady_clock::now();
    ::malloc_trim(0);
    return std::chrono::steady_clock::now() - t0;
}

void DaemonRig::on_health_event(const health::HealthEvent& event) {
    const auto t0 = std::chrono::steady_clock::now();
    director_->on_health_event(event, now());
    hub_->observe("health", std::chrono::steady_clock::now() - t0);
    hub_->on_health_event(event);
    settle();
}

void DaemonRig::on_run_finished(const health::RunResult& run) {
    hub_->on_run_finished(run);
}

}  // namespace ballast::testing
