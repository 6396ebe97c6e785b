#include "ballast/health/health_book.hpp"

#include <gtest/gtest.h>

namespace ballast::health {
namespace {

using namespace std::chrono_literals;
using model::IpAddress;

struct Fixture {
    Fixture() {
        svc.key = model::ServiceKey::inet(model::Protocol::tcp, *IpAddress::parse("192.0.2.1"), 80);
        svc.check = model::CheckSpec{};
        svc.check.edit().type = model::CheckType::http;
        real.key = model::RealKey{*IpAddress::parse("10.0.0.2"), 80};
        real.spec.weight = 10;
        real.agent_port = 7777;
        svc.reals.push_back(real);
        main_key = make_check_key(real.key.addr, 80, *svc.check);
        agent_key = make_check_key(real.key.addr, 7777, agent_check_spec(*svc.check));
    }
    model::ServiceConfig svc;
    model::RealServerConfig real;
    CheckKey main_key, agent_key;
    const TimePoint now = TimePoint{} + 1h;
};

TEST(HealthBook, CombinesMainAndAgentIntoWeight) {
    Fixture f;
    HealthBook book;
    EXPECT_EQ(book.real_health(f.svc, f.real, {}).state, State::unknown);
    book.record(f.main_key, State::up, "HTTP 200", std::nullopt, std::nullopt);
    book.record(f.agent_key, State::up, "agent: up 50%", std::nullopt,
                *parse_agent_reply("up 50%"));
    auto h = book.real_health(f.svc, f.real, {});
    EXPECT_EQ(h.state, State::up);
    ASSERT_TRUE(h.agent);
    EXPECT_EQ(decide_real(f.real, h, model::OnFailure::quiesce, 0ms, f.now).weight, 5u);

    // The agent stops answering: ignored while the main check is up.
    book.record(f.agent_key, State::down, "connect refused", std::nullopt, std::nullopt);
    h = book.real_health(f.svc, f.real, {});
    EXPECT_TRUE(h.agent_failed);
    EXPECT_FALSE(h.agent);
    EXPECT_EQ(decide_real(f.real, h, model::OnFailure::quiesce, 0ms, f.now).weight, 10u);

    book.record(f.main_key, State::down, "HTTP 503", std::nullopt, std::nullopt);
    auto v = decide_real(f.real, book.real_health(f.svc, f.real, {}), model::OnFailure::quiesce,
                         0ms, f.now);
    EXPECT_TRUE(v.down);
    EXPECT_EQ(v.reason, "HTTP 503");
}

TEST(HealthBook, RetainForgetsUnplannedChecks) {
    Fixture f;
    HealthBook book;
    book.record(f.main_key, State::down, "HTTP 503", std::nullopt, std::nullopt);
    auto plan = plan_checks({f.svc}, {});
    book.retain(plan);
    EXPECT_TRUE(book.find(f.main_key));
    book.retain(CheckPlan{});
    EXPECT_FALSE(book.find(f.main_key));
}

// retain() makes a place per planned check, with no result until one is recorded; results of
// checks still planned survive the next plan, others are forgotten; a check recorded without a
// plan is found as well, in order among the planned ones.
TEST(HealthBook, PlannedChecksHaveNoResultUntilOneIsRecorded) {
    Fixture f;
    HealthBook book;
    const auto plan = plan_checks({f.svc}, {});
    ASSERT_EQ(plan.checks.size(), 2u);  // main and agent
    book.retain(plan);
    EXPECT_FALSE(book.find(f.main_key));
    EXPECT_FALSE(book.find(f.agent_key));
    EXPECT_FALSE(book.find(f.real.key.addr, 80, *f.svc.check));
    book.record(f.main_key, State::up, "HTTP 200", std::nullopt, std::nullopt);
    ASSERT_TRUE(book.find(f.main_key));
    EXPECT_EQ(book.find(f.main_key)->reason, "HTTP 200");
    EXPECT_FALSE(book.find(f.agent_key));

    const auto early = make_check_key(*IpAddress::parse("10.0.0.1"), 80, *f.svc.check);
    const auto late = make_check_key(*IpAddress::parse("10.0.0.9"), 80, *f.svc.check);
    book.record(late, State::down, "late", std::nullopt, std::nullopt);
    book.record(early, State::down, "early", std::nullopt, std::nullopt);
    EXPECT_EQ(book.find(early)->reason, "early");
    EXPECT_EQ(book.find(late)->reason, "late");
    EXPECT_EQ(book.find(f.main_key)->reason, "HTTP 200");
    EXPECT_FALSE(book.find(f.agent_key));

    auto without_agent = f.svc;
    without_agent.reals[0].agent_port.reset();
    book.retain(plan_checks({without_agent}, {}));
    EXPECT_EQ(book.find(f.main_key)->reason, "HTTP 200");
    EXPECT_FALSE(book.find(f.agent_key));
    EXPECT_FALSE(book.find(early));
    EXPECT_FALSE(book.find(late));
    book.retain(plan);  // the agent check back: a place again, still without a result
    EXPECT_FALSE(book.find(f.agent_key));
    EXPECT_EQ(book.find(f.main_key)->reason, "HTTP 200");
}

// The book follows the plan it is given, shared (it holds no keys of its own): a new plan in
// which a check sits at another position carries the check's result over by key.
TEST(HealthBook, FollowsASharedPlanAndCarriesResultsOverByKey) {
    Fixture f;
    const auto plan = std::make_shared<const CheckPlan>(plan_checks({f.svc}, {}));
    HealthBook book;
    book.retain(plan);
    EXPECT_EQ(plan.use_count(), 2);  // held, not copied
    book.record(f.main_key, State::down, "HTTP 503", std::nullopt, std::nullopt);
    book.record(f.agent_key, State::up, "agent: up", std::nullopt, std::nullopt);

    auto before = f.svc;  // a service with a real before this one: every place moves by two
    before.key = model::ServiceKey::inet(model::Protocol::tcp, *IpAddress::parse("192.0.2.9"), 80);
    before.reals[0].key.addr = *IpAddress::parse("10.0.0.1");
    const auto next = std::make_shared<const CheckPlan>(plan_checks({f.svc, before}, {}));
    ASSERT_EQ(next->checks.size(), 4u);
    EXPECT_EQ(next->checks.find(f.main_key) - next->checks.begin(),
              plan->checks.find(f.main_key) - plan->checks.begin() + 2);
    book.retain(next);
    EXPECT_EQ(plan.use_count(), 1);  // the old plan let go
    ASSERT_TRUE(book.find(f.main_key));
    EXPECT_EQ(book.find(f.main_key)->reason, "HTTP 503");
    ASSERT_TRUE(book.find(f.agent_key));
    EXPECT_EQ(book.find(f.agent_key)->reason, "agent: up");
    EXPECT_FALSE(book.find(before.reals[0].key.addr, 80, *f.svc.check));  // a place, no result
    EXPECT_EQ(book.real_health(f.svc, f.real, {}).state, State::down);
    EXPECT_EQ(book.real_health(before, before.reals[0], {}).state, State::unknown);
}

TEST(HealthBook, FindsByPartsWhatTheKeyNames) {
    Fixture f;
    HealthBook book;
    book.record(f.main_key, State::up, "HTTP 200", std::nullopt, std::nullopt);
    const auto* found = book.find(f.real.key.addr, 80, *f.svc.check);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->reason, "HTTP 200");
    EXPECT_FALSE(book.find(f.real.key.addr, 81, *f.svc.check));
    EXPECT_FALSE(book.find(*IpAddress::parse("10.0.0.3"), 80, *f.svc.check));
    auto other = *f.svc.check;
    other.path = "/other";
    EXPECT_FALSE(book.find(f.real.key.addr, 80, other));

