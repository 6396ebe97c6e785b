#include "ballast/agent/sockets.hpp"

#include <cstring>
#include <string>

namespace ballast::agent {
namespace {

constexpr uint8_t kTcpListen = 0x0A;
constexpr uint8_t kUdpUnconnected = 0x07;

std::optional<uint32_t> hex32(std::string_view s) {
    if (s.empty() || s.size() > 8) return std::nullopt;
    uint32_t v = 0;
    for (char c : s) {
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else
            return std::nullopt;
        v = (v << 4) | static_cast<uint32_t>(d);
    }
    return v;
}

// The kernel prints each 32-bit word of the address with %08X of its in-memory
// (network-order) value read as a native integer; memcpy undoes that on any host.
std::optional<model::IpAddress> parse_addr(std::string_view hex, uint8_t family) {
    size_t words = family == AF_INET ? 1 : 4;
    if (hex.size() != words * 8) return std::nullopt;
    model::IpAddress a;
    a.family = family;
    for (size_t w = 0; w < words; ++w) {
        auto v = hex32(hex.substr(w * 8, 8));
        if (!v) return std::nullopt;
        std::memcpy(a.bytes.data() + w * 4, &*v, 4);
    }
    return a;
}

std::vector<std::string_view> fields(std::string_view line) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
        if (i > start) out.push_back(line.substr(start, i - start));
    }
    return out;
}

}  // namespace

Result<std::vector<Socket>> parse_proc_net(std::string_view text, Transport transport,
                                           uint8_t family) {
    std::vector<Socket> out;
    size_t line_no = 0;
    size_t pos = 0;
    auto bad = [&](const std::string& what) {
        return make_error(EINVAL, "parse /proc/net", "line " + std::to_string(line_no),
                          "line " + std::to_string(line_no) + ": " + what);
    };
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        ++line_no;
        if (line_no == 1) continue;  // header
        auto f = fields(line);
        if (f.empty()) continue;
        if (f.size() < 4) return bad("expected 'sl local_address rem_address st ...'");
        auto local = f[1];
        size_t colon = local.find(':');
        if (colon == std::string_view::npos) return bad("local address without ':port'");
        auto addr = parse_addr(local.substr(0, colon), family);
        auto port = hex32(local.substr(colon + 1));
        auto state = hex32(f[3]);
        if (!addr) return bad("malformed local address '" + std::string(local) + "'");
        if (!port || local.size() - colon - 1 != 4) return bad("malformed port");
        if (!state || f[3].size() != 2) return bad("malformed state '" + std::string(f[3]) + "'");
        out.push_back(
            Socket{transport, *addr, static_cast<uint16_t>(*port), static_cast<uint8_t>(*state)});
    }
    return out;
}

bool is_listening(const std::vector<Socket>& sockets, Transport transport,
                  const model::IpAddress& addr, uint16_t port) {
    for (const auto& s : sockets) {
        if (s.transport != transport || s.port != port) continue;
        if (transport == Transport::tcp && s.state != kTcpListen) continue;
        if (transport == Transport::udp && s.state != kUdpUnconnected) continue;
        if (s.local == addr) return true;
        // Wildcards: 0.0.0.0 takes IPv4 only; :: takes both (unless v6-only).
        if (s.local.is_unspecified() && (s.local.family == addr.family || s.local.is_v6()))
            return true;
        // IPv4-mapped listener (::ffff:a.b.c.d) on a v6 socket.
        if (addr.is_v4() && s.local.is_v6()) {
            static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
            if (std::memcmp(s.local.bytes.data(), prefix, 12) == 0 &&
                std::memcmp(s.local.bytes.data() + 12, addr.bytes.data(), 4) == 0)
                return true;
        }
    }
    return false;
}

}  // namespace ballast::agent
