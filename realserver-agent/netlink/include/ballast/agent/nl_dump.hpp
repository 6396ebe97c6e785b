#pragma once
// libnl dumps as the agent runs them: an interrupted dump is dumped again, and libnl's
// NLE_* errors become errno values. Internal to the rtnetlink RouteQuery; a header of its
// own so the retry can be tested without a kernel.
#include <netlink/errno.h>

#include <string>

#include "ballast/model/result.hpp"

namespace ballast::agent {

// libnl's negative NLE_* code as errno, so a verdict can tell the agent's own trouble
// (is_agent_fault) from the kernel's answer: NLE_DUMP_INTR and NLE_INTR are EINTR.
int errno_of_nl(int nl_err);
Error nl_error(int nl_err, const std::string& op);

// A dump interrupted by a concurrent change (NLM_F_DUMP_INTR: libnl reads it to the end and
// reports NLE_DUMP_INTR) says nothing about the host: dump again, up to kDumpTries times in
// all. `dump` returns libnl's 0 or negative NLE_* code; any other failure is not retried.
// (libnl 3.7's nl_cache_refill restarts an interrupted dump itself, without a limit, and
// never returns NLE_DUMP_INTR from the *_alloc_cache calls: this is the bound for any libnl
// that hands it on.)
inline constexpr int kDumpTries = 5;
template <typename Dump>
Status dump_retrying(const std::string& op, Dump&& dump) {
    int err = 0;
    for (int i = 0; i < kDumpTries; ++i)
        if ((err = dump()) != -NLE_DUMP_INTR) break;
    if (err < 0) return nl_error(err, op);
    return {};
}

}  // namespace ballast::agent
