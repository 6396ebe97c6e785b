#include "ballast/health/dns_message.hpp"

#include <gtest/gtest.h>

namespace ballast::health {
namespace {

TEST(DnsMessage, EncodesQueryByteExact) {
    auto q = encode_dns_query(0x1234, "www.example.org.", DnsType::a);
    ASSERT_TRUE(q.ok());
    const std::vector<uint8_t> want{0x12, 0x34, 0x01, 0x00, 0,   1,   0,   0,   0,   0,   0,
                                    0,    3,    'w',  'w',  'w', 7,   'e', 'x', 'a', 'm', 'p',
                                    'l',  'e',  3,    'o',  'r', 'g', 0,   0,   1,   0,   1};
    EXPECT_EQ(*q, want);
    auto q6 = encode_dns_query(1, "a", DnsType::aaaa);
    ASSERT_TRUE(q6.ok());
    EXPECT_EQ(q6->at(q6->size() - 3), 28);
}

TEST(DnsMessage, RejectsBadNames) {
    EXPECT_FALSE(encode_dns_query(1, "", DnsType::a).ok());
    EXPECT_FALSE(encode_dns_query(1, "a..b", DnsType::a).ok());
    EXPECT_FALSE(encode_dns_query(1, std::string(64, 'x') + ".org", DnsType::a).ok());
    EXPECT_FALSE(encode_dns_query(1, std::string(254, 'x'), DnsType::a).ok());
}

std::vector<uint8_t> reply_to(const std::vector<uint8_t>& query, uint8_t rcode,
                              std::vector<std::vector<uint8_t>> answers) {
    std::vector<uint8_t> r = query;
    r[2] |= 0x80;  // QR
    r[3] = static_cast<uint8_t>(0x80 | rcode);
    r[7] = static_cast<uint8_t>(answers.size());
    for (auto& a : answers) r.insert(r.end(), a.begin(), a.end());
    return r;
}

std::vector<uint8_t> a_record(std::vector<uint8_t> rdata, uint16_t type = 1) {
    std::vector<uint8_t> rr{
        0xc0, 0x0c, static_cast<uint8_t>(type >> 8),   static_cast<uint8_t>(type), 0, 1, 0, 0, 0,
        60,   0,    static_cast<uint8_t>(rdata.size())};
    rr.insert(rr.end(), rdata.begin(), rdata.end());
    return rr;
}

TEST(DnsMessage, ParsesAnswerWithCompressedName) {
    auto q = *encode_dns_query(7, "example.org", DnsType::a);
    auto r = parse_dns_reply(reply_to(q, 0, {a_record({192, 0, 2, 1}), a_record({1, 2}, 5)}),
                             DnsType::a);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->id, 7);
    EXPECT_EQ(r->rcode, 0);
    EXPECT_EQ(r->answer_count, 2);
    EXPECT_EQ(r->matching_answers, 1);  // the CNAME-ish record is not an A
}

TEST(DnsMessage, ReportsRcodeAndRejectsLies) {
    auto q = *encode_dns_query(7, "example.org", DnsType::a);
    auto nx = parse_dns_reply(reply_to(q, 3, {}), DnsType::a);
    ASSERT_TRUE(nx.ok());
    EXPECT_EQ(dns_rcode_name(nx->rcode), "NXDOMAIN");
    auto lying = reply_to(q, 0, {});
    lying[7] = 5;  // claims 5 answers, carries none
    EXPECT_FALSE(parse_dns_reply(lying, DnsType::a).ok());
    auto overlong = reply_to(q, 0, {a_record({192, 0, 2, 1})});
    overlong.back() = 1;
    overlong[overlong.size() - 5] = 200;  // rdlength past the end
    EXPECT_FALSE(parse_dns_reply(overlong, DnsType::a).ok());
    EXPECT_FALSE(parse_dns_reply(q, DnsType::a).ok());  // a query, not a response
    EXPECT_FALSE(parse_dns_reply(std::vector<uint8_t>(5, 0), DnsType::a).ok());
}

}  // namespace
}  // namespace ballast::health
