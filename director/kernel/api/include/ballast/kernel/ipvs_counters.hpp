#pragma once
// IPVS counters as a dump reports them: transient kernel state, so they live here and not in
// model::. CountersByReal is one service's destination counters by real server, a
// boost::container::flat_map over a std::vector: one allocation per service, not one map node
// per destination, and a dump can adopt a vector it already sorted.
#include <boost/container/flat_map.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
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
// status page, ballastctl and the metrics. The daemon holds it as one immutable object that
// every reader shares (at 5,000 x 10 each copy is ~7 MiB).
struct IpvsCounters {
    double at = 0;  // when they were dumped, Unix seconds (stamped by who asked for the dump)
    std::map<model::ServiceKey, IpvsStats> services;
    std::map<model::ServiceKey, CountersByReal> dests;
};

}  // namespace ballast::kernel
