// The pure builder and planner. Expected expressions are transcribed from
// `nft --debug=netlink` for the same rules (nftables 1.0.6).
#include <gtest/gtest.h>
#include <netinet/in.h>  // before the linux/ headers, which otherwise redefine in_addr

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "ballast/nft/ruleset.hpp"

using namespace ballast;
using namespace ballast::nft;
using kernel::MarkGroup;
using kernel::NatDesired;
using model::IpAddress;
using model::IpPrefix;

namespace {
IpPrefix pfx(const char* s) {
    return *IpPrefix::parse(s);
}
IpAddress ip(const char* s) {
    return *IpAddress::parse(s);
}

TableModel built(const NatDesired& d) {
    auto t = build_table(d);
    if (!t) throw std::runtime_error(t.error().describe());
    return *t;
}

template <typename T>
size_t count_ops(const std::vector<NftOp>& ops) {
    size_t n = 0;
    for (const auto& o : ops) n += std::holds_alternative<T>(o);
    return n;
}

// What a dump of the kernel returns after the table was written from `t`.
TableModel as_observed(TableModel t) {
    uint64_t handle = 1;
    for (auto& c : t.chains)
        for (auto& r : c.rules) r.handle = handle++;
    for (auto& s : t.sets) s.zero_marker = s.is_interval() && !s.elements.empty();
    return t;
}
}  // namespace

TEST(NftBuilder, MasqueradeRulesAreWhatNftGenerates) {
    NatDesired d;
    d.egress_interfaces = {"eth0"};
    auto t = built(d);
    const auto* post = t.find_chain(kChainPostrouting);
    ASSERT_NE(post, nullptr);
    EXPECT_EQ(post->type, "nat");
    EXPECT_EQ(post->hooknum, static_cast<uint32_t>(NF_INET_POST_ROUTING));
    EXPECT_EQ(post->priority, 100);
    ASSERT_EQ(post->rules.size(), 2u);
    // ip saddr @rs4 oifname @egress masquerade
    std::vector<Expr> v4 = {MetaLoad{NFT_META_NFPROTO, 1},
                            Cmp{1, NFT_CMP_EQ, {NFPROTO_IPV4}},
                            Payload{1, NFT_PAYLOAD_NETWORK_HEADER, 12, 4},
                            Lookup{1, "rs4", 0},
                            MetaLoad{NFT_META_OIFNAME, 1},
                            Lookup{1, "egress", 0},
                            Masquerade{}};
    EXPECT_EQ(post->rules[0].exprs, v4);
    // ip6 saddr @rs6 oifname @egress masquerade
    const auto& v6 = post->rules[1].exprs;
    EXPECT_EQ(v6[1], Expr(Cmp{1, NFT_CMP_EQ, {NFPROTO_IPV6}}));
    EXPECT_EQ(v6[2], Expr(Payload{1, NFT_PAYLOAD_NETWORK_HEADER, 8, 16}));
    EXPECT_EQ(v6[3], Expr(Lookup{1, "rs6", 0}));

    d.egress_interfaces.clear();
    auto any = built(d);
    EXPECT_EQ(any.find_chain(kChainPostrouting)->rules[0].exprs.size(), 5u);  // no oifname
}

TEST(NftBuilder, SetsCarryNftsTypesAndUserdata) {
    NatDesired d;
    d.real_servers = {pfx("10.0.0.1"), pfx("2001:db8::/64")};
    d.egress_interfaces = {"uplink1", "eth0", "eth0"};
    auto t = built(d);
    const auto* rs4 = t.find_set(kSetRs4);
    ASSERT_NE(rs4, nullptr);
    EXPECT_EQ(rs4->flags, static_cast<uint32_t>(NFT_SET_INTERVAL));
    EXPECT_EQ(rs4->key_type, 7u);  // ipv4_addr
    EXPECT_EQ(rs4->key_len, 4u);
    EXPECT_EQ(rs4->userdata, (Bytes{0, 4, 2, 0, 0, 0}));  // key byte order: big endian
    ASSERT_EQ(rs4->elements.size(), 1u);
    EXPECT_EQ(rs4->elements[0].first, (Bytes{10, 0, 0, 1}));
    const auto* rs6 = t.find_set(kSetRs6);
    EXPECT_EQ(rs6->key_type, 8u);
    ASSERT_EQ(rs6->elements.size(), 1u);
    const auto* eg = t.find_set(kSetEgress);
    EXPECT_EQ(eg->flags, 0u);
    EXPECT_EQ(eg->key_type, 41u);  // ifname
    EXPECT_EQ(eg->key_len, 16u);
    EXPECT_EQ(eg->userdata, (Bytes{0, 4, 1, 0, 0, 0}));  // host byte order
    ASSERT_EQ(eg->elements.size(), 2u);                  // duplicate dropped, sorted
    EXPECT_EQ(eg->elements[0].first[0], 'e');
    EXPECT_EQ(eg->elements[0].first.size(), 16u);
}

