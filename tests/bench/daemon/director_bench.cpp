// The Director's own cost natively (no kernel: FakeIpvs), at S services x 10 reals with a tcp
// check each: one verdict (down, then up) on one real -- the decision and the write it makes;
// a reload that changes one weight; a resync of an unchanged table (plan only: the dump is
// the fake's copy); a cold start after the config is read.
#include <benchmark/benchmark.h>

#include "ballast/bench/toml_pieces.hpp"
#include "ballast/config/config.hpp"
#include "ballast/daemon/director.hpp"
#include "ballast/fakes/fake_ipvs.hpp"
#include "ballast/fakes/fake_nft.hpp"
#include "ballast/fakes/fake_sysctl.hpp"
#include "ballast/health/check_plan.hpp"

namespace {

using namespace ballast;

std::string config_text(size_t services, uint32_t changed_weight = 1) {
    std::string c = "[defaults.check]\ntype = \"tcp\"\ninterval = \"60s\"\ntimeout = \"3s\"\n";
    for (size_t s = 0; s < services; ++s) {
        c += "[[service]]\nname = \"s" + std::to_string(s) + "\"\nvip = \"10.100." +
             std::to_string(s / 250) + "." + std::to_string(s % 250 + 1) +
             "\"\nport = 80\nscheduler = \"wrr\"\n";
        for (size_t i = 0; i < 10; ++i)
            c += "[[service.real]]\naddress = \"10.60.0." + std::to_string(i + 1) + ":" +
                 std::to_string(10000 + s) + "\"\nweight = " +
                 std::to_string(s == services / 2 && i == 0 ? changed_weight : 1) + "\n";
    }
    return c;
}

model::DirectorConfig load(const std::string& text) {
    auto r = config::load_string(text, "bench.toml");
    if (!r.ok()) throw std::runtime_error(config::format(r.diagnostics.front()));
    return *r.config;
}

struct Store : daemon::StateStore {
    Result<std::set<model::ServiceKey>> load_ownership() override { return owned; }
    Status save_ownership(const std::set<model::ServiceKey>& s) override {
        owned = s;
        return {};
    }
    Result<policy::Overrides> load_overrides() override { return policy::Overrides{}; }
    Status save_overrides(const policy::Overrides&) override { return {}; }
    std::set<model::ServiceKey> owned;
};

struct Rig {
    fakes::FakeIpvs ipvs;
    fakes::FakeNftClient nft;
    fakes::FakeSysctl sysctl;
    Store store;
    std::unique_ptr<daemon::Director> d;
    daemon::SteadyTime t{std::chrono::hours(1)};
    daemon::Now now() const { return {t, daemon::WallTime{}}; }
    explicit Rig(size_t services) {
        d = std::make_unique<daemon::Director>(load(config_text(services)),
                                               daemon::Ports{ipvs, nft, sysctl}, store);
        (void)d->start(ipvs.dump(), now());
        (void)d->take_events();
    }
};

void BM_Verdict(benchmark::State& state) {
    Rig rig(static_cast<size_t>(state.range(0)));
    const auto& svc = rig.d->config().services[rig.d->config().services.size() / 3];
    const auto key =
        health::make_check_key(svc.reals[0].key.addr, svc.reals[0].key.port, *svc.check);
    // Everything has a first result, so no verdict is the first.
    for (const auto& [k, users] : rig.d->checks().checks)
        rig.d->on_health_event({k, health::State::up, true, "ok", rig.t, {}, {}}, rig.now());
    bool down = true;
    const size_t before = rig.ipvs.op_count();
    for (auto _ : state) {
        rig.d->on_health_event({key,
                                down ? health::State::down : health::State::up,
                                true,
                                "connect refused",
                                rig.t,
                                {},
                                {}},
                               rig.now());
        down = !down;
        benchmark::DoNotOptimize(rig.d->take_events());
    }
    state.counters["writes_per_verdict"] =
        static_cast<double>(rig.ipvs.op_count() - before) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Verdict)->Arg(500)->Arg(5000)->Unit(benchmark::kMicrosecond);

void BM_ReloadOneWeight(benchmark::State& state) {
    const auto services = static_cast<size_t>(state.range(0));
    Rig rig(services);
    const auto a = load(config_text(services, 1)), b = load(config_text(services, 7));
    bool flip = false;
    for (auto _ : state) {
        auto out = rig.d->reload(flip ? a : b, rig.now());
        flip = !flip;
        benchmark::DoNotOptimize(out);
        (void)rig.d->take_events();
    }
}
BENCHMARK(BM_ReloadOneWeight)->Arg(5000)->Unit(benchmark::kMillisecond);

void BM_LoadConfig(benchmark::State& state) {
    const auto text = config_text(static_cast<size_t>(state.range(0)));
    for (auto _ : state) benchmark::DoNotOptimize(load(text));
}
BENCHMARK(BM_LoadConfig)->Arg(5000)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same parsed in one piece (load_string's pieces: config/src/load.cpp), for the comparison.
void BM_LoadConfigOnePiece(benchmark::State& state) {
    const auto text = config_text(static_cast<size_t>(state.range(0)));
    for (auto _ : state) benchmark::DoNotOptimize(config::load_string(text, "bench.toml", 0));
}
BENCHMARK(BM_LoadConfigOnePiece)->Arg(5000)->Unit(benchmark::kMillisecond)->UseRealTime();

// The parse alone, as load_string parses a long document (pieces of 250 [[service]] tables on
// up to 4 threads, each tree dropped) but without reading the model: the floor BM_LoadConfig
// is above (daemon_lab_bench's "p" measures the same in the kernel lab).
void BM_TomlParsePieces(benchmark::State& state) {
    const auto text = config_text(static_cast<size_t>(state.range(0)));
    const auto pieces = bench::service_pieces(text);
    for (auto _ : state) benchmark::DoNotOptimize(bench::parse_pieces(pieces));
}
BENCHMARK(BM_TomlParsePieces)->Arg(5000)->Unit(benchmark::kMillisecond)->UseRealTime();

// A cold start's own part after the config is read: the Director made (the check plan) and
// started over an empty fake kernel (decisions, the plan of 55,000 adds, the fake's apply).
void BM_ColdStart(benchmark::State& state) {
    const auto config = load(config_text(static_cast<size_t>(state.range(0))));
    for (auto _ : state) {
        state.PauseTiming();
        auto copy = config;
        fakes::FakeIpvs ipvs;
        fakes::FakeNftClient nft;
        fakes::FakeSysctl sysctl;
        Store store;
        state.ResumeTiming();
        auto d = std::make_unique<daemon::Director>(std::move(copy),
                                                    daemon::Ports{ipvs, nft, sysctl}, store);
        (void)d->start(ipvs.dump(), daemon::Now{});
        benchmark::DoNotOptimize(d->take_events());
        state.PauseTiming();
        d.reset();  // its destruction is not a start's
        state.ResumeTiming();
    }
}
BENCHMARK(BM_ColdStart)->Arg(5000)->Unit(benchmark::kMillisecond);

void BM_ResyncUnchanged(benchmark::State& state) {
    Rig rig(static_cast<size_t>(state.range(0)));
    auto snap = rig.ipvs.dump();
    for (auto _ : state) {
        rig.d->begin_resync();
        rig.d->finish_resync(snap, rig.now());
        (void)rig.d->take_events();
    }
}
BENCHMARK(BM_ResyncUnchanged)->Arg(5000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
