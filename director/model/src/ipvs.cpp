#include "ballast/model/ipvs.hpp"

#include <algorithm>

namespace ballast::model {

std::optional<Protocol> parse_protocol(std::string_view s) {
    if (s == "tcp") return Protocol::tcp;
    if (s == "udp") return Protocol::udp;
    if (s == "sctp") return Protocol::sctp;
    return std::nullopt;
}

std::string_view to_string(Protocol p) {
    switch (p) {
        case Protocol::tcp:
            return "tcp";
        case Protocol::udp:
            return "udp";
        case Protocol::sctp:
            return "sctp";
    }
    return "?";
}

bool is_known_scheduler(std::string_view name) {
    return std::find(std::begin(kSchedulers), std::end(kSchedulers), name) != std::end(kSchedulers);
}

std::string ServiceKey::to_string() const {
    if (is_fwmark())
        return "fwmark " + std::to_string(fwmark) + (family == AF_INET6 ? "/ipv6" : "/ipv4");
    return Endpoint{addr, port}.to_string() + "/" + std::string(model::to_string(protocol));
}

uint32_t ServiceFlags::to_bits() const {
    return (persistent ? 0x1u : 0) | (hashed ? 0x2u : 0) | (one_packet ? 0x4u : 0) |
           (sched_flag1 ? 0x8u : 0) | (sched_flag2 ? 0x10u : 0) | (sched_flag3 ? 0x20u : 0);
}

ServiceFlags ServiceFlags::from_bits(uint32_t b) {
    ServiceFlags f;
    f.persistent = b & 0x1;
    f.hashed = b & 0x2;
    f.one_packet = b & 0x4;
    f.sched_flag1 = b & 0x8;
    f.sched_flag2 = b & 0x10;
    f.sched_flag3 = b & 0x20;
    return f;
}

bool ServiceSpec::same_attributes(const ServiceSpec& o) const {
    auto strip = [](ServiceFlags f) {
        f.hashed = false;
        f.persistent = false;  // derived from persistence
        return f;
    };
    return scheduler == o.scheduler && strip(flags) == strip(o.flags) &&
           persistence == o.persistence && netmask == o.netmask && pe_name == o.pe_name;
}

std::string_view to_string(ForwardMethod m) {
    switch (m) {
        case ForwardMethod::masquerade:
            return "masq";
        case ForwardMethod::local:
            return "local";
        case ForwardMethod::tunnel:
            return "tunnel";
        case ForwardMethod::route:
            return "route";
        case ForwardMethod::bypass:
            return "bypass";
    }
    return "?";
}

std::optional<ForwardMethod> parse_forward_method(std::string_view s) {
    if (s == "masq" || s == "masquerade" || s == "nat") return ForwardMethod::masquerade;
    if (s == "route" || s == "dr" || s == "gatewaying") return ForwardMethod::route;
    if (s == "tunnel" || s == "ipip") return ForwardMethod::tunnel;
    return std::nullopt;
}

std::string RealKey::to_string() const {
    return Endpoint{addr, port}.to_string();
}

size_t IpvsTable::real_count() const {
    size_t n = 0;
    for (auto& [k, s] : services) n += s.reals.size();
    return n;
}

}  // namespace ballast::model
