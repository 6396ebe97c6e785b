#include "ballast/fakes/fake_nft.hpp"

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
    // The kernel now holds the desired table, as a dump would show it.
    table_ = *want;
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
