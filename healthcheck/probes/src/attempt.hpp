#pragma once
// Shared machinery of every probe run: the timeout, the once-only finish, and
// cancellation. Private to the probes library.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include "ballast/health/describe.hpp"
#include "ballast/health/probe.hpp"

namespace ballast::health::detail {

namespace asio = boost::asio;
using boost::system::error_code;

// Turns a socket error into the words an operator expects.
std::string describe_error(const error_code& ec, const char* phase);

// Errors that are the checker's own and say nothing about the server: out of
// descriptors (EMFILE, ENFILE), memory (ENOMEM), buffers (ENOBUFS), local ports
// (EADDRNOTAVAIL), processes (EAGAIN from fork), epoll watches (ENOSPC).
bool is_checker_fault(int err);
bool is_checker_fault(const error_code& ec);
// The reason of an inconclusive run: "checker: connecting: Too many open files".
std::string checker_fault_reason(const error_code& ec, const char* phase);

asio::ip::address to_asio(const model::IpAddress& a);

class Attempt : public ProbeRun, public std::enable_shared_from_this<Attempt> {
public:
    Attempt(ProbeContext& ctx, const CheckKey& check, ProbeCallback done)
        : ctx_(ctx), check_(check), done_(std::move(done)), timer_(ctx.io()) {}

    // Arms the timeout and starts the protocol.
    void launch() {
        timer_.expires_after(check_.spec->timeout);
        timer_.async_wait([self = shared_from_this()](const error_code& ec) {
            if (!ec && !self->finished_) {
                self->finish(false, timeout_reason(self->check_.spec->timeout, self->phase_));
            }
        });
        begin();
    }

    void cancel() override {
        if (finished_) return;
        finished_ = true;
        done_ = nullptr;
        timer_.cancel();
        close();
    }

protected:
    virtual void begin() = 0;
    // Closes sockets / kills the child: every pending handler then completes
    // (with operation_aborted) and sees finished_.
    virtual void close() = 0;

    void finish(bool up, std::string reason, std::optional<AgentReply> agent = std::nullopt) {
        deliver(ProbeResult{up, std::move(reason), std::move(agent), false});
    }
    // The checker failed, not the server (see is_checker_fault()).
    void finish_inconclusive(std::string reason) {
        deliver(ProbeResult{false, std::move(reason), std::nullopt, true});
    }
    // Reports a failure found before any asynchronous step, never from inside start_probe().
    void finish_later(std::string reason, bool inconclusive = false) {
        asio::post(ctx_.io(),
                   [self = shared_from_this(), r = std::move(reason), inconclusive]() mutable {
                       self->deliver(ProbeResult{false, std::move(r), std::nullopt, inconclusive});
                   });
    }
    void fail(const error_code& ec) {
        if (is_checker_fault(ec)) return finish_inconclusive(checker_fault_reason(ec, phase_));
        finish(false, describe_error(ec, phase_));
    }

    void deliver(ProbeResult result) {
        if (finished_) return;
        finished_ = true;
        timer_.cancel();
        close();
        auto done = std::move(done_);
        done_ = nullptr;
        if (done) done(std::move(result));
    }

    template <class T>
    std::shared_ptr<T> self_as() {
        return std::static_pointer_cast<T>(shared_from_this());
    }

    ProbeContext& ctx_;
    CheckKey check_;
    ProbeCallback done_;
    asio::steady_timer timer_;
    bool finished_ = false;
    const char* phase_ = "connecting";
};

asio::ip::tcp::endpoint tcp_endpoint(const CheckKey& k);

// A `tcp` check that only connects (port set, nothing to send or expect).
std::shared_ptr<ProbeRun> start_connect_check(ProbeContext&, const CheckKey&, ProbeCallback);
// `tcp_half_open` (port set).
std::shared_ptr<ProbeRun> start_half_open_check(ProbeContext&, const CheckKey&, ProbeCallback);
std::shared_ptr<Attempt> make_tcp_attempt(ProbeContext&, const CheckKey&, ProbeCallback);
std::shared_ptr<Attempt> make_agent_attempt(ProbeContext&, const CheckKey&, ProbeCallback);
std::shared_ptr<Attempt> make_http_attempt(ProbeContext&, const CheckKey&, ProbeCallback);
std::shared_ptr<Attempt> make_udp_attempt(ProbeContext&, const CheckKey&, ProbeCallback);
std::shared_ptr<Attempt> make_dns_attempt(ProbeContext&, const CheckKey&, ProbeCallback);
std::shared_ptr<Attempt> make_exec_attempt(ProbeContext&, const CheckKey&, ProbeCallback);
std::shared_ptr<Attempt> make_none_attempt(ProbeContext&, const CheckKey&, ProbeCallback);

}  // namespace ballast::health::detail
