// The FakeNftClient other components test against behaves like the netlink client.
#include <gtest/gtest.h>

#include "ballast/fakes/fake_nft.hpp"

using namespace ballast;
using kernel::NatDesired;

namespace {
model::IpPrefix pfx(const char* s) {
    return *model::IpPrefix::parse(s);
}
}  // namespace

TEST(FakeNftClient, IdempotentApplyDriftRepairAndInjectedFailure) {
    fakes::FakeNftClient nft;
    NatDesired d;
    d.real_servers = {pfx("10.0.0.1"), pfx("10.0.0.0/24")};
    auto first = nft.apply(d);
    ASSERT_TRUE(first.ok());
    EXPECT_TRUE(first->batch_sent);
    auto again = nft.apply(d);
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again->batch_sent);
    auto seen = nft.dump();
    ASSERT_TRUE(seen.ok());
    ASSERT_EQ(seen->real_server_ranges.size(), 1u);  // merged, as the kernel set holds it

    nft.flush_ruleset();
    EXPECT_FALSE(nft.dump()->table_present);
    nft.fail_next_apply(ENOBUFS);
    auto failed = nft.apply(d);
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().code, ENOBUFS);
    EXPECT_FALSE(nft.dump()->table_present);  // nothing changed
    ASSERT_TRUE(nft.apply(d).ok());
    EXPECT_TRUE(nft.dump()->table_present);
    EXPECT_EQ(nft.batches_sent(), 2u);
    ASSERT_EQ(nft.records().size(), 4u);
    EXPECT_EQ(nft.records()[2].error, ENOBUFS);

    NatDesired bad;
    bad.egress_interfaces = {""};
    EXPECT_FALSE(nft.apply(bad).ok());
}
