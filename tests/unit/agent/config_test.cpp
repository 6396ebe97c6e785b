// Agent TOML config: values, defaults and file:line:col errors.
#include <gtest/gtest.h>

#include "ballast/agent/config.hpp"

using namespace ballast::agent;

namespace {

TEST(AgentConfig, ParsesAFullFile) {
    auto s = parse_agent_config(R"(
probe_clients = ["198.51.100.7"]
listen = "10.0.0.5:5555"
status_listen = "127.0.0.1:9555"
load = "loadavg"
interval_ms = 2000
[repair]
enabled = true
table_base = 200
priority = 900
rp_filter_loose = true
state_file = "/tmp/x.json"
[[real_server]]
address = "10.0.0.5"
director = "10.0.0.1"
ports = [80, 443]
[[real_server]]
address = "2001:db8::5"
director = "2001:db8::1"
protocol = "udp"
)",
                                "agent.toml");
    ASSERT_EQ(s.real_servers.size(), 2u);
    EXPECT_EQ(s.real_servers[0].ports, (std::vector<uint16_t>{80, 443}));
    EXPECT_EQ(s.real_servers[1].transport, Transport::udp);
    EXPECT_EQ(s.probe_clients.size(), 1u);
    EXPECT_EQ(s.listen->to_string(), "10.0.0.5:5555");
    EXPECT_EQ(s.load, LoadSignal::loadavg);
    EXPECT_TRUE(s.repair.enabled);
    EXPECT_EQ(s.repair.table_base, 200u);
    EXPECT_EQ(s.repair.priority, 900u);
    EXPECT_EQ(s.interval_ms, 2000u);
}

TEST(AgentConfig, DefaultsCoverPrivateAndPublicProbes) {
    auto s = parse_agent_config(
        "[[real_server]]\naddress = \"10.0.0.5\"\ndirector = \"10.0.0.1\"\n", "a.toml");
    ASSERT_EQ(s.probe_clients.size(), 4u);
    EXPECT_EQ(s.probe_clients[0].to_string(), "10.255.255.1");
    EXPECT_EQ(s.probe_clients[1].to_string(), "203.0.113.9");
    EXPECT_FALSE(s.repair.enabled);
    EXPECT_FALSE(s.listen.has_value());
}

TEST(AgentConfig, ErrorsCarryFileLineColumnAndAreAllCollected) {
    try {
        parse_agent_config(
            "bogus = 1\n[[real_server]]\naddress = \"10.0.0.999\"\ndirector = \"10.0.0.1\"\nports "
            "= [0]\n",
            "agent.toml");
        FAIL() << "accepted a bad file";
    } catch (const ConfigError& e) {
        ASSERT_EQ(e.errors.size(), 3u) << e.what();
        EXPECT_EQ(e.errors[0], "agent.toml:1:9: unknown key 'bogus'");
        EXPECT_NE(e.errors[1].find("agent.toml:3:"), std::string::npos);
        EXPECT_NE(e.errors[1].find("not an IP address"), std::string::npos);
        EXPECT_NE(e.errors[2].find("agent.toml:5:"), std::string::npos);
    }
}

TEST(AgentConfig, SyntaxErrorHasPosition) {
    try {
        parse_agent_config("[[real_server]\n", "bad.toml");
        FAIL();
    } catch (const ConfigError& e) {
        EXPECT_EQ(e.errors.at(0).rfind("bad.toml:1:", 0), 0u) << e.errors[0];
    }
}

TEST(AgentConfig, RequiresARealServerAndMatchingFamilies) {
    EXPECT_THROW(parse_agent_config("", "a.toml"), ConfigError);
    EXPECT_THROW(
        parse_agent_config("[[real_server]]\naddress = \"10.0.0.5\"\ndirector = \"2001:db8::1\"\n",
                           "a.toml"),
        ConfigError);
    EXPECT_THROW(parse_agent_config("[[real_server]]\naddress = \"10.0.0.5\"\n", "a.toml"),
                 ConfigError);
    EXPECT_THROW(parse_agent_config("[repair]\ntable_base = 254\n[[real_server]]\naddress = "
                                    "\"10.0.0.5\"\ndirector = \"10.0.0.1\"\n",
                                    "a.toml"),
                 ConfigError);
}

}  // namespace

TEST(AgentConfig, ShippedExampleParses) {
    auto s = load_agent_config(BALLAST_SOURCE_DIR "/conf/ballast-agent.toml");
    ASSERT_EQ(s.real_servers.size(), 1u);
    EXPECT_EQ(s.real_servers[0].director.to_string(), "10.0.0.1");
    EXPECT_FALSE(s.repair.enabled);  // the example never repairs unasked
}

namespace {

// Real server i uses table table_base + i: the whole range must miss 253-255 (default,
// main, local) and stay within 1..2147483647, not just table_base.
TEST(AgentConfig, WholeTableRangeMissesReservedTables) {
    const std::string servers =
        "[[real_server]]\naddress = \"10.0.0.5\"\ndirector = \"10.0.0.1\"\n"
        "[[real_server]]\naddress = \"10.0.0.6\"\ndirector = \"10.0.0.1\"\n"
        "[[real_server]]\naddress = \"10.0.0.7\"\ndirector = \"10.0.0.1\"\n";
    try {
        parse_agent_config("[repair]\ntable_base = 251\n" + servers, "agent.toml");
        ADD_FAILURE() << "tables 251..253 accepted";
    } catch (const ConfigError& e) {
        ASSERT_EQ(e.errors.size(), 1u);
        EXPECT_NE(e.errors[0].find("agent.toml:2:14: "), std::string::npos) << e.errors[0];
        EXPECT_NE(e.errors[0].find("251..253"), std::string::npos) << e.errors[0];
    }
    EXPECT_THROW(parse_agent_config("[repair]\ntable_base = 2147483646\n" + servers, "a.toml"),
                 ConfigError);
    EXPECT_EQ(
        parse_agent_config("[repair]\ntable_base = 250\n" + servers, "a.toml").repair.table_base,
        250u);
}

}  // namespace
