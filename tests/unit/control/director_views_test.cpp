// The daemon's state as the control socket, the page and the metrics see it: views of a
// Director on the recording fakes (weights, why, overrides and for which services), the
// reconcile state, a reload's plan as +/-/~ lines; the published state; the metrics,
// whose per-service texts are serialized again only for services that changed; and what the
// hub publishes, read back as views.
#include <zlib.h>

#include <algorithm>
#include <random>
#include <set>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "ballast/config/config.hpp"
#include "ballast/control/director_views.hpp"
#include "ballast/control/hub.hpp"
#include "ballast/control/metrics.hpp"
#include "ballast/control/published.hpp"
#include "ballast/fakes/fake_ipvs.hpp"
#include "ballast/fakes/fake_nft.hpp"
#include "ballast/fakes/fake_sysctl.hpp"

using namespace ballast;
using namespace ballast::control;
using namespace std::chrono_literals;

namespace {

model::DirectorConfig load(const std::string& text) {
    auto r = config::load_string(text, "ballast.toml");
    if (!r.ok()) throw std::runtime_error(config::format(r.diagnostics.front()));
    return *r.config;
}

const char* kConfig = R"(
[[service]]
name = "web"
vip = "192.0.2.1"
port = 80
scheduler = "wrr"
check = { type = "tcp" }
[[service.real]]
address = "10.0.0.1:80"
weight = 3
[[service.real]]
address = "10.0.0.2:80"
weight = 2
[[service]]
name = "api"
vip = "192.0.2.1"
port = 443
check = { type = "none" }
[[service.real]]
address = "10.0.0.1:443"
)";

const auto kWeb =
    model::ServiceKey::inet(model::Protocol::tcp, *model::IpAddress::parse("192.0.2.1"), 80);
const auto kApi =
    model::ServiceKey::inet(model::Protocol::tcp, *model::IpAddress::parse("192.0.2.1"), 443);
model::RealKey rk(const char* s) {
    auto e = model::Endpoint::parse(s);
    return {e->addr, e->port};
}

struct Store : daemon::StateStore {
    policy::Overrides overrides;
    Result<std::set<model::ServiceKey>> load_ownership() override {
        return std::set<model::ServiceKey>{};
    }
    Status save_ownership(const std::set<model::ServiceKey>&) override { return {}; }
    Result<policy::Overrides> load_overrides() override { return overrides; }
    Status save_overrides(const policy::Overrides& o) override {
        overrides = o;
        return {};
    }
};

struct Rig {
    fakes::FakeIpvs ipvs;
    fakes::FakeNftClient nft;
    fakes::FakeSysctl sysctl;
    Store store;
    std::unique_ptr<daemon::Director> d;
    daemon::Now now{daemon::SteadyTime(std::chrono::hours(1)),
                    daemon::WallTime(std::chrono::seconds(1764936000))};
    Rig() {
        d = std::make_unique<daemon::Director>(load(kConfig), daemon::Ports{ipvs, nft, sysctl},
                                               store);
        if (!d->start(ipvs.dump(), now)) throw std::runtime_error("start");
    }
    ServiceView view(const model::ServiceKey& key) {
        const auto& cfg = key == kWeb ? d->config().services[0] : d->config().services[1];
        return service_view(cfg, *d->decisions().at(key), d->overrides());
    }
    void verdict(const char* real, health::State state, std::string reason) {
        const auto r = rk(real);
        health::HealthEvent ev{
            health::make_check_key(r.addr, r.port, *d->config().services[0].check),
            state,
            true,
            std::move(reason),
            now.steady,
            std::nullopt,
            std::nullopt};
        d->on_health_event(ev, now);
    }
};

health::State state_named(const std::string& s) {
    return s == "up"     ? health::State::up
           : s == "down" ? health::State::down
                         : health::State::unknown;
}

// An entry as the loop would publish it for this view (no checks).
std::shared_ptr<PublishedService> entry_of(const ServiceView& v) {
    auto d = std::make_shared<policy::ServiceDecision>();
    d->key = v.key;
    d->name = v.name;
    d->down = v.down;
    d->panic = v.panic;
    d->sorry_active = v.sorry_active;
    auto e = std::make_shared<PublishedService>();
    for (const auto& r : v.reals) {
        policy::RealDecision rd;
        rd.real = rk(r.real.c_str());
        rd.sorry = r.sorry;
        rd.present = r.present;
        rd.down = r.down;
        rd.awaiting = r.awaiting;
        rd.ramping = r.ramping;
        rd.configured = r.configured;
        rd.effective = r.effective;
        rd.state = state_named(r.state);
        rd.reason = r.reason;
        if (r.override_) {
            rd.override_ = policy::Override{
                r.override_->action == "drain" ? policy::Override::Kind::drain
                                               : policy::Override::Kind::weight,
                r.override_->weight, r.override_->set_by,
                policy::WallTime(std::chrono::seconds(static_cast<int64_t>(r.override_->set_at)))};
            e->every_service.resize(v.reals.size());
            e->every_service[d->reals.size()] = r.override_->every_service;
        }
        d->reals.push_back(std::move(rd));
    }
    e->decision = std::move(d);
    e->scheduler = v.scheduler;
    e->check_type = v.check_type;
    return e;
}

}  // namespace

