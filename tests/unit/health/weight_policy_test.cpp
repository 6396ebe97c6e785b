#include "ballast/health/weight_policy.hpp"

#include <gtest/gtest.h>

#include <map>

namespace ballast::health {
namespace {

using namespace std::chrono_literals;
using model::IpAddress;

model::RealServerConfig real(const std::string& addr, model::Weight w) {
    model::RealServerConfig r;
    r.key = model::RealKey{*IpAddress::parse(addr), 80};
    r.spec.weight = w;
    return r;
}

RealHealth up() {
    RealHealth h;
    h.checked = true;
    h.state = State::up;
    h.reason = "HTTP 200";
    return h;
}

RealHealth down(std::string why) {
    RealHealth h;
    h.checked = true;
    h.state = State::down;
    h.reason = std::move(why);
    return h;
}

const TimePoint kNow = TimePoint{} + 1h;

TEST(WeightPolicy, UpServerGetsConfiguredWeight) {
    auto v = decide_real(real("10.0.0.2", 10), up(), model::OnFailure::quiesce, 0ms, kNow);
    EXPECT_TRUE(v.present);
    EXPECT_FALSE(v.down);
    EXPECT_EQ(v.weight, 10u);
}

TEST(WeightPolicy, DownQuiescesOrRemovesPerOnFailure) {
    auto q =
        decide_real(real("10.0.0.2", 10), down("HTTP 503"), model::OnFailure::quiesce, 0ms, kNow);
    EXPECT_TRUE(q.present);
    EXPECT_TRUE(q.down);
    EXPECT_EQ(q.weight, 0u);
    EXPECT_EQ(q.reason, "HTTP 503");
    auto r =
        decide_real(real("10.0.0.2", 10), down("HTTP 503"), model::OnFailure::remove, 0ms, kNow);
    EXPECT_FALSE(r.present);
    EXPECT_TRUE(r.down);
}

TEST(WeightPolicy, AgentPercentageAndWeightScale) {
    auto h = up();
    h.agent = AgentReply{};
    h.agent->percent = 50;
    EXPECT_EQ(decide_real(real("10.0.0.2", 10), h, model::OnFailure::quiesce, 0ms, kNow).weight,
              5u);
    h.agent->weight = 40;  // replaces configured, then scaled
    EXPECT_EQ(decide_real(real("10.0.0.2", 10), h, model::OnFailure::quiesce, 0ms, kNow).weight,
              20u);
    h.agent->percent = 256;
    h.agent->weight = 65535;
    EXPECT_EQ(decide_real(real("10.0.0.2", 10), h, model::OnFailure::quiesce, 0ms, kNow).weight,
              model::kMaxWeight);
}

TEST(WeightPolicy, AgentDrainMaintAndDown) {
    auto h = up();
    h.agent = *parse_agent_reply("drain");
    auto v = decide_real(real("10.0.0.2", 10), h, model::OnFailure::remove, 0ms, kNow);
    EXPECT_TRUE(v.present);  // drain keeps the server, at weight 0
    EXPECT_FALSE(v.down);
    EXPECT_EQ(v.weight, 0u);
    EXPECT_EQ(v.reason, "agent: drain");

    h.agent = *parse_agent_reply("down#return route via 192.168.1.1");
    v = decide_real(real("10.0.0.2", 10), h, model::OnFailure::quiesce, 0ms, kNow);
    EXPECT_TRUE(v.down);
    EXPECT_EQ(v.reason, "agent: down#return route via 192.168.1.1");

    h.agent = *parse_agent_reply("maint");
    v = decide_real(real("10.0.0.2", 10), h, model::OnFailure::remove, 0ms, kNow);
    EXPECT_TRUE(v.down);
    EXPECT_FALSE(v.present);
}

TEST(WeightPolicy, AgentFailureCountsOnlyWithoutMainCheck) {
    auto h = up();
    h.agent_failed = true;
    h.agent_reason = "connect refused";
    EXPECT_FALSE(decide_real(real("10.0.0.2", 10), h, model::OnFailure::quiesce, 0ms, kNow).down);
    RealHealth agent_only;
    agent_only.agent_failed = true;
    agent_only.agent_reason = "connect refused";
    auto v = decide_real(real("10.0.0.2", 10), agent_only, model::OnFailure::quiesce, 0ms, kNow);
    EXPECT_TRUE(v.down);
    EXPECT_EQ(v.reason, "connect refused");
}

TEST(WeightPolicy, SlowStartRampsAfterRecovery) {
    auto h = up();
    h.recovered_at = kNow - 25s;
    auto v = decide_real(real("10.0.0.2", 100), h, model::OnFailure::quiesce, 100s, kNow);
    EXPECT_EQ(v.weight, 25u);
    h.recovered_at = kNow;  // just recovered: still gets a trickle
    EXPECT_EQ(decide_real(real("10.0.0.2", 100), h, model::OnFailure::quiesce, 100s, kNow).weight,
              1u);
    h.recovered_at = kNow - 200s;  // ramp over
    EXPECT_EQ(decide_real(real("10.0.0.2", 100), h, model::OnFailure::quiesce, 100s, kNow).weight,
              100u);
    h.recovered_at.reset();  // first result up: no ramp
    EXPECT_EQ(decide_real(real("10.0.0.2", 100), h, model::OnFailure::quiesce, 100s, kNow).weight,
              100u);
}

model::ServiceConfig service_with(std::vector<model::RealServerConfig> reals, bool sorry) {
    model::ServiceConfig s;
    s.key = model::ServiceKey::inet(model::Protocol::tcp, *IpAddress::parse("192.0.2.1"), 80);
    s.check = model::CheckSpec{};
    s.reals = std::move(reals);
    if (sorry) s.sorry_server = model::RealKey{*IpAddress::parse("10.0.9.9"), 80};
    return s;
}

TEST(WeightPolicy, SorryServerOnlyWhenEveryRealIsDown) {
    auto svc = service_with({real("10.0.0.2", 5), real("10.0.0.3", 5)}, true);
    std::map<model::RealKey, RealHealth> health{{svc.reals[0].key, down("connect refused")},
                                                {svc.reals[1].key, up()}};
    auto lookup = [&](const model::RealKey& k) -> const RealHealth* {
        auto it = health.find(k);
        return it == health.end() ? nullptr : &it->second;
    };
    auto v = decide_service(svc, lookup, kNow);
    EXPECT_FALSE(v.sorry_active);
    ASSERT_EQ(v.reals.size(), 2u);

    health[svc.reals[1].key] = down("timeout after 1s");
    v = decide_service(svc, lookup, kNow);
    EXPECT_TRUE(v.sorry_active);
    ASSERT_EQ(v.reals.size(), 3u);
    EXPECT_EQ(v.reals[2].key, *svc.sorry_server);
    EXPECT_EQ(v.reals[2].weight, 1u);

    auto no_sorry = service_with({real("10.0.0.2", 5)}, false);
    health[no_sorry.reals[0].key] = down("x");
    v = decide_service(no_sorry, lookup, kNow);
    EXPECT_FALSE(v.sorry_active);
    EXPECT_EQ(v.reals.size(), 1u);
}

TEST(WeightPolicy, UnknownServesUnlessStartDown) {
    auto svc = service_with({real("10.0.0.2", 5)}, false);
    auto none = [](const model::RealKey&) -> const RealHealth* { return nullptr; };
    EXPECT_EQ(decide_service(svc, none, kNow).reals.at(0).weight, 5u);
    svc.check.edit().start_down = true;
    auto v = decide_service(svc, none, kNow).reals.at(0);
    EXPECT_TRUE(v.down);
    EXPECT_EQ(v.weight, 0u);
}

}  // namespace
}  // namespace ballast::health
