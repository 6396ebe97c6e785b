#pragma once
// Builders shared by the reconcile tests.
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>

#include "ballast/kernel/ipvs_client.hpp"
#include "ballast/model/ipvs.hpp"
#include "ballast/reconcile/plan.hpp"

namespace ballast::reconcile::test {

using namespace std::chrono_literals;
using model::IpAddress;
using model::IpvsOp;
using model::IpvsService;
using model::IpvsTable;
using model::Protocol;
using model::RealKey;
using model::RealSpec;
using model::ServiceKey;
using model::ServiceSpec;
using Kind = IpvsOp::Kind;

inline ServiceKey tcp(uint32_t n, uint16_t port = 80) {
    return ServiceKey::inet(Protocol::tcp, IpAddress::v4(0xc0000200u + n), port);  // 192.0.2.n
}
inline ServiceKey udp(uint32_t n, uint16_t port = 53) {
    return ServiceKey::inet(Protocol::udp, IpAddress::v4(0xc0000200u + n), port);
}
inline RealKey real(uint32_t n, uint16_t port = 8080) {
    return RealKey{IpAddress::v4(0x0a000000u + n), port};  // 10.0.x.y
}
inline RealSpec weight(model::Weight w) {
    RealSpec s;
    s.weight = w;
    return s;
}

// A service with reals 1..n_reals at weight 1.
inline IpvsService service(ServiceKey key, size_t n_reals = 0, std::string scheduler = "wlc") {
    IpvsService s;
    s.key = key;
    s.spec.scheduler = std::move(scheduler);
    for (size_t i = 1; i <= n_reals; ++i) s.reals[real(static_cast<uint32_t>(i))] = weight(1);
    return s;
}

inline void put(IpvsTable& t, IpvsService s) {
    t.services[s.key] = std::move(s);
}

// What a dump of `table` looks like: hashed flag set, every dest with zero counters.
inline kernel::IpvsSnapshot snapshot_of(IpvsTable table) {
    kernel::IpvsSnapshot snap;
    for (auto& [key, s] : table.services) {
        s.spec.flags.hashed = true;
        s.spec.flags.persistent = s.spec.persistence.has_value();
        auto& counters = snap.dest_counters[key];
        for (const auto& [r, spec] : s.reals) counters[r] = {};
    }
    snap.table = std::move(table);
    return snap;
}

inline kernel::DestCounters conns(uint32_t active, uint32_t inactive = 0) {
    kernel::DestCounters c;
    c.active_conns = active;
    c.inactive_conns = inactive;
    return c;
}

// A big table: n_services TCP services on distinct VIPs, each with n_reals reals.
inline IpvsTable big_table(uint32_t n_services, uint32_t n_reals) {
    IpvsTable t;
    for (uint32_t s = 0; s < n_services; ++s) {
        ServiceKey key = ServiceKey::inet(Protocol::tcp, IpAddress::v4(0x0b000000u + s), 80);
        IpvsService svc;
        svc.key = key;
        svc.spec.scheduler = "wlc";
        for (uint32_t r = 0; r < n_reals; ++r)
            svc.reals.emplace(RealKey{IpAddress::v4(0x0c000000u + s * 16 + r), 8080}, weight(1));
        t.services.emplace(key, std::move(svc));
    }
    return t;
}

// Base seed for the property tests; BALLAST_SEED overrides it to replay a failure.
inline uint32_t base_seed() {
    if (const char* s = std::getenv("BALLAST_SEED"))
        return static_cast<uint32_t>(std::strtoul(s, nullptr, 0));
    return 20261122u;
}

}  // namespace ballast::reconcile::test
