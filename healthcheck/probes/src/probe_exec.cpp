// exec: run a program (argv with %ip / %port substituted) in its own process
// group; exit 0 = up. Its stdout+stderr is read continuously (kept up to a
// limit, the rest discarded) so it never blocks on a full pipe.
//
// The child gets nothing of the daemon's but what it needs: stdin /dev/null,
// stdout and stderr the pipe, every other descriptor closed (the daemon's Asio
// sockets are not close-on-exec), a minimal environment (PATH only), default
// signal dispositions and an empty mask, the root directory as working directory,
// and -- when the check names a `user`
// -- that user's uid, gid and groups. Exit is noticed through a pidfd; on
// timeout or cancellation the whole group is SIGKILLed and the child is reaped
// when its pidfd says it has exited, never by a blocking wait on the loop.
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>

#include "attempt.hpp"

namespace ballast::health::detail {
namespace {

constexpr const char* kPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string substitute(std::string arg, const CheckKey& k) {
    const std::pair<std::string, std::string> subs[] = {{"%ip", k.target.addr.to_string()},
                                                        {"%port", std::to_string(k.target.port)}};
    for (const auto& [from, to] : subs) {
        for (size_t at = arg.find(from); at != std::string::npos;
             at = arg.find(from, at + to.size())) {
            arg.replace(at, from.size(), to);
        }
    }
    return arg;
}

std::string first_line(std::string_view s, size_t max = 200) {
    s = s.substr(0, s.find('\n'));
    if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
    return std::string(s.substr(0, max));
}

// The program's path: as given when it has a '/', else the first executable
// file of that name on kPath (the child's PATH), as execvp would find it.
std::string resolve_program(const std::string& name) {
    if (name.find('/') != std::string::npos) return name;
    std::string_view dirs = kPath;
    while (!dirs.empty()) {
        const auto colon = dirs.find(':');
        std::string candidate = std::string(dirs.substr(0, colon)) + "/" + name;
        struct stat st {};
        if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
            ::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
        dirs.remove_prefix(colon == std::string_view::npos ? dirs.size() : colon + 1);
    }
    return name;  // execve reports ENOENT
}

// Who the child runs as (resolved in the parent: the child may only make system calls).
struct Credentials {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
    std::string home;
};

// Empty string when found, else why not.
std::string lookup_user(const std::string& name, Credentials& out) {
    long size = sysconf(_SC_GETPW_R_SIZE_MAX);
    std::vector<char> buf(static_cast<size_t>(size > 0 ? size : 16384));
    passwd pw{};
    passwd* found = nullptr;
    const int rc = getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
    if (rc != 0) return std::string("cannot look up user ") + name + ": " + strerror(rc);
    if (!found) return "no user " + name;
    out.uid = pw.pw_uid;
    out.gid = pw.pw_gid;
    out.home = pw.pw_dir ? pw.pw_dir : "/";
    int n = 32;
    out.groups.resize(static_cast<size_t>(n));
    if (getgrouplist(name.c_str(), pw.pw_gid, out.groups.data(), &n) < 0) {
        out.groups.resize(static_cast<size_t>(n));
        getgrouplist(name.c_str(), pw.pw_gid, out.groups.data(), &n);
    }
    out.groups.resize(static_cast<size_t>(std::max(n, 0)));
    return {};
}

// In the child: tells the parent why the program could not be run, and exits.
[[noreturn]] void child_failed(int report, int err) {
    [[maybe_unused]] auto n = ::write(report, &err, sizeof err);
    _exit(127);
}

// In the forked child: only system calls from here on (the parent may have had
// other threads, whose locks the child inherited held). Raw setuid/setgid calls:
// glibc's wrappers would try to reach the parent's other threads. Never returns.
[[noreturn]] void run_child(const char* path, char* const argv[], char* const envp[], int out,
                            int report, const Credentials* as) {
    ::setpgid(0, 0);
    if (::chdir("/") != 0) child_failed(report, errno);  // not wherever the daemon happens to be
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    const int null = ::open("/dev/null", O_RDONLY);
    if (null < 0 || ::dup2(null, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0)
        child_failed(report, errno);
    if (as) {
        if (::syscall(SYS_setgroups, as->groups.size(), as->groups.data()) != 0 ||
            ::syscall(SYS_setresgid, as->gid, as->gid, as->gid) != 0 ||
            ::syscall(SYS_setresuid, as->uid, as->uid, as->uid) != 0)
            child_failed(report, errno);
    }
    // Every descriptor but 0-2 and the report pipe (close-on-exec, so closed by a
    // successful execve: the parent then reads end-of-file).
    const auto keep = static_cast<unsigned>(report);
    if (::syscall(SYS_close_range, 3u, keep - 1, 0u) != 0 && keep > 3) {
        for (unsigned fd = 3; fd < keep; ++fd) ::close(static_cast<int>(fd));
    }
    if (::syscall(SYS_close_range, keep + 1, ~0u, 0u) != 0) {
        for (long fd = keep + 1, max = sysconf(_SC_OPEN_MAX); fd < max; ++fd)
            ::close(static_cast<int>(fd));
    }
    ::execve(path, argv, envp);
    child_failed(report, errno);
}

class ExecAttempt final : public Attempt {
public:
    ExecAttempt(ProbeContext& c, const CheckKey& k, ProbeCallback d)
        : Attempt(c, k, std::move(d)), out_(c.io()), pidfd_(c.io()) {}
    ~ExecAttempt() override {
        // Only when the loop went away before the child died: kill it, never wait.
        if (pid_ > 0) {
            ::kill(-pid_, SIGKILL);
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, WNOHANG);
        }
    }

private:
    void begin() override {
        phase_ = "running";
        if (check_.spec->command.empty()) return finish_later("exec: no command configured");
        std::vector<std::string> args;
        for (const auto& a : check_.spec->command) args.push_back(substitute(a, check_));
        std::vector<char*> argv;
        argv.reserve(args.size() + 1);
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        const std::string path = resolve_program(args[0]);

        Credentials creds;
        std::string home = "/";
        if (!check_.spec->user.empty()) {
            // A user that cannot be found is the director's problem (config or NSS).
            auto why = lookup_user(check_.spec->user, creds);
            if (!why.empty()) return finish_later("checker: exec: " + why, true);
            home = creds.home;
        }
        std::string env_path = std::string("PATH=") + kPath;
        std::string env_home = "HOME=" + home;
        std::string env_lang = "LANG=C";
        char* envp[] = {env_path.data(), env_home.data(), env_lang.data(), nullptr};

        int out[2], report[2];
        if (pipe2(out, O_CLOEXEC | O_NONBLOCK) != 0) {
            return finish_later(std::string("checker: exec: pipe: ") + strerror(errno), true);
        }
        if (pipe2(report, O_CLOEXEC) != 0) {
            const int err = errno;
            ::close(out[0]);
            ::close(out[1]);
            return finish_later(std::string("checker: exec: pipe: ") + strerror(err), true);
        }
        const pid_t pid = ::fork();
        if (pid == 0) {
            run_child(path.c_str(), argv.data(), envp, out[1], report[1],
                      check_.spec->user.empty() ? nullptr : &creds);
        }
        const int fork_err = errno;
        ::close(out[1]);
        ::close(report[1]);
        if (pid < 0) {
            ::close(out[0]);
            ::close(report[0]);
            return finish_later(
                "checker: exec: cannot start " + args[0] + ": " + strerror(fork_err), true);
        }
        pid_ = pid;
        // The child execs (or fails to) at once: this read ends then, with
        // end-of-file (the pipe was close-on-exec) or the errno of the failure.
        int exec_err = 0;
        ssize_t n;
        while ((n = ::read(report[0], &exec_err, sizeof exec_err)) < 0 && errno == EINTR) {
        }
        ::close(report[0]);
        if (n <= 0) exec_err = 0;
        out_.assign(out[0]);
        const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
        if (pidfd < 0) {
            return finish_later(std::string("checker: exec: pidfd_open: ") + strerror(errno), true);
        }
        pidfd_.assign(pidfd);
        if (exec_err != 0) {
            // A program that cannot be run (ENOENT, EACCES) is a bad check: down.
            // The child exits at once; its pidfd reaps it.
            cannot_run_ = "exec: cannot run " + args[0] + ": " + strerror(exec_err);
            if (is_checker_fault(exec_err)) cannot_run_ = "checker: " + cannot_run_;
            inconclusive_ = is_checker_fault(exec_err);
        } else {
            read_output();
        }
        wait_exit();
    }

    void wait_exit() {
        pidfd_.async_wait(asio::posix::stream_descriptor::wait_read,
                          [self = self_as<ExecAttempt>()](const error_code& ec) {
                              if (ec) return;  // the loop is going away
                              // The child has exited but is not reaped yet, so its pid
                              // is still its group's id: end whatever it left running.
                              if (self->pid_ > 0) ::kill(-self->pid_, SIGKILL);
                              if (!self->reap()) return self->wait_exit();
                              if (!self->finished_) self->exited();
                          });
    }

    // Collects the exited child without blocking; false if it has not exited yet.
    bool reap() {
        if (pid_ <= 0) return true;
        int status = 0;
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == 0) return false;
        status_ = r == pid_ ? status : -1;
        pid_ = -1;
        error_code ignored;
        pidfd_.close(ignored);
        return true;
    }