TEST(NftBuilder, MarkRulesForPortsRangesAndBareProtocols) {
    NatDesired d;
    d.mark_groups = {MarkGroup{"ipsec", ip("192.0.2.1"), 0x1000, {{17, 500, 500}, {50, 0, 0}}},
                     MarkGroup{"web", ip("2001:db8::1"), 0x1001, {{6, 4000, 4500}}}};
    auto t = built(d);
    const auto* pre = t.find_chain(kChainPrerouting);
    ASSERT_NE(pre, nullptr);
    EXPECT_EQ(pre->priority, -150);
    EXPECT_EQ(pre->hooknum, static_cast<uint32_t>(NF_INET_PRE_ROUTING));
    ASSERT_EQ(pre->rules.size(), 3u);
    const Bytes mark = {0x00, 0x10, 0x00, 0x00};  // 0x1000, host order (x86)
    // ip daddr 192.0.2.1 udp dport 500 meta mark set 0x00001000
    std::vector<Expr> udp500 = {MetaLoad{NFT_META_NFPROTO, 1},
                                Cmp{1, NFT_CMP_EQ, {NFPROTO_IPV4}},
                                Payload{1, NFT_PAYLOAD_NETWORK_HEADER, 16, 4},
                                Cmp{1, NFT_CMP_EQ, {192, 0, 2, 1}},
                                MetaLoad{NFT_META_L4PROTO, 1},
                                Cmp{1, NFT_CMP_EQ, {17}},
                                Payload{1, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2},
                                Cmp{1, NFT_CMP_EQ, {0x01, 0xf4}},
                                Immediate{1, mark},
                                MetaSet{NFT_META_MARK, 1}};
    EXPECT_EQ(pre->rules[0].exprs, udp500);
    // ip daddr 192.0.2.1 meta l4proto esp meta mark set 0x00001000
    std::vector<Expr> esp = {MetaLoad{NFT_META_NFPROTO, 1},
                             Cmp{1, NFT_CMP_EQ, {NFPROTO_IPV4}},
                             Payload{1, NFT_PAYLOAD_NETWORK_HEADER, 16, 4},
                             Cmp{1, NFT_CMP_EQ, {192, 0, 2, 1}},
                             MetaLoad{NFT_META_L4PROTO, 1},
                             Cmp{1, NFT_CMP_EQ, {50}},
                             Immediate{1, mark},
                             MetaSet{NFT_META_MARK, 1}};
    EXPECT_EQ(pre->rules[1].exprs, esp);
    // ip6 daddr 2001:db8::1 tcp dport 4000-4500: two compares, big-endian ports.
    const auto& web = pre->rules[2].exprs;
    EXPECT_EQ(web[2], Expr(Payload{1, NFT_PAYLOAD_NETWORK_HEADER, 24, 16}));
    EXPECT_EQ(web[7], Expr(Cmp{1, NFT_CMP_GTE, {0x0f, 0xa0}}));
    EXPECT_EQ(web[8], Expr(Cmp{1, NFT_CMP_LTE, {0x11, 0x94}}));
}

