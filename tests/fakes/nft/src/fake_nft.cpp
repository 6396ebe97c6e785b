#include "ballast/fakes/fake_nft.hpp"

#include <algorithm>
#include <variant>

namespace ballast::fakes {

Result<kernel::NatObserved> FakeNftClient::dump() {
    if (!table_) return kernel::NatObserved{};
    return nft::to_observed(*table_);
}

Result<kernel::NftApplied> FakeNftClient::apply(const kernel::NatDesired& desired) {
    Record rec{desired, false, 0};
    auto want = nft::build_table(desired);
    if (!want) {
        rec.error = want.error().code;
        records_.push_back(rec);
        return want.error();
    }
    auto ops = nft::plan(table_, *want);
    kernel::NftApplied out;
    if (ops.empty()) {
        records_.push_back(rec);
        return out;
    }
    if (fail_next_) {
        rec.error = *fail_next_;
        fail_next_.reset();
        records_.push_back(rec);
        return make_error(rec.error, "nfnetlink batch", nft::kTableName, "injected failure");
    }
    // The kernel now holds the desired table, as a dump would show it, with the sets and chains
    // an operator added to it: a batch touches only ours, unless it replaces the whole table.
    const bool replaced = std::any_of(ops.begin(), ops.end(), [](const nft::NftOp& op) {
        return std::holds_alternative<nft::DeleteTable>(op);
    });
    std::vector<nft::SetModel> foreign_sets;
    std::vector<nft::ChainModel> foreign_chains;
    if (table_ && !replaced) {
        for (const auto& set : table_->sets)
            if (!want->find_set(set.name)) foreign_sets.push_back(set);
        for (const auto& chain : table_->chains)
            if (!want->find_chain(chain.name)) foreign_chains.push_back(chain);
    }
    table_ = *want;
    table_->sets.insert(table_->sets.end(), foreign_sets.begin(), foreign_sets.end());
    table_->chains.insert(table_->chains.end(), foreign_chains.begin(), foreign_chains.end());
    for (auto& c : table_->chains)
        for (auto& r : c.rules) r.handle = next_handle_++;
    for (auto& s : table_->sets) s.zero_marker = s.is_interval() && !s.elements.empty();
    out.batch_sent = rec.batch_sent = true;
    for (const auto& op : ops) out.changes.push_back(nft::describe(op));
    records_.push_back(rec);
    return out;
}

Status FakeNftClient::remove() {
    table_.reset();
    return {};
}

size_t FakeNftClient::batches_sent() const {
    size_t n = 0;
    for (const auto& r : records_) n += r.batch_sent;
    return n;
}

}  // namespace ballast::fakes
