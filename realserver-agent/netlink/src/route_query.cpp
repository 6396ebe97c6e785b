#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/route/rule.h>

#include <cstring>

#include "ballast/agent/netlink.hpp"
#include "ballast/agent/nl_dump.hpp"
#include "ballast/agent/rtnl_codec.hpp"
#include "mnl_request.hpp"

namespace ballast::agent {
namespace {

// From <linux/if.h>, which cannot be included together with <net/if.h>.
constexpr unsigned kIffLowerUp = 1u << 16;

std::optional<IpAddress> from_nl(nl_addr* a) {
    if (!a) return std::nullopt;
    IpAddress out;
    int family = nl_addr_get_family(a);
    unsigned len = nl_addr_get_len(a);
    if ((family != AF_INET || len != 4) && (family != AF_INET6 || len != 16)) return std::nullopt;
    out.family = static_cast<uint8_t>(family);
    std::memcpy(out.bytes.data(), nl_addr_get_binary_addr(a), len);
    return out;
}

std::optional<IpPrefix> prefix_from_nl(nl_addr* a, uint8_t family) {
    if (!a) return std::nullopt;
    IpPrefix p;
    p.length = static_cast<uint8_t>(nl_addr_get_prefixlen(a));
    if (auto x = from_nl(a)) {
        p.addr = *x;
    } else {  // "all": a zero-length address
        p.addr.family = family;
        p.length = 0;
    }
    return p;
}

// An RAII libnl socket connected to NETLINK_ROUTE.
struct NlSock {
    nl_sock* s = nl_socket_alloc();
    ~NlSock() {
        if (s) nl_socket_free(s);
    }
};

struct CacheGuard {
    nl_cache* c = nullptr;
    ~CacheGuard() {
        if (c) nl_cache_free(c);
    }
};

template <typename Obj, typename F>
void each(nl_cache* c, F&& f) {
    for (nl_object* o = nl_cache_get_first(c); o; o = nl_cache_get_next(o))
        f(reinterpret_cast<Obj*>(o));
}

class NetlinkRouteQuery final : public RouteQuery {
public:
    Status open() {
        if (auto s = raw_.open(); !s) return s;
        if (!nl_.s) return make_error(ENOMEM, "nl_socket_alloc");
        if (int err = nl_connect(nl_.s, NETLINK_ROUTE); err < 0)
            return nl_error(err, "nl_connect(NETLINK_ROUTE)");
        return {};
    }

    Result<RouteAnswer> lookup(const IpAddress& dst, const IpAddress& src) override {
        RouteAnswer answer;
        std::string key = dst.to_string() + " from " + src.to_string();
        // The effective route (what a packet gets: next hop, device, type) ...
        if (auto s = get(dst, src, false, answer, key); !s) return s.error();
        // ... and the FIB entry that produced it (table, metric, prefix).
        RouteAnswer fib;
        if (auto s = get(dst, src, true, fib, key); s) {
            answer.table = fib.table;
            answer.metric = fib.metric;
            answer.matched = fib.matched;
        }
        return answer;
    }

    Result<std::vector<Link>> links() override {
        CacheGuard c;
        if (auto s = dump_retrying("RTM_GETLINK dump",
                                   [&] { return rtnl_link_alloc_cache(nl_.s, AF_UNSPEC, &c.c); });
            !s)
            return s.error();
        std::vector<Link> out;
        each<rtnl_link>(c.c, [&](rtnl_link* l) {
            Link x;
            x.index = rtnl_link_get_ifindex(l);
            x.name = rtnl_link_get_name(l) ? rtnl_link_get_name(l) : "";
            unsigned flags = rtnl_link_get_flags(l);
            x.admin_up = flags & IFF_UP;
            x.oper_up = flags & kIffLowerUp;  // carrier; IFF_RUNNING lags (linkwatch)
            if (const char* kind = rtnl_link_get_type(l)) x.kind = kind;
            x.master = rtnl_link_get_master(l);
            out.push_back(std::move(x));
        });
        return out;
    }

