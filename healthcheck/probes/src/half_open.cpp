#include "half_open.hpp"

#include "attempt.hpp"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <boost/asio/post.hpp>

namespace ballast::health::detail {

namespace asio = boost::asio;

namespace {

// How long a resolved source address is trusted (routes change seldom; a
// timeout also looks again, see on_deadline()).
constexpr auto kSourceTtl = std::chrono::seconds(10);

uint16_t checksum(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

uint32_t add16(uint32_t sum, const uint8_t* p, size_t len) {
    for (size_t k = 0; k + 1 < len; k += 2) sum += static_cast<uint32_t>(p[k] << 8 | p[k + 1]);
    return sum;
}

uint32_t v4(const model::IpAddress& a) {
    uint32_t n = 0;
    std::memcpy(&n, a.bytes.data(), 4);
    return n;  // network order
}

int close_with(int fd, int err) {
    ::close(fd);
    return err;
}

}  // namespace

std::string half_open_privilege_error() {
    const int fd = ::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd >= 0) {
        ::close(fd);
        return {};
    }
    return std::string("needs CAP_NET_RAW (a raw socket: ") + std::strerror(errno) + ")";
}

HalfOpenMux::HalfOpenMux(asio::io_context& io, uint64_t seed)
    : io_(io), raw_(io), timer_(io), rng_(seed) {}

HalfOpenMux::~HalfOpenMux() {
    shutdown();
}

void HalfOpenMux::shutdown() {
    if (shut_) return;
    shut_ = true;
    for (uint32_t i = 0; i < slots_.size(); ++i) {
        if (slots_[i].pending) release(i);
    }
    timer_.cancel();
    boost::system::error_code ignored;
    raw_.close(ignored);
    if (reserved_ >= 0) ::close(reserved_);
    reserved_ = -1;
}

int HalfOpenMux::open() {
    if (raw_.is_open()) return 0;
    // Made on first use and again after a failure (as ConnectMux's epoll set).
    if (reserved_ < 0) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return errno;
        sockaddr_in any{};
        any.sin_family = AF_INET;
        socklen_t len = sizeof any;
        if (::bind(fd, reinterpret_cast<sockaddr*>(&any), sizeof any) != 0 ||
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&any), &len) != 0)
            return close_with(fd, errno);
        reserved_ = fd;
        port_ = any.sin_port;
    }
    const int fd = ::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) return errno;
    // Only TCP segments to our port: ldx 4*(ip[0]&0xf); ld tcp dst port; == port_?
    sock_filter code[] = {
        BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),
        BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohs(port_), 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0xffff),
        BPF_STMT(BPF_RET | BPF_K, 0),
    };
    sock_fprog prog{static_cast<unsigned short>(std::size(code)), code};
    if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0)
        return close_with(fd, errno);
    boost::system::error_code ec;
    raw_.assign(fd, ec);
    if (ec) return close_with(fd, ec.value());
    return 0;
}

// The address the kernel sends from to `dst` (the TCP checksum covers it):
// asked of the routing table through a connected UDP socket, then kept a while.
int HalfOpenMux::source_for(uint32_t dst, TimePoint now, uint32_t& src) {
    auto it = sources_.find(dst);
    if (it != sources_.end() && now - it->second.resolved < kSourceTtl) {
        src = it->second.addr;
        return 0;
    }
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(9);
    to.sin_addr.s_addr = dst;
    sockaddr_in from{};
    socklen_t len = sizeof from;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&from), &len) != 0)
        return close_with(fd, errno);
    ::close(fd);
    src = from.sin_addr.s_addr;
    sources_[dst] = Source{src, now};
    return 0;
}

