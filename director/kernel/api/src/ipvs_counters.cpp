#include "ballast/kernel/ipvs_counters.hpp"

#include "ballast/kernel/ipvs_client.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <numeric>
#include <type_traits>

namespace ballast::kernel {

using model::RealKey;
using model::ServiceKey;

namespace {

// Every value of a service's stats, then of a dest, in the order they are encoded.
template <typename Stats, typename F>
void each_value(Stats& s, F f) {
    f(s.conns), f(s.inpkts), f(s.outpkts), f(s.inbytes), f(s.outbytes);
    f(s.cps), f(s.inpps), f(s.outpps), f(s.inbps), f(s.outbps);
}
template <typename Dest, typename F>
void each_dest_value(Dest& d, F f) {
    f(d.active_conns), f(d.inactive_conns), f(d.persist_conns);
    each_value(d.stats, f);
}

constexpr size_t kStatsValues = 10;

// A real's key: one tag byte, the address bytes it does not share with the previous real's
// (a service's reals are in key order, so they often share all but the last), and its port
// unless it is the previous real's.
constexpr uint8_t kV6 = 0x80, kSamePort = 0x40, kSharedMask = 0x1f;

// Counts the bytes an encoding takes, to size the buffer a Writer then fills.
class Sizer {
public:
    void byte(uint8_t) { ++size_; }
    void bytes(const uint8_t*, size_t n) { size_ += n; }
    void varint(uint64_t v) { size_ += 1 + static_cast<size_t>(std::bit_width(v | 1) - 1) / 7; }
    size_t size() const { return size_; }

private:
    size_t size_ = 0;
};

// Writes the encoding into a buffer a Sizer sized.
class Writer {
public:
    explicit Writer(uint8_t* out) : start_(out), p_(out) {}
    size_t written() const { return static_cast<size_t>(p_ - start_); }
    void byte(uint8_t b) { *p_++ = b; }
    void bytes(const uint8_t* from, size_t n) {
        std::memcpy(p_, from, n);
        p_ += n;
    }
    void varint(uint64_t v) {
        for (; v >= 0x80; v >>= 7) *p_++ = static_cast<uint8_t>(v | 0x80);
        *p_++ = static_cast<uint8_t>(v);
    }

private:
    uint8_t* start_;
    uint8_t* p_;
};

template <typename Out>
void write_key(Out& out, const RealKey& k, const RealKey& prev) {
    const size_t n = k.addr.size();
    size_t shared = 0;
    if (k.addr.family == prev.addr.family)
        while (shared < n && k.addr.bytes[shared] == prev.addr.bytes[shared]) ++shared;
    const bool same_port = k.port == prev.port;
    out.byte(
        static_cast<uint8_t>((k.addr.is_v6() ? kV6 : 0) | (same_port ? kSamePort : 0) | shared));
    out.bytes(k.addr.bytes.data() + shared, n - shared);
    if (!same_port) {
        out.byte(static_cast<uint8_t>(k.port >> 8));
        out.byte(static_cast<uint8_t>(k.port & 0xff));
    }
}

// Reads what a Writer wrote (our own bytes, never input from outside).
class Reader {
public:
    explicit Reader(const uint8_t* p) : p_(p) {}
    uint64_t varint() {
        uint64_t v = 0;
        for (unsigned shift = 0;; shift += 7) {
            const uint8_t b = *p_++;
            v |= static_cast<uint64_t>(b & 0x7f) << shift;
            if (!(b & 0x80)) return v;
        }
    }
    void skip(size_t values) {
        for (size_t i = 0; i < values; ++i) varint();
    }
    template <typename T>
    void value(T& field) {
        field = static_cast<T>(varint());
    }
    RealKey key(const RealKey& prev) {
        const uint8_t tag = *p_++;
        RealKey k;
        k.addr.family = (tag & kV6) ? AF_INET6 : AF_INET;
        const size_t shared = tag & kSharedMask;
        std::memcpy(k.addr.bytes.data(), prev.addr.bytes.data(), shared);
        std::memcpy(k.addr.bytes.data() + shared, p_, k.addr.size() - shared);
        p_ += k.addr.size() - shared;
        if (tag & kSamePort) {
            k.port = prev.port;
        } else {
            k.port = static_cast<uint16_t>(p_[0] << 8 | p_[1]);
            p_ += 2;
        }
        return k;
    }

private:
    const uint8_t* p_;
};

template <typename Out>
void write_service(Out& out, const IpvsStats* stats, const CountersByReal* dests) {
    if (stats) each_value(*stats, [&out](uint64_t v) { out.varint(v); });
    if (!dests) return;
    RealKey prev;
    for (const auto& [real, c] : *dests) {
        write_key(out, real, prev);
        each_dest_value(c, [&out](uint64_t v) { out.varint(v); });
        prev = real;
    }
}

// Both maps walked side by side: fn(key, stats or null, dests or null) for every service in
// either, in key order.
template <typename F>
void each_service(const std::map<ServiceKey, IpvsStats>& services,
                  const std::map<ServiceKey, CountersByReal>& dests, F fn) {
    auto s = services.begin();
    auto d = dests.begin();
    while (s != services.end() || d != dests.end()) {
        const bool take_s = s != services.end() && (d == dests.end() || !(d->first < s->first));
        const bool take_d = d != dests.end() && (s == services.end() || !(s->first < d->first));
        const ServiceKey& key = take_s ? s->first : d->first;
        fn(key, take_s ? &s->second : nullptr, take_d ? &d->second : nullptr);
        if (take_s) ++s;
        if (take_d) ++d;
    }
}

}  // namespace

IpvsCounters::IpvsCounters(double dumped_at, const std::map<ServiceKey, IpvsStats>& services,
                           const std::map<ServiceKey, CountersByReal>& dests)
    : at(dumped_at) {
    // Sized first, so nothing is held beyond what the encoding needs.
    size_t count = 0;
    Sizer sizer;
    each_service(services, dests, [&](const ServiceKey&, const IpvsStats* st, const auto* d) {
        ++count;
        write_service(sizer, st, d);
    });
    services_.reserve(count);
    bytes_.resize(sizer.size());
    Writer w(bytes_.data());
    each_service(services, dests, [&](const ServiceKey& key, const IpvsStats* st, const auto* d) {
        services_.push_back(Service{key, w.written(), d ? static_cast<uint32_t>(d->size()) : 0u,
                                    st != nullptr, d != nullptr});
        write_service(w, st, d);
    });
}

void IpvsCounters::Builder::add(const ServiceKey& key, const IpvsStats* stats,
                                const CountersByReal* dests) {
    Sizer sizer;
    write_service(sizer, stats, dests);
    const size_t offset = bytes_.size();
    bytes_.resize(offset + sizer.size());
    Writer w(bytes_.data() + offset);
    write_service(w, stats, dests);
    services_.push_back(Service{key, offset, dests ? static_cast<uint32_t>(dests->size()) : 0u,
                                stats != nullptr, dests != nullptr});
}

IpvsCounters IpvsCounters::Builder::finish(double dumped_at) && {
    // Services in key order, each with its bytes: the very object the maps' constructor makes
    // of the same counters. Added in order, the services' offsets ascend.
    const size_t n = services_.size();
    std::vector<uint32_t> order(n);
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(), [this](uint32_t a, uint32_t b) {
        return services_[a].key < services_[b].key;
    });
    auto length = [&](uint32_t i) {
        return (i + 1 < n ? services_[i + 1].offset : bytes_.size()) - services_[i].offset;
    };
    IpvsCounters out;
    out.at = dumped_at;
    out.services_.reserve(n);
    out.bytes_.reserve(bytes_.size());
    for (uint32_t i : order) {
        if (!out.services_.empty() && out.services_.back().key == services_[i].key) continue;
        Service s = services_[i];
        s.offset = out.bytes_.size();
        const auto* from = bytes_.data() + services_[i].offset;
        out.bytes_.insert(out.bytes_.end(), from, from + length(i));
        out.services_.push_back(s);
    }
    return out;
}