TEST(NftBuilder, BadInputIsRejectedWithItsPlace) {
    NatDesired d;
    d.mark_groups = {MarkGroup{"vpn", ip("192.0.2.1"), 0x1000, {{50, 500, 500}}}};
    auto r = build_table(d);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().key, "group vpn");
    EXPECT_NE(r.error().message.find("no ports"), std::string::npos);

    d.mark_groups = {MarkGroup{"vpn", ip("192.0.2.1"), 0, {{17, 500, 0}}}};
    EXPECT_FALSE(build_table(d).ok());
    d.mark_groups = {MarkGroup{"vpn", ip("192.0.2.1"), 1, {{17, 600, 500}}}};
    EXPECT_FALSE(build_table(d).ok());
    d.mark_groups = {MarkGroup{"vpn", ip("192.0.2.1"), 1, {}}};
    EXPECT_FALSE(build_table(d).ok());

    NatDesired e;
    e.egress_interfaces = {"a-name-far-too-long0"};
    auto bad = build_table(e);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().key, "a-name-far-too-long0");
    e.egress_interfaces = {""};
    EXPECT_FALSE(build_table(e).ok());
}

TEST(NftPlan, NoTableCreatesEverythingInNftsOrder) {
    NatDesired d;
    d.real_servers = {pfx("10.0.0.1")};
    auto ops = plan(std::nullopt, built(d));
    ASSERT_FALSE(ops.empty());
    EXPECT_TRUE(std::holds_alternative<AddTable>(ops[0]));
    EXPECT_TRUE(std::holds_alternative<AddChain>(ops[1]));
    EXPECT_TRUE(std::holds_alternative<AddChain>(ops[2]));
    EXPECT_TRUE(std::holds_alternative<AddSet>(ops[3]));
    EXPECT_EQ(count_ops<AddSet>(ops), 3u);
    EXPECT_EQ(count_ops<AddElements>(ops), 1u);  // only rs4 has elements
    EXPECT_TRUE(std::get<AddElements>(ops[4]).zero_marker);
    EXPECT_EQ(count_ops<AddRule>(ops), 2u);
    EXPECT_TRUE(std::holds_alternative<AddRule>(ops.back()));
}

TEST(NftPlan, EqualStateNeedsNothing) {
    NatDesired d;
    d.real_servers = {pfx("10.0.0.0/24"), pfx("2001:db8::1")};
    d.egress_interfaces = {"eth0"};
    d.mark_groups = {MarkGroup{"g", ip("192.0.2.1"), 7, {{17, 500, 0}}}};
    EXPECT_TRUE(plan(as_observed(built(d)), built(d)).empty());
}

TEST(NftPlan, RealServerChangesAreElementOpsOnly) {
    NatDesired before;
    before.real_servers = {pfx("10.0.0.1"), pfx("10.0.0.2")};
    NatDesired after;
    after.real_servers = {pfx("10.0.0.2"), pfx("10.0.0.9")};
    auto ops = plan(as_observed(built(before)), built(after));
    ASSERT_EQ(ops.size(), 2u);
    const auto& del = std::get<DeleteElements>(ops[0]);
    EXPECT_EQ(del.set, "rs4");
    ASSERT_EQ(del.elements.size(), 1u);
    EXPECT_EQ(del.elements[0].first, (Bytes{10, 0, 0, 1}));
    const auto& add = std::get<AddElements>(ops[1]);
    ASSERT_EQ(add.elements.size(), 1u);
    EXPECT_EQ(add.elements[0].first, (Bytes{10, 0, 0, 9}));
    EXPECT_FALSE(add.zero_marker);  // set was not empty: nft adds no marker either
}

TEST(NftPlan, DeletedRuleIsAddedBackAndOthersKeepTheirHandles) {
    NatDesired d;
    d.mark_groups = {MarkGroup{"g", ip("192.0.2.1"), 7, {{17, 500, 0}, {17, 4500, 0}}}};
    auto observed = as_observed(built(d));
    auto& pre = observed.chains[1];
    pre.rules.erase(pre.rules.begin());
    auto ops = plan(observed, built(d));
    ASSERT_EQ(ops.size(), 1u);
    const auto& add = std::get<AddRule>(ops[0]);
    EXPECT_EQ(add.chain, "prerouting");
    EXPECT_EQ(add.rule.exprs, built(d).chains[1].rules[0].exprs);
}

