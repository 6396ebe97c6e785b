#pragma once
// ballastd's control protocol, shared by the daemon and ballastctl. Pure.
//
// A unix stream socket carrying line-delimited JSON, one object per line, each with the
// protocol version "v". A client sends requests; the daemon answers each, in order, with one
// reply line:
//   {"v": 1, "id": 7, "verb": "drain", "real": "10.0.0.2:80", "service": "web"}
//   {"v": 1, "id": 7, "ok": true, "result": {...}}
//   {"v": 1, "id": 7, "ok": false, "error": {"code": "not-found", "message": "..."}}
// "id" is optional and echoed as it came. A bad request gets an error reply and the
// connection stays usable. After "events" the daemon sends one line per event
// ({"v": 1, "event": {...}}) until the client hangs up.
//
// Verbs (arguments):
//   hello                     daemon version, protocol version, pid, config file
//   status  [service]         every service and real server (or one service), reconcile state;
//           [fresh]           fresh: counters and rates from a dump made for this request
//                             (at most one a second), else from the last resync's dump
//   plan    file              what a reload of this file would write (file: its name for
//                             messages; its content comes as a descriptor, see below)
//   check-config file         validates the file (as plan)
//   drain   real [service]    weight 0 for the real server in the service, or in every service
//                             that has it; kept in IPVS so connections finish
//   enable  real [service]    removes the drain or weight override
//   weight  real weight [service]   replaces the configured weight (0..65535)
//   reload                    re-reads the daemon's config file and applies it
//   events  [backlog]         the last `backlog` events (max 1000), then every event as it happens
// "service" is a service's name or its key object ({"protocol", "address", "port"} or
// {"fwmark", "family"}); "real" is "addr:port" ("[v6]:port").
//
// plan and check-config read the file through a descriptor the client opened and passed with
// the request (SCM_RIGHTS), so the daemon never opens a path on a client's behalf: a client
// reads only what it may read itself.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/json/value.hpp>

#include "ballast/model/ipvs.hpp"

namespace ballast::control {

inline constexpr int kProtocolVersion = 1;
// A request line longer than this (without its newline) is refused.
inline constexpr size_t kMaxRequestBytes = 64 * 1024;
inline constexpr size_t kMaxEventBacklog = 1000;

enum class Verb : uint8_t {
    hello,
    status,
    plan,
    check_config,
    drain,
    enable,
    weight,
    reload,
    events,
};
std::string_view to_string(Verb);
std::optional<Verb> parse_verb(std::string_view);
// drain, enable, weight, reload: only root or the control group may send them.
bool changes_state(Verb);
// plan, check-config: the request carries a file descriptor.
bool needs_file(Verb);

// A service as a request names it: its configured name or its key.
using ServiceRef = std::variant<std::string, model::ServiceKey>;
std::string describe(const ServiceRef&);  // "web" / "192.0.2.1:80/tcp"

struct Request {
    Verb verb = Verb::hello;
    boost::json::value id;               // echoed in the reply; null when absent
    std::optional<ServiceRef> service;   // drain/enable/weight: absent = every service; status
    std::optional<model::RealKey> real;  // drain/enable/weight
    model::Weight weight = 0;            // weight
    std::string file;                    // plan/check-config: the name used in messages
    bool fresh = false;                  // status
    size_t backlog = 0;                  // events
};

enum class ErrorCode : uint8_t {
    parse,           // not JSON, or not one object
    too_large,       // longer than kMaxRequestBytes
    version,         // "v" missing or not kProtocolVersion
    unknown_verb,    // no such verb
    bad_argument,    // a missing or malformed argument
    not_found,       // no such service / real server / override
    permission,      // the peer may not change state
    invalid_config,  // plan/check-config/reload: the file does not validate (see details)
    failed,          // the daemon could not do it (e.g. the state directory is not writable)
    unavailable,     // the daemon cannot answer this now (e.g. shutting down, busy)
};
std::string_view to_string(ErrorCode);
std::optional<ErrorCode> parse_error_code(std::string_view);

struct ProtocolError {
    ErrorCode code = ErrorCode::failed;
    std::string message;
    std::vector<std::string> details;  // invalid_config: every problem, one per line
};

// A request line (its newline removed), parsed and validated. The id is kept whenever the
// line was an object, so an error reply still carries it.
struct ParsedRequest {
    boost::json::value id;
    std::variant<Request, ProtocolError> outcome;
    const Request* request() const { return std::get_if<Request>(&outcome); }
    const ProtocolError* error() const { return std::get_if<ProtocolError>(&outcome); }
};
ParsedRequest parse_request(std::string_view line);

// Request lines (with their newline), as ballastctl sends them.
std::string encode_request(const Request& request);

// Reply lines (with their newline).
std::string encode_ok(const boost::json::value& id, boost::json::value result);
std::string encode_error(const boost::json::value& id, const ProtocolError& error);
std::string encode_event_line(boost::json::value event);

// One line from the daemon, as the client reads it: a reply or an event.
struct Reply {
    boost::json::value id;
    bool ok = false;
    boost::json::value result;  // ok
    ProtocolError error;        // !ok
};
struct EventLine {
    boost::json::value event;
};
struct DecodeProblem {
    // version: the daemon speaks another protocol version (daemon_version says which).
    bool version_mismatch = false;
    int daemon_version = 0;
    std::string message;
};
std::variant<Reply, EventLine, DecodeProblem> decode_line(std::string_view line);

}  // namespace ballast::control