TEST(DirectorViews, ServicesShowWeightsWhyAndOverridesWithTheirScope) {
    Rig r;
    r.verdict("10.0.0.2:80", health::State::down, "connect refused");
    policy::Override ov{policy::Override::Kind::drain, 0, "uid 0 (root) pid 9", r.now.wall};
    ASSERT_TRUE(r.d->set_override({std::nullopt, rk("10.0.0.1:80")}, ov, r.now));
    auto web = r.view(kWeb);
    EXPECT_EQ(web.name, "web");
    EXPECT_EQ(web.scheduler, "wrr");
    EXPECT_EQ(web.check_type, "tcp");
    EXPECT_EQ(web.down, 1u);
    ASSERT_EQ(web.reals.size(), 2u);
    EXPECT_EQ(web.reals[0].effective, 0u);
    EXPECT_EQ(web.reals[0].configured, 3u);
    ASSERT_TRUE(web.reals[0].override_);
    EXPECT_TRUE(web.reals[0].override_->every_service);
    EXPECT_EQ(web.reals[0].override_->set_by, "uid 0 (root) pid 9");
    EXPECT_EQ(web.reals[0].override_->set_at, 1764936000.0);
    EXPECT_NE(web.reals[0].reason.find("override: drained by uid 0 (root) pid 9"),
              std::string::npos);
    EXPECT_EQ(web.reals[1].state, "down");
    EXPECT_TRUE(web.reals[1].down);
    EXPECT_EQ(web.reals[1].reason, "connect refused");
    EXPECT_EQ(r.view(kApi).check_type, "none");
    // One set for this service: not "every service".
    policy::Override w{policy::Override::Kind::weight, 9, "me", r.now.wall};
    ASSERT_TRUE(r.d->set_override({kApi, rk("10.0.0.1:443")}, w, r.now));
    auto api = r.view(kApi);
    ASSERT_TRUE(api.reals[0].override_);
    EXPECT_FALSE(api.reals[0].override_->every_service);
    EXPECT_EQ(api.reals[0].override_->action, "weight");
    EXPECT_EQ(api.reals[0].effective, 9u);
    // take_redecided names what the override changed.
    auto redecided = r.d->take_redecided();
    EXPECT_TRUE(redecided.count(kApi));
    EXPECT_TRUE(r.d->take_redecided().empty());
}

TEST(DirectorViews, ReconcileStateListsFailingKeysUpToTheLimit) {
    daemon::ReconcileStatus st;
    st.in_sync = false;
    for (uint16_t i = 0; i < 150; ++i)
        st.failing[reconcile::DirtyKey{kWeb, model::RealKey{*model::IpAddress::parse("10.0.0.1"),
                                                            static_cast<uint16_t>(1000 + i)}}] =
            make_error(ENOENT, "IPVS_CMD_SET_DEST", "k", "no such destination");
    st.retry.consecutive_failures = 2;
    const daemon::SteadyTime now(std::chrono::hours(1));
    st.retry.next_attempt = now + 4s;
    st.draining.push_back(reconcile::DrainState{kWeb, rk("10.0.0.9:80"), now, 4});
    st.draining.push_back(reconcile::DrainState{kWeb, rk("10.0.0.8:80"), now, UINT32_MAX});
    auto v = reconcile_view(st, now);
    EXPECT_FALSE(v.in_sync);
    EXPECT_EQ(v.failing_total, 150u);
    EXPECT_EQ(v.failing.size(), ReconcileView::kListLimit);
    EXPECT_EQ(v.failing[0].key, "192.0.2.1:80/tcp -> 10.0.0.1:1000");
    EXPECT_EQ(v.failing[0].error, "no such destination (IPVS_CMD_SET_DEST k)");
    EXPECT_EQ(v.retry_failures, 2u);
    EXPECT_EQ(v.retry_in_seconds, 4.0);
    EXPECT_EQ(v.draining,
              (std::vector<std::string>{"192.0.2.1:80/tcp -> 10.0.0.9:80 (4 connections)",
                                        "192.0.2.1:80/tcp -> 10.0.0.8:80"}));
}

TEST(DirectorViews, PlanLinesForEveryKindOfChange) {
    Rig r;
    auto next = load(R"(
[[service]]
name = "web"
vip = "192.0.2.1"
port = 80
scheduler = "rr"
check = { type = "tcp" }
[[service.real]]
address = "10.0.0.1:80"
weight = 5
[[service.real]]
address = "10.0.0.3:80"
[[service]]
name = "dns"
vip = "192.0.2.2"
port = 53
protocol = "udp"
check = { type = "none" }
[[service.real]]
address = "10.0.0.10:53"
)");
    const auto outcome = r.d->preview(next, r.now);
    auto p = plan_view("next.toml", outcome, r.d->config(), next, r.d->programmed());
    std::vector<std::string> lines;
    for (const auto& l : p.lines) lines.push_back(std::string(1, l.sign) + " " + l.text);
    auto has = [&](const std::string& s) {
        return std::find(lines.begin(), lines.end(), s) != lines.end();
    };
    EXPECT_TRUE(has("~ service web (192.0.2.1:80/tcp): scheduler wrr -> rr"))
        << ::testing::PrintToString(lines);
    EXPECT_TRUE(has("~ real 10.0.0.1:80 in web (192.0.2.1:80/tcp): weight 3 -> 5"));
    EXPECT_TRUE(
        has("~ real 10.0.0.2:80 in web (192.0.2.1:80/tcp): weight 2 -> 0 (removed from the config: "
            "drains, deleted once its connections end)"));
    EXPECT_TRUE(has("+ real 10.0.0.3:80 in web (192.0.2.1:80/tcp), weight 1, masq"));
    EXPECT_TRUE(has("+ service dns (192.0.2.2:53/udp), scheduler wlc"));
    // api left the config: it is quiesced (its real drains) before it is deleted.
    EXPECT_TRUE(
        has("~ real 10.0.0.1:443 in api (192.0.2.1:443/tcp): weight 1 -> 0 (removed from the "
            "config: drains, deleted once its connections end)"))
        << ::testing::PrintToString(lines);
    EXPECT_TRUE(has("+ check tcp 10.0.0.3:80"));
    EXPECT_TRUE(has("- check tcp 10.0.0.2:80"));
    EXPECT_TRUE(has("+ nft table inet ballast: add element 10.0.0.3/32"));
    EXPECT_EQ(p.ipvs_ops, outcome.ops.size());
    EXPECT_NE(p.summary.find(std::to_string(outcome.ops.size()) + " IPVS writes; checks +1 -1"),
              std::string::npos)
        << p.summary;
    // The same config: nothing.
    auto same = plan_view("same.toml", r.d->preview(r.d->config(), r.now), r.d->config(),
                          r.d->config(), r.d->programmed());
    EXPECT_TRUE(same.lines.empty());
    EXPECT_EQ(same.summary, "no changes: the running configuration already matches same.toml");
}

