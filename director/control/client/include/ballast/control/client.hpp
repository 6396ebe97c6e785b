#pragma once
// A blocking client of ballastd's control socket, as ballastctl uses it: one request at a time,
// each reply read with a timeout; "events" then streams. Errors read as an operator would want
// them: "ballastd is not running", "permission denied", "protocol version mismatch".
#include <chrono>
#include <optional>
#include <string>
#include <variant>

#include "ballast/control/protocol.hpp"
#include "ballast/model/result.hpp"

namespace ballast::control {

inline constexpr const char* kDefaultSocket = "/run/ballast/ballastd.sock";

class ControlClient {
public:
    // Connects; a failure is an Error whose message says what to do about it.
    static Result<ControlClient> connect(const std::string& path);
    ControlClient(ControlClient&& o) noexcept;
    ControlClient& operator=(ControlClient&& o) noexcept;
    ControlClient(const ControlClient&) = delete;
    ControlClient& operator=(const ControlClient&) = delete;
    ~ControlClient();

    // Sends the request (with `file_fd` attached when >= 0) and reads its reply.
    Result<Reply> call(const Request& request, std::chrono::milliseconds timeout, int file_fd = -1);
    // Sends a request without reading the reply (events: then read_line).
    Status send(const Request& request, int file_fd = -1);
    // The next line from the daemon: a reply or an event. nullopt: the timeout passed.
    Result<std::optional<std::variant<Reply, EventLine>>> read_line(
        std::chrono::milliseconds timeout);

    const std::string& path() const { return path_; }

private:
    ControlClient(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    int fd_ = -1;
    std::string path_;
    std::string buffer_;
};

// What a failed connect() means to an operator (exposed for tests).
std::string describe_connect_failure(int error, const std::string& path);

}  // namespace ballast::control
