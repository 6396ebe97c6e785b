#pragma once
// FakeNftClient: an in-memory NftClient with the semantics NetlinkNftClient promises.
//   - apply() builds the table with the real builder (same validation errors) and plans
//     against the stored table with the real planner: an equal state sends no batch
//     (batch_sent == false); otherwise the stored table becomes the desired one (all or
//     nothing, as one kernel batch) and the planned changes are reported. Sets and chains an
//     operator added to the table stay, unless the batch replaces the whole table.
//   - dump() reports the stored table the way the netlink client does.
//   - flush_ruleset() forgets the table (an operator's `nft flush ruleset`); table() gives
//     mutable access for other drift (delete an element or a rule).
//   - fail_next_apply(errno): the next apply that would send a batch fails and changes nothing.
//   - every apply() call is recorded (desired state, result).
#include <optional>
#include <vector>

#include "ballast/kernel/nft_client.hpp"
#include "ballast/nft/ruleset.hpp"

namespace ballast::fakes {

class FakeNftClient : public kernel::NftClient {
public:
    struct Record {
        kernel::NatDesired desired;
        bool batch_sent = false;
        int error = 0;  // errno the apply failed with; 0 = success
    };

    Result<kernel::NatObserved> dump() override;
    Result<kernel::NftApplied> apply(const kernel::NatDesired& desired) override;
    Status remove() override;

    void flush_ruleset() { table_.reset(); }
    std::optional<nft::TableModel>& table() { return table_; }
    void fail_next_apply(int error) { fail_next_ = error; }
    const std::vector<Record>& records() const { return records_; }
    size_t batches_sent() const;

private:
    std::optional<nft::TableModel> table_;
    std::optional<int> fail_next_;
    std::vector<Record> records_;
    uint64_t next_handle_ = 1;
};

}  // namespace ballast::fakes
