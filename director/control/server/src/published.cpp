#include "ballast/control/published.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <type_traits>

#include "ballast/control/director_views.hpp"

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

CheckRuns::CheckRuns(std::shared_ptr<const health::CheckPlan> plan, UnixSeconds since,
                     const CheckRuns* before)
    : plan_(std::move(plan)), runs_(plan_->checks.size()) {
    const auto& now = plan_->checks;
    size_t b = 0;
    const size_t old = before ? before->size() : 0;
    for (size_t i = 0; i < now.size(); ++i) {
        // Both in key order: walked side by side.
        const auto& key = now[i].first;
        while (b < old && before->key(static_cast<uint32_t>(b)) < key) ++b;
        if (b < old && before->key(static_cast<uint32_t>(b)) == key)
            runs_[i] = before->runs_[b];  // the loop, the only writer, reads without the lock
        else
            runs_[i].since = since;
    }
}

template <typename K>
uint32_t CheckRuns::find_key(const K& key) const {
    auto it = plan_->checks.find(key);
    return it == plan_->checks.end() ? kNone : static_cast<uint32_t>(it - plan_->checks.begin());
}

uint32_t CheckRuns::find(const health::CheckKey& key) const {
    return find_key(key);
}

uint32_t CheckRuns::find(const health::CheckRef& key) const {
    return find_key(key);
}

std::mutex& CheckRuns::lock_of(uint32_t i) {
    static std::array<std::mutex, 64> locks;
    return locks[i % locks.size()];
}

CheckRunView CheckRuns::read(uint32_t i) const {
    CheckRunView v;
    v.check = key(i).to_string();
    std::lock_guard lock(lock_of(i));
    const Run& r = runs_[i];
    v.state = std::string(health::to_string(r.state));
    v.since = r.since;
    if (r.runs > 0) v.last_at = r.last_at;
    v.last_ok = r.last_ok;
    v.last_reason = r.last_reason.str();
    v.last_duration_ms = r.last_duration_ms;
    v.runs = r.runs;
    return v;
}

void CheckRuns::record_run(uint32_t i, UnixSeconds at, bool ok, std::string_view reason,
                           double duration_ms) {
    Run& r = runs_[i];
    // The loop is the only writer: it reads its own run without the lock.
    const bool changed = r.last_reason != reason;
    model::SharedText text;
    if (changed) text = reason;
    std::lock_guard lock(lock_of(i));
    r.last_at = at;
    r.last_ok = ok;
    if (changed) r.last_reason.swap(text);  // the text before is released after the lock
    r.last_duration_ms = static_cast<float>(duration_ms);
    ++r.runs;
}

health::State CheckRuns::record_state(uint32_t i, health::State state, UnixSeconds since) {
    std::lock_guard lock(lock_of(i));
    Run& r = runs_[i];
    const auto before = r.state;
    r.state = state;
    r.since = since;
    return before;
}

ServiceView decided_view(const PublishedService& entry) {
    const auto& every = entry.every_service;
    return service_view(*entry.decision, entry.scheduler, entry.check_type,
                        [&every](size_t i) { return i < every.size() && every[i]; });
}

ServiceView complete_view(const PublishedService& entry, const PublishedCounters* counters) {
    ServiceView v = decided_view(entry);
    kernel::CountersByReal dests;  // none when the dump did not list the service's
    if (const size_t at = counters ? counters->find(v.key) : PublishedCounters::npos;
        at != PublishedCounters::npos) {
        if (auto stats = counters->stats(at)) v.traffic = traffic_of(*stats);
        counters->dests(at, dests);
    }
    const auto& reals = entry.decision->reals;
    const auto run_of = [&entry](const std::vector<uint32_t>& slots,
                                 size_t i) -> std::optional<CheckRunView> {
        if (i >= slots.size() || slots[i] == CheckRuns::kNone || !entry.runs) return std::nullopt;
        return entry.runs->read(slots[i]);
    };
    for (size_t i = 0; i < v.reals.size(); ++i) {
        auto& r = v.reals[i];
        if (auto run = run_of(entry.main, i)) r.check = std::move(*run);
        if (auto run = run_of(entry.agent, i)) r.agent = std::move(*run);
        if (!r.present) continue;
        auto it = dests.find(reals[i].real);
        if (it == dests.end()) continue;
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
