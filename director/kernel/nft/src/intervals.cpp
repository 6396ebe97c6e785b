#include "ballast/nft/intervals.hpp"

#include <algorithm>

namespace ballast::nft {

AddressRange prefix_range(const model::IpPrefix& p) {
    AddressRange r{p.addr, p.addr};
    const size_t bits = p.addr.size() * 8;
    const size_t len = std::min<size_t>(p.length, bits);
    for (size_t bit = len; bit < bits; ++bit) {
        const auto mask = static_cast<uint8_t>(0x80u >> (bit % 8));
        r.first.bytes[bit / 8] &= static_cast<uint8_t>(~mask);
        r.last.bytes[bit / 8] |= mask;
    }
    return r;
}

bool next_address(model::IpAddress& a) {
    for (size_t i = a.size(); i-- > 0;) {
        if (++a.bytes[i] != 0) return true;
    }
    return false;  // wrapped: a was the last address (now all zero)
}

bool previous_address(model::IpAddress& a) {
    for (size_t i = a.size(); i-- > 0;) {
        if (a.bytes[i]-- != 0) return true;
    }
    return false;
}

std::vector<AddressRange> normalise(const std::vector<model::IpPrefix>& prefixes) {
    std::vector<AddressRange> ranges;
    ranges.reserve(prefixes.size());
    for (const auto& p : prefixes) ranges.push_back(prefix_range(p));
    // IpAddress orders by family first (AF_INET < AF_INET6), then bytes.
    std::sort(ranges.begin(), ranges.end());
    std::vector<AddressRange> out;
    for (const auto& r : ranges) {
        // Overlapping (or duplicate): extend. Adjacent ranges stay separate, so one real
        // server coming or going is one element even next to its neighbours.
        if (!out.empty() && out.back().last.family == r.first.family &&
            r.first <= out.back().last) {
            if (out.back().last < r.last) out.back().last = r.last;
            continue;
        }
        out.push_back(r);
    }
    return out;
}

}  // namespace ballast::nft
