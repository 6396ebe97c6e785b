// Property tests: random observed/desired/ownership, plan applied to FakeIpvs until it settles.
// Each case prints its seed; replay one with BALLAST_SEED=<seed> and --gtest_filter.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "ballast/fakes/fake_ipvs.hpp"
#include "ballast/reconcile/executor.hpp"
#include "ballast/reconcile/plan.hpp"
#include "support.hpp"

namespace ballast::reconcile::test {
namespace {

using fakes::FakeIpvs;

constexpr int kIterations = 400;

// Small key pools so observed and desired overlap often.
std::vector<ServiceKey> service_pool() {
    std::vector<ServiceKey> keys;
    for (uint32_t n = 1; n <= 4; ++n) keys.push_back(tcp(n));
    for (uint32_t n = 1; n <= 3; ++n) keys.push_back(udp(n));
    keys.push_back(ServiceKey::inet(Protocol::sctp, IpAddress::v4(0xc0000209), 5060));
    keys.push_back(ServiceKey::inet(Protocol::tcp, *IpAddress::parse("2001:db8::1"), 443));
    keys.push_back(ServiceKey::mark(7));
    keys.push_back(ServiceKey::mark(8, AF_INET6));
    return keys;
}

struct Gen {
    std::mt19937 rng;
    bool coin(double p = 0.5) { return std::bernoulli_distribution(p)(rng); }
    template <typename T>
    const T& pick(const std::vector<T>& v) {
        return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
    }
    uint32_t upto(uint32_t n) { return std::uniform_int_distribution<uint32_t>(0, n)(rng); }

