#pragma once
// The IPVS boundary. The reconciler sees only this interface; the libnl-genl-3
// adapter (director/kernel/ipvs) and the recording fake (tests/fakes) implement it.
#include <algorithm>
#include <cstdint>
#include <map>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

#include "ballast/model/ipvs.hpp"
#include "ballast/model/ipvs_op.hpp"
#include "ballast/model/result.hpp"

namespace ballast::kernel {

// Kernel counters: transient, so they live here and not in model::.
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

// One service's destination counters by real server: a vector sorted by key (one allocation per
// service, not one map node per destination), with the map operations its users need.
class CountersByReal {
public:
    using value_type = std::pair<model::RealKey, DestCounters>;
    using iterator = std::vector<value_type>::iterator;
    using const_iterator = std::vector<value_type>::const_iterator;

    CountersByReal() = default;
    // From entries in any order; of a repeated real the first entry counts (as map::emplace).
    static CountersByReal from_unsorted(std::vector<value_type> entries) {
        CountersByReal c;
        c.items_ = std::move(entries);
        sort_by_key_first_wins(
            c.items_, [](const value_type& e) -> const model::RealKey& { return e.first; });
        return c;
    }

    iterator begin() { return items_.begin(); }
    iterator end() { return items_.end(); }
    const_iterator begin() const { return items_.begin(); }
    const_iterator end() const { return items_.end(); }
    size_t size() const { return items_.size(); }
    bool empty() const { return items_.empty(); }
    void clear() { items_.clear(); }

    iterator find(const model::RealKey& r) {
        auto it = lower(r);
        return it != items_.end() && it->first == r ? it : items_.end();
    }
    const_iterator find(const model::RealKey& r) const {
        auto it = lower(r);
        return it != items_.end() && it->first == r ? it : items_.end();
    }
    size_t count(const model::RealKey& r) const { return find(r) == end() ? 0 : 1; }
    DestCounters& at(const model::RealKey& r) {
        auto it = find(r);
        if (it == end()) throw std::out_of_range("CountersByReal::at: no such real server");
        return it->second;
    }
    const DestCounters& at(const model::RealKey& r) const {
        auto it = find(r);
        if (it == end()) throw std::out_of_range("CountersByReal::at: no such real server");
        return it->second;
    }
    // Inserts zero counters for an absent real, in key order.
    DestCounters& operator[](const model::RealKey& r) {
        auto it = lower(r);
        if (it == items_.end() || it->first != r) it = items_.insert(it, value_type{r, {}});
        return it->second;
    }
    size_t erase(const model::RealKey& r) {
        auto it = find(r);
        if (it == end()) return 0;
        items_.erase(it);
        return 1;
    }
    iterator erase(const_iterator it) { return items_.erase(it); }
    bool operator==(const CountersByReal&) const = default;

private:
    iterator lower(const model::RealKey& r) {
        return std::lower_bound(
            items_.begin(), items_.end(), r,
            [](const value_type& v, const model::RealKey& k) { return v.first < k; });
    }
    const_iterator lower(const model::RealKey& r) const {
        return std::lower_bound(
            items_.begin(), items_.end(), r,
            [](const value_type& v, const model::RealKey& k) { return v.first < k; });
    }

    std::vector<value_type> items_;  // sorted by key, no repeats
};

// What a full dump returns: the table (identity + attributes) plus counters.
struct IpvsSnapshot {
    model::IpvsTable table;
    std::map<model::ServiceKey, IpvsStats> service_stats;
    std::map<model::ServiceKey, CountersByReal> dest_counters;
};

class IpvsClient {
public:
    virtual ~IpvsClient() = default;

    // Every service with its destinations and counters (one dump per service for dests).
    virtual Result<IpvsSnapshot> dump() = 0;

    // Applies ops in order (pipelined where the implementation can), returning one Status per
    // op, in the same order. Keeps going past failures; identical add and absent delete succeed.
    virtual std::vector<Status> apply(std::span<const model::IpvsOp> ops) = 0;
};

}  // namespace ballast::kernel
