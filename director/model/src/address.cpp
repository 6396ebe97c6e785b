#include "ballast/model/address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "ballast/model/result.hpp"

namespace ballast {

std::string Error::describe() const {
    std::string text = message.empty() ? std::string(std::strerror(code)) : message;
    if (!op.empty()) text += " (" + op;
    if (!op.empty() && !key.empty()) text += " " + key;
    if (!op.empty()) text += ")";
    return text;
}

}  // namespace ballast

namespace ballast::model {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    std::string s(text);
    IpAddress a;
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
        a.family = AF_INET;
        return a;
    }
    if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
        a.family = AF_INET6;
        return a;
    }
    return std::nullopt;
}

IpAddress IpAddress::v4(uint32_t host_order) {
    IpAddress a;
    uint32_t n = htonl(host_order);
    std::memcpy(a.bytes.data(), &n, 4);
    return a;
}

std::string IpAddress::to_string() const {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(family, bytes.data(), buf, sizeof buf);
    return buf;
}

bool IpAddress::is_unspecified() const {
    for (size_t i = 0; i < size(); ++i)
        if (bytes[i] != 0) return false;
    return true;
}

bool IpAddress::is_multicast() const {
    return is_v4() ? (bytes[0] & 0xf0) == 0xe0 : bytes[0] == 0xff;
}

static bool parse_uint(std::string_view s, unsigned max, unsigned& out) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size() && out <= max;
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
    auto slash = text.find('/');
    auto addr = IpAddress::parse(text.substr(0, slash));
    if (!addr) return std::nullopt;
    unsigned max = addr->is_v4() ? 32 : 128;
    unsigned len = max;
    if (slash != std::string_view::npos && !parse_uint(text.substr(slash + 1), max, len))
        return std::nullopt;
    IpPrefix p{*addr, static_cast<uint8_t>(len)};
    // Canonical form: host bits cleared.
    for (unsigned bit = len; bit < max; ++bit)
        p.addr.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
    return p;
}

std::string IpPrefix::to_string() const {
    return addr.to_string() + "/" + std::to_string(length);
}

bool IpPrefix::contains(const IpAddress& a) const {
    if (a.family != addr.family) return false;
    for (unsigned bit = 0; bit < length; ++bit) {
        uint8_t mask = 0x80u >> (bit % 8);
        if ((a.bytes[bit / 8] & mask) != (addr.bytes[bit / 8] & mask)) return false;
    }
    return true;
}

std::optional<Endpoint> Endpoint::parse(std::string_view text,
                                        std::optional<uint16_t> default_port) {
    std::string_view host = text, port;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = text.substr(1, close - 1);
        auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return std::nullopt;
            port = rest.substr(1);
            if (port.empty()) return std::nullopt;
        }
    } else if (std::count(text.begin(), text.end(), ':') == 1) {
        auto colon = text.find(':');
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (port.empty()) return std::nullopt;
    }
    auto addr = IpAddress::parse(host);
    if (!addr) return std::nullopt;
    if (!text.empty() && text.front() == '[' && !addr->is_v6()) return std::nullopt;
    unsigned p = 0;
    if (port.empty()) {
        if (!default_port) return std::nullopt;
        p = *default_port;
    } else if (!parse_uint(port, 65535, p)) {
        return std::nullopt;
    }
    return Endpoint{*addr, static_cast<uint16_t>(p)};
}

std::string Endpoint::to_string() const {
    // In one buffer, made into one string: a status page's service is formatted again per
    // real server every time it is republished.
    char buf[INET6_ADDRSTRLEN + 8];
    size_t n = 0;
    if (addr.is_v6()) buf[n++] = '[';
    inet_ntop(addr.family, addr.bytes.data(), buf + n, INET6_ADDRSTRLEN);
    n += std::strlen(buf + n);
    if (addr.is_v6()) buf[n++] = ']';
    buf[n++] = ':';
    n = static_cast<size_t>(std::to_chars(buf + n, buf + sizeof buf, port).ptr - buf);
    return std::string(buf, n);
}

}  // namespace ballast::model
