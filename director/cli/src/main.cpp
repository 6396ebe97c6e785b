// ballastctl: ipvsadm-like admin CLI for ballast.
#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include "ballast/version.hpp"

int main(int argc, char** argv) {
    CLI::App app{"ballastctl - ipvsadm-like administration of IPVS and of ballastd"};
    app.set_version_flag("--version", std::string("ballastctl ") + ballast::kVersion);
    app.require_subcommand(0, 1);
    CLI11_PARSE(app, argc, argv);
    fmt::print("{}", app.help());
    return 0;
}
