#pragma once
// ballastctl's ipvsadm mode: one command line (or, with -R, every line of stdin) carried out
// as ipvsadm 1.31 carries it out — same output, same messages, same exit status — through
// the Kernel interface. -R sends consecutive edits as one pipelined batch.
#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "ballast/ipvsadm/kernel.hpp"
#include "ballast/ipvsadm/names.hpp"
#include "ballast/ipvsadm/ownership.hpp"

namespace ballast::ipvsadm {

struct Io {
    std::istream& in;
    std::ostream& out;
    std::ostream& err;
};

// argv as main() gets it (argv[0] is the program name in messages). ownership may be null
// (no warnings). Returns the exit status.
int run(const std::vector<std::string>& argv, Kernel& kernel, Names& names, Io io,
        Ownership* ownership);

}  // namespace ballast::ipvsadm
