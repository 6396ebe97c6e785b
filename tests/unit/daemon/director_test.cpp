// The daemon's decision core on the recording fakes with an injected clock: start and
// adoption, a verdict becomes exactly one edit (no dump), reloads as minimal diffs, drift
// repair, ownership across a restart, failed writes retried, overrides, cleanup.
#include <gtest/gtest.h>

#include "ballast/config/config.hpp"
#include "ballast/daemon/director.hpp"
#include "ballast/fakes/fake_ipvs.hpp"
#include "ballast/fakes/fake_nft.hpp"
#include "ballast/fakes/fake_sysctl.hpp"
#include "ballast/health/check_plan.hpp"

using namespace ballast;
using namespace std::chrono_literals;
using daemon::Director;
using health::State;
using model::IpvsOp;
using Kind = IpvsOp::Kind;

namespace {

model::DirectorConfig load(const std::string& text) {
    auto r = config::load_string(text, "ballast.toml");
    if (!r.ok()) throw std::runtime_error(config::format(r.diagnostics.front()));
    return *r.config;
}

model::RealKey rk(const char* s) {
    auto e = model::Endpoint::parse(s);
    return model::RealKey{e->addr, e->port};
}
model::ServiceKey tcp(const char* vip, uint16_t port) {
    return model::ServiceKey::inet(model::Protocol::tcp, *model::IpAddress::parse(vip), port);
}

// Two services: web (3 reals, wrr 3:2:1, tcp check) and api (2 reals, tcp check).
const char* kConfig = R"(
[director]
interfaces = ["eth1"]
resync_interval = "30s"
drain_timeout = "5m"
[[service]]
name = "web"
vip = "192.0.2.1"
port = 80
scheduler = "wrr"
check = { type = "tcp", rise = 2, fall = 3 }
[[service.real]]
address = "10.0.0.1:80"
weight = 3
[[service.real]]
address = "10.0.0.2:80"
weight = 2
[[service.real]]
address = "10.0.0.3:80"
weight = 1
[[service]]
name = "api"
vip = "192.0.2.1"
port = 443
check = { type = "tcp" }
[[service.real]]
address = "10.0.0.1:443"
[[service.real]]
address = "10.0.0.2:443"
)";

// A kernel that counts dumps.
struct Kernel : fakes::FakeIpvs {
    size_t dumps = 0;
    Result<kernel::IpvsSnapshot> dump() override {
        ++dumps;
        return FakeIpvs::dump();
    }
};

struct MemoryStore : daemon::StateStore {
    std::set<model::ServiceKey> owned;
    policy::Overrides overrides;
    size_t ownership_saves = 0;
    int fail_saves = 0;  // errno for every save
    const fakes::FakeIpvs* kernel = nullptr;
    std::vector<size_t> ops_at_save;  // the kernel's op count at each ownership save
    std::optional<Error> load_error;
    Result<std::set<model::ServiceKey>> load_ownership() override {
        if (load_error) return *load_error;
        return owned;
    }
    Status save_ownership(const std::set<model::ServiceKey>& s) override {
        if (fail_saves) return make_error(fail_saves, "write", "ownership.json");
        if (kernel) ops_at_save.push_back(kernel->op_count());
        ++ownership_saves;
        owned = s;
        return {};
    }
    Result<policy::Overrides> load_overrides() override { return overrides; }
    Status save_overrides(const policy::Overrides& o) override {
        if (fail_saves) return make_error(fail_saves, "write", "overrides.json");
        overrides = o;
        return {};
    }
};

fakes::FakeSysctl director_sysctls() {
    return fakes::FakeSysctl({{"net.ipv4.ip_forward", "0"},
                              {"net.ipv4.conf.all.send_redirects", "1"},
                              {"net.ipv4.conf.eth1.send_redirects", "1"},
                              {"net.ipv4.vs.expire_nodest_conn", "0"},
                              {"net.ipv4.vs.expire_quiescent_template", "0"}});
}

struct Rig {
    Kernel ipvs;
    fakes::FakeNftClient nft;
    fakes::FakeSysctl sysctl = director_sysctls();
    MemoryStore store;
    daemon::SteadyTime t{std::chrono::hours(1)};
    daemon::DirectorOptions options;
    std::unique_ptr<Director> d;
    std::vector<daemon::Event> events;

    Rig() { store.kernel = &ipvs; }

    daemon::Now now() const {
        return {t, daemon::WallTime(std::chrono::seconds(1764936000)) +
                       std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch())};
    }
    void start(const std::string& text = kConfig) {
        d = std::make_unique<Director>(load(text), daemon::Ports{ipvs, nft, sysctl}, store,
                                       options);
        auto observed = ipvs.dump();
        auto st = d->start(observed, now());
        if (!st) throw std::runtime_error(st.error().describe());
        drain_events();
    }
    void drain_events() {
        for (auto& e : d->take_events()) events.push_back(std::move(e));
    }
    health::CheckKey check_of(const char* real, size_t service = 0) const {
        const auto& s = d->config().services.at(service);
        auto r = rk(real);
        return health::make_check_key(r.addr, r.port, *s.check);
    }
    void verdict(const char* real, State state, std::string reason = "connect refused",
                 size_t service = 0, std::optional<daemon::SteadyTime> recovered = {}) {
        health::HealthEvent ev{
            check_of(real, service), state, true, std::move(reason), t, recovered, std::nullopt};
        d->on_health_event(ev, now());
        drain_events();
    }
    void resync() {
        d->begin_resync();
        auto snap = ipvs.dump();
        d->finish_resync(snap, now());
        drain_events();
    }
    model::Weight weight(const model::ServiceKey& s, const char* real) const {
        return ipvs.table().services.at(s).reals.at(rk(real)).weight;
    }
    std::vector<IpvsOp> ops_since(size_t n) const {
        std::vector<IpvsOp> out;
        for (size_t i = n; i < ipvs.records().size(); ++i) out.push_back(ipvs.records()[i].op);
        return out;
    }
    bool logged(const std::string& needle) const {
        for (const auto& e : events)
            if (e.message.find(needle) != std::string::npos) return true;
        return false;
    }
};

