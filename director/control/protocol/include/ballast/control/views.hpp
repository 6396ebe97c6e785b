#pragma once
// What the daemon shows: every service and real server with its weights and why, its checks'
// last results, its connections and rates; the reconcile state; events; a reload's plan. The
// control socket's replies, the status page's /api/v1/status and the metrics are all made
// from these, and ballastctl decodes them back. Times are Unix seconds (fractions allowed).
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "ballast/model/boxed.hpp"
#include "ballast/model/ipvs.hpp"
#include "ballast/model/result.hpp"

namespace ballast::control {

using UnixSeconds = double;
UnixSeconds unix_seconds(std::chrono::system_clock::time_point t);

using model::Boxed;

// The last run of one health check.
struct CheckRunView {
    std::string check;                   // "tcp 10.0.0.2:80"
    std::string state = "unknown";       // up / down / unknown
    std::optional<UnixSeconds> since;    // the last state change (or the check's start)
    std::optional<UnixSeconds> last_at;  // the last result
    bool last_ok = false;
    std::string last_reason;
    double last_duration_ms = 0;
    uint64_t runs = 0;
    bool operator==(const CheckRunView&) const = default;
};

struct OverrideView {
    std::string action = "drain";  // drain / weight
    uint32_t weight = 0;           // weight
    bool every_service = false;    // set for the real in every service that has it
    std::string set_by;            // "uid 0 (root) pid 4242"
    UnixSeconds set_at = 0;
    bool operator==(const OverrideView&) const = default;
};

// IPVS counters and the kernel's rate estimates (per second), from a dump.
struct TrafficView {
    uint64_t conns = 0, inpkts = 0, outpkts = 0, inbytes = 0, outbytes = 0;
    uint64_t cps = 0, inpps = 0, outpps = 0, inbps = 0, outbps = 0;
    bool operator==(const TrafficView&) const = default;
};

struct RealView {
    std::string real;  // "10.0.0.2:80"
    bool sorry = false;
    bool present = true;  // in IPVS (false: on_failure = "remove" and down)
    bool down = false;
    bool awaiting = false;  // checked, no result yet
    bool ramping = false;   // slow start
    uint32_t configured = 0;
    uint32_t effective = 0;
    std::string state = "unknown";  // the main check's state
    std::string reason;             // why `effective` is what it is
    // Boxed: a RealView is held for every real server; these are mostly absent there.
    Boxed<OverrideView> override_;
    Boxed<CheckRunView> check;  // the service's check of this real
    Boxed<CheckRunView> agent;  // its agent check
    // From the kernel (absent until a dump saw the real).
    std::optional<uint32_t> active, inactive, persistent;
    Boxed<TrafficView> traffic;
    bool operator==(const RealView&) const = default;
};

struct ServiceView {
    std::string name;
    model::ServiceKey key;
    std::string scheduler;
    std::string check_type = "none";  // the service's check type ("none": not checked)
    bool panic = false;
    bool sorry_active = false;
    uint32_t down = 0;
    std::vector<RealView> reals;  // config order; the sorry server last when in use
    std::optional<TrafficView> traffic;
    bool operator==(const ServiceView&) const = default;
};

struct FailingKeyView {
    std::string key;
    std::string error;
    bool operator==(const FailingKeyView&) const = default;
};

struct ReconcileView {
    bool in_sync = false;
    std::optional<UnixSeconds> last_resync;
    uint64_t resyncs = 0, drift_repairs = 0, ops_applied = 0, op_failures = 0;
    uint64_t failing_total = 0;
    std::vector<FailingKeyView> failing;  // at most kListLimit
    uint32_t retry_failures = 0;
    std::optional<double> retry_in_seconds;
    uint64_t draining_total = 0;
    std::vector<std::string> draining;  // "192.0.2.1:80/tcp -> 10.0.0.3:80 (4 connections)"
    std::vector<std::string> foreign;   // IPVS services ballast does not own
    static constexpr size_t kListLimit = 100;
    bool operator==(const ReconcileView&) const = default;
};

struct EventView {
    UnixSeconds at = 0;
    std::string severity;  // debug info notice warning error
    std::string kind;      // health weight kernel drift nft sysctl reload override lifecycle
    std::string message;
    std::optional<std::string> service;  // "192.0.2.1:80/tcp"
    std::optional<std::string> real;     // "10.0.0.2:80"
    bool operator==(const EventView&) const = default;
};

struct StatusView {
    std::string daemon;  // "ballastd 0.1.0"
    std::string config;  // the config file
    int64_t pid = 0;
    UnixSeconds now = 0;
    std::optional<UnixSeconds> counters_at;  // when the counters were dumped
    ReconcileView reconcile;
    std::vector<ServiceView> services;
    std::vector<EventView> recent_events;  // oldest first
    bool operator==(const StatusView&) const = default;
};

// A reload's diff: one line per change, '+' added, '-' removed, '~' changed.
struct PlanLine {
    char sign = '~';
    std::string text;
    bool operator==(const PlanLine&) const = default;
};
struct PlanView {
    std::string file;
    std::string summary;  // "3 IPVS writes, checks +1 -0, nft: 1 change"
    uint64_t ipvs_ops = 0;
    std::vector<PlanLine> lines;
    bool operator==(const PlanView&) const = default;
};

// A reload as it was applied.
struct ReloadView {
    std::string file;
    uint64_t services = 0;
    uint64_t checks_added = 0, checks_removed = 0, checks_kept = 0;
    uint64_t ipvs_ops = 0, failed_ops = 0;
    std::vector<std::string> nft;
    bool operator==(const ReloadView&) const = default;
};

struct HelloView {
    std::string daemon;
    int64_t pid = 0;
    std::string config;
    bool operator==(const HelloView&) const = default;
};

boost::json::value to_json(const CheckRunView&);
boost::json::value to_json(const TrafficView&);
boost::json::value to_json(const RealView&);
boost::json::value to_json(const ServiceView&);
boost::json::value to_json(const ReconcileView&);
boost::json::value to_json(const EventView&);
boost::json::value to_json(const StatusView&);
boost::json::value to_json(const PlanView&);
boost::json::value to_json(const ReloadView&);
boost::json::value to_json(const HelloView&);

// Decoders for what the daemon sent; a malformed reply is an error naming the field.
Result<StatusView> status_from_json(const boost::json::value&);
Result<EventView> event_from_json(const boost::json::value&);
Result<PlanView> plan_from_json(const boost::json::value&);
Result<ReloadView> reload_from_json(const boost::json::value&);
Result<HelloView> hello_from_json(const boost::json::value&);

}  // namespace ballast::control
