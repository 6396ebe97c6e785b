// The views the daemon sends and ballastctl decodes (every field survives the round trip; a
// malformed reply names its field), and ballastctl's renderings of them.
#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "ballast/control/render.hpp"
#include "ballast/control/views.hpp"

using namespace ballast;
using namespace ballast::control;
namespace json = boost::json;

namespace {

StatusView sample() {
    StatusView s;
    s.daemon = "ballastd 0.1.0";
    s.config = "/etc/ballast/ballast.toml";
    s.pid = 4242;
    s.now = 1764936000;
    s.counters_at = 1764935990;
    s.reconcile.in_sync = true;
    s.reconcile.last_resync = 1764935988;
    s.reconcile.resyncs = 34;
    s.reconcile.ops_applied = 1520;
    ServiceView web;
    web.name = "web";
    web.key =
        model::ServiceKey::inet(model::Protocol::tcp, *model::IpAddress::parse("192.0.2.1"), 80);
    web.scheduler = "wrr";
    web.check_type = "tcp";
    web.down = 1;
    RealView up;
    up.real = "10.0.0.1:80";
    up.configured = up.effective = 3;
    up.state = "up";
    up.reason = "up: connected";
    up.check = CheckRunView{
        "tcp 10.0.0.1:80", "up", 1764936000 - 7200, 1764935999.5, true, "connected", 0.4, 3600};
    up.active = 12;
    up.inactive = 40;
    up.persistent = 0;
    up.traffic = TrafficView{100, 2000, 1900, 300000, 9000000, 5, 50, 48, 1200, 30000};
    RealView down;
    down.real = "10.0.0.2:80";
    down.configured = 2;
    down.effective = 0;
    down.down = true;
    down.state = "down";
    down.reason = "connect refused";
    down.check = CheckRunView{
        "tcp 10.0.0.2:80", "down", 1764936000 - 300, 1764935999, false, "connect refused", 0.2, 99};
    down.active = 0;
    down.inactive = 3;
    RealView drained;
    drained.real = "10.0.0.3:80";
    drained.configured = 1;
    drained.effective = 0;
    drained.state = "up";
    drained.reason =
        "override: drained by uid 0 (root) pid 9 at 2026-12-05T12:00:00Z; up: connected";
    drained.override_ = OverrideView{"drain", 0, true, "uid 0 (root) pid 9", 1764935000};
    web.reals = {up, down, drained};
    web.traffic = TrafficView{100, 2000, 1900, 300000, 9000000, 5, 50, 48, 1200, 30000};
    s.services.push_back(web);
    s.recent_events.push_back(EventView{1764935999.25, "warning", "health",
                                        "10.0.0.2:80 down: connect refused (3/3)",
                                        "192.0.2.1:80/tcp", "10.0.0.2:80"});
    return s;
}

}  // namespace

TEST(Views, StatusSurvivesTheRoundTrip) {
    const auto s = sample();
    auto text = json::serialize(to_json(s));
    auto back = status_from_json(json::parse(text));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, s);
}

TEST(Views, PlanReloadHelloAndEventsSurviveTheRoundTrip) {
    PlanView p{
        "next.toml", "2 IPVS writes", 2, {{'+', "service x"}, {'-', "real y"}, {'~', "real z"}}};
    EXPECT_EQ(*plan_from_json(to_json(p)), p);
    ReloadView r{"b.toml", 3, 1, 2, 3, 4, 1, {"add element 10.0.0.9/32"}};
    EXPECT_EQ(*reload_from_json(to_json(r)), r);
    HelloView h{"ballastd 0.1.0", 7, "/etc/ballast/ballast.toml"};
    EXPECT_EQ(*hello_from_json(to_json(h)), h);
    EventView e{1.5, "notice", "override", "m", std::nullopt, "10.0.0.1:80"};
    EXPECT_EQ(*event_from_json(to_json(e)), e);
}

TEST(Views, AMalformedReplyNamesTheField) {
    auto v = json::parse(json::serialize(to_json(sample())));
    v.as_object()["services"]
        .as_array()[0]
        .as_object()["reals"]
        .as_array()[1]
        .as_object()["effective"] = "zero";
    auto r = status_from_json(v);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find(
                  "status.\"services\"[0].\"reals\"[1].\"effective\" must be an integer"),
              std::string::npos)
        << r.error().message;
    auto p = plan_from_json(json::parse(
        R"({"file":"f","summary":"s","ipvs_ops":1,"lines":[{"sign":"*","text":"t"}]})"));
    ASSERT_FALSE(p);
    EXPECT_NE(p.error().message.find("\"sign\" must be"), std::string::npos) << p.error().message;
    EXPECT_FALSE(status_from_json(json::parse("[]")));
    EXPECT_FALSE(reload_from_json(json::parse(R"({"file":"f"})")));
}

TEST(Render, StatusIsATableWithWhy) {
    const auto text = render_status(sample(), {false, 0});
    const std::string expected =
        "ballastd 0.1.0 (pid 4242), /etc/ballast/ballast.toml\n"
        "IPVS: in sync; last resync 12s ago (34 resyncs, 0 drift repairs, 1520 writes, 0 failed)\n"
        "counters: from a dump 10s ago\n"
        "\n"
        "web  192.0.2.1:80/tcp  wrr  check tcp  1 of 3 real servers down\n"
        "  REAL         HEALTH   WEIGHT  ACT/INACT  CONN/S  IN/OUT B/S  WHY\n"
        "  10.0.0.1:80  up 2h    3/3     12/40      5       1.2k/30.0k  up: connected\n"
        "  10.0.0.2:80  down 5m  0/2     0/3        -       -           connect refused\n"
        "  10.0.0.3:80  up       0/1     -          -       -           override: drained by "
        "uid 0 (root) pid 9 at 2026-12-05T12:00:00Z; up: connected\n";
    EXPECT_EQ(text, expected);
    EXPECT_EQ(text.find('\x1b'), std::string::npos);
    const auto coloured = render_status(sample(), {true, 0});
    EXPECT_NE(coloured.find("\x1b[32mup 2h\x1b[0m"), std::string::npos);
    EXPECT_NE(coloured.find("\x1b[31mdown 5m\x1b[0m"), std::string::npos);
    EXPECT_NE(coloured.find("\x1b[33m0/1\x1b[0m"), std::string::npos);  // drained: yellow
}

