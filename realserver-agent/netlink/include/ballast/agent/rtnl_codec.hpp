#pragma once
// Pure rtnetlink codec of the agent's route lookup (`ip route get DST from SRC`): the
// RTM_GETROUTE request and the decode of the kernel's RTM_NEWROUTE reply, walked with
// libmnl's bounds-checked attribute parser. No socket: fuzzed in tests/fuzz/agent.
#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>

#include "ballast/agent/route_query.hpp"

namespace ballast::agent {

// Room for one RTM_GETROUTE request (header, rtmsg, two IPv6 addresses).
inline constexpr size_t kRouteGetRequestSize = 128;

// Writes the request into buf (kRouteGetRequestSize bytes) and returns its header.
// fib_match: report the FIB entry that matched (table, metric, prefix), not the result.
nlmsghdr* build_route_get(void* buf, const IpAddress& dst, const IpAddress& src, bool fib_match);

// Decodes one reply message of `len` bytes (a netlink header and what follows). Rejects,
// naming the part, what is not an RTM_NEWROUTE of a known family with well-formed
// attributes: a truncated header or attribute, an address of the wrong size, a u32
// attribute that is not 4 bytes, a next hop running past its attribute.
Result<RouteAnswer> decode_route_reply(const void* msg, size_t len);

}  // namespace ballast::agent
