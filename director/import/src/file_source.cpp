#include <fnmatch.h>
#include <glob.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "ballast/import/file_source.hpp"

namespace ballast::import {

namespace fs = std::filesystem;

FileSource::ReadResult DiskFileSource::read(const std::string& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) return {std::nullopt, "is a directory"};
    std::ifstream in(path, std::ios::binary);
    if (!in) return {std::nullopt, std::strerror(errno)};
    std::string text;
    char buffer[64 * 1024];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        text.append(buffer, static_cast<size_t>(in.gcount()));
        if (text.size() > max_bytes_)
            return {std::nullopt, "larger than " + std::to_string(max_bytes_) + " bytes"};
    }
    if (in.bad()) return {std::nullopt, std::strerror(errno)};
    return {std::move(text), {}};
}

FileSource::GlobResult DiskFileSource::glob(const std::string& pattern) {
    glob_t g{};
    int rc = ::glob(pattern.c_str(), GLOB_MARK | GLOB_BRACE, nullptr, &g);
    GlobResult out;
    if (rc == 0) {
        for (size_t i = 0; i < g.gl_pathc; ++i) out.paths.emplace_back(g.gl_pathv[i]);
    } else if (rc == GLOB_ABORTED) {
        out.error = "cannot read a folder of the pattern";
    } else if (rc == GLOB_NOSPACE) {
        out.error = "out of memory";
    }
    globfree(&g);
    return out;
}

std::string DiskFileSource::canonical(const std::string& path) {
    std::error_code ec;
    auto p = fs::weakly_canonical(path, ec);
    return ec ? path : p.string();
}

namespace {

// "a//b/./c/../d" -> "a/b/d"; keeps a leading '/'.
std::string normalize(const std::string& path) {
    std::vector<std::string> parts;
    std::stringstream in(path);
    std::string part;
    while (std::getline(in, part, '/')) {
        if (part.empty() || part == ".") continue;
        if (part == ".." && !parts.empty() && parts.back() != "..")
            parts.pop_back();
        else
            parts.push_back(part);
    }
    std::string out = !path.empty() && path[0] == '/' ? "/" : "";
    for (size_t i = 0; i < parts.size(); ++i) out += (i ? "/" : "") + parts[i];
    return out.empty() ? "." : out;
}

// "{a,b}x{1,2}" -> a x 1, a x 2, ...; at most `limit` results.
void expand_braces(const std::string& s, std::vector<std::string>& out, size_t limit) {
    if (out.size() >= limit) return;
    size_t open = s.find('{');
    if (open == std::string::npos) {
        out.push_back(s);
        return;
    }
    int depth = 0;
    size_t close = std::string::npos;
    std::vector<size_t> commas;
    for (size_t i = open; i < s.size(); ++i) {
        if (s[i] == '{') ++depth;
        if (s[i] == '}' && --depth == 0) {
            close = i;
            break;
        }
        if (s[i] == ',' && depth == 1) commas.push_back(i);
    }
    if (close == std::string::npos) {
        out.push_back(s);
        return;
    }
    size_t start = open + 1;
    commas.push_back(close);
    for (size_t c : commas) {
        expand_braces(s.substr(0, open) + s.substr(start, c - start) + s.substr(close + 1), out,
                      limit);
        start = c + 1;
    }
}

}  // namespace

FileSource::ReadResult MemoryFileSource::read(const std::string& path) {
    auto it = files.find(normalize(path));
    if (it != files.end()) return {it->second, {}};
    std::string dir = normalize(path) + "/";
    for (auto& [name, text] : files)
        if (name.rfind(dir, 0) == 0) return {std::nullopt, "is a directory"};
    return {std::nullopt, "No such file or directory"};
}

FileSource::GlobResult MemoryFileSource::glob(const std::string& pattern) {
    std::set<std::string> candidates;  // files, and folders with a trailing '/'
    for (auto& [name, text] : files) {
        candidates.insert(name);
        for (size_t slash = name.find('/', 1); slash != std::string::npos;
             slash = name.find('/', slash + 1))
            candidates.insert(name.substr(0, slash) + "/");
    }
    std::vector<std::string> patterns;
    expand_braces(pattern, patterns, 256);
    std::set<std::string> matches;
    for (auto& p : patterns) {
        std::string want = normalize(p);
        for (auto& c : candidates) {
            bool dir = c.back() == '/';
            std::string bare = dir ? c.substr(0, c.size() - 1) : c;
            if (fnmatch(want.c_str(), bare.c_str(), FNM_PATHNAME | FNM_PERIOD) == 0)
                matches.insert(c);
        }
    }
    return {std::vector<std::string>(matches.begin(), matches.end()), {}};
}

std::string MemoryFileSource::canonical(const std::string& path) {
    return normalize(path);
}

}  // namespace ballast::import
