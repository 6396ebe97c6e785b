// Follows keepalived 2.2.7's read_line() (lib/parser.c): decomment, '@'
// conditionals, '$' definitions, include, then '{' / '}' split off.
#include <algorithm>
#include <cctype>
#include <map>

#include "ballast/import/keepalived_reader.hpp"

namespace ballast::import {

namespace {

bool is_blank(char c) {
    return c == ' ' || c == '\t';
}
bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_name_start(char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool is_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

void trim_trailing_blanks(std::string& s) {
    while (!s.empty() && is_blank(s.back())) s.pop_back();
}

struct Decommented {
    std::string text;
    bool unclosed_quote = false;
};

// keepalived's decomment(): drop leading blanks and everything from a '#' or
// '!' outside double quotes; "\#" and "\!" outside quotes are the characters;
// a trailing backslash (continuation of a definition) is kept.
Decommented decomment(std::string_view in) {
    size_t start = 0;
    while (start < in.size() && is_blank(in[start])) ++start;
    std::string s(in.substr(start));
    bool quote = false, cont = false;
    size_t skip = std::string::npos;
    for (size_t p = 0; p < s.size();) {
        char c = s[p];
        if (c == '"') {
            if (skip == std::string::npos) quote = !quote;
            ++p;
        } else if (c == '\\') {
            if (p + 1 < s.size()) {
                if (!quote && (s[p + 1] == '#' || s[p + 1] == '!')) {
                    s.erase(p, 1);
                    ++p;
                } else {
                    p += 2;
                }
            } else {
                s.erase(p);
                cont = true;
                break;
            }
        } else if (!quote && skip == std::string::npos && (c == '!' || c == '#')) {
            skip = p;
            ++p;
        } else {
            ++p;
        }
    }
    Decommented out;
    out.unclosed_quote = quote;
    if (skip != std::string::npos) {
        s.erase(skip);
        cont = false;
    }
    trim_trailing_blanks(s);
    if (cont) s += '\\';
    out.text = std::move(s);
    return out;
}

bool has_wildcard(std::string_view s) {
    return s.find_first_of("*?[{") != std::string_view::npos;
}

std::string dirname_of(const std::string& path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos) return "";
    return slash == 0 ? "/" : path.substr(0, slash);
}

struct Definition {
    std::vector<std::string> lines;  // one, or several for a multi-line definition
    bool multiline = false;
};

class Reader {
public:
    Reader(FileSource& files, const ReaderOptions& options, ReadResult& out)
        : files_(files), options_(options), out_(out) {}

    void read_file(const std::string& path, const SourceRef& included_from) {
        if (failed()) return;
        auto fail_here = [&](std::string message) {
            out_.error = InputError{included_from.line ? included_from : SourceRef{path, 0},
                                    std::move(message)};
        };
        if (open_.size() >= options_.max_include_depth)
            return fail_here("include: files nest deeper than " +
                             std::to_string(options_.max_include_depth) + " levels");
        if (++files_read_ > options_.max_files)
            return fail_here("include: more than " + std::to_string(options_.max_files) + " files");
        std::string canonical = files_.canonical(path);
        auto loop = std::find_if(open_.begin(), open_.end(),
                                 [&](const OpenFile& f) { return f.canonical == canonical; });
        if (loop != open_.end()) {
            std::string chain;
            for (auto it = loop; it != open_.end(); ++it) chain += it->name + " -> ";
            return fail_here("include loop: " + chain + path);
        }
        auto read = files_.read(path);
        if (!read.text)
            return fail_here(included_from.line
                                 ? "include: cannot read '" + path + "': " + read.error
                                 : "cannot read the file: " + read.error);
        open_.push_back(OpenFile{path, canonical});
        out_.files.push_back(path);
        const std::string dir = dirname_of(path);
        const std::string& text = *read.text;
        uint32_t line_no = 0;
        for (size_t pos = 0; pos <= text.size() && !failed();) {
            size_t nl = text.find('\n', pos);
            if (nl == std::string::npos && pos == text.size()) break;
            size_t end = nl == std::string::npos ? text.size() : nl;
            std::string_view raw(text.data() + pos, end - pos);
            while (!raw.empty() && (raw.back() == '\r' || raw.back() == '\n')) raw.remove_suffix(1);
            ++line_no;
            physical_line(raw, SourceRef{path, line_no}, dir);
            pos = end + 1;
        }
        open_.pop_back();
    }

private:
    struct OpenFile {
        std::string name, canonical;
    };

    bool failed() const { return out_.error.has_value(); }
    void fail(const SourceRef& where, std::string message) {
        if (!failed()) out_.error = InputError{where, std::move(message)};
    }
    void not_converted(const SourceRef& where, std::string keyword, std::string why) {
        out_.not_converted.push_back(NotConverted{where, std::move(keyword), std::move(why)});
    }

