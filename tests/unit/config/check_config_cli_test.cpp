// Runs the real ballastd binary with --check-config: exit codes and output.
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

class CheckConfigCli : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("ballast-check-config-" + std::to_string(getpid()));
        fs::create_directories(dir_);
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
    Outcome check(const std::string& config) {
        fs::path out = dir_ / "stdout", err = dir_ / "stderr";
        std::string cmd = std::string(BALLASTD_PATH) + " --check-config '" + config + "' >" +
                          out.string() + " 2>" + err.string();
        int rc = std::system(cmd.c_str());
        Outcome r;
        r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
        r.out = slurp(out);
        r.err = slurp(err);
        return r;
    }
    fs::path dir_;
};

TEST_F(CheckConfigCli, ShippedExamplePassesWithASummary) {
    std::string path = std::string(BALLAST_SOURCE_DIR) + "/conf/ballast.toml";
    Outcome r = check(path);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(r.out.rfind(path + ": OK: ", 0), 0u) << r.out;
    EXPECT_NE(r.out.find(" services, "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(" real servers\n"), std::string::npos) << r.out;
}

TEST_F(CheckConfigCli, SmallConfigSummaryCountsServicesAndReals) {
    std::string path = write("ok.toml", R"([[service]]
name = "a"
vip = "192.0.2.1"
port = 80
real = [{address = "10.0.0.2"}, {address = "10.0.0.3"}]
[[service]]
name = "b"
vip = "192.0.2.1"
port = 443
real = [{address = "10.0.0.2"}]
)");
    Outcome r = check(path);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, path + ": OK: 2 services, 3 real servers\n");
}

TEST_F(CheckConfigCli, BadConfigPrintsEveryProblemAndExitsOne) {
    std::string path = write("bad.toml", R"([[service]]
name = "a"
vip = "192.0.2.1"
port = 80
[[service.real]]
address = "10.0.0.2"
wieght = 3
weight = 70000
)");
    Outcome r = check(path);
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, path +
                         ":7:1: service[0].real[0].wieght: unknown key 'wieght' (did you mean "
                         "'weight'?)\n" +
                         path +
                         ":8:10: service[0].real[0].weight: must be between 0 and 65535, "
                         "got 70000\n" +
                         path + ": 2 errors\n");
}

TEST_F(CheckConfigCli, SyntaxErrorHasALocation) {
    std::string path = write("syntax.toml", "[director]\ninterfaces = [\"eth0\"\n");
    Outcome r = check(path);
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err.rfind(path + ":", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("TOML syntax error"), std::string::npos) << r.err;
}

TEST_F(CheckConfigCli, MissingFileExitsOne) {
    Outcome r = check((dir_ / "absent.toml").string());
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("cannot read the file"), std::string::npos) << r.err;
}

}  // namespace
