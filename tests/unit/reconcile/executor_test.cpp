#include "ballast/reconcile/executor.hpp"

#include <gtest/gtest.h>

#include "ballast/fakes/fake_ipvs.hpp"
#include "support.hpp"

namespace ballast::reconcile::test {
namespace {

using fakes::FakeIpvs;

const TimePoint t0 = TimePoint{} + 1000s;

IpvsTable two_services() {
    IpvsTable want;
    put(want, service(tcp(1), 3));
    put(want, service(tcp(2), 3));
    return want;
}

std::vector<IpvsOp> plan_from(FakeIpvs& fake, const IpvsTable& want) {
    auto snap = fake.dump();
    EXPECT_TRUE(snap.ok());
    return plan(*snap, want, Ownership::of(want), {}, t0).ops;
}

TEST(Executor, AppliesACleanPlanInTwoCalls) {
    FakeIpvs fake;
    auto want = two_services();
    auto ops = plan_from(fake, want);
    auto report = execute(fake, ops);
    EXPECT_TRUE(report.ok());
    EXPECT_EQ(report.applied, ops.size());
    EXPECT_EQ(report.apply_calls, 2u) << "service adds, then everything else";
    EXPECT_TRUE(report.dirty.empty());
    EXPECT_EQ(fake.table().services.size(), 2u);
    EXPECT_EQ(fake.table().real_count(), 6u);
}

TEST(Executor, PlanWithoutServiceAddsIsOneCall) {
    auto want = two_services();
    FakeIpvs fake(want);
    for (auto& [k, s] : want.services) s.reals.begin()->second.weight = 9;
    auto ops = plan_from(fake, want);
    ASSERT_EQ(ops.size(), 2u);
    auto report = execute(fake, ops);
    EXPECT_TRUE(report.ok());
    EXPECT_EQ(report.apply_calls, 1u);
}

TEST(Executor, KeepsGoingPastAFailedOpAndReportsItsKey) {
    auto have = two_services();
    FakeIpvs fake(have);
    auto want = have;
    for (auto& [k, s] : want.services)
        for (auto& [r, spec] : s.reals) spec.weight = 4;
    auto ops = plan_from(fake, want);
    ASSERT_EQ(ops.size(), 6u);
    fake.fail_nth(2, EINVAL);
    auto report = execute(fake, ops);
    EXPECT_FALSE(report.ok());
    EXPECT_EQ(report.applied, 5u);
    EXPECT_EQ(fake.op_count(), 6u) << "every op was sent";
    ASSERT_EQ(report.failures.size(), 1u);
    EXPECT_EQ(report.failures[0].index, 1u);
    EXPECT_FALSE(report.failures[0].skipped);
    ASSERT_EQ(report.dirty.size(), 1u);
    const auto& [key, err] = *report.dirty.begin();
    EXPECT_EQ(key, (DirtyKey{tcp(1), real(2)}));
    EXPECT_EQ(err.code, EINVAL);
    EXPECT_EQ(err.op, "IPVS_CMD_SET_DEST");
    EXPECT_EQ(err.key, "192.0.2.1:80/tcp -> 10.0.0.2:8080");
    // Everything after the failure landed.
    EXPECT_EQ(fake.table().services.at(tcp(2)).reals.at(real(3)).weight, 4u);
    EXPECT_EQ(fake.table().services.at(tcp(1)).reals.at(real(2)).weight, 1u);
}

TEST(Executor, SkipsDestinationsOfAServiceWhoseAddFailed) {
    FakeIpvs fake;
    auto want = two_services();
    auto ops = plan_from(fake, want);
    fake.fail_when(
        [](const IpvsOp& op) { return op.kind == Kind::add_service && op.service == tcp(1); },
        ENOENT);
    auto report = execute(fake, ops);
    EXPECT_EQ(report.applied, 4u) << "tcp(2) and its three reals";
    for (const auto& rec : fake.records())
        EXPECT_FALSE(rec.op.is_dest_op() && rec.op.service == tcp(1))
            << "sent although its service is missing: " << rec.op.to_string();
    ASSERT_EQ(report.failures.size(), 4u);
    EXPECT_FALSE(report.failures[0].skipped);
    EXPECT_EQ(report.failures[0].error.code, ENOENT);
    for (size_t i = 1; i < 4; ++i) {
        EXPECT_TRUE(report.failures[i].skipped);
        EXPECT_EQ(report.failures[i].error.code, ECANCELED);
        EXPECT_EQ(report.failures[i].error.op, "IPVS_CMD_NEW_DEST");
        EXPECT_NE(report.failures[i].error.message.find("adding service 192.0.2.1:80/tcp failed"),
                  std::string::npos)
            << report.failures[i].error.message;
    }
    EXPECT_EQ(report.dirty.size(), 4u);
    EXPECT_EQ(report.dirty.at(DirtyKey{tcp(1), std::nullopt}).code, ENOENT);
    EXPECT_TRUE(report.dirty.count(DirtyKey{tcp(1), real(3)}));
    EXPECT_EQ(fake.table().services.size(), 1u);
    EXPECT_EQ(fake.table().services.at(tcp(2)).reals.size(), 3u);
}

TEST(Executor, NextPlanRetriesOnlyWhatFailed) {
    FakeIpvs fake;
    auto want = two_services();
    fake.fail_nth(4, EBUSY);  // the second add_dest (after two service adds)
    auto report = execute(fake, plan_from(fake, want));
    ASSERT_EQ(report.dirty.size(), 1u);
    auto dirty = report.dirty.begin()->first;
    auto retry = plan_from(fake, want);
    ASSERT_EQ(retry.size(), 1u);
    EXPECT_EQ(DirtyKey::of(retry[0]), dirty);
    EXPECT_TRUE(execute(fake, retry).ok());
    EXPECT_TRUE(plan_from(fake, want).empty());
}

// A client that loses statuses and names nothing, to check the executor's own reporting.
class TerseClient : public kernel::IpvsClient {
public:
    Result<kernel::IpvsSnapshot> dump() override { return kernel::IpvsSnapshot{}; }
    std::vector<Status> apply(std::span<const IpvsOp> ops) override {
        std::vector<Status> out;
        if (!ops.empty()) out.push_back(make_error(EPERM, ""));  // first fails, rest missing
        return out;
    }
};

TEST(Executor, FillsOpAndKeyAndTreatsMissingStatusesAsFailures) {
    TerseClient client;
    std::vector<IpvsOp> ops{IpvsOp::del_service(tcp(1)), IpvsOp::del_service(udp(2))};
    auto report = execute(client, ops);
    ASSERT_EQ(report.failures.size(), 2u);
    EXPECT_EQ(report.failures[0].error.code, EPERM);
    EXPECT_EQ(report.failures[0].error.op, "IPVS_CMD_DEL_SERVICE");
    EXPECT_EQ(report.failures[0].error.key, "192.0.2.1:80/tcp");
    EXPECT_EQ(report.failures[1].error.code, EIO);
    EXPECT_EQ(report.failures[1].error.key, "192.0.2.2:53/udp");
    EXPECT_EQ(report.applied, 0u);
}

TEST(Executor, EmptyPlanCallsNothing) {
    FakeIpvs fake;
    auto report = execute(fake, {});
    EXPECT_TRUE(report.ok());
    EXPECT_EQ(report.apply_calls, 0u);
    EXPECT_EQ(fake.apply_calls(), 0u);
}

TEST(Retry, DelayGrowsExponentiallyUpToTheCap) {
    RetryPolicy p;
    p.initial_delay = 1s;
    p.max_delay = 60s;
    p.multiplier = 2;
    EXPECT_EQ(retry_delay(p, 0), 0s);
    EXPECT_EQ(retry_delay(p, 1), 1s);
    EXPECT_EQ(retry_delay(p, 2), 2s);
    EXPECT_EQ(retry_delay(p, 6), 32s);
    EXPECT_EQ(retry_delay(p, 7), 60s);
    EXPECT_EQ(retry_delay(p, 4000000000u), 60s) << "no overflow on long streaks";
    p.multiplier = 1;
    EXPECT_EQ(retry_delay(p, 9), 1s);
}

TEST(Retry, FailuresScheduleTheNextAttemptAndSuccessResets) {
    RetryPolicy p;
    ExecutionReport failed;
    failed.failures.push_back(
        OpFailure{0, IpvsOp::del_service(tcp(1)), make_error(EIO, "x"), false});
    RetryState s;
    EXPECT_FALSE(s.due(t0));

    s = next_retry(p, s, failed, t0);
    EXPECT_EQ(s.consecutive_failures, 1u);
    ASSERT_TRUE(s.next_attempt);
    EXPECT_EQ(*s.next_attempt, t0 + 1s);
    EXPECT_FALSE(s.due(t0 + 999ms));
    EXPECT_TRUE(s.due(t0 + 1s));

    s = next_retry(p, s, failed, t0 + 1s);
    EXPECT_EQ(s.consecutive_failures, 2u);
    EXPECT_EQ(*s.next_attempt, t0 + 3s);

    s = next_retry(p, s, ExecutionReport{}, t0 + 3s);
    EXPECT_EQ(s, RetryState{});
}

}  // namespace
}  // namespace ballast::reconcile::test
