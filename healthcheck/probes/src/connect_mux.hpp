#pragma once
// Non-blocking TCP connects for the plain `tcp` check (connect, nothing sent),
// multiplexed on one epoll set of our own that Asio watches as one descriptor.
//
// Why: at ten thousand checks a second the system calls are the cost. Through
// an Asio socket a connect check takes twelve (socket, epoll_ctl ADD, FIONBIO,
// connect, epoll_ctl MOD, poll, getsockopt, setsockopt, close, a timer per
// attempt and the extra reactor passes its cancellation causes). Here it takes
// what any connect checker must make: socket, connect, one epoll_ctl,
// setsockopt(SO_LINGER) and close, plus getsockopt only when the connect failed;
// epoll_wait and the one deadline timer are shared by all checks in flight.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <queue>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "ballast/health/schedule.hpp"

namespace ballast::health::detail {

class ConnectMux : public std::enable_shared_from_this<ConnectMux> {
public:
    class Waiter {
    public:
        virtual ~Waiter() = default;
        // Exactly once per start() unless cancelled first; never from inside start().
        // err: 0 = connected, else the errno of the failed connect; timed_out: the
        // deadline passed first (the socket was closed then).
        virtual void connect_done(int err, bool timed_out) = 0;
    };
    struct Ticket {
        uint32_t slot = 0;
        uint32_t gen = 0;
    };

    explicit ConnectMux(boost::asio::io_context& io);
    ~ConnectMux();
    ConnectMux(const ConnectMux&) = delete;
    ConnectMux& operator=(const ConnectMux&) = delete;

    // Starts connecting to `to`; the socket is closed with a reset (no TIME_WAIT)
    // as soon as the outcome is known. The waiter is kept alive until it is called.
    Ticket start(const boost::asio::ip::tcp::endpoint& to, TimePoint deadline,
                 std::shared_ptr<Waiter> waiter);
    // The waiter will not be called; the socket is closed. Stale tickets are ignored.
    void cancel(Ticket t);
    // Closes every socket without calling any waiter; later calls do nothing.
    void shutdown();

private:
    struct Slot {
        int fd = -1;
        uint32_t gen = 0;
        bool pending = false;
        std::shared_ptr<Waiter> waiter;
    };
    struct Deadline {
        TimePoint at;
        Ticket ticket;
        bool operator>(const Deadline& o) const { return at > o.at; }
    };

    bool live(Ticket t) const {
        return t.slot < slots_.size() && slots_[t.slot].pending && slots_[t.slot].gen == t.gen;
    }
    // Makes the epoll set if there is none yet; 0 or the errno of the failure.
    int open_epoll();
    uint32_t take_slot();
    // Closes the slot's socket (abortively), frees it and returns its waiter.
    std::shared_ptr<Waiter> release(uint32_t slot);
    void go_idle();
    void watch();
    void on_ready();
    void arm_deadline();
    void on_deadline();
    void report_later(Ticket t, int err);

    boost::asio::io_context& io_;
    boost::asio::posix::stream_descriptor epoll_;  // our epoll set (once made), watched by Asio
    boost::asio::steady_timer timer_;
    std::vector<Slot> slots_;
    std::vector<uint32_t> free_;
    std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> deadlines_;
    std::optional<TimePoint> armed_for_;  // when timer_ is set to fire, if it is
    bool watching_ = false;
    bool shut_ = false;
    size_t in_flight_ = 0;
};

}  // namespace ballast::health::detail
