// ballastd: the director daemon.
#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include "ballast/version.hpp"

int main(int argc, char** argv) {
    CLI::App app{
        "ballastd - LVS-NAT director daemon: programs IPVS, the nft masquerade table and "
        "the director sysctls from one TOML file"};
    app.set_version_flag("--version", std::string("ballastd ") + ballast::kVersion);
    std::string config_path = "/etc/ballast/ballast.toml";
    app.add_option("-c,--config", config_path, "configuration file")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    fmt::print(stderr, "ballastd: the daemon loop is not built yet (see the open issues)\n");
    return 1;
}
