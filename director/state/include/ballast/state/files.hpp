#pragma once
// Small files that must survive a crash: written whole or not at all.
#include <optional>
#include <string>

#include "ballast/model/result.hpp"

namespace ballast::state {

// Writes `content` to dir/name atomically: a unique temporary file in dir (O_EXCL, mode
// 0600), fsync, rename over the old file, fsync of the directory. A crash leaves either the
// old or the new file, never a mix. Never follows a symlink at dir/name (rename replaces it).
Status write_file_atomic(const std::string& dir, const std::string& name,
                         const std::string& content);

// The whole file, or nullopt when it does not exist (ENOENT only: any other failure, e.g.
// EACCES or a symlink (O_NOFOLLOW), is an error, so a record is never mistaken for absent).
// Files larger than max_bytes are an error (EFBIG).
Result<std::optional<std::string>> read_file(const std::string& path,
                                             size_t max_bytes = 64 * 1024 * 1024);

}  // namespace ballast::state
