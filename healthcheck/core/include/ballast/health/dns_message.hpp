#pragma once
// The few bytes of DNS a health check needs: encode one query, parse the reply
// header and count the answers. Pure and fuzzable; never trusts a length field.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ballast/model/result.hpp"

namespace ballast::health {

enum class DnsType : uint16_t { a = 1, aaaa = 28 };

// "A" | "AAAA" (case-insensitive).
std::optional<DnsType> parse_dns_type(std::string_view);

// A standard recursive query for `name` (dotted, optional trailing dot).
Result<std::vector<uint8_t>> encode_dns_query(uint16_t id, std::string_view name, DnsType type);

struct DnsReply {
    uint16_t id = 0;
    uint8_t rcode = 0;  // 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED, ...
    bool truncated = false;
    uint16_t answer_count = 0;      // ANCOUNT as sent
    uint16_t matching_answers = 0;  // answers of the queried type (parsed, not trusted from header)
};

std::string_view dns_rcode_name(uint8_t rcode);

// Parses a reply to a query of `type`. Errors: too short, not a response,
// malformed names or records (reading past the end, pointer loops).
Result<DnsReply> parse_dns_reply(std::span<const uint8_t> msg, DnsType type);

}  // namespace ballast::health
