// Address lists of any shape -> interval-set ranges -> kernel elements and back; the table
// built from them must plan to nothing against itself. Traps on any broken invariant.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "ballast/nft/intervals.hpp"
#include "ballast/nft/ruleset.hpp"

using namespace ballast;
using namespace ballast::nft;

namespace {
void check(bool ok) {
    if (!ok) __builtin_trap();
}
Bytes bytes_of(const model::IpAddress& a) {
    return Bytes(a.bytes.begin(), a.bytes.begin() + static_cast<std::ptrdiff_t>(a.size()));
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // Each 18-byte record: family bit, prefix length, 16 address bytes (IPv4 uses 4).
    std::vector<model::IpPrefix> prefixes;
    for (size_t off = 0; off + 18 <= size; off += 18) {
        model::IpPrefix p;
        p.addr.family = (data[off] & 1) ? AF_INET6 : AF_INET;
        p.length = static_cast<uint8_t>(data[off + 1] % (p.addr.size() * 8 + 1));
        for (size_t i = 0; i < p.addr.size(); ++i) p.addr.bytes[i] = data[off + 2 + i];
        prefixes.push_back(p);
    }
    const auto ranges = normalise(prefixes);
    for (size_t i = 0; i < ranges.size(); ++i) {
        check(ranges[i].first <= ranges[i].last);
        if (i > 0) check(ranges[i - 1].last < ranges[i].first);
        // Range ends are covered by some prefix; every prefix lies inside one range.
        bool first_covered = false, last_covered = false;
        for (const auto& p : prefixes) {
            first_covered = first_covered || p.contains(ranges[i].first);
            last_covered = last_covered || p.contains(ranges[i].last);
        }
        check(first_covered && last_covered);
    }
    for (const auto& p : prefixes) {
        const auto r = prefix_range(p);
        bool inside = false;
        for (const auto& q : ranges) inside = inside || (q.first <= r.first && r.last <= q.last);
        check(inside);
    }
    for (const bool v6 : {false, true}) {
        std::vector<Interval> iv;
        for (const auto& r : ranges)
            if (r.first.is_v6() == v6) iv.push_back({bytes_of(r.first), bytes_of(r.last)});
        bool marker = false;
        check(intervals_from_raw(raw_from_intervals(iv, true), &marker) == iv);
    }
    kernel::NatDesired desired;
    desired.real_servers = prefixes;
    auto table = build_table(desired);
    check(table.ok());
    auto observed = *table;
    for (auto& s : observed.sets) s.zero_marker = s.is_interval() && !s.elements.empty();
    check(plan(observed, *table).empty());
    check(!plan(std::nullopt, *table).empty());
    return 0;
}
