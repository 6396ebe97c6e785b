#include "ballast/state/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

namespace ballast::state {
namespace {

struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

Status write_all(int fd, const std::string& content, const std::string& path) {
    size_t off = 0;
    while (off < content.size()) {
        const ssize_t n = ::write(fd, content.data() + off, content.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return make_error(errno, "write", path);
        }
        off += static_cast<size_t>(n);
    }
    return {};
}

}  // namespace

Status write_file_atomic(const std::string& dir, const std::string& name,
                         const std::string& content) {
    const std::string path = dir + "/" + name;
    std::string tmpl = dir + "/." + name + ".XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    Fd file{::mkostemp(buf.data(), O_CLOEXEC)};  // O_EXCL, mode 0600
    if (file.fd < 0) return make_error(errno, "create", tmpl);
    const std::string tmp(buf.data());
    auto fail = [&](int code, const char* op) {
        ::unlink(tmp.c_str());
        return make_error(code, op, path);
    };
    if (auto st = write_all(file.fd, content, tmp); !st) return fail(st.error().code, "write");
    if (::fsync(file.fd) != 0) return fail(errno, "fsync");
    if (::close(file.fd) != 0) {
        file.fd = -1;
        return fail(errno, "close");
    }
    file.fd = -1;
    if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(errno, "rename");
    Fd d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (d.fd < 0) return make_error(errno, "open", dir);
    if (::fsync(d.fd) != 0) return make_error(errno, "fsync", dir);
    return {};
}

Result<std::optional<std::string>> read_file(const std::string& path, size_t max_bytes) {
    Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)};
    if (f.fd < 0) {
        if (errno == ENOENT) return std::optional<std::string>{};
        return make_error(errno, "open", path);
    }
    struct stat st {};
    if (::fstat(f.fd, &st) != 0) return make_error(errno, "stat", path);
    if (!S_ISREG(st.st_mode))
        return make_error(EINVAL, "open", path, path + ": not a regular file");
    std::string out;
    char chunk[8192];
    for (;;) {
        const ssize_t n = ::read(f.fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR) continue;
            return make_error(errno, "read", path);
        }
        if (n == 0) break;
        if (out.size() + static_cast<size_t>(n) > max_bytes)
            return make_error(EFBIG, "read", path,
                              path + ": larger than " + std::to_string(max_bytes) + " bytes");
        out.append(chunk, static_cast<size_t>(n));
    }
    return std::optional<std::string>(std::move(out));
}

}  // namespace ballast::state
