// TOML -> validated DirectorConfig. Every problem is collected with its
// location and key path; a DirectorConfig is returned only when there is none.
// Each section is read by its own file (director_section.cpp,
// check_section.cpp, service_section.cpp, cross_check.cpp) over reader.hpp.
#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ballast/config/config.hpp"
#include "reader.hpp"
#include "sections.hpp"

namespace ballast::config {

using namespace model;

namespace {

using namespace detail;

DirectorConfig read_root(Ctx& ctx, const toml::table& root) {
    Reader r(ctx, root, "", {"director", "defaults", "service"});
    DirectorConfig cfg;
    cfg.source_file = ctx.file;
    if (auto* t = r.table("director")) read_director(ctx, *t, cfg.director);

    CheckDraft defaults;
    if (auto* t = r.table("defaults")) {
        Reader d(ctx, *t, "defaults", {"check"});
        if (auto* c = d.table("check")) {
            apply_check(ctx, *c, d.path("check"), defaults, true);
            validate_check(ctx, defaults, Origin{ctx.loc(c->source()), d.path("check")});
        }
    }
    cfg.default_check = defaults.spec;

    std::vector<ServiceDraft> services;
    if (auto* n = r.node("service")) {
        auto* a = n->as_array();
        if (!a) {
            r.error("service",
                    "expected an array of tables: write [[service]], got " + type_name(n->type()));
        } else {
            services.resize(a->size());
            for (size_t i = 0; i < a->size(); ++i) {
                auto* t = a->get(i)->as_table();
                if (!t)
                    ctx.error(
                        ctx.loc(a->get(i)->source()), index_path("service", i),
                        "expected a table ([[service]]), got " + type_name(a->get(i)->type()));
                else
                    read_service(ctx, *t, index_path("service", i), defaults, services[i]);
            }
        }
    }
    cross_check(ctx, services, cfg.director);
    cfg.services.reserve(services.size());
    for (auto& s : services) cfg.services.push_back(std::move(s.cfg));
    return cfg;
}

}  // namespace

std::string format(const Diagnostic& d) {
    std::string out = d.where.file();
    if (d.where.line)
        out += ":" + std::to_string(d.where.line) + ":" + std::to_string(d.where.column);
    out += ": ";
    if (!d.key_path.empty()) out += d.key_path + ": ";
    return out + d.message;
}

LoadResult load_string(std::string_view text, std::string name) {
    detail::Ctx ctx(std::move(name));
    LoadResult result;
    try {
        toml::table root = toml::parse(text, ctx.file);
        DirectorConfig cfg = read_root(ctx, root);
        if (ctx.diags.empty()) result.config = std::move(cfg);
    } catch (const toml::parse_error& e) {
        auto& pos = e.source().begin;
        ctx.error(ctx.whole_file.at(pos.line, pos.column), "",
                  "TOML syntax error: " + std::string(e.description()));
    } catch (const std::exception& e) {
        ctx.diags.clear();
        ctx.error(ctx.whole_file, "", std::string("cannot load: ") + e.what());
    }
    std::stable_sort(ctx.diags.begin(), ctx.diags.end(), [](auto& a, auto& b) {
        return std::tie(a.where.line, a.where.column) < std::tie(b.where.line, b.where.column);
    });
    // A value merged into several checks may be reported more than once.
    ctx.diags.erase(std::unique(ctx.diags.begin(), ctx.diags.end()), ctx.diags.end());
    result.diagnostics = std::move(ctx.diags);
    return result;
}

LoadResult load_file(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        LoadResult r;
        r.diagnostics.push_back(Diagnostic{SourceLocation{path, 0, 0}, "", "is a directory"});
        return r;
    }
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    if (in) text << in.rdbuf();
    if (!in || in.bad()) {
        LoadResult r;
        r.diagnostics.push_back(
            Diagnostic{SourceLocation{path, 0, 0}, "",
                       "cannot read the file: " + std::string(std::strerror(errno))});
        return r;
    }
    return load_string(text.str(), path);
}

std::string summary(const DirectorConfig& cfg) {
    size_t reals = 0;
    for (auto& s : cfg.services) reals += s.reals.size();
    auto plural = [](size_t n, std::string_view word) {
        return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
    };
    return plural(cfg.services.size(), "service") + ", " + plural(reals, "real server");
}

}  // namespace ballast::config
