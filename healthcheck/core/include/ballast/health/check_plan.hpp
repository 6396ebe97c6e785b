#pragma once
// Which probes run: one per distinct (target endpoint, check spec), shared by
// every service that uses it. Pure function of the configuration.
#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ballast/model/address.hpp"
#include "ballast/model/check.hpp"
#include "ballast/model/director_config.hpp"
#include "ballast/model/ipvs.hpp"
#include "ballast/model/shared.hpp"

namespace ballast::health {

// A check spec held by pointer and compared by value. A plan makes one per distinct spec and
// every key that uses it shares it: 50,000 keys then hold a pointer each, not a ~500-byte copy
// (a key is held by the plan, the runner, the health book and the status hub).
class SharedSpec {
public:
    SharedSpec();  // the default CheckSpec (one instance shared by every default SharedSpec)
    // Implicit: keys are built from specs.
    SharedSpec(model::CheckSpec spec) : spec_(std::move(spec)) {}
    // The very spec a config holds (which must hold one), shared with it.
    explicit SharedSpec(model::Shared<model::CheckSpec> spec) : spec_(std::move(spec)) {}
    const model::CheckSpec& operator*() const { return *spec_; }
    const model::CheckSpec* operator->() const { return spec_.operator->(); }
    bool shares(const SharedSpec& o) const { return spec_.shares(o.spec_); }
    // A spec of this key's own to change (copied first unless no other key holds it): for keys
    // built by hand, as tests and benchmarks build them. Keys sharing the old one are unchanged.
    model::CheckSpec& edit() { return spec_.edit(); }

    auto operator<=>(const SharedSpec&) const = default;  // by value

private:
    model::Shared<model::CheckSpec> spec_;  // never empty
};

// Identity of one probe. `spec->port` is folded into `target` (and cleared), so
// "real 10.0.0.2:80" and "real 10.0.0.2:8080 with check port 80" share a probe.
struct CheckKey {
    model::Endpoint target;
    SharedSpec spec;
    std::string to_string() const;  // "http 10.0.0.2:80 GET /"
    auto operator<=>(const CheckKey&) const = default;
};

// A key named by its parts, to search a map ordered by CheckKeyLess without making one (a key
// made by make_check_key allocates a spec of its own). `spec` has no port of its own: a plan
// folds it into `target`.
struct CheckRef {
    model::Endpoint target;
    const model::CheckSpec& spec;
};

// Orders keys as CheckKey's operator< does, and CheckRefs among them.
struct CheckKeyLess {
    using is_transparent = void;
    bool operator()(const CheckKey& a, const CheckKey& b) const { return a < b; }
    // A plan's key shares the spec of the config it was planned from (when the spec has no
    // port), so a lookup by that config's spec finds its key by address: comparing two equal
    // ~500-byte specs field by field, twice a lookup, was a tenth of ballastd's cold start in
    // the kernel lab.
    bool operator()(const CheckKey& a, const CheckRef& b) const {
        return a.target != b.target ? a.target < b.target : &*a.spec != &b.spec && *a.spec < b.spec;
    }
    bool operator()(const CheckRef& a, const CheckKey& b) const {
        return a.target != b.target ? a.target < b.target : &a.spec != &*b.spec && a.spec < *b.spec;
    }
};

CheckKey make_check_key(const model::IpAddress& addr, uint16_t real_port,
                        const model::CheckSpec& spec);

enum class CheckRole : uint8_t {
    main,   // the service's check of this real server
    agent,  // the agent-check on the real server's agent_port
};

// A service and one of its real servers by position in the services the plan was made from
// (12 bytes, not the 56 of their keys: 50,000 users at 5,000 x 10). A plan is only read with
// the configuration it was made from; user_service() and user_real() name them.
struct CheckUser {
    uint32_t service = 0;  // index in plan_checks' `services`
    uint32_t real = 0;     // index in that service's reals
    CheckRole role = CheckRole::main;
    auto operator<=>(const CheckUser&) const = default;
};

inline const model::ServiceConfig& user_service(const std::vector<model::ServiceConfig>& services,
                                                const CheckUser& u) {
    return services[u.service];
}
inline const model::RealServerConfig& user_real(const std::vector<model::ServiceConfig>& services,
                                                const CheckUser& u) {
    return services[u.service].reals[u.real];
}

// The agent check derived from a service's check (or the default check when the
// service has none): same interval and timeout, rise = fall = 1 (the agent's
// reply is authoritative), no payload fields.
model::CheckSpec agent_check_spec(const model::CheckSpec& base);
// The agent check of `service`'s reals with an agent_port, as plan_checks keys it: derived
// from the service's check, even "none" (its intervals), else from default_check. Everything
// that looks an agent's results up uses this, so the lookups name the probe the plan runs.
model::CheckSpec agent_check_spec(const model::ServiceConfig& service,
                                  const model::CheckSpec& default_check);

// The users of one check, sorted and distinct: one kept inline (most checks have exactly one
// user), more in one heap array. 24 bytes and no heap block for a check of one service.
class CheckUsers {
public:
    CheckUsers() = default;
    explicit CheckUsers(const std::vector<CheckUser>& sorted_unique);
    CheckUsers(const CheckUsers& o);
    CheckUsers(CheckUsers&&) noexcept = default;
    CheckUsers& operator=(const CheckUsers& o);
    CheckUsers& operator=(CheckUsers&&) noexcept = default;
    ~CheckUsers() = default;

