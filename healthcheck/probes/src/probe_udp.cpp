// udp: send a payload on a connected socket, expect a reply (substring). The
// connected socket turns an ICMP port unreachable into ECONNREFUSED on receive:
// a fast failure instead of a timeout.
// dns: the same transport carrying one A/AAAA query.
#include <boost/asio/ip/udp.hpp>

#include "attempt.hpp"
#include "ballast/health/dns_message.hpp"

namespace ballast::health::detail {
namespace {

class UdpAttempt : public Attempt {
public:
    UdpAttempt(ProbeContext& c, const CheckKey& k, ProbeCallback d)
        : Attempt(c, k, std::move(d)), socket_(c.io()) {}

protected:
    void begin() override {
        if (check_.target.port == 0) return finish_later("no port to check");
        std::string why;
        if (!build_payload(why)) return finish_later(why);
        asio::ip::udp::endpoint ep(to_asio(check_.target.addr), check_.target.port);
        socket_.async_connect(ep, [self = self_as<UdpAttempt>()](const error_code& ec) {
            if (self->finished_) return;
            if (ec) return self->fail(ec);
            self->phase_ = "sending";
            self->socket_.async_send(asio::buffer(self->payload_),
                                     [self](const error_code& ec2, size_t) {
                                         if (self->finished_) return;
                                         if (ec2) return self->fail_udp(ec2);
                                         self->phase_ = "waiting for a reply";
                                         self->receive();
                                     });
        });
    }
    void close() override {
        error_code ignored;
        socket_.close(ignored);
    }
    virtual bool build_payload(std::string&) {
        payload_.assign(check_.spec->send.begin(), check_.spec->send.end());
        return true;
    }
    void receive() {
        socket_.async_receive(asio::buffer(datagram_),
                              [self = self_as<UdpAttempt>()](const error_code& ec, size_t n) {
                                  if (self->finished_) return;
                                  if (ec) return self->fail_udp(ec);
                                  self->reply(std::string_view(self->datagram_.data(), n));
                              });
    }
    void fail_udp(const error_code& ec) {
        if (ec == asio::error::connection_refused) return finish(false, "ICMP port unreachable");
        fail(ec);
    }
    virtual void reply(std::string_view data) {
        const auto& want = check_.spec->expect;
        if (want.empty()) return finish(true, "reply received");
        if (data.find(want) != std::string_view::npos) {
            return finish(true, "reply contains \"" + want + "\"");
        }
        finish(false, "reply lacks \"" + want + "\"");
    }

    asio::ip::udp::socket socket_;
    std::vector<uint8_t> payload_;
    std::array<char, 65536> datagram_;  // not zeroed: filled by each read
};

class DnsAttempt final : public UdpAttempt {
public:
    using UdpAttempt::UdpAttempt;

private:
    bool build_payload(std::string& why) override {
        auto type = parse_dns_type(check_.spec->query_type);
        if (!type) {
            why = "DNS: unsupported query type \"" + check_.spec->query_type + "\"";
            return false;
        }
        type_ = *type;
        id_ = ctx_.next_dns_id();
        auto q = encode_dns_query(id_, check_.spec->query_name, type_);
        if (!q.ok()) {
            why = "DNS: " + q.error().message;
            return false;
        }
        payload_ = std::move(q).value();
        return true;
    }
    void reply(std::string_view data) override {
        auto r = parse_dns_reply(
            std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size()), type_);
        if (!r.ok()) return finish(false, "DNS: " + r.error().message);
        if (r->id != id_) return receive();  // a late answer to an earlier query: keep waiting
        if (r->rcode != 0) return finish(false, "DNS " + std::string(dns_rcode_name(r->rcode)));
        const std::string& qt = check_.spec->query_type;
        if (r->matching_answers == 0) {
            return finish(false, "DNS NOERROR but no " + qt + " answer" +
                                     (r->truncated ? " (truncated)" : ""));
        }
        finish(true, "DNS NOERROR, " + std::to_string(r->matching_answers) + " " + qt + " answer" +
                         (r->matching_answers > 1 ? "s" : ""));
    }

    DnsType type_ = DnsType::a;
    uint16_t id_ = 0;
};

}  // namespace

std::shared_ptr<Attempt> make_udp_attempt(ProbeContext& c, const CheckKey& k, ProbeCallback d) {
    return std::make_shared<UdpAttempt>(c, k, std::move(d));
}

std::shared_ptr<Attempt> make_dns_attempt(ProbeContext& c, const CheckKey& k, ProbeCallback d) {
    return std::make_shared<DnsAttempt>(c, k, std::move(d));
}

}  // namespace ballast::health::detail
