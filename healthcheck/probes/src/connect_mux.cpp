#include "connect_mux.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include <boost/asio/post.hpp>

namespace ballast::health::detail {

namespace asio = boost::asio;

namespace {
uint64_t pack(ConnectMux::Ticket t) {
    return (uint64_t{t.gen} << 32) | t.slot;
}
ConnectMux::Ticket unpack(uint64_t v) {
    return {static_cast<uint32_t>(v), static_cast<uint32_t>(v >> 32)};
}
}  // namespace

ConnectMux::ConnectMux(asio::io_context& io) : io_(io), epoll_(io), timer_(io) {}

int ConnectMux::open_epoll() {
    if (epoll_.is_open()) return 0;
    // Made on first use and again after a failure: a moment without descriptors
    // (EMFILE) fails the checks started in it, not every check until a restart.
    const int fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0) return errno;
    boost::system::error_code ec;
    epoll_.assign(fd, ec);
    if (!ec) return 0;
    ::close(fd);
    return ec.value();
}

ConnectMux::~ConnectMux() {
    shutdown();
}

void ConnectMux::shutdown() {
    if (shut_) return;
    shut_ = true;
    for (uint32_t i = 0; i < slots_.size(); ++i) {
        if (slots_[i].pending) release(i);
    }
    timer_.cancel();
    boost::system::error_code ignored;
    epoll_.close(ignored);
}

uint32_t ConnectMux::take_slot() {
    if (!free_.empty()) {
        const uint32_t s = free_.back();
        free_.pop_back();
        return s;
    }
    slots_.emplace_back();
    return static_cast<uint32_t>(slots_.size() - 1);
}

std::shared_ptr<ConnectMux::Waiter> ConnectMux::release(uint32_t slot) {
    Slot& s = slots_[slot];
    if (s.fd >= 0) {
        // Abortive close (RST), as HAProxy does: a checker closing thousands of
        // connections a second must not pile up TIME_WAIT sockets. Closing also
        // takes the socket out of our epoll set.
        const linger lg{1, 0};
        ::setsockopt(s.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        ::close(s.fd);
        s.fd = -1;
    }
    s.pending = false;
    ++s.gen;
    free_.push_back(slot);
    auto waiter = std::move(s.waiter);
    if (--in_flight_ == 0) go_idle();
    return waiter;
}

void ConnectMux::go_idle() {
    // Nothing in flight: every deadline left is stale, and an outstanding timer
    // or epoll wait would only keep the io_context busy (and run() from returning).
    deadlines_ = {};
    if (armed_for_) {
        armed_for_.reset();
        timer_.cancel();
    }
    boost::system::error_code ignored;
    if (watching_) epoll_.cancel(ignored);
}

ConnectMux::Ticket ConnectMux::start(const asio::ip::tcp::endpoint& to, TimePoint deadline,
                                     std::shared_ptr<Waiter> waiter) {
    const uint32_t slot = take_slot();
    Slot& s = slots_[slot];
    s.pending = true;
    s.waiter = std::move(waiter);
    ++in_flight_;
    const Ticket t{slot, s.gen};

    int err = shut_ ? ECANCELED : open_epoll();
    if (err == 0) {
        s.fd = ::socket(to.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s.fd < 0 || (::connect(s.fd, to.data(), static_cast<socklen_t>(to.size())) != 0 &&
                         errno != EINPROGRESS)) {
            err = errno;
        }
    }
    if (err == 0) {
        // Level-triggered EPOLLOUT: ready once the handshake finished or failed.
        epoll_event ev{};
        ev.events = EPOLLOUT;
        ev.data.u64 = pack(t);
        if (::epoll_ctl(epoll_.native_handle(), EPOLL_CTL_ADD, s.fd, &ev) != 0) err = errno;
    }
    if (err != 0) {
        report_later(t, err);
        return t;
    }
    deadlines_.push({deadline, t});
    if (!armed_for_ || deadline < *armed_for_) arm_deadline();
    if (!watching_) watch();
    return t;
}

void ConnectMux::report_later(Ticket t, int err) {
    // Never call back from inside start(): the caller is still setting up.
    asio::post(io_, [self = shared_from_this(), t, err] {
        if (!self->live(t)) return;  // cancelled meanwhile
        if (auto w = self->release(t.slot)) w->connect_done(err, false);
    });
}

void ConnectMux::cancel(Ticket t) {
    if (live(t)) release(t.slot);
}

void ConnectMux::watch() {
    watching_ = true;
    epoll_.async_wait(asio::posix::descriptor_base::wait_read,
                      [self = shared_from_this()](const boost::system::error_code& ec) {
                          self->watching_ = false;
                          if (self->shut_) return;
                          // Cancelled by go_idle(): a start() since then relied on this wait,
                          // and its edge may have passed unseen, so look (on_ready watches again).
                          if (ec && !(ec == asio::error::operation_aborted && self->in_flight_ > 0))
                              return;
                          self->on_ready();
                      });
}

void ConnectMux::on_ready() {
    // Asio watches our epoll set edge-triggered: drain it completely, then watch
    // again (events arriving meanwhile raise a new edge that the next wait sees).
    std::array<epoll_event, 256> evs;
    for (;;) {
        const int n =
            ::epoll_wait(epoll_.native_handle(), evs.data(), static_cast<int>(evs.size()), 0);
        if (n <= 0) break;
        for (int i = 0; i < n; ++i) {
            const Ticket t = unpack(evs[static_cast<size_t>(i)].data.u64);
            if (!live(t)) continue;  // cancelled by an earlier callback in this batch
            int err = 0;
            if (evs[static_cast<size_t>(i)].events & (EPOLLERR | EPOLLHUP)) {
                socklen_t len = sizeof err;
                if (::getsockopt(slots_[t.slot].fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
                    err = errno;
                if (err == 0) err = ECONNRESET;  // hung up without a pending error
            }
            if (auto w = release(t.slot)) w->connect_done(err, false);
            if (shut_) return;
        }
        if (n < static_cast<int>(evs.size())) break;
    }
    if (in_flight_ > 0 && !shut_ && !watching_) watch();  // a callback may have started one
}

void ConnectMux::arm_deadline() {
    // Deadlines of finished connects are dropped lazily, here and when the timer fires.
    while (!deadlines_.empty() && !live(deadlines_.top().ticket)) deadlines_.pop();
    if (deadlines_.empty()) {
        armed_for_.reset();
        timer_.cancel();
        return;
    }
    const TimePoint at = deadlines_.top().at;
    armed_for_ = at;
    timer_.expires_at(at);
    timer_.async_wait([self = shared_from_this(), at](const boost::system::error_code& ec) {
        if (ec || self->shut_ || self->armed_for_ != at) return;
        self->on_deadline();
    });
}

void ConnectMux::on_deadline() {
    const auto now = SteadyClock::now();
    std::vector<std::shared_ptr<Waiter>> expired;
    while (!deadlines_.empty() && deadlines_.top().at <= now) {
        const Ticket t = deadlines_.top().ticket;
        deadlines_.pop();
        if (live(t)) expired.push_back(release(t.slot));
    }
    armed_for_.reset();
    arm_deadline();
    for (auto& w : expired) {
        if (shut_) return;
        if (w) w->connect_done(ETIMEDOUT, true);
    }
}

}  // namespace ballast::health::detail