size_t IpvsCounters::find(const ServiceKey& key) const {
    auto it = std::lower_bound(services_.begin(), services_.end(), key,
                               [](const Service& s, const ServiceKey& k) { return s.key < k; });
    if (it == services_.end() || key < it->key) return npos;
    return static_cast<size_t>(it - services_.begin());
}

std::optional<IpvsStats> IpvsCounters::stats(size_t i) const {
    const Service& s = services_[i];
    if (!s.has_stats) return std::nullopt;
    Reader r(bytes_.data() + s.offset);
    IpvsStats out;
    each_value(out, [&r](auto& field) { r.value(field); });
    return out;
}

void IpvsCounters::dests(size_t i, CountersByReal& out) const {
    auto seq = out.extract_sequence();
    seq.clear();
    const Service& s = services_[i];
    Reader r(bytes_.data() + s.offset);
    if (s.has_stats) r.skip(kStatsValues);
    seq.reserve(s.dests);
    RealKey prev;
    for (uint32_t n = 0; n < s.dests; ++n) {
        auto& [real, c] = seq.emplace_back(r.key(prev), DestCounters{});
        each_dest_value(c, [&r](auto& field) { r.value(field); });
        prev = real;
    }
    out.adopt_sequence(boost::container::ordered_unique_range, std::move(seq));
}

IpvsCounters::Maps IpvsCounters::decode() const {
    Maps maps;
    for (size_t i = 0; i < services_.size(); ++i) {
        const ServiceKey& key = services_[i].key;
        if (auto st = stats(i)) maps.services.emplace_hint(maps.services.end(), key, *st);
        if (has_dests(i))
            dests(i, maps.dests.emplace_hint(maps.dests.end(), key, CountersByReal{})->second);
    }
    return maps;
}

std::shared_ptr<const IpvsCounters> take_counters(IpvsSnapshot& snap, double dumped_at) {
    std::shared_ptr<IpvsCounters> out;
    if (snap.counters) {
        out = std::make_shared<IpvsCounters>(std::move(*snap.counters));
        out->at = dumped_at;
    } else {
        out = std::make_shared<IpvsCounters>(dumped_at, snap.service_stats, snap.dest_counters);
    }
    snap.counters.reset();
    snap.service_stats.clear();
    snap.dest_counters.clear();
    return out;
}

}  // namespace ballast::kernel
