#include "ballast/testing/netns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace ballast::testing {

CommandOutput run(const std::string& cmd) {
    CommandOutput out;
    std::string full = cmd + " 2>&1";
    FILE* p = ::popen(full.c_str(), "r");
    if (!p) throw CommandFailed("popen failed for: " + cmd);
    std::array<char, 4096> buf;
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.output.append(buf.data(), n);
    int st = ::pclose(p);
    out.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return out;
}

std::string sh(const std::string& cmd) {
    auto r = run(cmd);
    if (r.status != 0)
        throw CommandFailed("command failed (exit " + std::to_string(r.status) + "): " + cmd +
                            "\n" + r.output);
    return r.output;
}

void require_netns_capability() {
    if (::geteuid() != 0)
        throw CommandFailed("host tests need root (network namespaces, nftables); run as root");
    NetNs probe("probe");  // throws with ip's message if namespaces are unavailable
}

std::string unique_name(const std::string& base) {
    static std::atomic<unsigned> counter{0};
    return base + std::to_string(::getpid() % 100000) + "x" + std::to_string(counter++);
}

NetNs::NetNs(const std::string& base) : name_(unique_name(base)) {
    sh("ip netns add " + name_);
    try {
        exec("ip link set lo up");
    } catch (...) {
        run("ip netns del " + name_);
        throw;
    }
}

NetNs::~NetNs() {
    run("ip netns del " + name_);
}

std::string NetNs::exec(const std::string& cmd) const {
    return sh("ip netns exec " + name_ + " sh -c '" + cmd + "'");
}

CommandOutput NetNs::try_exec(const std::string& cmd) const {
    return run("ip netns exec " + name_ + " sh -c '" + cmd + "'");
}

void NetNs::enter() const {
    std::string path = "/run/netns/" + name_;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw CommandFailed("open " + path + ": " + std::strerror(errno));
    int rc = ::setns(fd, CLONE_NEWNET);
    int err = errno;
    ::close(fd);
    if (rc != 0) throw CommandFailed("setns " + name_ + ": " + std::strerror(err));
}

VethLink connect(const NetNs& a, const std::string& a_cidr, const NetNs& b,
                 const std::string& b_cidr) {
    VethLink link{unique_name("va"), unique_name("vb")};
    sh("ip link add " + link.a_if + " netns " + a.name() + " type veth peer name " + link.b_if +
       " netns " + b.name());
    a.exec("ip addr add " + a_cidr + " dev " + link.a_if + " && ip link set " + link.a_if + " up");
    b.exec("ip addr add " + b_cidr + " dev " + link.b_if + " && ip link set " + link.b_if + " up");
    return link;
}

}  // namespace ballast::testing
