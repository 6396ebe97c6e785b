// ballastd: the director daemon.
#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include "ballast/config/config.hpp"
#include "ballast/version.hpp"

namespace {

// Validates a config without touching the kernel: every problem to stderr, exit 1;
// or a one-line summary to stdout, exit 0.
int check_config(const std::string& path) {
    auto loaded = ballast::config::load_file(path);
    if (!loaded.ok()) {
        for (auto& d : loaded.diagnostics) fmt::print(stderr, "{}\n", ballast::config::format(d));
        fmt::print(stderr, "{}: {} error{}\n", path, loaded.diagnostics.size(),
                   loaded.diagnostics.size() == 1 ? "" : "s");
        return 1;
    }
    fmt::print("{}: OK: {}\n", path, ballast::config::summary(*loaded.config));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
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
    CLI11_PARSE(app, argc, argv);
    if (!check_path.empty()) return check_config(check_path);
    fmt::print(stderr, "ballastd: the daemon loop is not built yet (see the open issues)\n");
    return 1;
}
