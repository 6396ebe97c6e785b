// Good configs: parsed values compared with a DirectorConfig built here, and
// with golden canonical dumps in tests/data/config/good/.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "ballast/config/config.hpp"
#include "ballast/config/dump.hpp"

namespace ballast::config {
namespace {

using namespace model;
namespace fs = std::filesystem;

std::string read(const fs::path& p) {
    std::ifstream in(p);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string all(const LoadResult& r) {
    std::string out;
    for (auto& d : r.diagnostics) out += format(d) + "\n";
    return out;
}

IpAddress ip(const char* text) {
    return IpAddress::parse(text).value();
}

TEST(GoodConfig, MinimalConfigGetsEveryDefault) {
    auto r = load_string(R"([[service]]
name = "web"
vip = "192.0.2.1"
port = 80

[[service.real]]
address = "10.0.0.2:8080"
weight = 5
)",
                         "min.toml");
    ASSERT_TRUE(r.ok()) << all(r);

    DirectorConfig want;
    want.source_file = "min.toml";
    ServiceConfig web;
    web.name = "web";
    web.key = ServiceKey::inet(Protocol::tcp, ip("192.0.2.1"), 80);
    web.check = CheckSpec{};
    web.where = {"min.toml", 1, 1};
    RealServerConfig real;
    real.key = RealKey{ip("10.0.0.2"), 8080};
    real.spec.weight = 5;
    real.where = {"min.toml", 6, 1};
    web.reals.push_back(real);
    want.services.push_back(web);
    EXPECT_EQ(*r.config, want) << dump(*r.config);
    EXPECT_EQ(summary(*r.config), "1 service, 1 real server");
}

TEST(GoodConfig, GroupGetsTheLowestFreeMarkAndIpv6Persistence) {
    auto r = load_string(R"([director]
fwmark_range = [100, 200]

[[service]]
name = "marked"
fwmark = 100

[[service]]
name = "ipsec"
vip = "2001:db8::1"
group = [{protocol = "udp", port = 500}, {protocol = "esp"}, {protocol = 47}]
persistence = { timeout = "1h", prefix = 64 }
one_packet = false
check.type = "none"

[[service.real]]
address = "2001:db8:1::2"
)",
                         "g.toml");
    ASSERT_TRUE(r.ok()) << all(r);
    DirectorConfig want;
    want.source_file = "g.toml";
    want.director.fwmark_first = 100;
    want.director.fwmark_last = 200;
    ServiceConfig marked;
    marked.name = "marked";
    marked.key = ServiceKey::mark(100);
    marked.check = CheckSpec{};
    marked.where = {"g.toml", 4, 1};
    ServiceConfig ipsec;
    ipsec.name = "ipsec";
    ipsec.key = ServiceKey::mark(101, AF_INET6);  // 100 belongs to "marked"
    ipsec.group = {GroupMatch{17, 500, 500}, GroupMatch{50, 0, 0}, GroupMatch{47, 0, 0}};
    ipsec.group_vip = ip("2001:db8::1");
    ipsec.spec.persistence = 3600;
    ipsec.spec.flags.persistent = true;
    ipsec.spec.netmask = 64;
    ipsec.where = {"g.toml", 8, 1};
    RealServerConfig real;
    real.key = RealKey{ip("2001:db8:1::2"), 0};  // no port: the packet's own
    real.where = {"g.toml", 16, 1};
    ipsec.reals.push_back(real);
    want.services = {marked, ipsec};
    EXPECT_EQ(*r.config, want) << dump(*r.config);
}

TEST(GoodConfig, ServiceCheckIsMergedOverDefaults) {
    auto r = load_string(R"([defaults.check]
interval = "5s"
timeout = "2s"
rise = 4
path = "/ping"

[[service]]
name = "web"
vip = "192.0.2.1"
port = 80
[service.check]
type = "http"
timeout = "3s"
expect_status = 204

[[service]]
name = "plain"
vip = "192.0.2.1"
port = 81
)",
                         "m.toml");
    ASSERT_TRUE(r.ok()) << all(r);
    const auto& cfg = *r.config;
    CheckSpec defaults;
    defaults.interval = Millis(5000);
    defaults.timeout = Millis(2000);
    defaults.rise = 4;
    defaults.path = "/ping";
    EXPECT_EQ(cfg.default_check, defaults);
    CheckSpec web = defaults;
    web.type = CheckType::http;
    web.timeout = Millis(3000);
    web.expect_status = {204};
    ASSERT_TRUE(cfg.services[0].check.has_value());
    EXPECT_EQ(*cfg.services[0].check, web);
    ASSERT_TRUE(cfg.services[1].check.has_value());
    EXPECT_EQ(*cfg.services[1].check, defaults);
}

