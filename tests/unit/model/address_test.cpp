#include "ballast/model/address.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

using namespace ballast::model;

TEST(IpAddress, ParsesBothFamiliesAndRoundTrips) {
    auto v4 = IpAddress::parse("192.0.2.10");
    ASSERT_TRUE(v4);
    EXPECT_TRUE(v4->is_v4());
    EXPECT_EQ(v4->to_string(), "192.0.2.10");
    auto v6 = IpAddress::parse("2001:db8::1");
    ASSERT_TRUE(v6);
    EXPECT_TRUE(v6->is_v6());
    EXPECT_EQ(v6->to_string(), "2001:db8::1");
    EXPECT_NE(*v4, *v6);
    EXPECT_FALSE(IpAddress::parse("192.0.2.256"));
    EXPECT_FALSE(IpAddress::parse("example.com"));
    EXPECT_FALSE(IpAddress::parse(""));
}

// The order is (family, then the bytes in network order, one by one), whichever way it is
// computed: checked against std::lexicographical_compare on addresses that differ in any byte.
TEST(IpAddress, OrdersByFamilyThenBytesInNetworkOrder) {
    std::mt19937 rng(7);
    auto random_address = [&] {
        IpAddress a;
        a.family = rng() % 2 ? AF_INET : AF_INET6;
        // Mostly equal bytes, so a difference lands in every position, either half.
        for (auto& b : a.bytes) b = rng() % 4 == 0 ? static_cast<uint8_t>(rng()) : 0x80;
        return a;
    };
    for (int i = 0; i < 20000; ++i) {
        const IpAddress a = random_address();
        const IpAddress b = i % 5 == 0 ? a : random_address();
        const bool less =
            a.family < b.family ||
            (a.family == b.family && std::lexicographical_compare(a.bytes.begin(), a.bytes.end(),
                                                                  b.bytes.begin(), b.bytes.end()));
        const bool equal = a.family == b.family && a.bytes == b.bytes;
        EXPECT_EQ(a < b, less) << a.to_string() << " " << b.to_string();
        EXPECT_EQ(a == b, equal);
        EXPECT_EQ(a > b, !less && !equal);
    }
    EXPECT_LT(*IpAddress::parse("10.0.0.255"), *IpAddress::parse("10.0.1.0"));
    EXPECT_LT(*IpAddress::parse("2001:db8::ffff"), *IpAddress::parse("2001:db8::1:0"));
    EXPECT_LT(*IpAddress::parse("255.255.255.255"), *IpAddress::parse("::"));  // AF_INET first
}

TEST(IpAddress, V4FromHostOrder) {
    EXPECT_EQ(IpAddress::v4(0x0a000001).to_string(), "10.0.0.1");
}

TEST(IpPrefix, CanonicalisesAndContains) {
    auto p = IpPrefix::parse("10.1.2.3/16");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->to_string(), "10.1.0.0/16");
    EXPECT_TRUE(p->contains(*IpAddress::parse("10.1.200.1")));
    EXPECT_FALSE(p->contains(*IpAddress::parse("10.2.0.1")));
    EXPECT_FALSE(p->contains(*IpAddress::parse("::1")));
    EXPECT_EQ(IpPrefix::parse("2001:db8::1")->length, 128);
    EXPECT_FALSE(IpPrefix::parse("10.0.0.0/33"));
    EXPECT_FALSE(IpPrefix::parse("10.0.0.0/"));
}

TEST(Endpoint, ParsesV4V6AndDefaultPort) {
    auto e = Endpoint::parse("10.0.0.2:8080");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->port, 8080);
    EXPECT_EQ(e->to_string(), "10.0.0.2:8080");
    auto e6 = Endpoint::parse("[2001:db8::2]:443");
    ASSERT_TRUE(e6);
    EXPECT_EQ(e6->to_string(), "[2001:db8::2]:443");
    EXPECT_FALSE(Endpoint::parse("10.0.0.2"));
    EXPECT_EQ(Endpoint::parse("10.0.0.2", 80)->port, 80);
    EXPECT_EQ(Endpoint::parse("2001:db8::2", 80)->port, 80);  // bare v6, default port
    EXPECT_FALSE(Endpoint::parse("10.0.0.2:65536"));
    EXPECT_FALSE(Endpoint::parse("10.0.0.2:"));
    EXPECT_FALSE(Endpoint::parse("[10.0.0.2]:80"));
    EXPECT_FALSE(Endpoint::parse("[2001:db8::2"));
}

TEST(Endpoint, FormatsTheLongestAddressesAndPorts) {
    EXPECT_EQ(Endpoint::parse("255.255.255.255:65535")->to_string(), "255.255.255.255:65535");
    EXPECT_EQ(Endpoint::parse("0.0.0.0:0")->to_string(), "0.0.0.0:0");
    for (const std::string v6 :
         {"[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", "[::ffff:255.255.255.255]:65535"}) {
        ASSERT_TRUE(Endpoint::parse(v6)) << v6;
        EXPECT_EQ(Endpoint::parse(v6)->to_string(), v6);
    }
    EXPECT_EQ(Endpoint::parse("[::]:1")->to_string(), "[::]:1");
}
