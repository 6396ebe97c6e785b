// policy: every rule that decides a real server's effective weight, and its reason.
#include <gtest/gtest.h>

#include "ballast/config/config.hpp"
#include "ballast/health/check_plan.hpp"
#include "ballast/policy/policy.hpp"

using namespace ballast;
using namespace std::chrono_literals;
using health::State;

namespace {

model::DirectorConfig load(const std::string& text) {
    auto r = config::load_string(text, "t.toml");
    if (!r.ok()) throw std::runtime_error(config::format(r.diagnostics.front()));
    return *r.config;
}

// One tcp service with four reals (weights 4, 3, 2, 1) checked by tcp.
const char* kFour = R"(
[[service]]
name = "web"
vip = "192.0.2.1"
port = 80
scheduler = "wrr"
check = { type = "tcp", rise = 2, fall = 3, slow_start = "10s" }
[[service.real]]
address = "10.0.0.1:80"
weight = 4
[[service.real]]
address = "10.0.0.2:80"
weight = 3
[[service.real]]
address = "10.0.0.3:80"
weight = 2
[[service.real]]
address = "10.0.0.4:80"
weight = 1
)";

model::RealKey rk(const char* s) {
    auto e = model::Endpoint::parse(s);
    return model::RealKey{e->addr, e->port};
}

struct Fixture {
    model::DirectorConfig config;
    health::HealthBook book;
    policy::Overrides overrides;
    policy::AdoptedWeights adopted;
    health::TimePoint now{std::chrono::hours(1)};

    explicit Fixture(const std::string& text) : config(load(text)) {}
    const model::ServiceConfig& svc(size_t i = 0) const { return config.services.at(i); }
    policy::Inputs in() const { return policy::Inputs{config, book, overrides, adopted, now}; }
    policy::ServiceDecision decide(size_t i = 0) const {
        return policy::decide_service(svc(i), in());
    }
    void result(const char* real, State state, std::string reason = "",
                std::optional<health::TimePoint> recovered = {}, size_t service = 0) {
        const auto& s = svc(service);
        auto r = rk(real);
        book.record(health::make_check_key(r.addr, r.port, *s.check), state, reason, recovered,
                    std::nullopt);
    }
};

}  // namespace

TEST(Policy, BeforeAnyResultEveryRealGetsItsConfiguredWeight) {
    Fixture f(kFour);
    auto d = f.decide();
    ASSERT_EQ(d.reals.size(), 4u);
    EXPECT_EQ(d.reals[0].effective, 4u);
    EXPECT_EQ(d.reals[3].effective, 1u);
    EXPECT_EQ(d.reals[0].reason, "not checked yet");
    EXPECT_FALSE(d.panic);
    auto svc = policy::desired_service(f.svc(), d);
    EXPECT_EQ(svc.reals.size(), 4u);
    EXPECT_EQ(svc.reals.at(rk("10.0.0.2:80")).weight, 3u);
    EXPECT_EQ(svc.spec.scheduler, "wrr");
}

TEST(Policy, StartDownMeansNoTrafficBeforeTheFirstSuccess) {
    Fixture f(std::string(kFour).replace(std::string(kFour).find("slow_start"), 0,
                                         "start_down = true, "));
    auto d = f.decide();
    EXPECT_EQ(d.reals[0].effective, 0u);
    EXPECT_TRUE(d.reals[0].down);
    EXPECT_FALSE(d.panic) << "servers not checked yet are no evidence of a broken network";
    f.result("10.0.0.1:80", State::up, "connected");
    EXPECT_EQ(f.decide().reals[0].effective, 4u);
}

TEST(Policy, DownQuiescesOrRemovesPerOnFailure) {
    Fixture f(kFour);
    f.result("10.0.0.2:80", State::down, "connect refused");
    auto d = f.decide();
    EXPECT_EQ(d.reals[1].effective, 0u);
    EXPECT_TRUE(d.reals[1].present);
    EXPECT_TRUE(d.reals[1].down);
    EXPECT_EQ(d.reals[1].reason, "connect refused");
    EXPECT_EQ(d.down, 1u);
    auto svc = policy::desired_service(f.svc(), d);
    EXPECT_EQ(svc.reals.at(rk("10.0.0.2:80")).weight, 0u);

    Fixture g(std::string(kFour).replace(std::string(kFour).find("check ="), 0,
                                         "on_failure = \"remove\"\n"));
    g.result("10.0.0.2:80", State::down, "connect refused");
    auto e = g.decide();
    EXPECT_FALSE(e.reals[1].present);
    EXPECT_FALSE(policy::desired_service(g.svc(), e).reals.count(rk("10.0.0.2:80")));
}

