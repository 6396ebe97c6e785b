#pragma once
// The `tcp_half_open` check: one SYN, then the SYN-ACK (up) or a RST (down);
// the kernel answers the SYN-ACK with a RST, so the server's application never
// sees a connection (no accept, no log line per check). Three packets and one
// system call per check (sendto); the replies of every check in flight are read
// from one raw socket that Asio watches.
//
// The SYNs leave from one local port, reserved by a TCP socket bound to it that
// never listens (so no connect of ours takes it, and the kernel resets every
// SYN-ACK arriving there). A BPF filter on the raw socket keeps every other TCP
// packet of the host out of it. IPv4 only. Needs CAP_NET_RAW.
#include <netinet/in.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <tuple>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "ballast/health/schedule.hpp"
#include "ballast/model/address.hpp"

namespace ballast::health::detail {

class HalfOpenMux : public std::enable_shared_from_this<HalfOpenMux> {
public:
    enum class Outcome { syn_ack, reset, timed_out, error };
    class Waiter {
    public:
        virtual ~Waiter() = default;
        // Exactly once per start() unless cancelled first; never from inside start().
        // err: the errno when outcome == error.
        virtual void half_open_done(Outcome outcome, int err) = 0;
    };
    struct Ticket {
        uint32_t slot = 0;
        uint32_t gen = 0;
    };

    HalfOpenMux(boost::asio::io_context& io, uint64_t seed);
    ~HalfOpenMux();
    HalfOpenMux(const HalfOpenMux&) = delete;
    HalfOpenMux& operator=(const HalfOpenMux&) = delete;

    Ticket start(const model::Endpoint& to, TimePoint deadline, std::shared_ptr<Waiter> waiter);
    void cancel(Ticket t);
    void shutdown();

private:
    using Key = std::tuple<uint32_t, uint16_t, uint32_t>;  // target address, port, our seq
    struct Slot {
        uint32_t gen = 0;
        bool pending = false;
        Key key{};
        std::shared_ptr<Waiter> waiter;
    };
    struct Deadline {
        TimePoint at;
        Ticket ticket;
        bool operator>(const Deadline& o) const { return at > o.at; }
    };
    struct Source {
        uint32_t addr = 0;  // network order
        TimePoint resolved{};
    };

    bool live(Ticket t) const {
        return t.slot < slots_.size() && slots_[t.slot].pending && slots_[t.slot].gen == t.gen;
    }
    int open();  // the raw socket and the reserved port, when not there yet
    int source_for(uint32_t dst, TimePoint now, uint32_t& src);
    int send_syn(uint32_t src, uint32_t dst, uint16_t port, uint32_t seq);
    std::shared_ptr<Waiter> release(uint32_t slot);
    void go_idle();
    void watch();
    void on_ready();
    void arm_deadline();
    void on_deadline();
    void report_later(Ticket t, Outcome o, int err);

    boost::asio::io_context& io_;
    boost::asio::posix::stream_descriptor raw_;
    int reserved_ = -1;  // the TCP socket holding our source port
    uint16_t port_ = 0;  // that port, network order
    boost::asio::steady_timer timer_;
    Rng rng_;
    std::vector<Slot> slots_;
    std::vector<uint32_t> free_;
    std::map<Key, Ticket> by_key_;
    std::map<uint32_t, Source> sources_;
    std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> deadlines_;
    std::optional<TimePoint> armed_for_;
    bool watching_ = false;
    bool shut_ = false;
    size_t in_flight_ = 0;
};

// Whether this process may open the raw socket the check needs: empty, or why
// not ("needs CAP_NET_RAW: ...").
std::string half_open_privilege_error();

}  // namespace ballast::health::detail
