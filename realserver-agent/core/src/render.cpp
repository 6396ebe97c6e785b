#include "ballast/agent/render.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <boost/json.hpp>

namespace ballast::agent {
std::string render_text(const Report& r) {
    std::string out;
    for (const auto& c : r.checks) {
        std::string tag = c.verdict == Verdict::pass   ? "[PASS]"
                          : c.verdict == Verdict::warn ? "[WARN]"
                                                       : "[FAIL]";
        out += tag + " " + c.name + "  " + c.subject + "\n       " + c.reason + "\n";
        if (!c.fix.empty()) out += "       fix: " + c.fix + "\n";
    }
    size_t counts[3] = {0, 0, 0};
    for (const auto& c : r.checks) ++counts[static_cast<int>(c.verdict)];
    out += "\n" + std::string(to_string(r.overall())) + ": " + std::to_string(counts[0]) +
           " passed, " + std::to_string(counts[1]) + " warned, " + std::to_string(counts[2]) +
           " failed\n";
    return out;
}

std::string render_json(const Report& r, const std::string& reply) {
    boost::json::array checks;
    for (const auto& c : r.checks) {
        boost::json::object o;
        o["check"] = c.name;
        o["subject"] = c.subject;
        o["verdict"] = to_string(c.verdict);
        o["reason"] = c.reason;
        if (!c.fix.empty()) o["fix"] = c.fix;
        checks.push_back(std::move(o));
    }
    boost::json::object root;
    root["verdict"] = to_string(r.overall());
    root["agent_reply"] = reply;
    root["checks"] = std::move(checks);
    return boost::json::serialize(root) + "\n";
}

std::string render_prometheus(const Report& r, const AgentCounters& n) {
    // A registry per scrape: the checks (and so the label sets) change from one
    // evaluation to the next, and a check that is gone must not linger as a series.
    prometheus::Registry reg;
    auto& verdict = prometheus::BuildGauge()
                        .Name("ballast_agent_check_verdict")
                        .Help("Verdict of each check: 0 pass, 1 warn, 2 fail.")
                        .Register(reg);
    for (const auto& c : r.checks) {
        // Two checks of one subject (two RIPs on one device) are one series: the worse.
        auto& g = verdict.Add({{"check", c.name}, {"subject", c.subject}});
        g.Set(std::max(g.Value(), static_cast<double>(c.verdict)));
    }
    prometheus::BuildGauge()
        .Name("ballast_agent_up")
        .Help("1 when no check fails (the agent answers up or drain).")
        .Register(reg)
        .Add({})
        .Set(r.first_failure() ? 0 : 1);
    auto counter = [&](const char* name, const char* help, uint64_t v) {
        prometheus::BuildCounter().Name(name).Help(help).Register(reg).Add({}).Increment(
            static_cast<double>(v));
    };
    counter("ballast_agent_evaluations_total", "Evaluations of the checklist.", n.evaluations);
    counter("ballast_agent_netlink_events_total",
            "rtnetlink notifications that triggered a re-evaluation.", n.netlink_events);
    counter("ballast_agent_replies_total", "Agent-check replies served.", n.agent_replies);
    counter("ballast_agent_http_responses_total",
            "Responses of the status endpoint, refusals included.", n.http_responses);
    counter("ballast_agent_http_refused_total",
            "Requests refused: malformed, head over 4 KiB, a body, not GET.", n.http_refused);
    counter("ballast_agent_session_timeouts_total",
            "Connections ended by their deadline (request, reply or linger).", n.session_timeouts);
    counter("ballast_agent_sessions_evicted_total",
            "Oldest connections closed to make room under the session cap.", n.sessions_evicted);
    counter("ballast_agent_accept_errors_total",
            "Failed accepts (out of descriptors or memory); each backs off.", n.accept_errors);
    return prometheus::TextSerializer().Serialize(reg.Collect());
}

}  // namespace ballast::agent