TEST(Policy, OverrideWeightReplacesTheConfiguredWeightAndDrainWinsOverHealth) {
    Fixture f(kFour);
    f.overrides[{std::nullopt, rk("10.0.0.1:80")}] =
        policy::Override{policy::Override::Kind::weight, 9, "uid 0 (root)", {}};
    f.result("10.0.0.1:80", State::up, "connected");
    auto d = f.decide();
    EXPECT_EQ(d.reals[0].configured, 4u);
    EXPECT_EQ(d.reals[0].effective, 9u);
    EXPECT_NE(d.reals[0].reason.str().find("override: weight 9 set by uid 0 (root)"),
              std::string::npos)
        << d.reals[0].reason.str();

    // A drain for this service wins over the every-service weight override.
    f.overrides[{f.svc().key, rk("10.0.0.1:80")}] =
        policy::Override{policy::Override::Kind::drain, 0, "uid 1000 (ops)", {}};
    d = f.decide();
    EXPECT_EQ(d.reals[0].effective, 0u);
    EXPECT_TRUE(d.reals[0].present);
    EXPECT_FALSE(d.reals[0].down);
    EXPECT_NE(d.reals[0].reason.str().find("override: drained by uid 1000 (ops)"),
              std::string::npos);
    ASSERT_TRUE(d.reals[0].override_);
    EXPECT_EQ(d.reals[0].override_->kind, policy::Override::Kind::drain);
}

TEST(Policy, AdoptedWeightsHoldUntilTheFirstResultOfACheckedReal) {
    Fixture f(kFour);
    f.adopted[{f.svc().key, rk("10.0.0.1:80")}] = 0;  // it was down before the restart
    auto d = f.decide();
    EXPECT_EQ(d.reals[0].effective, 0u);
    EXPECT_NE(d.reals[0].reason.str().find("adopted"), std::string::npos);
    f.result("10.0.0.1:80", State::up, "connected");
    EXPECT_EQ(f.decide().reals[0].effective, 4u);

    // An unchecked service follows its config at once.
    Fixture g(R"(
[[service]]
name = "dns"
vip = "192.0.2.2"
port = 53
protocol = "udp"
check = { type = "none" }
[[service.real]]
address = "10.0.0.9:53"
weight = 7
)");
    g.adopted[{g.svc().key, rk("10.0.0.9:53")}] = 0;
    EXPECT_EQ(g.decide().reals[0].effective, 7u);
}

TEST(Policy, PanicKeepsEveryRealWhenMoreThanTheThresholdIsDown) {
    Fixture f(kFour);
    f.result("10.0.0.1:80", State::down, "timeout after 1s (connecting)");
    f.result("10.0.0.2:80", State::down, "timeout after 1s (connecting)");
    auto d = f.decide();  // 2 of 4 = 50 %: not more than the threshold
    EXPECT_FALSE(d.panic);
    EXPECT_EQ(d.reals[0].effective, 0u);
    f.result("10.0.0.3:80", State::down, "timeout after 1s (connecting)");
    d = f.decide();  // 3 of 4 = 75 %
    EXPECT_TRUE(d.panic);
    EXPECT_EQ(d.down, 3u);
    EXPECT_EQ(d.reals[0].effective, 4u);
    EXPECT_EQ(d.reals[1].effective, 3u);
    EXPECT_EQ(d.reals[2].effective, 2u);
    EXPECT_EQ(d.reals[3].effective, 1u);
    EXPECT_NE(d.reals[0].reason.str().find("panic: 3 of 4 real servers down (more than 50%)"),
              std::string::npos)
        << d.reals[0].reason.str();
    EXPECT_NE(d.reals[0].reason.str().find("health: timeout after 1s"), std::string::npos);

    // A drained real stays drained in panic.
    f.overrides[{std::nullopt, rk("10.0.0.1:80")}] =
        policy::Override{policy::Override::Kind::drain, 0, "op", {}};
    EXPECT_EQ(f.decide().reals[0].effective, 0u);

    // panic_threshold = 100 turns it off.
    f.config.director.panic_threshold = 100;
    d = f.decide();
    EXPECT_FALSE(d.panic);
    EXPECT_EQ(d.reals[1].effective, 0u);
}

