#pragma once
// Kernel-lab test helpers. Under TCG every process start costs ~0.5-1 s, so
// commands run without a shell (one exec each) and namespaces are made with
// unshare() instead of `ip netns`.
// Anything the lab should provide but does not throws: kernel tests fail, never skip.
#include <sys/types.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ballast/testing/netns.hpp"  // CommandOutput, CommandFailed

namespace ballast::testing {

// Runs argv[0] (looked up in PATH) with argv, `input` on its stdin, and returns
// its exit status with stdout and stderr interleaved. No shell is involved.
// The child inherits the calling thread's network namespace.
CommandOutput run_argv(const std::vector<std::string>& argv, const std::string& input = {});
// Same, with stdout and stderr kept apart.
struct CommandStreams {
    int status = 0;
    std::string out, err;
};
CommandStreams run_argv_streams(const std::vector<std::string>& argv,
                                const std::string& input = {});
// Same, but throws CommandFailed (naming the command and its output) on non-zero exit.
std::string check_argv(const std::vector<std::string>& argv, const std::string& input = {});

// Throws unless this kernel has IPVS (/proc/net/ip_vs): i.e. we run in scripts/lab-vm.
void require_ipvs_kernel();

// Module names listed in /proc/modules.
std::set<std::string> loaded_modules();

// A fresh network namespace owned by a worker thread that lives in it. Work
// posted with run() executes on that thread, so sockets it opens and processes
// it starts (run_argv) live in the namespace. `lo` is up (IPVS NAT needs local
// routes). The namespace disappears when this object is destroyed.
class IsolatedNetns {
public:
    IsolatedNetns();
    ~IsolatedNetns();
    IsolatedNetns(const IsolatedNetns&) = delete;
    IsolatedNetns& operator=(const IsolatedNetns&) = delete;

    // The worker's thread id; `ip link ... netns <tid>` moves a link here.
    pid_t tid() const { return tid_; }

    // Runs fn on the worker and returns its result; exceptions propagate.
    template <typename F>
    auto run(F&& fn) -> decltype(fn()) {
        using R = decltype(fn());
        auto task = std::make_shared<std::packaged_task<R()>>(std::forward<F>(fn));
        auto result = task->get_future();
        post([task] { (*task)(); });
        return result.get();
    }

    // run_argv / check_argv inside the namespace.
    CommandOutput exec(const std::vector<std::string>& argv, const std::string& input = {});
    std::string check(const std::vector<std::string>& argv, const std::string& input = {});

private:
    void post(std::function<void()> job);
    void work(std::promise<pid_t>& started);

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::function<void()>> jobs_;
    bool stopping_ = false;
    pid_t tid_ = 0;
    std::thread worker_;
};

}  // namespace ballast::testing
