#pragma once
// The control socket: a unix stream socket speaking the control protocol (protocol.hpp) on
// an io_context of its own thread, never the daemon's loop. It owns the byte handling and
// the limits -- request size, connection cap, timeouts, a slow event subscriber -- and asks a
// ControlBackend to answer each well-formed request.
//
// The socket file is mode 0660, its group the control group (root's when none is set). The
// peer's credentials (SO_PEERCRED, SO_PEERGROUPS) are read at accept; a request that changes
// something is refused unless the peer is root or in the control group.
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include "ballast/control/peer.hpp"
#include "ballast/control/protocol.hpp"
#include "ballast/daemon/director.hpp"
#include "ballast/model/result.hpp"

namespace ballast::control {

struct ControlLimits {
    size_t max_connections = 128;  // beyond: the connection idle the longest is closed
    // A connection with nothing in progress is closed after this long.
    std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};
    // A request line that has started must end (newline) within this.
    std::chrono::milliseconds request_timeout{std::chrono::seconds(10)};
    // A reply (or event) the client does not read within this closes the connection.
    std::chrono::milliseconds write_timeout{std::chrono::seconds(10)};
    // Events queued for a subscriber that does not keep up: beyond this it is disconnected.
    size_t subscriber_backlog_bytes = 4 * 1024 * 1024;
    size_t max_passed_fds = 4;  // descriptors waiting for a plan/check-config request
};

// A file descriptor that closes itself.
class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept;
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd();
    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }

private:
    int fd_ = -1;
};

// One request as the backend gets it.
struct ControlCall {
    Request request;
    PeerCredentials peer;
    UniqueFd file;  // plan, check-config: the file the client opened
};

class ControlBackend {
public:
    virtual ~ControlBackend() = default;
    // Answers one call with one reply line (protocol.hpp's encode_ok / encode_error). `reply`
    // may be called later, but on the server's io_context.
    virtual void handle(ControlCall call, std::function<void(std::string)> reply) = 0;
    // The last `n` event lines, oldest first (an "events" request's backlog).
    virtual std::vector<std::string> event_backlog(size_t n) = 0;
    // A line for the daemon's log (refused commands, closed connections).
    virtual void log(daemon::Severity severity, std::string message) = 0;
};

class ControlServer {
public:
    ControlServer(boost::asio::io_context& io, ControlBackend& backend,
                  std::optional<gid_t> control_group, ControlLimits limits = {});
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    // Creates the socket file (mode 0660, group = control group or root's). A stale socket
    // file is replaced; a live one (another daemon answers) or a file that is not a socket is
    // an error. Call on the io_context's thread or before it runs.
    Status listen(const std::string& path);
    // Closes every connection and removes the socket file. On the io_context's thread.
    void stop();

    // Sends an event line to every subscriber. On the io_context's thread.
    void publish_event(const std::string& line);

    size_t connections() const { return connections_.size(); }
    size_t subscribers() const;
    const std::string& path() const { return path_; }

    class Connection;  // control_server.cpp

private:
    friend class Connection;
    void accept();
    void admit(boost::asio::local::stream_protocol::socket socket);
    void forget(Connection* c);

    boost::asio::io_context& io_;
    ControlBackend& backend_;
    std::optional<gid_t> group_;
    ControlLimits limits_;
    boost::asio::local::stream_protocol::acceptor acceptor_;
    std::string path_;
    ino_t inode_ = 0;
    std::list<std::shared_ptr<Connection>> connections_;
    bool stopped_ = false;
};

}  // namespace ballast::control