TEST(Render, StatusShowsFailingKeysRetryAndDrains) {
    auto s = sample();
    s.reconcile.in_sync = false;
    s.reconcile.failing_total = 120;
    s.reconcile.failing = {{"192.0.2.1:80/tcp -> 10.0.0.2:80", "No such file or directory"}};
    s.reconcile.retry_failures = 2;
    s.reconcile.retry_in_seconds = 4;
    s.reconcile.draining_total = 1;
    s.reconcile.draining = {"192.0.2.1:80/tcp -> 10.0.0.9:80 (4 connections)"};
    s.reconcile.foreign = {"198.51.100.7:25/tcp"};
    const auto text = render_status(s, {false, 0});
    EXPECT_NE(text.find("IPVS: 120 IPVS keys failing, retrying"), std::string::npos) << text;
    EXPECT_NE(text.find("  failing: 192.0.2.1:80/tcp -> 10.0.0.2:80: No such file or directory\n"
                        "  ... and 119 more\n  next retry in 4s (attempt 3)\n"
                        "  draining: 192.0.2.1:80/tcp -> 10.0.0.9:80 (4 connections)\n"
                        "  not ballast's (left alone): 1 IPVS services\n"),
              std::string::npos)
        << text;
}

TEST(Render, TopPutsTheBusiestFirstAndFitsTheTerminal) {
    auto s = sample();
    auto quiet = s.services[0];
    quiet.name = "quiet";
    quiet.traffic = TrafficView{};
    for (auto& r : quiet.reals) r.traffic.reset();
    s.services.insert(s.services.begin(), quiet);
    const auto text = render_top(s, {false, 0});
    const auto web = text.find("web 192.0.2.1:80/tcp");
    const auto q = text.find("quiet 192.0.2.1:80/tcp");
    ASSERT_NE(web, std::string::npos);
    ASSERT_NE(q, std::string::npos);
    EXPECT_LT(web, q);  // 5 conn/s before 0
    EXPECT_NE(text.find("  10.0.0.1:80           5       12      40        50        48         "
                        "1.2k    30.0k    3/3 up"),
              std::string::npos)
        << text;
    const auto small = render_top(s, {false, 5});
    EXPECT_NE(small.find("(5 rows not shown)"), std::string::npos) << small;
    EXPECT_EQ(std::count(small.begin(), small.end(), '\n'), 5);
}

TEST(Render, PlanLinesEventsAndReload) {
    PlanView p{"next.toml",
               "2 IPVS writes; checks +1 -0 (2 kept); nft: 0 changes",
               2,
               {{'+', "service dns (192.0.2.2:53/udp), scheduler wlc"},
                {'~', "real 10.0.0.2:80 in web (192.0.2.1:80/tcp): weight 2 -> 4"},
                {'-', "check tcp 10.0.0.3:80"}}};
    EXPECT_EQ(render_plan(p, {false, 0}),
              "+ service dns (192.0.2.2:53/udp), scheduler wlc\n"
              "~ real 10.0.0.2:80 in web (192.0.2.1:80/tcp): weight 2 -> 4\n"
              "- check tcp 10.0.0.3:80\n"
              "next.toml: 2 IPVS writes; checks +1 -0 (2 kept); nft: 0 changes\n");
    const auto c = render_plan(p, {true, 0});
    EXPECT_NE(c.find("\x1b[32m+ service"), std::string::npos);
    EXPECT_NE(c.find("\x1b[33m~ real"), std::string::npos);
    EXPECT_NE(c.find("\x1b[31m- check"), std::string::npos);
    EXPECT_EQ(render_event(sample().recent_events[0], {false, 0}),
              "2025-12-05T11:59:59.250Z warning health: 10.0.0.2:80 down: connect refused (3/3)\n");
    EXPECT_EQ(render_reload(ReloadView{"b.toml", 3, 1, 0, 5, 2, 1, {"add element 10.0.0.9/32"}}),
              "reloaded b.toml: 3 services; checks +1 -0 (5 kept); 2 IPVS writes (1 failed, "
              "retrying)\n  nft: add element 10.0.0.9/32\n");
}

TEST(Render, AgesRatesAndTimes) {
    EXPECT_EQ(format_age(0), "0s");
    EXPECT_EQ(format_age(89), "89s");
    EXPECT_EQ(format_age(95), "2m");
    EXPECT_EQ(format_age(7200), "2h");
    EXPECT_EQ(format_age(3 * 86400), "3d");
    EXPECT_EQ(format_age(-5), "0s");
    EXPECT_EQ(format_rate(999), "999");
    EXPECT_EQ(format_rate(1200), "1.2k");
    EXPECT_EQ(format_rate(3'400'000), "3.4M");
    EXPECT_EQ(format_rate(5'600'000'000), "5.6G");
    EXPECT_EQ(format_utc(0.5), "1970-01-01T00:00:00.500Z");
}