TEST(GoodConfig, SchedulerFlagsPersistenceAndRealAttributes) {
    auto r = load_string(R"([[service]]
name = "dns"
vip = "192.0.2.53"
port = 53
protocol = "udp"
scheduler = "mh"
mh_fallback = true
mh_port = true
one_packet = true
persistence = { timeout = "90s", netmask = "255.255.0.0" }
on_failure = "remove"
sorry_server = "10.0.0.99"
[[service.real]]
address = "10.0.0.2"
weight = 0
upper_threshold = 100
lower_threshold = 50
agent_port = 7777
)",
                         "f.toml");
    ASSERT_TRUE(r.ok()) << all(r);
    const ServiceConfig& s = r.config->services.at(0);
    EXPECT_EQ(s.spec.scheduler, "mh");
    EXPECT_TRUE(s.spec.flags.sched_flag1);
    EXPECT_TRUE(s.spec.flags.sched_flag2);
    EXPECT_TRUE(s.spec.flags.one_packet);
    EXPECT_TRUE(s.spec.flags.persistent);
    EXPECT_EQ(s.spec.persistence, 90u);
    EXPECT_EQ(s.spec.netmask, 0xffff0000u);
    EXPECT_EQ(s.on_failure, OnFailure::remove);
    EXPECT_EQ(s.sorry_server, (RealKey{ip("10.0.0.99"), 53}));
    ASSERT_EQ(s.reals.size(), 1u);
    EXPECT_EQ(s.reals[0].key, (RealKey{ip("10.0.0.2"), 53}));
    EXPECT_EQ(s.reals[0].spec.weight, 0u);
    EXPECT_EQ(s.reals[0].spec.upper_threshold, 100u);
    EXPECT_EQ(s.reals[0].spec.lower_threshold, 50u);
    EXPECT_EQ(s.reals[0].agent_port, 7777);
}

// A config holds each distinct check once, shared by the services whose checks are equal, and
// each location names its file without a copy of its own: what it holds at 5,000 x 10.
TEST(GoodConfig, EqualChecksAndFileNamesAreHeldOnce) {
    auto r = load_string(R"([defaults.check]
interval = "5s"

[[service]]
name = "a"
vip = "192.0.2.1"
port = 80
[[service.real]]
address = "10.0.0.2"

[[service]]
name = "b"
vip = "192.0.2.2"
port = 80
[service.check]
interval = "5s"
[[service.real]]
address = "10.0.0.3"

[[service]]
name = "c"
vip = "192.0.2.3"
port = 80
[service.check]
interval = "6s"
)",
                         "shared.toml");
    ASSERT_TRUE(r.ok()) << all(r);
    const auto& s = r.config->services;
    ASSERT_EQ(s.size(), 3u);
    EXPECT_TRUE(s[0].check.shares(s[1].check));  // b's check merges to the defaults
    EXPECT_FALSE(s[0].check.shares(s[2].check));
    EXPECT_EQ(s[2].check->interval, Millis(6000));
    EXPECT_EQ(s[0].check->interval, Millis(5000));
    EXPECT_EQ(s[1].reals.at(0).where.to_string(), "shared.toml:17:1");
    EXPECT_EQ(&s[0].where.file(), &s[1].reals.at(0).where.file());
}

// Every tests/data/config/good/NAME.toml must load and dump exactly as NAME.dump.
TEST(GoodConfig, GoldenDumps) {
    fs::path dir = fs::path(BALLAST_SOURCE_DIR) / "tests/data/config/good";
    size_t compared = 0;
    for (auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() != ".toml") continue;
        SCOPED_TRACE(entry.path().string());
        auto r = load_file(entry.path().string());
        ASSERT_TRUE(r.ok()) << all(r);
        fs::path golden = entry.path();
        golden.replace_extension(".dump");
        ASSERT_TRUE(fs::exists(golden));
        EXPECT_EQ(dump(*r.config), read(golden));
        ++compared;
    }
    EXPECT_GE(compared, 3u);
}

TEST(GoodConfig, ShippedExampleValidates) {
    auto r = load_file(std::string(BALLAST_SOURCE_DIR) + "/conf/ballast.toml");
    ASSERT_TRUE(r.ok()) << all(r);
    EXPECT_GE(r.config->services.size(), 3u);
}

TEST(GoodConfig, LoadingTwiceGivesTheSameConfig) {
    std::string path = std::string(BALLAST_SOURCE_DIR) + "/conf/ballast.toml";
    auto a = load_file(path), b = load_file(path);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(*a.config, *b.config);
}

// ---- several errors at once

