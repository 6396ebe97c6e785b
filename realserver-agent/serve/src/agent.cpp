#include "ballast/agent/agent.hpp"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/resource.h>
#include <boost/asio.hpp>

#include <fstream>
#include <list>
#include <thread>

#include "ballast/agent/http_request.hpp"

namespace ballast::agent {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

tcp::endpoint to_asio(const model::Endpoint& e) {
    asio::ip::address a;
    if (e.addr.is_v4()) {
        asio::ip::address_v4::bytes_type b;
        std::copy_n(e.addr.bytes.begin(), 4, b.begin());
        a = asio::ip::address_v4(b);
    } else {
        asio::ip::address_v6::bytes_type b;
        std::copy_n(e.addr.bytes.begin(), 16, b.begin());
        a = asio::ip::address_v6(b);
    }
    return tcp::endpoint(a, e.port);
}

model::Endpoint from_asio(const tcp::endpoint& e) {
    model::Endpoint out;
    out.port = e.port();
    if (e.address().is_v4()) {
        auto b = e.address().to_v4().to_bytes();
        out.addr.family = AF_INET;
        std::copy(b.begin(), b.end(), out.addr.bytes.begin());
    } else {
        auto b = e.address().to_v6().to_bytes();
        out.addr.family = AF_INET6;
        std::copy(b.begin(), b.end(), out.addr.bytes.begin());
    }
    return out;
}

std::optional<double> read_number(const std::string& path) {
    std::ifstream in(path);
    double v;
    if (in >> v) return v;
    return std::nullopt;
}

// Per-connection errors: the next accept may well succeed at once.
bool per_connection(const boost::system::error_code& ec) {
    return ec == asio::error::connection_aborted || ec == asio::error::connection_reset ||
           ec.value() == EPROTO || ec.value() == EPERM;
}

// One connection to a listener. The table it sits in owns it; its handlers keep it alive
// until they have run. end() closes the socket and leaves the table.
struct Session : std::enable_shared_from_this<Session> {
    tcp::socket sock;
    asio::steady_timer deadline;
    std::list<std::shared_ptr<Session>>* table = nullptr;
    std::list<std::shared_ptr<Session>>::iterator self;
    AgentCounters& counters;
    std::array<char, 1024> buf{};
    size_t drained = 0;

    Session(tcp::socket s, AgentCounters& c)
        : sock(std::move(s)), deadline(sock.get_executor()), counters(c) {}
    virtual ~Session() = default;
    virtual void start() = 0;

    void arm(std::chrono::milliseconds d) {
        deadline.expires_after(d);
        deadline.async_wait([self = shared_from_this()](boost::system::error_code ec) {
            if (ec) return;
            ++self->counters.session_timeouts;
            self->end();
        });
    }

    // Everything written: send our FIN, then read (and drop) what the peer still sends
    // until it closes, so our close does not reset a connection with unread data.
    void linger(std::chrono::milliseconds d) {
        boost::system::error_code ignore;
        sock.shutdown(tcp::socket::shutdown_send, ignore);
        arm(d);
        drain();
    }
    void drain() {
        sock.async_read_some(asio::buffer(buf),
                             [self = shared_from_this()](boost::system::error_code ec, size_t n) {
                                 self->drained += n;
                                 if (ec || self->drained > kAgentDrainBytes) return self->end();
                                 self->drain();
                             });
    }

    void end() {
        boost::system::error_code ignore;
        deadline.cancel();
        sock.close(ignore);
        if (table) {
            auto* t = std::exchange(table, nullptr);
            t->erase(self);  // may destroy *this: nothing after
        }
    }
};

}  // namespace

struct Agent::Impl {
    asio::io_context& io;
    AgentSettings settings;
    std::unique_ptr<RouteQuery> routes;
    std::unique_ptr<HostInfo> host;
    ServeLimits limits;
    asio::posix::stream_descriptor monitor{io};
    asio::steady_timer timer{io};
    std::array<char, 16384> monitor_buf{};
    bool evaluation_posted = false;
    Report report;
    AgentCounters counters;

    // A listening socket, its live sessions (oldest first) and its accept back-off.
    struct Listener {
        tcp::acceptor acceptor;
        asio::steady_timer retry;
        std::list<std::shared_ptr<Session>> sessions;
        size_t cap = 1;
        std::chrono::milliseconds backoff{0};
        explicit Listener(asio::io_context& io) : acceptor(io), retry(io) {}
    };
    Listener agent_listener{io};
    Listener status_listener{io};

    Impl(asio::io_context& i, AgentSettings s, std::unique_ptr<RouteQuery> r,
         std::unique_ptr<HostInfo> h, ServeLimits l)
        : io(i), settings(std::move(s)), routes(std::move(r)), host(std::move(h)), limits(l) {}

    void evaluate() {
        report = agent::evaluate(settings, *routes, *host);
        ++counters.evaluations;
    }