const auto kWeb = tcp("192.0.2.1", 80);
const auto kApi = tcp("192.0.2.1", 443);

}  // namespace

TEST(Director, StartProgramsTheConfigSysctlsAndNftAndRecordsOwnership) {
    Rig r;
    r.start();
    ASSERT_EQ(r.ipvs.table().services.size(), 2u);
    EXPECT_EQ(r.weight(kWeb, "10.0.0.1:80"), 3u);
    EXPECT_EQ(r.weight(kWeb, "10.0.0.3:80"), 1u);
    EXPECT_EQ(r.ipvs.table().services.at(kWeb).spec.scheduler, "wrr");
    EXPECT_EQ(r.store.owned, (std::set{kWeb, kApi}));
    EXPECT_TRUE(r.d->reconcile_status().in_sync);
    EXPECT_EQ(r.sysctl.values().at("net.ipv4.ip_forward"), "1");
    EXPECT_EQ(r.sysctl.values().at("net.ipv4.conf.eth1.send_redirects"), "0");
    EXPECT_EQ(r.sysctl.values().at("net.ipv4.vs.expire_quiescent_template"), "1");
    EXPECT_EQ(r.nft.batches_sent(), 1u);
    ASSERT_TRUE(r.nft.table().has_value());
    EXPECT_TRUE(r.logged("sysctl net.ipv4.ip_forward: 0 -> 1"));
    EXPECT_TRUE(r.logged("started: 2 services, 5 real servers"));
}

TEST(Director, StartNeverTouchesForeignServicesAndAdoptsWithoutFlushing) {
    Rig r;
    model::IpvsTable before;
    const auto foreign = tcp("198.51.100.7", 25);
    before.services[foreign] = model::IpvsService{foreign, {}, {{rk("10.9.9.9:25"), {}}}};
    // web already exists, with real 2 at weight 0 (it was down before a restart).
    model::IpvsService web{kWeb, {}, {}};
    web.spec.scheduler = "wrr";
    web.reals[rk("10.0.0.1:80")].weight = 3;
    web.reals[rk("10.0.0.2:80")].weight = 0;
    web.reals[rk("10.0.0.3:80")].weight = 1;
    before.services[kWeb] = web;
    r.ipvs.load(before);
    r.start();
    for (const auto& rec : r.ipvs.records()) {
        EXPECT_NE(rec.op.service, foreign) << rec.op.to_string();
        EXPECT_NE(rec.op.kind, Kind::del_service);
        EXPECT_NE(rec.op.kind, Kind::del_dest);
    }
    EXPECT_EQ(r.ipvs.table().services.at(foreign).reals.size(), 1u);
    // Adopted: real 2 keeps weight 0 until its first check result.
    EXPECT_EQ(r.weight(kWeb, "10.0.0.2:80"), 0u);
    EXPECT_EQ(r.d->reconcile_status().foreign, std::vector{foreign});
    EXPECT_EQ(r.store.owned.count(foreign), 0u);
    const size_t n = r.ipvs.op_count();
    r.verdict("10.0.0.2:80", State::up, "connected");
    EXPECT_EQ(r.weight(kWeb, "10.0.0.2:80"), 2u);
    EXPECT_EQ(r.ipvs.op_count(), n + 1);
}

TEST(Director, RestartOverAMatchingTableWritesNothing) {
    Rig r;
    r.start();
    r.d.reset();
    r.ipvs.clear_records();
    const size_t batches = r.nft.batches_sent();
    r.sysctl = director_sysctls();  // fresh object: apply it all again
    r.sysctl.set("net.ipv4.ip_forward", "1");
    r.sysctl.set("net.ipv4.conf.all.send_redirects", "0");
    r.sysctl.set("net.ipv4.conf.eth1.send_redirects", "0");
    r.sysctl.set("net.ipv4.vs.expire_nodest_conn", "1");
    r.sysctl.set("net.ipv4.vs.expire_quiescent_template", "1");
    r.start();
    EXPECT_EQ(r.ipvs.op_count(), 0u);
    EXPECT_EQ(r.nft.batches_sent(), batches);
    EXPECT_TRUE(r.sysctl.writes().empty());
    EXPECT_TRUE(r.d->reconcile_status().in_sync);
}

// Seven services of two reals, web and api among them, keys spread on both sides of theirs.
std::string many_services() {
    std::string text = kConfig;
    for (int i = 0; i < 5; ++i)
        text += "[[service]]\nname = \"s" + std::to_string(i) + "\"\nvip = \"192.0.2." +
                std::to_string(10 + i * 2) + "\"\nport = " + std::to_string(8000 + i) +
                "\ncheck = { type = \"tcp\" }\n[[service.real]]\naddress = \"10.0.1." +
                std::to_string(i) + ":80\"\n[[service.real]]\naddress = \"10.0.2." +
                std::to_string(i) + ":80\"\n";
    return text;
}

