#pragma once
// Test hosts as network namespaces. Every name carries the test's pid so
// tests run in parallel; destructors clean up even when an assertion fails.
// Anything missing (not root, no `ip netns`) throws: host tests fail, never skip.
#include <exception>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

namespace ballast::testing {

struct CommandFailed : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct CommandOutput {
    int status = 0;      // exit status (or 128+signal)
    std::string output;  // stdout and stderr
};

// Runs `/bin/sh -c cmd`, capturing stdout+stderr.
CommandOutput run(const std::string& cmd);
// Same, but throws CommandFailed (with the command and its output) on non-zero exit.
std::string sh(const std::string& cmd);

// Throws unless we are root and can create a network namespace.
void require_netns_capability();

// A unique short name: "<base><pid%100000>x<n>" (interface names are limited to 15 chars).
std::string unique_name(const std::string& base);

class NetNs {
public:
    explicit NetNs(const std::string& base);
    ~NetNs();
    NetNs(const NetNs&) = delete;
    NetNs& operator=(const NetNs&) = delete;

    const std::string& name() const { return name_; }
    // `ip netns exec NAME sh -c cmd`, throwing on failure.
    std::string exec(const std::string& cmd) const;
    CommandOutput try_exec(const std::string& cmd) const;

    // Runs fn on a fresh thread that has entered this namespace (sockets it
    // creates live there) and returns its result. Exceptions propagate.
    template <typename F>
    auto run_inside(F&& fn) const -> decltype(fn()) {
        using R = decltype(fn());
        std::exception_ptr error;
        if constexpr (std::is_void_v<R>) {
            std::thread t([&] {
                try {
                    enter();
                    fn();
                } catch (...) {
                    error = std::current_exception();
                }
            });
            t.join();
            if (error) std::rethrow_exception(error);
        } else {
            std::optional<R> result;
            std::thread t([&] {
                try {
                    enter();
                    result.emplace(fn());
                } catch (...) {
                    error = std::current_exception();
                }
            });
            t.join();
            if (error) std::rethrow_exception(error);
            return std::move(*result);
        }
    }

    // Moves the calling thread into this namespace (for threads the test owns).
    void enter() const;

private:
    std::string name_;
};

// A veth pair between two namespaces, each end addressed ("10.1.0.1/24") and up.
// Returns the interface names chosen (unique).
struct VethLink {
    std::string a_if;
    std::string b_if;
};
VethLink connect(const NetNs& a, const std::string& a_cidr, const NetNs& b,
                 const std::string& b_cidr);

}  // namespace ballast::testing
