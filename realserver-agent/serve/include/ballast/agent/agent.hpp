#pragma once
// The running agent: evaluates the checklist, answers HAProxy agent-checks over TCP,
// serves /status (JSON) and /metrics (Prometheus) over HTTP, and re-evaluates on
// every rtnetlink route/rule/address/link notification (and on a timer, for what
// has no notification: sockets, sysctls).
//
// Both listeners face the network, so each bounds what a client can hold: a deadline
// for the whole exchange, 4 KiB of request head and no body, a cap on live sessions
// (the oldest gives way to a new one), and accept errors (EMFILE) back off.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "ballast/agent/host_info.hpp"
#include "ballast/agent/render.hpp"
#include "ballast/agent/route_query.hpp"
#include "ballast/agent/settings.hpp"
#include "ballast/agent/verdict.hpp"

namespace ballast::agent {

struct ServeLimits {
    // HTTP: the request head must arrive, and the response leave, within this.
    std::chrono::milliseconds request_timeout{5000};
    // After its reply: read what the director sent until it closes (so the close is a FIN,
    // not a reset racing the reply), at most this long and kAgentDrainBytes.
    std::chrono::milliseconds linger{2000};
    size_t max_http_sessions = 64;
    size_t max_agent_sessions = 256;
    // Descriptors kept free of sessions (sockets, /proc reads, netlink): the caps shrink
    // to fit RLIMIT_NOFILE minus this.
    size_t fd_reserve = 32;
    std::chrono::milliseconds accept_backoff_min{50};
    std::chrono::milliseconds accept_backoff_max{1000};
};
inline constexpr size_t kAgentDrainBytes = 4096;

class Agent {
public:
    Agent(boost::asio::io_context& io, AgentSettings settings, std::unique_ptr<RouteQuery> routes,
          std::unique_ptr<HostInfo> host, ServeLimits limits = {});
    ~Agent();
    Agent(const Agent&) = delete;
    Agent& operator=(const Agent&) = delete;

    // Subscribes to rtnetlink, evaluates once, binds the responder (and the status
    // endpoint when configured). Must run in the network namespace to watch.
    Status start();
    void stop();

    // Takes a reloaded configuration and re-evaluates at once. Listen addresses are bound
    // at start: a change to them is not applied, and the returned text says so (empty
    // when everything was applied).
    std::string reload(AgentSettings settings);

    // Bound endpoints (useful with port 0).
    model::Endpoint agent_endpoint() const;
    std::optional<model::Endpoint> status_endpoint() const;

    const Report& report() const;
    std::string reply() const;  // the agent-check line now (drain/load read at call time)
    AgentCounters counters() const;
    // The session caps in force (ServeLimits shrunk to RLIMIT_NOFILE at start).
    size_t max_http_sessions() const;
    size_t max_agent_sessions() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ballast::agent
