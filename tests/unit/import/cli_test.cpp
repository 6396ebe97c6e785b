// ballastctl import-keepalived as a program: exit codes 0/1/2, -o, the list on
// stderr, and ballastd --check-config accepting what it wrote.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

namespace fs = std::filesystem;

struct Outcome {
    int status = -1;
    std::string out, err;
};

class ImportCli : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("ballast-import-cli-" + std::to_string(getpid()));
        fs::create_directories(dir_ / "conf.d");
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::string write(const std::string& name, const std::string& text) {
        fs::path p = dir_ / name;
        std::ofstream(p) << text;
        return p.string();
    }
    static std::string slurp(const fs::path& p) {
        std::ifstream in(p);
        std::ostringstream s;
        s << in.rdbuf();
        return s.str();
    }
    Outcome run(const std::string& program, const std::string& args) {
        fs::path out = dir_ / "stdout", err = dir_ / "stderr";
        std::string cmd = program + " " + args + " >" + out.string() + " 2>" + err.string();
        int rc = std::system(cmd.c_str());
        Outcome r;
        r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
        r.out = slurp(out);
        r.err = slurp(err);
        return r;
    }
    Outcome import(const std::string& args) {
        return run(BALLASTCTL_PATH, "import-keepalived " + args);
    }
    Outcome check_config(const std::string& file) {
        return run(BALLASTD_PATH, "--check-config '" + file + "'");
    }
    fs::path dir_;
};

const char* kClean =
    "virtual_server 192.0.2.1 80 {\n"
    "  delay_loop 5\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n"
    "  include conf.d/*.conf\n"
    "}\n";
const char* kReals =
    "real_server 10.0.0.1 8080 {\n  weight 2\n  TCP_CHECK {\n    connect_timeout 2\n  }\n}\n"
    "real_server 10.0.0.2 8080 {\n  weight 2\n  TCP_CHECK {\n    connect_timeout 2\n  }\n}\n";

TEST_F(ImportCli, EverythingConvertedExitsZeroAndTheDaemonAcceptsTheOutput) {
    std::string in = write("keepalived.conf", kClean);
    write("conf.d/reals.conf", kReals);
    std::string out = (dir_ / "ballast.toml").string();
    Outcome r = import("'" + in + "' -o '" + out + "'");
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("1 service, 2 real servers converted; 0 items not converted"),
              std::string::npos)
        << r.err;
    Outcome check = check_config(out);
    EXPECT_EQ(check.status, 0) << check.err;
    EXPECT_NE(check.out.find("OK: 1 service, 2 real servers"), std::string::npos) << check.out;
}

TEST_F(ImportCli, ItemsNotConvertedExitTwoAndAreListedOnStderr) {
    std::string in =
        write("keepalived.conf", std::string("vrrp_instance VI_1 {\n  state MASTER\n}\n") + kClean);
    write("conf.d/reals.conf", kReals);
    Outcome r = import("'" + in + "'");
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find(in + ":1: vrrp_instance: VRRP is outside ballast's scope"),
              std::string::npos)
        << r.err;
    // stdout is the config, which the daemon accepts.
    std::string out = write("from-stdout.toml", r.out);
    EXPECT_EQ(check_config(out).status, 0);
}

TEST_F(ImportCli, UnparseableInputExitsOneWithFileAndLine) {
    std::string in = write("keepalived.conf", "virtual_server 192.0.2.1 80 {\n  protocol TCP\n");
    Outcome r = import("'" + in + "' -o '" + (dir_ / "never.toml").string() + "'");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find(in + ":1: block 'virtual_server' is not closed"), std::string::npos)
        << r.err;
    EXPECT_FALSE(fs::exists(dir_ / "never.toml"));
}

TEST_F(ImportCli, MissingFileAndIncludeExitOne) {
    Outcome missing = import("'" + (dir_ / "nope.conf").string() + "'");
    EXPECT_EQ(missing.status, 1);
    EXPECT_NE(missing.err.find("cannot read the file"), std::string::npos) << missing.err;

    std::string in = write("keepalived.conf", "include other.conf\n");
    Outcome inc = import("'" + in + "'");
    EXPECT_EQ(inc.status, 1);
    EXPECT_NE(inc.err.find(in + ":1: include: cannot read"), std::string::npos) << inc.err;
}

TEST_F(ImportCli, BadArgumentsExitOne) {
    EXPECT_EQ(import("").status, 1);
    EXPECT_EQ(import("a.conf --frobnicate").status, 1);
    Outcome help = import("--help");
    EXPECT_EQ(help.status, 0);
    EXPECT_NE(help.out.find("--config-id"), std::string::npos);
}

}  // namespace