std::vector<IpvsOp> by_service(std::vector<IpvsOp> ops) {
    std::stable_sort(ops.begin(), ops.end(),
                     [](const IpvsOp& a, const IpvsOp& b) { return a.service < b.service; });
    return ops;
}

// A start writes a chunk of services while it decides the next (start_chunk_services): the
// same writes, service by service, and the same outcome as one plan of everything, the
// ownership record written before the first of them.
TEST(Director, AStartInChunksWritesWhatOnePlanWritesAfterTheOwnershipRecord) {
    // In the kernel before: a foreign service, one ballast owned that left the config (it
    // drains), and web with a real at weight 0 (adopted).
    model::IpvsTable before;
    const auto foreign = tcp("198.51.100.7", 25), retired = tcp("192.0.2.3", 8080);
    before.services[foreign] = model::IpvsService{foreign, {}, {{rk("10.9.9.9:25"), {}}}};
    before.services[retired] = model::IpvsService{retired, {}, {{rk("10.0.3.1:80"), {}}}};
    before.services[retired].reals.begin()->second.weight = 1;
    model::IpvsService web{kWeb, {}, {}};
    web.spec.scheduler = "wrr";
    web.reals[rk("10.0.0.1:80")].weight = 3;
    web.reals[rk("10.0.0.2:80")].weight = 0;
    before.services[kWeb] = web;

    std::vector<std::unique_ptr<Rig>> rigs;
    for (size_t chunk : {1000u, 1u, 3u}) {
        auto r = std::make_unique<Rig>();
        r->options.start_chunk_services = chunk;
        r->ipvs.load(before);
        r->store.owned = {retired};
        r->start(many_services());
        rigs.push_back(std::move(r));
    }
    const Rig& whole = *rigs[0];
    // api and s0-s4 with their 12 reals, web's third real, the retired service's real to 0.
    ASSERT_EQ(whole.ipvs.op_count(), 6u + 12u + 1u + 1u);
    for (size_t i = 1; i < rigs.size(); ++i) {
        const Rig& r = *rigs[i];
        SCOPED_TRACE("chunk of " + std::to_string(r.options.start_chunk_services));
        EXPECT_EQ(by_service(r.ops_since(0)), by_service(whole.ops_since(0)));
        EXPECT_EQ(r.ipvs.table(), whole.ipvs.table());
        EXPECT_EQ(r.d->programmed(), whole.d->programmed());
        EXPECT_EQ(r.store.owned, whole.store.owned);
        EXPECT_EQ(r.store.ops_at_save, std::vector<size_t>{0});
        EXPECT_EQ(r.d->owned(), whole.d->owned());
        EXPECT_EQ(r.d->reconcile_status().foreign, std::vector{foreign});
        EXPECT_EQ(r.d->reconcile_status().draining, whole.d->reconcile_status().draining);
        EXPECT_TRUE(r.d->reconcile_status().in_sync);
        ASSERT_EQ(r.events.size(), whole.events.size());
        for (size_t e = 0; e < r.events.size(); ++e)
            EXPECT_EQ(r.events[e].message, whole.events[e].message);
        EXPECT_EQ(r.d->checks().checks.size(), whole.d->checks().checks.size());
    }
    EXPECT_EQ(whole.store.ops_at_save, std::vector<size_t>{0});
    EXPECT_TRUE(whole.store.owned.count(retired));  // until a dump shows it gone
    EXPECT_EQ(whole.weight(kWeb, "10.0.0.2:80"), 0u);
    EXPECT_EQ(whole.weight(retired, "10.0.3.1:80"), 0u);
}

TEST(Director, AFailedWriteInALaterChunkOfTheStartIsRetried) {
    Rig r;
    r.options.start_chunk_services = 1;  // web, then api
    r.ipvs.fail_when([](const IpvsOp& op) { return op.real == rk("10.0.0.2:443"); }, ENOMEM);
    r.start();
    const auto& status = r.d->reconcile_status();
    EXPECT_FALSE(status.in_sync);
    ASSERT_EQ(status.failing.size(), 1u);
    EXPECT_EQ(status.failing.begin()->first.to_string(), "192.0.2.1:443/tcp -> 10.0.0.2:443");
    EXPECT_FALSE(r.d->programmed().services.at(kApi).reals.count(rk("10.0.0.2:443")));
    EXPECT_TRUE(r.d->programmed().services.at(kApi).reals.count(rk("10.0.0.1:443")));
    EXPECT_EQ(r.ipvs.table().services.at(kWeb).reals.size(), 3u);
    EXPECT_TRUE(r.logged("IPVS write failed: "));
    r.ipvs.clear_failures();
    r.t += 2s;
    ASSERT_TRUE(r.d->resync_due(r.t));
    r.resync();
    EXPECT_TRUE(r.d->reconcile_status().in_sync);
    EXPECT_TRUE(r.ipvs.table().services.at(kApi).reals.count(rk("10.0.0.2:443")));
}

