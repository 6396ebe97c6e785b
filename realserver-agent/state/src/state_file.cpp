#include "ballast/agent/state_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <random>

namespace ballast::agent {
namespace {

constexpr size_t kMaxRecord = 1 << 20;

struct FdCloser {
    int fd = -1;
    ~FdCloser() {
        if (fd >= 0) ::close(fd);
    }
};

Result<std::string> read_all(int fd, const std::string& path) {
    std::string text;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return make_error(errno, "read", path);
        }
        if (n == 0) return text;
        text.append(buf, static_cast<size_t>(n));
        if (text.size() > kMaxRecord)
            return make_error(EFBIG, "read", path, path + ": larger than 1 MiB");
    }
}

Status write_all(int fd, const std::string& text, const std::string& path) {
    for (size_t done = 0; done < text.size();) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return make_error(errno, "write", path);
        }
        done += static_cast<size_t>(n);
    }
    return {};
}

}  // namespace

Result<std::optional<RepairRecord>> read_record(const std::string& path) {
    FdCloser f{::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)};
    if (f.fd < 0) {
        if (errno == ENOENT) return std::optional<RepairRecord>{};
        if (errno == ELOOP)
            return make_error(ELOOP, "open", path,
                              path + ": is a symbolic link; the record must be a regular file");
        return make_error(errno, "open", path);
    }
    struct stat st {};
    if (::fstat(f.fd, &st) != 0) return make_error(errno, "fstat", path);
    if (!S_ISREG(st.st_mode))
        return make_error(EINVAL, "open", path, path + ": not a regular file");
    auto text = read_all(f.fd, path);
    if (!text) return text.error();
    auto record = parse_state(*text);
    if (!record) {
        Error e = record.error();
        e.message = path + ": corrupt repair record: " + e.message;
        return e;
    }
    return std::optional<RepairRecord>(std::move(*record));
}

Status write_record(const std::string& path, const RepairRecord& record) {
    namespace fs = std::filesystem;
    const fs::path target(path);
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    const std::string name = target.filename().string();
    std::error_code ec;
    if (fs::create_directories(dir, ec); ec)
        return make_error(ec.value(), "create_directories", dir.string());
    FdCloser d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (d.fd < 0) return make_error(errno, "open", dir.string());

    // A name nobody can have planted: O_EXCL fails rather than open what exists.
    std::random_device rd;
    std::string tmp;
    FdCloser f;
    for (int tries = 0; f.fd < 0 && tries < 16; ++tries) {
        tmp = "." + name + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rd());
        f.fd =
            ::openat(d.fd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (f.fd < 0 && errno != EEXIST) return make_error(errno, "open", (dir / tmp).string());
    }
    if (f.fd < 0) return make_error(EEXIST, "open", (dir / tmp).string());
    auto fail = [&](Error e) {
        ::unlinkat(d.fd, tmp.c_str(), 0);
        return e;
    };
    if (::fchmod(f.fd, 0600) != 0) return fail(make_error(errno, "fchmod", tmp));
    if (auto s = write_all(f.fd, serialize_state(record), (dir / tmp).string()); !s)
        return fail(s.error());
    if (::fsync(f.fd) != 0) return fail(make_error(errno, "fsync", (dir / tmp).string()));
    if (::close(std::exchange(f.fd, -1)) != 0)
        return fail(make_error(errno, "close", (dir / tmp).string()));
    // rename replaces a symlink at the target instead of following it.
    if (::renameat(d.fd, tmp.c_str(), d.fd, name.c_str()) != 0)
        return fail(make_error(errno, "rename", path));
    if (::fsync(d.fd) != 0) return make_error(errno, "fsync", dir.string());
    return {};
}

Result<std::string> current_boot_id() {
    const std::string path = "/proc/sys/kernel/random/boot_id";
    FdCloser f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0) return make_error(errno, "open", path);
    auto text = read_all(f.fd, path);
    if (!text) return text.error();
    while (!text->empty() && (text->back() == '\n' || text->back() == ' ')) text->pop_back();
    if (text->empty()) return make_error(EINVAL, "read", path, path + ": empty");
    return *text;
}

}  // namespace ballast::agent
