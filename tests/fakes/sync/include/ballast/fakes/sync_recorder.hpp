#pragma once
// What a crash-safe write asked the kernel to make durable, and in which order: fsync, rename
// and renameat as the code under test called them (link with ballast_fake_sync, which wraps
// them), each with absolute paths; and an fsync failure on demand.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ballast/model/result.hpp"

namespace ballast::fakes {

struct SyncCall {
    std::string call;  // "fsync" or "rename" (rename and renameat alike)
    std::string path;  // fsync: the file or directory the descriptor is open on; rename: source
    std::string to;    // rename: target
    bool operator==(const SyncCall&) const = default;
};
std::ostream& operator<<(std::ostream& out, const SyncCall& c);

// Recorded since the last reset_sync_calls(); a failed call is recorded too.
std::vector<SyncCall> sync_calls();
void reset_sync_calls();

// The next fsync returns -1 with errno `err` and syncs nothing (once).
void fail_next_fsync(int err);

// calls are exactly a crash-safe replace of dir/name: fsync of a temporary file in dir, rename
// of that temporary over dir/name, then fsync of dir.
::testing::AssertionResult is_durable_replace(const std::vector<SyncCall>& calls,
                                              const std::string& dir, const std::string& name);

// status is the write's failure at the first fsync (injected as fail_next_fsync(err)): that
// errno, an error naming fsync, and nothing renamed after it.
::testing::AssertionResult failed_at_first_fsync(const Status& status, int err,
                                                 const std::vector<SyncCall>& calls);

// The names in dir, sorted (to show that no temporary file is left behind).
std::vector<std::string> names_in(const std::string& dir);

}  // namespace ballast::fakes
