#pragma once
// IPVS counters as a dump reports them: transient kernel state, so they live here and not in
// model::. CountersByReal is one service's destination counters by real server, a
// boost::container::flat_map over a std::vector: one allocation per service, not one map node
// per destination, and a dump can adopt a vector it already sorted.
#include <boost/container/flat_map.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "ballast/model/ipvs.hpp"

namespace ballast::kernel {

struct IpvsStats {
    uint64_t conns = 0, inpkts = 0, outpkts = 0, inbytes = 0, outbytes = 0;
    uint64_t cps = 0, inpps = 0, outpps = 0, inbps = 0, outbps = 0;
    auto operator<=>(const IpvsStats&) const = default;
};

struct DestCounters {
    uint32_t active_conns = 0;
    uint32_t inactive_conns = 0;
    uint32_t persist_conns = 0;
    IpvsStats stats;
    uint32_t total_conns() const { return active_conns + inactive_conns; }
    auto operator<=>(const DestCounters&) const = default;
};

// Sorts v by key(v[i]) and keeps the first of repeated keys (what inserting them into a map in
// their order would keep). The kernel lists a service's dests newest first, usually strictly
// descending, which a reversal sorts; already sorted input is left as it is.
template <typename T, typename KeyOf>
void sort_by_key_first_wins(std::vector<T>& v, KeyOf key) {
    auto strictly = [&](auto cmp) {
        for (size_t i = 1; i < v.size(); ++i)
            if (!cmp(key(v[i - 1]), key(v[i]))) return false;
        return true;
    };
    if (strictly([](const auto& a, const auto& b) { return a < b; })) return;
    if (strictly([](const auto& a, const auto& b) { return b < a; })) {
        std::reverse(v.begin(), v.end());
        return;
    }
    std::stable_sort(v.begin(), v.end(), [&](const T& a, const T& b) { return key(a) < key(b); });
    v.erase(
        std::unique(v.begin(), v.end(), [&](const T& a, const T& b) { return key(a) == key(b); }),
        v.end());
}

using CountersByReal =
    boost::container::flat_map<model::RealKey, DestCounters, std::less<model::RealKey>,
                               std::vector<std::pair<model::RealKey, DestCounters>>>;

// From entries in any order; of a repeated real the first entry counts (as map::emplace).
inline CountersByReal counters_from_unsorted(std::vector<CountersByReal::value_type> entries) {
    sort_by_key_first_wins(
        entries,
        [](const CountersByReal::value_type& e) -> const model::RealKey& { return e.first; });
    CountersByReal c;
    c.adopt_sequence(boost::container::ordered_unique_range, std::move(entries));
    return c;
}

// The counters of one full dump without its table: what ballastd keeps of a dump for the
// status page, ballastctl and the metrics until the next dump replaces it. The daemon holds it
// as one immutable object that every reader shares. Held encoded, not as maps: every value as
// a LEB128 varint (most counters are far below 2^64, and rates and idle reals' counters are
// small), a real's key as the bytes its address shares with the previous real's left out: at
// 5,000 x 10 busy reals ~2.5 MiB instead of the maps' ~7 MiB. A reader decodes the service it
// shows (~0.1 us a real); every value reads back exactly as the dump gave it.
class IpvsCounters {
public:
    // A dump's counters as maps: what a dump gives and what decode() gives back. A service
    // may be in either map or both (a dump lists both for every service it shows).
    struct Maps {
        std::map<model::ServiceKey, IpvsStats> services;
        std::map<model::ServiceKey, CountersByReal> dests;
        bool operator==(const Maps&) const = default;
    };
    static constexpr size_t npos = SIZE_MAX;

    IpvsCounters() = default;
    IpvsCounters(double dumped_at, const std::map<model::ServiceKey, IpvsStats>& services,
                 const std::map<model::ServiceKey, CountersByReal>& dests);
    IpvsCounters(double dumped_at, const Maps& maps)
        : IpvsCounters(dumped_at, maps.services, maps.dests) {}

    // Encodes a dump service by service as it arrives, so that its counters are never held
    // as maps (~7 MiB at 5,000 x 10 busy, the peak of a resync). Services in any order; of a
    // repeated service the first counts (as the maps' emplace).
    class Builder;

    double at = 0;  // when they were dumped, Unix seconds (stamped by who asked for the dump)

    // The services the dump shows (with stats, dests or both), in key order.
    size_t size() const { return services_.size(); }
    bool empty() const { return services_.empty(); }
    const model::ServiceKey& key(size_t i) const { return services_[i].key; }
    size_t find(const model::ServiceKey& key) const;  // its position, or npos
    // Service i's stats; none when the dump had none for it.
    std::optional<IpvsStats> stats(size_t i) const;
    // Whether the dump listed service i's dests (it may list none), and how many.
    bool has_dests(size_t i) const { return services_[i].has_dests; }
    size_t dest_count(size_t i) const { return services_[i].dests; }
    // Service i's dests in key order, into `out` (whose storage is reused).
    void dests(size_t i, CountersByReal& out) const;
    Maps decode() const;

    // The encoded values' bytes (the keys of the services aside).
    size_t encoded_bytes() const { return bytes_.size(); }
    bool operator==(const IpvsCounters&) const = default;

private:
    struct Service {
        model::ServiceKey key;
        size_t offset = 0;   // of its stats (when it has them), then its dests, in bytes_
        uint32_t dests = 0;  // how many
        bool has_stats = false, has_dests = false;
        bool operator==(const Service&) const = default;
    };
    std::vector<Service> services_;  // key order
    std::vector<uint8_t> bytes_;
};

class IpvsCounters::Builder {
public:
    void add(const model::ServiceKey& key, const IpvsStats* stats, const CountersByReal* dests);
    IpvsCounters finish(double dumped_at) &&;

private:
    std::vector<Service> services_;  // in the order added
    std::vector<uint8_t> bytes_;
};

}  // namespace ballast::kernel
