// libnl dumps as the agent runs them: an interrupted dump (NLE_DUMP_INTR) is dumped again, five
// tries in all (README: "dumped again (5 tries)"), and libnl's errors carry an errno.
#include <gtest/gtest.h>

#include "ballast/agent/nl_dump.hpp"
#include "ballast/agent/verdict.hpp"

using namespace ballast::agent;

namespace {

// A dump that libnl reports interrupted on its first `interrupted` runs, then `then`.
struct ScriptedDump {
    int interrupted;
    int then = 0;
    int runs = 0;
    int operator()() { return runs++ < interrupted ? -NLE_DUMP_INTR : then; }
};

TEST(NlDump, InterruptedDumpIsDumpedAgainUntilItCompletes) {
    for (int interrupted = 0; interrupted < 5; ++interrupted) {
        ScriptedDump dump{interrupted};
        auto s = dump_retrying("RTM_GETADDR dump", dump);
        EXPECT_TRUE(s.ok()) << interrupted << " interruptions: " << s.error().describe();
        EXPECT_EQ(dump.runs, interrupted + 1) << interrupted << " interruptions";
    }
}

// Still interrupted after five tries: the agent's own trouble, so the check warns and the
// reply stays up (verdict_test: AgentInternalErrorsWarnAndNeverAnswerDown uses this error).
TEST(NlDump, DumpInterruptedOnEveryTryGivesUpAfterFiveAsAnAgentFault) {
    ScriptedDump dump{1000};
    auto s = dump_retrying("RTM_GETLINK dump", dump);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(dump.runs, 5);
    EXPECT_EQ(dump.runs, kDumpTries);
    EXPECT_EQ(s.error().code, EINTR);
    EXPECT_EQ(s.error().op, "RTM_GETLINK dump");
    EXPECT_NE(s.error().describe().find("Dump inconsistency detected"), std::string::npos)
        << s.error().describe();
    EXPECT_TRUE(is_agent_fault(s.error()));
}

// Any other failure is the answer: not dumped again.
TEST(NlDump, OtherFailuresAreReportedAtOnceWithTheirErrno) {
    const std::pair<int, int> cases[] = {
        {NLE_NOMEM, ENOMEM},      {NLE_AGAIN, EAGAIN},      {NLE_INTR, EINTR},
        {NLE_BAD_SOCK, EBADF},    {NLE_PERM, EPERM},        {NLE_NOACCESS, EACCES},
        {NLE_MSG_TRUNC, EBADMSG}, {NLE_PARSE_ERR, EBADMSG}, {NLE_OBJ_NOTFOUND, EIO},
    };
    for (auto [nle, errno_value] : cases) {
        ScriptedDump dump{0, -nle};
        auto s = dump_retrying("RTM_GETROUTE dump", dump);
        ASSERT_FALSE(s.ok()) << nl_geterror(-nle);
        EXPECT_EQ(dump.runs, 1) << nl_geterror(-nle);
        EXPECT_EQ(s.error().code, errno_value) << nl_geterror(-nle);
        EXPECT_EQ(s.error().op, "RTM_GETROUTE dump");
    }
    // A dump interrupted, then failing otherwise, reports the other failure.
    ScriptedDump dump{2, -NLE_NOMEM};
    auto s = dump_retrying("RTM_GETRULE dump", dump);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(dump.runs, 3);
    EXPECT_EQ(s.error().code, ENOMEM);
}

}  // namespace
