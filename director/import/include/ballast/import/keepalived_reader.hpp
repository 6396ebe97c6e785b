#pragma once
// keepalived.conf as keepalived 2.2.7 reads it, line by line: comments ('#'
// and '!' outside double quotes; "\#" and "\!" for the characters themselves),
// "include PATTERN" (globs, relative to the including file's folder),
// "@id" / "@^id" conditional lines, "$NAME=value" definitions (also multi-line,
// ending in '\') expanded as $NAME or ${NAME}, and '{' / '}' as separate lines.
// What the importer cannot expand (~SEQ, ~LST, ${_RANDOM}) is listed, not guessed.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ballast/import/file_source.hpp"
#include "ballast/import/source.hpp"

namespace ballast::import {

struct ReaderOptions {
    // keepalived -i ID (it defaults to the host name). Unset: "@id" lines are
    // dropped and "@^id" lines kept, as for a host whose id is none of them,
    // and each such line is listed.
    std::optional<std::string> config_id;
    size_t max_include_depth = 32;
    size_t max_files = 1000;
    size_t max_lines = 1'000'000;       // after includes and definitions
    size_t max_line_bytes = 64 * 1024;  // after definitions
};

// One line as keepalived's parser sees it: a keyword line, "{" or "}".
struct Line {
    SourceRef where;
    std::vector<std::string> words;  // split as keepalived does: blanks, "double quotes"
    std::string text;                // the same line unsplit (for quote-and-escape parsing)
};

struct ReadResult {
    std::vector<Line> lines;
    std::vector<std::string> files;  // every file read, in reading order
    std::vector<NotConverted> not_converted;
    std::vector<std::string> notes;   // worth a comment in the output, e.g. an empty glob
    std::optional<InputError> error;  // set: stop, the input is unreadable
};

ReadResult read_keepalived(const std::string& path, FileSource& files,
                           const ReaderOptions& options = {});

// keepalived's word splitting: blanks separate words; "..." is one word
// without its quotes (no escapes). nullopt when a quote is not closed.
std::optional<std::vector<std::string>> split_words(std::string_view text);

// keepalived's quote-and-escape splitting (misc_path, regex): '...' and "..."
// group words, backslash escapes (\n \t \xHH \ooo \cX ...). nullopt on an
// unclosed quote or a trailing backslash.
std::optional<std::vector<std::string>> split_quoted_escaped(std::string_view text);

}  // namespace ballast::import
