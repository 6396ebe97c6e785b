#pragma once
// One run of one health check against one target, on an Asio io_context.
//
// start_probe() begins a run and returns a handle. The callback is called
// exactly once with the verdict -- unless the handle is cancelled first, in
// which case it is never called: the run's sockets, timer and child process
// are closed/killed, and its pending handlers find the run marked finished and
// touch nothing outside it (they keep only the run itself alive).
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include "ballast/health/agent_reply.hpp"
#include "ballast/health/check_plan.hpp"
#include "ballast/health/http_response.hpp"
#include "ballast/health/schedule.hpp"

namespace ballast::health {

namespace detail {
class ConnectMux;
class HalfOpenMux;
}  // namespace detail

struct ProbeResult {
    bool up = false;
    std::string reason;               // "connect refused", "HTTP 503", "agent: drain", ...
    std::optional<AgentReply> agent;  // agent replies; exec output with weight_from_output
    // The run told nothing about the server: the checker itself failed (out of
    // descriptors, memory, buffers or local ports; a fork that failed). `up` is false
    // and `reason` starts with "checker: "; the runner leaves the check's state alone.
    bool inconclusive = false;
};

using ProbeCallback = std::function<void(ProbeResult)>;

struct ProbeLimits {
    HttpLimits http;
    size_t reply = 64 * 1024;       // tcp/udp reply searched for `expect`
    size_t exec_output = 4 * 1024;  // exec stdout+stderr kept; the rest is cut off
};

// Shared by all runs of a runner: the io_context, TLS contexts, limits and the
// seeded generator for DNS query ids.
class ProbeContext {
public:
    explicit ProbeContext(boost::asio::io_context& io, ProbeLimits limits = {}, uint64_t seed = 1);
    ~ProbeContext();
    ProbeContext(const ProbeContext&) = delete;
    ProbeContext& operator=(const ProbeContext&) = delete;

    boost::asio::io_context& io() { return io_; }
    const ProbeLimits& limits() const { return limits_; }
    // verify=false accepts any certificate; verify=true checks chain, dates and name
    // against the system trust store plus anything added with add_trusted_ca_pem().
    boost::asio::ssl::context& tls(bool verify);
    // Trust an extra CA (PEM). Returns false when the PEM is not a certificate.
    bool add_trusted_ca_pem(std::string_view pem);
    uint16_t next_dns_id() { return static_cast<uint16_t>(rng_.next()); }
    // Shared by every plain connect check of this context (made on first use).
    std::shared_ptr<detail::ConnectMux> connects();
    // Shared by every tcp_half_open check of this context (made on first use).
    std::shared_ptr<detail::HalfOpenMux> half_opens();
    // expect_body_regex compiled once per distinct pattern, kept for the runs that
    // follow; nullptr and `error` when RE2 rejects it.
    std::shared_ptr<const BodyRegex> body_regex(const std::string& pattern, std::string& error);

private:
    boost::asio::io_context& io_;
    ProbeLimits limits_;
    Rng rng_;
    // Made on first use: the system trust store alone is ~1 MiB of heap, which a director
    // without HTTPS checks need not hold.
    std::optional<boost::asio::ssl::context> tls_verify_;
    std::optional<boost::asio::ssl::context> tls_any_;
    std::shared_ptr<detail::ConnectMux> connects_;
    std::shared_ptr<detail::HalfOpenMux> half_opens_;
    std::map<std::string, std::shared_ptr<const BodyRegex>, std::less<>> body_regexes_;
};

class ProbeRun {
public:
    virtual ~ProbeRun() = default;
    // Aborts the run; the callback will not be called. Idempotent.
    virtual void cancel() = 0;
};

// Starts one run of `check.spec` against `check.target` (timeout = spec.timeout).
std::shared_ptr<ProbeRun> start_probe(ProbeContext& ctx, const CheckKey& check, ProbeCallback done);

// The checks among `checks` this process cannot run for want of a privilege, one
// line each, e.g. "tcp_half_open 10.0.0.2:80: needs CAP_NET_RAW (a raw socket:
// Operation not permitted)". The daemon calls it at start (and --check-config
// may): such a check would only ever be inconclusive.
std::vector<std::string> missing_privileges(const std::vector<CheckKey>& checks);
// The same over a plan's checks, without copying its keys.
std::vector<std::string> missing_privileges(const CheckPlan& plan);

}  // namespace ballast::health