TEST(DirectorViews, EventsCarryTheirServiceAndReal) {
    daemon::Event e{daemon::Severity::warning,
                    daemon::EventKind::health,
                    "down",
                    kWeb,
                    rk("10.0.0.2:80"),
                    daemon::WallTime(std::chrono::milliseconds(1764936000250))};
    auto v = event_view(e);
    EXPECT_DOUBLE_EQ(v.at, 1764936000.25);
    EXPECT_EQ(v.severity, "warning");
    EXPECT_EQ(v.kind, "health");
    EXPECT_EQ(v.service, "192.0.2.1:80/tcp");
    EXPECT_EQ(v.real, "10.0.0.2:80");
}

TEST(Published, ReasonClassesStayFew) {
    EXPECT_EQ(reason_class("connect refused"), "connect refused");
    EXPECT_EQ(reason_class("timeout after 1s (reading response)"), "timeout after 1s");
    EXPECT_EQ(reason_class("exec: exit 2: database is down"), "exec");
    EXPECT_EQ(reason_class("HTTP 200: body lacks \"ok\""), "HTTP 200");
    EXPECT_EQ(reason_class(""), "unknown");
    EXPECT_EQ(reason_class(std::string(100, 'x')).size(), 48u);
}

TEST(Published, CheckRunsReadAsTheViewTheirRunsMake) {
    model::CheckSpec spec;
    spec.type = model::CheckType::tcp;
    const auto key = health::make_check_key(model::IpAddress::parse("10.0.0.2").value(), 80, spec);
    auto other = key;
    other.target.port = 81;
    // Plans of these checks (no users: the runs read only the keys), in key order.
    const auto plan_of = [](std::vector<health::CheckKey> keys) {
        std::vector<health::CheckMap::value_type> entries;
        for (auto& k : keys) entries.emplace_back(std::move(k), health::CheckUsers{});
        return std::make_shared<const health::CheckPlan>(
            health::CheckPlan{health::CheckMap(std::move(entries))});
    };
    const auto plan = plan_of({key, other});
    CheckRuns runs(plan, 100);
    EXPECT_EQ(&runs.key(1), &plan->checks[1].first);  // the plan's key, not a copy
    const uint32_t i = runs.find(key);
    ASSERT_EQ(i, 0u);
    CheckRunView want;
    want.check = key.to_string();
    want.state = "unknown";
    want.since = 100;
    EXPECT_EQ(runs.read(i), want);  // no result yet: no last_at
    EXPECT_EQ(want.check, "tcp 10.0.0.2:80");

    // Runs, each with the state change it caused (none for the third).
    struct Step {
        UnixSeconds at;
        bool ok;
        std::string reason;
        double ms;
        std::optional<health::State> to;
    };
    const std::vector<Step> steps = {{105.5, true, "connected", 1.25, health::State::up},
                                     {115, false, "connect refused", 0.5, health::State::down},
                                     {125, false, "connect refused", 0.75, std::nullopt}};
    auto state = health::State::unknown;
    for (const auto& step : steps) {
        runs.record_run(i, step.at, step.ok, step.reason, step.ms);
        if (step.to) {
            EXPECT_EQ(runs.record_state(i, *step.to, step.at), state);
            state = *step.to;
            want.state = std::string(health::to_string(state));
            want.since = step.at;
        }
        want.last_at = step.at;
        want.last_ok = step.ok;
        want.last_reason = step.reason;
        want.last_duration_ms = step.ms;
        ++want.runs;
        EXPECT_EQ(runs.read(i), want);
    }
    EXPECT_EQ(want.state, "down");
    EXPECT_EQ(want.since, 115);
    EXPECT_EQ(want.runs, 3u);
    // The other check is untouched, and found by its parts too.
    const uint32_t j = runs.find(health::CheckRef{other.target, *other.spec});
    ASSERT_EQ(j, 1u);
    EXPECT_EQ(runs.read(j).runs, 0u);
    EXPECT_EQ(runs.read(j).since, 100);
    auto absent = key;
    absent.target.port = 82;
    EXPECT_EQ(runs.find(absent), CheckRuns::kNone);

    // A new plan: the kept check keeps its runs, the new one starts unknown at its time, the
    // removed one is gone.
    auto added = key;
    added.target.port = 79;
    CheckRuns next(plan_of({added, key}), 200, &runs);
    EXPECT_EQ(next.size(), 2u);
    EXPECT_EQ(next.find(other), CheckRuns::kNone);
    EXPECT_EQ(next.read(next.find(key)), want);
    EXPECT_EQ(next.read(next.find(added)).since, 200);
    EXPECT_EQ(next.read(next.find(added)).runs, 0u);
}

