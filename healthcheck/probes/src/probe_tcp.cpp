// tcp: connect, optionally send bytes and expect a substring.
// agent: the HAProxy agent-check protocol -- connect, optionally send, read one line.
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "attempt.hpp"
#include "connect_mux.hpp"

namespace ballast::health::detail {
namespace {

class TcpAttempt : public Attempt {
public:
    TcpAttempt(ProbeContext& c, const CheckKey& k, ProbeCallback d)
        : Attempt(c, k, std::move(d)), socket_(c.io()) {}

protected:
    void begin() override {
        if (check_.target.port == 0) return finish_later("no port to check");
        socket_.async_connect(tcp_endpoint(check_),
                              [self = self_as<TcpAttempt>()](const error_code& ec) {
                                  if (self->finished_) return;
                                  if (ec) return self->fail(ec);
                                  self->connected();
                              });
    }
    void close() override {
        error_code ignored;
        // Abortive close (RST), as HAProxy does: a checker closing thousands of
        // connections a second must not pile up TIME_WAIT sockets.
        if (socket_.is_open()) socket_.set_option(asio::socket_base::linger(true, 0), ignored);
        socket_.close(ignored);
    }
    virtual void connected() {
        if (check_.spec->send.empty()) return after_send();
        phase_ = "sending";
        asio::async_write(socket_, asio::buffer(check_.spec->send),
                          [self = self_as<TcpAttempt>()](const error_code& ec, size_t) {
                              if (self->finished_) return;
                              if (ec) return self->fail(ec);
                              self->after_send();
                          });
    }
    virtual void after_send() {
        if (check_.spec->expect.empty()) return finish(true, "connected");
        phase_ = "reading reply";
        read_more();
    }
    void read_more() {
        socket_.async_read_some(asio::buffer(chunk_),
                                [self = self_as<TcpAttempt>()](const error_code& ec, size_t n) {
                                    if (self->finished_) return;
                                    self->received(ec, n);
                                });
    }
    virtual void received(const error_code& ec, size_t n) {
        const size_t limit = ctx_.limits().reply;
        reply_.append(chunk_.data(), std::min(n, limit - std::min(limit, reply_.size())));
        const auto& want = check_.spec->expect;
        if (reply_.find(want) != std::string::npos)
            return finish(true, "reply contains \"" + want + "\"");
        if (ec == asio::error::eof) return finish(false, "reply lacks \"" + want + "\"");
        if (ec) return fail(ec);
        if (reply_.size() >= limit) {
            return finish(false, "no \"" + want + "\" in the first " + std::to_string(limit) +
                                     " bytes of the reply");
        }
        read_more();
    }

    asio::ip::tcp::socket socket_;
    std::array<char, 4096> chunk_;  // not zeroed: filled by each read
    std::string reply_;
};

class AgentAttempt final : public TcpAttempt {
public:
    using TcpAttempt::TcpAttempt;

private:
    void after_send() override {
        phase_ = "reading agent reply";
        read_more();
    }
    void received(const error_code& ec, size_t n) override {
        const size_t limit = kMaxAgentLine + 2;  // the line plus "\r\n"
        reply_.append(chunk_.data(), std::min(n, limit + 1 - std::min(limit + 1, reply_.size())));
        const auto nl = reply_.find('\n');
        if (nl != std::string::npos) return decide(std::string_view(reply_).substr(0, nl + 1));
        if (reply_.size() > limit) {
            return finish(
                false, "agent: reply line longer than " + std::to_string(kMaxAgentLine) + " bytes");
        }
        if (ec == asio::error::eof) {
            if (reply_.empty()) return finish(false, "agent: connection closed without a reply");
            return decide(reply_);  // a reply may end with the connection instead of a newline
        }
        if (ec) return finish(false, "agent: " + describe_error(ec, phase_));
        read_more();
    }
    void decide(std::string_view line) {
        auto parsed = parse_agent_reply(line);
        if (!parsed.ok()) return finish(false, "agent: " + parsed.error().message);
        while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
        const bool alive = parsed->alive();
        finish(alive, "agent: " + std::string(line), std::move(parsed).value());
    }
};

// The plain connect check: no socket object, buffer or timer of its own -- the
// context's ConnectMux does the connect, the deadline and the close.
class ConnectAttempt final : public ProbeRun, public ConnectMux::Waiter {
public:
    ConnectAttempt(std::shared_ptr<ConnectMux> mux, Millis timeout, ProbeCallback done)
        : mux_(std::move(mux)), timeout_(timeout), done_(std::move(done)) {}

    void start(const asio::ip::tcp::endpoint& to, std::shared_ptr<ConnectAttempt> self) {
        ticket_ = mux_->start(to, SteadyClock::now() + timeout_, std::move(self));
    }
    void cancel() override {
        if (finished_) return;
        finished_ = true;
        done_ = nullptr;
        mux_->cancel(ticket_);
    }
    void connect_done(int err, bool timed_out) override {
        if (finished_) return;
        finished_ = true;
        auto done = std::move(done_);
        done_ = nullptr;
        if (!done) return;
        if (timed_out) return done(ProbeResult{false, timeout_reason(timeout_, "connecting"), {}});
        if (err != 0) {
            const error_code ec(err, boost::system::system_category());
            if (is_checker_fault(ec))
                return done(ProbeResult{false, checker_fault_reason(ec, "connecting"), {}, true});
            return done(ProbeResult{false, describe_error(ec, "connecting"), {}});
        }
        done(ProbeResult{true, "connected", {}});
    }

private:
    std::shared_ptr<ConnectMux> mux_;
    Millis timeout_;
    ProbeCallback done_;
    ConnectMux::Ticket ticket_;
    bool finished_ = false;
};

}  // namespace

std::shared_ptr<ProbeRun> start_connect_check(ProbeContext& c, const CheckKey& k, ProbeCallback d) {
    auto a = std::make_shared<ConnectAttempt>(c.connects(), k.spec->timeout, std::move(d));
    a->start(tcp_endpoint(k), a);
    return a;
}

std::shared_ptr<Attempt> make_tcp_attempt(ProbeContext& c, const CheckKey& k, ProbeCallback d) {
    return std::make_shared<TcpAttempt>(c, k, std::move(d));
}

std::shared_ptr<Attempt> make_agent_attempt(ProbeContext& c, const CheckKey& k, ProbeCallback d) {
    return std::make_shared<AgentAttempt>(c, k, std::move(d));
}

}  // namespace ballast::health::detail
