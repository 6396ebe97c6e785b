// TOML -> validated DirectorConfig. Every problem is collected with its
// location and key path; a DirectorConfig is returned only when there is none.
// Each section is read by its own file (director_section.cpp,
// check_section.cpp, service_section.cpp, cross_check.cpp) over reader.hpp.
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include "ballast/config/config.hpp"
#include "reader.hpp"
#include "sections.hpp"

namespace ballast::config {

using namespace model;

namespace {

using namespace detail;

// The head of a document: [director] and [defaults], and the root's unknown keys.
void read_head(Ctx& ctx, const toml::table& root, DirectorConfig& cfg, CheckDraft& defaults) {
    Reader r(ctx, root, "", {"director", "defaults", "service"});
    cfg.source_file = ctx.file;
    if (auto* t = r.table("director")) read_director(ctx, *t, cfg.director);
    if (auto* t = r.table("defaults")) {
        Reader d(ctx, *t, "defaults", {"check"});
        if (auto* c = d.table("check")) {
            apply_check(ctx, *c, d.path("check"), defaults, true);
            validate_check(ctx, defaults, Origin{ctx.loc(c->source()), d.path("check")});
        }
    }
    cfg.default_check = defaults.spec;
}

// The [[service]] tables of `a`, the first of them service[first].
void read_services(Ctx& ctx, const toml::array& a, size_t first, const CheckDraft& defaults,
                   std::vector<ServiceDraft>& out) {
    const size_t base = out.size();
    out.resize(base + a.size());
    for (size_t i = 0; i < a.size(); ++i) {
        auto* t = a.get(i)->as_table();
        if (!t)
            ctx.error(ctx.loc(a.get(i)->source()), index_path("service", first + i),
                      "expected a table ([[service]]), got " + type_name(a.get(i)->type()));
        else
            read_service(ctx, *t, index_path("service", first + i), defaults, out[base + i]);
    }
}

DirectorConfig finish(Ctx& ctx, DirectorConfig cfg, std::vector<ServiceDraft>& services) {
    cross_check(ctx, services, cfg.director);
    cfg.services.reserve(services.size());
    for (auto& s : services) cfg.services.push_back(std::move(s.cfg));
    return cfg;
}

DirectorConfig read_root(Ctx& ctx, const toml::table& root) {
    DirectorConfig cfg;
    CheckDraft defaults;
    read_head(ctx, root, cfg, defaults);
    std::vector<ServiceDraft> services;
    if (auto* n = root.get("service")) {
        if (auto* a = n->as_array())
            read_services(ctx, *a, 0, defaults, services);
        else
            ctx.error(
                ctx.loc(n->source()), "service",
                "expected an array of tables: write [[service]], got " + type_name(n->type()));
    }
    return finish(ctx, std::move(cfg), services);
}

// A line that is exactly "[[service]]" (trailing blanks and a CR allowed) starts a piece.
bool is_service_header(std::string_view line) {
    constexpr std::string_view header = "[[service]]";
    if (line.substr(0, header.size()) != header) return false;
    for (char c : line.substr(header.size()))
        if (c != ' ' && c != '\t' && c != '\r') return false;
    return true;
}

// Every element a table of its own [[service]] header (an inline table belongs to an array
// written in one piece, which `[[service]]` may not extend).
bool header_tables(const toml::node* n) {
    const auto* a = n ? n->as_array() : nullptr;
    if (!a || a->empty()) return false;
    for (const auto& e : *a)
        if (!e.is_table() || e.as_table()->is_inline()) return false;
    return true;
}

// One piece of a long document (see read_in_pieces), read on its own.
struct Piece {
    std::string_view text;
    uint32_t lines_before = 0;
    size_t first_service = 0;  // its first [[service]] is service[first_service]
    bool ok = false;           // parsed, of the expected shape, and read
    Ctx ctx;                   // its diagnostics and check specs
    std::vector<ServiceDraft> services;
    explicit Piece(std::string file) : ctx(std::move(file)) {}
};

// The head (piece 0's [director] and [defaults]) as the other pieces wait for it.
class Head {
public:
    void publish(const CheckDraft* defaults) {
        std::lock_guard lock(m_);
        defaults_ = defaults;
        done_ = true;
        cv_.notify_all();
    }
    const CheckDraft* wait() {
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return done_; });
        return defaults_;
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    bool done_ = false;
    const CheckDraft* defaults_ = nullptr;  // null: piece 0 failed
};

// toml++ keeps the arrays of tables it has made in a list it searches from the front at every
// [[service.real]] header: quadratic in the services (a fifth of a 5,000 x 10 parse natively).
// So a long document is parsed in pieces, each starting at a "[[service]]" line, on up to four
// threads of its own. Each thread also reads the services of the piece it parsed and frees the
// piece's tree before the next: the trees never all exist at once (fewer fresh pages, each a
// fault, dear in the kernel lab) and the reading runs in parallel too. The calling thread only
// waits, then copies the config it keeps (see the end). (Read on the calling thread as the
// pieces came in, the frees of other threads' nodes contended for their malloc arenas: 94 ms
// natively at 5,000 x 10 against 66 ms.) Only where that is the same as one parse: every piece
// after the first must hold nothing but [[service]] tables, and each but the last as many as it
// has header lines. Otherwise (a piece that fails to parse, or a first piece whose services are
// not [[service]] tables) nullopt: the caller parses the whole document at once, so every error
// is reported exactly as before. A piece's nodes carry its own source path, by which its Ctx
// adds the lines before it.
std::optional<DirectorConfig> read_in_pieces(std::string_view text, Ctx& ctx,
                                             size_t services_per_piece) {
    if (services_per_piece == 0) return std::nullopt;
    std::vector<std::unique_ptr<Piece>> pieces;
    // Every "[[service]]" line, counted from 0; a piece starts at each services_per_piece-th
    // after the first.
    size_t headers = 0, piece_start = 0;
    uint32_t line = 0;
    for (size_t at = 0; at < text.size(); ++line) {
        const size_t end = std::min(text.find('\n', at), text.size());
        if (is_service_header(text.substr(at, end - at)) && headers++ > 0 &&
            (headers - 1) % services_per_piece == 0) {
            if (pieces.empty()) pieces.push_back(std::make_unique<Piece>(ctx.file));
            pieces.back()->text = text.substr(piece_start, at - piece_start);
            auto next = std::make_unique<Piece>(ctx.file);
            next->text = text.substr(at);
            next->lines_before = line;
            next->first_service = headers - 1;
            pieces.push_back(std::move(next));
            piece_start = at;
        }
        at = end + 1;
    }
    if (pieces.size() < 2) return std::nullopt;

    DirectorConfig cfg;
    CheckDraft defaults;
    Head head;
    // False (the document is then read at once) on any failure, an exception included: this
    // runs on threads of its own, where an escaping exception would end the process.
    const auto read_piece = [&](size_t i) noexcept -> bool {
        try {
            Piece& p = *pieces[i];
            const toml::table root = toml::parse(p.text, "piece " + std::to_string(i));
            p.ctx.piece_lines[root.source().path.get()] = p.lines_before;
            const auto* services = root.get("service");
            if (!header_tables(services) || (i > 0 && root.size() != 1)) return false;
            const auto& array = *services->as_array();
            if (i + 1 < pieces.size() && array.size() != services_per_piece) return false;
            const CheckDraft* d = &defaults;
            if (i == 0) {
                read_head(p.ctx, root, cfg, defaults);
                head.publish(d);
            } else if (!(d = head.wait())) {
                return false;
            }
            read_services(p.ctx, array, p.first_service, *d, p.services);
            return true;  // the tree is freed here, on the thread that made it
        } catch (const std::exception&) {
            return false;
        }
    };
    std::atomic<size_t> next{0};
    const auto work = [&] {
        for (size_t i; (i = next++) < pieces.size();) {
            pieces[i]->ok = read_piece(i);
            if (i == 0 && !pieces[i]->ok) head.publish(nullptr);  // the others stop waiting
        }
    };
    // This thread allocates only the config kept (below), never trees or drafts.
    std::vector<std::thread> threads;
    const size_t wanted =
        std::min<size_t>({4, pieces.size(), std::max(1u, std::thread::hardware_concurrency())});
    try {
        for (size_t t = 0; t < wanted; ++t) threads.emplace_back(work);
    } catch (const std::system_error&) {
        // fewer threads: they read the rest
    }
    if (threads.empty()) work();
    for (auto& t : threads) t.join();
    for (const auto& p : pieces)
        if (!p->ok) return std::nullopt;

    std::vector<ServiceDraft> services;
    services.reserve(headers);
    for (auto& p : pieces) {
        for (auto& d : p->ctx.diags) ctx.diags.push_back(std::move(d));
        for (auto& s : p->services) {
            // One spec object per distinct check across the pieces, as one parse shares them.
            if (s.cfg.check) s.cfg.check = ctx.share(*s.cfg.check);
            services.push_back(std::move(s));
        }
        p.reset();
    }
    // Copied, not moved: the drafts were made on the pieces' threads among their trees' freed
    // nodes, where they would pin those pages (ballastd's RSS +3 MiB in the lab). Copied here,
    // the config sits together and the other threads' heaps empty out for malloc_trim.
    cross_check(ctx, services, cfg.director);
    DirectorConfig out = cfg;
    out.services.reserve(services.size());
    for (const auto& s : services) out.services.push_back(s.cfg);
    return out;
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
        std::optional<DirectorConfig> cfg = read_in_pieces(text, ctx, services_per_piece);
        if (!cfg) {
            ctx = Ctx(ctx.file);  // nothing of the pieces' reading counts
            cfg = read_root(ctx, toml::parse(text, ctx.file));
        }
        if (ctx.diags.empty()) result.config = std::move(*cfg);
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