    void physical_line(std::string_view raw, const SourceRef& where, const std::string& dir) {
        if (multiline_def_) {
            // A blank line ends a multi-line definition; a comment-only line does not.
            if (raw.empty()) {
                multiline_def_ = nullptr;
                return;
            }
        }
        auto d = decomment(raw);
        if (d.text.empty()) return;
        if (d.unclosed_quote) return fail(where, "missing closing '\"'");
        if (multiline_def_) {
            std::string s = std::move(d.text);
            bool more = s.back() == '\\';
            if (more) {
                s.pop_back();
                trim_trailing_blanks(s);
            }
            if (!s.empty()) multiline_def_->lines.push_back(s);
            if (!more) multiline_def_ = nullptr;
            return;
        }
        logical_line(std::move(d.text), where, dir, 0);
    }

    // The rest of read_line(): conditionals, definitions, include, braces.
    void logical_line(std::string s, const SourceRef& where, const std::string& dir, int depth) {
        if (failed()) return;
        if (depth > 16) return fail(where, "definitions expand too deeply (more than 16 levels)");
        std::vector<std::string> continuation;  // further lines of a multi-line definition
        for (int round = 0;; ++round) {
            if (round > 256) return fail(where, "definitions expand endlessly");
            if (s.empty()) return;
            if (s[0] == '@') {
                if (!conditional(s, where)) return;
                continue;
            }
            if (s[0] == '$' && define(s)) return;
            if (s.rfind("~SEQ", 0) == 0 || s.rfind("~LST", 0) == 0) {
                not_converted(where, s.substr(0, 4),
                              "keepalived's sequence/list expansion is not supported by the "
                              "importer: the lines it would generate are not converted");
                return;
            }
            if (s[0] == '~' || s.find('$') == std::string::npos) break;
            if (!substitute(s, where, dir, continuation)) break;
            if (failed()) return;
            if (s.size() > options_.max_line_bytes)
                return fail(where, "a line grows beyond " +
                                       std::to_string(options_.max_line_bytes) +
                                       " bytes through definitions");
            auto d = decomment(s);
            s = std::move(d.text);
            if (s.empty() || (s[0] != '@' && s.find('$') == std::string::npos)) break;
        }
        if (!s.empty()) {
            if (is_include(s))
                include(s, where, dir);
            else
                split_braces(s, where);
        }
        for (auto& next : continuation) logical_line(next, where, dir, depth + 1);
    }

    // "@id rest" / "@^id rest": false when the line is dropped.
    bool conditional(std::string& s, const SourceRef& where) {
        bool reverse = s.size() > 1 && s[1] == '^';
        size_t ofs = reverse ? 2 : 1;
        size_t blank = s.find_first_of(" \t", ofs);
        if (blank == std::string::npos) return false;  // nothing after the id
        std::string id = s.substr(ofs, blank - ofs);
        bool mismatch = !options_.config_id || *options_.config_id != id;
        if (!options_.config_id)
            not_converted(
                where, std::string(reverse ? "@^" : "@") + id,
                std::string("conditional line ") + (reverse ? "kept" : "dropped") +
                    " as for a host whose config id is none of the ids in the file; "
                    "give --config-id (keepalived's -i, default the host name) to choose");
        if (mismatch != reverse) return false;
        size_t rest = blank;
        while (rest < s.size() && is_blank(s[rest])) ++rest;
        s.erase(0, rest);
        return true;
    }

    // "$NAME=value" (blanks allowed before '='); a trailing '\' starts a
    // multi-line definition. false when the line is not a definition.
    bool define(const std::string& s) {
        if (s.size() < 2 || !is_name_start(s[1])) return false;
        size_t p = 2;
        while (p < s.size() && s[p] != '=' && is_name_char(s[p])) ++p;
        std::string name = s.substr(1, p - 1);
        while (p < s.size() && is_blank(s[p])) ++p;
        if (p >= s.size() || s[p] != '=') return false;
        ++p;
        while (p < s.size() && is_blank(s[p])) ++p;
        std::string value = s.substr(p);
        Definition def;
        if (!value.empty() && value.back() == '\\') {
            value.pop_back();
            trim_trailing_blanks(value);
            def.multiline = true;
        }
        if (!value.empty() || !def.multiline) def.lines.push_back(value);
        auto& slot = defs_[name] = std::move(def);
        if (slot.multiline) multiline_def_ = &slot;
        return true;
    }

