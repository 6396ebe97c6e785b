#include "ballast/agent/rtnl_codec.hpp"

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>
#include <string>
#include <vector>

namespace ballast::agent {
namespace {

Error malformed(const std::string& what) {
    return make_error(EBADMSG, "decode RTM_NEWROUTE", {}, "malformed route reply: " + what);
}

struct Walk {
    uint8_t family = 0;
    RouteAnswer* out = nullptr;
    IpPrefix* matched = nullptr;
    std::string error;  // set by the first bad attribute
    bool in_nexthop = false;
};

bool read_addr(const nlattr* a, uint8_t family, IpAddress& out) {
    const size_t want = family == AF_INET ? 4 : 16;
    if (mnl_attr_get_payload_len(a) != want) return false;
    out = IpAddress{};
    out.family = family;
    std::memcpy(out.bytes.data(), mnl_attr_get_payload(a), want);
    return true;
}

int on_attr(const nlattr* a, void* data);

// The first next hop of an RTA_MULTIPATH: its device and gateway.
bool first_nexthop(const nlattr* a, Walk& w) {
    const size_t len = mnl_attr_get_payload_len(a);
    if (len < sizeof(rtnexthop)) return len == 0;  // no next hop at all
    rtnexthop nh;
    std::memcpy(&nh, mnl_attr_get_payload(a), sizeof nh);
    if (nh.rtnh_len < sizeof nh || nh.rtnh_len > len) return false;
    if (w.out->oif) return true;  // RTA_OIF came first: it is the answer
    w.out->oif = nh.rtnh_ifindex;
    Walk inner = w;
    inner.in_nexthop = true;
    const auto* attrs = static_cast<const char*>(mnl_attr_get_payload(a)) + RTNH_ALIGN(sizeof nh);
    const size_t attrs_len =
        nh.rtnh_len > RTNH_ALIGN(sizeof nh) ? nh.rtnh_len - RTNH_ALIGN(sizeof nh) : 0;
    if (mnl_attr_parse_payload(attrs, attrs_len, on_attr, &inner) < 0) {
        w.error = inner.error.empty() ? "RTA_MULTIPATH next hop attributes" : inner.error;
        return false;
    }
    return true;
}

int on_attr(const nlattr* a, void* data) {
    auto& w = *static_cast<Walk*>(data);
    auto fail = [&](const char* what) {
        if (w.error.empty()) w.error = what;
        return MNL_CB_ERROR;
    };
    auto u32 = [&](uint32_t& v, const char* what) {
        if (mnl_attr_validate(a, MNL_TYPE_U32) < 0) return fail(what);
        v = mnl_attr_get_u32(a);
        return MNL_CB_OK;
    };
    switch (mnl_attr_get_type(a)) {
        case RTA_GATEWAY: {
            IpAddress gw;
            if (!read_addr(a, w.family, gw)) return fail("RTA_GATEWAY of the wrong size");
            w.out->gateway = gw;
            return MNL_CB_OK;
        }
        case RTA_OIF: {
            if (w.in_nexthop) return MNL_CB_OK;
            uint32_t v = 0;
            int r = u32(v, "RTA_OIF is not 4 bytes");
            w.out->oif = static_cast<int>(v);
            return r;
        }
        case RTA_TABLE:
            return w.in_nexthop ? MNL_CB_OK : u32(w.out->table, "RTA_TABLE is not 4 bytes");
        case RTA_PRIORITY:
            return w.in_nexthop ? MNL_CB_OK : u32(w.out->metric, "RTA_PRIORITY is not 4 bytes");
        case RTA_DST:
            if (w.in_nexthop) return MNL_CB_OK;
            if (!read_addr(a, w.family, w.matched->addr)) return fail("RTA_DST of the wrong size");
            return MNL_CB_OK;
        case RTA_MULTIPATH:
            if (w.in_nexthop) return MNL_CB_OK;
            if (!first_nexthop(a, w)) return fail("RTA_MULTIPATH next hop runs past its attribute");
            return MNL_CB_OK;
        default:
            return MNL_CB_OK;
    }
}

}  // namespace

nlmsghdr* build_route_get(void* buf, const IpAddress& dst, const IpAddress& src, bool fib_match) {
    std::memset(buf, 0, kRouteGetRequestSize);
    nlmsghdr* h = mnl_nlmsg_put_header(buf);
    h->nlmsg_type = RTM_GETROUTE;
    h->nlmsg_flags = NLM_F_REQUEST;
    auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(h, sizeof(rtmsg)));
    rtm->rtm_family = dst.family;
    rtm->rtm_dst_len = static_cast<unsigned char>(dst.size() * 8);
    rtm->rtm_src_len = static_cast<unsigned char>(src.size() * 8);
    // RTM_F_LOOKUP_TABLE: report the table the lookup used (otherwise "main").
    rtm->rtm_flags = RTM_F_LOOKUP_TABLE | (fib_match ? RTM_F_FIB_MATCH : 0);
    mnl_attr_put(h, RTA_DST, dst.size(), dst.bytes.data());
    mnl_attr_put(h, RTA_SRC, src.size(), src.bytes.data());
    return h;
}

Result<RouteAnswer> decode_route_reply(const void* msg, size_t len) {
    if (len < sizeof(nlmsghdr)) return malformed("shorter than a netlink header");
    nlmsghdr h;
    std::memcpy(&h, msg, sizeof h);
    if (h.nlmsg_len < sizeof h || h.nlmsg_len > len)
        return malformed("netlink length " + std::to_string(h.nlmsg_len) + " outside 16.." +
                         std::to_string(len));
    if (h.nlmsg_type != RTM_NEWROUTE)
        return malformed("message type " + std::to_string(h.nlmsg_type) + ", not RTM_NEWROUTE");
    if (h.nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(rtmsg)) return malformed("no rtmsg");
    // A copy padded to the aligned length: libmnl's walk ends at NLMSG_ALIGN(nlmsg_len),
    // up to 3 bytes past an unaligned message.
    std::vector<uint32_t> copy((NLMSG_ALIGN(h.nlmsg_len) + 3) / 4, 0);
    std::memcpy(copy.data(), msg, h.nlmsg_len);
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(copy.data());
    rtmsg r;
    std::memcpy(&r, mnl_nlmsg_get_payload(nlh), sizeof r);
    if (r.rtm_family != AF_INET && r.rtm_family != AF_INET6)
        return malformed("family " + std::to_string(r.rtm_family));
    const size_t bits = r.rtm_family == AF_INET ? 32 : 128;
    if (r.rtm_dst_len > bits) return malformed("prefix length " + std::to_string(r.rtm_dst_len));

    RouteAnswer out;
    out.type = r.rtm_type;
    out.table = r.rtm_table;
    IpPrefix matched;
    matched.addr.family = r.rtm_family;
    matched.length = r.rtm_dst_len;
    Walk w{r.rtm_family, &out, &matched, {}, false};
    if (mnl_attr_parse(nlh, sizeof(rtmsg), on_attr, &w) < 0)
        return malformed(w.error.empty() ? "truncated attribute" : w.error);
    out.matched = matched;
    return out;
}

}  // namespace ballast::agent