    // A check port replaces the real's: the same probe as the real on that port.
    auto on_8080 = *f.svc.check;
    on_8080.port = 8080;
    book.record(make_check_key(f.real.key.addr, 8080, *f.svc.check), State::down, "HTTP 503",
                std::nullopt, std::nullopt);
    found = book.find(f.real.key.addr, 80, on_8080);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->reason, "HTTP 503");
    EXPECT_EQ(found, book.find(make_check_key(f.real.key.addr, 80, on_8080)));
}

// A service whose check is "none" with intervals of its own: the plan probes its reals' agents
// with those intervals, and the book finds the agent's reply under the key the plan made.
TEST(HealthBook, AnAgentOfAServiceWithoutACheckIsFoundUnderThePlansKey) {
    Fixture f;
    f.svc.check = model::CheckSpec{};
    f.svc.check.edit().type = model::CheckType::none;
    f.svc.check.edit().interval = 5s;
    f.svc.reals = {f.real};
    model::CheckSpec defaults;
    defaults.interval = 2s;
    const auto plan = plan_checks({f.svc}, defaults);
    ASSERT_EQ(plan.checks.size(), 1u);
    const CheckKey& agent = plan.checks.begin()->first;
    EXPECT_EQ(agent.spec->interval, 5s);
    HealthBook book;
    book.record(agent, State::up, "agent: up 50%", std::nullopt, *parse_agent_reply("up 50%"));
    const auto h = book.real_health(f.svc, f.real, defaults);
    ASSERT_TRUE(h.agent);
    EXPECT_EQ(decide_real(f.real, h, model::OnFailure::quiesce, 0ms, f.now).weight, 5u);
}

}  // namespace
}  // namespace ballast::health
