// ballastctl: ipvsadm-like admin CLI for ballast.
#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include "ballast/agent/render.hpp"
#include "ballast/config/config.hpp"
#include "ballast/doctor/doctor.hpp"
#include "ballast/doctor/gather.hpp"
#include "ballast/sysctl/proc_sysctl.hpp"
#include "ballast/version.hpp"
#include "daemon_verbs.hpp"
#include "import_command.hpp"

namespace {

// The director side of the LVS-NAT checklist, in this process's network namespace.
int do_doctor(const std::string& config_file, bool json) {
    using namespace ballast;
    auto loaded = config::load_file(config_file);
    if (!loaded.ok()) {
        for (const auto& d : loaded.diagnostics) fmt::print(stderr, "{}\n", config::format(d));
        return doctor::kExitError;
    }
    sysctl::ProcSysctl proc;
    auto facts = doctor::gather_facts(*loaded.config);
    auto report = doctor::evaluate(*loaded.config, proc, facts);
    if (json)
        fmt::print("{}", doctor::render_json(report, config_file));
    else
        fmt::print("ballastctl doctor: LVS-NAT checklist of this director ({})\n\n{}", config_file,
                   agent::render_text(report));
    return doctor::exit_code(report);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1 && std::string_view(argv[1]) == "import-keepalived")
        return ballast::cli::run_import_keepalived(argc - 1, argv + 1);
    if (argc > 1 && ballast::cli::is_daemon_verb(argv[1]))
        return ballast::cli::run_daemon_verb(argc - 1, argv + 1);
    CLI::App app{"ballastctl - ipvsadm-like administration of IPVS and of ballastd"};
    app.set_version_flag("--version", std::string("ballastctl ") + ballast::kVersion);
    app.require_subcommand(0, 1);
    auto* doctor = app.add_subcommand(
        "doctor", "check this director's LVS-NAT setup: sysctls, nftables, IPVS, reachability");
    std::string config_file = "/etc/ballast/ballast.toml";
    bool json = false;
    doctor->add_option("-c,--config", config_file, "director config file (TOML)")
        ->capture_default_str();
    doctor->add_flag("--json", json, "JSON instead of text");
    CLI11_PARSE(app, argc, argv);
    try {
        if (*doctor) return do_doctor(config_file, json);
    } catch (const std::exception& e) {
        fmt::print(stderr, "ballastctl: {}\n", e.what());
        return ballast::doctor::kExitError;
    }
    fmt::print("{}", app.help());
    return 0;
}
