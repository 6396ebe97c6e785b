// exec: run a program (argv with %ip / %port substituted) in its own process
// group; exit 0 = up. Its stdout+stderr is read continuously (kept up to a
// limit, the rest discarded) so it never blocks on a full pipe. Exit is
// noticed through a pidfd; on timeout or cancellation the whole group is
// SIGKILLed and the child reaped at once, so no zombie outlives the run.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>

#include "attempt.hpp"

extern char** environ;

namespace ballast::health::detail {
namespace {

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

class ExecAttempt final : public Attempt {
public:
    ExecAttempt(ProbeContext& c, const CheckKey& k, ProbeCallback d)
        : Attempt(c, k, std::move(d)), out_(c.io()), pidfd_(c.io()) {}
    ~ExecAttempt() override { reap_now(); }

private:
    void begin() override {
        phase_ = "running";
        if (check_.spec.command.empty()) return finish_later("exec: no command configured");
        std::vector<std::string> args;
        for (const auto& a : check_.spec.command) args.push_back(substitute(a, check_));
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);

        int fds[2];
        if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
            return finish_later(std::string("checker: exec: pipe: ") + strerror(errno), true);
        }
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
        posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
        posix_spawnattr_setpgroup(&attr, 0);
        sigset_t none;
        sigemptyset(&none);
        posix_spawnattr_setsigmask(&attr, &none);
        pid_t pid = -1;
        const int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        ::close(fds[1]);
        if (rc != 0) {
            ::close(fds[0]);
            // A fork the system refused (EAGAIN, ENOMEM) is the director's fault; a
            // program that cannot be run (ENOENT, EACCES) is a bad check: down.
            if (is_checker_fault(rc))
                return finish_later("checker: exec: cannot start " + args[0] + ": " + strerror(rc),
                                    true);
            return finish_later("exec: cannot run " + args[0] + ": " + strerror(rc));
        }
        pid_ = pid;
        out_.assign(fds[0]);
        const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
        if (pidfd < 0) {
            return finish_later(std::string("checker: exec: pidfd_open: ") + strerror(errno), true);
        }
        pidfd_.assign(pidfd);
        read_output();
        pidfd_.async_wait(asio::posix::stream_descriptor::wait_read,
                          [self = self_as<ExecAttempt>()](const error_code& ec) {
                              if (self->finished_ || ec) return;
                              self->exited();
                          });
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
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) != pid_) return fail_now("exec: waitpid failed");
        pid_ = -1;
        // Take what the child left in the pipe; a grandchild still holding it open
        // must not keep the check waiting.
        for (;;) {
            const ssize_t n = ::read(out_.native_handle(), chunk_.data(), chunk_.size());
            if (n <= 0) break;
            keep(static_cast<size_t>(n));
        }
        const std::string line = first_line(output_);
        if (WIFSIGNALED(status)) {
            return finish(false, "exec: killed by signal " + std::to_string(WTERMSIG(status)));
        }
        const int code = WEXITSTATUS(status);
        std::string reason =
            "exec: exit " + std::to_string(code) + (line.empty() ? "" : ": " + line);
        std::optional<AgentReply> weight;
        if (code == 0 && check_.spec.weight_from_output) weight = parse_weight_text(line);
        finish(code == 0, std::move(reason), std::move(weight));
    }

    void fail_now(std::string why) { finish(false, std::move(why)); }

    void close() override {
        error_code ignored;
        out_.close(ignored);
        pidfd_.close(ignored);
        reap_now();
    }

    // SIGKILL to the group, then a blocking waitpid: a killed process exits at once,
    // and blocking briefly here is the price of never leaving a zombie.
    void reap_now() {
        if (pid_ <= 0) return;
        ::kill(-pid_, SIGKILL);
        ::kill(pid_, SIGKILL);
        while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
    }

    asio::posix::stream_descriptor out_;
    asio::posix::stream_descriptor pidfd_;
    pid_t pid_ = -1;
    std::string output_;
    std::array<char, 4096> chunk_;  // not zeroed: filled by each read
};

}  // namespace

std::shared_ptr<Attempt> make_exec_attempt(ProbeContext& c, const CheckKey& k, ProbeCallback d) {
    return std::make_shared<ExecAttempt>(c, k, std::move(d));
}

}  // namespace ballast::health::detail
