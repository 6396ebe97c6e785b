#include "ballast/import/keepalived_parser.hpp"

namespace ballast::import {

namespace {

class Parser {
public:
    Parser(const std::vector<Line>& lines, size_t max_depth, ParseResult& out)
        : lines_(lines), max_depth_(max_depth), out_(out) {}

    // Reads statements into `into` until the matching '}' (opened != nullptr)
    // or the end of the input.
    void block(std::vector<Node>& into, const Node* opened, size_t depth) {
        while (i_ < lines_.size() && !out_.error) {
            const Line& line = lines_[i_];
            const std::string& first = line.words.front();
            if (first == "}") {
                ++i_;
                if (opened) return;
                return fail(line.where, "'}' without a block to close");
            }
            if (first == "{") {
                // keepalived takes a '{' on the line after the keyword as its block.
                bool after_keyword = !into.empty() && !into.back().has_block && i_ > 0 &&
                                     lines_[i_ - 1].words.front() != "}" &&
                                     lines_[i_ - 1].words.front() != "{";
                if (!after_keyword) return fail(line.where, "'{' without a keyword before it");
                ++i_;
                open(into.back(), depth);
                continue;
            }
            into.push_back(Node{line.where, line.words, line.text, false, {}});
            ++i_;
        }
        if (opened && !out_.error)
            fail(opened->where, "block '" + opened->keyword() + "' is not closed (missing '}')");
    }

private:
    void open(Node& node, size_t depth) {
        if (depth + 1 > max_depth_)
            return fail(node.where,
                        "blocks nest deeper than " + std::to_string(max_depth_) + " levels");
        node.has_block = true;
        std::vector<Node> children;
        block(children, &node, depth + 1);
        node.children = std::move(children);
    }
    void fail(const SourceRef& where, std::string message) {
        if (!out_.error) out_.error = InputError{where, std::move(message)};
    }

    const std::vector<Line>& lines_;
    size_t max_depth_;
    ParseResult& out_;
    size_t i_ = 0;
};

}  // namespace

ParseResult parse_keepalived(const std::vector<Line>& lines, size_t max_depth) {
    ParseResult out;
    Parser parser(lines, max_depth, out);
    parser.block(out.nodes, nullptr, 0);
    if (out.error) out.nodes.clear();
    return out;
}

}  // namespace ballast::import
