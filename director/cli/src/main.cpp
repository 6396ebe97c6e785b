// ballastctl: ipvsadm's command line (the default), `doctor`, and (from the importer's branch)
// `import-keepalived`. Everything but the dispatch lives in libraries.
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <cstring>
#include <iostream>

#include "ballast/agent/render.hpp"
#include "ballast/config/config.hpp"
#include "ballast/doctor/doctor.hpp"
#include "ballast/doctor/gather.hpp"
#include "ballast/ipvsadm/run.hpp"
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

int doctor_main(int argc, char** argv) {
    CLI::App app{
        "ballastctl doctor - check this director's LVS-NAT setup: sysctls, nftables, "
        "IPVS, reachability"};
    app.name("ballastctl doctor");
    std::string config_file = "/etc/ballast/ballast.toml";
    bool json = false;
    app.add_option("-c,--config", config_file, "director config file (TOML)")
        ->capture_default_str();
    app.add_flag("--json", json, "JSON instead of text");
    CLI11_PARSE(app, argc, argv);
    try {
        return do_doctor(config_file, json);
    } catch (const std::exception& e) {
        fmt::print(stderr, "ballastctl: {}\n", e.what());
        return ballast::doctor::kExitError;
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 2 && std::strcmp(argv[1], "doctor") == 0) return doctor_main(argc - 1, argv + 1);
    if (argc >= 2 && std::strcmp(argv[1], "import-keepalived") == 0)
        return ballast::cli::run_import_keepalived(argc - 1, argv + 1);
    if (argc >= 2 && ballast::cli::is_daemon_verb(argv[1]))
        return ballast::cli::run_daemon_verb(argc - 1, argv + 1);
    std::ios::sync_with_stdio(false);
    std::vector<std::string> args(argv, argv + argc);
    ballast::ipvsadm::NetlinkKernel kernel;
    ballast::ipvsadm::SystemNames names;
    ballast::ipvsadm::DaemonOwnership ownership;
    int rc =
        ballast::ipvsadm::run(args, kernel, names, {std::cin, std::cout, std::cerr}, &ownership);
    std::cout.flush();
    return rc;
}
