// CountersByReal: the snapshot's per-service destination counters, a flat_map over a sorted
// vector that must behave like a std::map for every operation its users make, and
// counters_from_unsorted, which builds one from a dump's entries in any order.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <stdexcept>
#include <vector>

#include "ballast/kernel/ipvs_counters.hpp"

namespace ballast::kernel {
namespace {

using model::IpAddress;
using model::RealKey;

RealKey real(uint32_t n, uint16_t port = 80) {
    return RealKey{IpAddress::v4(0x0a000000u + n), port};
}
DestCounters conns(uint32_t active, uint32_t inactive = 0) {
    DestCounters c;
    c.active_conns = active;
    c.inactive_conns = inactive;
    return c;
}
std::vector<RealKey> keys_of(const CountersByReal& c) {
    std::vector<RealKey> out;
    for (const auto& [r, counters] : c) out.push_back(r);
    return out;
}

TEST(CountersByReal, FromUnsortedSortsAnyOrderAndKeepsTheFirstOfARepeatedReal) {
    // Newest first, as the kernel lists them.
    auto desc =
        counters_from_unsorted({{real(3), conns(3)}, {real(2), conns(2)}, {real(1), conns(1)}});
    EXPECT_EQ(keys_of(desc), (std::vector{real(1), real(2), real(3)}));
    EXPECT_EQ(desc.at(real(2)).active_conns, 2u);

    auto asc = counters_from_unsorted({{real(1), conns(1)}, {real(2), conns(2)}});
    EXPECT_EQ(keys_of(asc), (std::vector{real(1), real(2)}));

    auto mixed = counters_from_unsorted(
        {{real(2), conns(20)}, {real(1), conns(1)}, {real(2), conns(21)}, {real(2, 81), conns(5)}});
    EXPECT_EQ(keys_of(mixed), (std::vector{real(1), real(2), real(2, 81)}));
    EXPECT_EQ(mixed.at(real(2)).active_conns, 20u) << "the first of a repeated real counts";

    // A repeat inside an otherwise descending run is not mistaken for a sorted one.
    auto repeat = counters_from_unsorted({{real(2), conns(7)}, {real(2), conns(8)}});
    EXPECT_EQ(repeat.size(), 1u);
    EXPECT_EQ(repeat.at(real(2)).active_conns, 7u);
    EXPECT_TRUE(counters_from_unsorted({}).empty());
}

TEST(CountersByReal, LookupsOfPresentAndAbsentReals) {
    const auto c = counters_from_unsorted({{real(1), conns(1, 2)}, {real(5), conns(5)}});
    EXPECT_EQ(c.size(), 2u);
    ASSERT_NE(c.find(real(5)), c.end());
    EXPECT_EQ(c.find(real(5))->second.active_conns, 5u);
    EXPECT_EQ(c.find(real(3)), c.end());
    EXPECT_EQ(c.find(real(9)), c.end());
    EXPECT_EQ(c.find(real(1, 81)), c.end()) << "same address, other port";
    EXPECT_EQ(c.count(real(1)), 1u);
    EXPECT_EQ(c.count(real(2)), 0u);
    EXPECT_EQ(c.at(real(1)).total_conns(), 3u);
    EXPECT_THROW((void)c.at(real(2)), std::out_of_range);
}

TEST(CountersByReal, IndexingInsertsInOrderAndEraseRemoves) {
    CountersByReal c;
    c[real(5)] = conns(5);
    c[real(1)] = conns(1);
    c[real(3)];  // zero counters
    EXPECT_EQ(keys_of(c), (std::vector{real(1), real(3), real(5)}));
    EXPECT_EQ(c.at(real(3)), DestCounters{});
    c[real(5)].inactive_conns = 9;  // an existing real is not inserted again
    EXPECT_EQ(c.size(), 3u);
    EXPECT_EQ(c.at(real(5)).total_conns(), 14u);

    EXPECT_EQ(c.erase(real(3)), 1u);
    EXPECT_EQ(c.erase(real(3)), 0u);
    EXPECT_EQ(keys_of(c), (std::vector{real(1), real(5)}));
    auto next = c.erase(c.find(real(1)));
    ASSERT_NE(next, c.end());
    EXPECT_EQ(next->first, real(5));
    c.clear();
    EXPECT_TRUE(c.empty());
}

TEST(CountersByReal, EqualityIsByContent) {
    auto a = counters_from_unsorted({{real(2), conns(2)}, {real(1), conns(1)}});
    CountersByReal b;
    b[real(1)] = conns(1);
    b[real(2)] = conns(2);
    EXPECT_EQ(a, b);
    b[real(2)].active_conns = 3;
    EXPECT_NE(a, b);
}

// Random operations against std::map, the container it replaced.
TEST(CountersByReal, BehavesLikeAMapUnderRandomOperations) {
    std::mt19937 rng(7);
    for (int round = 0; round < 50; ++round) {
        CountersByReal c;
        std::map<RealKey, DestCounters> m;
        for (int step = 0; step < 200; ++step) {
            const RealKey r = real(rng() % 16, uint16_t(80 + rng() % 2));
            switch (rng() % 4) {
                case 0:
                case 1: {
                    uint32_t v = rng() % 100;
                    c[r].active_conns = v;
                    m[r].active_conns = v;
                    break;
                }
                case 2:
                    EXPECT_EQ(c.erase(r), m.erase(r));
                    break;
                default:
                    EXPECT_EQ(c.count(r), m.count(r));
                    if (m.count(r)) {
                        EXPECT_EQ(c.at(r), m.at(r));
                    }
            }
        }
        ASSERT_EQ(c.size(), m.size());
        auto it = m.begin();
        for (const auto& [r, counters] : c) {
            EXPECT_EQ(r, it->first);
            EXPECT_EQ(counters, it->second);
            ++it;
        }
        // Built at once from the map's entries in reverse: the same container.
        std::vector<CountersByReal::value_type> rev(m.rbegin(), m.rend());
        EXPECT_EQ(counters_from_unsorted(rev), c);
    }
}

}  // namespace
}  // namespace ballast::kernel