    const CheckUser* begin() const { return many_ ? many_.get() : &one_; }
    const CheckUser* end() const { return begin() + size_; }
    size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    const CheckUser& operator[](size_t i) const { return begin()[i]; }
    const CheckUser& front() const { return *begin(); }

private:
    CheckUser one_{};
    uint32_t size_ = 0;
    std::unique_ptr<CheckUser[]> many_;  // all of them, when more than one
};

// The checks of a plan and their users, in key order: one sorted vector (a std::map would add
// a node, and a std::vector of users a heap block, per check).
class CheckMap {
public:
    using value_type = std::pair<CheckKey, CheckUsers>;
    using const_iterator = std::vector<value_type>::const_iterator;

    CheckMap() = default;
    // Entries in strictly ascending key order.
    explicit CheckMap(std::vector<value_type> sorted) : entries_(std::move(sorted)) {}

    const_iterator begin() const { return entries_.begin(); }
    const_iterator end() const { return entries_.end(); }
    size_t size() const { return entries_.size(); }
    bool empty() const { return entries_.empty(); }
    const_iterator find(const CheckKey& key) const;
    const_iterator find(const CheckRef& key) const;  // the same without making a key
    const value_type& operator[](size_t i) const { return entries_[i]; }
    size_t count(const CheckKey& key) const { return find(key) != end() ? 1 : 0; }
    const CheckUsers& at(const CheckKey& key) const;  // throws std::out_of_range when absent

private:
    std::vector<value_type> entries_;
};

struct CheckPlan {
    CheckMap checks;
    std::vector<CheckKey> keys() const;
};

// One entry per distinct probe: the services' checks (when set) and each real
// server's agent_port. `default_check` supplies interval/timeout for agent checks
// of services without a check.
CheckPlan plan_checks(const std::vector<model::ServiceConfig>& services,
                      const model::CheckSpec& default_check);

// The keys of plan_checks' checks that need a privilege (tcp_half_open: a raw socket), in key
// order, without planning the others: the daemon refuses a config it could not check before
// touching the kernel, and plans its 50,000 checks later, while the kernel takes its writes.
// Only a service's own check can be one (agent checks never are).
std::vector<CheckKey> privileged_checks(const std::vector<model::ServiceConfig>& services);

// What a reload changes: probes kept (their trackers keep their state), added
// and removed (in-flight runs cancelled).
struct PlanDiff {
    std::vector<CheckKey> kept;
    std::vector<CheckKey> added;
    std::vector<CheckKey> removed;
};
PlanDiff diff_checks(const std::vector<CheckKey>& running, const std::vector<CheckKey>& wanted);
// The same from two plans, without copying their keys first (a plan holds 50,000 at 5,000 x 10).
PlanDiff diff_checks(const CheckPlan& running, const CheckPlan& wanted);

// One pass over two strictly ascending ranges (maps keyed by CheckKey, sorted vectors);
// `key_of` reads an element's key.
template <class Old, class Now, class KeyOf>
PlanDiff diff_sorted(const Old& old, const Now& now, KeyOf key_of) {
    PlanDiff d;
    auto o = old.begin();
    for (const auto& element : now) {
        const CheckKey& k = key_of(element);
        while (o != old.end() && key_of(*o) < k) d.removed.push_back(key_of(*o++));
        if (o != old.end() && key_of(*o) == k) {
            d.kept.push_back(k);
            ++o;
        } else {
            d.added.push_back(k);
        }
    }
    for (; o != old.end(); ++o) d.removed.push_back(key_of(*o));
    return d;
}

}  // namespace ballast::health
