#pragma once
// FakeIpvs: an in-memory IpvsClient with the semantics our netlink adapter promises, for tests.
//   - add of an existing item with the same attributes succeeds (idempotent); with different
//     attributes it fails EEXIST. Service attributes compare with same_attributes().
//   - an op on a missing service fails ESRCH, except the deletes (absent delete succeeds);
//     edit of a missing destination fails ENOENT. (The kernel's codes, as the IpvsClient
//     contract in tests/contract/ipvs checks against it.)
//   - delete of an absent service or destination succeeds.
//   - deleting a service deletes its destinations. A deleted destination that still has
//     connections keeps them: added again (to the same service, even re-created), it comes back
//     with those counters, as the kernel takes it back from its trash; one without comes back
//     with zero counters.
//   - stored services carry the kernel-internal `hashed` flag and `persistent` derived from
//     persistence, as a kernel dump does.
//   - every op passed to apply() is recorded with its outcome, in order.
//   - failure injection: fail the Nth op (1-based, counted over the fake's life) or every op
//     matching a predicate, with a given errno; a failed op changes nothing.
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "ballast/kernel/ipvs_client.hpp"

namespace ballast::fakes {

class FakeIpvs : public kernel::IpvsClient {
public:
    struct Record {
        model::IpvsOp op;
        int error = 0;  // errno the op failed with; 0 = success
    };

    FakeIpvs() = default;
    explicit FakeIpvs(const model::IpvsTable& initial) { load(initial); }

    Result<kernel::IpvsSnapshot> dump() override;
    std::vector<Status> apply(std::span<const model::IpvsOp> ops) override;

    // Replaces the state without recording ops (stored the way a kernel would report it);
    // every destination gets zero counters.
    void load(const model::IpvsTable& table);
    const model::IpvsTable& table() const { return table_; }

    // Connection counters reported by dump() for one destination (must exist: returns false
    // otherwise). A new destination starts at zero.
    bool set_dest_counters(const model::ServiceKey& service, const model::RealKey& real,
                           kernel::DestCounters counters);
    std::optional<kernel::DestCounters> dest_counters(const model::ServiceKey& service,
                                                      const model::RealKey& real) const;
    // A service's stats as dump() reports them (the service must exist: returns false
    // otherwise); zero until set, and again once the service is deleted.
    bool set_service_stats(const model::ServiceKey& service, const kernel::IpvsStats& stats);

    // The Nth op from now on, counted over all apply() calls (1 = the next op), fails with err.
    void fail_nth(size_t n, int err);
    // Every op matching `match` fails with err until clear_failures().
    void fail_when(std::function<bool(const model::IpvsOp&)> match, int err);
    // The next dump() fails with err.
    void fail_next_dump(int err) { dump_error_ = err; }
    void clear_failures();

    const std::vector<Record>& records() const { return records_; }
    size_t op_count() const { return records_.size(); }
    size_t apply_calls() const { return apply_calls_; }
    void clear_records() { records_.clear(); }

private:
    int execute(const model::IpvsOp& op);  // errno, 0 = success
    // Keeps a deleted destination's counters while it has connections (the kernel's trash).
    void set_aside(const model::ServiceKey& service, const model::RealKey& real);

    model::IpvsTable table_;
    std::map<model::ServiceKey, std::map<model::RealKey, kernel::DestCounters>> counters_;
    std::map<model::ServiceKey, kernel::IpvsStats> service_stats_;
    std::map<std::pair<model::ServiceKey, model::RealKey>, kernel::DestCounters> set_aside_;
    std::vector<Record> records_;
    size_t ops_seen_ = 0;
    size_t apply_calls_ = 0;
    std::map<size_t, int> fail_at_;  // absolute op number -> errno
    std::vector<std::pair<std::function<bool(const model::IpvsOp&)>, int>> fail_matching_;
    int dump_error_ = 0;
};

}  // namespace ballast::fakes