    void read_output() {
        out_.async_read_some(asio::buffer(chunk_),
                             [self = self_as<ExecAttempt>()](const error_code& ec, size_t n) {
                                 if (self->finished_) return;
                                 self->keep(n);
                                 if (!ec) self->read_output();
                             });
    }

    void keep(size_t n) {
        const size_t limit = ctx_.limits().exec_output;
        if (output_.size() < limit)
            output_.append(chunk_.data(), std::min(n, limit - output_.size()));
    }

    void exited() {
        if (!cannot_run_.empty()) {
            if (inconclusive_) return finish_inconclusive(cannot_run_);
            return finish(false, cannot_run_);
        }
        if (status_ < 0) return finish_inconclusive("checker: exec: waitpid failed");
        // Take what the child left in the pipe; a grandchild still holding it open
        // must not keep the check waiting.
        for (;;) {
            const ssize_t n = ::read(out_.native_handle(), chunk_.data(), chunk_.size());
            if (n <= 0) break;
            keep(static_cast<size_t>(n));
        }
        const std::string line = first_line(output_);
        if (WIFSIGNALED(status_)) {
            return finish(false, "exec: killed by signal " + std::to_string(WTERMSIG(status_)));
        }
        const int code = WEXITSTATUS(status_);
        std::string reason =
            "exec: exit " + std::to_string(code) + (line.empty() ? "" : ": " + line);
        std::optional<AgentReply> weight;
        if (code == 0 && check_.spec->weight_from_output) weight = parse_weight_text(line);
        finish(code == 0, std::move(reason), std::move(weight));
    }