TEST(Published, OrderRemovalCountersAndEvents) {
    PublishedState p;
    ServiceView a, b;
    a.name = "a";
    a.key = kWeb;
    b.name = "b";
    b.key = kApi;
    p.set_service(kApi, entry_of(b));
    p.set_service(kWeb, entry_of(a));
    auto s = p.snapshot();
    ASSERT_EQ(s.services.size(), 2u);
    EXPECT_EQ(s.services[0]->name(), "b");  // publication order until set_order
    p.set_order({kWeb, kApi});
    EXPECT_EQ(p.snapshot().services[0]->name(), "a");
    EXPECT_EQ(p.snapshot(kApi).services.size(), 1u);
    p.set_service(kApi, nullptr);
    EXPECT_EQ(p.service_count(), 1u);
    auto newer = std::make_shared<PublishedCounters>();
    newer->at = 20;
    auto older = std::make_shared<PublishedCounters>();
    older->at = 10;
    p.set_counters(newer);
    p.set_counters(older);  // a slow dump that finished late does not win
    EXPECT_EQ(p.counters()->at, 20);
    std::vector<EventView> evs(1200);
    for (size_t i = 0; i < evs.size(); ++i) evs[i].at = static_cast<double>(i);
    p.add_events(evs);
    EXPECT_EQ(p.events(5000).size(), PublishedState::kEventRing);
    EXPECT_EQ(p.events(2).back().at, 1199);
    EXPECT_EQ(p.snapshot().recent_events.size(), PublishedState::kRecentEvents);
}

// A view shows the dump's counters as the dump gave them: the service's traffic, and each
// present real's connections and traffic, values beyond 2^32 and 2^53 too; a real the dump does
// not list shows none, nor a service it does not list; a real only the dump has is not shown.
TEST(Published, ViewsShowTheDumpsCountersAsTheDumpGaveThem) {
    Rig r;
    const auto web = entry_of(r.view(kWeb));
    const auto api = entry_of(r.view(kApi));
    PublishedCounters::Maps dumped;
    const kernel::IpvsStats svc{5,   1ull << 33, (1ull << 53) + 1, 1ull << 60, UINT64_MAX, 3, 0,
                                127, 128,        9000000000ull};
    dumped.services[kWeb] = svc;
    kernel::DestCounters one{4000000000u, 7, 3, svc};
    one.stats.conns = 1ull << 40;
    dumped.dests[kWeb][rk("10.0.0.1:80")] = one;
    dumped.dests[kWeb][rk("10.0.0.9:80")] = one;  // not configured
    const PublishedCounters c(9, dumped);

    const auto v = complete_view(*web, &c);
    const TrafficView want{5,   1ull << 33, (1ull << 53) + 1, 1ull << 60, UINT64_MAX, 3, 0,
                           127, 128,        9000000000ull};
    EXPECT_EQ(v.traffic, want);
    ASSERT_EQ(v.reals.size(), 2u);
    EXPECT_EQ(v.reals[0].active, 4000000000u);
    EXPECT_EQ(v.reals[0].inactive, 7u);
    EXPECT_EQ(v.reals[0].persistent, 3u);
    ASSERT_TRUE(v.reals[0].traffic);
    auto real_traffic = want;
    real_traffic.conns = 1ull << 40;
    EXPECT_EQ(*v.reals[0].traffic, real_traffic);
    EXPECT_FALSE(v.reals[1].active);
    EXPECT_FALSE(v.reals[1].traffic);

    const auto a = complete_view(*api, &c);
    EXPECT_FALSE(a.traffic);
    EXPECT_FALSE(a.reals[0].active);
    EXPECT_EQ(complete_view(*web, nullptr), decided_view(*web));
}