// A restart whose first dump fails programs nothing then, and adopts at the first dump that
// works: nothing of what ballast owns is drained for want of a decision.
TEST(Director, AStartThatCannotReadIpvsAdoptsAtTheFirstDumpThatWorks) {
    Rig r;
    r.start();
    r.d.reset();
    auto spec = r.ipvs.table().services.at(kWeb).reals.at(rk("10.0.0.2:80"));
    spec.weight = 0;  // it was down before the restart
    r.ipvs.apply(std::vector{IpvsOp::edit_dest(kWeb, rk("10.0.0.2:80"), spec)});
    const size_t n = r.ipvs.op_count();
    r.ipvs.fail_next_dump(EIO);
    r.start();
    EXPECT_TRUE(r.logged("cannot read IPVS"));
    EXPECT_EQ(r.ipvs.op_count(), n);
    r.t += 2s;
    ASSERT_TRUE(r.d->resync_due(r.t));
    r.resync();
    EXPECT_EQ(r.ops_since(n), std::vector<IpvsOp>{});
    EXPECT_EQ(r.weight(kWeb, "10.0.0.2:80"), 0u);  // kept until its first check result
    EXPECT_EQ(r.ipvs.table().services.size(), 2u);
    EXPECT_TRUE(r.d->reconcile_status().in_sync);
    EXPECT_FALSE(r.logged("changed behind ballast's back"));
    r.verdict("10.0.0.2:80", State::up, "connected");
    EXPECT_EQ(r.weight(kWeb, "10.0.0.2:80"), 2u);
}

TEST(Director, AVerdictIsExactlyOneEditWithoutADump) {
    Rig r;
    r.start();
    r.verdict("10.0.0.2:80", State::up, "connected");  // the first result: weight as it is
    const size_t dumps = r.ipvs.dumps, n = r.ipvs.op_count();
    EXPECT_TRUE(r.logged("10.0.0.2:80 up: connected (first check)"));
    r.verdict("10.0.0.2:80", State::down, "connect refused");
    auto ops = r.ops_since(n);
    ASSERT_EQ(ops.size(), 1u);
    EXPECT_EQ(ops[0].kind, Kind::edit_dest);
    EXPECT_EQ(ops[0].real, rk("10.0.0.2:80"));
    EXPECT_EQ(ops[0].real_spec.weight, 0u);
    EXPECT_EQ(r.ipvs.dumps, dumps);
    EXPECT_TRUE(r.logged("10.0.0.2:80 down: connect refused (3/3)"));
    EXPECT_TRUE(r.logged("web 10.0.0.2:80: weight 2 -> 0: connect refused"));
    // Back up: one edit back; the other service (api) is untouched.
    r.verdict("10.0.0.2:80", State::up, "connected");
    ops = r.ops_since(n);
    ASSERT_EQ(ops.size(), 2u);
    EXPECT_EQ(ops[1].real_spec.weight, 2u);
    EXPECT_EQ(r.ipvs.dumps, dumps);
    EXPECT_EQ(r.d->decisions().at(kWeb)->find(rk("10.0.0.2:80"))->effective, 2u);
}

TEST(Director, AResultThatChangesNoDecisionIsNotRepublishedAndWritesNothing) {
    Rig r;
    r.start();
    r.d->take_redecided();
    const size_t n = r.ipvs.op_count();
    // The first result changes the decision (its state and reason), not the weight: the
    // service is republished, the kernel is left alone.
    r.verdict("10.0.0.2:80", State::up, "connected");
    EXPECT_EQ(r.d->take_redecided(), std::set<model::ServiceKey>{kWeb});
    EXPECT_TRUE(r.ops_since(n).empty());
    // An event that changes nothing the policy reads (an agent-reply-only event with no reply,
    // the state as it was): nothing to republish, nothing written, nothing said.
    const size_t events = r.events.size();
    health::HealthEvent same{
        r.check_of("10.0.0.2:80"), State::up, false, "connected", r.t, std::nullopt, std::nullopt};
    r.d->on_health_event(same, r.now());
    r.drain_events();
    EXPECT_TRUE(r.d->take_redecided().empty());
    EXPECT_TRUE(r.ops_since(n).empty());
    EXPECT_EQ(r.events.size(), events);
    // A change still is one edit, and republished.
    r.verdict("10.0.0.2:80", State::down, "connect refused");
    EXPECT_EQ(r.d->take_redecided(), std::set<model::ServiceKey>{kWeb});
    ASSERT_EQ(r.ops_since(n).size(), 1u);
    EXPECT_EQ(r.ops_since(n)[0].real_spec.weight, 0u);
}

TEST(Director, OnFailureRemoveDrainsThenDeletesAtResyncAndAddsBack) {
    Rig r;
    std::string text = kConfig;
    text.replace(text.find("check = { type = \"tcp\", rise"), 0, "on_failure = \"remove\"\n");
    r.start(text);
    size_t n = r.ipvs.op_count();
    r.verdict("10.0.0.1:80", State::down);
    auto ops = r.ops_since(n);
    ASSERT_EQ(ops.size(), 1u);  // weight 0 first: established connections finish
    EXPECT_EQ(ops[0].kind, Kind::edit_dest);
    EXPECT_EQ(ops[0].real_spec.weight, 0u);
    // The resync sees no connections left: now it is deleted.
    n = r.ipvs.op_count();
    r.t += 30s;
    ASSERT_TRUE(r.d->resync_due(r.t));
    r.resync();
    ops = r.ops_since(n);
    ASSERT_EQ(ops.size(), 1u);
    EXPECT_EQ(ops[0].kind, Kind::del_dest);
    EXPECT_FALSE(r.ipvs.table().services.at(kWeb).reals.count(rk("10.0.0.1:80")));
    n = r.ipvs.op_count();
    r.verdict("10.0.0.1:80", State::up, "connected");
    ops = r.ops_since(n);
    ASSERT_EQ(ops.size(), 1u);
    EXPECT_EQ(ops[0].kind, Kind::add_dest);
    EXPECT_EQ(ops[0].real_spec.weight, 3u);
}

