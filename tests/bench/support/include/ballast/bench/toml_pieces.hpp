#pragma once
// The toml++ parse of a ballastd config alone, as ballastd parses a long one
// (director/config/src/load.cpp): split at every per_piece-th "[[service]]" line, the pieces
// parsed on up to four threads, each tree dropped, nothing read into the model. The floor
// under reading the config (director_bench BM_TomlParsePieces, daemon_lab_bench's "p").
// Users link ballast_toml.
#include <toml++/toml.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace ballast::bench {

inline std::vector<std::string_view> service_pieces(std::string_view text, size_t per_piece = 250) {
    std::vector<std::string_view> pieces;
    size_t headers = 0, start = 0;
    for (size_t at = 0; at < text.size();) {
        const size_t end = std::min(text.find('\n', at), text.size());
        if (text.substr(at, end - at) == "[[service]]" && headers++ > 0 &&
            (headers - 1) % per_piece == 0) {
            pieces.push_back(text.substr(start, at - start));
            start = at;
        }
        at = end + 1;
    }
    pieces.push_back(text.substr(start));
    return pieces;
}

// Parses every piece (each named as ballastd names them); returns the [[service]] tables found.
inline size_t parse_pieces(const std::vector<std::string_view>& pieces) {
    std::atomic<size_t> next{0}, services{0};
    const auto work = [&] {
        for (size_t i; (i = next++) < pieces.size();) {
            const auto root = toml::parse(pieces[i], "piece " + std::to_string(i));
            if (const auto* a = root["service"].as_array()) services += a->size();
        }
    };
    std::vector<std::thread> threads;
    const size_t n = std::min<size_t>({4, pieces.size(), std::thread::hardware_concurrency()});
    for (size_t t = 1; t < n; ++t) threads.emplace_back(work);
    work();
    for (auto& t : threads) t.join();
    return services;
}

}  // namespace ballast::bench
