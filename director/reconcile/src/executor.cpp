#include "ballast/reconcile/executor.hpp"

#include <algorithm>
#include <cerrno>
#include <set>

namespace ballast::reconcile {

using model::IpvsOp;

DirtyKey DirtyKey::of(const IpvsOp& op) {
    if (op.is_dest_op()) return DirtyKey{op.service, op.real};
    return DirtyKey{op.service, std::nullopt};
}

std::string DirtyKey::to_string() const {
    std::string s = service.to_string();
    if (real) s += " -> " + real->to_string();
    return s;
}

namespace {

class Execution {
public:
    Execution(kernel::IpvsClient& client, std::span<const IpvsOp> ops)
        : client_(client), ops_(ops) {}

    ExecutionReport run() {
        size_t start = 0;
        // The service of the dest op before, when that op was one too: this op's service was
        // then looked up already (a run of one service's dests has nothing to flush or learn).
        const model::ServiceKey* seen = nullptr;
        bool seen_failed = false;
        for (size_t i = 0; i < ops_.size(); ++i) {
            const IpvsOp& op = ops_[i];
            if (!op.is_dest_op()) {
                if (op.kind == IpvsOp::Kind::add_service) added_in_batch_.insert(op.service);
                seen = nullptr;
                continue;
            }
            if (seen && *seen == op.service) {
                if (seen_failed) {
                    flush(start, i);
                    skip(i);
                    start = i + 1;
                }
                continue;
            }
            // Learn whether this dest's service was added before sending the dest.
            if (added_in_batch_.count(op.service)) {
                flush(start, i);
                start = i;
            }
            seen = &op.service;
            seen_failed = failed_adds_.count(op.service) > 0;
            if (seen_failed) {
                flush(start, i);
                skip(i);
                start = i + 1;
            }
        }
        flush(start, ops_.size());
        return std::move(report_);
    }

private:
    void flush(size_t begin, size_t end) {
        added_in_batch_.clear();
        if (begin >= end) return;
        auto batch = ops_.subspan(begin, end - begin);
        std::vector<Status> statuses = client_.apply(batch);
        ++report_.apply_calls;
        for (size_t j = 0; j < batch.size(); ++j) {
            if (j < statuses.size() && statuses[j].ok()) {
                ++report_.applied;
                continue;
            }
            Error e = j < statuses.size()
                          ? statuses[j].error()
                          : make_error(EIO, "", "", "the IPVS client returned no status");
            if (batch[j].kind == IpvsOp::Kind::add_service) failed_adds_.insert(batch[j].service);
            fail(begin + j, std::move(e), false);
        }
    }

    void skip(size_t i) {
        const IpvsOp& op = ops_[i];
        auto failed = report_.dirty.find(DirtyKey{op.service, std::nullopt});
        std::string why = "not applied: adding service " + op.service.to_string() + " failed";
        if (failed != report_.dirty.end()) why += ": " + failed->second.describe();
        fail(i, make_error(ECANCELED, "", "", std::move(why)), true);
    }

    void fail(size_t i, Error e, bool skipped) {
        const IpvsOp& op = ops_[i];
        DirtyKey key = DirtyKey::of(op);
        if (e.op.empty()) e.op = op.command_name();
        if (e.key.empty()) e.key = key.to_string();
        report_.dirty.emplace(std::move(key), e);
        report_.failures.push_back(OpFailure{i, op, std::move(e), skipped});
    }

    kernel::IpvsClient& client_;
    std::span<const IpvsOp> ops_;
    ExecutionReport report_;
    std::set<model::ServiceKey> added_in_batch_;  // add_service ops sent with the pending batch
    std::set<model::ServiceKey> failed_adds_;
};

}  // namespace

ExecutionReport execute(kernel::IpvsClient& client, std::span<const IpvsOp> ops) {
    return Execution(client, ops).run();
}

void merge_into(ExecutionReport& into, ExecutionReport&& part, size_t offset) {
    into.applied += part.applied;
    into.apply_calls += part.apply_calls;
    for (auto& f : part.failures) {
        f.index += offset;
        into.failures.push_back(std::move(f));
    }
    into.dirty.merge(part.dirty);  // a key already there keeps its first error
}

void apply_to(model::IpvsTable& table, const IpvsOp& op) {
    TableWriter(table).apply(op);
}

void TableWriter::apply(const IpvsOp& op) {
    auto& services = table_.services;
    auto svc =
        last_ != services.end() && last_->first == op.service ? last_ : services.find(op.service);
    last_ = svc;
    switch (op.kind) {
        case IpvsOp::Kind::add_service:
        case IpvsOp::Kind::edit_service:
            if (svc == services.end())
                svc = services.emplace(op.service, model::IpvsService{op.service, {}, {}}).first;
            svc->second.spec = op.service_spec;
            last_ = svc;
            return;
        case IpvsOp::Kind::del_service:
            if (svc != services.end()) services.erase(svc);
            last_ = services.end();
            return;
        case IpvsOp::Kind::add_dest:
        case IpvsOp::Kind::edit_dest:
            if (svc != services.end()) svc->second.reals[op.real] = op.real_spec;
            return;
        case IpvsOp::Kind::del_dest:
            if (svc != services.end()) svc->second.reals.erase(op.real);
            return;
    }
}

void apply_succeeded(model::IpvsTable& table, std::span<const IpvsOp> ops,
                     const ExecutionReport& report) {
    auto failure = report.failures.begin();  // in plan order
    TableWriter writer(table);
    for (size_t i = 0; i < ops.size(); ++i) {
        if (failure != report.failures.end() && failure->index == i) {
            ++failure;
            continue;
        }
        writer.apply(ops[i]);
    }
}

Clock::duration retry_delay(const RetryPolicy& policy, unsigned consecutive_failures) {
    if (consecutive_failures == 0) return Clock::duration::zero();
    Clock::duration d = std::min(policy.initial_delay, policy.max_delay);
    for (unsigned i = 1; i < consecutive_failures && d < policy.max_delay; ++i) {
        // Compare before multiplying so a long failure streak cannot overflow.
        if (policy.multiplier <= 1) break;
        if (d > policy.max_delay / policy.multiplier) return policy.max_delay;
        d *= policy.multiplier;
    }
    return std::min(d, policy.max_delay);
}

RetryState next_retry(const RetryPolicy& policy, const RetryState& previous,
                      const ExecutionReport& report, TimePoint now) {
    if (report.ok()) return RetryState{};
    RetryState next;
    next.consecutive_failures = previous.consecutive_failures + 1;
    next.next_attempt = now + retry_delay(policy, next.consecutive_failures);
    return next;
}

}  // namespace ballast::reconcile
