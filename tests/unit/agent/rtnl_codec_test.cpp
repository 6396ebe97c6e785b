// The route-lookup codec: request bytes, and replies decoded or rejected by name.
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include <cstring>
#include <vector>

#include "ballast/agent/rtnl_codec.hpp"

using namespace ballast::agent;
using ballast::Result;

namespace {

IpAddress ip(const char* s) {
    return *IpAddress::parse(s);
}

// An RTM_NEWROUTE reply built with libmnl, attributes added by the test.
struct Reply {
    alignas(nlmsghdr) char buf[512]{};
    nlmsghdr* h;
    explicit Reply(uint8_t family = AF_INET, uint8_t dst_len = 0, uint8_t table = RT_TABLE_MAIN) {
        h = mnl_nlmsg_put_header(buf);
        h->nlmsg_type = RTM_NEWROUTE;
        auto* r = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(h, sizeof(rtmsg)));
        r->rtm_family = family;
        r->rtm_dst_len = dst_len;
        r->rtm_table = table;
        r->rtm_type = RTN_UNICAST;
    }
    Result<RouteAnswer> decode() const { return decode_route_reply(buf, h->nlmsg_len); }
};

TEST(RtnlCodec, RequestCarriesDstSrcAndFlags) {
    alignas(nlmsghdr) char buf[kRouteGetRequestSize];
    nlmsghdr* h = build_route_get(buf, ip("203.0.113.9"), ip("10.0.0.5"), true);
    EXPECT_EQ(h->nlmsg_type, RTM_GETROUTE);
    EXPECT_EQ(h->nlmsg_len, 16u + 12u + 8u + 8u);
    auto* r = static_cast<rtmsg*>(mnl_nlmsg_get_payload(h));
    EXPECT_EQ(r->rtm_family, AF_INET);
    EXPECT_EQ(r->rtm_dst_len, 32);
    EXPECT_EQ(r->rtm_src_len, 32);
    EXPECT_EQ(r->rtm_flags, unsigned(RTM_F_LOOKUP_TABLE | RTM_F_FIB_MATCH));
    const nlattr* a = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(h, sizeof(rtmsg)));
    EXPECT_EQ(mnl_attr_get_type(a), RTA_DST);
    EXPECT_EQ(std::memcmp(mnl_attr_get_payload(a), ip("203.0.113.9").bytes.data(), 4), 0);
    nlmsghdr* h6 = build_route_get(buf, ip("2001:db8::9"), ip("2001:db8:1::5"), false);
    EXPECT_EQ(h6->nlmsg_len, 16u + 12u + 20u + 20u);
}

TEST(RtnlCodec, DecodesGatewayDeviceTableMetricAndPrefix) {
    Reply r(AF_INET, 24);
    uint8_t gw[4] = {10, 0, 0, 1}, dst[4] = {10, 0, 0, 0};
    mnl_attr_put(r.h, RTA_GATEWAY, 4, gw);
    mnl_attr_put_u32(r.h, RTA_OIF, 7);
    mnl_attr_put_u32(r.h, RTA_TABLE, 1000);
    mnl_attr_put_u32(r.h, RTA_PRIORITY, 100);
    mnl_attr_put(r.h, RTA_DST, 4, dst);
    auto a = r.decode();
    ASSERT_TRUE(a) << a.error().describe();
    EXPECT_EQ(a->gateway, ip("10.0.0.1"));
    EXPECT_EQ(a->oif, 7);
    EXPECT_EQ(a->table, 1000u);
    EXPECT_EQ(a->metric, 100u);
    EXPECT_EQ(a->matched, IpPrefix::parse("10.0.0.0/24"));
}

TEST(RtnlCodec, FirstNextHopOfAMultipathRoute) {
    Reply r(AF_INET6);
    alignas(4) char mp[64]{};
    auto* nh = reinterpret_cast<rtnexthop*>(mp);
    nh->rtnh_ifindex = 3;
    auto* gw = reinterpret_cast<nlattr*>(mp + RTNH_ALIGN(sizeof(rtnexthop)));
    gw->nla_type = RTA_GATEWAY;
    gw->nla_len = 4 + 16;
    std::memcpy(gw + 1, ip("fe80::1").bytes.data(), 16);
    nh->rtnh_len = static_cast<unsigned short>(RTNH_ALIGN(sizeof(rtnexthop)) + 20);
    mnl_attr_put(r.h, RTA_MULTIPATH, nh->rtnh_len, mp);
    auto a = r.decode();
    ASSERT_TRUE(a) << a.error().describe();
    EXPECT_EQ(a->oif, 3);
    EXPECT_EQ(a->gateway, ip("fe80::1"));
}

TEST(RtnlCodec, RejectsMalformedRepliesNamingThePart) {
    auto message = [](const Result<RouteAnswer>& a) {
        return a ? std::string("accepted") : a.error().describe();
    };
    {
        Reply r;
        uint16_t short_oif = 7;
        mnl_attr_put(r.h, RTA_OIF, sizeof short_oif, &short_oif);
        EXPECT_NE(message(r.decode()).find("RTA_OIF is not 4 bytes"), std::string::npos)
            << message(r.decode());
    }
    {
        Reply r;  // an IPv4 reply with a 16-byte gateway
        mnl_attr_put(r.h, RTA_GATEWAY, 16, ip("2001:db8::1").bytes.data());
        EXPECT_NE(message(r.decode()).find("RTA_GATEWAY of the wrong size"), std::string::npos);
    }
    {
        Reply r;
        alignas(4) char mp[8]{};
        reinterpret_cast<rtnexthop*>(mp)->rtnh_len = 200;  // past the attribute
        mnl_attr_put(r.h, RTA_MULTIPATH, sizeof mp, mp);
        EXPECT_NE(message(r.decode()).find("RTA_MULTIPATH"), std::string::npos);
    }
    {
        Reply r;
        EXPECT_NE(message(decode_route_reply(r.buf, r.h->nlmsg_len - 1)).find("netlink length"),
                  std::string::npos);
        EXPECT_NE(message(decode_route_reply(r.buf, 10)).find("shorter than a netlink header"),
                  std::string::npos);
    }
    {
        Reply r(AF_INET, 33);
        EXPECT_NE(message(r.decode()).find("prefix length 33"), std::string::npos);
    }
    {
        Reply r(AF_UNIX);
        EXPECT_NE(message(r.decode()).find("family"), std::string::npos);
    }
}

}  // namespace
