// Targeted cases, one per rule documented in ballast/reconcile/plan.hpp.
#include "ballast/reconcile/plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "support.hpp"

namespace ballast::reconcile::test {
namespace {

const TimePoint t0 = TimePoint{} + 1000s;

PlanResult plan_all(const kernel::IpvsSnapshot& observed, const IpvsTable& desired,
                    const DrainLedger& ledger = {}, TimePoint now = t0, PlanOptions opts = {}) {
    // Owns everything observed and desired (the common case in these tests).
    Ownership own = Ownership::of(desired);
    for (const auto& [k, s] : observed.table.services) own.services.insert(k);
    return plan(observed, desired, own, ledger, now, opts);
}

std::vector<Kind> kinds(const std::vector<IpvsOp>& ops) {
    std::vector<Kind> out;
    for (const auto& op : ops) out.push_back(op.kind);
    return out;
}

TEST(Plan, EmptyAgainstEmptyIsEmpty) {
    auto r = plan_all({}, {});
    EXPECT_TRUE(r.ops.empty());
    EXPECT_TRUE(r.ownership.services.empty());
    EXPECT_TRUE(r.ledger.since.empty());
}

TEST(Plan, NewServiceIsAddedBeforeItsDestinations) {
    IpvsTable want;
    auto s = service(tcp(1), 2);
    s.spec.persistence = 300;
    put(want, s);
    auto r = plan_all({}, want);
    ASSERT_EQ(kinds(r.ops), (std::vector{Kind::add_service, Kind::add_dest, Kind::add_dest}));
    EXPECT_EQ(r.ops[0].service, tcp(1));
    EXPECT_TRUE(r.ops[0].service_spec.flags.persistent) << "persistent is derived from persistence";
    EXPECT_FALSE(r.ops[0].service_spec.flags.hashed);
    EXPECT_EQ(r.ops[1].real, real(1));
    EXPECT_EQ(r.ops[2].real, real(2));
    EXPECT_EQ(r.ops[2].real_spec, weight(1));
    EXPECT_EQ(r.ownership, Ownership::of(want));
}

TEST(Plan, IdenticalTableIgnoringKernelFlagsNeedsNothing) {
    IpvsTable want;
    auto s = service(tcp(1), 3);
    s.spec.persistence = 60;  // desired leaves flags.persistent false; the dump sets it
    put(want, s);
    put(want, service(udp(2), 1));
    auto observed = snapshot_of(want);
    ASSERT_TRUE(observed.table.services.at(tcp(1)).spec.flags.hashed);
    EXPECT_TRUE(plan_all(observed, want).ops.empty());
}

struct ServiceChange {
    const char* name;
    void (*change)(ServiceSpec&);
};

class ServiceEdit : public testing::TestWithParam<ServiceChange> {};

TEST_P(ServiceEdit, IsOneInPlaceEdit) {
    IpvsTable have;
    put(have, service(tcp(1), 2));
    IpvsTable want = have;
    GetParam().change(want.services.at(tcp(1)).spec);
    auto r = plan_all(snapshot_of(have), want);
    ASSERT_EQ(kinds(r.ops), std::vector{Kind::edit_service});
    EXPECT_EQ(r.ops[0].service, tcp(1));
    EXPECT_EQ(r.ops[0].service_spec, normalized(want.services.at(tcp(1)).spec));
}

INSTANTIATE_TEST_SUITE_P(
    Plan, ServiceEdit,
    testing::Values(ServiceChange{"scheduler", [](ServiceSpec& s) { s.scheduler = "rr"; }},
                    ServiceChange{"persistence_on", [](ServiceSpec& s) { s.persistence = 300; }},
                    ServiceChange{"one_packet", [](ServiceSpec& s) { s.flags.one_packet = true; }},
                    ServiceChange{"sched_flag", [](ServiceSpec& s) { s.flags.sched_flag1 = true; }},
                    ServiceChange{"netmask", [](ServiceSpec& s) { s.netmask = 0xffffff00; }},
                    ServiceChange{"pe", [](ServiceSpec& s) { s.pe_name = "sip"; }}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Plan, PersistenceTimeoutChangeAndRemovalAreEdits) {
    IpvsTable have;
    auto s = service(tcp(1), 1);
    s.spec.persistence = 300;
    put(have, s);
    IpvsTable want = have;
    want.services.at(tcp(1)).spec.persistence = 600;
    auto r = plan_all(snapshot_of(have), want);
    ASSERT_EQ(kinds(r.ops), std::vector{Kind::edit_service});
    EXPECT_TRUE(r.ops[0].service_spec.flags.persistent);

    want.services.at(tcp(1)).spec.persistence.reset();
    r = plan_all(snapshot_of(have), want);
    ASSERT_EQ(kinds(r.ops), std::vector{Kind::edit_service});
    EXPECT_FALSE(r.ops[0].service_spec.flags.persistent);
}

struct RealChange {
    const char* name;
    void (*change)(RealSpec&);
};

class DestEdit : public testing::TestWithParam<RealChange> {};

TEST_P(DestEdit, IsOneInPlaceEdit) {
    IpvsTable have;
    put(have, service(tcp(1), 3));
    IpvsTable want = have;
    RealSpec& spec = want.services.at(tcp(1)).reals.at(real(2));
    GetParam().change(spec);
    auto r = plan_all(snapshot_of(have), want);
    ASSERT_EQ(kinds(r.ops), std::vector{Kind::edit_dest});
    EXPECT_EQ(r.ops[0].real, real(2));
    EXPECT_EQ(r.ops[0].real_spec, spec);
}

INSTANTIATE_TEST_SUITE_P(
    Plan, DestEdit,
    testing::Values(RealChange{"weight", [](RealSpec& s) { s.weight = 7; }},
                    RealChange{"weight_zero", [](RealSpec& s) { s.weight = 0; }},
                    RealChange{"upper", [](RealSpec& s) { s.upper_threshold = 100; }},
                    RealChange{"lower", [](RealSpec& s) { s.lower_threshold = 10; }},
                    RealChange{"forward",
                               [](RealSpec& s) { s.forward = model::ForwardMethod::route; }}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Plan, NewRealInExistingServiceIsOneAdd) {
    IpvsTable have;
    put(have, service(tcp(1), 1));
    IpvsTable want;
    put(want, service(tcp(1), 2));
    auto r = plan_all(snapshot_of(have), want);
    ASSERT_EQ(kinds(r.ops), std::vector{Kind::add_dest});
    EXPECT_EQ(r.ops[0].real, real(2));
}

TEST(Plan, RemovedTcpRealIsQuiescedThenDeletedWhenIdle) {
    IpvsTable have;
    put(have, service(tcp(1), 2));
    have.services.at(tcp(1)).reals.at(real(2)).upper_threshold = 50;
    IpvsTable want;
    put(want, service(tcp(1), 1));
    auto observed = snapshot_of(have);
    observed.dest_counters[tcp(1)][real(2)] = conns(3, 4);

    // Round 1: weight 0, other attributes as observed; the drain starts now.
    auto r1 = plan_all(observed, want, {}, t0);
    ASSERT_EQ(kinds(r1.ops), std::vector{Kind::edit_dest});
    EXPECT_EQ(r1.ops[0].real, real(2));
    EXPECT_EQ(r1.ops[0].real_spec.weight, 0u);
    EXPECT_EQ(r1.ops[0].real_spec.upper_threshold, 50u);
    ASSERT_EQ(r1.ledger.since.size(), 1u);
    EXPECT_EQ(r1.ledger.since.at({tcp(1), real(2)}), t0);
    ASSERT_EQ(r1.report.draining.size(), 1u);
    EXPECT_EQ(r1.report.draining[0].connections, 7u);

    // Round 2: quiesced but still busy: nothing to do, drain start kept.
    observed.table.services.at(tcp(1)).reals.at(real(2)).weight = 0;
    auto r2 = plan_all(observed, want, r1.ledger, t0 + 10s);
    EXPECT_TRUE(r2.ops.empty());
    EXPECT_EQ(r2.ledger, r1.ledger);
    EXPECT_EQ(r2.report.draining.size(), 1u);

    // Round 3: connections gone: delete.
    observed.dest_counters[tcp(1)][real(2)] = conns(0, 0);
    auto r3 = plan_all(observed, want, r2.ledger, t0 + 20s);
    ASSERT_EQ(kinds(r3.ops), std::vector{Kind::del_dest});
    EXPECT_EQ(r3.ops[0].real, real(2));
    EXPECT_TRUE(r3.report.timed_out.empty());
    EXPECT_EQ(r3.ledger, r1.ledger) << "kept until a dump shows the real gone";

    // Round 4: gone: ledger forgets it.
    observed.table.services.at(tcp(1)).reals.erase(real(2));
    observed.dest_counters[tcp(1)].erase(real(2));
    auto r4 = plan_all(observed, want, r3.ledger, t0 + 30s);
    EXPECT_TRUE(r4.ops.empty());
    EXPECT_TRUE(r4.ledger.since.empty());
}

TEST(Plan, BusyRealIsDeletedAfterTheDrainTimeout) {
    IpvsTable have;
    put(have, service(tcp(1), 2));
    have.services.at(tcp(1)).reals.at(real(2)).weight = 0;
    IpvsTable want;
    put(want, service(tcp(1), 1));
    auto observed = snapshot_of(have);
    observed.dest_counters[tcp(1)][real(2)] = conns(1);
    PlanOptions opts;
    opts.drain_timeout = 60s;

    auto r1 = plan_all(observed, want, {}, t0, opts);
    EXPECT_TRUE(r1.ops.empty()) << "already weight 0, busy: wait";
    auto r2 = plan_all(observed, want, r1.ledger, t0 + 59s, opts);
    EXPECT_TRUE(r2.ops.empty());
    auto r3 = plan_all(observed, want, r2.ledger, t0 + 60s, opts);
    ASSERT_EQ(kinds(r3.ops), std::vector{Kind::del_dest});
    ASSERT_EQ(r3.report.timed_out.size(), 1u);
    EXPECT_EQ(r3.report.timed_out[0].real, real(2));
    EXPECT_EQ(r3.report.timed_out[0].since, t0);
}

TEST(Plan, IdleQuiescedRealWithoutLedgerIsDeletedAtOnce) {
    IpvsTable have;
    put(have, service(tcp(1), 2));
    have.services.at(tcp(1)).reals.at(real(2)).weight = 0;
    IpvsTable want;
    put(want, service(tcp(1), 1));
    auto r = plan_all(snapshot_of(have), want);
    ASSERT_EQ(kinds(r.ops), std::vector{Kind::del_dest});
}

TEST(Plan, IdleRealWithWeightIsStillQuiescedFirst) {
    IpvsTable have;
    put(have, service(tcp(1), 2));
    IpvsTable want;
    put(want, service(tcp(1), 1));
    auto r = plan_all(snapshot_of(have), want);  // zero connections
    ASSERT_EQ(kinds(r.ops), std::vector{Kind::edit_dest});
    EXPECT_EQ(r.ops[0].real_spec.weight, 0u);
}

TEST(Plan, UnknownConnectionsWaitForTheTimeout) {
    IpvsTable have;
    put(have, service(tcp(1), 2));
    have.services.at(tcp(1)).reals.at(real(2)).weight = 0;
    IpvsTable want;
    put(want, service(tcp(1), 1));
    auto observed = snapshot_of(have);
    observed.dest_counters.clear();
    PlanOptions opts;
    opts.drain_timeout = 30s;
    auto r1 = plan_all(observed, want, {}, t0, opts);
    EXPECT_TRUE(r1.ops.empty());
    auto r2 = plan_all(observed, want, r1.ledger, t0 + 30s, opts);
    EXPECT_EQ(kinds(r2.ops), std::vector{Kind::del_dest});
}

TEST(Plan, TimedOutRealIsDeletedEvenIfNotYetQuiesced) {
    IpvsTable have;
    put(have, service(tcp(1), 2));  // weight 1: the quiesce edit failed earlier
    IpvsTable want;
    put(want, service(tcp(1), 1));
    DrainLedger ledger;
    ledger.since[{tcp(1), real(2)}] = t0 - 301s;
    auto r = plan_all(snapshot_of(have), want, ledger, t0);
    EXPECT_EQ(kinds(r.ops), std::vector{Kind::del_dest});
}

TEST(Plan, UdpRealIsDeletedAtOnce) {
    IpvsTable have;
    put(have, service(udp(1), 2));
    IpvsTable want;
    put(want, service(udp(1), 1));
    auto observed = snapshot_of(have);
    observed.dest_counters[udp(1)][real(2)] = conns(0, 9);
    auto r = plan_all(observed, want);
    ASSERT_EQ(kinds(r.ops), std::vector{Kind::del_dest});
    EXPECT_TRUE(r.ledger.since.empty());
}

TEST(Plan, FwmarkRealDrains) {
    IpvsTable have;
    auto s = service(ServiceKey::mark(7), 2);
    put(have, s);
    IpvsTable want;
    put(want, service(ServiceKey::mark(7), 1));
    auto r = plan_all(snapshot_of(have), want);
    ASSERT_EQ(kinds(r.ops), std::vector{Kind::edit_dest});
    EXPECT_EQ(r.ops[0].real_spec.weight, 0u);
}

TEST(Plan, DrainingRealDesiredAgainIsRestoredAndForgotten) {
    IpvsTable have;
    put(have, service(tcp(1), 2));
    have.services.at(tcp(1)).reals.at(real(2)).weight = 0;
    IpvsTable want;
    put(want, service(tcp(1), 2));
    want.services.at(tcp(1)).reals.at(real(2)).weight = 5;
    DrainLedger ledger;
    ledger.since[{tcp(1), real(2)}] = t0 - 10s;
    auto observed = snapshot_of(have);
    observed.dest_counters[tcp(1)][real(2)] = conns(4);
    auto r = plan_all(observed, want, ledger);
    ASSERT_EQ(kinds(r.ops), std::vector{Kind::edit_dest});
    EXPECT_EQ(r.ops[0].real_spec.weight, 5u);
    EXPECT_TRUE(r.ledger.since.empty());
}

TEST(Plan, RemovedUdpServiceIsDeletedAtOnce) {
    IpvsTable have;
    put(have, service(udp(1), 3));
    auto r = plan_all(snapshot_of(have), {});
    ASSERT_EQ(kinds(r.ops), std::vector{Kind::del_service});
    EXPECT_TRUE(r.ownership.contains(udp(1))) << "owned until a dump shows it gone";
}

TEST(Plan, RemovedEmptyTcpServiceIsDeletedAtOnce) {
    IpvsTable have;
    put(have, service(tcp(1), 0));
    auto r = plan_all(snapshot_of(have), {});
    EXPECT_EQ(kinds(r.ops), std::vector{Kind::del_service});
}

TEST(Plan, RemovedTcpServiceIsQuiescedThenDeletedWhole) {
    IpvsTable have;
    put(have, service(tcp(1), 3));
    have.services.at(tcp(1)).reals.at(real(3)).weight = 0;
    auto observed = snapshot_of(have);
    observed.dest_counters[tcp(1)][real(1)] = conns(2);

    auto r1 = plan_all(observed, {}, {}, t0);
    ASSERT_EQ(kinds(r1.ops), (std::vector{Kind::edit_dest, Kind::edit_dest}));
    EXPECT_EQ(r1.ops[0].real, real(1));
    EXPECT_EQ(r1.ops[1].real, real(2));
    EXPECT_EQ(r1.ops[0].real_spec.weight, 0u);
    EXPECT_EQ(r1.ledger.since.size(), 3u);
    EXPECT_EQ(r1.report.draining.size(), 3u);
    EXPECT_TRUE(r1.ownership.contains(tcp(1)));

    for (auto& [k, spec] : observed.table.services.at(tcp(1)).reals) spec.weight = 0;
    auto r2 = plan_all(observed, {}, r1.ledger, t0 + 5s);
    EXPECT_TRUE(r2.ops.empty()) << "real 1 still has connections";

    observed.dest_counters[tcp(1)][real(1)] = conns(0);
    auto r3 = plan_all(observed, {}, r2.ledger, t0 + 6s);
    ASSERT_EQ(kinds(r3.ops), std::vector{Kind::del_service});
    EXPECT_EQ(r3.ops[0].service, tcp(1));

    auto r4 = plan(kernel::IpvsSnapshot{}, {}, r3.ownership, r3.ledger, t0 + 7s);
    EXPECT_TRUE(r4.ops.empty());
    EXPECT_TRUE(r4.ownership.services.empty());
    EXPECT_TRUE(r4.ledger.since.empty());
}

TEST(Plan, RemovedBusyTcpServiceIsDeletedAfterTheTimeout) {
    IpvsTable have;
    put(have, service(tcp(1), 1));
    have.services.at(tcp(1)).reals.at(real(1)).weight = 0;
    auto observed = snapshot_of(have);
    observed.dest_counters[tcp(1)][real(1)] = conns(9);
    PlanOptions opts;
    opts.drain_timeout = 10s;
    auto r1 = plan_all(observed, {}, {}, t0, opts);
    EXPECT_TRUE(r1.ops.empty());
    auto r2 = plan_all(observed, {}, r1.ledger, t0 + 10s, opts);
    ASSERT_EQ(kinds(r2.ops), std::vector{Kind::del_service});
    ASSERT_EQ(r2.report.timed_out.size(), 1u);
    EXPECT_EQ(r2.report.timed_out[0].connections, 9u);
}

TEST(Plan, OrdersServiceAddsThenDestOpsThenServiceDeletes) {
    IpvsTable have;
    put(have, service(udp(1), 1));  // removed: del_service
    put(have, service(tcp(5), 2));  // loses real 2 (edit weight 0), scheduler changes
    IpvsTable want;
    put(want, service(tcp(2), 2));  // new
    put(want, service(tcp(5), 1, "rr"));
    put(want, service(udp(9), 1));  // new
    auto r = plan_all(snapshot_of(have), want);
    // Services sort by key: protocol first (tcp before udp), then address.
    std::vector<Kind> expected{Kind::add_service, Kind::edit_service, Kind::add_service,
                               Kind::add_dest,    Kind::add_dest,     Kind::edit_dest,
                               Kind::add_dest,    Kind::del_service};
    ASSERT_EQ(kinds(r.ops), expected);
    EXPECT_EQ(r.ops.back().service, udp(1));
}

TEST(Plan, ForeignServicesAreReportedAndNeverTouched) {
    IpvsTable have;
    put(have, service(tcp(1), 2));  // ours
    put(have, service(tcp(2), 2));  // foreign
    put(have, service(udp(3), 1));  // foreign
    IpvsTable want;
    put(want, service(tcp(1), 1));
    auto r = plan(snapshot_of(have), want, Ownership::of(want), {}, t0);
    for (const auto& op : r.ops) EXPECT_EQ(op.service, tcp(1)) << op.to_string();
    EXPECT_EQ(r.report.foreign, (std::vector{tcp(2), udp(3)}));
    EXPECT_FALSE(r.ownership.contains(tcp(2)));
    EXPECT_FALSE(r.ownership.contains(udp(3)));
}

TEST(Plan, DesiredServiceAlreadyPresentIsAdopted) {
    IpvsTable have;
    put(have, service(tcp(1), 2, "rr"));
    IpvsTable want;
    put(want, service(tcp(1), 2));
    auto r = plan(snapshot_of(have), want, Ownership{}, {}, t0);
    EXPECT_EQ(r.report.adopted, std::vector{tcp(1)});
    EXPECT_EQ(kinds(r.ops), std::vector{Kind::edit_service});
    EXPECT_TRUE(r.ownership.contains(tcp(1)));
    auto again = plan(snapshot_of(want), want, r.ownership, {}, t0);
    EXPECT_TRUE(again.report.adopted.empty());
}

TEST(Plan, OwnershipKeepsRetiringServicesUntilGone) {
    IpvsTable have;
    put(have, service(udp(1), 0));
    Ownership own;
    own.services = {udp(1), udp(2), tcp(3)};  // udp(2), tcp(3): already gone from the kernel
    IpvsTable want;
    put(want, service(tcp(4), 0));
    auto r = plan(snapshot_of(have), want, own, {}, t0);
    EXPECT_EQ(r.ownership.services, (std::set{udp(1), tcp(4)}));
    EXPECT_EQ(kinds(r.ops), (std::vector{Kind::add_service, Kind::del_service}));
}

TEST(Plan, BigTableAgainstItselfIsEmptyAndOneWeightIsOneOp) {
    IpvsTable want = big_table(5000, 10);
    ASSERT_EQ(want.real_count(), 50000u);
    auto observed = snapshot_of(want);
    auto own = Ownership::of(want);
    auto r = plan(observed, want, own, {}, t0);
    EXPECT_TRUE(r.ops.empty());
    EXPECT_EQ(r.ownership, own);

    auto& svc = std::next(want.services.begin(), 2500)->second;
    auto& spec = std::next(svc.reals.begin(), 7)->second;
    spec.weight = 42;
    r = plan(observed, want, own, {}, t0);
    ASSERT_EQ(r.ops.size(), 1u);
    EXPECT_EQ(r.ops[0].kind, Kind::edit_dest);
    EXPECT_EQ(r.ops[0].service, svc.key);
    EXPECT_EQ(r.ops[0].real_spec.weight, 42u);
}

}  // namespace
}  // namespace ballast::reconcile::test