    std::string reply() const {
        bool drain =
            !settings.drain_file.empty() && ::access(settings.drain_file.c_str(), F_OK) == 0;
        std::optional<int> weight;
        if (settings.load == LoadSignal::loadavg) {
            if (auto l = read_number("/proc/loadavg"))
                weight = weight_from_loadavg(*l, std::max(1u, std::thread::hardware_concurrency()));
        } else if (settings.load == LoadSignal::file) {
            if (auto l = read_number(settings.load_file)) weight = static_cast<int>(*l);
        }
        return agent_reply(report, drain, weight);
    }

    Status open_monitor() {
        int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
        if (fd < 0) return make_error(errno, "socket(NETLINK_ROUTE)", "monitor");
        sockaddr_nl sa{};
        sa.nl_family = AF_NETLINK;
        if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
            int e = errno;
            ::close(fd);
            return make_error(e, "bind(NETLINK_ROUTE)", "monitor");
        }
        for (int group : {RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV4_RULE,
                          RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV6_ROUTE, RTNLGRP_IPV6_RULE}) {
            if (::setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) != 0) {
                int e = errno;
                ::close(fd);
                return make_error(e, "NETLINK_ADD_MEMBERSHIP", std::to_string(group));
            }
        }
        monitor.assign(fd);
        return {};
    }

    void read_monitor() {
        monitor.async_read_some(asio::buffer(monitor_buf),
                                [this](boost::system::error_code ec, size_t) {
                                    // ENOBUFS (overrun) also means "something changed": re-evaluate
                                    // and go on. Any other error (or cancellation) would repeat
                                    // forever: stop; the timer still re-evaluates.
                                    if (ec && ec != asio::error::no_buffer_space) return;
                                    ++counters.netlink_events;
                                    post_evaluation();
                                    read_monitor();
                                });
    }

    // Coalesces a burst of notifications into one evaluation, run right after the
    // burst has been read.
    void post_evaluation() {
        if (evaluation_posted) return;
        evaluation_posted = true;
        asio::post(io, [this] {
            evaluation_posted = false;
            evaluate();
        });
    }

    void arm_timer() {
        timer.expires_after(std::chrono::milliseconds(settings.interval_ms));
        timer.async_wait([this](boost::system::error_code ec) {
            if (ec) return;
            evaluate();
            arm_timer();
        });
    }

    Status bind(tcp::acceptor& acc, const model::Endpoint& ep, const char* what) {
        boost::system::error_code ec;
        auto e = to_asio(ep);
        acc.open(e.protocol(), ec);
        if (!ec) acc.set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec) acc.bind(e, ec);
        if (!ec) acc.listen(64, ec);
        if (ec)
            return make_error(ec.value(), std::string("bind ") + what, ep.to_string(),
                              ec.message());
        return {};
    }

    // The caps, shrunk so that sessions alone can never use up RLIMIT_NOFILE.
    void size_caps() {
        rlimit rl{};
        size_t budget = limits.max_http_sessions + limits.max_agent_sessions;
        if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
            budget = rl.rlim_cur > limits.fd_reserve + 2 ? rl.rlim_cur - limits.fd_reserve : 2;
        const size_t want = limits.max_http_sessions + limits.max_agent_sessions;
        if (budget >= want) {
            status_listener.cap = limits.max_http_sessions;
            agent_listener.cap = limits.max_agent_sessions;
        } else {  // the director's checks get the larger share
            status_listener.cap = std::max<size_t>(1, budget / 4);
            agent_listener.cap = std::max<size_t>(1, budget - status_listener.cap);
        }
    }

    template <typename MakeSession>
    void accept_on(Listener& l, MakeSession make) {
        l.acceptor.async_accept([this, &l, make](boost::system::error_code ec, tcp::socket sock) {
            if (ec == asio::error::operation_aborted || !l.acceptor.is_open()) return;
            if (ec) {
                ++counters.accept_errors;
                if (per_connection(ec)) return accept_on(l, make);
                // Out of descriptors or memory: retrying at once would spin. Wait, longer
                // each time, until an accept succeeds again.
                l.backoff =
                    std::clamp(l.backoff * 2, limits.accept_backoff_min, limits.accept_backoff_max);
                l.retry.expires_after(l.backoff);
                l.retry.async_wait([this, &l, make](boost::system::error_code e) {
                    if (!e) accept_on(l, make);
                });
                return;
            }
            l.backoff = std::chrono::milliseconds(0);
            if (l.sessions.size() >= l.cap) {  // the oldest gives way
                ++counters.sessions_evicted;
                l.sessions.front()->end();
            }
            std::shared_ptr<Session> s = make(std::move(sock));
            l.sessions.push_back(s);
            s->table = &l.sessions;
            s->self = std::prev(l.sessions.end());
            s->start();
            accept_on(l, make);
        });
    }

    // The agent-check: the reply line at once, then linger for what the director sent.
    struct AgentSession : Session {
        std::string line;
        std::chrono::milliseconds linger_for;
        AgentSession(tcp::socket s, AgentCounters& c, std::string l, std::chrono::milliseconds d)
            : Session(std::move(s), c), line(std::move(l)), linger_for(d) {}
        void start() override {
            arm(linger_for);
            asio::async_write(
                sock, asio::buffer(line),
                [self = shared_from_this(), this](boost::system::error_code ec, size_t) {
                    if (ec) return end();
                    linger(linger_for);
                });
        }
    };

    // /status and /metrics: one request head within the deadline, one response, close.
    struct HttpSession : Session {
        Impl* impl;
        HttpRequestReader reader;
        std::string response;
        HttpSession(tcp::socket s, Impl* i) : Session(std::move(s), i->counters), impl(i) {}
        void start() override {
            arm(impl->limits.request_timeout);
            read();
        }
        void read() {
            sock.async_read_some(asio::buffer(buf), [self = shared_from_this(), this](
                                                        boost::system::error_code ec, size_t n) {
                if (ec == asio::error::eof) return respond(reader.end_of_input());
                if (ec) return end();
                if (auto d = reader.feed(std::string_view(buf.data(), n))) return respond(*d);
                read();
            });
        }
        void respond(const HttpDecision& d) {
            ++counters.http_responses;
            if (d.status >= 400) ++counters.http_refused;
            response = respond_http(
                d, [&] { return render_json(impl->report, impl->reply()); },
                [&] { return render_prometheus(impl->report, impl->counters); });
            asio::async_write(
                sock, asio::buffer(response),
                [self = shared_from_this(), this](boost::system::error_code ec, size_t) {
                    if (ec) return end();
                    linger(impl->limits.linger);
                });
        }
    };

    void accept_agent() {
        accept_on(agent_listener, [this](tcp::socket sock) -> std::shared_ptr<Session> {
            ++counters.agent_replies;
            return std::make_shared<AgentSession>(std::move(sock), counters, reply() + "\n",
                                                  limits.linger);
        });
    }

    void accept_status() {
        accept_on(status_listener, [this](tcp::socket sock) -> std::shared_ptr<Session> {
            return std::make_shared<HttpSession>(std::move(sock), this);
        });
    }

    void close(Listener& l) {
        boost::system::error_code ignore;
        l.acceptor.close(ignore);
        l.retry.cancel();
        while (!l.sessions.empty()) l.sessions.front()->end();
    }
};

