#pragma once
// The running agent: evaluates the checklist, answers HAProxy agent-checks over TCP,
// serves /status (JSON) and /metrics (Prometheus) over HTTP, and re-evaluates on
// every rtnetlink route/rule/address/link notification (and on a timer, for what
// has no notification: sockets, sysctls).
#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "ballast/agent/host_info.hpp"
#include "ballast/agent/render.hpp"
#include "ballast/agent/route_query.hpp"
#include "ballast/agent/settings.hpp"
#include "ballast/agent/verdict.hpp"

namespace ballast::agent {

class Agent {
public:
    Agent(boost::asio::io_context& io, AgentSettings settings, std::unique_ptr<RouteQuery> routes,
          std::unique_ptr<HostInfo> host);
    ~Agent();
    Agent(const Agent&) = delete;
    Agent& operator=(const Agent&) = delete;

    // Subscribes to rtnetlink, evaluates once, binds the responder (and the status
    // endpoint when configured). Must run in the network namespace to watch.
    Status start();
    void stop();

    // Bound endpoints (useful with port 0).
    model::Endpoint agent_endpoint() const;
    std::optional<model::Endpoint> status_endpoint() const;

    const Report& report() const;
    std::string reply() const;  // the agent-check line now (drain/load read at call time)
    AgentCounters counters() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ballast::agent
