#include "ballast/control/published.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

namespace ballast::control {

void PublishedState::set_service(const model::ServiceKey& key,
                                 std::shared_ptr<const PublishedService> entry) {
    std::lock_guard lock(mutex_);
    if (entry) {
        if (!services_.count(key)) order_.push_back(key);
        services_[key] = std::move(entry);
    } else {
        services_.erase(key);
        std::erase(order_, key);
    }
}

void PublishedState::set_order(std::vector<model::ServiceKey> order) {
    std::lock_guard lock(mutex_);
    std::erase_if(order, [&](const auto& k) { return !services_.count(k); });
    std::map<model::ServiceKey, std::shared_ptr<const PublishedService>> kept;
    for (const auto& k : order) kept[k] = services_[k];
    services_ = std::move(kept);
    order_ = std::move(order);
}

void PublishedState::set_counters(std::shared_ptr<const PublishedCounters> counters) {
    std::lock_guard lock(mutex_);
    // A slower dump that finishes after a newer one does not replace it.
    if (counters_ && counters && counters->at < counters_->at) return;
    counters_ = std::move(counters);
}

void PublishedState::set_reconcile(ReconcileView view) {
    std::lock_guard lock(mutex_);
    reconcile_ = std::move(view);
}

void PublishedState::add_events(const std::vector<EventView>& events) {
    std::lock_guard lock(mutex_);
    for (const auto& e : events) {
        events_.push_back(e);
        if (events_.size() > kEventRing) events_.pop_front();
    }
}

PublishedState::Snapshot PublishedState::snapshot(
    const std::optional<model::ServiceKey>& only) const {
    Snapshot s;
    std::lock_guard lock(mutex_);
    if (only) {
        if (auto it = services_.find(*only); it != services_.end())
            s.services.push_back(it->second);
    } else {
        s.services.reserve(order_.size());
        for (const auto& k : order_) s.services.push_back(services_.at(k));
    }
    s.counters = counters_;
    s.reconcile = reconcile_;
    const size_t n = std::min(events_.size(), kRecentEvents);
    s.recent_events.assign(events_.end() - static_cast<long>(n), events_.end());
    return s;
}

std::shared_ptr<const PublishedCounters> PublishedState::counters() const {
    std::lock_guard lock(mutex_);
    return counters_;
}

std::vector<EventView> PublishedState::events(size_t last_n) const {
    std::lock_guard lock(mutex_);
    const size_t n = std::min(events_.size(), last_n);
    return {events_.end() - static_cast<long>(n), events_.end()};
}

size_t PublishedState::service_count() const {
    std::lock_guard lock(mutex_);
    return services_.size();
}

namespace {
TrafficView traffic_of(const kernel::IpvsStats& s) {
    return TrafficView{s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes,
                       s.cps,   s.inpps,  s.outpps,  s.inbps,   s.outbps};
}
}  // namespace

std::mutex& CheckSlot::lock_of() const {
    static std::array<std::mutex, 64> locks;
    return locks[(reinterpret_cast<uintptr_t>(this) / alignof(CheckSlot)) % locks.size()];
}

CheckRunView CheckSlot::read() const {
    CheckRunView v;
    v.check = key_.to_string();
    std::lock_guard lock(lock_of());
    v.state = std::string(health::to_string(state_));
    v.since = since_;
    if (runs_ > 0) v.last_at = last_at_;
    v.last_ok = last_ok_;
    v.last_reason = last_reason_;
    v.last_duration_ms = last_duration_ms_;
    v.runs = runs_;
    return v;
}

void CheckSlot::record_run(UnixSeconds at, bool ok, std::string_view reason, double duration_ms) {
    std::lock_guard lock(lock_of());
    last_at_ = at;
    last_ok_ = ok;
    last_reason_ = reason;
    last_duration_ms_ = duration_ms;
    ++runs_;
}

health::State CheckSlot::record_state(health::State state, UnixSeconds since) {
    std::lock_guard lock(lock_of());
    const auto before = state_;
    state_ = state;
    since_ = since;
    return before;
}

ServiceView complete_view(const PublishedService& entry, const PublishedCounters* counters) {
    ServiceView v = entry.view;
    const kernel::CountersByReal* dests = nullptr;
    if (counters) {
        if (auto it = counters->services.find(v.key); it != counters->services.end())
            v.traffic = traffic_of(it->second);
        if (auto it = counters->dests.find(v.key); it != counters->dests.end()) dests = &it->second;
    }
    for (size_t i = 0; i < v.reals.size(); ++i) {
        auto& r = v.reals[i];
        if (i < entry.main.size() && entry.main[i]) r.check = entry.main[i]->read();
        if (i < entry.agent.size() && entry.agent[i]) r.agent = entry.agent[i]->read();
        if (!dests || !r.present || i >= entry.keys.size()) continue;
        auto it = dests->find(entry.keys[i]);
        if (it == dests->end()) continue;
        r.active = it->second.active_conns;
        r.inactive = it->second.inactive_conns;
        r.persistent = it->second.persist_conns;
        r.traffic = traffic_of(it->second.stats);
    }
    return v;
}

std::string reason_class(std::string_view reason) {
    const auto cut = reason.find_first_of(":(");
    std::string_view head = reason.substr(0, cut);
    while (!head.empty() && head.back() == ' ') head.remove_suffix(1);
    while (!head.empty() && head.front() == ' ') head.remove_prefix(1);
    if (head.size() > 48) head = head.substr(0, 48);
    return head.empty() ? std::string("unknown") : std::string(head);
}

}  // namespace ballast::control
