#include "ballast/agent/agent.hpp"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fstream>
#include <thread>

namespace ballast::agent {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
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

}  // namespace

struct Agent::Impl {
    asio::io_context& io;
    AgentSettings settings;
    std::unique_ptr<RouteQuery> routes;
    std::unique_ptr<HostInfo> host;
    tcp::acceptor agent_acceptor{io};
    tcp::acceptor status_acceptor{io};
    asio::posix::stream_descriptor monitor{io};
    asio::steady_timer timer{io};
    std::array<char, 16384> monitor_buf{};
    bool evaluation_posted = false;
    Report report;
    AgentCounters counters;

    Impl(asio::io_context& i, AgentSettings s, std::unique_ptr<RouteQuery> r,
         std::unique_ptr<HostInfo> h)
        : io(i), settings(std::move(s)), routes(std::move(r)), host(std::move(h)) {}

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

    void accept_agent() {
        agent_acceptor.async_accept([this](boost::system::error_code ec, tcp::socket sock) {
            if (ec == asio::error::operation_aborted) return;
            if (!ec) {
                auto line = std::make_shared<std::string>(reply() + "\n");
                auto s = std::make_shared<tcp::socket>(std::move(sock));
                ++counters.agent_replies;
                asio::async_write(*s, asio::buffer(*line),
                                  [s, line](boost::system::error_code, size_t) {
                                      boost::system::error_code ignore;
                                      s->shutdown(tcp::socket::shutdown_both, ignore);
                                  });
            }
            accept_agent();
        });
    }

    struct HttpSession : std::enable_shared_from_this<HttpSession> {
        Impl* impl;
        tcp::socket sock;
        boost::beast::flat_buffer buf;
        http::request<http::string_body> req;
        http::response<http::string_body> res;
        HttpSession(Impl* i, tcp::socket s) : impl(i), sock(std::move(s)) {}
        void run() {
            auto self = shared_from_this();
            http::async_read(sock, buf, req, [self](boost::system::error_code ec, size_t) {
                if (ec) return;
                self->respond();
            });
        }
        void respond() {
            std::string target(req.target());
            res.version(req.version());
            res.keep_alive(false);
            if (req.method() != http::verb::get) {
                res.result(http::status::method_not_allowed);
                res.body() = "GET only\n";
            } else if (target == "/status" || target == "/") {
                res.result(http::status::ok);
                res.set(http::field::content_type, "application/json");
                res.body() = render_json(impl->report, impl->reply());
            } else if (target == "/metrics") {
                res.result(http::status::ok);
                res.set(http::field::content_type, "text/plain; version=0.0.4");
                res.body() = render_prometheus(impl->report, impl->counters);
            } else {
                res.result(http::status::not_found);
                res.body() = "try /status or /metrics\n";
            }
            res.prepare_payload();
            auto self = shared_from_this();
            http::async_write(sock, res, [self](boost::system::error_code, size_t) {
                boost::system::error_code ignore;
                self->sock.shutdown(tcp::socket::shutdown_both, ignore);
            });
        }
    };

    void accept_status() {
        status_acceptor.async_accept([this](boost::system::error_code ec, tcp::socket sock) {
            if (ec == asio::error::operation_aborted) return;
            if (!ec) std::make_shared<HttpSession>(this, std::move(sock))->run();
            accept_status();
        });
    }
};

Agent::Agent(asio::io_context& io, AgentSettings settings, std::unique_ptr<RouteQuery> routes,
             std::unique_ptr<HostInfo> host)
    : impl_(std::make_unique<Impl>(io, std::move(settings), std::move(routes), std::move(host))) {}

Agent::~Agent() = default;

Status Agent::start() {
    auto& s = impl_->settings;
    if (s.real_servers.empty()) return make_error(EINVAL, "start", {}, "no real_server configured");
    if (auto st = impl_->open_monitor(); !st) return st;
    impl_->evaluate();
    model::Endpoint ep =
        s.listen.value_or(model::Endpoint{s.real_servers.front().address, kDefaultAgentPort});
    if (auto st = impl_->bind(impl_->agent_acceptor, ep, "agent-check"); !st) return st;
    if (s.status_listen)
        if (auto st = impl_->bind(impl_->status_acceptor, *s.status_listen, "status"); !st)
            return st;
    impl_->read_monitor();
    impl_->accept_agent();
    if (s.status_listen) impl_->accept_status();
    impl_->arm_timer();
    return {};
}

void Agent::stop() {
    boost::system::error_code ignore;
    impl_->agent_acceptor.close(ignore);
    impl_->status_acceptor.close(ignore);
    impl_->monitor.close(ignore);
    impl_->timer.cancel();
}

model::Endpoint Agent::agent_endpoint() const {
    return from_asio(impl_->agent_acceptor.local_endpoint());
}

std::optional<model::Endpoint> Agent::status_endpoint() const {
    if (!impl_->status_acceptor.is_open()) return std::nullopt;
    return from_asio(impl_->status_acceptor.local_endpoint());
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

}  // namespace ballast::agent
