#include "ballast/reconcile/plan.hpp"

#include <cstdint>
#include <optional>

namespace ballast::reconcile {

using model::IpvsOp;
using model::IpvsService;
using model::RealKey;
using model::RealSpec;
using model::ServiceKey;

Ownership Ownership::of(const model::IpvsTable& table) {
    Ownership o;
    for (const auto& [key, service] : table.services)
        o.services.emplace_hint(o.services.end(), key);
    return o;
}

model::ServiceSpec normalized(model::ServiceSpec spec) {
    spec.flags.persistent = spec.persistence.has_value();
    spec.flags.hashed = false;
    return spec;
}

namespace {

constexpr uint32_t kUnknownConnections = UINT32_MAX;

// UDP has no connection state worth waiting for: its entries only time out.
bool removes_at_once(const ServiceKey& k) {
    return !k.is_fwmark() && k.protocol == model::Protocol::udp;
}

using RealCounters = kernel::CountersByReal;

class Planner {
public:
    Planner(const kernel::IpvsSnapshot& observed, const DrainLedger& ledger, TimePoint now,
            const PlanOptions& options)
        : observed_(observed), ledger_(ledger), now_(now), options_(options) {}

    // Room for the adds of services the kernel lacks (all of a cold start's 55,000 ops at
    // 5,000 x 10), so that the op list is not regrown and copied as it fills.
    void reserve(size_t services, size_t dests) {
        service_ops_.reserve(services);
        dest_ops().reserve(services + dests);
    }

    PlanResult finish() {
        // Phases: service adds/edits, destination ops, service deletes. The destination ops,
        // by far the most, were written where they stay: the few service ops go in front.
        out_.ops.insert(out_.ops.begin(), std::make_move_iterator(service_ops_.begin()),
                        std::make_move_iterator(service_ops_.end()));
        append(out_.ops, service_dels_);
        return std::move(out_);
    }

    void own(const ServiceKey& k) {
        out_.ownership.services.emplace_hint(out_.ownership.services.end(), k);
    }

    void foreign(const ServiceKey& k) { out_.report.foreign.push_back(k); }
    void adopted(const ServiceKey& k) { out_.report.adopted.push_back(k); }

    void add_service(const ServiceKey& key, const IpvsService& want) {
        service_ops_.push_back(IpvsOp::add_service(key, normalized(want.spec)));
        for (const auto& [real, spec] : want.reals)
            dest_ops().push_back(IpvsOp::add_dest(key, real, spec));
    }

    void update_service(const ServiceKey& key, const IpvsService& have, const IpvsService& want) {
        if (!have.spec.same_attributes(want.spec))
            service_ops_.push_back(IpvsOp::edit_service(key, normalized(want.spec)));
        std::optional<const RealCounters*> counters;  // looked up for the first real to drain
        auto h = have.reals.begin();
        auto w = want.reals.begin();
        while (h != have.reals.end() || w != want.reals.end()) {
            if (w == want.reals.end() || (h != have.reals.end() && h->first < w->first)) {
                if (!counters) counters = counters_of(key);
                drain_real(key, h->first, h->second, *counters);
                ++h;
            } else if (h == have.reals.end() || w->first < h->first) {
                dest_ops().push_back(IpvsOp::add_dest(key, w->first, w->second));
                ++w;
            } else {
                if (h->second != w->second)
                    dest_ops().push_back(IpvsOp::edit_dest(key, w->first, w->second));
                ++h;
                ++w;
            }
        }
    }

    void remove_service(const ServiceKey& key, const IpvsService& have) {
        if (removes_at_once(key) || have.reals.empty()) {
            service_dels_.push_back(IpvsOp::del_service(key));
            return;
        }
        // Quiesce every real; delete the service (and with it its reals) once all are drained.
        const RealCounters* counters = counters_of(key);
        std::vector<IpvsOp> quiesce;
        std::vector<DrainState> waiting, timed_out;
        bool all_drained = true;
        for (const auto& [real, spec] : have.reals) {
            auto d = drain_view(key, real, counters);
            bool drained = d.timed_out || (spec.weight == 0 && d.state.connections == 0);
            all_drained = all_drained && drained;
            if (spec.weight != 0) quiesce.push_back(weight_zero(key, real, spec));
            if (d.timed_out && d.state.connections != 0) timed_out.push_back(d.state);
            waiting.push_back(d.state);
        }
        if (all_drained) {
            service_dels_.push_back(IpvsOp::del_service(key));
            append(out_.report.timed_out, timed_out);
        } else {
            append(dest_ops(), quiesce);
            append(out_.report.draining, waiting);
        }
    }

private:
    std::vector<IpvsOp>& dest_ops() { return out_.ops; }  // finish() puts the rest around them

    struct DrainView {
        DrainState state;
        bool timed_out = false;
    };

    template <typename T>
    static void append(std::vector<T>& to, std::vector<T>& from) {
        to.insert(to.end(), std::make_move_iterator(from.begin()),
                  std::make_move_iterator(from.end()));
    }

    static IpvsOp weight_zero(const ServiceKey& s, const RealKey& r, RealSpec spec) {
        spec.weight = 0;
        return IpvsOp::edit_dest(s, r, spec);
    }

