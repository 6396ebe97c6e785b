#include "ballast/fakes/fake_ipvs.hpp"

#include <cerrno>
#include <utility>

namespace ballast::fakes {

using model::IpvsOp;

namespace {

// How a kernel reports a service it stores.
model::ServiceSpec as_stored(model::ServiceSpec spec) {
    spec.flags.persistent = spec.persistence.has_value();
    spec.flags.hashed = true;
    return spec;
}

}  // namespace

Result<kernel::IpvsSnapshot> FakeIpvs::dump() {
    if (int err = std::exchange(dump_error_, 0))
        return make_error(err, "IPVS_CMD_GET_SERVICE", "", "injected dump failure");
    kernel::IpvsSnapshot snap;
    snap.table = table_;
    for (const auto& [key, service] : table_.services) {
        auto stats = service_stats_.find(key);
        snap.service_stats[key] =
            stats == service_stats_.end() ? kernel::IpvsStats{} : stats->second;
        std::vector<kernel::CountersByReal::value_type> counters;
        counters.reserve(service.reals.size());
        auto have = counters_.find(key);
        for (const auto& [real, spec] : service.reals) {
            kernel::DestCounters c;
            if (have != counters_.end()) {
                auto it = have->second.find(real);
                if (it != have->second.end()) c = it->second;
            }
            counters.emplace_back(real, c);
        }
        snap.dest_counters[key] = kernel::counters_from_unsorted(std::move(counters));
    }
    return snap;
}

std::vector<Status> FakeIpvs::apply(std::span<const IpvsOp> ops) {
    ++apply_calls_;
    std::vector<Status> out;
    out.reserve(ops.size());
    for (const IpvsOp& op : ops) {
        ++ops_seen_;
        int err = 0;
        if (auto it = fail_at_.find(ops_seen_); it != fail_at_.end()) {
            err = it->second;
            fail_at_.erase(it);
        }
        for (const auto& [match, e] : fail_matching_)
            if (!err && match(op)) err = e;
        if (!err) err = execute(op);
        records_.push_back(Record{op, err});
        if (err)
            out.push_back(make_error(err, op.command_name(), op.key_string()));
        else
            out.push_back(Status{});
    }
    return out;
}

int FakeIpvs::execute(const IpvsOp& op) {
    auto& services = table_.services;
    auto svc = services.find(op.service);
    switch (op.kind) {
        case IpvsOp::Kind::add_service:
            if (svc != services.end())
                return svc->second.spec.same_attributes(op.service_spec) ? 0 : EEXIST;
            services.emplace(op.service,
                             model::IpvsService{op.service, as_stored(op.service_spec), {}});
            return 0;
        case IpvsOp::Kind::edit_service:
            if (svc == services.end()) return ESRCH;
            svc->second.spec = as_stored(op.service_spec);
            return 0;
        case IpvsOp::Kind::del_service:
            if (svc == services.end()) return 0;
            for (const auto& [real, spec] : svc->second.reals) set_aside(op.service, real);
            services.erase(svc);
            counters_.erase(op.service);
            service_stats_.erase(op.service);
            return 0;
        case IpvsOp::Kind::add_dest: {
            if (svc == services.end()) return ESRCH;
            auto [it, inserted] = svc->second.reals.emplace(op.real, op.real_spec);
            if (!inserted) return it->second == op.real_spec ? 0 : EEXIST;
            // Back with its connections if it was set aside with some, else with none.
            auto kept = set_aside_.find({op.service, op.real});
            if (kept != set_aside_.end()) {
                counters_[op.service][op.real] = kept->second;
                set_aside_.erase(kept);
            } else {
                counters_[op.service].erase(op.real);
            }
            return 0;
        }
        case IpvsOp::Kind::edit_dest: {
            if (svc == services.end()) return ESRCH;
            auto it = svc->second.reals.find(op.real);
            if (it == svc->second.reals.end()) return ENOENT;
            it->second = op.real_spec;
            return 0;
        }
        case IpvsOp::Kind::del_dest:
            if (svc == services.end() || !svc->second.reals.erase(op.real)) return 0;
            set_aside(op.service, op.real);
            if (auto c = counters_.find(op.service); c != counters_.end()) c->second.erase(op.real);
            return 0;
    }
    return EINVAL;
}

void FakeIpvs::load(const model::IpvsTable& table) {
    table_ = table;
    for (auto& [key, service] : table_.services) {
        service.key = key;
        service.spec = as_stored(service.spec);
    }
    counters_.clear();
    service_stats_.clear();
    set_aside_.clear();
}

void FakeIpvs::set_aside(const model::ServiceKey& service, const model::RealKey& real) {
    auto c = counters_.find(service);
    if (c == counters_.end()) return;
    auto it = c->second.find(real);
    if (it == c->second.end()) return;
    const kernel::DestCounters& n = it->second;
    if (n.active_conns + n.inactive_conns + n.persist_conns > 0) set_aside_[{service, real}] = n;
}

bool FakeIpvs::set_dest_counters(const model::ServiceKey& service, const model::RealKey& real,
                                 kernel::DestCounters counters) {
    auto svc = table_.services.find(service);
    if (svc == table_.services.end() || !svc->second.reals.count(real)) return false;
    counters_[service][real] = counters;
    return true;
}

bool FakeIpvs::set_service_stats(const model::ServiceKey& service, const kernel::IpvsStats& stats) {
    if (!table_.services.count(service)) return false;
    service_stats_[service] = stats;
    return true;
}

std::optional<kernel::DestCounters> FakeIpvs::dest_counters(const model::ServiceKey& service,
                                                            const model::RealKey& real) const {
    auto svc = table_.services.find(service);
    if (svc == table_.services.end() || !svc->second.reals.count(real)) return std::nullopt;
    auto c = counters_.find(service);
    if (c == counters_.end()) return kernel::DestCounters{};
    auto it = c->second.find(real);
    return it == c->second.end() ? kernel::DestCounters{} : it->second;
}

void FakeIpvs::fail_nth(size_t n, int err) {
    fail_at_[ops_seen_ + n] = err;
}

void FakeIpvs::fail_when(std::function<bool(const IpvsOp&)> match, int err) {
    fail_matching_.emplace_back(std::move(match), err);
}

void FakeIpvs::clear_failures() {
    fail_at_.clear();
    fail_matching_.clear();
    dump_error_ = 0;
}

}  // namespace ballast::fakes
