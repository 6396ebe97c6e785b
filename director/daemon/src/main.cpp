// ballastd: the director daemon. Programs IPVS, the nft masquerade table and the director
// sysctls from one TOML file, keeps them there against health checks, reloads and drift.
#include <malloc.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include <fmt/core.h>
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>

#include "ballast/config/config.hpp"
#include "ballast/daemon/director.hpp"
#include "ballast/health/check_plan.hpp"
#include "ballast/health/probe.hpp"
#include "ballast/kernel/ipvs_netlink_client.hpp"
#include "ballast/nft/netlink_nft_client.hpp"
#include "ballast/state/overrides.hpp"
#include "ballast/state/ownership.hpp"
#include "ballast/sysctl/proc_sysctl.hpp"
#include "ballast/version.hpp"
#include "shell.hpp"

namespace {

using namespace ballast;

// The state directory's records, as the Director's StateStore.
class FileStateStore final : public daemon::StateStore {
public:
    explicit FileStateStore(std::string dir) : dir_(std::move(dir)) {}
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

// Validates a config without touching the kernel: every problem to stderr, exit 1;
// or a one-line summary to stdout, exit 0.
int check_config(const std::string& path) {
    auto loaded = config::load_file(path);
    if (!loaded.ok()) {
        for (auto& d : loaded.diagnostics) fmt::print(stderr, "{}\n", config::format(d));
        fmt::print(stderr, "{}: {} error{}\n", path, loaded.diagnostics.size(),
                   loaded.diagnostics.size() == 1 ? "" : "s");
        return 1;
    }
    // A config this process could not run (a tcp_half_open check without CAP_NET_RAW) fails
    // here too, so `ExecReload=` refuses it before the daemon sees it.
    const auto& cfg = *loaded.config;
    const auto missing =
        health::missing_privileges(health::plan_checks(cfg.services, cfg.default_check));
    if (!missing.empty()) {
        for (const auto& m : missing) fmt::print(stderr, "{}: {}\n", path, m);
        fmt::print(stderr, "{}: {} check{} this process cannot run\n", path, missing.size(),
                   missing.size() == 1 ? "" : "s");
        return 1;
    }
    fmt::print("{}: OK: {}\n", path, config::summary(cfg));
    return 0;
}

struct Clients {
    std::unique_ptr<kernel::IpvsNetlinkClient> ipvs;
    std::unique_ptr<nft::NetlinkNftClient> nft;
    sysctl::ProcSysctl sysctl;
};

// Everything the daemon needs from the kernel, or a message naming what is missing.
Result<Clients> open_clients() {
    Clients c;
    auto ipvs = kernel::IpvsNetlinkClient::open();
    if (!ipvs) return ipvs.error();
    c.ipvs = std::move(*ipvs);
    auto nft = nft::NetlinkNftClient::open();
    if (!nft) return nft.error();
    c.nft = std::move(*nft);
    return c;
}

// The state directory exists (systemd's StateDirectory= makes it; by hand we do), 0700.
Status ensure_directory(const std::string& dir) {
    if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) {
        struct stat st {};
        if (::stat(dir.c_str(), &st) != 0) return make_error(errno, "stat", dir);
        if (!S_ISDIR(st.st_mode)) return make_error(ENOTDIR, "mkdir", dir);
        return {};
    }
    return make_error(errno, "mkdir", dir);
}

std::optional<daemon::Severity> parse_level(const std::string& s) {
    if (s == "debug") return daemon::Severity::debug;
    if (s == "info") return daemon::Severity::info;
    if (s == "notice") return daemon::Severity::notice;
    if (s == "warning") return daemon::Severity::warning;
    if (s == "error") return daemon::Severity::error;
    return std::nullopt;
}

int fail(const std::string& message) {
    fmt::print(stderr, "ballastd: {}\n", message);
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    // No transparent huge pages for this process. Where the kernel's THP setting is "always"
    // (Debian's kernel in the lab), a thread's 8 MiB stack was seen backed by a 2 MiB huge page
    // for the few KiB it uses, and 26 of the heap's 39 resident MiB were in huge pages: a
    // daemon of small objects gains nothing from them and may pay 2 MiB a page (BENCHMARKS.md,
    // ballastd's memory in the kernel lab). Inherited by exec'd checks, harmless there.
    (void)::prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
    // Two malloc arenas, not glibc's 8 per core: the loop and the status thread each get one,
    // and memory freed on one thread is not stranded in a third arena. At 5,000 x 10 glibc's
    // default cost 21-32 MiB more RSS than this (daemon_memory_bench, BENCHMARKS.md). An
    // operator's MALLOC_ARENA_MAX or glibc.malloc.arena_max tunable wins.
    const char* tunables = std::getenv("GLIBC_TUNABLES");
    if (!std::getenv("MALLOC_ARENA_MAX") &&
        !(tunables && std::string_view(tunables).find("arena_max") != std::string_view::npos))
        ::mallopt(M_ARENA_MAX, 2);
    // A fixed trim threshold of 1 MiB; setting it also turns off glibc's dynamic one, which a
    // start's large freed buffers raise to tens of MiB. malloc_trim() trims only the main heap's
    // top: free memory at the top of the other arena's heap goes back only when a free there
    // finds more than this threshold. The start's writer thread left ~5 MiB there in the
    // kernel lab without it (BENCHMARKS.md). An operator's MALLOC_TRIM_THRESHOLD_ or
    // glibc.malloc.trim_threshold tunable wins.
    if (!std::getenv("MALLOC_TRIM_THRESHOLD_") &&
        !(tunables && std::string_view(tunables).find("trim_threshold") != std::string_view::npos))
        ::mallopt(M_TRIM_THRESHOLD, 1 << 20);
    CLI::App app{
        "ballastd - LVS-NAT director daemon: programs IPVS, the nft masquerade table and "
        "the director sysctls from one TOML file"};
    app.set_version_flag("--version", std::string("ballastd ") + ballast::kVersion);
    std::string config_path = "/etc/ballast/ballast.toml";
    app.add_option("-c,--config", config_path, "configuration file")->capture_default_str();
    std::string check_path;
    app.add_option("--check-config", check_path,
                   "validate FILE, print every problem (file:line:col) and exit")
        ->type_name("FILE");
    bool cleanup = false;
    app.add_flag("--cleanup", cleanup,
                 "delete every IPVS service ballast owns and the table inet ballast, then exit "
                 "(nothing else is touched)");
    std::string state_dir;
    app.add_option("--state-dir", state_dir,
                   "state directory (default: director.state_directory of the config)")
        ->type_name("DIR");
    std::string level = "info";
    app.add_option("--log-level", level, "debug, info, notice, warning or error")
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    if (!check_path.empty()) return check_config(check_path);
    auto threshold = parse_level(level);
    if (!threshold) return fail("--log-level: unknown level '" + level + "'");
    daemon::Log log(*threshold);

    // Where a cold start's time goes, logged once ready to program (a 5,000 x 10 table's
    // start is mostly the file's parse and the kernel's adds: BENCHMARKS.md).
    const auto t_main = std::chrono::steady_clock::now();
    auto loaded = config::load_file(config_path);
    const auto t_loaded = std::chrono::steady_clock::now();
    if (!loaded.ok()) {
        for (auto& d : loaded.diagnostics) fmt::print(stderr, "{}\n", config::format(d));
        return fail(fmt::format("{}: {} error{}; nothing was changed", config_path,
                                loaded.diagnostics.size(),
                                loaded.diagnostics.size() == 1 ? "" : "s"));
    }
    auto cfg = std::move(*loaded.config);
    if (state_dir.empty()) state_dir = cfg.director.state_directory;
    if (auto st = ensure_directory(state_dir); !st)
        return fail("state directory: " + st.error().describe());
    auto clients = open_clients();
    if (!clients) return fail(clients.error().describe());
    FileStateStore store(state_dir);
    daemon::Ports ports{*clients->ipvs, *clients->nft, clients->sysctl};

    if (cleanup) {
        auto done = daemon::cleanup(cfg, ports, store);
        if (!done) return fail("cleanup: " + done.error().describe());
        for (const auto& line : *done) fmt::print("{}\n", line);
        return 0;
    }

    // Before any kernel write: the checks this process could not run. The rest of the check
    // plan is made during the start, while the kernel takes its writes.
    if (const auto missing = health::missing_privileges(health::privileged_checks(cfg.services));
        !missing.empty()) {
        for (const auto& m : missing) fmt::print(stderr, "{}: {}\n", config_path, m);
        return fail(
            "some checks cannot run in this process (add the capability to the unit's "
            "CapabilityBoundingSet= and AmbientCapabilities=); nothing was changed");
    }
    daemon::Director director(std::move(cfg), ports, store);
    const auto now =
        daemon::Now{std::chrono::steady_clock::now(), std::chrono::system_clock::now()};
    if (auto st = director.start(clients->ipvs->dump(), now); !st) {
        for (const auto& e : director.take_events()) log.event(e);
        return fail(st.error().describe() + "; nothing was changed");
    }
    const auto seconds = [](auto d) { return std::chrono::duration<double>(d).count(); };
    log.write(daemon::Severity::info,
              fmt::format("start took {:.3f} s: reading the config {:.3f} s, opening the "
                          "kernel's sockets {:.3f} s, the weights, the check plan and the kernel "
                          "(sysctls, nft, IPVS dump, plan and writes) {:.3f} s",
                          seconds(std::chrono::steady_clock::now() - t_main),
                          seconds(t_loaded - t_main), seconds(now.steady - t_loaded),
                          seconds(std::chrono::steady_clock::now() - now.steady)));
    boost::asio::io_context io;
    daemon::Shell shell(io, director, config_path, log);
    if (auto st = shell.start(); !st) return fail(st.error().describe());
    io.run();
    return 0;
}
