#include "ballast/health/check_plan.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>

namespace ballast::health {

SharedSpec::SharedSpec() {
    static const model::Shared<model::CheckSpec> default_spec{model::CheckSpec{}};
    spec_ = default_spec;
}

std::string CheckKey::to_string() const {
    std::string s(model::to_string(spec->type));
    s += ' ';
    s += target.to_string();
    if (spec->type == model::CheckType::http || spec->type == model::CheckType::https) {
        s += ' ' + spec->method + ' ' + spec->path;
    } else if (spec->type == model::CheckType::dns) {
        s += ' ' + spec->query_type + ' ' + spec->query_name;
    } else if (spec->type == model::CheckType::exec && !spec->command.empty()) {
        s += ' ' + spec->command.front();
    }
    return s;
}

CheckKey make_check_key(const model::IpAddress& addr, uint16_t real_port,
                        const model::CheckSpec& spec) {
    model::CheckSpec folded = spec;
    folded.port.reset();
    return CheckKey{model::Endpoint{addr, spec.port.value_or(real_port)}, std::move(folded)};
}

model::CheckSpec agent_check_spec(const model::CheckSpec& base) {
    model::CheckSpec a;
    a.type = model::CheckType::agent;
    a.interval = base.interval;
    a.down_interval = base.down_interval;
    a.timeout = base.timeout;
    a.jitter = base.jitter;
    a.rise = 1;
    a.fall = 1;
    a.expect_status.clear();
    return a;
}

model::CheckSpec agent_check_spec(const model::ServiceConfig& service,
                                  const model::CheckSpec& default_check) {
    return agent_check_spec(service.check ? *service.check : default_check);
}

CheckUsers::CheckUsers(const std::vector<CheckUser>& sorted_unique)
    : size_(static_cast<uint32_t>(sorted_unique.size())) {
    if (size_ == 1) {
        one_ = sorted_unique.front();
    } else if (size_ > 1) {
        many_ = std::make_unique<CheckUser[]>(size_);
        std::copy(sorted_unique.begin(), sorted_unique.end(), many_.get());
    }
}

CheckUsers::CheckUsers(const CheckUsers& o) : one_(o.one_), size_(o.size_) {
    if (o.many_) {
        many_ = std::make_unique<CheckUser[]>(size_);
        std::copy(o.begin(), o.end(), many_.get());
    }
}

CheckUsers& CheckUsers::operator=(const CheckUsers& o) {
    if (this != &o) *this = CheckUsers(o);
    return *this;
}

CheckMap::const_iterator CheckMap::find(const CheckKey& key) const {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), key,
                               [](const value_type& e, const CheckKey& k) { return e.first < k; });
    return it != entries_.end() && it->first == key ? it : entries_.end();
}

CheckMap::const_iterator CheckMap::find(const CheckRef& key) const {
    auto it = std::lower_bound(
        entries_.begin(), entries_.end(), key,
        [](const value_type& e, const CheckRef& k) { return CheckKeyLess{}(e.first, k); });
    return it != entries_.end() && !CheckKeyLess{}(key, it->first) ? it : entries_.end();
}

const CheckUsers& CheckMap::at(const CheckKey& key) const {
    auto it = find(key);
    if (it == end()) throw std::out_of_range("CheckMap::at: no check " + key.to_string());
    return it->second;
}

std::vector<CheckKey> CheckPlan::keys() const {
    std::vector<CheckKey> out;
    out.reserve(checks.size());
    for (const auto& [k, users] : checks) out.push_back(k);
    return out;
}

namespace {

// Each distinct spec once (its port cleared: keys fold it into their target), shared by every
// key that uses it.
class SpecInterner {
public:
    // A config's spec without a port is shared as it is (see CheckKeyLess); one shared by
    // several services (the config shares equal specs) is looked up once.
    SharedSpec operator()(const model::Shared<model::CheckSpec>& spec) {
        if (spec->port) return (*this)(*spec);
        if (&*spec == last_from_) return last_;
        auto it = specs_.find(*spec);
        if (it == specs_.end()) it = specs_.emplace(*spec, SharedSpec(spec)).first;
        last_from_ = &*spec;
        last_ = it->second;
        return last_;
    }
    SharedSpec operator()(const model::CheckSpec& spec) {
        model::CheckSpec folded = spec;
        folded.port.reset();
        auto it = specs_.find(folded);
        if (it == specs_.end()) {
            SharedSpec shared(folded);
            it = specs_.emplace(std::move(folded), std::move(shared)).first;
        }
        return it->second;
    }

private:
    std::map<model::CheckSpec, SharedSpec> specs_;
    // The config's spec looked up last (the config outlives the plan's making) and its key's.
    const model::CheckSpec* last_from_ = nullptr;
    SharedSpec last_;
};

}  // namespace

