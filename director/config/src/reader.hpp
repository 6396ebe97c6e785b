// Internals of load.cpp shared by the section readers: the diagnostic
// context, where a value came from, and Reader (one TOML table, unknown keys
// reported). Not a public header.
#pragma once

#include <toml++/toml.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ballast/config/config.hpp"
#include "ballast/config/duration.hpp"

namespace ballast::config::detail {

using namespace model;

// " (did you mean 'weight'?)" when one candidate is close enough, else "".
std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates);
std::string join(const std::vector<std::string_view>& words);
std::string child_path(const std::string& parent, std::string_view key);
std::string index_path(const std::string& parent, size_t i);
std::string type_name(toml::node_type t);
std::string family_name(uint8_t family);

struct Ctx {
    explicit Ctx(std::string file_name) : file(std::move(file_name)), whole_file{file, 0, 0} {}
    std::string file;
    SourceLocation whole_file;  // the file's name looked up once: every location copies it
    std::vector<Diagnostic> diags;
    // Each distinct check spec of the file once: services whose checks are equal share it.
    std::map<CheckSpec, Shared<CheckSpec>> checks;

    Shared<CheckSpec> share(const CheckSpec& spec) {
        auto it = checks.find(spec);
        if (it == checks.end()) it = checks.emplace(spec, spec).first;
        return it->second;
    }
    SourceLocation loc(const toml::source_region& r) const {
        uint32_t lines_before = 0;
        if (!piece_lines.empty())
            if (auto it = piece_lines.find(r.path.get()); it != piece_lines.end())
                lines_before = it->second;
        return whole_file.at(r.begin.line + lines_before, r.begin.column);
    }
    // A document parsed in pieces (load.cpp): the lines before each piece, by the source path
    // its nodes carry.
    std::unordered_map<const std::string*, uint32_t> piece_lines;
    void error(SourceLocation where, std::string path, std::string message) {
        diags.push_back(Diagnostic{std::move(where), std::move(path), std::move(message)});
    }
    std::string line_of(const SourceLocation& l) const { return "line " + std::to_string(l.line); }
};

// Where a value came from: for errors found after merging and cross-checks.
struct Origin {
    SourceLocation where;
    std::string path;
};

// Reads one TOML table: every key must be in `known`; others are reported at
// their own position, with a suggestion when one is close.
class Reader {
public:
    // `known` is only looked at here: a list in braces, or a table's constant.
    Reader(Ctx& ctx, const toml::table& t, std::string path,
           std::initializer_list<std::string_view> known)
        : Reader(ctx, t, std::move(path), std::span(known.begin(), known.size())) {}
    Reader(Ctx& ctx, const toml::table& t, std::string path,
           std::span<const std::string_view> known)
        : ctx_(ctx), t_(t), path_(std::move(path)) {
        for (auto&& [k, v] : t_) {
            if (std::find(known.begin(), known.end(), k.str()) != known.end()) continue;
            ctx_.error(ctx_.loc(k.source()), child_path(path_, k.str()),
                       "unknown key '" + std::string(k.str()) + "'" +
                           did_you_mean(k.str(), {known.begin(), known.end()}));
        }
    }

    const toml::node* node(std::string_view key) const { return t_.get(key); }
    bool has(std::string_view key) const { return node(key) != nullptr; }
    std::string path(std::string_view key) const { return child_path(path_, key); }
    const std::string& path() const { return path_; }
    SourceLocation self() const { return ctx_.loc(t_.source()); }
    Origin origin() const { return {self(), path_}; }
    // The value's position, or the table's when the key is absent.
    SourceLocation at(std::string_view key) const {
        auto* n = node(key);
        return n ? ctx_.loc(n->source()) : self();
    }
    Origin origin(std::string_view key) const { return {at(key), path(key)}; }

    void error(std::string_view key, std::string message) const {
        ctx_.error(at(key), path(key), std::move(message));
    }
    void error_self(std::string message) const { ctx_.error(self(), path_, std::move(message)); }
    void missing(std::string_view key) const {
        ctx_.error(self(), path_, "missing required key '" + std::string(key) + "'");
    }
    void forbid(std::string_view key, std::string_view why) const {
        if (has(key)) error(key, "'" + std::string(key) + "' " + std::string(why));
    }

