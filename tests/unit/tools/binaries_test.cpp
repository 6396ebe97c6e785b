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
    EXPECT_EQ(r.output, std::string(name) + " " + ballast::kVersion + "\n");
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
    EXPECT_NE(r.output.find("no-such-flag"), std::string::npos) << r.output;
}

INSTANTIATE_TEST_SUITE_P(All, Binary,
                         ::testing::Values(std::pair{BALLASTD_PATH, "ballastd"},
                                           std::pair{BALLASTCTL_PATH, "ballastctl"},
                                           std::pair{BALLAST_AGENT_PATH, "ballast-agent"}));
