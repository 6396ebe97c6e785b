// What the hub publishes reads as the Director's state: each entry is the Director's own
// decision (shared, not copied) and the few things a view needs beside it, formatted into the
// view a client gets only when one asks; the checks' runs are found by index. Through
// ramping, a sorry server, on_failure = "remove", overrides for one and for every service, an
// agent check, transitions and a reload.
#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

#include "ballast/config/config.hpp"
#include "ballast/control/director_views.hpp"
#include "ballast/control/hub.hpp"
#include "ballast/fakes/fake_ipvs.hpp"
#include "ballast/fakes/fake_nft.hpp"
#include "ballast/fakes/fake_sysctl.hpp"

using namespace ballast;
using namespace ballast::control;
using namespace std::chrono_literals;

namespace {

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

model::DirectorConfig load(const std::string& text) {
    auto r = config::load_string(text, "ballast.toml");
    if (!r.ok()) throw std::runtime_error(config::format(r.diagnostics.front()));
    return *r.config;
}

model::RealKey rk(const char* s) {
    auto e = model::Endpoint::parse(s);
    return {e->addr, e->port};
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
