#include "ballast/agent/render.hpp"

#include <boost/json.hpp>
#include <map>

namespace ballast::agent {
namespace {

std::string prom_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

}  // namespace

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
    std::string out =
        "# HELP ballast_agent_check_verdict Verdict of each check: 0 pass, 1 warn, 2 fail.\n"
        "# TYPE ballast_agent_check_verdict gauge\n";
    for (const auto& c : r.checks)
        out += "ballast_agent_check_verdict{check=\"" + prom_escape(c.name) + "\",subject=\"" +
               prom_escape(c.subject) + "\"} " + std::to_string(static_cast<int>(c.verdict)) + "\n";
    out +=
        "# HELP ballast_agent_up 1 when no check fails (the agent answers up or drain).\n"
        "# TYPE ballast_agent_up gauge\n"
        "ballast_agent_up " +
        std::string(r.first_failure() ? "0" : "1") + "\n";
    out +=
        "# HELP ballast_agent_evaluations_total Evaluations of the checklist.\n"
        "# TYPE ballast_agent_evaluations_total counter\n"
        "ballast_agent_evaluations_total " +
        std::to_string(n.evaluations) + "\n";
    out +=
        "# HELP ballast_agent_netlink_events_total rtnetlink notifications that triggered a "
        "re-evaluation.\n"
        "# TYPE ballast_agent_netlink_events_total counter\n"
        "ballast_agent_netlink_events_total " +
        std::to_string(n.netlink_events) + "\n";
    out +=
        "# HELP ballast_agent_replies_total Agent-check replies served.\n"
        "# TYPE ballast_agent_replies_total counter\n"
        "ballast_agent_replies_total " +
        std::to_string(n.agent_replies) + "\n";
    return out;
}

}  // namespace ballast::agent