TEST(Metrics, SeriesForEveryRealAndOnlyChangedServicesSerializedAgain) {
    Rig r;
    Metrics m("ballastd test");
    PublishedState p;
    p.set_service(kWeb, entry_of(r.view(kWeb)));
    p.set_service(kApi, entry_of(r.view(kApi)));
    auto text = m.render(p.snapshot(), {}).text();
    EXPECT_EQ(m.last_rerendered(), 2u);
    EXPECT_NE(
        text.find(
            "ballast_real_weight_configured{local_address=\"192.0.2.1\",local_port=\"80\",proto="
            "\"TCP\",service=\"web\",remote_address=\"10.0.0.2\",remote_port=\"80\"} 2"),
        std::string::npos)
        << text;
    EXPECT_NE(text.find("ballast_service_info{local_address=\"192.0.2.1\",local_port=\"443\",proto="
                        "\"TCP\",service=\"api\",scheduler=\"wlc\",check=\"none\"} 1"),
              std::string::npos);
    // Each family's HELP and TYPE once, even with several services in it.
    size_t helps = 0;
    for (auto at = text.find("# HELP ballast_real_weight_effective "); at != std::string::npos;
         at = text.find("# HELP ballast_real_weight_effective ", at + 1))
        ++helps;
    EXPECT_EQ(helps, 1u);
    // Nothing changed: nothing serialized again, the same text.
    EXPECT_EQ(m.render(p.snapshot(), {}).text(), text);
    EXPECT_EQ(m.last_rerendered(), 0u);
    // One service changed.
    r.verdict("10.0.0.2:80", health::State::down, "connect refused");
    p.set_service(kWeb, entry_of(r.view(kWeb)));
    text = m.render(p.snapshot(), {}).text();
    EXPECT_EQ(m.last_rerendered(), 1u);
    EXPECT_NE(text.find("service=\"web\",remote_address=\"10.0.0.2\",remote_port=\"80\"} 0\n"),
              std::string::npos);
    // Counters of one service from a dump.
    PublishedCounters::Maps dumped;
    dumped.services[kApi].conns = 77;
    dumped.dests[kApi][rk("10.0.0.1:443")].active_conns = 3;
    p.set_counters(std::make_shared<PublishedCounters>(5, dumped));
    text = m.render(p.snapshot(), {}).text();
    EXPECT_EQ(m.last_rerendered(), 1u);
    EXPECT_NE(text.find("ballast_ipvs_connections_total{local_address=\"192.0.2.1\",local_port="
                        "\"443\",proto=\"TCP\"} 77"),
              std::string::npos);
    EXPECT_NE(
        text.find("ballast_ipvs_backend_connections_active{local_address=\"192.0.2.1\",local_port="
                  "\"443\",proto=\"TCP\",remote_address=\"10.0.0.1\",remote_port=\"443\"} 3"),
        std::string::npos);
    EXPECT_NE(text.find("ballast_ipvs_counters_timestamp_seconds 5"), std::string::npos);
    // A service gone from the config is gone from the metrics.
    p.set_service(kApi, nullptr);
    text = m.render(p.snapshot(), {}).text();
    EXPECT_EQ(text.find("service=\"api\""), std::string::npos);
    // Observations land in the registry's histograms.
    m.observe_check(model::CheckType::http, false, 3ms);
    m.observe_reconcile("health", 200us);
    text = m.render(p.snapshot(), {}).text();
    EXPECT_NE(text.find("ballast_check_runs_total{result=\"failure\",type=\"http\"} 1"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("ballast_check_duration_seconds_bucket{type=\"http\",le=\"0.005\"} 1"),
              std::string::npos);
    EXPECT_NE(text.find("ballast_reconcile_duration_seconds_count{trigger=\"health\"} 1"),
              std::string::npos);
}

namespace {

// n services of 3 real servers each, as the loop would publish them.
void publish_services(PublishedState& p, int n) {
    for (int s = 0; s < n; ++s) {
        ServiceView v;
        v.name = "svc" + std::to_string(s);
        v.key = model::ServiceKey::inet(
            model::Protocol::tcp,
            *model::IpAddress::parse("192.0.2." + std::to_string(1 + s / 200)),
            static_cast<uint16_t>(1000 + s));
        v.scheduler = "wrr";
        for (int r = 0; r < 3; ++r) {
            RealView real;
            real.real = "10.0." + std::to_string(s % 250) + "." + std::to_string(r + 1) + ":80";
            real.configured = real.effective = static_cast<uint32_t>(r + 1);
            real.state = "up";
            v.reals.push_back(real);
        }
        p.set_service(v.key, entry_of(v));
    }
}

// A dump with every counter of every service drawn anew: small numbers, numbers up to 2^53
// (exact as doubles) and beyond it (the serializer's exponent form).
PublishedCounters::Maps random_counters(const PublishedState& p, std::mt19937_64& rng) {
    auto draw = [&rng]() -> uint64_t {
        switch (rng() % 4) {
            case 0:
                return rng() % 10;
            case 1:
                return rng() % 100000;
            case 2:
                return rng() % (uint64_t{1} << 53);
            default:
                return rng();
        }
    };
    PublishedCounters::Maps c;
    for (const auto& e : p.snapshot().services) {
        auto& st = c.services[e->key()];
        st.conns = draw(), st.inpkts = draw(), st.outpkts = draw();
        st.inbytes = draw(), st.outbytes = draw();
        for (const auto& real : e->decision->reals) {
            auto& d = c.dests[e->key()][real.real];
            d.active_conns = static_cast<uint32_t>(draw());
            d.inactive_conns = static_cast<uint32_t>(draw());
        }
    }
    return c;
}

// Each part is one gzip member; their inflated texts joined.
std::string inflate_members(const Metrics::Exposition& e) {
    std::string out;
    for (const auto& part : e.parts) {
        z_stream z{};
        if (inflateInit2(&z, 16 + 15) != Z_OK) throw std::runtime_error("inflateInit2");
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(part->data()));
        z.avail_in = static_cast<uInt>(part->size());
        char buf[16384];
        int rc = Z_OK;
        while (rc == Z_OK) {
            z.next_out = reinterpret_cast<Bytef*>(buf);
            z.avail_out = sizeof buf;
            rc = inflate(&z, Z_FINISH);
            out.append(buf, sizeof buf - z.avail_out);
            if (rc == Z_BUF_ERROR && z.avail_out == 0) rc = Z_OK;  // more output to come
        }
        inflateEnd(&z);
        if (rc != Z_STREAM_END || z.avail_in != 0) throw std::runtime_error("not one member");
    }
    return out;
}

}  // namespace

// The values of a new dump are written into the lines the serializer made for the same series:
// what comes out must be the serializer's own text for the new values, in both encodings. In
// some dumps some services' real servers differ (one fewer, or one other in its place), whose
// lines are then not the same series, and some services are not in the dump at all.
TEST(Metrics, CountersOfANewDumpReadAsTheSerializerWritesThem) {
    PublishedState p;
    publish_services(p, 40);
    Metrics kept("ballastd test");
    std::mt19937_64 rng(7);
    for (int dump = 1; dump <= 12; ++dump) {
        auto counters = random_counters(p, rng);
        if (dump % 3 == 0)
            for (auto& [key, dests] : counters.dests) {
                if (rng() % 4 != 0 || dests.empty()) continue;
                auto [real, values] = *dests.begin();
                dests.erase(dests.begin());
                if (rng() % 2) {  // another real in its place, the others as they were
                    real.port = static_cast<uint16_t>(real.port + 1000);
                    dests.emplace(real, values);
                }
            }
        if (dump % 4 == 0)  // services the dump does not show (a gap in its maps)
            for (const auto& e : p.snapshot().services)
                if (rng() % 5 == 0) {
                    counters.services.erase(e->key());
                    if (rng() % 2) counters.dests.erase(e->key());
                }
        p.set_counters(std::make_shared<PublishedCounters>(dump, counters));
        const auto text = kept.render(p.snapshot(), {}).text();
        EXPECT_EQ(kept.last_rerendered(), 40u) << "dump " << dump;
        Metrics fresh("ballastd test");  // serializes every series from the start
        ASSERT_EQ(text, fresh.render(p.snapshot(), {}).text()) << "dump " << dump;
        ASSERT_EQ(inflate_members(kept.render(p.snapshot(), {}, Metrics::Encoding::gzip)), text);
        EXPECT_EQ(kept.last_rerendered(), 0u);
    }
    EXPECT_NE(kept.render(p.snapshot(), {}).text().find("ballast_ipvs_incoming_bytes_total{"),
              std::string::npos);
}