TEST(NftPlan, ChangingAGroupRewritesOnlyItsRules) {
    NatDesired d;
    d.mark_groups = {MarkGroup{"a", ip("192.0.2.1"), 7, {{17, 500, 0}}},
                     MarkGroup{"b", ip("192.0.2.2"), 8, {{6, 80, 0}}}};
    auto observed = as_observed(built(d));
    d.mark_groups[1].matches = {{6, 443, 0}, {50, 0, 0}};
    auto ops = plan(observed, built(d));
    EXPECT_EQ(count_ops<DeleteRule>(ops), 1u);
    EXPECT_EQ(std::get<DeleteRule>(ops[0]).handle, observed.chains[1].rules[1].handle);
    EXPECT_EQ(count_ops<AddRule>(ops), 2u);
}

TEST(NftPlan, ForeignChainsAndUnknownRulesInOurChains) {
    NatDesired d;
    auto observed = as_observed(built(d));
    observed.chains.push_back(ChainModel{"operator", "filter", NF_INET_LOCAL_IN, 0, 1, {}});
    Rule stray;
    stray.exprs = {OtherExpr{"counter"}};
    stray.handle = 99;
    observed.chains[0].rules.push_back(stray);
    auto ops = plan(observed, built(d));
    ASSERT_EQ(ops.size(), 1u);  // the stray rule in OUR chain goes; the foreign chain stays
    EXPECT_EQ(std::get<DeleteRule>(ops[0]).handle, 99u);
    auto seen = to_observed(observed);
    ASSERT_EQ(seen.foreign_objects.size(), 1u);
    EXPECT_EQ(seen.foreign_objects[0], "chain operator");
}

TEST(NftPlan, ShapeDriftRebuildsTheWholeTableInOneBatch) {
    NatDesired d;
    d.real_servers = {pfx("10.0.0.1")};
    auto observed = as_observed(built(d));
    observed.sets[0].flags = 0;  // someone recreated rs4 without `flags interval`
    auto ops = plan(observed, built(d));
    ASSERT_GE(ops.size(), 2u);
    EXPECT_TRUE(std::holds_alternative<DeleteTable>(ops[0]));
    EXPECT_TRUE(std::holds_alternative<AddTable>(ops[1]));
    EXPECT_EQ(count_ops<AddRule>(ops), 2u);

    observed = as_observed(built(d));
    observed.chains[0].priority = 0;
    EXPECT_TRUE(std::holds_alternative<DeleteTable>(plan(observed, built(d))[0]));
}

TEST(NftPlan, MissingSetOrChainIsCreatedWithoutTouchingTheRest) {
    NatDesired d;
    d.real_servers = {pfx("10.0.0.1")};
    auto observed = as_observed(built(d));
    observed.chains.pop_back();  // prerouting gone
    auto ops = plan(observed, built(d));
    ASSERT_EQ(ops.size(), 1u);
    EXPECT_EQ(std::get<AddChain>(ops[0]).chain.name, "prerouting");
}

TEST(NftPlan, ObservedToReconcilerView) {
    NatDesired d;
    d.real_servers = {pfx("10.0.0.0/24"), pfx("2001:db8::1")};
    d.egress_interfaces = {"eth1", "eth0"};
    auto seen = to_observed(as_observed(built(d)));
    EXPECT_TRUE(seen.table_present);
    ASSERT_EQ(seen.real_server_ranges.size(), 2u);
    EXPECT_EQ(seen.real_server_ranges[0].last, ip("10.0.0.255"));
    EXPECT_EQ(seen.real_server_ranges[1].first, ip("2001:db8::1"));
    EXPECT_EQ(seen.egress_interfaces, (std::vector<std::string>{"eth0", "eth1"}));
    EXPECT_EQ(seen.postrouting_rules, 2u);
    EXPECT_TRUE(seen.foreign_objects.empty());
}

TEST(NftPlan, DescribeNamesAddresses) {
    NatDesired d;
    d.real_servers = {pfx("10.0.0.0/24")};
    auto ops = plan(std::nullopt, built(d));
    bool found = false;
    for (const auto& op : ops)
        found = found || describe(op) == "add element rs4 { 10.0.0.0-10.0.0.255 }";
    EXPECT_TRUE(found);
}
