#pragma once
// keepalived.conf (virtual_server, real_server, their checkers,
// virtual_server_group, include) -> a ballast.toml that
// ballast::config::load_string accepts, plus the list of what could not be
// converted, each with its file and line. The importer checks its own output
// with the config validator; whatever the validator would reject is left out
// and listed, so a successful import always loads.
#include <optional>
#include <string>
#include <vector>

#include "ballast/import/file_source.hpp"
#include "ballast/import/keepalived_reader.hpp"
#include "ballast/import/source.hpp"

namespace ballast::import {

struct ImportOptions {
    ReaderOptions reader;
    std::string output_name = "ballast.toml";  // the output's name in the validator's messages
};

struct ImportResult {
    std::optional<InputError> error;  // set: nothing converted (toml is empty)
    std::string toml;
    std::vector<NotConverted> not_converted;  // in input order
    size_t services = 0, reals = 0;

    // 0: everything converted; 1: error; 2: converted, with items not converted.
    int exit_code() const { return error ? 1 : not_converted.empty() ? 0 : 2; }
};

ImportResult import_keepalived(const std::string& path, FileSource& files,
                               const ImportOptions& options = {});

// One file's text, without includes (an include is an error): for tests and fuzzing.
ImportResult import_keepalived_text(const std::string& text, const std::string& name,
                                    const ImportOptions& options = {});

}  // namespace ballast::import