TEST(Director, DrainWaitsForConnectionsAtResync) {
    Rig r;
    std::string text = kConfig;
    text.replace(text.find("check = { type = \"tcp\", rise"), 0, "on_failure = \"remove\"\n");
    r.start(text);
    r.verdict("10.0.0.1:80", State::down);
    ASSERT_TRUE(r.ipvs.set_dest_counters(kWeb, rk("10.0.0.1:80"), {2, 1, 0, {}}));
    size_t n = r.ipvs.op_count();
    r.t += 30s;
    r.resync();
    EXPECT_TRUE(r.ops_since(n).empty());
    ASSERT_EQ(r.d->reconcile_status().draining.size(), 1u);
    EXPECT_EQ(r.d->reconcile_status().draining[0].connections, 3u);
    ASSERT_TRUE(r.ipvs.set_dest_counters(kWeb, rk("10.0.0.1:80"), {}));
    r.t += 30s;
    r.resync();
    ASSERT_EQ(r.ops_since(n).size(), 1u);
    EXPECT_EQ(r.ops_since(n)[0].kind, Kind::del_dest);
}

TEST(Director, SorryServerAndPanic) {
    Rig r;
    std::string text = kConfig;
    text.replace(text.find("check = { type = \"tcp\", rise"), 0,
                 "sorry_server = \"10.0.9.9:8080\"\n");
    r.start(text);
    r.verdict("10.0.0.1:80", State::down);
    r.verdict("10.0.0.2:80", State::down);
    EXPECT_FALSE(r.ipvs.table().services.at(kWeb).reals.count(rk("10.0.9.9:8080")));
    size_t n = r.ipvs.op_count();
    r.verdict("10.0.0.3:80", State::down);
    auto ops = r.ops_since(n);
    ASSERT_EQ(ops.size(), 2u);  // real 3 to weight 0, the sorry server added
    EXPECT_EQ(r.weight(kWeb, "10.0.9.9:8080"), 1u);
    EXPECT_TRUE(r.logged("(sorry server): added with weight 1"));
    r.verdict("10.0.0.3:80", State::up, "connected");
    EXPECT_EQ(r.weight(kWeb, "10.0.0.3:80"), 1u);
    EXPECT_EQ(r.weight(kWeb, "10.0.9.9:8080"), 0u);  // drains, deleted at a resync

    // The api service has no sorry server: panic when both reals are down.
    r.verdict("10.0.0.1:443", State::down, "timeout", 1);
    EXPECT_EQ(r.weight(kApi, "10.0.0.1:443"), 0u);
    r.verdict("10.0.0.2:443", State::down, "timeout", 1);
    EXPECT_EQ(r.weight(kApi, "10.0.0.1:443"), 1u);
    EXPECT_EQ(r.weight(kApi, "10.0.0.2:443"), 1u);
    EXPECT_TRUE(r.logged("PANIC: 2 of 2 real servers are down"));
    ASSERT_FALSE(r.events.empty());
}

TEST(Director, ReloadAppliesTheMinimalDiffAndKeepsHealthState) {
    Rig r;
    r.start();
    r.verdict("10.0.0.3:80", State::down);
    ASSERT_EQ(r.weight(kWeb, "10.0.0.3:80"), 0u);
    const size_t n = r.ipvs.op_count(), dumps = r.ipvs.dumps;
    std::string text = kConfig;
    text.replace(text.find("weight = 2"), 10, "weight = 5");  // one weight
    const std::string gone = "[[service.real]]\naddress = \"10.0.0.2:443\"\n";
    text.erase(text.find(gone), gone.size());  // one real
    auto out = r.d->reload(load(text), r.now());
    r.drain_events();
    auto ops = r.ops_since(n);
    ASSERT_EQ(ops.size(), 2u) << ops[0].to_string();
    EXPECT_EQ(ops[0].kind, Kind::edit_dest);
    EXPECT_EQ(ops[0].real_spec.weight, 5u);
    EXPECT_EQ(ops[1].kind, Kind::edit_dest);  // drained, not deleted: connections finish
    EXPECT_EQ(ops[1].real, rk("10.0.0.2:443"));
    EXPECT_EQ(ops[1].real_spec.weight, 0u);
    EXPECT_EQ(out.ops.size(), 2u);
    EXPECT_EQ(r.ipvs.dumps, dumps);
    EXPECT_EQ(out.checks.removed.size(), 1u);
    EXPECT_EQ(out.checks.added.size(), 0u);
    // The down real stays down: its check was kept, so no new rise period.
    EXPECT_EQ(r.weight(kWeb, "10.0.0.3:80"), 0u);
    EXPECT_TRUE(r.logged("reloaded ballast.toml"));
    // The drained real is deleted at the next resync.
    r.t += 30s;
    r.resync();
    EXPECT_FALSE(r.ipvs.table().services.at(kApi).reals.count(rk("10.0.0.2:443")));
}

