#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>

#include "attempt.hpp"
#include "connect_mux.hpp"
#include "half_open.hpp"

namespace ballast::health {

namespace asio = boost::asio;

ProbeContext::ProbeContext(asio::io_context& io, ProbeLimits limits, uint64_t seed)
    : io_(io), limits_(limits), rng_(seed) {}

ProbeContext::~ProbeContext() {
    if (connects_) connects_->shutdown();
    if (half_opens_) half_opens_->shutdown();
}

std::shared_ptr<detail::HalfOpenMux> ProbeContext::half_opens() {
    if (!half_opens_) half_opens_ = std::make_shared<detail::HalfOpenMux>(io_, rng_.next());
    return half_opens_;
}

namespace {
template <typename Keys, typename KeyOf>
std::vector<std::string> missing_privileges_of(const Keys& checks, KeyOf key_of) {
    std::vector<std::string> out;
    std::string why;
    bool asked = false;
    for (const auto& entry : checks) {
        const CheckKey& k = key_of(entry);
        if (k.spec->type != model::CheckType::tcp_half_open) continue;
        if (!asked) why = detail::half_open_privilege_error(), asked = true;
        if (!why.empty()) out.push_back(k.to_string() + ": " + why);
    }
    return out;
}
}  // namespace

std::vector<std::string> missing_privileges(const std::vector<CheckKey>& checks) {
    return missing_privileges_of(checks, [](const CheckKey& k) -> const CheckKey& { return k; });
}

std::vector<std::string> missing_privileges(const CheckPlan& plan) {
    return missing_privileges_of(plan.checks,
                                 [](const auto& entry) -> const CheckKey& { return entry.first; });
}

std::shared_ptr<detail::ConnectMux> ProbeContext::connects() {
    if (!connects_) connects_ = std::make_shared<detail::ConnectMux>(io_);
    return connects_;
}

std::shared_ptr<const BodyRegex> ProbeContext::body_regex(const std::string& pattern,
                                                          std::string& error) {
    auto it = body_regexes_.find(pattern);
    if (it != body_regexes_.end()) return it->second;
    auto re = BodyRegex::compile(pattern, &error);
    if (re) body_regexes_.emplace(pattern, re);
    return re;
}

asio::ssl::context& ProbeContext::tls(bool verify) {
    boost::system::error_code ec;
    if (!verify) {
        if (!tls_any_) {
            tls_any_.emplace(asio::ssl::context::tls_client);
            tls_any_->set_verify_mode(asio::ssl::verify_none, ec);
        }
        return *tls_any_;
    }
    if (!tls_verify_) {
        tls_verify_.emplace(asio::ssl::context::tls_client);
        tls_verify_->set_default_verify_paths(ec);  // the system trust store, when there is one
        tls_verify_->set_verify_mode(asio::ssl::verify_peer, ec);
    }
    return *tls_verify_;
}

bool ProbeContext::add_trusted_ca_pem(std::string_view pem) {
    boost::system::error_code ec;
    tls(true).add_certificate_authority(asio::buffer(pem.data(), pem.size()), ec);
    return !ec;
}

std::shared_ptr<ProbeRun> start_probe(ProbeContext& ctx, const CheckKey& check,
                                      ProbeCallback done) {
    using model::CheckType;
    std::shared_ptr<detail::Attempt> a;
    switch (check.spec->type) {
        case CheckType::tcp:
            if (check.target.port != 0 && check.spec->send.empty() && check.spec->expect.empty())
                return detail::start_connect_check(ctx, check, std::move(done));
            a = detail::make_tcp_attempt(ctx, check, std::move(done));
            break;
        case CheckType::http:
        case CheckType::https:
            a = detail::make_http_attempt(ctx, check, std::move(done));
            break;
        case CheckType::udp:
            a = detail::make_udp_attempt(ctx, check, std::move(done));
            break;
        case CheckType::dns:
            a = detail::make_dns_attempt(ctx, check, std::move(done));
            break;
        case CheckType::exec:
            a = detail::make_exec_attempt(ctx, check, std::move(done));
            break;
        case CheckType::agent:
            a = detail::make_agent_attempt(ctx, check, std::move(done));
            break;
        case CheckType::tcp_half_open:
            if (check.target.port != 0)
                return detail::start_half_open_check(ctx, check, std::move(done));
            a = detail::make_none_attempt(ctx, check, std::move(done));  // config forbids it
            break;
        case CheckType::none:
            a = detail::make_none_attempt(ctx, check, std::move(done));
            break;
    }
    a->launch();
    return a;
}

namespace detail {

namespace {
// "No check": always up, reported asynchronously like every other run.
class NoCheckAttempt final : public Attempt {
public:
    using Attempt::Attempt;

private:
    void begin() override {
        asio::post(ctx_.io(),
                   [self = self_as<NoCheckAttempt>()] { self->finish(true, "not checked"); });
    }
    void close() override {}
};
}  // namespace

std::shared_ptr<Attempt> make_none_attempt(ProbeContext& c, const CheckKey& k, ProbeCallback d) {
    return std::make_shared<NoCheckAttempt>(c, k, std::move(d));
}

asio::ip::address to_asio(const model::IpAddress& a) {
    if (a.is_v4()) {
        asio::ip::address_v4::bytes_type b;
        std::copy_n(a.bytes.begin(), 4, b.begin());
        return asio::ip::address_v4(b);
    }
    asio::ip::address_v6::bytes_type b;
    std::copy_n(a.bytes.begin(), 16, b.begin());
    return asio::ip::address_v6(b);
}

asio::ip::tcp::endpoint tcp_endpoint(const CheckKey& k) {
    return {to_asio(k.target.addr), k.target.port};
}

bool is_checker_fault(int err) {
    switch (err) {
        case EMFILE:
        case ENFILE:
        case ENOMEM:
        case ENOBUFS:
        case EADDRNOTAVAIL:
        case EAGAIN:
        case ENOSPC:
            return true;
        default:
            return false;
    }
}

bool is_checker_fault(const error_code& ec) {
    return ec.category() == boost::system::system_category() && is_checker_fault(ec.value());
}

std::string checker_fault_reason(const error_code& ec, const char* phase) {
    // strerror, not ec.message(): no virtual call on a path taken when the process
    // has no descriptor left (UBSan's vptr check itself needs one).
    return std::string("checker: ") + (phase ? phase : "probe") + ": " + std::strerror(ec.value());
}

std::string describe_error(const error_code& ec, const char* phase) {
    namespace e = asio::error;
    const bool connecting = phase && std::string_view(phase) == "connecting";
    if (ec == e::connection_refused) return connecting ? "connect refused" : "connection refused";
    if (ec == e::connection_reset) return "connection reset by peer";
    if (ec == e::eof || ec == asio::ssl::error::stream_truncated) {
        return std::string("connection closed by peer") +
               (phase ? std::string(" (") + phase + ")" : "");
    }
    if (ec == e::host_unreachable) return "host unreachable";
    if (ec == e::network_unreachable) return "network unreachable";
    if (ec == e::broken_pipe) return "connection closed by peer (broken pipe)";
    if (ec == e::timed_out) return "connection timed out";
    return std::string(phase ? phase : "probe") + ": " + ec.message();
}

}  // namespace detail
}  // namespace ballast::health
