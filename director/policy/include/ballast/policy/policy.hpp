#pragma once
// policy: what the kernel should hold right now, and why. Pure: the daemon passes in the
// configuration, what the health checks and agents said (HealthBook), the operators'
// overrides, the weights it found in the kernel at start, and the time.
//
// Per real server, in this order:
//   1. base weight: an override `weight N`, else the configured weight;
//   2. before its first check result, a checked real found in the kernel at start (adoption) or
//      present when its check changed in a reload keeps the weight it has there (start_down or
//      not), so a restart or reload never moves traffic; a new real
//      follows start_down
//      (false: base weight, "not checked yet"; true: weight 0 until its first success);
//   3. health (health::decide_real): down -> 0 (on_failure = "quiesce") or removed ("remove");
//      agent drain -> 0; agent weight:N / N% and the slow-start ramp scale the base weight;
//   4. an override `drain` -> 0 (kept in IPVS, so connections finish).
// Per service:
//   - panic: when more than panic_threshold percent of its real servers are down at once,
//     every real keeps its base weight ("panic: ..."), because a director that lost its own
//     network must not empty every pool. Default 50 % (director.panic_threshold); a service
//     with a sorry server defaults to 100 (never), so its sorry server takes over instead;
//   - sorry server: weight 1 while every real server is down and panic is not active.
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ballast/health/health_book.hpp"
#include "ballast/health/tracker.hpp"
#include "ballast/kernel/nft_client.hpp"
#include "ballast/model/boxed.hpp"
#include "ballast/model/director_config.hpp"
#include "ballast/model/ipvs.hpp"
#include "ballast/model/shared_text.hpp"
#include "ballast/policy/overrides.hpp"

namespace ballast::policy {

using TimePoint = health::TimePoint;

// Weights found in the kernel when the daemon started, for reals of services it now owns.
using AdoptedWeights = std::map<std::pair<model::ServiceKey, model::RealKey>, model::Weight>;

struct Inputs {
    const model::DirectorConfig& config;
    const health::HealthBook& health;
    const Overrides& overrides;
    const AdoptedWeights& adopted;
    TimePoint now;
};

struct RealDecision {
    model::RealKey real;
    bool sorry = false;     // the service's sorry server
    bool present = true;    // false: not in IPVS (on_failure = "remove" and down)
    bool down = false;      // the health checks (or the agent) say down, or start_down waits
    bool awaiting = false;  // checked, but no result yet (start_down's down is not evidence)
    bool ramping = false;   // in a slow-start ramp: the weight changes with time
    model::Weight configured = 0;
    model::Weight effective = 0;
    health::State state = health::State::unknown;  // the main check's state
    model::SharedText reason;                      // why `effective` is what it is
    model::Boxed<Override> override_;  // the override in force, if any (boxed: mostly none)
    bool operator==(const RealDecision&) const = default;
};

struct ServiceDecision {
    model::ServiceKey key;
    std::string name;
    std::vector<RealDecision> reals;  // config order; the sorry server last when active
    size_t down = 0;                  // real servers the checks found down (panic counts these)
    bool panic = false;
    bool sorry_active = false;
    bool ramping() const;
    const RealDecision* find(const model::RealKey& real) const;  // not the sorry server
    bool operator==(const ServiceDecision&) const = default;
};

// The service's panic threshold in percent (see above).
uint32_t panic_threshold(const model::DirectorConfig& config, const model::ServiceConfig& service);

ServiceDecision decide_service(const model::ServiceConfig& service, const Inputs& in);

// Whether some check of this real (its service's check or its agent check) has reported.
bool has_check_result(const model::DirectorConfig& config, const model::ServiceConfig& service,
                      const model::RealServerConfig& real, const health::HealthBook& health);

// The IPVS service a decision asks for: present reals with their effective weights.
model::IpvsService desired_service(const model::ServiceConfig& service,
                                   const ServiceDecision& decision);

struct Desired {
    model::IpvsTable ipvs;
    std::map<model::ServiceKey, ServiceDecision> decisions;
};

Desired desired_state(const Inputs& in);

// The masquerade table: every real and sorry server, the egress interfaces, the
// firewall-mark groups. Depends on the configuration only (a down server keeps its
// element, so its connections still masquerade while they drain).
kernel::NatDesired desired_nat(const model::DirectorConfig& config);

// Whether some service has an IPv6 VIP (IPv6 forwarding is then needed).
bool has_ipv6_service(const model::DirectorConfig& config);

}  // namespace ballast::policy