    // One pass of replace_param(): every $NAME / ${NAME} that names a
    // definition is replaced; false when none did.
    bool substitute(std::string& s, const SourceRef& where, const std::string& dir,
                    std::vector<std::string>& continuation) {
        bool found = false;
        size_t replaced = 0;
        for (size_t pos = s.find('$'); pos != std::string::npos && pos + 1 < s.size();
             pos = s.find('$', pos)) {
            bool braces = s[pos + 1] == '{';
            size_t name_start = pos + 1 + (braces ? 1 : 0);
            size_t p = name_start;
            if (p >= s.size() || !is_name_start(s[p])) {
                ++pos;
                continue;
            }
            while (p < s.size() && is_name_char(s[p])) ++p;
            std::string name = s.substr(name_start, p - name_start);
            bool params = false;
            size_t end;  // one past the reference
            if (braces) {
                size_t q = p;
                while (q < s.size() &&
                       (s[q] == ' ' || std::isdigit(static_cast<unsigned char>(s[q])))) {
                    if (s[q] != ' ') params = true;
                    ++q;
                }
                if (q >= s.size() || s[q] != '}' || (q > p && s[q - 1] == ' ')) {
                    ++pos;
                    continue;
                }
                end = q + 1;
            } else {
                if (p < s.size() && s[p] != ' ' && s[p] != '\t' && s[p] != ',' && s[p] != ')') {
                    ++pos;
                    continue;
                }
                end = p;
            }
            bool at_end = end == s.size();
            std::optional<std::vector<std::string>> value = lookup(name, where, dir);
            if (failed()) return false;
            if (!value || (value->size() > 1 && !at_end) || (params && name != "_RANDOM")) {
                ++pos;
                continue;
            }
            if (++replaced > 256) {
                fail(where, "definitions expand endlessly");
                return false;
            }
            found = true;
            std::string first = value->empty() ? "" : (*value)[0];
            s.replace(pos, end - pos, first);
            for (size_t i = 1; i < value->size(); ++i) continuation.push_back((*value)[i]);
            if (s.size() > options_.max_line_bytes) return true;
            // keepalived rescans the replacement text itself: a definition may name another.
            size_t lead = first.find_first_not_of(" \t");
            if (lead != std::string::npos && first[lead] == '~') break;
        }
        return found;
    }

    std::optional<std::vector<std::string>> lookup(const std::string& name, const SourceRef& where,
                                                   const std::string& dir) {
        auto it = defs_.find(name);
        if (it != defs_.end()) return it->second.lines;
        if (name == "_HASH") return std::vector<std::string>{"#"};
        if (name == "_BANG") return std::vector<std::string>{"!"};
        if (name == "_PWD")
            return std::vector<std::string>{files_.canonical(dir.empty() ? "." : dir)};
        if (name == "_INSTANCE") {
            if (options_.config_id) return std::vector<std::string>{*options_.config_id};
            not_converted(where, "$_INSTANCE",
                          "the config id is not known: give --config-id; left as written");
            return std::nullopt;
        }
        if (name == "_RANDOM") {
            not_converted(where, "$_RANDOM",
                          "a random number cannot be converted; left as written");
            return std::nullopt;
        }
        return std::nullopt;
    }

    static bool is_include(const std::string& s) {
        if (s.rfind("include", 0) != 0 || s.size() < 8) return false;
        if (is_space(s[7])) return true;
        return s.size() > 8 && is_space(s[8]) &&
               std::string_view("rmwba").find(s[7]) != std::string_view::npos;
    }

    void include(const std::string& s, const SourceRef& where, const std::string& dir) {
        size_t p = is_space(s[7]) ? 8 : 9;
        while (p < s.size() && is_blank(s[p])) ++p;
        std::string pattern = s.substr(p);
        if (pattern.empty()) return fail(where, "include: no file named");
        std::string resolved =
            pattern[0] == '/' || dir.empty() ? pattern : (dir == "/" ? "/" : dir + "/") + pattern;
        auto g = files_.glob(resolved);
        if (!g.error.empty()) return fail(where, "include '" + resolved + "': " + g.error);
        if (g.paths.empty()) {
            if (!has_wildcard(pattern))
                return fail(where,
                            "include: cannot read '" + resolved + "': No such file or directory");
            out_.notes.push_back(where.to_string() + ": include " + pattern + " matched no files");
            return;
        }
        for (auto& path : g.paths) {
            if (failed()) return;
            if (!path.empty() && path.back() == '/') {
                not_converted(where, "include",
                              "'" + path + "' is a folder: skipped (keepalived skips it too)");
                continue;
            }
            read_file(path, where);
        }
    }

