// TOML -> validated DirectorConfig. Every problem is collected with its
// location and key path; a DirectorConfig is returned only when there is none.
// Each section is read by its own file (director_section.cpp,
// check_section.cpp, service_section.cpp, cross_check.cpp) over reader.hpp.
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <thread>

#include "ballast/config/config.hpp"
#include "reader.hpp"
#include "sections.hpp"

namespace ballast::config {

using namespace model;

namespace {

using namespace detail;

// service[i] of `a` into services[i], sized already.
void read_service_range(Ctx& ctx, const toml::array& a, const CheckDraft& defaults,
                        std::vector<ServiceDraft>& services, size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
        auto* t = a.get(i)->as_table();
        if (!t)
            ctx.error(ctx.loc(a.get(i)->source()), index_path("service", i),
                      "expected a table ([[service]]), got " + type_name(a.get(i)->type()));
        else
            read_service(ctx, *t, index_path("service", i), defaults, services[i]);
    }
}

// A long array is read on two threads, this one and one more, the second half with a Ctx of
// its own whose diagnostics and check specs are merged here (one spec object per distinct
// check, as one thread shares them). Every tree was parsed before: what both threads allocate
// now is the config kept and a few strings they free, as when one thread reads. (74cbe43 and
// 85f24c7 read each piece as it was parsed, on the parsing threads: the config could then sit
// among the trees' freed nodes; ballastd's RSS in the lab was 3 MiB higher, and 5.6 MiB in one
// full run.)
void read_service_array(Ctx& ctx, const toml::array& a, const CheckDraft& defaults,
                        std::vector<ServiceDraft>& services) {
    constexpr size_t kOneThread = 500;  // fewer services are read on this thread alone
    const size_t n = a.size(), half = n / 2;
    if (n < kOneThread || std::thread::hardware_concurrency() < 2)
        return read_service_range(ctx, a, defaults, services, 0, n);
    Ctx second(ctx.file);
    second.piece_lines = ctx.piece_lines;
    std::exception_ptr failed;
    {
        std::jthread other;  // joined when this block ends, an exception here included
        try {
            other = std::jthread([&] {
                try {
                    read_service_range(second, a, defaults, services, half, n);
                } catch (...) {
                    failed = std::current_exception();
                }
            });
        } catch (const std::system_error&) {
            return read_service_range(ctx, a, defaults, services, 0, n);
        }
        read_service_range(ctx, a, defaults, services, 0, half);
    }
    if (failed) std::rethrow_exception(failed);
    for (auto& d : second.diags) ctx.diags.push_back(std::move(d));
    for (size_t i = half; i < n; ++i)
        if (auto& check = services[i].cfg.check) check = ctx.share(*check);
}

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
            read_service_array(ctx, *a, defaults, services);
        }
    }
    cross_check(ctx, services, cfg.director);
    cfg.services.reserve(services.size());
    for (auto& s : services) cfg.services.push_back(std::move(s.cfg));
    return cfg;
}

// A line that is exactly "[[service]]" (trailing blanks and a CR allowed) starts a piece.
bool is_service_header(std::string_view line) {
    constexpr std::string_view header = "[[service]]";
    if (line.substr(0, header.size()) != header) return false;
    for (char c : line.substr(header.size()))
        if (c != ' ' && c != '\t' && c != '\r') return false;
    return true;
}

struct Piece {
    std::string_view text;
    uint32_t lines_before = 0;
    toml::table root;
    bool ok = false;
};

// Every element a table of its own [[service]] header (an inline table belongs to an array
// written in one piece, which `[[service]]` may not extend).
bool header_tables(const toml::node* n) {
    const auto* a = n ? n->as_array() : nullptr;
    if (!a || a->empty()) return false;
    for (const auto& e : *a)
        if (!e.is_table() || e.as_table()->is_inline()) return false;
    return true;
}