namespace {

// Publishes `entry` again with its first real server down.
void first_real_down(PublishedState& p, const std::shared_ptr<const PublishedService>& entry) {
    auto changed = std::make_shared<PublishedService>(*entry);
    auto decision = std::make_shared<policy::ServiceDecision>(*entry->decision);
    decision->reals[0].state = health::State::down;
    decision->reals[0].down = true;
    changed->decision = std::move(decision);
    p.set_service(changed->key(), changed);
}

// How many parts of `after` are not those of `before` (the first, the whole-daemon part, is
// made anew every time and not counted).
size_t parts_made_again(const Metrics::Exposition& before, const Metrics::Exposition& after) {
    size_t n = 0;
    for (size_t i = 1; i < after.parts.size(); ++i) n += after.parts[i] != before.parts[i];
    return n;
}

// Three runs of services (of the families with a line per real) and a dump of random counters.
void publish_three_runs_with_counters(PublishedState& p, uint64_t seed) {
    publish_services(p, 3 * static_cast<int>(Metrics::kServicesPerRealMember));
    std::mt19937_64 rng(seed);
    p.set_counters(std::make_shared<PublishedCounters>(1, random_counters(p, rng)));
}

}  // namespace

// Services that come, go and change places (a reload): the texts and gzip members follow, and a
// later change makes again only its own run's member.
TEST(Metrics, ServicesThatComeGoAndMoveKeepBothEncodingsWhole) {
    PublishedState p;
    publish_three_runs_with_counters(p, 11);
    Metrics m("ballastd test");
    m.render(p.snapshot(), {}, Metrics::Encoding::gzip);
    m.render(p.snapshot(), {});
    // Three services go, the others are published in the reverse order, two new ones come.
    std::vector<model::ServiceKey> order;
    for (const auto& e : p.snapshot().services)
        if (e->name() != "svc5" && e->name() != "svc6" && e->name() != "svc7")
            order.insert(order.begin(), e->key());
    p.set_order(order);
    PublishedState more;
    publish_services(more, 3 * static_cast<int>(Metrics::kServicesPerRealMember) + 2);
    for (const auto& e : more.snapshot().services)
        if (std::find(order.begin(), order.end(), e->key()) == order.end() &&
            e->name().size() > 4)  // the two new ones: svc96, svc97
            p.set_service(e->key(), e);
    const auto text = m.render(p.snapshot(), {}).text();
    EXPECT_EQ(text, Metrics("ballastd test").render(p.snapshot(), {}).text());
    const auto gz = m.render(p.snapshot(), {}, Metrics::Encoding::gzip);
    EXPECT_EQ(inflate_members(gz), text);
    EXPECT_EQ(text.find("service=\"svc5\""), std::string::npos);
    EXPECT_NE(text.find("service=\"svc97\""), std::string::npos);
    // Then one real of one service goes down: one member is made again.
    first_real_down(p, p.snapshot().services.front());
    const auto after = m.render(p.snapshot(), {}, Metrics::Encoding::gzip);
    ASSERT_EQ(after.parts.size(), gz.parts.size());
    EXPECT_EQ(parts_made_again(gz, after), 1u);
    EXPECT_EQ(inflate_members(after), m.render(p.snapshot(), {}).text());
}

// A gzip scrape compresses again only the runs of services whose texts changed.
TEST(Metrics, GzipMembersMadeAgainOnlyForTheRunThatChanged) {
    PublishedState p;
    publish_services(p, 3 * static_cast<int>(Metrics::kServicesPerRealMember));
    Metrics m("ballastd test");
    const auto before = m.render(p.snapshot(), {}, Metrics::Encoding::gzip);
    const auto again = m.render(p.snapshot(), {}, Metrics::Encoding::gzip);
    ASSERT_EQ(before.parts.size(), again.parts.size());
    for (size_t i = 1; i < before.parts.size(); ++i)  // [0]: the whole-daemon part, made anew
        EXPECT_EQ(before.parts[i], again.parts[i]) << i;
    // One real of the last service goes down: its run's members of the families that show it.
    first_real_down(p, p.snapshot().services.back());
    const auto after = m.render(p.snapshot(), {}, Metrics::Encoding::gzip);
    EXPECT_EQ(m.last_rerendered(), 1u);
    ASSERT_EQ(after.parts.size(), before.parts.size());
    EXPECT_EQ(parts_made_again(before, after), 1u);  // ballast_real_health's last run
    EXPECT_EQ(inflate_members(after), m.render(p.snapshot(), {}).text());
}

// A dump that changes one real server's counters makes again only the members of its run in the
// families whose values changed, and what they show is the serializer's text for the new values.
TEST(Metrics, ADumpMakesAgainOnlyTheMembersWhoseValuesChanged) {
    PublishedState p;
    publish_three_runs_with_counters(p, 5);
    Metrics m("ballastd test");
    const auto before = m.render(p.snapshot(), {}, Metrics::Encoding::gzip);
    auto next = [&p](auto change) {
        const auto dumped = p.snapshot().counters;
        auto maps = dumped->decode();
        change(maps);
        p.set_counters(std::make_shared<PublishedCounters>(dumped->at, maps));
    };
    const auto last = p.snapshot().services.back()->key();
    next([&](PublishedCounters::Maps& c) { c.dests.at(last).begin()->second.active_conns += 7; });
    const auto one = m.render(p.snapshot(), {}, Metrics::Encoding::gzip);
    ASSERT_EQ(one.parts.size(), before.parts.size());
    EXPECT_EQ(parts_made_again(before, one), 1u);  // active connections, the last run
    const auto text = m.render(p.snapshot(), {}).text();
    EXPECT_EQ(text, Metrics("ballastd test").render(p.snapshot(), {}).text());
    EXPECT_EQ(inflate_members(one), text);
    // The first service's inactive count and its own byte counter: two more members.
    const auto first = p.snapshot().services.front()->key();
    next([&](PublishedCounters::Maps& c) {
        c.dests.at(first).begin()->second.inactive_conns += 1;
        c.services.at(first).inbytes += 1500;
    });
    const auto two = m.render(p.snapshot(), {}, Metrics::Encoding::gzip);
    EXPECT_EQ(parts_made_again(one, two), 2u);
    EXPECT_EQ(inflate_members(two), Metrics("ballastd test").render(p.snapshot(), {}).text());
    // The same values again: nothing made again.
    next([](PublishedCounters::Maps&) {});
    EXPECT_EQ(parts_made_again(two, m.render(p.snapshot(), {}, Metrics::Encoding::gzip)), 0u);
}