TEST(Diagnostics, ThreeTyposAreAllReportedWithTheirLines) {
    auto r = load_string(R"([director]
interfacs = ["eth0"]

[[service]]
name = "web"
vip = "192.0.2.1"
port = 80
schedular = "wrr"

[[service.real]]
address = "10.0.0.2"
wieght = 3
)",
                         "typos.toml");
    EXPECT_FALSE(r.ok());
    ASSERT_EQ(r.diagnostics.size(), 3u) << all(r);
    EXPECT_EQ(format(r.diagnostics[0]),
              "typos.toml:2:1: director.interfacs: unknown key 'interfacs' (did you mean "
              "'interfaces'?)");
    EXPECT_EQ(format(r.diagnostics[1]),
              "typos.toml:8:1: service[0].schedular: unknown key 'schedular' (did you mean "
              "'scheduler'?)");
    EXPECT_EQ(format(r.diagnostics[2]),
              "typos.toml:12:1: service[0].real[0].wieght: unknown key 'wieght' (did you mean "
              "'weight'?)");
}

TEST(Diagnostics, ErrorsInEverySectionAreCollectedInLineOrder) {
    auto r = load_string(R"([[service]]
name = "b"
vip = "192.0.2.2"
port = 0
[[service.real]]
address = "10.0.0.3"
weight = 70000

[director]
drain_timeout = "5"

[defaults.check]
rise = 0
)",
                         "many.toml");
    EXPECT_FALSE(r.ok());
    std::vector<std::pair<uint32_t, std::string>> got;
    for (auto& d : r.diagnostics) got.emplace_back(d.where.line, d.key_path);
    std::vector<std::pair<uint32_t, std::string>> want = {{4, "service[0].port"},
                                                          {7, "service[0].real[0].weight"},
                                                          {10, "director.drain_timeout"},
                                                          {13, "defaults.check.rise"}};
    EXPECT_EQ(got, want) << all(r);
}

TEST(Diagnostics, UnreadableFileIsOneDiagnostic) {
    auto r = load_file("/nonexistent/ballast.toml");
    EXPECT_FALSE(r.ok());
    ASSERT_EQ(r.diagnostics.size(), 1u);
    EXPECT_EQ(format(r.diagnostics[0]),
              "/nonexistent/ballast.toml: cannot read the file: No such file or directory");
}

// A file, larger than one read chunk, and a pipe (no size to reserve) load as the same text.
TEST(LoadFile, FileAndPipeLoadLikeTheirText) {
    std::string text = "[[service]]\nname = \"big\"\nvip = \"10.1.0.1\"\nport = 80\n";
    for (int i = 1; i <= 3000; ++i)
        text += "[[service.real]]\naddress = \"10.0." + std::to_string(i / 250) + "." +
                std::to_string(i % 250 + 1) + ":8080\"\n";
    ASSERT_GT(text.size(), 64u * 1024u);
    const auto want = load_string(text, "x.toml");
    ASSERT_TRUE(want.ok()) << all(want);
    const auto dir =
        std::filesystem::temp_directory_path() / ("ballast-load-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string file = (dir / "ballast.toml").string();
    std::ofstream(file) << text;
    const auto from_file = load_file(file);
    ASSERT_TRUE(from_file.ok()) << all(from_file);
    EXPECT_EQ(from_file.config->services, load_string(text, file).config->services);

    const std::string fifo = (dir / "fifo").string();
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    std::thread writer([&] { std::ofstream(fifo) << text; });
    const auto from_pipe = load_file(fifo);
    writer.join();
    ASSERT_TRUE(from_pipe.ok()) << all(from_pipe);
    EXPECT_EQ(from_pipe.config->services, load_string(text, fifo).config->services);
    EXPECT_EQ(from_pipe.config->services.at(0).reals.size(), 3000u);
    std::filesystem::remove_all(dir);
}

TEST(Diagnostics, DirectoryIsNotAConfig) {
    auto r = load_file(BALLAST_SOURCE_DIR);
    EXPECT_FALSE(r.ok());
    ASSERT_EQ(r.diagnostics.size(), 1u);
    EXPECT_EQ(format(r.diagnostics[0]), std::string(BALLAST_SOURCE_DIR) + ": is a directory");
}

TEST(Diagnostics, FormatLeavesOutUnknownParts) {
    EXPECT_EQ(format({{"f.toml", 3, 7}, "a.b", "bad"}), "f.toml:3:7: a.b: bad");
    EXPECT_EQ(format({{"f.toml", 3, 7}, "", "bad"}), "f.toml:3:7: bad");
    EXPECT_EQ(format({{"f.toml", 0, 0}, "", "bad"}), "f.toml: bad");
}

TEST(Diagnostics, EmptyFileIsAValidEmptyConfig) {
    auto r = load_string("", "empty.toml");
    ASSERT_TRUE(r.ok()) << all(r);
    EXPECT_TRUE(r.config->services.empty());
    EXPECT_EQ(summary(*r.config), "0 services, 0 real servers");
}

}  // namespace
}  // namespace ballast::config
