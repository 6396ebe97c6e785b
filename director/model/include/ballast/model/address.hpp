#pragma once
#include <array>
#include <bit>
#include <compare>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include <sys/socket.h>

namespace ballast::model {

// An IPv4 or IPv6 address, stored in network byte order. IPv4 uses the
// first 4 bytes; the rest are zero, so comparison and hashing are plain.
struct IpAddress {
    uint8_t family = AF_INET;  // AF_INET or AF_INET6
    std::array<uint8_t, 16> bytes{};

    static std::optional<IpAddress> parse(std::string_view text);
    static IpAddress v4(uint32_t host_order);
    std::string to_string() const;
    bool is_v4() const { return family == AF_INET; }
    bool is_v6() const { return family == AF_INET6; }
    size_t size() const { return is_v4() ? 4 : 16; }
    bool is_unspecified() const;
    bool is_multicast() const;
    // The order of (family, bytes) compared byte by byte, as two big-endian words: these keys
    // are compared millions of times per reconcile, and memcmp calls dominated.
    std::strong_ordering operator<=>(const IpAddress& o) const {
        if (family != o.family) return family <=> o.family;
        for (size_t half = 0; half < 16; half += 8) {
            uint64_t a = 0, b = 0;
            std::memcpy(&a, bytes.data() + half, 8);
            std::memcpy(&b, o.bytes.data() + half, 8);
            if (a != b) {
                if constexpr (std::endian::native == std::endian::little) {
                    a = __builtin_bswap64(a);
                    b = __builtin_bswap64(b);
                }
                return a <=> b;
            }
        }
        return std::strong_ordering::equal;
    }
    bool operator==(const IpAddress&) const = default;
};

// An address with a prefix length, e.g. 10.0.0.0/24 or 2001:db8::/64.
struct IpPrefix {
    IpAddress addr;
    uint8_t length = 32;
    static std::optional<IpPrefix> parse(std::string_view text);  // "a.b.c.d" alone = /32 (/128)
    std::string to_string() const;
    bool contains(const IpAddress& a) const;
    auto operator<=>(const IpPrefix&) const = default;
};

// "addr:port" or "[v6]:port"; "addr" alone when default_port is given.
struct Endpoint {
    IpAddress addr;
    uint16_t port = 0;
    static std::optional<Endpoint> parse(std::string_view text,
                                         std::optional<uint16_t> default_port = {});
    std::string to_string() const;
    auto operator<=>(const Endpoint&) const = default;
};

}  // namespace ballast::model