    ServiceSpec spec() {
        ServiceSpec s;
        s.scheduler = pick(std::vector<std::string>{"wlc", "rr", "sh"});
        if (coin(0.3)) s.persistence = coin() ? 300 : 600;
        s.flags.one_packet = coin(0.2);
        s.flags.sched_flag1 = coin(0.1);
        if (coin(0.2)) s.netmask = 0xffffff00;
        return s;
    }
    RealSpec real_spec() {
        RealSpec r;
        r.weight = upto(3);
        r.forward = coin(0.8) ? model::ForwardMethod::masquerade : model::ForwardMethod::route;
        if (coin(0.2)) r.upper_threshold = 100;
        return r;
    }
    IpvsService service_for(const ServiceKey& key, const IpvsService* like = nullptr) {
        IpvsService s;
        s.key = key;
        // Often start from a similar service so there are unchanged items too.
        s.spec = like && coin(0.6) ? like->spec : spec();
        for (uint32_t r = 1; r <= 6; ++r) {
            const RealSpec* had = nullptr;
            if (like && like->reals.count(real(r))) had = &like->reals.at(real(r));
            if (had && coin(0.7)) {
                s.reals[real(r)] = coin(0.7) ? *had : real_spec();
            } else if (coin(0.35)) {
                s.reals[real(r)] = real_spec();
            }
        }
        return s;
    }
};

struct Case {
    IpvsTable observed;  // as loaded into the fake
    IpvsTable desired;
    Ownership ownership;
    std::set<ServiceKey> foreign;
};

// Each pooled key gets a role: absent, foreign, owned & retiring, owned & desired, adopted,
// or new.
Case make_case(Gen& g, bool allow_removals) {
    Case c;
    for (const auto& key : service_pool()) {
        int role = static_cast<int>(g.upto(5));
        if (!allow_removals && (role == 1 || role == 2)) role = 3;
        switch (role) {
            case 0:
                break;
            case 1:  // foreign
                c.observed.services[key] = g.service_for(key);
                c.foreign.insert(key);
                break;
            case 2:  // owned, no longer desired
                c.observed.services[key] = g.service_for(key);
                c.ownership.services.insert(key);
                break;
            case 3:  // owned and desired
                c.observed.services[key] = g.service_for(key);
                c.ownership.services.insert(key);
                c.desired.services[key] = g.service_for(key, &c.observed.services[key]);
                break;
            case 4:  // desired, present but not yet ours
                c.observed.services[key] = g.service_for(key);
                c.desired.services[key] = g.service_for(key, &c.observed.services[key]);
                break;
            case 5:  // new
                c.desired.services[key] = g.service_for(key);
                break;
        }
    }
    if (!allow_removals) {
        // Desired keeps every observed real (possibly changed) so nothing drains.
        for (auto& [key, want] : c.desired.services) {
            auto have = c.observed.services.find(key);
            if (have == c.observed.services.end()) continue;
            for (const auto& [r, spec] : have->second.reals)
                if (!want.reals.count(r)) want.reals[r] = spec;
        }
    }
    return c;
}

bool udp_service(const ServiceKey& k) {
    return !k.is_fwmark() && k.protocol == Protocol::udp;
}

// Items (services, destinations) that differ, when nothing is removed.
size_t difference_size(const IpvsTable& have, const IpvsTable& want) {
    size_t n = 0;
    for (const auto& [key, w] : want.services) {
        auto h = have.services.find(key);
        if (h == have.services.end()) {
            n += 1 + w.reals.size();
            continue;
        }
        n += h->second.spec.same_attributes(w.spec) ? 0 : 1;
        for (const auto& [r, spec] : w.reals) {
            auto hr = h->second.reals.find(r);
            n += hr == h->second.reals.end() || hr->second != spec ? 1 : 0;
        }
    }
    return n;
}

// The documented first-round cost of removals (fresh ledger, timeout not reached).
size_t removal_ops(const Case& c, const kernel::IpvsSnapshot& snap) {
    auto idle = [&](const ServiceKey& k, const RealKey& r) {
        return snap.dest_counters.at(k).at(r).total_conns() == 0;
    };
    size_t n = 0;
    for (const auto& [key, h] : c.observed.services) {
        if (c.foreign.count(key)) continue;
        auto w = c.desired.services.find(key);
        if (w == c.desired.services.end()) {
            size_t weighted = 0;
            bool all_idle_quiesced = true;
            for (const auto& [r, spec] : h.reals) {
                weighted += spec.weight != 0;
                all_idle_quiesced = all_idle_quiesced && spec.weight == 0 && idle(key, r);
            }
            n += udp_service(key) || all_idle_quiesced ? 1 : weighted;
            continue;
        }
        for (const auto& [r, spec] : h.reals) {
            if (w->second.reals.count(r)) continue;
            bool waits = !udp_service(key) && spec.weight == 0 && !idle(key, r);
            n += waits ? 0 : 1;
        }
    }
    return n;
}

void randomize_counters(Gen& g, FakeIpvs& fake) {
    for (const auto& [key, s] : fake.table().services)
        for (const auto& [r, spec] : s.reals)
            if (g.coin(0.4)) fake.set_dest_counters(key, r, conns(g.upto(5), g.upto(5)));
}

// Owned state equals desired: same services, same attributes (kernel flags aside), same reals.
void expect_owned_equals_desired(const IpvsTable& actual, const Case& c) {
    for (const auto& [key, want] : c.desired.services) {
        auto it = actual.services.find(key);
        ASSERT_NE(it, actual.services.end()) << key.to_string();
        EXPECT_TRUE(it->second.spec.same_attributes(want.spec)) << key.to_string();
        EXPECT_EQ(it->second.reals, want.reals) << key.to_string();
    }
    for (const auto& [key, have] : actual.services)
        EXPECT_TRUE(c.desired.services.count(key) || c.foreign.count(key))
            << "left behind: " << key.to_string();
}

void expect_phase_order(const std::vector<IpvsOp>& ops) {
    auto phase = [](const IpvsOp& op) {
        return op.kind == Kind::del_service ? 2 : op.is_dest_op() ? 1 : 0;
    };
    for (size_t i = 1; i < ops.size(); ++i)
        EXPECT_LE(phase(ops[i - 1]), phase(ops[i]))
            << ops[i - 1].to_string() << " before " << ops[i].to_string();
}

void expect_nothing_recreated(const std::vector<IpvsOp>& ops, const Case& c) {
    // Never delete what is desired (it would be re-added), never add what exists.
    for (const auto& op : ops) {
        auto want = c.desired.services.find(op.service);
        bool svc_desired = want != c.desired.services.end();
        bool svc_observed = c.observed.services.count(op.service) != 0;
        switch (op.kind) {
            case Kind::del_service:
                EXPECT_FALSE(svc_desired) << op.to_string();
                break;
            case Kind::del_dest:
                EXPECT_FALSE(svc_desired && want->second.reals.count(op.real)) << op.to_string();
                break;
            case Kind::add_service:
                EXPECT_FALSE(svc_observed) << op.to_string();
                break;
            case Kind::add_dest:
                EXPECT_FALSE(svc_observed &&
                             c.observed.services.at(op.service).reals.count(op.real))
                    << op.to_string();
                break;
            default:
                break;
        }
    }
}

TEST(PlanProperty, ConvergesToDesiredLeavesForeignAloneAndCountsTheDifference) {
    for (int i = 0; i < kIterations; ++i) {
        uint32_t seed = base_seed() + static_cast<uint32_t>(i);
        SCOPED_TRACE("seed " + std::to_string(seed));
        Gen g{std::mt19937(seed)};
        Case c = make_case(g, true);
        FakeIpvs fake(c.observed);
        randomize_counters(g, fake);
        const IpvsTable initial = fake.table();
        PlanOptions opts;
        opts.drain_timeout = 120s;

        TimePoint now = TimePoint{} + 1h;
        Ownership own = c.ownership;
        DrainLedger ledger;
        auto snap = fake.dump();
        ASSERT_TRUE(snap.ok());
        auto first = plan(*snap, c.desired, own, ledger, now, opts);

        // Op count: the difference, plus the documented first step of each removal.
        EXPECT_EQ(first.ops.size(), difference_size(c.observed, c.desired) + removal_ops(c, *snap));
        expect_phase_order(first.ops);
        expect_nothing_recreated(first.ops, c);
        for (const auto& op : first.ops)
            ASSERT_FALSE(c.foreign.count(op.service)) << "touched foreign: " << op.to_string();
        std::set<ServiceKey> reported(first.report.foreign.begin(), first.report.foreign.end());
        EXPECT_EQ(reported, c.foreign);

        // Apply, let time pass and connections close, replan until nothing is left to do.
        PlanResult step = first;
        int rounds = 0;
        // A plan can be empty while reals still drain (waiting for connections or the timeout).
        for (; !step.ops.empty() || !step.report.draining.empty(); ++rounds) {
            ASSERT_LT(rounds, 20) << "did not settle";
            auto report = execute(fake, step.ops);
            ASSERT_TRUE(report.ok()) << report.failures.front().error.describe() << " in "
                                     << report.failures.front().op.to_string();
            // Connections on quiesced reals wind down; sometimes only the timeout ends them.
            for (const auto& [key, s] : fake.table().services)
                for (const auto& [r, spec] : s.reals)
                    if (spec.weight == 0 && !c.foreign.count(key) && g.coin(0.5))
                        fake.set_dest_counters(key, r, conns(0));
            now += std::chrono::seconds(g.upto(60));
            snap = fake.dump();
            ASSERT_TRUE(snap.ok());
            auto next = plan(*snap, c.desired, step.ownership, step.ledger, now, opts);
            // The same dump with its counters encoded (as ballastd's dumps come) plans the same.
            auto encoded = *snap;
            encoded.counters.emplace(0, encoded.service_stats, encoded.dest_counters);
            encoded.service_stats.clear();
            encoded.dest_counters.clear();
            auto from_encoded = plan(encoded, c.desired, step.ownership, step.ledger, now, opts);
            EXPECT_EQ(from_encoded.ops, next.ops);
            EXPECT_EQ(from_encoded.ledger, next.ledger);
            EXPECT_EQ(from_encoded.report.draining, next.report.draining);
            EXPECT_EQ(from_encoded.report.timed_out, next.report.timed_out);
            step = std::move(next);
            // Right after applying, only drain progress may remain: no add, no edit but to 0.
            if (rounds == 0) {
                for (const auto& op : step.ops) {
                    bool progress = op.kind == Kind::del_dest || op.kind == Kind::del_service ||
                                    (op.kind == Kind::edit_dest && op.real_spec.weight == 0 &&
                                     !(c.desired.services.count(op.service) &&
                                       c.desired.services.at(op.service).reals.count(op.real)));
                    EXPECT_TRUE(progress) << "not idempotent: " << op.to_string();
                }
            }
        }

        expect_owned_equals_desired(fake.table(), c);
        for (const auto& key : c.foreign)
            EXPECT_EQ(fake.table().services.at(key), initial.services.at(key))
                << "foreign changed: " << key.to_string();
        EXPECT_TRUE(step.ledger.since.empty());
        EXPECT_EQ(step.ownership, Ownership::of(c.desired));
    }
}

TEST(PlanProperty, WithoutRemovalsOpsEqualTheDifferenceAndReplanIsEmpty) {
    for (int i = 0; i < kIterations; ++i) {
        uint32_t seed = base_seed() + 100000u + static_cast<uint32_t>(i);
        SCOPED_TRACE("seed " + std::to_string(seed));
        Gen g{std::mt19937(seed)};
        Case c = make_case(g, false);
        FakeIpvs fake(c.observed);
        TimePoint now = TimePoint{} + 1h;
        auto snap = fake.dump();
        ASSERT_TRUE(snap.ok());
        auto first = plan(*snap, c.desired, c.ownership, {}, now);
        EXPECT_EQ(first.ops.size(), difference_size(c.observed, c.desired));
        expect_phase_order(first.ops);
        expect_nothing_recreated(first.ops, c);
        auto report = execute(fake, first.ops);
        ASSERT_TRUE(report.ok());
        EXPECT_EQ(fake.op_count(), first.ops.size());

        snap = fake.dump();
        ASSERT_TRUE(snap.ok());
        auto second = plan(*snap, c.desired, first.ownership, first.ledger, now);
        EXPECT_TRUE(second.ops.empty()) << second.ops.front().to_string();
        expect_owned_equals_desired(fake.table(), c);
    }
}

TEST(PlanProperty, FailedOpsAreRepairedByTheNextRound) {
    for (int i = 0; i < kIterations / 4; ++i) {
        uint32_t seed = base_seed() + 200000u + static_cast<uint32_t>(i);
        SCOPED_TRACE("seed " + std::to_string(seed));
        Gen g{std::mt19937(seed)};
        Case c = make_case(g, false);
        FakeIpvs fake(c.observed);
        TimePoint now = TimePoint{} + 1h;
        auto snap = fake.dump();
        ASSERT_TRUE(snap.ok());
        auto first = plan(*snap, c.desired, c.ownership, {}, now);
        if (first.ops.empty()) continue;
        fake.fail_nth(1 + g.upto(static_cast<uint32_t>(first.ops.size() - 1)), EIO);
        auto report = execute(fake, first.ops);
        ASSERT_FALSE(report.ok());
        EXPECT_EQ(report.applied + report.failures.size(), first.ops.size());

        snap = fake.dump();
        ASSERT_TRUE(snap.ok());
        auto retry = plan(*snap, c.desired, first.ownership, first.ledger, now);
        // The retry is exactly the dirty keys.
        std::set<DirtyKey> retried;
        for (const auto& op : retry.ops) retried.insert(DirtyKey::of(op));
        std::set<DirtyKey> dirty;
        for (const auto& [k, e] : report.dirty) dirty.insert(k);
        EXPECT_EQ(retried, dirty);
        ASSERT_TRUE(execute(fake, retry.ops).ok());
        expect_owned_equals_desired(fake.table(), c);
    }
}

// The plans of key ranges that partition the keys, merged, are the plan of everything: the same
// ops service by service (each range in phase order), ledger, ownership and report; and the
// ranges' ops written one list after another report what one list does.
TEST(PlanProperty, PlansOfRangesMergedAreThePlanOfEverything) {
    auto keys = service_pool();
    std::sort(keys.begin(), keys.end());
    const auto by_service = [](std::vector<IpvsOp> ops) {
        std::stable_sort(ops.begin(), ops.end(),
                         [](const IpvsOp& a, const IpvsOp& b) { return a.service < b.service; });
        return ops;
    };
    for (int i = 0; i < kIterations; ++i) {
        uint32_t seed = base_seed() + 300000u + static_cast<uint32_t>(i);
        SCOPED_TRACE("seed " + std::to_string(seed));
        Gen g{std::mt19937(seed)};
        Case c = make_case(g, true);
        FakeIpvs fake(c.observed);
        randomize_counters(g, fake);
        auto snap = fake.dump();
        ASSERT_TRUE(snap.ok());
        PlanOptions opts;
        opts.drain_timeout = 120s;
        // A ledger with drains begun at several times: some time out now, some do not.
        const TimePoint now = TimePoint{} + 1h;
        DrainLedger ledger = plan(*snap, c.desired, c.ownership, {}, now - 150s, opts).ledger;
        for (auto& [id, since] : ledger.since)
            if (g.coin()) since = now - 30s;
        const auto whole = plan(*snap, c.desired, c.ownership, ledger, now, opts);

        // Cut points among the keys (and between them and the ends), 0 to 4 of them.
        std::vector<KeyRange> ranges{KeyRange{}};
        for (uint32_t cuts = g.upto(4); cuts > 0; --cuts) {
            const ServiceKey cut = g.pick(keys);
            for (size_t r = 0; r < ranges.size(); ++r) {
                if (!ranges[r].contains(cut) || (ranges[r].from && *ranges[r].from == cut))
                    continue;
                KeyRange upper{cut, ranges[r].to};
                ranges[r].to = cut;
                ranges.insert(ranges.begin() + static_cast<long>(r) + 1, upper);
                break;
            }
        }
        PlanResult merged;
        std::vector<PlanResult> parts;
        for (const auto& range : ranges) {
            parts.push_back(plan(*snap, c.desired, c.ownership, ledger, now, opts, range));
            for (const auto& op : parts.back().ops) EXPECT_TRUE(range.contains(op.service));
            expect_phase_order(parts.back().ops);
            merge_into(merged, PlanResult(parts.back()));
        }
        EXPECT_EQ(by_service(merged.ops), by_service(whole.ops));
        EXPECT_EQ(merged.ledger, whole.ledger);
        EXPECT_EQ(merged.ownership, whole.ownership);
        EXPECT_EQ(merged.report.foreign, whole.report.foreign);
        EXPECT_EQ(merged.report.adopted, whole.report.adopted);
        EXPECT_EQ(merged.report.draining, whole.report.draining);
        EXPECT_EQ(merged.report.timed_out, whole.report.timed_out);

        // Written range by range with one op failing, against the merged list written at once.
        if (merged.ops.empty()) continue;
        const size_t fail_at = 1 + g.upto(static_cast<uint32_t>(merged.ops.size() - 1));
        FakeIpvs at_once(c.observed), by_range(c.observed);
        at_once.fail_nth(fail_at, EIO);
        by_range.fail_nth(fail_at, EIO);
        const auto one = execute(at_once, merged.ops);
        ExecutionReport pieces;
        size_t offset = 0;
        for (const auto& part : parts) {
            merge_into(pieces, execute(by_range, part.ops), offset);
            offset += part.ops.size();
        }
        EXPECT_EQ(pieces.applied, one.applied);
        ASSERT_EQ(pieces.failures.size(), one.failures.size());
        for (size_t f = 0; f < one.failures.size(); ++f) {
            EXPECT_EQ(pieces.failures[f].index, one.failures[f].index);
            EXPECT_EQ(pieces.failures[f].op, one.failures[f].op);
            EXPECT_EQ(pieces.failures[f].error.code, one.failures[f].error.code);
        }
        EXPECT_EQ(pieces.dirty.size(), one.dirty.size());
        EXPECT_EQ(by_range.table(), at_once.table());
    }
}

}  // namespace
}  // namespace ballast::reconcile::test
