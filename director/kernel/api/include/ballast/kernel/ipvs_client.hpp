#pragma once
// The IPVS boundary. The reconciler sees only this interface; the generic-netlink
// adapter (director/kernel/ipvs; libnl-genl-3 only resolves the family id) and the
// recording fake (tests/fakes) implement it.
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "ballast/kernel/ipvs_counters.hpp"
#include "ballast/model/ipvs.hpp"
#include "ballast/model/ipvs_op.hpp"
#include "ballast/model/result.hpp"

namespace ballast::kernel {

// What a full dump returns: the table (identity + attributes) plus counters. The counters come
// as maps, or, from a client asked to encode them as it dumps (IpvsNetlinkClient's
// encode_dump_counters, what ballastd uses), encoded in `counters` with both maps left empty:
// a daemon that only keeps them encoded never holds a large dump's maps (~7 MiB at 5,000 x 10).
struct IpvsSnapshot {
    model::IpvsTable table;
    std::map<model::ServiceKey, IpvsStats> service_stats;
    std::map<model::ServiceKey, CountersByReal> dest_counters;
    std::optional<IpvsCounters> counters;
};

// The snapshot's counters encoded and stamped `dumped_at` (encoded now if they came as maps);
// the snapshot keeps its table and no counters.
std::shared_ptr<const IpvsCounters> take_counters(IpvsSnapshot& snap, double dumped_at);

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