    std::optional<std::string> str(std::string_view key) const {
        if (auto t = text(key)) return std::string(*t);
        return std::nullopt;
    }
    // The string without a copy: it lives as long as the table.
    std::optional<std::string_view> text(std::string_view key) const {
        auto* n = node(key);
        if (!n) return std::nullopt;
        if (!expect(key, *n, toml::node_type::string)) return std::nullopt;
        return std::string_view(n->as_string()->get());
    }
    std::optional<bool> boolean(std::string_view key) const {
        auto* n = node(key);
        if (!n) return std::nullopt;
        if (!expect(key, *n, toml::node_type::boolean)) return std::nullopt;
        return n->as_boolean()->get();
    }
    // The key's path is made only for an error (a config has a path per value otherwise).
    std::optional<int64_t> integer(std::string_view key, int64_t min, int64_t max) const {
        auto* n = node(key);
        if (!n) return std::nullopt;
        if (auto* i = n->as_integer(); i && i->get() >= min && i->get() <= max) return i->get();
        return integer_value(ctx_, *n, path(key), min, max);
    }
    std::optional<Millis> duration(std::string_view key) const {
        auto* n = node(key);
        if (!n) return std::nullopt;
        if (auto* text = n->as_string()) {
            auto parsed = parse_duration(text->get());
            if (auto* ms = std::get_if<Millis>(&parsed)) return *ms;
        }
        return duration_value(ctx_, *n, path(key));
    }
    const toml::table* table(std::string_view key) const {
        auto* n = node(key);
        if (!n || !expect(key, *n, toml::node_type::table)) return nullptr;
        return n->as_table();
    }
    const toml::array* array(std::string_view key) const {
        auto* n = node(key);
        if (!n || !expect(key, *n, toml::node_type::array)) return nullptr;
        return n->as_array();
    }
    // An array of strings; nullopt when absent or any element is wrong.
    std::optional<std::vector<std::string>> strings(std::string_view key) const {
        auto* a = array(key);
        if (!a) return std::nullopt;
        std::vector<std::string> out;
        bool ok = true;
        for (size_t i = 0; i < a->size(); ++i) {
            auto& n = *a->get(i);
            if (!n.is_string()) {
                ctx_.error(ctx_.loc(n.source()), index_path(path(key), i),
                           "expected a string, got " + type_name(n.type()));
                ok = false;
                continue;
            }
            out.push_back(n.as_string()->get());
        }
        if (!ok) return std::nullopt;
        return out;
    }

    static std::optional<int64_t> integer_value(Ctx& ctx, const toml::node& n,
                                                const std::string& path, int64_t min, int64_t max) {
        if (!n.is_integer()) {
            ctx.error(ctx.loc(n.source()), path, "expected an integer, got " + type_name(n.type()));
            return std::nullopt;
        }
        int64_t v = n.as_integer()->get();
        if (v < min || v > max) {
            ctx.error(ctx.loc(n.source()), path,
                      "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                          ", got " + std::to_string(v));
            return std::nullopt;
        }
        return v;
    }
    static std::optional<Millis> duration_value(Ctx& ctx, const toml::node& n,
                                                const std::string& path) {
        if (!n.is_string()) {
            ctx.error(
                ctx.loc(n.source()), path,
                "expected a duration string like \"2s\" or \"500ms\", got " + type_name(n.type()));
            return std::nullopt;
        }
        auto parsed = parse_duration(n.as_string()->get());
        if (auto* why = std::get_if<std::string>(&parsed)) {
            ctx.error(ctx.loc(n.source()), path, *why);
            return std::nullopt;
        }
        return std::get<Millis>(parsed);
    }

private:
    bool expect(std::string_view key, const toml::node& n, toml::node_type want) const {
        if (n.type() == want) return true;
        ctx_.error(ctx_.loc(n.source()), path(key),
                   "expected " + type_name(want) + ", got " + type_name(n.type()));
        return false;
    }

    Ctx& ctx_;
    const toml::table& t_;
    std::string path_;
};

}  // namespace ballast::config::detail