// What the hub publishes reads as the Director's state: each entry is the Director's own
// decision (shared, not copied) and the few things a view needs beside it, formatted into the
// view a client gets only when one asks; the checks' runs are found by index. Through
// ramping, a sorry server, on_failure = "remove", overrides for one and for every service, an
// agent check, transitions and a reload.
namespace {

std::string config_text(bool with_second_web_real) {
    std::string web_reals = R"(
[[service.real]]
address = "10.0.0.1:80"
weight = 3
agent_port = 9999
)";
    if (with_second_web_real)
        web_reals += "[[service.real]]\naddress = \"10.0.0.2:80\"\nweight = 2\n";
    web_reals += "[[service.real]]\naddress = \"10.0.0.3:80\"\nweight = 2\n";
    return R"(
[[service]]
name = "web"
vip = "192.0.2.1"
port = 80
scheduler = "wrr"
check = { type = "tcp", slow_start = "10s" }
)" + web_reals +
           R"(
[[service]]
name = "api"
vip = "192.0.2.1"
port = 443
sorry_server = "10.9.9.9:443"
on_failure = "remove"
check = { type = "tcp", port = 8443 }
[[service.real]]
address = "10.0.0.1:443"
[[service.real]]
address = "10.0.0.5:443"
[[service]]
name = "plain"
vip = "192.0.2.2"
port = 53
protocol = "udp"
check = { type = "none" }
[[service.real]]
address = "10.0.0.7:53"
)";
}

// A Director and a hub on its loop (no sockets), with a clock the test moves.
struct HubRig {
    fakes::FakeIpvs ipvs;
    fakes::FakeNftClient nft;
    fakes::FakeSysctl sysctl;
    Store store;
    daemon::Now now{daemon::SteadyTime(std::chrono::hours(1)),
                    daemon::WallTime(std::chrono::seconds(1764936000))};
    daemon::Director d{load(config_text(true)), daemon::Ports{ipvs, nft, sysctl}, store};
    boost::asio::io_context io;
    std::unique_ptr<Hub> hub;

    HubRig() {
        if (!d.start(ipvs.dump(), now)) throw std::runtime_error("start");
        HubSettings settings;
        settings.daemon = "test";
        LoopHooks hooks;
        hooks.now = [this] { return now; };
        hub = std::make_unique<Hub>(io, d, settings, hooks);
        if (!hub->start()) throw std::runtime_error("hub start");
    }
    ~HubRig() { hub->stop(); }

    void publish() { hub->publish(d.take_events()); }
    // A check's result as the runner reports it: its run, then (when it changed) its state.
    void result(const char* target, const model::CheckSpec& spec, health::State state,
                std::string reason, std::optional<health::TimePoint> recovered_at = {}) {
        const auto t = model::Endpoint::parse(target).value();
        health::HealthEvent ev{health::make_check_key(t.addr, t.port, spec),
                               state,
                               true,
                               reason,
                               now.steady,
                               recovered_at,
                               std::nullopt};
        const health::ProbeResult probe{state == health::State::up, reason, {}};
        hub->on_run_finished(
            health::RunResult{ev.check, probe, now.steady - 3ms, now.steady - 1ms});
        hub->on_health_event(ev);
        d.on_health_event(ev, now);
        publish();
    }
    void advance(std::chrono::seconds s) {
        now.steady += s;
        now.wall += s;
    }
    const model::ServiceConfig& config_of(const model::ServiceKey& key) const {
        for (const auto& s : d.config().services)
            if (s.key == key) return s;
        throw std::runtime_error("no service " + key.to_string());
    }
    // Every published entry is the Director's decision and reads as the view made from it on
    // the loop; the views by service name.
    std::map<std::string, ServiceView> views() {
        auto snap = hub->published().snapshot();
        std::map<std::string, ServiceView> out;
        EXPECT_EQ(snap.services.size(), d.config().services.size());
        for (const auto& e : snap.services) {
            EXPECT_EQ(e->decision, d.decisions().at(e->key()));
            EXPECT_EQ(decided_view(*e),
                      service_view(config_of(e->key()), *e->decision, d.overrides()));
            out[e->name()] = complete_view(*e, snap.counters.get());
        }
        return out;
    }
    std::shared_ptr<const PublishedService> entry(const std::string& name) {
        for (const auto& e : hub->published().snapshot().services)
            if (e->name() == name) return e;
        return nullptr;
    }
};

}  // namespace

