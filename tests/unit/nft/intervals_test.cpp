// Address lists -> interval-set ranges, and ranges <-> kernel interval elements.
#include <gtest/gtest.h>

#include <random>

#include "ballast/nft/intervals.hpp"
#include "ballast/nft/ruleset.hpp"

using namespace ballast;
using namespace ballast::nft;
using model::IpAddress;
using model::IpPrefix;

namespace {
IpPrefix pfx(const char* s) {
    return *IpPrefix::parse(s);
}
IpAddress ip(const char* s) {
    return *IpAddress::parse(s);
}
AddressRange range(const char* a, const char* b) {
    return {ip(a), ip(b)};
}
Bytes bytes_of(const IpAddress& a) {
    return Bytes(a.bytes.begin(), a.bytes.begin() + static_cast<std::ptrdiff_t>(a.size()));
}
}  // namespace

TEST(Intervals, PrefixRangeClearsAndSetsHostBits) {
    EXPECT_EQ(prefix_range(pfx("10.1.2.3/24")), range("10.1.2.0", "10.1.2.255"));
    EXPECT_EQ(prefix_range(pfx("10.1.2.3")), range("10.1.2.3", "10.1.2.3"));
    EXPECT_EQ(prefix_range(pfx("0.0.0.0/0")), range("0.0.0.0", "255.255.255.255"));
    EXPECT_EQ(prefix_range(pfx("2001:db8::1/64")),
              range("2001:db8::", "2001:db8::ffff:ffff:ffff:ffff"));
}

TEST(Intervals, DuplicatesAndOverlapsMergeNeighboursStaySeparate) {
    auto r = normalise({pfx("10.0.0.7"), pfx("10.0.0.0/24"), pfx("10.0.0.7"), pfx("10.0.1.0/24"),
                        pfx("10.0.3.0/24"), pfx("10.0.0.128/25"), pfx("10.0.3.0/23")});
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r[0], range("10.0.0.0", "10.0.0.255"));
    EXPECT_EQ(r[1], range("10.0.1.0", "10.0.1.255"));
    EXPECT_EQ(r[2], range("10.0.2.0", "10.0.3.255"));  // 10.0.2.0/23 covers 10.0.3.0/24
    auto singles = normalise({pfx("10.0.0.2"), pfx("10.0.0.1")});
    ASSERT_EQ(singles.size(), 2u);
    EXPECT_EQ(singles[0], range("10.0.0.1", "10.0.0.1"));
}

TEST(Intervals, FamiliesStaySeparateAndIpv4ComesFirst) {
    auto r = normalise({pfx("2001:db8::/127"), pfx("0.0.0.0/0"), pfx("::/0")});
    ASSERT_EQ(r.size(), 2u);
    EXPECT_TRUE(r[0].first.is_v4());
    EXPECT_EQ(r[0], range("0.0.0.0", "255.255.255.255"));
    EXPECT_EQ(r[1], range("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
}

TEST(Intervals, EmptyListGivesNoRanges) {
    EXPECT_TRUE(normalise({}).empty());
}

TEST(Intervals, KernelElementsRoundTrip) {
    std::vector<Interval> in = {{bytes_of(ip("10.0.0.0")), bytes_of(ip("10.0.1.255"))},
                                {bytes_of(ip("10.1.0.5")), bytes_of(ip("10.1.0.5"))},
                                {bytes_of(ip("200.0.0.0")), bytes_of(ip("255.255.255.255"))}};
    auto raw = raw_from_intervals(in, true);
    // Marker at 0, then start/end pairs; the range reaching the top has no end element.
    ASSERT_EQ(raw.size(), 6u);
    EXPECT_TRUE(raw[0].interval_end);
    EXPECT_EQ(raw[0].key, Bytes(4, 0));
    EXPECT_EQ(raw[2].key, bytes_of(ip("10.0.2.0")));
    EXPECT_TRUE(raw[2].interval_end);
    EXPECT_FALSE(raw[5].interval_end);
    // The kernel hands them back in any order.
    std::reverse(raw.begin(), raw.end());
    bool marker = false;
    EXPECT_EQ(intervals_from_raw(raw, &marker), in);
    EXPECT_TRUE(marker);
    EXPECT_FALSE(raw_from_intervals(in, false)[0].interval_end);
}

TEST(Intervals, NoMarkerWhenTheFirstRangeStartsAtZero) {
    std::vector<Interval> in = {{Bytes(4, 0), bytes_of(ip("0.255.255.255"))}};
    auto raw = raw_from_intervals(in, true);
    ASSERT_EQ(raw.size(), 2u);
    bool marker = true;
    EXPECT_EQ(intervals_from_raw(raw, &marker), in);
    EXPECT_FALSE(marker);
}

// Property: for random prefix lists, the ranges are sorted, disjoint, and
// cover exactly the addresses some prefix contains; kernel elements round-trip.
TEST(Intervals, RandomPrefixListsNormaliseToExactCover) {
    std::mt19937 rng(20261122);
    for (int round = 0; round < 300; ++round) {
        const bool v6 = round % 3 == 2;
        std::vector<IpPrefix> prefixes;
        const int n = static_cast<int>(rng() % 12);
        for (int i = 0; i < n; ++i) {
            IpPrefix p;
            p.addr.family = v6 ? AF_INET6 : AF_INET;
            // Small address space (one varying byte) so overlaps and neighbours are common.
            p.addr.bytes[0] = 10;
            p.addr.bytes[p.addr.size() - 1] = static_cast<uint8_t>(rng());
            p.addr.bytes[p.addr.size() - 2] = static_cast<uint8_t>(rng() % 3);
            p.length = static_cast<uint8_t>(p.addr.size() * 8 - rng() % 10);
            prefixes.push_back(p);
        }
        auto ranges = normalise(prefixes);
        for (size_t i = 1; i < ranges.size(); ++i) {
            ASSERT_LT(ranges[i - 1].last, ranges[i].first) << "ranges overlap";
        }
        for (const auto& r : ranges) ASSERT_LE(r.first, r.last);
        // Every address near the generated ones: covered iff some prefix contains it.
        for (int hi = 0; hi < 4; ++hi) {
            for (int lo = 0; lo < 256; ++lo) {
                IpAddress a;
                a.family = v6 ? AF_INET6 : AF_INET;
                a.bytes[0] = 10;
                a.bytes[a.size() - 2] = static_cast<uint8_t>(hi);
                a.bytes[a.size() - 1] = static_cast<uint8_t>(lo);
                bool want = false;
                for (const auto& p : prefixes) want = want || p.contains(a);
                bool have = false;
                for (const auto& r : ranges) have = have || (r.first <= a && a <= r.last);
                ASSERT_EQ(have, want) << a.to_string();
            }
        }
        std::vector<Interval> iv;
        for (const auto& r : ranges) iv.push_back({bytes_of(r.first), bytes_of(r.last)});
        auto raw = raw_from_intervals(iv, true);
        std::shuffle(raw.begin(), raw.end(), rng);
        bool marker = false;
        ASSERT_EQ(intervals_from_raw(raw, &marker), iv);
        ASSERT_EQ(marker, !iv.empty());
    }
}