    // '{' and '}' outside double quotes become lines of their own.
    void split_braces(std::string s, const SourceRef& where) {
        while (!s.empty() && !failed()) {
            size_t p = 0;
            if (s[0] != '{' && s[0] != '}') {
                p = std::string::npos;
                for (size_t i = 0; i < s.size(); ++i) {
                    if (s[i] == '"') {
                        size_t close = s.find('"', i + 1);
                        if (close == std::string::npos) break;
                        i = close;
                    } else if (s[i] == '{' || s[i] == '}') {
                        p = i;
                        break;
                    }
                }
            }
            std::string head, rest;
            if (p == std::string::npos) {
                head = std::move(s);
            } else if (p == 0) {
                head = s.substr(0, 1);
                size_t r = 1;
                while (r < s.size() && is_blank(s[r])) ++r;
                rest = s.substr(r);
            } else {
                head = s.substr(0, p);
                rest = s.substr(p);
            }
            trim_trailing_blanks(head);
            if (!head.empty()) push_line(head, where);
            s = std::move(rest);
        }
    }

    void push_line(const std::string& text, const SourceRef& where) {
        auto words = split_words(text);
        if (!words) return fail(where, "missing closing '\"'");
        if (words->empty()) return;
        if (out_.lines.size() >= options_.max_lines)
            return fail(where, "more than " + std::to_string(options_.max_lines) + " lines");
        out_.lines.push_back(Line{where, std::move(*words), text});
    }

    FileSource& files_;
    const ReaderOptions& options_;
    ReadResult& out_;
    std::vector<OpenFile> open_;
    size_t files_read_ = 0;
    std::map<std::string, Definition> defs_;
    Definition* multiline_def_ = nullptr;
};

}  // namespace

ReadResult read_keepalived(const std::string& path, FileSource& files,
                           const ReaderOptions& options) {
    ReadResult out;
    Reader reader(files, options, out);
    reader.read_file(path, SourceRef{path, 0});
    if (out.error) out.lines.clear();
    return out;
}

std::optional<std::vector<std::string>> split_words(std::string_view text) {
    std::vector<std::string> words;
    size_t p = 0;
    while (true) {
        while (p < text.size() && is_space(text[p])) ++p;
        if (p >= text.size()) break;
        if (text[p] == '"') {
            size_t close = text.find('"', p + 1);
            if (close == std::string_view::npos) return std::nullopt;
            words.emplace_back(text.substr(p + 1, close - p - 1));
            p = close + 1;
        } else {
            size_t end = p;
            while (end < text.size() && !is_space(text[end]) && text[end] != '"') ++end;
            words.emplace_back(text.substr(p, end - p));
            p = end;
        }
    }
    return words;
}

std::optional<std::vector<std::string>> split_quoted_escaped(std::string_view text) {
    std::vector<std::string> words;
    size_t p = 0;
    auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
    auto hex_value = [](char c) {
        return std::isdigit(static_cast<unsigned char>(c))
                   ? c - '0'
                   : 10 + (std::toupper(static_cast<unsigned char>(c)) - 'A');
    };
    while (true) {
        while (p < text.size() && is_space(text[p])) ++p;
        if (p >= text.size()) break;
        std::string word;
        char quote = 0;
        while (p < text.size()) {
            char c = text[p];
            if (c == '\\') {
                if (++p >= text.size()) return std::nullopt;
                char e = text[p];
                char out;
                if (e == 'x' && p + 1 < text.size() && hex(text[p + 1])) {
                    unsigned v = 0;
                    for (++p; p < text.size() && hex(text[p]); ++p)
                        v = (v << 4) | unsigned(hex_value(text[p]));
                    out = static_cast<char>(v & 0xff);
                } else if (e == 'c' && p + 1 < text.size()) {
                    out = static_cast<char>(text[p + 1] & 0x1f);
                    p += 2;
                } else if (e >= '0' && e <= '7') {
                    unsigned v = unsigned(e - '0');
                    ++p;
                    for (int i = 0; i < 2 && p < text.size() && text[p] >= '0' && text[p] <= '7';
                         ++i, ++p)
                        v = (v << 3) + unsigned(text[p] - '0');
                    out = static_cast<char>(v & 0xff);
                } else {
                    switch (e) {
                        case 'a':
                            out = '\a';
                            break;
                        case 'b':
                            out = '\b';
                            break;
                        case 'E':
                            out = '\x1b';
                            break;
                        case 'f':
                            out = '\f';
                            break;
                        case 'n':
                            out = '\n';
                            break;
                        case 'r':
                            out = '\r';
                            break;
                        case 't':
                            out = '\t';
                            break;
                        case 'v':
                            out = '\v';
                            break;
                        default:
                            out = e;
                            break;
                    }
                    ++p;
                }
                word += out;
                continue;
            }
            if (quote) {
                if (c == quote)
                    quote = 0;
                else
                    word += c;
                ++p;
                continue;
            }
            if (c == '"' || c == '\'') {
                quote = c;
                ++p;
                continue;
            }
            if (is_space(c)) break;
            word += c;
            ++p;
        }
        if (quote) return std::nullopt;
        words.push_back(std::move(word));
    }
    return words;
}

}  // namespace ballast::import