TEST(Policy, SorryServerTakesOverWhenEveryRealIsDownAndPanicIsOffForIt) {
    Fixture f(std::string(kFour).replace(std::string(kFour).find("check ="), 0,
                                         "sorry_server = \"10.0.9.9:8080\"\n"));
    EXPECT_EQ(policy::panic_threshold(f.config, f.svc()), 100u);
    for (const char* r : {"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"})
        f.result(r, State::down, "connect refused");
    auto d = f.decide();
    EXPECT_FALSE(d.panic);
    EXPECT_FALSE(d.sorry_active);
    f.result("10.0.0.4:80", State::down, "connect refused");
    d = f.decide();
    EXPECT_TRUE(d.sorry_active);
    ASSERT_EQ(d.reals.size(), 5u);
    EXPECT_TRUE(d.reals[4].sorry);
    EXPECT_EQ(d.reals[4].effective, 1u);
    auto svc = policy::desired_service(f.svc(), d);
    EXPECT_EQ(svc.reals.at(rk("10.0.9.9:8080")).weight, 1u);
    EXPECT_EQ(svc.reals.at(rk("10.0.9.9:8080")).forward, model::ForwardMethod::masquerade);
    // An explicit threshold on the service brings panic back.
    f.config.services[0].panic_threshold = 50;
    d = f.decide();
    EXPECT_TRUE(d.panic);
    EXPECT_FALSE(d.sorry_active);
}

TEST(Policy, SlowStartRampsAndSaysSo) {
    Fixture f(kFour);
    f.result("10.0.0.1:80", State::up, "connected", f.now - 5s);
    auto d = f.decide();
    EXPECT_TRUE(d.reals[0].ramping);
    EXPECT_TRUE(d.ramping());
    EXPECT_EQ(d.reals[0].effective, 2u);  // half of 4, 5 s into a 10 s ramp
    f.now += 5s;
    d = f.decide();
    EXPECT_FALSE(d.reals[0].ramping);
    EXPECT_EQ(d.reals[0].effective, 4u);
}

TEST(Policy, DesiredStateCoversEveryServiceAndNatCoversSorryServersAndGroups) {
    Fixture f(std::string(kFour) + R"(
[[service]]
name = "vpn"
vip = "192.0.2.5"
group = [{protocol = "udp", port = 500}, {protocol = "esp"}]
sorry_server = "10.0.9.8"
check = { type = "none" }
[[service.real]]
address = "10.0.1.1"
)");
    auto desired = policy::desired_state(f.in());
    EXPECT_EQ(desired.ipvs.services.size(), 2u);
    EXPECT_EQ(desired.decisions.size(), 2u);
    auto nat = policy::desired_nat(f.config);
    EXPECT_EQ(nat.real_servers.size(), 6u);  // 4 + 1 + the sorry server
    ASSERT_EQ(nat.mark_groups.size(), 1u);
    EXPECT_EQ(nat.mark_groups[0].name, "vpn");
    EXPECT_EQ(nat.mark_groups[0].matches.size(), 2u);
    EXPECT_FALSE(policy::has_ipv6_service(f.config));
}

TEST(Overrides, FindPrefersTheServiceAndDescribesWhoAndWhen) {
    policy::Overrides all;
    const auto svc =
        model::ServiceKey::inet(model::Protocol::tcp, *model::IpAddress::parse("192.0.2.1"), 80);
    const auto r = rk("10.0.0.1:80");
    EXPECT_EQ(policy::find_override(all, svc, r), nullptr);
    all[{std::nullopt, r}] = policy::Override{policy::Override::Kind::drain, 0, "a", {}};
    ASSERT_NE(policy::find_override(all, svc, r), nullptr);
    EXPECT_EQ(policy::find_override(all, svc, r)->set_by, "a");
    all[{svc, r}] = policy::Override{policy::Override::Kind::weight, 3, "b",
                                     policy::WallTime(std::chrono::seconds(1764936000))};
    EXPECT_EQ(policy::find_override(all, svc, r)->set_by, "b");
    EXPECT_EQ(policy::find_override(all, svc, r)->describe(),
              "weight 3 set by b at 2025-12-05T12:00:00Z");
    EXPECT_EQ((policy::OverrideKey{std::nullopt, r}.to_string()), "10.0.0.1:80 in every service");
}
