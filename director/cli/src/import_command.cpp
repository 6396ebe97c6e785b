#include "import_command.hpp"

#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>

#include "ballast/import/keepalived_import.hpp"

namespace ballast::cli {

int run_import_keepalived(int argc, char** argv) {
    CLI::App app{
        "convert keepalived's virtual_server configuration to a ballast config\n"
        "exit 0: everything converted; 1: error; 2: converted, with items not converted "
        "(listed on stderr)",
        "ballastctl import-keepalived"};
    std::string input, output;
    std::string config_id;
    app.add_option("FILE", input, "keepalived.conf (include files are followed)")->required();
    app.add_option("-o,--output", output, "write the ballast config here (default: stdout)");
    app.add_option("--config-id", config_id,
                   "keepalived's config id (its -i, default the host name) for @id lines");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : 1;
    }
    import::ImportOptions options;
    if (!config_id.empty()) options.reader.config_id = config_id;
    if (!output.empty()) options.output_name = output;
    import::DiskFileSource files;
    auto result = import::import_keepalived(input, files, options);
    if (result.error) {
        fmt::print(stderr, "ballastctl import-keepalived: {}\n", result.error->to_string());
        return result.exit_code();
    }
    if (output.empty()) {
        fmt::print("{}", result.toml);
        std::fflush(stdout);
    } else {
        std::ofstream out(output, std::ios::binary | std::ios::trunc);
        out << result.toml;
        out.close();
        if (!out) {
            fmt::print(stderr, "ballastctl import-keepalived: cannot write '{}'\n", output);
            return 1;
        }
    }
    for (auto& n : result.not_converted) fmt::print(stderr, "{}\n", n.to_string());
    auto count = [](size_t n, const char* word) {
        return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
    };
    fmt::print(stderr, "{}: {}, {} converted; {} not converted\n", input,
               count(result.services, "service"), count(result.reals, "real server"),
               count(result.not_converted.size(), "item"));
    return result.exit_code();
}

}  // namespace ballast::cli
