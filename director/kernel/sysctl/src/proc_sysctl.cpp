#include "ballast/sysctl/proc_sysctl.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace ballast::sysctl {

ProcSysctl::ProcSysctl(std::string root) : root_(std::move(root)) {}

std::string ProcSysctl::path_of(const std::string& key) const {
    // sysctl(8): '.' separates levels, '/' stands for a '.' inside a name.
    std::string rel = key;
    for (auto& c : rel) c = c == '.' ? '/' : (c == '/' ? '.' : c);
    return root_ + "/" + rel;
}

bool ProcSysctl::exists(const std::string& key) const {
    struct stat st {};
    return ::stat(path_of(key).c_str(), &st) == 0;
}

Result<std::string> ProcSysctl::read(const std::string& key) const {
    int fd = ::open(path_of(key).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return make_error(errno, "read sysctl", key);
    std::string out;
    char buf[256];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            int e = errno;
            ::close(fd);
            return make_error(e, "read sysctl", key);
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    const auto first = out.find_first_not_of(" \t\n");
    if (first == std::string::npos) return std::string{};
    return out.substr(first, out.find_last_not_of(" \t\n") - first + 1);
}

Status ProcSysctl::write(const std::string& key, const std::string& value) {
    // O_TRUNC is harmless on /proc and makes the temp-dir stand-in behave the same way.
    int fd = ::open(path_of(key).c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) return make_error(errno, "write sysctl", key);
    const std::string text = value + "\n";
    ssize_t n = ::write(fd, text.data(), text.size());
    int e = errno;
    ::close(fd);
    if (n != static_cast<ssize_t>(text.size()))
        return make_error(n < 0 ? e : EIO, "write sysctl", key);
    return {};
}

}  // namespace ballast::sysctl
