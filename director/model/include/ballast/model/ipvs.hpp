#pragma once
// IPVS state as plain values. Identity (ServiceKey, RealKey) is separate from
// attributes (ServiceSpec, RealSpec); counters and health never live here.
#include <boost/container/flat_map.hpp>

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <netinet/in.h>

#include "ballast/model/address.hpp"

namespace ballast::model {

enum class Protocol : uint16_t { tcp = IPPROTO_TCP, udp = IPPROTO_UDP, sctp = IPPROTO_SCTP };
std::optional<Protocol> parse_protocol(std::string_view);  // "tcp" | "udp" | "sctp"
std::string_view to_string(Protocol);

// Scheduler names the kernel offers (ip_vs_<name> modules).
inline constexpr std::string_view kSchedulers[] = {
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"};
bool is_known_scheduler(std::string_view);

using Weight = uint32_t;  // 0..65535 by our validation (the kernel accepts any non-negative int)
inline constexpr Weight kMaxWeight = 65535;

// A virtual service: protocol + VIP + port, or a firewall mark (+ family).
struct ServiceKey {
    uint8_t family = AF_INET;
    uint32_t fwmark = 0;  // non-zero: fwmark service; protocol/addr/port unused (zero)
    Protocol protocol = Protocol::tcp;
    IpAddress addr;
    uint16_t port = 0;

    static ServiceKey inet(Protocol p, IpAddress a, uint16_t port) {
        return ServiceKey{a.family, 0, p, a, port};
    }
    static ServiceKey mark(uint32_t fwmark, uint8_t family = AF_INET) {
        ServiceKey k;
        k.family = family;
        k.fwmark = fwmark;
        k.addr.family = family;
        return k;
    }
    bool is_fwmark() const { return fwmark != 0; }
    std::string to_string() const;  // "192.0.2.1:80/tcp", "[2001:db8::1]:53/udp", "fwmark 7/ipv4"
    auto operator<=>(const ServiceKey&) const = default;
};

// IP_VS_SVC_F_* bits, named.
struct ServiceFlags {
    bool persistent = false;   // set from ServiceSpec::persistence; kept for dumps
    bool hashed = false;       // kernel-internal; ignored on compare
    bool one_packet = false;   // ops
    bool sched_flag1 = false;  // sh-fallback / mh-fallback
    bool sched_flag2 = false;  // sh-port / mh-port
    bool sched_flag3 = false;
    uint32_t to_bits() const;
    static ServiceFlags from_bits(uint32_t);
    auto operator<=>(const ServiceFlags&) const = default;
};

struct ServiceSpec {
    std::string scheduler = "wlc";
    ServiceFlags flags;
    std::optional<uint32_t> persistence;  // seconds; nullopt = not persistent
    uint32_t netmask = 0xffffffff;        // IPv4: mask (host order); IPv6: prefix length (128)
    std::string pe_name;                  // persistence engine ("sip"), usually empty
    // Compares what an in-place edit can change (ignores kernel-internal flags).
    bool same_attributes(const ServiceSpec& o) const;
    auto operator<=>(const ServiceSpec&) const = default;
};

enum class ForwardMethod : uint8_t { masquerade = 0, local = 1, tunnel = 2, route = 3, bypass = 4 };
std::string_view to_string(ForwardMethod);  // "masq", "local", "tunnel", "route", "bypass"
std::optional<ForwardMethod> parse_forward_method(std::string_view);

struct RealKey {
    IpAddress addr;
    uint16_t port = 0;
    std::string to_string() const;  // "10.0.0.2:80" / "[2001:db8::2]:80"
    auto operator<=>(const RealKey&) const = default;
};

struct RealSpec {
    ForwardMethod forward = ForwardMethod::masquerade;
    Weight weight = 1;
    uint32_t upper_threshold = 0;  // 0 = no limit
    uint32_t lower_threshold = 0;
    auto operator<=>(const RealSpec&) const = default;
};

// A service's real servers in one sorted vector: 36 bytes a real server instead of a 72-byte
// map node (ballastd holds two tables, the desired and the programmed one, of 50,000 each at
// 5,000 x 10). Built in bulk with adopt_sequence or an appending emplace_hint, since inserting
// in the middle moves what follows.
using IpvsReals = boost::container::flat_map<RealKey, RealSpec, std::less<RealKey>,
                                             std::vector<std::pair<RealKey, RealSpec>>>;

struct IpvsService {
    ServiceKey key;
    ServiceSpec spec;
    IpvsReals reals;
    bool operator==(const IpvsService&) const = default;
};

// A set of services keyed by identity: both desired and observed state.
struct IpvsTable {
    std::map<ServiceKey, IpvsService> services;
    size_t real_count() const;
    bool operator==(const IpvsTable&) const = default;
};

}  // namespace ballast::model
