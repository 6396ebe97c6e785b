#include "ballast/contract/nft_contract.hpp"

#include <sys/socket.h>

#include <algorithm>

namespace ballast::contract {

using kernel::AddressRange;
using kernel::MarkGroup;
using kernel::NatDesired;
using model::IpAddress;
using model::IpPrefix;

std::string subject_name(const ::testing::TestParamInfo<NftSubjectFactory>& info) {
    return info.param.name;
}

void NftContract::SetUp() {
    subject = GetParam().make();
    ASSERT_TRUE(subject);
}

kernel::NftApplied NftContract::apply(const NatDesired& desired) {
    auto r = subject->client().apply(desired);
    if (!r.ok()) {
        ADD_FAILURE() << "apply failed: " << r.error().describe();
        return {};
    }
    return *r;
}

kernel::NatObserved NftContract::dump() {
    auto r = subject->client().dump();
    if (!r.ok()) {
        ADD_FAILURE() << "dump failed: " << r.error().describe();
        return {};
    }
    return *r;
}

namespace {

IpPrefix pfx(const char* s) {
    return *IpPrefix::parse(s);
}
AddressRange range(const char* first, const char* last) {
    return {*IpAddress::parse(first), *IpAddress::parse(last)};
}

NatDesired state() {
    NatDesired d;
    // Out of order, a duplicate, a host inside a prefix, neighbours, both families.
    d.real_servers = {pfx("10.0.1.0/24"), pfx("10.0.0.9"),      pfx("10.0.0.0/24"), pfx("10.0.0.9"),
                      pfx("10.1.0.5"),    pfx("2001:db8::/64"), pfx("2001:db8::5")};
    d.egress_interfaces = {"uplink1", "eth0", "eth0"};
    d.mark_groups = {MarkGroup{"ipsec",
                               *IpAddress::parse("192.0.2.1"),
                               0x1000,
                               {{17, 500, 500}, {17, 4500, 0}, {50, 0, 0}}}};
    return d;
}

TEST_P(NftContract, AnAbsentTableDumpsAsAbsentAndTheFirstApplyCreatesIt) {
    EXPECT_FALSE(dump().table_present);
    const auto applied = apply(state());
    EXPECT_TRUE(applied.batch_sent);
    EXPECT_FALSE(applied.changes.empty());
    const auto seen = dump();
    EXPECT_TRUE(seen.table_present);
    // Merged (duplicates, a host inside a prefix) and ordered as the kernel's interval sets
    // hold them, IPv4 then IPv6; neighbours stay separate elements.
    EXPECT_EQ(seen.real_server_ranges,
              (std::vector{range("10.0.0.0", "10.0.0.255"), range("10.0.1.0", "10.0.1.255"),
                           range("10.1.0.5", "10.1.0.5"),
                           range("2001:db8::", "2001:db8::ffff:ffff:ffff:ffff")}));
    EXPECT_EQ(seen.egress_interfaces, (std::vector<std::string>{"eth0", "uplink1"}));
    EXPECT_EQ(seen.postrouting_rules, 2u) << "one masquerade rule per family";
    EXPECT_EQ(seen.prerouting_rules, 3u) << "one mark rule per group member";
    EXPECT_TRUE(seen.foreign_objects.empty());
}

TEST_P(NftContract, TheSameStateAgainSendsNothing) {
    ASSERT_TRUE(apply(state()).batch_sent);
    const auto again = apply(state());
    EXPECT_FALSE(again.batch_sent);
    EXPECT_TRUE(again.changes.empty());
}

TEST_P(NftContract, RealServersComeAndGoAsElementsWithoutTouchingRules) {
    NatDesired d = state();
    ASSERT_TRUE(apply(d).batch_sent);
    d.real_servers.push_back(pfx("10.2.0.7"));
    auto added = apply(d);
    EXPECT_TRUE(added.batch_sent);
    ASSERT_EQ(added.changes.size(), 1u);
    EXPECT_NE(added.changes[0].find("add element rs4"), std::string::npos) << added.changes[0];
    EXPECT_NE(added.changes[0].find("10.2.0.7"), std::string::npos) << added.changes[0];
    EXPECT_EQ(dump().real_server_ranges.size(), 5u);
    d.real_servers.pop_back();
    auto removed = apply(d);
    ASSERT_EQ(removed.changes.size(), 1u);
    EXPECT_NE(removed.changes[0].find("delete element rs4"), std::string::npos)
        << removed.changes[0];
    const auto seen = dump();
    EXPECT_EQ(seen.real_server_ranges.size(), 4u);
    EXPECT_EQ(seen.postrouting_rules, 2u);
}

TEST_P(NftContract, EgressAndGroupChangesAreOneBatch) {
    NatDesired d = state();
    ASSERT_TRUE(apply(d).batch_sent);
    d.egress_interfaces = {"bond0"};
    d.mark_groups.front().matches.pop_back();  // no more ESP
    const auto changed = apply(d);
    EXPECT_TRUE(changed.batch_sent);
    const auto seen = dump();
    EXPECT_EQ(seen.egress_interfaces, std::vector<std::string>{"bond0"});
    EXPECT_EQ(seen.prerouting_rules, 2u);
    EXPECT_EQ(seen.postrouting_rules, 2u);
    EXPECT_FALSE(apply(d).batch_sent);
    // No egress restriction: every masquerade rule without it.
    d.egress_interfaces.clear();
    EXPECT_TRUE(apply(d).batch_sent);
    EXPECT_TRUE(dump().egress_interfaces.empty());
    EXPECT_FALSE(apply(d).batch_sent);
}

TEST_P(NftContract, ATableDeletedBehindOurBackIsRestored) {
    ASSERT_TRUE(apply(state()).batch_sent);
    subject->delete_table_behind_our_back();
    EXPECT_FALSE(dump().table_present);
    EXPECT_TRUE(apply(state()).batch_sent);
    EXPECT_EQ(dump().real_server_ranges.size(), 4u);
}

TEST_P(NftContract, ForeignObjectsInOurTableAreReportedAndLeftAlone) {
    ASSERT_TRUE(apply(state()).batch_sent);
    subject->add_foreign_set("operator_set");
    auto seen = dump();
    EXPECT_EQ(seen.foreign_objects, std::vector<std::string>{"set operator_set"});
    EXPECT_FALSE(apply(state()).batch_sent);
    NatDesired more = state();
    more.real_servers.push_back(pfx("10.3.0.1"));
    EXPECT_TRUE(apply(more).batch_sent);
    EXPECT_EQ(dump().foreign_objects, std::vector<std::string>{"set operator_set"});
}

TEST_P(NftContract, RemoveDeletesTheTableAndAnAbsentOneIsNoError) {
    ASSERT_TRUE(apply(state()).batch_sent);
    EXPECT_TRUE(subject->client().remove().ok());
    EXPECT_FALSE(dump().table_present);
    auto again = subject->client().remove();
    EXPECT_TRUE(again.ok()) << again.error().describe();
}

TEST_P(NftContract, AnInvalidStateIsRefusedAndChangesNothing) {
    ASSERT_TRUE(apply(state()).batch_sent);
    NatDesired bad = state();
    bad.mark_groups.front().mark = 0;
    auto r = subject->client().apply(bad);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, EINVAL);
    bad = state();
    bad.egress_interfaces.push_back("sixteen-chars-ab");  // IFNAMSIZ is 16 with the NUL
    r = subject->client().apply(bad);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, EINVAL);
    EXPECT_FALSE(apply(state()).batch_sent) << "the table is as before";
}

}  // namespace
}  // namespace ballast::contract
