// /proc/net/{tcp,udp}[6] parser.
#include <gtest/gtest.h>

#include "ballast/agent/sockets.hpp"

using namespace ballast::agent;
using ballast::model::IpAddress;

namespace {

const char* kTcp =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n"
    "   0: 0500000A:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 "
    "1234 1 0 100 0 0 10 0\n"
    "   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 "
    "1235 1 0 100 0 0 10 0\n"
    "   2: 0500000A:0050 0900710B:C350 01 00000000:00000000 00:00000000 00000000     0        0 "
    "1236 1 0 100 0 0 10 0\n";

TEST(ProcNet, ParsesIpv4Lines) {
    auto s = parse_proc_net(kTcp, Transport::tcp, AF_INET);
    ASSERT_TRUE(s.ok()) << s.error().describe();
    ASSERT_EQ(s->size(), 3u);
    // Byte order is the kernel's: 0500000A is 10.0.0.5 on a little-endian host.
    EXPECT_EQ((*s)[0].local.to_string(), "10.0.0.5");
    EXPECT_EQ((*s)[0].port, 80);
    EXPECT_EQ((*s)[0].state, 0x0A);
    EXPECT_TRUE((*s)[1].local.is_unspecified());
    EXPECT_EQ((*s)[1].port, 8080);
    EXPECT_EQ((*s)[2].state, 0x01);
    EXPECT_TRUE(is_listening(*s, Transport::tcp, *IpAddress::parse("10.0.0.5"), 80));
    EXPECT_TRUE(is_listening(*s, Transport::tcp, *IpAddress::parse("10.0.0.7"), 8080));  // wildcard
    EXPECT_FALSE(is_listening(*s, Transport::tcp, *IpAddress::parse("10.0.0.7"), 80));
    EXPECT_FALSE(is_listening(*s, Transport::udp, *IpAddress::parse("10.0.0.5"), 80));
}

TEST(ProcNet, ParsesIpv6AndMappedListeners) {
    const char* tcp6 =
        "  sl  local_address                         remote_address                        st\n"
        "   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A\n"
        "   1: 0000000000000000FFFF00000500000A:01BB 00000000000000000000000000000000:0000 0A\n"
        "   2: B80D0120000000000000000001000000:0035 00000000000000000000000000000000:0000 0A\n";
    auto s = parse_proc_net(tcp6, Transport::tcp, AF_INET6);
    ASSERT_TRUE(s.ok()) << s.error().describe();
    ASSERT_EQ(s->size(), 3u);
    EXPECT_EQ((*s)[2].local.to_string(), "2001:db8::1");
    EXPECT_TRUE(
        is_listening(*s, Transport::tcp, *IpAddress::parse("10.0.0.9"), 80));  // [::]:80 takes v4
    EXPECT_TRUE(
        is_listening(*s, Transport::tcp, *IpAddress::parse("10.0.0.5"), 443));  // ::ffff:10.0.0.5
    EXPECT_FALSE(is_listening(*s, Transport::tcp, *IpAddress::parse("10.0.0.6"), 443));
}

TEST(ProcNet, V4WildcardDoesNotCoverV6) {
    std::vector<Socket> s = {Socket{Transport::tcp, *IpAddress::parse("0.0.0.0"), 80, 0x0A}};
    EXPECT_FALSE(is_listening(s, Transport::tcp, *IpAddress::parse("2001:db8::5"), 80));
}

TEST(ProcNet, UdpUnconnectedCounts) {
    std::vector<Socket> s = {Socket{Transport::udp, *IpAddress::parse("10.0.0.5"), 53, 0x07},
                             Socket{Transport::udp, *IpAddress::parse("10.0.0.5"), 54, 0x01}};
    EXPECT_TRUE(is_listening(s, Transport::udp, *IpAddress::parse("10.0.0.5"), 53));
    EXPECT_FALSE(is_listening(s, Transport::udp, *IpAddress::parse("10.0.0.5"), 54));
}

TEST(ProcNet, MalformedLinesAreErrorsNamingTheLine) {
    auto a = parse_proc_net("hdr\n 0: 0500000A0050 x 0A\n", Transport::tcp, AF_INET);
    ASSERT_FALSE(a.ok());
    EXPECT_NE(a.error().describe().find("line 2"), std::string::npos);
    auto b = parse_proc_net("hdr\n 0: 0500000A:0050 x 0A\n 1: 0500000Z:0050 x 0A\n", Transport::tcp,
                            AF_INET);
    ASSERT_FALSE(b.ok());
    EXPECT_NE(b.error().describe().find("line 3"), std::string::npos);
    EXPECT_FALSE(parse_proc_net("hdr\n 0: 0500000A:0050 x\n", Transport::tcp, AF_INET).ok());
    EXPECT_FALSE(parse_proc_net("hdr\n 0: 0500000A:50 x 0A\n", Transport::tcp, AF_INET).ok());
    EXPECT_TRUE(parse_proc_net("", Transport::tcp, AF_INET).ok());
}

}  // namespace
