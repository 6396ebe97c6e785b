#pragma once
// The daemon's state as views (views.hpp): pure functions of what the Director holds, called
// on its loop thread.
#include <string>

#include "ballast/control/views.hpp"
#include "ballast/daemon/director.hpp"
#include "ballast/model/director_config.hpp"
#include "ballast/policy/overrides.hpp"
#include "ballast/policy/policy.hpp"

namespace ballast::control {

std::string_view severity_name(daemon::Severity);

// One service: weights, why, health state, overrides (checks' runs and counters left out).
ServiceView service_view(const model::ServiceConfig& config, const policy::ServiceDecision& d,
                         const policy::Overrides& overrides);

ReconcileView reconcile_view(const daemon::ReconcileStatus& status, daemon::SteadyTime now);

EventView event_view(const daemon::Event& event);

// What a reload from `current` to `next` would write (Director::preview's outcome), one line
// per change: services and real servers against the programmed table, checks, nft.
PlanView plan_view(const std::string& file, const daemon::ReloadOutcome& outcome,
                   const model::DirectorConfig& current, const model::DirectorConfig& next,
                   const model::IpvsTable& programmed);

ReloadView reload_view(const std::string& file, size_t services,
                       const daemon::ReloadOutcome& outcome);

}  // namespace ballast::control
