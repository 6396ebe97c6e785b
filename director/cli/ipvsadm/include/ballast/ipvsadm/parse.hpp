#pragma once
// ipvsadm 1.31's command line, parsed by popt exactly as ipvsadm parses it (the same option
// table shape, so the same bundling, optional arguments and popt messages), then checked as
// ipvsadm checks it: every refusal has ipvsadm's message and exit status.
#include <string>
#include <variant>
#include <vector>

#include "ballast/ipvsadm/command.hpp"
#include "ballast/ipvsadm/names.hpp"

namespace ballast::ipvsadm {

// A command line that ends before reaching the kernel: what to print and the exit status.
struct Stop {
    int exit_code = 0;
    std::string out;  // for stdout
    std::string err;  // for stderr
    // ipvsadm exits at once (fail(), "Try ... -h", -h, -v), even in the middle of -R; only a popt
    // error found after the command ends just its own line of a restore.
    bool ends_restore = true;
    bool operator==(const Stop&) const = default;
};
using Parsed = std::variant<Command, Stop>;

// argv[0] is the program name used in messages ("Try `ballastctl -h' ..."). reading_stdin: a
// line of -R input (a nested -R is refused as ipvsadm refuses it). A line of plain words (each
// option a word of its own, its value the next word) is read without popt, yielding exactly
// popt's events; Tokenizer::popt forces popt (the tests compare the two).
enum class Tokenizer { fastest, popt };
Parsed parse_command(const std::vector<std::string>& argv, bool reading_stdin, Names& names,
                     Tokenizer tokenizer = Tokenizer::fastest);

// Takes ballastctl's own options out of argv, wherever they are (never an argument of an
// ipvsadm option, nothing after "--"): -o json|text, --output json|text, -j, --json, --force,
// --state-dir DIR, --socket PATH, --config FILE. ipvsadm's own -o (--ops) is left alone.
std::variant<Extras, Stop> take_extras(std::vector<std::string>& argv);

// `ballastctl --help`: ipvsadm's commands and options and ballastctl's own.
std::string usage(const std::string& program);
std::string version_line();

}  // namespace ballast::ipvsadm
