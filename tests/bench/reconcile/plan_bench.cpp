// plan() over S services x 10 reals: the pure part of a reconcile round, without the dump.
#include <benchmark/benchmark.h>

#include "ballast/reconcile/plan.hpp"

namespace {

using namespace ballast;

model::IpvsTable table(uint32_t n_services, uint32_t n_reals) {
    model::IpvsTable t;
    for (uint32_t s = 0; s < n_services; ++s) {
        auto key = model::ServiceKey::inet(model::Protocol::tcp,
                                           model::IpAddress::v4(0x0b000000u + s), 80);
        model::IpvsService svc;
        svc.key = key;
        for (uint32_t r = 0; r < n_reals; ++r)
            svc.reals.emplace(model::RealKey{model::IpAddress::v4(0x0c000000u + s * 16 + r), 8080},
                              model::RealSpec{});
        t.services.emplace(key, std::move(svc));
    }
    return t;
}

kernel::IpvsSnapshot snapshot(const model::IpvsTable& t) {
    kernel::IpvsSnapshot snap;
    snap.table = t;
    for (auto& [key, s] : snap.table.services) {
        s.spec.flags.hashed = true;
        for (const auto& [r, spec] : s.reals) snap.dest_counters[key][r] = {};
    }
    return snap;
}

const reconcile::TimePoint kNow = reconcile::TimePoint{} + std::chrono::hours(1);

void run(benchmark::State& state, const kernel::IpvsSnapshot& observed,
         const model::IpvsTable& desired) {
    auto own = reconcile::Ownership::of(desired);
    size_t ops = 0;
    for (auto _ : state) {
        auto r = reconcile::plan(observed, desired, own, {}, kNow);
        ops = r.ops.size();
        benchmark::DoNotOptimize(r);
    }
    state.counters["ops"] = static_cast<double>(ops);
    state.counters["dests"] = static_cast<double>(desired.real_count());
}

void BM_PlanUnchanged(benchmark::State& state) {
    auto want = table(static_cast<uint32_t>(state.range(0)), 10);
    run(state, snapshot(want), want);
}

void BM_PlanOneWeight(benchmark::State& state) {
    auto want = table(static_cast<uint32_t>(state.range(0)), 10);
    auto observed = snapshot(want);
    want.services.begin()->second.reals.begin()->second.weight = 7;
    run(state, observed, want);
}

void BM_PlanFromEmpty(benchmark::State& state) {
    auto want = table(static_cast<uint32_t>(state.range(0)), 10);
    run(state, kernel::IpvsSnapshot{}, want);
}

void BM_PlanEveryWeight(benchmark::State& state) {
    auto want = table(static_cast<uint32_t>(state.range(0)), 10);
    auto observed = snapshot(want);
    for (auto& [k, s] : want.services)
        for (auto& [r, spec] : s.reals) spec.weight = 3;
    run(state, observed, want);
}

BENCHMARK(BM_PlanUnchanged)->Arg(1000)->Arg(5000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PlanOneWeight)->Arg(1000)->Arg(5000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PlanFromEmpty)->Arg(1000)->Arg(5000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PlanEveryWeight)->Arg(1000)->Arg(5000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
