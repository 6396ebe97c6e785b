// DNS replies are untrusted datagrams: the parser must never read past the
// end, and what it counts must be consistent with the header.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "ballast/health/dns_message.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    for (auto type : {ballast::health::DnsType::a, ballast::health::DnsType::aaaa}) {
        auto r = ballast::health::parse_dns_reply(std::span(data, size), type);
        if (r.ok() && r->matching_answers > r->answer_count) std::abort();
    }
    return 0;
}
