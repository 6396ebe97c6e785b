#pragma once
// The IPVS boundary. The reconciler sees only this interface; the generic-netlink
// adapter (director/kernel/ipvs; libnl-genl-3 only resolves the family id) and the
// recording fake (tests/fakes) implement it.
#include <map>
#include <span>
#include <vector>

#include "ballast/kernel/ipvs_counters.hpp"
#include "ballast/model/ipvs.hpp"
#include "ballast/model/ipvs_op.hpp"
#include "ballast/model/result.hpp"

namespace ballast::kernel {

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
