#include "ballast/fakes/sync_recorder.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <utility>

namespace fs = std::filesystem;

extern "C" {
int __real_fsync(int fd);
int __real_rename(const char* from, const char* to);
int __real_renameat(int from_dir, const char* from, int to_dir, const char* to);
}

namespace ballast::fakes {
namespace {

std::mutex mu;
std::vector<SyncCall> calls;
int next_fsync_error = 0;

// The path a descriptor is open on (AT_FDCWD: the working directory).
std::string fd_path(int fd) {
    std::error_code ec;
    const fs::path p = fd == AT_FDCWD ? fs::current_path(ec)
                                      : fs::read_symlink("/proc/self/fd/" + std::to_string(fd), ec);
    return ec ? "fd " + std::to_string(fd) + " (" + ec.message() + ")" : p.string();
}

// name made absolute against dir, its directory canonical (the name itself is not followed:
// a symlink there is what rename replaces).
std::string absolute_in(const std::string& dir, const char* name) {
    fs::path p = fs::path(name).is_absolute() ? fs::path(name) : fs::path(dir) / name;
    std::error_code ec;
    const fs::path parent = fs::canonical(p.parent_path(), ec);
    return ec ? p.string() : (parent / p.filename()).string();
}

void record(SyncCall c) {
    std::lock_guard lock(mu);
    calls.push_back(std::move(c));
}

}  // namespace

std::ostream& operator<<(std::ostream& out, const SyncCall& c) {
    out << c.call << "(" << c.path;
    if (!c.to.empty()) out << " -> " << c.to;
    return out << ")";
}

std::vector<SyncCall> sync_calls() {
    std::lock_guard lock(mu);
    return calls;
}

void reset_sync_calls() {
    std::lock_guard lock(mu);
    calls.clear();
    next_fsync_error = 0;
}

void fail_next_fsync(int err) {
    std::lock_guard lock(mu);
    next_fsync_error = err;
}

::testing::AssertionResult is_durable_replace(const std::vector<SyncCall>& got,
                                              const std::string& dir, const std::string& name) {
    const std::string d = fs::canonical(dir).string();
    const std::string target = (fs::path(d) / name).string();
    auto fail = [&](const std::string& why) {
        auto r = ::testing::AssertionFailure() << why << "; calls:";
        for (const auto& c : got) r << " " << c;
        return r;
    };
    if (got.size() != 3) return fail("expected fsync(temporary), rename, fsync(" + d + ")");
    const SyncCall& file = got[0];
    if (file.call != "fsync" || fs::path(file.path).parent_path() != d || file.path == target)
        return fail("first: fsync of a temporary file in " + d);
    if (got[1] != SyncCall{"rename", file.path, target})
        return fail("second: rename of the fsynced " + file.path + " over " + target);
    if (got[2] != SyncCall{"fsync", d, ""}) return fail("last: fsync of the directory " + d);
    return ::testing::AssertionSuccess();
}

::testing::AssertionResult failed_at_first_fsync(const Status& status, int err,
                                                 const std::vector<SyncCall>& got) {
    if (status.ok()) return ::testing::AssertionFailure() << "the write succeeded";
    const Error& e = status.error();
    if (e.code != err || e.op != "fsync" || e.describe().find("fsync") == std::string::npos)
        return ::testing::AssertionFailure()
               << "expected errno " << err << " from fsync, got: " << e.describe();
    if (got.empty() || got.front().call != "fsync")
        return ::testing::AssertionFailure() << "the first call was not the failed fsync";
    for (const auto& c : got)
        if (c.call == "rename") return ::testing::AssertionFailure() << "renamed after it: " << c;
    return ::testing::AssertionSuccess();
}

std::vector<std::string> names_in(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace ballast::fakes

using ballast::fakes::SyncCall;

extern "C" {

int __wrap_fsync(int fd) {
    ballast::fakes::record(SyncCall{"fsync", ballast::fakes::fd_path(fd), ""});
    int err = 0;
    {
        std::lock_guard lock(ballast::fakes::mu);
        err = std::exchange(ballast::fakes::next_fsync_error, 0);
    }
    if (err != 0) {
        errno = err;
        return -1;
    }
    return __real_fsync(fd);
}

int __wrap_rename(const char* from, const char* to) {
    const std::string cwd = ballast::fakes::fd_path(AT_FDCWD);
    ballast::fakes::record(SyncCall{"rename", ballast::fakes::absolute_in(cwd, from),
                                    ballast::fakes::absolute_in(cwd, to)});
    return __real_rename(from, to);
}

int __wrap_renameat(int from_dir, const char* from, int to_dir, const char* to) {
    ballast::fakes::record(
        SyncCall{"rename", ballast::fakes::absolute_in(ballast::fakes::fd_path(from_dir), from),
                 ballast::fakes::absolute_in(ballast::fakes::fd_path(to_dir), to)});
    return __real_renameat(from_dir, from, to_dir, to);
}

}  // extern "C"