std::vector<CheckKey> privileged_checks(const std::vector<model::ServiceConfig>& services) {
    std::vector<CheckKey> keys;
    SpecInterner intern;  // the spec as plan_checks keys it (its port folded into the target)
    for (const auto& svc : services) {
        if (!svc.check || svc.check->type != model::CheckType::tcp_half_open) continue;
        const SharedSpec spec = intern(svc.check);
        for (const auto& real : svc.reals)
            keys.push_back(
                CheckKey{{real.key.addr, svc.check->port.value_or(real.key.port)}, spec});
    }
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    return keys;
}

CheckPlan plan_checks(const std::vector<model::ServiceConfig>& services,
                      const model::CheckSpec& default_check) {
    // Every (check, user) pair first, then sorted and grouped: one vector, not a node per check.
    std::vector<std::pair<CheckKey, CheckUser>> pairs;
    SpecInterner intern;
    for (uint32_t s = 0; s < services.size(); ++s) {
        const auto& svc = services[s];
        const bool checked = svc.check && svc.check->type != model::CheckType::none;
        // Looked up once per service, not per real server.
        std::optional<SharedSpec> main, agent;
        for (uint32_t r = 0; r < svc.reals.size(); ++r) {
            const auto& real = svc.reals[r];
            if (checked) {
                if (!main) main = intern(svc.check);
                pairs.emplace_back(
                    CheckKey{{real.key.addr, svc.check->port.value_or(real.key.port)}, *main},
                    CheckUser{s, r, CheckRole::main});
            }
            if (real.agent_port) {
                if (!agent) agent = intern(agent_check_spec(svc, default_check));
                pairs.emplace_back(CheckKey{{real.key.addr, *real.agent_port}, *agent},
                                   CheckUser{s, r, CheckRole::agent});
            }
        }
    }
    std::sort(pairs.begin(), pairs.end());
    // A real server listed twice in one service (the config refuses it) is one user: the same
    // check's users of one service are adjacent.
    const auto same_user = [&](const std::pair<CheckKey, CheckUser>& a,
                               const std::pair<CheckKey, CheckUser>& b) {
        return a.first == b.first && a.second.service == b.second.service &&
               a.second.role == b.second.role &&
               user_real(services, a.second).key == user_real(services, b.second).key;
    };
    size_t kept = 0;
    for (size_t i = 0; i < pairs.size(); ++i) {
        bool repeated = false;
        for (size_t k = kept; k-- > 0 && pairs[k].first == pairs[i].first &&
                              pairs[k].second.service == pairs[i].second.service;)
            repeated = repeated || same_user(pairs[k], pairs[i]);
        if (repeated) continue;
        if (kept != i) pairs[kept] = std::move(pairs[i]);
        ++kept;
    }
    pairs.erase(pairs.begin() + static_cast<ptrdiff_t>(kept), pairs.end());
    size_t distinct = 0;
    for (size_t i = 0; i < pairs.size(); ++i)
        if (i == 0 || pairs[i].first != pairs[i - 1].first) ++distinct;
    std::vector<CheckMap::value_type> entries;
    entries.reserve(distinct);
    std::vector<CheckUser> users;
    for (size_t i = 0; i < pairs.size();) {
        size_t j = i;
        users.clear();
        for (; j < pairs.size() && pairs[j].first == pairs[i].first; ++j)
            users.push_back(pairs[j].second);
        entries.emplace_back(std::move(pairs[i].first), CheckUsers(users));
        i = j;
    }
    return CheckPlan{CheckMap(std::move(entries))};
}

PlanDiff diff_checks(const std::vector<CheckKey>& running, const std::vector<CheckKey>& wanted) {
    // Both are usually sorted already (CheckPlan::keys(), the runner's map): merge them in one
    // pass instead of copying 2 x 50,000 keys into sets.
    auto sorted_unique =
        [](const std::vector<CheckKey>& v) -> std::optional<std::vector<CheckKey>> {
        if (std::adjacent_find(v.begin(), v.end(), std::greater_equal<>()) == v.end())
            return std::nullopt;  // strictly ascending: use as it is
        std::vector<CheckKey> c = v;
        std::sort(c.begin(), c.end());
        c.erase(std::unique(c.begin(), c.end()), c.end());
        return c;
    };
    const auto old_copy = sorted_unique(running), now_copy = sorted_unique(wanted);
    return diff_sorted(old_copy ? *old_copy : running, now_copy ? *now_copy : wanted,
                       std::identity{});
}

PlanDiff diff_checks(const CheckPlan& running, const CheckPlan& wanted) {
    return diff_sorted(running.checks, wanted.checks,
                       [](const auto& entry) -> const CheckKey& { return entry.first; });
}

}  // namespace ballast::health
