#include "ballast/health/dns_message.hpp"

#include <algorithm>
#include <cctype>

namespace ballast::health {
namespace {

Error dns_error(std::string msg) {
    return make_error(0, "dns reply", {}, std::move(msg));
}

uint16_t read16(std::span<const uint8_t> m, size_t at) {
    return static_cast<uint16_t>(m[at] << 8 | m[at + 1]);
}

// Skips a (possibly compressed) name starting at `at`; returns the offset after
// it in the record, or 0 on a malformed name.
size_t skip_name(std::span<const uint8_t> m, size_t at) {
    size_t labels = 0;
    while (at < m.size()) {
        const uint8_t len = m[at];
        if ((len & 0xc0) == 0xc0) return at + 2 <= m.size() ? at + 2 : 0;  // pointer ends the name
        if ((len & 0xc0) != 0) return 0;                                   // reserved label types
        if (len == 0) return at + 1;
        at += 1 + len;
        if (++labels > 127) return 0;
    }
    return 0;
}

}  // namespace

std::optional<DnsType> parse_dns_type(std::string_view s) {
    std::string up(s);
    std::transform(up.begin(), up.end(), up.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (up == "A") return DnsType::a;
    if (up == "AAAA") return DnsType::aaaa;
    return std::nullopt;
}

Result<std::vector<uint8_t>> encode_dns_query(uint16_t id, std::string_view name, DnsType type) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.empty() || name.size() > 253) {
        return make_error(0, "dns query", std::string(name), "name must be 1..253 characters");
    }
    std::vector<uint8_t> out{static_cast<uint8_t>(id >> 8),
                             static_cast<uint8_t>(id),
                             0x01,
                             0x00,
                             0,
                             1,
                             0,
                             0,
                             0,
                             0,
                             0,
                             0};  // RD; QDCOUNT 1
    size_t start = 0;
    while (start <= name.size()) {
        size_t dot = name.find('.', start);
        if (dot == std::string_view::npos) dot = name.size();
        const size_t len = dot - start;
        if (len == 0 || len > 63) {
            return make_error(0, "dns query", std::string(name),
                              "each label must be 1..63 characters");
        }
        out.push_back(static_cast<uint8_t>(len));
        out.insert(out.end(), name.begin() + start, name.begin() + dot);
        start = dot + 1;
    }
    out.push_back(0);
    const auto t = static_cast<uint16_t>(type);
    out.insert(out.end(), {static_cast<uint8_t>(t >> 8), static_cast<uint8_t>(t), 0, 1});  // IN
    return out;
}

std::string_view dns_rcode_name(uint8_t rcode) {
    switch (rcode) {
        case 0:
            return "NOERROR";
        case 1:
            return "FORMERR";
        case 2:
            return "SERVFAIL";
        case 3:
            return "NXDOMAIN";
        case 4:
            return "NOTIMP";
        case 5:
            return "REFUSED";
        default:
            return "RCODE?";
    }
}

Result<DnsReply> parse_dns_reply(std::span<const uint8_t> m, DnsType type) {
    if (m.size() < 12) return dns_error("reply shorter than a DNS header");
    DnsReply r;
    r.id = read16(m, 0);
    if ((m[2] & 0x80) == 0) return dns_error("not a DNS response (QR bit clear)");
    r.truncated = (m[2] & 0x02) != 0;
    r.rcode = m[3] & 0x0f;
    const uint16_t qd = read16(m, 4);
    r.answer_count = read16(m, 6);
    size_t at = 12;
    for (uint16_t i = 0; i < qd; ++i) {
        at = skip_name(m, at);
        if (at == 0 || at + 4 > m.size()) return dns_error("malformed question section");
        at += 4;
    }
    for (uint16_t i = 0; i < r.answer_count; ++i) {
        at = skip_name(m, at);
        if (at == 0 || at + 10 > m.size()) return dns_error("malformed answer record");
        const uint16_t rtype = read16(m, at);
        const uint16_t rdlen = read16(m, at + 8);
        at += 10;
        if (at + rdlen > m.size()) return dns_error("answer data runs past the end");
        const size_t want_len = type == DnsType::a ? 4 : 16;
        if (rtype == static_cast<uint16_t>(type) && rdlen == want_len) ++r.matching_answers;
        at += rdlen;
    }
    return r;
}

}  // namespace ballast::health
