#pragma once
// The repair record on disk (codec: parse_state/serialize_state in repair.hpp).
#include <optional>
#include <string>

#include "ballast/agent/repair.hpp"

namespace ballast::agent {

// The record at path; nullopt only when there is none (ENOENT). Any other failure -- a
// symbolic link, not a regular file, a read error, a corrupt record -- is an error naming
// the file: repairing over it would drop what it holds.
Result<std::optional<RepairRecord>> read_record(const std::string& path);

// Replaces the record crash-safe: a unique temporary file beside it (O_EXCL|O_NOFOLLOW, mode
// 0600), written and fsynced, renamed over the record, then the directory fsynced. A
// missing directory is created (permissions from the umask: the unit sets 0077).
Status write_record(const std::string& path, const RepairRecord& record);

// This boot's id (/proc/sys/kernel/random/boot_id), or an error.
Result<std::string> current_boot_id();

}  // namespace ballast::agent
