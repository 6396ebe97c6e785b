#include "ballast/testing/lab.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

extern char** environ;

namespace ballast::testing {

namespace {

std::string describe(const std::vector<std::string>& argv) {
    std::string s;
    for (const auto& a : argv) {
        if (!s.empty()) s += ' ';
        s += a;
    }
    return s;
}

std::string errno_text(const char* what) {
    return std::string(what) + ": " + std::strerror(errno);
}

struct Pipe {
    int fd[2] = {-1, -1};
    Pipe() {
        if (::pipe2(fd, O_CLOEXEC) != 0) throw CommandFailed(errno_text("pipe2"));
    }
    ~Pipe() {
        close_end(0);
        close_end(1);
    }
    void close_end(int i) {
        if (fd[i] >= 0) ::close(fd[i]);
        fd[i] = -1;
    }
};

}  // namespace

namespace {

// Runs argv with input on stdin; stdout into out, stderr into err (or into out when err is null).
int spawn_and_collect(const std::vector<std::string>& argv, const std::string& input,
                      std::string& out_text, std::string* err_text) {
    if (argv.empty()) throw CommandFailed("run_argv: empty command");
    Pipe in, out, err;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in.fd[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out.fd[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err_text ? err.fd[1] : out.fd[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw CommandFailed("cannot start " + describe(argv) + ": " + std::strerror(rc));
    in.close_end(0);
    out.close_end(1);
    err.close_end(1);
    if (!err_text) err.close_end(0);

    // Feed stdin and drain both outputs together so neither side can block the other.
    size_t written = 0;
    if (input.empty()) in.close_end(1);
    // Writing to a child that exited early must not kill us.
    ::signal(SIGPIPE, SIG_IGN);
    auto drain = [](Pipe& p, std::string& into) {
        char buf[4096];
        ssize_t r = ::read(p.fd[0], buf, sizeof buf);
        if (r > 0)
            into.append(buf, static_cast<size_t>(r));
        else if (r == 0 || errno != EINTR)
            p.close_end(0);
    };
    while (out.fd[0] >= 0 || err.fd[0] >= 0) {
        pollfd fds[3] = {{out.fd[0], POLLIN, 0}, {err.fd[0], POLLIN, 0}, {in.fd[1], POLLOUT, 0}};
        if (::poll(fds, 3, -1) < 0) {
            if (errno == EINTR) continue;
            throw CommandFailed(errno_text("poll"));
        }
        if (in.fd[1] >= 0 && fds[2].revents) {
            ssize_t w = ::write(in.fd[1], input.data() + written, input.size() - written);
            if (w > 0) written += static_cast<size_t>(w);
            if (w < 0 || written == input.size()) in.close_end(1);
        }
        if (out.fd[0] >= 0 && fds[0].revents) drain(out, out_text);
        if (err.fd[0] >= 0 && fds[1].revents) drain(err, *err_text);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

CommandOutput run_argv(const std::vector<std::string>& argv, const std::string& input) {
    CommandOutput result;
    result.status = spawn_and_collect(argv, input, result.output, nullptr);
    return result;
}

CommandStreams run_argv_streams(const std::vector<std::string>& argv, const std::string& input) {
    CommandStreams result;
    result.status = spawn_and_collect(argv, input, result.out, &result.err);
    return result;
}

std::string check_argv(const std::vector<std::string>& argv, const std::string& input) {
    auto r = run_argv(argv, input);
    if (r.status != 0)
        throw CommandFailed("command failed (exit " + std::to_string(r.status) +
                            "): " + describe(argv) + "\n" + r.output);
    return r.output;
}

void require_ipvs_kernel() {
    struct stat st {};
    if (::stat("/proc/net/ip_vs", &st) != 0)
        throw CommandFailed(
            "this kernel has no IPVS (/proc/net/ip_vs missing): kernel tests must run inside "
            "the lab, e.g. scripts/lab-vm " +
            std::string(program_invocation_name));
}

std::set<std::string> loaded_modules() {
    std::ifstream f("/proc/modules");
    if (!f) throw CommandFailed("cannot read /proc/modules");
    std::set<std::string> names;
    std::string line;
    while (std::getline(f, line)) names.insert(line.substr(0, line.find(' ')));
    return names;
}

IsolatedNetns::IsolatedNetns() {
    std::promise<pid_t> started;
    auto tid = started.get_future();
    worker_ = std::thread([this, &started] { work(started); });
    try {
        tid_ = tid.get();
    } catch (...) {
        worker_.join();
        throw;
    }
}

IsolatedNetns::~IsolatedNetns() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    worker_.join();
}

void IsolatedNetns::post(std::function<void()> job) {
    {
        std::lock_guard lock(mutex_);
        jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
}

void IsolatedNetns::work(std::promise<pid_t>& started) {
    try {
        if (::unshare(CLONE_NEWNET) != 0) throw CommandFailed(errno_text("unshare(CLONE_NEWNET)"));
        int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0) throw CommandFailed(errno_text("socket"));
        ifreq ifr{};
        std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
        bool up = ::ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
        ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
        up = up && ::ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
        int err = errno;
        ::close(fd);
        if (!up) throw CommandFailed(std::string("bring lo up: ") + std::strerror(err));
        started.set_value(::gettid());
    } catch (...) {
        started.set_exception(std::current_exception());
        return;
    }
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;  // stopping, nothing left
        auto job = std::move(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        job();  // packaged_task: exceptions land in the caller's future
        lock.lock();
    }
}

CommandOutput IsolatedNetns::exec(const std::vector<std::string>& argv, const std::string& input) {
    return run([&] { return run_argv(argv, input); });
}

std::string IsolatedNetns::check(const std::vector<std::string>& argv, const std::string& input) {
    return run([&] { return check_argv(argv, input); });
}

}  // namespace ballast::testing