Agent::Agent(asio::io_context& io, AgentSettings settings, std::unique_ptr<RouteQuery> routes,
             std::unique_ptr<HostInfo> host, ServeLimits limits)
    : impl_(std::make_unique<Impl>(io, std::move(settings), std::move(routes), std::move(host),
                                   limits)) {}

Agent::~Agent() {
    stop();
}

Status Agent::start() {
    auto& s = impl_->settings;
    if (s.real_servers.empty()) return make_error(EINVAL, "start", {}, "no real_server configured");
    if (auto st = impl_->open_monitor(); !st) return st;
    impl_->evaluate();
    model::Endpoint ep =
        s.listen.value_or(model::Endpoint{s.real_servers.front().address, kDefaultAgentPort});
    if (auto st = impl_->bind(impl_->agent_listener.acceptor, ep, "agent-check"); !st) return st;
    if (s.status_listen)
        if (auto st = impl_->bind(impl_->status_listener.acceptor, *s.status_listen, "status"); !st)
            return st;
    impl_->size_caps();
    impl_->read_monitor();
    impl_->accept_agent();
    if (s.status_listen) impl_->accept_status();
    impl_->arm_timer();
    return {};
}

void Agent::stop() {
    boost::system::error_code ignore;
    impl_->close(impl_->agent_listener);
    impl_->close(impl_->status_listener);
    impl_->monitor.close(ignore);
    impl_->timer.cancel();
}

std::string Agent::reload(AgentSettings next) {
    std::string note;
    auto& cur = impl_->settings;
    if (next.listen != cur.listen || next.status_listen != cur.status_listen) {
        note = "listen/status_listen changed: restart ballast-agent to apply";
        next.listen = cur.listen;
        next.status_listen = cur.status_listen;
    }
    cur = std::move(next);
    impl_->evaluate();
    return note;
}

model::Endpoint Agent::agent_endpoint() const {
    return from_asio(impl_->agent_listener.acceptor.local_endpoint());
}

std::optional<model::Endpoint> Agent::status_endpoint() const {
    if (!impl_->status_listener.acceptor.is_open()) return std::nullopt;
    return from_asio(impl_->status_listener.acceptor.local_endpoint());
}

const Report& Agent::report() const {
    return impl_->report;
}
std::string Agent::reply() const {
    return impl_->reply();
}
AgentCounters Agent::counters() const {
    return impl_->counters;
}
size_t Agent::max_http_sessions() const {
    return impl_->status_listener.cap;
}
size_t Agent::max_agent_sessions() const {
    return impl_->agent_listener.cap;
}

}  // namespace ballast::agent
