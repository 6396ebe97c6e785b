#pragma once
// Shared helpers: import a keepalived text from an in-memory file tree, load
// the result with the real validator, find services and listed items.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

#include "ballast/config/config.hpp"
#include "ballast/import/keepalived_import.hpp"

namespace ballast::import::testing {

inline const std::string kMain = "/etc/keepalived/keepalived.conf";

struct Imported {
    ImportResult result;
    std::optional<model::DirectorConfig> config;  // the output, loaded by ballast_config
};

inline Imported run(const std::string& text, const std::map<std::string, std::string>& more = {},
                    const ImportOptions& options = {}) {
    MemoryFileSource files;
    files.files[kMain] = text;
    for (auto& [path, body] : more) files.files[path] = body;
    Imported out{import_keepalived(kMain, files, options), std::nullopt};
    if (!out.result.error) {
        auto loaded = config::load_string(out.result.toml, "out.toml");
        EXPECT_TRUE(loaded.ok()) << (loaded.diagnostics.empty()
                                         ? std::string()
                                         : config::format(loaded.diagnostics.front()))
                                 << "\n"
                                 << out.result.toml;
        out.config = loaded.config;
    }
    return out;
}

// 1-based line of the first line of `text` containing `needle` (0 if none).
inline uint32_t line_of(const std::string& text, const std::string& needle, size_t nth = 0) {
    size_t pos = std::string::npos;
    for (size_t from = 0, i = 0; i <= nth; ++i, from = pos + 1) {
        pos = text.find(needle, from);
        if (pos == std::string::npos) return 0;
    }
    return static_cast<uint32_t>(std::count(text.begin(), text.begin() + long(pos), '\n') + 1);
}

// The listed item at `line` of `file` with `keyword`, or nullptr.
inline const NotConverted* listed(const ImportResult& r, uint32_t line, const std::string& keyword,
                                  const std::string& file = kMain) {
    for (auto& n : r.not_converted)
        if (n.where.file == file && n.where.line == line && n.keyword == keyword) return &n;
    return nullptr;
}

inline std::string all_listed(const ImportResult& r) {
    std::string out;
    for (auto& n : r.not_converted) out += n.to_string() + "\n";
    return out;
}

inline const model::ServiceConfig* service(const Imported& i, const std::string& name) {
    if (!i.config) return nullptr;
    for (auto& s : i.config->services)
        if (s.name == name) return &s;
    return nullptr;
}

inline model::RealKey real_key(const std::string& endpoint) {
    auto ep = model::Endpoint::parse(endpoint, uint16_t{0});
    EXPECT_TRUE(ep) << endpoint;
    return ep ? model::RealKey{ep->addr, ep->port} : model::RealKey{};
}

}  // namespace ballast::import::testing
