// FakeIpvs must behave like the kernel behind our adapter, or the plan tests prove nothing.
#include "ballast/fakes/fake_ipvs.hpp"

#include <gtest/gtest.h>

#include "support.hpp"

namespace ballast::reconcile::test {
namespace {

using fakes::FakeIpvs;

int errno_of(const Status& s) {
    return s.ok() ? 0 : s.error().code;
}

std::vector<int> apply(FakeIpvs& fake, std::vector<IpvsOp> ops) {
    std::vector<int> out;
    for (const auto& s : fake.apply(ops)) out.push_back(errno_of(s));
    return out;
}

TEST(FakeIpvs, AddIsIdempotentForIdenticalAttributesOnly) {
    FakeIpvs fake;
    ServiceSpec spec;
    spec.persistence = 30;
    ServiceSpec other = spec;
    other.scheduler = "rr";
    EXPECT_EQ(apply(fake, {IpvsOp::add_service(tcp(1), spec), IpvsOp::add_service(tcp(1), spec),
                           IpvsOp::add_service(tcp(1), other)}),
              (std::vector{0, 0, EEXIST}));
    EXPECT_EQ(apply(fake, {IpvsOp::add_dest(tcp(1), real(1), weight(1)),
                           IpvsOp::add_dest(tcp(1), real(1), weight(1)),
                           IpvsOp::add_dest(tcp(1), real(1), weight(2))}),
              (std::vector{0, 0, EEXIST}));
    EXPECT_EQ(fake.table().services.at(tcp(1)).reals.at(real(1)), weight(1));
}

TEST(FakeIpvs, StoresServicesAsAKernelDumpShowsThem) {
    FakeIpvs fake;
    ServiceSpec spec;
    spec.persistence = 30;
    ASSERT_EQ(apply(fake, {IpvsOp::add_service(tcp(1), spec)}), std::vector{0});
    const auto& stored = fake.table().services.at(tcp(1));
    EXPECT_EQ(stored.key, tcp(1));
    EXPECT_TRUE(stored.spec.flags.hashed);
    EXPECT_TRUE(stored.spec.flags.persistent);
    EXPECT_TRUE(stored.spec.same_attributes(spec));
}

TEST(FakeIpvs, MissingServicesGiveEsrchMissingRealsEnoentAndAbsentDeletesSucceed) {
    FakeIpvs fake;
    EXPECT_EQ(apply(fake, {IpvsOp::add_dest(tcp(1), real(1), weight(1)),
                           IpvsOp::edit_dest(tcp(1), real(1), weight(1)),
                           IpvsOp::edit_service(tcp(1), ServiceSpec{}),
                           IpvsOp::del_dest(tcp(1), real(1)), IpvsOp::del_service(tcp(1))}),
              (std::vector{ESRCH, ESRCH, ESRCH, 0, 0}));
    EXPECT_EQ(apply(fake, {IpvsOp::add_service(tcp(1), ServiceSpec{}),
                           IpvsOp::edit_dest(tcp(1), real(1), weight(1)),
                           IpvsOp::del_dest(tcp(1), real(1))}),
              (std::vector{0, ENOENT, 0}));
    EXPECT_TRUE(fake.table().services.at(tcp(1)).reals.empty());
}

TEST(FakeIpvs, DeletingAServiceDeletesItsDestinations) {
    IpvsTable t;
    put(t, service(tcp(1), 3));
    FakeIpvs fake(t);
    ASSERT_TRUE(fake.set_dest_counters(tcp(1), real(2), conns(5)));
    EXPECT_EQ(apply(fake, {IpvsOp::del_service(tcp(1))}), std::vector{0});
    EXPECT_TRUE(fake.table().services.empty());
    EXPECT_FALSE(fake.dest_counters(tcp(1), real(2)));
    // Re-adding starts without destinations; one added again that still had connections comes
    // back with them (as the kernel takes it back from its trash), another with none.
    EXPECT_EQ(apply(fake, {IpvsOp::add_service(tcp(1), ServiceSpec{}),
                           IpvsOp::add_dest(tcp(1), real(2), weight(1)),
                           IpvsOp::add_dest(tcp(1), real(3), weight(1))}),
              (std::vector{0, 0, 0}));
    EXPECT_EQ(fake.table().services.at(tcp(1)).reals.size(), 2u);
    EXPECT_EQ(fake.dest_counters(tcp(1), real(2)), conns(5));
    EXPECT_EQ(fake.dest_counters(tcp(1), real(3)), kernel::DestCounters{});
}

TEST(FakeIpvs, EditsChangeAttributes) {
    IpvsTable t;
    put(t, service(tcp(1), 1));
    FakeIpvs fake(t);
    ServiceSpec rr;
    rr.scheduler = "rr";
    RealSpec routed = weight(3);
    routed.forward = model::ForwardMethod::route;
    EXPECT_EQ(
        apply(fake, {IpvsOp::edit_service(tcp(1), rr), IpvsOp::edit_dest(tcp(1), real(1), routed)}),
        (std::vector{0, 0}));
    EXPECT_EQ(fake.table().services.at(tcp(1)).spec.scheduler, "rr");
    EXPECT_EQ(fake.table().services.at(tcp(1)).reals.at(real(1)), routed);
}

TEST(FakeIpvs, DumpReportsTableAndCounters) {
    IpvsTable t;
    put(t, service(tcp(1), 2));
    FakeIpvs fake(t);
    EXPECT_FALSE(fake.set_dest_counters(tcp(1), real(9), conns(1))) << "no such destination";
    ASSERT_TRUE(fake.set_dest_counters(tcp(1), real(2), conns(3, 4)));
    auto snap = fake.dump();
    ASSERT_TRUE(snap.ok());
    EXPECT_EQ(snap->table, fake.table());
    EXPECT_EQ(snap->dest_counters.at(tcp(1)).at(real(1)).total_conns(), 0u);
    EXPECT_EQ(snap->dest_counters.at(tcp(1)).at(real(2)).total_conns(), 7u);
}

TEST(FakeIpvs, RecordsEveryOpWithItsOutcome) {
    FakeIpvs fake;
    std::vector<IpvsOp> ops{IpvsOp::add_dest(tcp(1), real(1), weight(1)),
                            IpvsOp::add_service(tcp(1), ServiceSpec{})};
    (void)fake.apply(ops);
    ASSERT_EQ(fake.op_count(), 2u);
    EXPECT_EQ(fake.records()[0].op, ops[0]);
    EXPECT_EQ(fake.records()[0].error, ESRCH);
    EXPECT_EQ(fake.records()[1].op, ops[1]);
    EXPECT_EQ(fake.records()[1].error, 0);
    EXPECT_EQ(fake.apply_calls(), 1u);
}

TEST(FakeIpvs, FailsTheNthOpAndChangesNothingForIt) {
    FakeIpvs fake;
    (void)fake.apply(std::vector{IpvsOp::add_service(tcp(1), ServiceSpec{})});
    fake.fail_nth(2, EIO);  // counted from now
    auto st = fake.apply(std::vector{IpvsOp::add_dest(tcp(1), real(1), weight(1)),
                                     IpvsOp::add_dest(tcp(1), real(2), weight(1)),
                                     IpvsOp::add_dest(tcp(1), real(3), weight(1))});
    ASSERT_EQ(st.size(), 3u);
    EXPECT_TRUE(st[0].ok());
    ASSERT_FALSE(st[1].ok());
    EXPECT_EQ(st[1].error().code, EIO);
    EXPECT_EQ(st[1].error().op, "IPVS_CMD_NEW_DEST");
    EXPECT_EQ(st[1].error().key, "192.0.2.1:80/tcp -> 10.0.0.2:8080");
    EXPECT_TRUE(st[2].ok());
    EXPECT_FALSE(fake.table().services.at(tcp(1)).reals.count(real(2)));
    // One-shot: the same op now succeeds.
    EXPECT_EQ(apply(fake, {IpvsOp::add_dest(tcp(1), real(2), weight(1))}), std::vector{0});
}

TEST(FakeIpvs, FailsMatchingOpsUntilCleared) {
    FakeIpvs fake;
    fake.fail_when([](const IpvsOp& op) { return op.service == tcp(2); }, ENOENT);
    EXPECT_EQ(apply(fake, {IpvsOp::add_service(tcp(1), ServiceSpec{}),
                           IpvsOp::add_service(tcp(2), ServiceSpec{})}),
              (std::vector{0, ENOENT}));
    EXPECT_EQ(apply(fake, {IpvsOp::add_service(tcp(2), ServiceSpec{})}), std::vector{ENOENT});
    fake.clear_failures();
    EXPECT_EQ(apply(fake, {IpvsOp::add_service(tcp(2), ServiceSpec{})}), std::vector{0});
}

TEST(FakeIpvs, DumpFailureIsOneShot) {
    FakeIpvs fake;
    fake.fail_next_dump(EPERM);
    auto first = fake.dump();
    ASSERT_FALSE(first.ok());
    EXPECT_EQ(first.error().code, EPERM);
    EXPECT_TRUE(fake.dump().ok());
}

}  // namespace
}  // namespace ballast::reconcile::test
