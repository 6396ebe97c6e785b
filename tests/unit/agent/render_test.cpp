// The agent's Prometheus exposition (prometheus-cpp core).
#include <gtest/gtest.h>

#include "ballast/agent/render.hpp"

using namespace ballast::agent;

namespace {

size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

TEST(Metrics, VerdictsUpAndCounters) {
    Report r;
    r.checks = {Check{"return-route", "10.0.0.5 -> 203.0.113.9", Verdict::pass, "ok", ""},
                Check{"listener", "10.0.0.5:80/tcp", Verdict::fail, "nothing \"listens\"\n", ""}};
    AgentCounters n;
    n.evaluations = 3;
    n.accept_errors = 2;
    std::string m = render_prometheus(r, n);
    EXPECT_NE(m.find("# TYPE ballast_agent_check_verdict gauge"), std::string::npos) << m;
    EXPECT_NE(m.find("ballast_agent_check_verdict{check=\"return-route\",subject=\"10.0.0.5 -> "
                     "203.0.113.9\"} 0"),
              std::string::npos)
        << m;
    EXPECT_NE(
        m.find("ballast_agent_check_verdict{check=\"listener\",subject=\"10.0.0.5:80/tcp\"} 2"),
        std::string::npos)
        << m;
    EXPECT_NE(m.find("ballast_agent_up 0"), std::string::npos) << m;
    EXPECT_NE(m.find("# TYPE ballast_agent_evaluations_total counter"), std::string::npos) << m;
    EXPECT_NE(m.find("ballast_agent_evaluations_total 3"), std::string::npos) << m;
    EXPECT_NE(m.find("ballast_agent_accept_errors_total 2"), std::string::npos) << m;
}

// Two checks of one subject (two RIPs behind one device share its rp_filter and bond
// checks) are one series with the worse verdict: a scrape with the same series twice is
// rejected by Prometheus.
TEST(Metrics, OneSeriesPerCheckAndSubject) {
    Report r;
    r.checks = {Check{"rp_filter", "eth0", Verdict::pass, "", ""},
                Check{"rp_filter", "eth0", Verdict::fail, "", ""},
                Check{"rp_filter", "eth0", Verdict::warn, "", ""}};
    std::string m = render_prometheus(r, {});
    EXPECT_EQ(count(m, "ballast_agent_check_verdict{check=\"rp_filter\",subject=\"eth0\"}"), 1u)
        << m;
    EXPECT_NE(m.find("ballast_agent_check_verdict{check=\"rp_filter\",subject=\"eth0\"} 2"),
              std::string::npos)
        << m;
}

}  // namespace