TEST(Director, AReloadThatOnlyMovesLinesChangesNothing) {
    Rig r;
    r.start();
    r.verdict("10.0.0.3:80", State::down);
    const size_t n = r.ipvs.op_count();
    auto out = r.d->reload(load("# moved down by two lines\n\n" + std::string(kConfig)), r.now());
    r.drain_events();
    EXPECT_TRUE(r.ops_since(n).empty());
    EXPECT_TRUE(out.ops.empty());
    EXPECT_TRUE(out.checks.added.empty());
    EXPECT_TRUE(out.checks.removed.empty());
    EXPECT_EQ(r.weight(kWeb, "10.0.0.3:80"), 0u);  // still down, not re-decided from scratch
    // A director-wide setting reaches every service: panic at 10 % keeps the down real in.
    std::string text = kConfig;
    text.replace(text.find("[director]\n"), 11, "[director]\npanic_threshold = 10\n");
    out = r.d->reload(load(text), r.now());
    r.drain_events();
    EXPECT_EQ(r.weight(kWeb, "10.0.0.3:80"), 1u);
    EXPECT_TRUE(out.checks.added.empty());
}

TEST(Director, AChangedCheckKeepsTheRealsWeightUntilItsFirstResult) {
    Rig r;
    r.start();
    r.verdict("10.0.0.1:80", State::up, "connected");
    r.verdict("10.0.0.1:80", State::down);
    ASSERT_EQ(r.weight(kWeb, "10.0.0.1:80"), 0u);
    std::string text = kConfig;
    text.replace(text.find("rise = 2, fall = 3"), 18, "rise = 2, fall = 3, interval = \"3s\"");
    const size_t n = r.ipvs.op_count();
    auto out = r.d->reload(load(text), r.now());
    EXPECT_EQ(out.checks.added.size(), 3u);
    EXPECT_EQ(out.checks.removed.size(), 3u);
    EXPECT_EQ(r.ipvs.op_count(), n);  // the down real is not brought back by a new check
    EXPECT_EQ(r.weight(kWeb, "10.0.0.1:80"), 0u);
    r.verdict("10.0.0.1:80", State::up, "connected");
    EXPECT_EQ(r.weight(kWeb, "10.0.0.1:80"), 3u);
}

TEST(Director, ABadReloadIsLoggedAndChangesNothing) {
    Rig r;
    r.start();
    const size_t n = r.ipvs.op_count(), batches = r.nft.batches_sent();
    auto bad = config::load_string("[[service]]\nname = 1\n", "ballast.toml");
    ASSERT_FALSE(bad.ok());
    std::vector<std::string> problems;
    for (const auto& d : bad.diagnostics) problems.push_back(config::format(d));
    r.d->reject_reload("ballast.toml", problems, r.now());
    r.drain_events();
    EXPECT_EQ(r.ipvs.op_count(), n);
    EXPECT_EQ(r.nft.batches_sent(), batches);
    EXPECT_EQ(r.d->config().services.size(), 2u);
    EXPECT_TRUE(r.logged("reload rejected: "));
    EXPECT_TRUE(r.logged("the running configuration stays"));
    EXPECT_TRUE(r.logged(problems.front()));
}

TEST(Director, PreviewShowsTheReloadWithoutWriting) {
    Rig r;
    r.start();
    const size_t n = r.ipvs.op_count();
    std::string text = kConfig;
    text.replace(text.find("weight = 2"), 10, "weight = 5");
    text +=
        "[[service]]\nname = \"new\"\nvip = \"192.0.2.9\"\nport = 80\n"
        "[[service.real]]\naddress = \"10.0.0.7:80\"\n";
    auto preview = r.d->preview(load(text), r.now());
    EXPECT_EQ(r.ipvs.op_count(), n);
    ASSERT_EQ(preview.ops.size(), 3u);
    EXPECT_EQ(preview.ops[0].kind, Kind::add_service);
    EXPECT_TRUE(preview.nft.batch_sent);
    ASSERT_EQ(preview.nft.changes.size(), 1u);
    EXPECT_EQ(preview.nft.changes[0], "add element 10.0.0.7/32");
    auto applied = r.d->reload(load(text), r.now());
    EXPECT_EQ(applied.ops, preview.ops);
}

TEST(Director, DriftIsRepairedAtTheNextResyncAndCounted) {
    Rig r;
    r.start();
    // ipvsadm -d of one real, a weight set by hand, and nft delete table inet ballast.
    model::IpvsTable hacked = r.ipvs.table();
    hacked.services.at(kWeb).reals.erase(rk("10.0.0.1:80"));
    hacked.services.at(kApi).reals.at(rk("10.0.0.2:443")).weight = 9;
    r.ipvs.load(hacked);
    r.nft.flush_ruleset();
    r.sysctl.set("net.ipv4.ip_forward", "0");
    r.t += 30s;
    r.resync();
    EXPECT_EQ(r.weight(kWeb, "10.0.0.1:80"), 3u);
    EXPECT_EQ(r.weight(kApi, "10.0.0.2:443"), 1u);
    EXPECT_TRUE(r.nft.table().has_value());
    EXPECT_EQ(r.sysctl.values().at("net.ipv4.ip_forward"), "1");
    EXPECT_EQ(r.d->reconcile_status().drift_repairs, 4u);
    EXPECT_TRUE(r.logged("IPVS was changed behind ballast's back (2 differences)"));
    EXPECT_TRUE(r.logged("192.0.2.1:80/tcp -> 10.0.0.1:80 is missing"));
    EXPECT_TRUE(r.logged("table inet ballast repaired"));
    // ipvsadm -C: everything comes back.
    r.ipvs.load({});
    r.t += 30s;
    r.resync();
    EXPECT_EQ(r.ipvs.table().services.size(), 2u);
    EXPECT_EQ(r.ipvs.table().real_count(), 5u);
    // Nothing changed since: the next resync writes nothing and reports no drift.
    const size_t n = r.ipvs.op_count();
    const auto repairs = r.d->reconcile_status().drift_repairs;
    r.t += 30s;
    r.resync();
    EXPECT_EQ(r.ipvs.op_count(), n);
    EXPECT_EQ(r.d->reconcile_status().drift_repairs, repairs);
}