TEST(HubPublished, EntriesReadAsTheDirectorsDecisionsWithTheirChecksRuns) {
    HubRig r;
    const auto web_check = *r.d.config().services[0].check;
    auto api_check = *r.d.config().services[1].check;
    api_check.port.reset();  // plan_checks folds it into the target

    auto v = r.views();
    ASSERT_EQ(v["web"].reals.size(), 3u);
    EXPECT_TRUE(v["web"].reals[0].awaiting);
    EXPECT_EQ(v["web"].reals[0].reason, "not checked yet");
    ASSERT_TRUE(v["web"].reals[0].check);
    EXPECT_EQ(v["web"].reals[0].check->check, "tcp 10.0.0.1:80");
    EXPECT_EQ(v["web"].reals[0].check->since, 1764936000.0);
    ASSERT_TRUE(v["web"].reals[0].agent);
    EXPECT_EQ(v["web"].reals[0].agent->check, "agent 10.0.0.1:9999");
    EXPECT_FALSE(v["web"].reals[1].agent);
    ASSERT_TRUE(v["api"].reals[0].check);
    EXPECT_EQ(v["api"].reals[0].check->check, "tcp 10.0.0.1:8443");
    EXPECT_EQ(v["plain"].check_type, "none");
    EXPECT_FALSE(v["plain"].reals[0].check);

    r.result("10.0.0.1:80", web_check, health::State::up, "connected");
    r.result("10.0.0.2:80", web_check, health::State::up, "connected");
    r.result("10.0.0.3:80", web_check, health::State::down, "connect refused");
    r.result("10.0.0.1:8443", api_check, health::State::up, "connected");
    r.result("10.0.0.5:8443", api_check, health::State::up, "SYN-ACK received");
    v = r.views();
    EXPECT_EQ(v["web"].reals[0].reason, "up: connected");
    EXPECT_EQ(v["web"].reals[2].reason, "connect refused");
    EXPECT_EQ(v["web"].reals[2].check->last_reason, "connect refused");
    EXPECT_EQ(v["web"].reals[2].check->state, "down");
    EXPECT_EQ(v["web"].reals[2].check->runs, 1u);
    EXPECT_EQ(v["api"].reals[1].check->last_reason, "SYN-ACK received");
    EXPECT_EQ(v["web"].down, 1u);
    // An entry, once published, stays what it was while the Director moves on.
    const auto api_before = r.entry("api");
    const auto api_view_before = decided_view(*api_before);

    r.advance(5s);
    r.result("10.0.0.3:80", web_check, health::State::up, "connected", r.now.steady - 2s);
    r.result("10.0.0.1:8443", api_check, health::State::down, "connection timed out");
    r.result("10.0.0.5:8443", api_check, health::State::down, "connect refused");
    v = r.views();
    EXPECT_TRUE(v["web"].reals[2].ramping);
    EXPECT_EQ(v["web"].reals[2].effective, 1u);  // 2 x 20 % of the ramp, rounded up
    ASSERT_EQ(v["api"].reals.size(), 3u);
    EXPECT_TRUE(v["api"].sorry_active);
    EXPECT_TRUE(v["api"].reals[2].sorry);
    EXPECT_EQ(v["api"].reals[2].real, "10.9.9.9:443");
    EXPECT_FALSE(v["api"].reals[2].check);
    EXPECT_FALSE(v["api"].reals[0].present);  // on_failure = "remove"
    EXPECT_EQ(v["api"].reals[0].check->runs, 2u);
    EXPECT_EQ(decided_view(*api_before), api_view_before);
    EXPECT_NE(r.entry("api")->decision, api_before->decision);
    // The transition up of 10.0.0.3 (its first result was no transition) is counted.
    const auto web = r.entry("web");
    ASSERT_EQ(web->transitions.size(), 3u);
    EXPECT_EQ(web->transitions[2], (std::vector<TransitionCount>{{"up", "connected", 1}}));
    EXPECT_TRUE(web->transitions[0].empty());

    policy::Override drain{policy::Override::Kind::drain, 0, "uid 0 (root) pid 9", r.now.wall};
    ASSERT_TRUE(r.d.set_override({std::nullopt, rk("10.0.0.1:80")}, drain, r.now));
    policy::Override weight{policy::Override::Kind::weight, 7, "me", r.now.wall};
    ASSERT_TRUE(r.d.set_override({r.d.config().services[0].key, rk("10.0.0.2:80")}, weight, r.now));
    r.publish();
    v = r.views();
    ASSERT_TRUE(v["web"].reals[0].override_);
    EXPECT_TRUE(v["web"].reals[0].override_->every_service);
    EXPECT_EQ(v["web"].reals[0].override_->action, "drain");
    EXPECT_EQ(v["web"].reals[0].effective, 0u);
    ASSERT_TRUE(v["web"].reals[1].override_);
    EXPECT_FALSE(v["web"].reals[1].override_->every_service);
    EXPECT_EQ(v["web"].reals[1].override_->action, "weight");
    EXPECT_EQ(v["web"].reals[1].effective, 7u);
    EXPECT_FALSE(v["web"].reals[2].override_);
    // Only web's decisions changed: the other entries are the ones published before.
    EXPECT_EQ(r.entry("plain")->decision, r.d.decisions().at(r.d.config().services[2].key));

    r.advance(10s);
    r.d.tick(r.now);
    r.result("10.0.0.5:8443", api_check, health::State::up, "connected");
    v = r.views();
    EXPECT_FALSE(v["web"].reals[2].ramping);
    EXPECT_EQ(v["web"].reals[2].effective, 2u);
    EXPECT_FALSE(v["api"].sorry_active);
    EXPECT_EQ(v["api"].reals.size(), 2u);

    // A reload: kept checks keep their runs, a removed real's check is gone.
    const auto outcome = r.d.reload(load(config_text(false)), r.now);
    r.publish();
    v = r.views();
    ASSERT_EQ(v["web"].reals.size(), 2u);
    EXPECT_EQ(v["web"].reals[1].real, "10.0.0.3:80");
    EXPECT_EQ(v["web"].reals[1].check->runs, 2u);
    EXPECT_EQ(v["web"].reals[1].check->last_reason, "connected");
    EXPECT_EQ(v["web"].reals[0].check->runs, 1u);
    EXPECT_EQ(outcome.checks.removed.size(), 1u);
}
