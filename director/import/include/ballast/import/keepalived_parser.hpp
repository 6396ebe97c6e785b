#pragma once
// keepalived lines -> a tree of keyword nodes. A keyword line followed by '{'
// (on the same line or the next) owns the lines up to the matching '}'.
#include <optional>
#include <string>
#include <vector>

#include "ballast/import/keepalived_reader.hpp"

namespace ballast::import {

struct Node {
    SourceRef where;
    std::vector<std::string> words;  // words[0] is the keyword
    std::string text;                // the line unsplit
    bool has_block = false;
    std::vector<Node> children;

    const std::string& keyword() const { return words.front(); }
    // words[i], or "" when the line is shorter.
    const std::string& word(size_t i) const {
        static const std::string empty;
        return i < words.size() ? words[i] : empty;
    }
};

struct ParseResult {
    std::vector<Node> nodes;
    std::optional<InputError> error;  // unbalanced braces, nesting too deep
};

ParseResult parse_keepalived(const std::vector<Line>& lines, size_t max_depth = 32);

}  // namespace ballast::import
