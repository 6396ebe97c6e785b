// IpvsCounters: a dump's counters as ballastd holds them between dumps, encoded. Whatever a
// dump gives reads back exactly (every value, every key, which services had stats or dests),
// service by service as the readers ask for it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "ballast/kernel/ipvs_client.hpp"
#include "ballast/kernel/ipvs_counters.hpp"

namespace ballast::kernel {
namespace {

using model::IpAddress;
using model::Protocol;
using model::RealKey;
using model::ServiceKey;

ServiceKey tcp(uint32_t n, uint16_t port = 80) {
    return ServiceKey::inet(Protocol::tcp, IpAddress::v4(0xc0000200u + n), port);
}
RealKey real(const char* addr, uint16_t port) {
    return RealKey{*IpAddress::parse(addr), port};
}

// Values around every varint length, and the extremes.
uint64_t draw(std::mt19937_64& rng) {
    switch (rng() % 6) {
        case 0:
            return 0;
        case 1:
            return rng() % 300;  // around one byte's end
        case 2:
            return uint64_t{1} << (rng() % 64);
        case 3:
            return (uint64_t{1} << (rng() % 64)) - 1;
        case 4:
            return std::numeric_limits<uint64_t>::max() - rng() % 3;
        default:
            return rng();
    }
}

IpvsStats random_stats(std::mt19937_64& rng) {
    IpvsStats s;
    for (uint64_t* f : {&s.conns, &s.inpkts, &s.outpkts, &s.inbytes, &s.outbytes, &s.cps, &s.inpps,
                        &s.outpps, &s.inbps, &s.outbps})
        *f = draw(rng);
    return s;
}

// Reals of both families, neighbours that share most of their address (or all of it, on
// another port), and ones that share nothing.
RealKey random_real(std::mt19937_64& rng) {
    IpAddress a;
    if (rng() % 4 == 0) {
        a = *IpAddress::parse("2001:db8::");
        a.bytes[15] = static_cast<uint8_t>(rng() % 4);
        if (rng() % 2) a.bytes[7] = static_cast<uint8_t>(rng());
    } else {
        a = IpAddress::v4(rng() % 3 == 0 ? static_cast<uint32_t>(rng())
                                         : 0x0a000000u + static_cast<uint32_t>(rng() % 40));
    }
    const uint16_t ports[] = {80, 443, 0, 65535, 8080};
    return RealKey{a, ports[rng() % 5]};
}

IpvsCounters::Maps random_dump(std::mt19937_64& rng, int services) {
    IpvsCounters::Maps m;
    for (int s = 0; s < services; ++s) {
        ServiceKey key = s % 7 == 3 ? ServiceKey::mark(static_cast<uint32_t>(s) + 1)
                         : s % 5 == 2
                             ? ServiceKey::inet(Protocol::udp, *IpAddress::parse("2001:db8:1::5"),
                                                static_cast<uint16_t>(s))
                             : tcp(static_cast<uint32_t>(s));
        const auto shape = rng() % 8;
        if (shape != 0) m.services[key] = random_stats(rng);  // 0: dests only
        if (shape == 1) continue;                             // stats only
        auto& dests = m.dests[key];                           // 2: listed without dests
        const size_t n = shape == 2 ? 0 : rng() % 30;
        for (size_t i = 0; i < n; ++i) {
            DestCounters c;
            c.active_conns = static_cast<uint32_t>(draw(rng));
            c.inactive_conns = static_cast<uint32_t>(draw(rng));
            c.persist_conns = static_cast<uint32_t>(draw(rng));
            c.stats = random_stats(rng);
            dests.emplace(random_real(rng), c);
        }
    }
    return m;
}

TEST(IpvsCounters, EveryServiceReadsBackAsTheDumpGaveIt) {
    std::mt19937_64 rng(12);
    for (int round = 0; round < 40; ++round) {
        const auto dumped = random_dump(rng, 1 + round * 3);
        const IpvsCounters c(1000.5 + round, dumped);
        EXPECT_EQ(c.at, 1000.5 + round);
        ASSERT_EQ(c.decode(), dumped) << "round " << round;
        // Each service as a reader finds it.
        std::set<ServiceKey> keys;
        for (const auto& [k, s] : dumped.services) keys.insert(k);
        for (const auto& [k, d] : dumped.dests) keys.insert(k);
        ASSERT_EQ(c.size(), keys.size());
        size_t i = 0;
        CountersByReal dests;
        for (const auto& key : keys) {
            ASSERT_EQ(c.find(key), i);
            EXPECT_EQ(c.key(i), key);
            const auto st = dumped.services.find(key);
            EXPECT_EQ(c.stats(i), st == dumped.services.end()
                                      ? std::nullopt
                                      : std::optional<IpvsStats>(st->second));
            const auto d = dumped.dests.find(key);
            EXPECT_EQ(c.has_dests(i), d != dumped.dests.end());
            c.dests(i, dests);  // over the last service's
            EXPECT_EQ(dests, d == dumped.dests.end() ? CountersByReal{} : d->second);
            EXPECT_EQ(c.dest_count(i), dests.size());
            ++i;
        }
    }
}

TEST(IpvsCounters, ABuilderFedServiceByServiceInAnyOrderEncodesAsTheMapsDo) {
    std::mt19937_64 rng(34);
    for (int round = 0; round < 40; ++round) {
        const auto dumped = random_dump(rng, round * 3);
        std::set<ServiceKey> keys;
        for (const auto& [k, s] : dumped.services) keys.insert(k);
        for (const auto& [k, d] : dumped.dests) keys.insert(k);
        std::vector<ServiceKey> order(keys.begin(), keys.end());
        std::shuffle(order.begin(), order.end(), rng);
        IpvsCounters::Builder b;
        for (const auto& key : order) {
            const auto st = dumped.services.find(key);
            const auto d = dumped.dests.find(key);
            b.add(key, st == dumped.services.end() ? nullptr : &st->second,
                  d == dumped.dests.end() ? nullptr : &d->second);
        }
        // A service added again is ignored: the first counts.
        if (!order.empty()) {
            const IpvsStats other = random_stats(rng);
            b.add(order.front(), &other, nullptr);
        }
        const IpvsCounters built = std::move(b).finish(42.5);
        EXPECT_EQ(built.at, 42.5);
        ASSERT_EQ(built.decode(), dumped) << "round " << round;
        EXPECT_EQ(built, IpvsCounters(42.5, dumped)) << "the same object, not only the same values";
    }
}

TEST(IpvsCounters, TakenFromASnapshotEncodedWhetherTheyCameAsMapsOrEncoded) {
    std::mt19937_64 rng(56);
    const auto dumped = random_dump(rng, 20);
    IpvsSnapshot as_maps;
    as_maps.service_stats = dumped.services;
    as_maps.dest_counters = dumped.dests;
    const auto a = take_counters(as_maps, 5.0);
    EXPECT_EQ(a->at, 5.0);
    EXPECT_EQ(a->decode(), dumped);
    EXPECT_TRUE(as_maps.service_stats.empty());
    EXPECT_TRUE(as_maps.dest_counters.empty());

    IpvsSnapshot as_encoded;
    as_encoded.counters.emplace(0, dumped);
    const auto b = take_counters(as_encoded, 7.0);
    EXPECT_EQ(b->at, 7.0) << "stamped by who asked for the dump";
    EXPECT_EQ(b->decode(), dumped);
    EXPECT_FALSE(as_encoded.counters);
}

TEST(IpvsCounters, ServicesTheDumpDidNotShowAreNotFound) {
    const IpvsCounters none;
    EXPECT_TRUE(none.empty());
    EXPECT_EQ(none.find(tcp(1)), IpvsCounters::npos);
    EXPECT_EQ(none.decode(), IpvsCounters::Maps{});

    IpvsCounters::Maps m;
    m.services[tcp(2)].conns = 5;
    m.dests[tcp(4)][real("10.0.0.1", 80)].active_conns = 1;
    const IpvsCounters c(1, m);
    EXPECT_FALSE(c.empty());
    EXPECT_EQ(c.find(tcp(1)), IpvsCounters::npos);
    EXPECT_EQ(c.find(tcp(3)), IpvsCounters::npos);
    EXPECT_EQ(c.find(tcp(5)), IpvsCounters::npos);
    ASSERT_NE(c.find(tcp(2)), IpvsCounters::npos);
    EXPECT_FALSE(c.has_dests(c.find(tcp(2))));
    EXPECT_FALSE(c.stats(c.find(tcp(4))));
}

TEST(IpvsCounters, EqualDumpsEncodeEqualAndOneValueTellsThemApart) {
    std::mt19937_64 rng(3);
    auto m = random_dump(rng, 20);
    EXPECT_EQ(IpvsCounters(1, m), IpvsCounters(1, m));
    auto& dests = m.dests.rbegin()->second;
    if (dests.empty()) dests[real("10.0.0.9", 80)] = {};
    auto changed = m;
    changed.dests.rbegin()->second.begin()->second.stats.outbps ^= 1;
    EXPECT_NE(IpvsCounters(1, m), IpvsCounters(1, changed));
}

// The encoding's size, as designed: a value takes a byte per 7 bits it has (zero one byte), a
// real's key its tag, the address bytes it does not share with the previous real's, and its
// port unless the previous real's is the same.
TEST(IpvsCounters, SmallValuesAndNeighbouringRealsTakeFewBytes) {
    IpvsCounters::Maps m;
    m.services[tcp(1)] = {};
    auto& dests = m.dests[tcp(1)];
    for (int i = 1; i <= 10; ++i) dests[real(("10.0.0." + std::to_string(i)).c_str(), 80)] = {};
    // Zero stats: 10 bytes; the first real's key 1 + 4 + 2 bytes, each other's 1 + 1; each
    // real's 13 values one byte each.
    constexpr size_t base = 10 + (7 + 13) + 9 * (2 + 13);
    EXPECT_EQ(IpvsCounters(0, m).encoded_bytes(), base);
    auto& first = dests.begin()->second.stats;
    first.inbytes = 127;
    EXPECT_EQ(IpvsCounters(0, m).encoded_bytes(), base);
    first.inbytes = 128;
    EXPECT_EQ(IpvsCounters(0, m).encoded_bytes(), base + 1);
    first.inbytes = std::numeric_limits<uint64_t>::max();
    EXPECT_EQ(IpvsCounters(0, m).encoded_bytes(), base + 9);
    // The last real on another port: its port's two bytes.
    dests.erase(real("10.0.0.10", 80));
    dests[real("10.0.0.10", 8080)] = {};
    EXPECT_EQ(IpvsCounters(0, m).encoded_bytes(), base + 9 + 2);
}

}  // namespace
}  // namespace ballast::kernel
