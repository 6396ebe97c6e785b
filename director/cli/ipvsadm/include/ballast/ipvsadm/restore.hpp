#pragma once
// -R's input as ipvsadm reads it: each line is split into words on blanks, words that are
// exactly "ipvsadm" are dropped (so "ipvsadm -A ..." lines work), nothing is unquoted or
// treated as a comment, and input that ends in blanks without a newline loses its last line.
#include <istream>
#include <optional>
#include <string>
#include <vector>

namespace ballast::ipvsadm {

class RestoreReader {
public:
    RestoreReader(std::istream& in, std::string program) : in_(in), program_(std::move(program)) {}
    // The next line as argv (program first; a blank line is just the program), or nullopt when
    // the input ends.
    std::optional<std::vector<std::string>> next();

private:
    std::istream& in_;
    std::string program_;
};

}  // namespace ballast::ipvsadm