// toml++ keeps the arrays of tables it has made in a list it searches from the front at every
// [[service.real]] header: quadratic in the services (a fifth of a 5,000 x 10 parse natively).
// So a long document is parsed in pieces, each starting at a "[[service]]" line, on up to four
// threads, and the pieces' services are appended in order. Only where that is the same as one
// parse: every piece after the first must hold nothing but [[service]] tables; a piece that
// fails, or a first piece whose services are not [[service]] tables, sends the whole document
// through one parse, so every error is reported exactly as before. The nodes of a piece carry
// its own source path, by which Ctx::loc adds the lines before it.
toml::table parse_document(std::string_view text, Ctx& ctx, size_t services_per_piece) {
    std::vector<Piece> pieces;
    if (services_per_piece > 0) {
        // Every "[[service]]" line, counted from 0; a piece starts at each services_per_piece-th
        // after the first.
        size_t headers = 0, piece_start = 0;
        uint32_t line = 0;
        for (size_t at = 0; at < text.size(); ++line) {
            const size_t end = std::min(text.find('\n', at), text.size());
            if (is_service_header(text.substr(at, end - at)) && headers++ > 0 &&
                (headers - 1) % services_per_piece == 0) {
                if (pieces.empty()) pieces.push_back(Piece{});
                pieces.back().text = text.substr(piece_start, at - piece_start);
                pieces.push_back(Piece{text.substr(at), line, {}, false});
                piece_start = at;
            }
            at = end + 1;
        }
    }
    if (pieces.size() < 2) return toml::parse(text, ctx.file);

    std::atomic<size_t> next{0};
    const auto work = [&] {
        for (size_t i; (i = next++) < pieces.size();) {
            try {
                pieces[i].root = toml::parse(pieces[i].text, "piece " + std::to_string(i));
                pieces[i].ok = true;
            } catch (const std::exception&) {
            }
        }
    };
    std::vector<std::thread> threads;
    const size_t wanted = std::min<size_t>({4, pieces.size(), std::thread::hardware_concurrency()});
    try {
        for (size_t t = 1; t < wanted; ++t) threads.emplace_back(work);
    } catch (const std::system_error&) {
        // fewer threads: this one parses the rest
    }
    work();
    for (auto& t : threads) t.join();

    bool same = pieces[0].ok && header_tables(pieces[0].root.get("service"));
    for (size_t i = 1; same && i < pieces.size(); ++i)
        same = pieces[i].ok && pieces[i].root.size() == 1 &&
               header_tables(pieces[i].root.get("service"));
    if (!same) return toml::parse(text, ctx.file);

    toml::table root = std::move(pieces[0].root);
    auto& services = *root.get("service")->as_array();
    for (size_t i = 1; i < pieces.size(); ++i) {
        ctx.piece_lines[pieces[i].root.source().path.get()] = pieces[i].lines_before;
        for (auto& e : *pieces[i].root.get("service")->as_array())
            services.push_back(std::move(*e.as_table()));
    }
    return root;
}

// Pieces of 250 [[service]] tables: 20 at 5,000 services, each parsed without the quadratic
// search of a long document.
constexpr size_t kServicesPerPiece = 250;

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
    return load_string(text, std::move(name), kServicesPerPiece);
}

LoadResult load_string(std::string_view text, std::string name, size_t services_per_piece) {
    detail::Ctx ctx(std::move(name));
    LoadResult result;
    try {
        toml::table root = parse_document(text, ctx, services_per_piece);
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
    // Read into one string reserved to the file's size (a stringstream copies it twice: a
    // few ms of a 3 MB config's start natively, ~10x that in the kernel lab). Pipes and other
    // files without a size are read the same way, only without the reservation.
    std::ifstream in(path, std::ios::binary);
    std::string text;
    std::error_code size_ec;
    const auto size = std::filesystem::file_size(path, size_ec);
    if (in && !size_ec) text.reserve(static_cast<size_t>(size));
    std::array<char, 64 * 1024> chunk;
    while (in.read(chunk.data(), chunk.size()) || in.gcount() > 0)
        text.append(chunk.data(), static_cast<size_t>(in.gcount()));
    if (!in.is_open() || in.bad()) {
        LoadResult r;
        r.diagnostics.push_back(
            Diagnostic{SourceLocation{path, 0, 0}, "",
                       "cannot read the file: " + std::string(std::strerror(errno))});
        return r;
    }
    return load_string(text, path);
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
