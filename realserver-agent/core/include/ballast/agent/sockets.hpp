#pragma once
// Parser for /proc/net/{tcp,tcp6,udp,udp6}: which sockets are bound where.
#include <cstdint>
#include <string_view>
#include <vector>

#include "ballast/model/address.hpp"
#include "ballast/model/result.hpp"

namespace ballast::agent {

enum class Transport : uint8_t { tcp, udp };

struct Socket {
    Transport transport = Transport::tcp;
    model::IpAddress local;
    uint16_t port = 0;
    uint8_t state = 0;  // kernel TCP state number (0x0A = LISTEN; UDP unconnected = 0x07)
    bool operator==(const Socket&) const = default;
};

// Parses one /proc/net/{tcp,udp}[6] file. family is AF_INET or AF_INET6 (the
// file's). Returns an error naming the line for malformed input.
Result<std::vector<Socket>> parse_proc_net(std::string_view text, Transport transport,
                                           uint8_t family);

// True when a socket in `sockets` accepts traffic for addr:port over transport:
// a TCP listener or unbound UDP socket on addr, or on the wildcard of either family
// (an IPv6 wildcard socket also takes IPv4 unless it is v6-only, which /proc does not show).
bool is_listening(const std::vector<Socket>& sockets, Transport transport,
                  const model::IpAddress& addr, uint16_t port);

}  // namespace ballast::agent