    // Timeout or cancellation: kill the whole group (a grandchild too). The pidfd
    // wait begun in begin() reaps the child once it is gone -- a child stuck in
    // uninterruptible sleep keeps only its own run alive, never the loop.
    void close() override {
        error_code ignored;
        out_.close(ignored);
        if (pid_ > 0) {
            ::kill(-pid_, SIGKILL);
            ::kill(pid_, SIGKILL);
            if (!pidfd_.is_open()) reap_blindly();
        }
    }

    // No pidfd (pidfd_open failed): nothing will tell us when it has exited.
    void reap_blindly() {
        ::waitpid(pid_, nullptr, WNOHANG);
        pid_ = -1;
    }

    asio::posix::stream_descriptor out_;
    asio::posix::stream_descriptor pidfd_;
    pid_t pid_ = -1;
    int status_ = 0;
    std::string cannot_run_;  // set when execve failed in the child
    bool inconclusive_ = false;
    std::string output_;
    std::array<char, 4096> chunk_;  // not zeroed: filled by each read
};

}  // namespace

std::shared_ptr<Attempt> make_exec_attempt(ProbeContext& c, const CheckKey& k, ProbeCallback d) {
    return std::make_shared<ExecAttempt>(c, k, std::move(d));
}

}  // namespace ballast::health::detail
