#include "ballast/health/check_plan.hpp"

#include <algorithm>

#include <gtest/gtest.h>

namespace ballast::health {
namespace {

using model::CheckSpec;
using model::CheckType;
using model::IpAddress;

model::ServiceConfig service(const std::string& vip, uint16_t port, std::optional<CheckSpec> check,
                             std::vector<std::pair<std::string, uint16_t>> reals) {
    model::ServiceConfig s;
    s.name = vip;
    s.key = model::ServiceKey::inet(model::Protocol::tcp, *IpAddress::parse(vip), port);
    s.check = std::move(check);
    for (auto& [addr, p] : reals) {
        model::RealServerConfig r;
        r.key = model::RealKey{*IpAddress::parse(addr), p};
        s.reals.push_back(r);
    }
    return s;
}

CheckSpec http_check() {
    CheckSpec c;
    c.type = CheckType::http;
    c.path = "/health";
    return c;
}

TEST(CheckPlan, OneProbePerDistinctTargetAndSpec) {
    auto a = service("192.0.2.1", 80, http_check(), {{"10.0.0.2", 80}, {"10.0.0.3", 80}});
    auto b = service("192.0.2.2", 80, http_check(), {{"10.0.0.2", 80}});  // shares 10.0.0.2
    auto c = service("192.0.2.3", 80, CheckSpec{}, {{"10.0.0.2", 80}});   // tcp: another probe
    auto plan = plan_checks({a, b, c}, CheckSpec{});
    ASSERT_EQ(plan.checks.size(), 3u);
    auto shared = make_check_key(*IpAddress::parse("10.0.0.2"), 80, http_check());
    ASSERT_TRUE(plan.checks.count(shared));
    const auto& users = plan.checks.at(shared);
    ASSERT_EQ(users.size(), 2u);
    EXPECT_NE(users[0].service, users[1].service);
}

TEST(CheckPlan, PrivilegedChecksAreThePlansHalfOpenKeys) {
    CheckSpec half_open;
    half_open.type = CheckType::tcp_half_open;
    CheckSpec on_port = half_open;
    on_port.port = 8080;
    auto a = service("192.0.2.1", 80, half_open, {{"10.0.0.3", 80}, {"10.0.0.2", 80}});
    auto b = service("192.0.2.2", 80, half_open, {{"10.0.0.2", 80}});  // the same probe as a's
    auto c = service("192.0.2.3", 80, on_port, {{"10.0.0.2", 80}});    // another port
    auto d = service("192.0.2.4", 80, http_check(), {{"10.0.0.4", 80}});
    d.reals[0].agent_port = 3333;  // an agent check: no privilege
    auto e = service("192.0.2.5", 80, std::nullopt, {{"10.0.0.5", 80}});
    const std::vector<model::ServiceConfig> services{a, b, c, d, e};

    std::vector<CheckKey> from_plan;
    for (const auto& [key, users] : plan_checks(services, CheckSpec{}).checks)
        if (key.spec->type == CheckType::tcp_half_open) from_plan.push_back(key);
    const auto keys = privileged_checks(services);
    EXPECT_EQ(keys, from_plan);
    ASSERT_EQ(keys.size(), 3u);
    EXPECT_EQ(keys[1].target.port, 8080);  // 10.0.0.2:8080 sorts between :80 and 10.0.0.3
    EXPECT_TRUE(privileged_checks({d, e}).empty());
}

TEST(CheckPlan, CheckPortFoldsIntoTarget) {
    CheckSpec with_port = http_check();
    with_port.port = 80;
    auto a = service("192.0.2.1", 443, with_port, {{"10.0.0.2", 8443}});
    auto b = service("192.0.2.2", 80, http_check(), {{"10.0.0.2", 80}});
    auto plan = plan_checks({a, b}, CheckSpec{});
    ASSERT_EQ(plan.checks.size(), 1u);
    EXPECT_EQ(plan.checks.begin()->first.target.port, 80);
    EXPECT_FALSE(plan.checks.begin()->first.spec->port);
}

// Every key of one distinct spec shares one copy of it (services with equal checks included);
// keys compare by the spec's value, whichever copy they hold.
TEST(CheckPlan, KeysShareOneSpecPerDistinctSpec) {
    CheckSpec with_port = http_check();
    with_port.port = 8080;
    auto a = service("192.0.2.1", 80, http_check(), {{"10.0.0.2", 80}, {"10.0.0.3", 80}});
    auto b = service("192.0.2.2", 80, with_port, {{"10.0.0.4", 80}});  // the same, port folded
    auto c = service("192.0.2.3", 80, CheckSpec{}, {{"10.0.0.2", 80}});
    a.reals[0].agent_port = 7777;
    b.reals[0].agent_port = 7777;
    const auto plan = plan_checks({a, b, c}, CheckSpec{});
    ASSERT_EQ(plan.checks.size(), 6u);  // 3 http, 1 tcp, 2 agent
    std::vector<SharedSpec> distinct;
    for (const auto& entry : plan.checks)
        if (std::none_of(distinct.begin(), distinct.end(),
                         [&](const SharedSpec& s) { return s.shares(entry.first.spec); }))
            distinct.push_back(entry.first.spec);
    ASSERT_EQ(distinct.size(), 3u);  // http, tcp, agent
    const auto own = make_check_key(*IpAddress::parse("10.0.0.4"), 80, with_port);
    ASSERT_TRUE(plan.checks.count(own));
    EXPECT_FALSE(plan.checks.find(own)->first.spec.shares(own.spec));
    EXPECT_EQ(plan.checks.find(own)->first.target.port, 8080);
}

// edit() changes this key's spec only, never one another key shares.
TEST(CheckPlan, EditingASharedSpecCopiesIt) {
    const auto plan =
        plan_checks({service("192.0.2.1", 80, http_check(), {{"10.0.0.2", 80}, {"10.0.0.3", 80}})},
                    CheckSpec{});
    ASSERT_EQ(plan.checks.size(), 2u);
    CheckKey mine = plan.checks.begin()->first;
    const CheckKey& other = std::next(plan.checks.begin())->first;
    ASSERT_TRUE(mine.spec.shares(other.spec));
    mine.spec.edit().path = "/other";
    EXPECT_EQ(mine.spec->path, "/other");
    EXPECT_EQ(other.spec->path, "/health");
    EXPECT_EQ(plan.checks.begin()->first.spec->path, "/health");
    EXPECT_NE(mine, plan.checks.begin()->first);
    mine.spec.edit().path = "/health";  // no longer shared: changed in place, equal again
    EXPECT_EQ(mine, plan.checks.begin()->first);
}

TEST(CheckPlan, UncheckedServiceHasNoProbeButAgentPortDoes) {
    auto a = service("192.0.2.1", 80, std::nullopt, {{"10.0.0.2", 80}});
    a.reals[0].agent_port = 7777;
    CheckSpec defaults;
    defaults.interval = model::Millis(1500);
    auto plan = plan_checks({a}, defaults);
    ASSERT_EQ(plan.checks.size(), 1u);
    const auto& [key, users] = *plan.checks.begin();
    EXPECT_EQ(key.spec->type, CheckType::agent);
    EXPECT_EQ(key.target.port, 7777);
    EXPECT_EQ(key.spec->interval, model::Millis(1500));
    EXPECT_EQ(users.front().role, CheckRole::agent);
}

// The plan's map: keys in order, found by value; users sorted and distinct, one inline or many
// on the heap, and copies that own their own.
TEST(CheckPlan, MapFindsEveryKeyAndItsUsers) {
    auto a = service("192.0.2.1", 80, http_check(), {{"10.0.0.3", 80}, {"10.0.0.2", 80}});
    auto b = service("192.0.2.2", 80, http_check(), {{"10.0.0.2", 80}, {"10.0.0.2", 80}});
    auto c = service("192.0.2.3", 80, http_check(), {{"10.0.0.2", 80}});
    const std::vector<model::ServiceConfig> services{c, a, b};
    const auto plan = plan_checks(services, CheckSpec{});
    ASSERT_EQ(plan.checks.size(), 2u);
    EXPECT_TRUE(std::is_sorted(plan.checks.begin(), plan.checks.end(),
                               [](const auto& x, const auto& y) { return x.first < y.first; }));
    const auto two = make_check_key(*IpAddress::parse("10.0.0.2"), 80, http_check());
    const auto three = make_check_key(*IpAddress::parse("10.0.0.3"), 80, http_check());
    const auto& shared = plan.checks.at(two);
    ASSERT_EQ(shared.size(), 3u);  // c, a, b (its repeated real once): in config order
    EXPECT_TRUE(std::is_sorted(shared.begin(), shared.end()));
    EXPECT_EQ(user_service(services, shared.front()).key, c.key);
    EXPECT_EQ(user_service(services, shared[1]).key, a.key);
    EXPECT_EQ(shared[1].real, 1u);  // a's second real
    EXPECT_EQ(user_real(services, shared[1]).key, a.reals[1].key);
    EXPECT_EQ(user_service(services, shared[2]).key, b.key);
    EXPECT_EQ(shared[2].real, 0u);
    const auto& single = plan.checks.at(three);
    ASSERT_EQ(single.size(), 1u);
    EXPECT_EQ(user_service(services, single.front()).key, a.key);
    EXPECT_EQ(user_real(services, single.front()).key.addr, *IpAddress::parse("10.0.0.3"));
    // Found by its parts as by its key.
    EXPECT_EQ(plan.checks.find(CheckRef{{*IpAddress::parse("10.0.0.3"), 80}, http_check()}),
              plan.checks.find(three));
    EXPECT_EQ(plan.checks.find(CheckRef{{*IpAddress::parse("10.0.0.3"), 81}, http_check()}),
              plan.checks.end());
    EXPECT_EQ(&plan.checks[1], &*plan.checks.find(three));
    EXPECT_EQ(plan.checks.count(make_check_key(*IpAddress::parse("10.0.0.4"), 80, http_check())),
              0u);
    EXPECT_THROW(plan.checks.at(make_check_key(*IpAddress::parse("10.0.0.2"), 81, http_check())),
                 std::out_of_range);

    auto copy = plan;
    const auto& copied = copy.checks.at(two);
    ASSERT_EQ(copied.size(), 3u);
    EXPECT_NE(copied.begin(), shared.begin());  // its own array
    EXPECT_TRUE(std::equal(copied.begin(), copied.end(), shared.begin(), shared.end()));
    CheckUsers assigned;
    EXPECT_TRUE(assigned.empty());
    assigned = single;
    ASSERT_EQ(assigned.size(), 1u);
    EXPECT_EQ(assigned.front(), single.front());
    assigned = shared;
    EXPECT_TRUE(std::equal(assigned.begin(), assigned.end(), shared.begin(), shared.end()));
}

TEST(CheckPlan, DiffKeepsUnchangedAddsAndRemoves) {
    auto a =
        plan_checks({service("192.0.2.1", 80, http_check(), {{"10.0.0.2", 80}, {"10.0.0.3", 80}})},
                    CheckSpec{});
    auto changed = http_check();
    changed.path = "/other";
    auto b = plan_checks({service("192.0.2.1", 80, http_check(), {{"10.0.0.2", 80}}),
                          service("192.0.2.9", 80, changed, {{"10.0.0.3", 80}})},
                         CheckSpec{});
    auto d = diff_checks(a.keys(), b.keys());
    ASSERT_EQ(d.kept.size(), 1u);
    EXPECT_EQ(d.kept[0].target.addr, *IpAddress::parse("10.0.0.2"));
    ASSERT_EQ(d.added.size(), 1u);
    EXPECT_EQ(d.added[0].spec->path, "/other");
    ASSERT_EQ(d.removed.size(), 1u);
    EXPECT_EQ(d.removed[0].target.addr, *IpAddress::parse("10.0.0.3"));
    EXPECT_EQ(d.removed[0].spec->path, "/health");
}

// Keys from a caller in any order, repeated: the merge sorts its own copy and reports each once;
// the plans' own overload gives the same answer as the keys' one.
TEST(CheckPlan, DiffOfUnsortedAndRepeatedKeys) {
    auto key = [](const char* addr, const char* path) {
        auto spec = http_check();
        spec.path = path;
        return make_check_key(*IpAddress::parse(addr), 80, spec);
    };
    const std::vector<CheckKey> running{key("10.0.0.9", "/a"), key("10.0.0.1", "/a"),
                                        key("10.0.0.9", "/a"), key("10.0.0.5", "/a")};
    const std::vector<CheckKey> wanted{key("10.0.0.5", "/a"), key("10.0.0.2", "/a"),
                                       key("10.0.0.2", "/a"), key("10.0.0.9", "/b")};
    const auto d = diff_checks(running, wanted);
    EXPECT_EQ(d.kept, (std::vector<CheckKey>{key("10.0.0.5", "/a")}));
    EXPECT_EQ(d.added, (std::vector<CheckKey>{key("10.0.0.2", "/a"), key("10.0.0.9", "/b")}));
    EXPECT_EQ(d.removed, (std::vector<CheckKey>{key("10.0.0.1", "/a"), key("10.0.0.9", "/a")}));

    auto a =
        plan_checks({service("192.0.2.1", 80, http_check(), {{"10.0.0.2", 80}, {"10.0.0.3", 80}})},
                    CheckSpec{});
    auto b =
        plan_checks({service("192.0.2.1", 80, http_check(), {{"10.0.0.3", 80}, {"10.0.0.4", 80}})},
                    CheckSpec{});
    const auto from_plans = diff_checks(a, b), from_keys = diff_checks(a.keys(), b.keys());
    EXPECT_EQ(from_plans.kept, from_keys.kept);
    EXPECT_EQ(from_plans.added, from_keys.added);
    EXPECT_EQ(from_plans.removed, from_keys.removed);
    EXPECT_EQ(from_plans.kept.size(), 1u);
    EXPECT_EQ(from_plans.added.size(), 1u);
    EXPECT_EQ(from_plans.removed.size(), 1u);
}

}  // namespace
}  // namespace ballast::health