TEST(Director, KeepsTheLastDumpsCountersUntilTheNextDumpReplacesThem) {
    Rig r;
    r.start();
    kernel::DestCounters c;
    c.active_conns = 4;
    c.inactive_conns = 9;
    c.stats.cps = 3;
    ASSERT_TRUE(r.ipvs.set_dest_counters(kWeb, rk("10.0.0.2:80"), c));
    r.t += 30s;
    r.resync();
    const auto first = r.d->counters();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->decode().dests.at(kWeb).at(rk("10.0.0.2:80")), c);
    EXPECT_EQ(first->decode().dests.at(kWeb).at(rk("10.0.0.1:80")), kernel::DestCounters{});
    EXPECT_EQ(first->decode().services.count(kWeb), 1u);
    EXPECT_EQ(first->at, std::chrono::duration<double>(r.now().wall.time_since_epoch()).count());
    // The next dump's counters are a new object; the one a reader kept stays as it was.
    c.active_conns = 5;
    ASSERT_TRUE(r.ipvs.set_dest_counters(kWeb, rk("10.0.0.2:80"), c));
    r.t += 30s;
    r.resync();
    EXPECT_NE(r.d->counters(), first);
    EXPECT_EQ(r.d->counters()->decode().dests.at(kWeb).at(rk("10.0.0.2:80")).active_conns, 5u);
    EXPECT_EQ(first->decode().dests.at(kWeb).at(rk("10.0.0.2:80")).active_conns, 4u);
    // A dump that failed leaves the last counters.
    const auto second = r.d->counters();
    r.ipvs.fail_next_dump(ENOBUFS);
    r.t += 30s;
    r.resync();
    EXPECT_EQ(r.d->counters(), second);
}

TEST(Director, WritesDuringAResyncDumpAreNotMistakenForDrift) {
    Rig r;
    r.start();
    r.t += 30s;
    r.d->begin_resync();
    auto snap = r.ipvs.dump();  // taken before the verdict's edit lands
    r.verdict("10.0.0.2:80", State::down);
    const size_t n = r.ipvs.op_count();
    const auto repairs = r.d->reconcile_status().drift_repairs;
    r.d->finish_resync(snap, r.now());
    r.drain_events();
    EXPECT_EQ(r.ipvs.op_count(), n);
    EXPECT_EQ(r.d->reconcile_status().drift_repairs, repairs);
    EXPECT_EQ(r.weight(kWeb, "10.0.0.2:80"), 0u);
}

TEST(Director, OwnershipAcrossARestartDrainsAndDeletesWhatLeftTheConfig) {
    Rig r;
    r.start();
    r.d.reset();
    // Restart with api removed from the config, the kernel untouched.
    std::string text = kConfig;
    text.erase(text.find("[[service]]\nname = \"api\""));
    const size_t n = r.ipvs.op_count();
    r.start(text);
    auto ops = r.ops_since(n);
    ASSERT_EQ(ops.size(), 2u);  // both api reals quiesced, not deleted yet
    for (const auto& op : ops) {
        EXPECT_EQ(op.kind, Kind::edit_dest);
        EXPECT_EQ(op.service, kApi);
        EXPECT_EQ(op.real_spec.weight, 0u);
    }
    EXPECT_TRUE(r.store.owned.count(kApi));  // still owned until it is gone
    r.t += 30s;
    r.resync();
    EXPECT_FALSE(r.ipvs.table().services.count(kApi));
    r.t += 30s;
    r.resync();  // the dump shows it gone: no longer owned
    EXPECT_EQ(r.store.owned, std::set{kWeb});
}

TEST(Director, CorruptRecordIsAnErrorAndTouchesNothing) {
    Rig r;
    r.store.load_error = make_error(EBADMSG, "read", "/var/lib/ballast/ownership.json",
                                    "/var/lib/ballast/ownership.json: corrupt ownership record");
    r.d =
        std::make_unique<Director>(load(kConfig), daemon::Ports{r.ipvs, r.nft, r.sysctl}, r.store);
    auto st = r.d->start(r.ipvs.dump(), r.now());
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().describe().find("corrupt ownership record"), std::string::npos);
    EXPECT_EQ(r.ipvs.op_count(), 0u);
    EXPECT_TRUE(r.nft.records().empty());
    EXPECT_TRUE(r.sysctl.writes().empty());
}

