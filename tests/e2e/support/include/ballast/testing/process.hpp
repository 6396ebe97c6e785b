#pragma once
// A program running in the background inside a network namespace (e.g. ballastd in the
// director's), its stdout and stderr in a log file. Killed when this object goes away.
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "ballast/testing/lab.hpp"

namespace ballast::testing {

class Process {
public:
    // Starts argv[0] (a path) from the namespace's worker thread, so it lives there.
    Process(IsolatedNetns& ns, std::vector<std::string> argv, std::string log_path);
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    pid_t pid() const { return pid_; }
    void signal(int sig) const;
    // Its exit status (or 128 + signal) once it ends, nullopt if still running after timeout.
    std::optional<int> wait(std::chrono::milliseconds timeout);
    bool running();
    std::string log() const;
    // Waits until the log contains `text` (throws with the log after the timeout).
    void wait_for_log(const std::string& text, std::chrono::milliseconds timeout) const;

private:
    std::vector<std::string> argv_;
    std::string log_path_;
    pid_t pid_ = -1;
    std::optional<int> status_;
};

}  // namespace ballast::testing
