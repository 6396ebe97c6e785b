// Feeds arbitrary text to the keepalived importer. The input may hold several
// files: lines "=== PATH" start a new one (the first is the main file), so
// includes, globs and loops are reached. Invariants beyond "no crash": an
// error and a config never come together; every import that succeeds loads
// in ballast's validator; every listed item names a file, a keyword and why.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ballast/config/config.hpp"
#include "ballast/import/keepalived_import.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ballast;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    import::MemoryFileSource files;
    std::string name = "/etc/keepalived/keepalived.conf";
    const std::string main = name;
    std::string body;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t nl = text.find('\n', pos);
        std::string_view line =
            text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        if (line.substr(0, 4) == "=== " && line.size() > 4) {
            files.files[files.canonical(name)] = body;
            name = std::string(line.substr(4));
            if (name[0] != '/') name = "/etc/keepalived/" + name;
            body.clear();
        } else {
            body.append(line);
            body += '\n';
        }
        if (nl == std::string_view::npos) break;
        pos = nl + 1;
    }
    files.files[files.canonical(name)] = body;

    import::ImportOptions options;
    if (size % 2) options.reader.config_id = "high";
    auto r = import::import_keepalived(main, files, options);
    if (r.error) {
        if (!r.toml.empty() || r.exit_code() != 1 || r.error->message.empty()) std::abort();
        return 0;
    }
    if (r.exit_code() != (r.not_converted.empty() ? 0 : 2)) std::abort();
    auto loaded = config::load_string(r.toml, "fuzz.toml");
    if (!loaded.ok() || loaded.config->services.size() != r.services) std::abort();
    for (auto& n : r.not_converted)
        if (n.where.file.empty() || n.keyword.empty() || n.why.empty()) std::abort();
    return 0;
}