TEST(Director, AFailedWriteIsRetriedWithBackoffAndLogged) {
    Rig r;
    r.ipvs.fail_when(
        [](const IpvsOp& op) { return op.kind == Kind::add_dest && op.real == rk("10.0.0.3:80"); },
        ENOMEM);
    r.start();
    const auto& st = r.d->reconcile_status();
    EXPECT_FALSE(st.in_sync);
    ASSERT_EQ(st.failing.size(), 1u);
    EXPECT_EQ(st.failing.begin()->second.code, ENOMEM);
    EXPECT_TRUE(r.logged("IPVS write failed: add dest 192.0.2.1:80/tcp -> 10.0.0.3:80"));
    ASSERT_TRUE(r.d->next_tick());
    EXPECT_EQ(*r.d->next_tick(), r.t + 1s);  // first retry after 1 s
    EXPECT_FALSE(r.d->resync_due(r.t));
    r.t += 1s;
    ASSERT_TRUE(r.d->resync_due(r.t));
    r.resync();  // still failing: the next retry waits 2 s
    EXPECT_EQ(*r.d->next_tick(), r.t + 2s);
    r.ipvs.clear_failures();
    r.t += 2s;
    ASSERT_TRUE(r.d->resync_due(r.t));
    r.resync();
    EXPECT_TRUE(r.d->reconcile_status().in_sync);
    EXPECT_TRUE(r.d->reconcile_status().failing.empty());
    EXPECT_EQ(r.weight(kWeb, "10.0.0.3:80"), 1u);
    EXPECT_TRUE(r.logged("IPVS writes succeed again"));
}

TEST(Director, OverridesAreStoredFirstAppliedAndSurviveReloadAndRestart) {
    Rig r;
    r.start();
    const size_t n = r.ipvs.op_count();
    policy::Override drain{policy::Override::Kind::drain, 0, "uid 0 (root) pid 7", r.now().wall};
    ASSERT_TRUE(r.d->set_override({std::nullopt, rk("10.0.0.1:80")}, drain, r.now()).ok());
    r.drain_events();
    ASSERT_EQ(r.ops_since(n).size(), 1u);
    EXPECT_EQ(r.weight(kWeb, "10.0.0.1:80"), 0u);
    EXPECT_EQ(r.store.overrides.size(), 1u);
    EXPECT_TRUE(r.logged("10.0.0.1:80 in every service: drained by uid 0 (root) pid 7"));
    // Unknown real: an error, nothing stored.
    auto bad = r.d->set_override({kWeb, rk("10.0.0.9:80")}, drain, r.now());
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, ENOENT);
    EXPECT_EQ(r.store.overrides.size(), 1u);
    // A store that cannot write: the override is refused and nothing changes.
    r.store.fail_saves = EROFS;
    policy::Override w{policy::Override::Kind::weight, 7, "op", r.now().wall};
    EXPECT_FALSE(r.d->set_override({kApi, rk("10.0.0.2:443")}, w, r.now()).ok());
    EXPECT_EQ(r.weight(kApi, "10.0.0.2:443"), 1u);
    r.store.fail_saves = 0;
    // Survives a reload and a restart.
    r.d->reload(load(kConfig), r.now());
    EXPECT_EQ(r.weight(kWeb, "10.0.0.1:80"), 0u);
    r.d.reset();
    r.start();
    EXPECT_EQ(r.weight(kWeb, "10.0.0.1:80"), 0u);
    r.verdict("10.0.0.1:80", State::up, "connected");
    EXPECT_EQ(r.weight(kWeb, "10.0.0.1:80"), 0u);  // health up does not undo a drain
    // enable: back to its configured weight.
    ASSERT_TRUE(r.d->clear_override({std::nullopt, rk("10.0.0.1:80")}, r.now()).ok());
    EXPECT_EQ(r.weight(kWeb, "10.0.0.1:80"), 3u);
    EXPECT_TRUE(r.store.overrides.empty());
    EXPECT_EQ(r.d->clear_override({std::nullopt, rk("10.0.0.1:80")}, r.now()).error().code, ENOENT);
}

TEST(Director, SlowStartStepsOnTicks) {
    Rig r;
    std::string text = kConfig;
    text.replace(text.find("rise = 2, fall = 3"), 18, "rise = 2, fall = 3, slow_start = \"10s\"");
    r.start(text);
    r.verdict("10.0.0.1:80", State::down);
    r.verdict("10.0.0.1:80", State::up, "connected", 0, r.t);
    EXPECT_EQ(r.weight(kWeb, "10.0.0.1:80"), 1u);  // a started ramp sends something
    std::vector<model::Weight> seen;
    for (int i = 0; i < 12; ++i) {
        auto next = r.d->next_tick();
        ASSERT_TRUE(next);
        r.t = *next;
        r.d->tick(r.now());
        if (r.d->resync_due(r.t)) r.resync();
        seen.push_back(r.weight(kWeb, "10.0.0.1:80"));
        if (seen.back() == 3u) break;
    }
    EXPECT_EQ(seen.back(), 3u);
    EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
}

TEST(Director, CleanupRemovesExactlyWhatBallastOwns) {
    Rig r;
    model::IpvsTable before;
    const auto foreign = tcp("198.51.100.7", 25);
    before.services[foreign] = model::IpvsService{foreign, {}, {}};
    r.ipvs.load(before);
    r.start();
    r.d.reset();
    auto done = daemon::cleanup(load(kConfig), daemon::Ports{r.ipvs, r.nft, r.sysctl}, r.store);
    ASSERT_TRUE(done.ok()) << done.error().describe();
    EXPECT_EQ(r.ipvs.table().services.size(), 1u);
    EXPECT_TRUE(r.ipvs.table().services.count(foreign));
    EXPECT_FALSE(r.nft.table().has_value());
    EXPECT_TRUE(r.store.owned.empty());
    EXPECT_EQ(done->size(), 3u);
}