int HalfOpenMux::send_syn(uint32_t src, uint32_t dst, uint16_t port, uint32_t seq) {
    std::array<uint8_t, 20> h{};
    const uint16_t dport = htons(port);
    const uint32_t nseq = htonl(seq);
    std::memcpy(&h[0], &port_, 2);
    std::memcpy(&h[2], &dport, 2);
    std::memcpy(&h[4], &nseq, 4);
    h[12] = 5 << 4;  // data offset: 5 words, no options
    h[13] = 0x02;    // SYN
    h[14] = 0xff;    // window 65535
    h[15] = 0xff;
    // Over the pseudo header (source, destination, protocol, length) and the segment.
    uint32_t sum = add16(0, reinterpret_cast<const uint8_t*>(&src), 4);
    sum = add16(sum, reinterpret_cast<const uint8_t*>(&dst), 4);
    sum += IPPROTO_TCP + static_cast<uint32_t>(h.size());
    sum = add16(sum, h.data(), h.size());
    const uint16_t c = htons(checksum(sum));
    std::memcpy(&h[16], &c, 2);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = dst;
    if (::sendto(raw_.native_handle(), h.data(), h.size(), 0, reinterpret_cast<sockaddr*>(&to),
                 sizeof to) < 0)
        return errno;
    return 0;
}

HalfOpenMux::Ticket HalfOpenMux::start(const model::Endpoint& to, TimePoint deadline,
                                       std::shared_ptr<Waiter> waiter) {
    uint32_t slot;
    if (!free_.empty()) {
        slot = free_.back();
        free_.pop_back();
    } else {
        slots_.emplace_back();
        slot = static_cast<uint32_t>(slots_.size() - 1);
    }
    Slot& s = slots_[slot];
    s.pending = true;
    s.waiter = std::move(waiter);
    ++in_flight_;
    const Ticket t{slot, s.gen};

    int err = shut_ ? ECANCELED : (to.addr.is_v4() ? open() : EAFNOSUPPORT);
    const uint32_t dst = to.addr.is_v4() ? v4(to.addr) : 0;
    uint32_t src = 0;
    if (err == 0) err = source_for(dst, SteadyClock::now(), src);
    if (err == 0) {
        // A fresh sequence number per run: replies to an earlier run do not match.
        uint32_t seq = static_cast<uint32_t>(rng_.next());
        while (by_key_.count(Key{dst, to.port, seq})) ++seq;
        s.key = Key{dst, to.port, seq};
        err = send_syn(src, dst, to.port, seq);
        if (err == 0) by_key_.emplace(s.key, t);
    }
    if (err != 0) {
        report_later(t, Outcome::error, err);
        return t;
    }
    deadlines_.push({deadline, t});
    if (!armed_for_ || deadline < *armed_for_) arm_deadline();
    if (!watching_) watch();
    return t;
}

std::shared_ptr<HalfOpenMux::Waiter> HalfOpenMux::release(uint32_t slot) {
    Slot& s = slots_[slot];
    auto it = by_key_.find(s.key);
    if (it != by_key_.end() && it->second.slot == slot && it->second.gen == s.gen)
        by_key_.erase(it);
    s.pending = false;
    ++s.gen;
    free_.push_back(slot);
    auto waiter = std::move(s.waiter);
    if (--in_flight_ == 0) go_idle();
    return waiter;
}

void HalfOpenMux::go_idle() {
    deadlines_ = {};
    if (armed_for_) {
        armed_for_.reset();
        timer_.cancel();
    }
    boost::system::error_code ignored;
    if (watching_) raw_.cancel(ignored);
}

void HalfOpenMux::report_later(Ticket t, Outcome o, int err) {
    asio::post(io_, [self = shared_from_this(), t, o, err] {
        if (!self->live(t)) return;
        if (auto w = self->release(t.slot)) w->half_open_done(o, err);
    });
}

void HalfOpenMux::cancel(Ticket t) {
    if (live(t)) release(t.slot);
}

void HalfOpenMux::watch() {
    watching_ = true;
    raw_.async_wait(asio::posix::descriptor_base::wait_read,
                    [self = shared_from_this()](const boost::system::error_code& ec) {
                        self->watching_ = false;
                        if (self->shut_) return;
                        if (ec && !(ec == asio::error::operation_aborted && self->in_flight_ > 0))
                            return;
                        self->on_ready();
                    });
}

