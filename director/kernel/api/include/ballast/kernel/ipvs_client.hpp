#pragma once
// The IPVS boundary. The reconciler sees only this interface; the libnl-genl-3
// adapter (director/kernel/ipvs) and the recording fake (tests/fakes) implement it.
#include <cstdint>
#include <map>
#include <span>
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

// What a full dump returns: the table (identity + attributes) plus counters.
struct IpvsSnapshot {
    model::IpvsTable table;
    std::map<model::ServiceKey, IpvsStats> service_stats;
    std::map<model::ServiceKey, std::map<model::RealKey, DestCounters>> dest_counters;
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
