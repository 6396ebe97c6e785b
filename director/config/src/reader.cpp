// Reader helpers: key paths, type names and "did you mean" suggestions.
#include "reader.hpp"

namespace ballast::config::detail {

namespace {

size_t edit_distance(std::string_view a, std::string_view b) {
    // Optimal string alignment: a transposition ("wieght") costs one edit.
    std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
    for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.size()][b.size()];
}

}  // namespace

// " (did you mean 'weight'?)" when one candidate is close enough, else "".
std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates) {
    if (word.size() > 64) return {};
    std::string_view best;
    size_t best_distance = 3;  // at most two edits
    for (auto c : candidates) {
        size_t dist = edit_distance(word, c);
        if (dist < best_distance && dist < std::max(word.size(), c.size())) {
            best = c;
            best_distance = dist;
        }
    }
    return best.empty() ? std::string() : " (did you mean '" + std::string(best) + "'?)";
}

std::string join(const std::vector<std::string_view>& words) {
    std::string out;
    for (auto w : words) out += (out.empty() ? "" : ", ") + std::string(w);
    return out;
}

std::string quote_key(std::string_view key) {
    bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
    return bare ? std::string(key) : "\"" + std::string(key) + "\"";
}

std::string child_path(const std::string& parent, std::string_view key) {
    return parent.empty() ? quote_key(key) : parent + "." + quote_key(key);
}

std::string index_path(const std::string& parent, size_t i) {
    return parent + "[" + std::to_string(i) + "]";
}

std::string type_name(toml::node_type t) {
    switch (t) {
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a float";
        case toml::node_type::boolean:
            return "a boolean";
        case toml::node_type::date:
        case toml::node_type::time:
        case toml::node_type::date_time:
            return "a date/time";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::table:
            return "a table";
        case toml::node_type::none:
            break;
    }
    return "nothing";
}

std::string family_name(uint8_t family) {
    return family == AF_INET6 ? "IPv6" : "IPv4";
}

}  // namespace ballast::config::detail
