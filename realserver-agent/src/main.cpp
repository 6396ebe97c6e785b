// ballast-agent: checks on a real server that LVS-NAT replies return via the director.
#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include "ballast/version.hpp"

int main(int argc, char** argv) {
    CLI::App app{
        "ballast-agent - real-server agent: return-route checks, repair, agent-check "
        "responder"};
    app.set_version_flag("--version", std::string("ballast-agent ") + ballast::kVersion);
    CLI11_PARSE(app, argc, argv);
    fmt::print("{}", app.help());
    return 0;
}
