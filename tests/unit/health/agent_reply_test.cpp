#include "ballast/health/agent_reply.hpp"

#include <gtest/gtest.h>

namespace ballast::health {
namespace {

TEST(AgentReply, SingleWords) {
    auto r = parse_agent_reply("up\n");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->liveness, AgentLiveness::up);
    EXPECT_TRUE(r->alive());
    EXPECT_EQ(parse_agent_reply("drain")->admin, AgentAdmin::drain);
    EXPECT_EQ(parse_agent_reply("ready\r\n")->admin, AgentAdmin::ready);
    EXPECT_FALSE(parse_agent_reply("maint")->alive());
    EXPECT_FALSE(parse_agent_reply("fail")->alive());
    EXPECT_FALSE(parse_agent_reply("STOPPED")->alive());
}

TEST(AgentReply, CommaAndSpaceSeparatedCombination) {
    auto r = parse_agent_reply("up, 75%,weight:20 ready\n");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->liveness, AgentLiveness::up);
    EXPECT_EQ(r->admin, AgentAdmin::ready);
    EXPECT_EQ(r->percent, 75u);
    EXPECT_EQ(r->weight, 20u);
}

TEST(AgentReply, DescriptionAfterHashKeepsCommas) {
    auto r = parse_agent_reply("down#return route via 192.168.1.1, not the director\n");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->liveness, AgentLiveness::down);
    EXPECT_EQ(r->description, "return route via 192.168.1.1, not the director");
}

TEST(AgentReply, UnknownWordsAndBadNumbersAreIgnored) {
    auto r = parse_agent_reply("maxconn:30 frobnicate up x% weight:abc 1000%");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->liveness, AgentLiveness::up);
    EXPECT_EQ(r->percent, 256u);  // clamped like HAProxy
    EXPECT_FALSE(r->weight);
    auto empty = parse_agent_reply("\n");
    ASSERT_TRUE(empty.ok());
    EXPECT_TRUE(empty->alive());
    EXPECT_FALSE(empty->percent);
}

TEST(AgentReply, OverlongOrMultiLineRejected) {
    std::string longline(kMaxAgentLine + 1, 'a');
    auto r = parse_agent_reply(longline);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("longer than"), std::string::npos);
    EXPECT_TRUE(parse_agent_reply(std::string(kMaxAgentLine, 'a')).ok());
    EXPECT_FALSE(parse_agent_reply("up\ndown").ok());
    EXPECT_FALSE(parse_agent_reply(std::string("up\0", 3)).ok());
}

TEST(AgentReply, WeightText) {
    EXPECT_EQ(parse_weight_text(" 42\n")->weight, 42u);
    EXPECT_EQ(parse_weight_text("80%")->percent, 80u);
    EXPECT_EQ(parse_weight_text("weight:7")->weight, 7u);
    EXPECT_FALSE(parse_weight_text("all good"));
}

}  // namespace
}  // namespace ballast::health
