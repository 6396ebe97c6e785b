#pragma once
// Places in the keepalived input, and the two kinds of trouble the importer
// reports: input it cannot read at all, and items it read but cannot convert.
#include <compare>
#include <cstdint>
#include <string>

namespace ballast::import {

struct SourceRef {
    std::string file;
    uint32_t line = 0;  // 0 = the file as a whole
    std::string to_string() const { return line ? file + ":" + std::to_string(line) : file; }
    auto operator<=>(const SourceRef&) const = default;
};

// Unreadable or unparseable input: the import stops.
struct InputError {
    SourceRef where;
    std::string message;
    std::string to_string() const { return where.to_string() + ": " + message; }
};

// Something keepalived would act on that the ballast output does not carry
// (or carries only approximately): "file:line: keyword: why".
struct NotConverted {
    SourceRef where;
    std::string keyword;
    std::string why;
    std::string to_string() const { return where.to_string() + ": " + keyword + ": " + why; }
    auto operator<=>(const NotConverted&) const = default;
};

}  // namespace ballast::import
