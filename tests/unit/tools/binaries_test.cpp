// Every binary answers --help and --version, and rejects an unknown flag.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#include "ballast/version.hpp"

namespace {

struct Ran {
    int status;
    std::string output;
};

Ran run(const std::string& cmd) {
    Ran r{-1, {}};
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return r;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
    int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

class Binary : public ::testing::TestWithParam<std::pair<const char*, const char*>> {};

}  // namespace

TEST_P(Binary, PrintsVersion) {
    auto [path, name] = GetParam();
    auto r = run(std::string(path) + " --version");
    EXPECT_EQ(r.status, 0);
    // "NAME VERSION" first; ballastctl adds, as ipvsadm -v does, what it is compatible with.
    const std::string want = std::string(name) + " " + ballast::kVersion;
    EXPECT_EQ(r.output.substr(0, want.size()), want) << r.output;
    EXPECT_TRUE(r.output.size() == want.size() + 1 || r.output[want.size()] == ' ') << r.output;
    EXPECT_EQ(r.output.back(), '\n');
}

TEST_P(Binary, PrintsHelpWithUsage) {
    auto [path, name] = GetParam();
    auto r = run(std::string(path) + " --help");
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.output.find("Usage:"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("--version"), std::string::npos) << r.output;
}

TEST_P(Binary, RejectsUnknownFlag) {
    auto [path, name] = GetParam();
    auto r = run(std::string(path) + " --no-such-flag");
    EXPECT_NE(r.status, 0);
    // ballastctl answers a bad first option as ipvsadm 1.31 does: with where to get help.
    const std::string said =
        std::string(name) == "ballastctl" ? "--help' for more information" : "no-such-flag";
    EXPECT_NE(r.output.find(said), std::string::npos) << r.output;
}

INSTANTIATE_TEST_SUITE_P(All, Binary,
                         ::testing::Values(std::pair{BALLASTD_PATH, "ballastd"},
                                           std::pair{BALLASTCTL_PATH, "ballastctl"},
                                           std::pair{BALLAST_AGENT_PATH, "ballast-agent"}));