    Result<std::vector<Address>> addresses() override {
        CacheGuard c;
        if (auto s = dump_retrying("RTM_GETADDR dump",
                                   [&] { return rtnl_addr_alloc_cache(nl_.s, &c.c); });
            !s)
            return s.error();
        std::vector<Address> out;
        each<rtnl_addr>(c.c, [&](rtnl_addr* a) {
            auto local = from_nl(rtnl_addr_get_local(a));
            if (!local) return;
            out.push_back(
                Address{rtnl_addr_get_ifindex(a),
                        IpPrefix{*local, static_cast<uint8_t>(rtnl_addr_get_prefixlen(a))}});
        });
        return out;
    }

    Result<std::vector<Route>> routes(uint8_t family) override {
        CacheGuard c;
        if (auto s = dump_retrying("RTM_GETROUTE dump",
                                   [&] { return rtnl_route_alloc_cache(nl_.s, family, 0, &c.c); });
            !s)
            return s.error();
        std::vector<Route> out;
        each<rtnl_route>(c.c, [&](rtnl_route* r) {
            Route x;
            x.table = rtnl_route_get_table(r);
            x.type = rtnl_route_get_type(r);
            x.dst = prefix_from_nl(rtnl_route_get_dst(r), family).value_or(IpPrefix{});
            if (x.dst.length == 0) x.dst.addr.family = family;
            x.metric = rtnl_route_get_priority(r);
            x.protocol = rtnl_route_get_protocol(r);
            x.scope = rtnl_route_get_scope(r);
            x.prefsrc = from_nl(rtnl_route_get_pref_src(r));
            if (rtnl_nexthop* nh = rtnl_route_nexthop_n(r, 0)) {
                x.gateway = from_nl(rtnl_route_nh_get_gateway(nh));
                x.oif = rtnl_route_nh_get_ifindex(nh);
            }
            out.push_back(std::move(x));
        });
        return out;
    }

    Result<std::vector<Rule>> rules(uint8_t family) override {
        CacheGuard c;
        if (auto s = dump_retrying("RTM_GETRULE dump",
                                   [&] { return rtnl_rule_alloc_cache(nl_.s, family, &c.c); });
            !s)
            return s.error();
        std::vector<Rule> out;
        each<rtnl_rule>(c.c, [&](rtnl_rule* r) {
            Rule x;
            x.family = static_cast<uint8_t>(rtnl_rule_get_family(r));
            x.priority = rtnl_rule_get_prio(r);
            x.src = prefix_from_nl(rtnl_rule_get_src(r), x.family);
            if (x.src && x.src->length == 0) x.src.reset();
            x.dst = prefix_from_nl(rtnl_rule_get_dst(r), x.family);
            if (x.dst && x.dst->length == 0) x.dst.reset();
            x.table = rtnl_rule_get_table(r);
            x.action = rtnl_rule_get_action(r);
            if (const char* i = rtnl_rule_get_iif(r)) x.iif = i;
            if (const char* o = rtnl_rule_get_oif(r)) x.oif = o;
            uint32_t mark = rtnl_rule_get_mark(r);
            x.fwmark = mark == UINT32_MAX ? 0 : mark;  // libnl: all ones = unset
            out.push_back(std::move(x));
        });
        return out;
    }

private:
    Status get(const IpAddress& dst, const IpAddress& src, bool fib_match, RouteAnswer& out,
               const std::string& key) {
        alignas(nlmsghdr) char req[kRouteGetRequestSize];
        nlmsghdr* h = build_route_get(req, dst, src, fib_match);
        std::optional<Result<RouteAnswer>> got;
        auto s = raw_.transact(
            h,
            [&](const nlmsghdr* m, size_t len) {
                if (m->nlmsg_type == RTM_NEWROUTE && !got) got = decode_route_reply(m, len);
            },
            fib_match ? "RTM_GETROUTE fibmatch" : "RTM_GETROUTE", key);
        if (!s) return s;
        if (!got) return make_error(ENOENT, "RTM_GETROUTE", key, "kernel returned no route");
        if (!*got) {
            Error e = got->error();
            e.key = key;
            return e;
        }
        const std::optional<IpPrefix> matched = got->value().matched;
        out = got->value();
        out.matched = fib_match ? matched : std::nullopt;
        return {};
    }

    MnlRequester raw_;
    NlSock nl_;
};

}  // namespace

Result<std::unique_ptr<RouteQuery>> open_route_query() {
    auto q = std::make_unique<NetlinkRouteQuery>();
    if (auto s = q->open(); !s) return s.error();
    return std::unique_ptr<RouteQuery>(std::move(q));
}

}  // namespace ballast::agent
