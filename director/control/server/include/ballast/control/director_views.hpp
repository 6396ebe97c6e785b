#pragma once
// The daemon's state as views (views.hpp): pure functions of what the Director holds, called
// on its loop thread.
#include <functional>
#include <string>
#include <string_view>

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
// The same from a decision and what it needs beside it (the hub's published entry, formatted
// on the status thread): `every_service(i)` says whether real i's override was set for every
// service.
ServiceView service_view(const policy::ServiceDecision& d, std::string_view scheduler,
                         std::string_view check_type,
                         const std::function<bool(size_t)>& every_service);
// The service's check type as a view shows it ("none": not checked).
std::string_view check_type_of(const model::ServiceConfig& config);
// Whether the override in force for this real was set for every service (not for this one).
bool override_for_every_service(const policy::Overrides& overrides,
                                const model::ServiceKey& service, const model::RealKey& real);

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