void HalfOpenMux::on_ready() {
    std::array<uint8_t, 128> buf;  // IP header (up to 60) + the TCP header's first 20 bytes
    for (;;) {
        const ssize_t n = ::recv(raw_.native_handle(), buf.data(), buf.size(), MSG_DONTWAIT);
        if (n <= 0) break;
        const size_t len = static_cast<size_t>(n);
        const size_t ihl = (buf[0] & 0x0fu) * 4u;
        if (len < ihl + 20) continue;
        const uint8_t* tcp = buf.data() + ihl;
        const uint8_t flags = tcp[13];
        const bool syn_ack = (flags & 0x12) == 0x12;
        const bool reset = (flags & 0x04) != 0;
        if (!syn_ack && !reset) continue;
        uint32_t from = 0, ack = 0;
        std::memcpy(&from, buf.data() + 12, 4);
        std::memcpy(&ack, tcp + 8, 4);
        const uint16_t sport = static_cast<uint16_t>(tcp[0] << 8 | tcp[1]);
        auto it = by_key_.find(Key{from, sport, ntohl(ack) - 1});
        if (it == by_key_.end() || !live(it->second)) continue;
        if (auto w = release(it->second.slot))
            w->half_open_done(syn_ack ? Outcome::syn_ack : Outcome::reset, 0);
        if (shut_) return;
    }
    if (in_flight_ > 0 && !shut_ && !watching_) watch();
}

void HalfOpenMux::arm_deadline() {
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

void HalfOpenMux::on_deadline() {
    const auto now = SteadyClock::now();
    std::vector<std::shared_ptr<Waiter>> expired;
    while (!deadlines_.empty() && deadlines_.top().at <= now) {
        const Ticket t = deadlines_.top().ticket;
        deadlines_.pop();
        if (!live(t)) continue;
        // A silent target may be one our SYN never suited (its route, and so our
        // source address, changed): look again next time.
        sources_.erase(std::get<0>(slots_[t.slot].key));
        expired.push_back(release(t.slot));
    }
    armed_for_.reset();
    arm_deadline();
    for (auto& w : expired) {
        if (shut_) return;
        if (w) w->half_open_done(Outcome::timed_out, 0);
    }
}

}  // namespace ballast::health::detail

namespace ballast::health::detail {
namespace {

class HalfOpenAttempt final : public ProbeRun, public HalfOpenMux::Waiter {
public:
    HalfOpenAttempt(std::shared_ptr<HalfOpenMux> mux, Millis timeout, ProbeCallback done)
        : mux_(std::move(mux)), timeout_(timeout), done_(std::move(done)) {}

    void start(const model::Endpoint& to, std::shared_ptr<HalfOpenAttempt> self) {
        ticket_ = mux_->start(to, SteadyClock::now() + timeout_, std::move(self));
    }
    void cancel() override {
        if (finished_) return;
        finished_ = true;
        done_ = nullptr;
        mux_->cancel(ticket_);
    }
    void half_open_done(HalfOpenMux::Outcome outcome, int err) override {
        if (finished_) return;
        finished_ = true;
        auto done = std::move(done_);
        done_ = nullptr;
        if (!done) return;
        using O = HalfOpenMux::Outcome;
        switch (outcome) {
            case O::syn_ack:
                return done(ProbeResult{true, "SYN-ACK received", {}});
            case O::reset:
                return done(ProbeResult{false, "connect refused", {}});
            case O::timed_out:
                return done(
                    ProbeResult{false, timeout_reason(timeout_, "waiting for SYN-ACK"), {}});
            case O::error:
                break;
        }
        const error_code ec(err, boost::system::system_category());
        if (err == EAFNOSUPPORT)
            return done(ProbeResult{false, "tcp_half_open: IPv6 targets are not supported", {}});
        // Without CAP_NET_RAW the checker cannot probe: its fault, not the server's.
        if (is_checker_fault(ec) || err == EPERM || err == EACCES) {
            return done(ProbeResult{false, checker_fault_reason(ec, "sending SYN"), {}, true});
        }
        done(ProbeResult{false, describe_error(ec, "sending SYN"), {}});
    }

private:
    std::shared_ptr<HalfOpenMux> mux_;
    Millis timeout_;
    ProbeCallback done_;
    HalfOpenMux::Ticket ticket_;
    bool finished_ = false;
};

}  // namespace

std::shared_ptr<ProbeRun> start_half_open_check(ProbeContext& c, const CheckKey& k,
                                                ProbeCallback d) {
    auto a = std::make_shared<HalfOpenAttempt>(c.half_opens(), k.spec->timeout, std::move(d));
    a->start(k.target, a);
    return a;
}

}  // namespace ballast::health::detail
