#pragma once
// Where the importer gets files from: the disk, or (in tests) a map. The
// importer itself does no I/O of its own.
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ballast::import {

class FileSource {
public:
    virtual ~FileSource() = default;

    struct ReadResult {
        std::optional<std::string> text;  // set on success
        std::string error;                // why not, e.g. "No such file or directory"
    };
    virtual ReadResult read(const std::string& path) = 0;

    struct GlobResult {
        std::vector<std::string> paths;  // sorted; directories end in '/'
        std::string error;               // set when the pattern could not be searched
    };
    // Shell-style pattern (*, ?, [...], {a,b}); no match = empty paths, no error.
    virtual GlobResult glob(const std::string& pattern) = 0;

    // A name that is equal for equal files (include loops are found with it).
    virtual std::string canonical(const std::string& path) = 0;
};

// The real file system: glob(3) with GLOB_BRACE, files up to max_bytes.
class DiskFileSource final : public FileSource {
public:
    explicit DiskFileSource(size_t max_bytes = 16u << 20) : max_bytes_(max_bytes) {}
    ReadResult read(const std::string& path) override;
    GlobResult glob(const std::string& pattern) override;
    std::string canonical(const std::string& path) override;

private:
    size_t max_bytes_;
};

// In-memory files for tests and the fuzzer: glob supports '*' and '?' within
// one path component, and {a,b} alternatives.
class MemoryFileSource final : public FileSource {
public:
    std::map<std::string, std::string> files;
    ReadResult read(const std::string& path) override;
    GlobResult glob(const std::string& pattern) override;
    std::string canonical(const std::string& path) override;
};

}  // namespace ballast::import