    // Only the services with a real to drain are looked up: from encoded counters, those are
    // decoded here (once each) and nothing else.
    const RealCounters* counters_of(const ServiceKey& s) {
        if (observed_.counters) {
            const size_t i = observed_.counters->find(s);
            if (i == kernel::IpvsCounters::npos || !observed_.counters->has_dests(i))
                return nullptr;
            auto [it, fresh] = decoded_.try_emplace(s);
            if (fresh) observed_.counters->dests(i, it->second);
            return &it->second;
        }
        auto it = observed_.dest_counters.find(s);
        return it == observed_.dest_counters.end() ? nullptr : &it->second;
    }

    // Looks up (and records in the next ledger) when this real began draining.
    DrainView drain_view(const ServiceKey& s, const RealKey& r, const RealCounters* counters) {
        DestId id{s, r};
        auto it = ledger_.since.find(id);
        TimePoint since = it == ledger_.since.end() ? now_ : it->second;
        out_.ledger.since.emplace_hint(out_.ledger.since.end(), std::move(id), since);

        uint32_t connections = kUnknownConnections;
        if (counters) {
            auto c = counters->find(r);
            if (c != counters->end()) connections = c->second.total_conns();
        }
        return DrainView{DrainState{s, r, since, connections},
                         now_ - since >= options_.drain_timeout};
    }

    void drain_real(const ServiceKey& s, const RealKey& r, const RealSpec& spec,
                    const RealCounters* counters) {
        if (removes_at_once(s)) {
            dest_ops().push_back(IpvsOp::del_dest(s, r));
            return;
        }
        auto d = drain_view(s, r, counters);
        if (d.timed_out) {
            dest_ops().push_back(IpvsOp::del_dest(s, r));
            if (d.state.connections != 0) out_.report.timed_out.push_back(d.state);
        } else if (spec.weight != 0) {
            dest_ops().push_back(weight_zero(s, r, spec));
            out_.report.draining.push_back(d.state);
        } else if (d.state.connections == 0) {
            dest_ops().push_back(IpvsOp::del_dest(s, r));
        } else {
            out_.report.draining.push_back(d.state);
        }
    }

    const kernel::IpvsSnapshot& observed_;
    std::map<ServiceKey, RealCounters> decoded_;  // from observed_.counters
    const DrainLedger& ledger_;
    TimePoint now_;
    const PlanOptions& options_;
    PlanResult out_;
    std::vector<IpvsOp> service_ops_, service_dels_;
};

}  // namespace

PlanResult plan(const kernel::IpvsSnapshot& observed, const model::IpvsTable& desired,
                const Ownership& ownership, const DrainLedger& ledger, TimePoint now,
                const PlanOptions& options) {
    return plan(observed, desired, ownership, ledger, now, options, KeyRange{});
}

PlanResult plan(const kernel::IpvsSnapshot& observed, const model::IpvsTable& desired,
                const Ownership& ownership, const DrainLedger& ledger, TimePoint now,
                const PlanOptions& options, const KeyRange& range) {
    Planner p(observed, ledger, now, options);
    // [begin, end) of a key-ordered container within the range.
    const auto bounds = [&](const auto& c) {
        return std::pair(range.from ? c.lower_bound(*range.from) : c.begin(),
                         range.to ? c.lower_bound(*range.to) : c.end());
    };
    // The walk below visits keys in ascending order, so ownership is walked alongside it.
    auto owned = bounds(ownership.services).first;
    auto is_owned = [&](const ServiceKey& k) {
        while (owned != ownership.services.end() && *owned < k) ++owned;
        return owned != ownership.services.end() && *owned == k;
    };
    const auto [have_begin, have_end] = bounds(observed.table.services);
    const auto [want_begin, want_end] = bounds(desired.services);
    {
        // What the kernel lacks entirely, counted by a walk over the keys alone: a resync of
        // an intact table reserves nothing.
        size_t services = 0, dests = 0;
        auto h = have_begin;
        for (auto w = want_begin; w != want_end; ++w) {
            while (h != have_end && h->first < w->first) ++h;
            if (h != have_end && h->first == w->first) continue;
            ++services;
            dests += w->second.reals.size();
        }
        p.reserve(services, dests);
    }
    auto h = have_begin;
    auto w = want_begin;
    // One merge walk over both key-ordered tables: linear in their size.
    while (h != have_end || w != want_end) {
        if (w == want_end || (h != have_end && h->first < w->first)) {
            if (is_owned(h->first)) {
                p.own(h->first);  // until a dump shows it gone
                p.remove_service(h->first, h->second);
            } else {
                p.foreign(h->first);
            }
            ++h;
        } else if (h == have_end || w->first < h->first) {
            p.own(w->first);
            p.add_service(w->first, w->second);
            ++w;
        } else {
            p.own(w->first);
            if (!is_owned(w->first)) p.adopted(w->first);
            p.update_service(w->first, h->second, w->second);
            ++h;
            ++w;
        }
    }
    return p.finish();
}

void merge_into(PlanResult& into, PlanResult&& part) {
    const auto append = [](auto& to, auto& from) {
        to.insert(to.end(), std::make_move_iterator(from.begin()),
                  std::make_move_iterator(from.end()));
    };
    append(into.ops, part.ops);
    // Key-ordered, each part above the last: every insert lands at the end.
    for (auto& e : part.ledger.since) into.ledger.since.emplace_hint(into.ledger.since.end(), e);
    for (const auto& k : part.ownership.services)
        into.ownership.services.emplace_hint(into.ownership.services.end(), k);
    append(into.report.foreign, part.report.foreign);
    append(into.report.adopted, part.report.adopted);
    append(into.report.draining, part.report.draining);
    append(into.report.timed_out, part.report.timed_out);
}

}  // namespace ballast::reconcile
