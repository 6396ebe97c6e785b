#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <cstring>
#include <fstream>

#include "ballast/agent/netlink.hpp"
#include "mnl_request.hpp"

namespace ballast::agent {
namespace {

// A request built in place: header, family header, attributes (libmnl).
class Request {
public:
    Request(uint16_t type, uint16_t flags, const void* family_header, size_t len) {
        h_ = mnl_nlmsg_put_header(buf_);
        h_->nlmsg_type = type;
        h_->nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
        std::memcpy(mnl_nlmsg_put_extra_header(h_, len), family_header, len);
    }
    void attr(uint16_t type, const void* data, size_t len) { mnl_attr_put(h_, type, len, data); }
    void u32(uint16_t type, uint32_t v) { mnl_attr_put_u32(h_, type, v); }
    nlmsghdr* hdr() { return h_; }

private:
    alignas(nlmsghdr) char buf_[256]{};  // a rule or route: headers + at most 6 attributes
    nlmsghdr* h_;
};

class NetlinkRepairExecutor final : public RepairExecutor {
public:
    Status open() { return sock_.open(); }

    Status apply(const std::vector<RepairOp>& ops, std::vector<RepairOp>& applied) override {
        for (const auto& op : ops) {
            bool changed = false;
            if (auto s = run(op, false, changed); !s) return s;
            if (changed) applied.push_back(op);
        }
        return {};
    }

    Status revert(const std::vector<RepairOp>& ops) override {
        for (const auto& op : ops) {
            bool changed = false;
            if (auto s = run(op, true, changed); !s) return s;
        }
        return {};
    }

private:
    // changed: the kernel state now differs because of this call (EEXIST/ENOENT
    // mean someone else's identical object is there / it is already gone).
    Status run(const RepairOp& op, bool undo, bool& changed) {
        std::string key = op.command(undo);
        switch (op.kind) {
            case RepairKind::rule: {
                fib_rule_hdr h{};
                h.family = op.rule.family;
                h.src_len = op.rule.src ? op.rule.src->length : 0;
                h.action = FR_ACT_TO_TBL;
                h.table = op.rule.table < 256 ? static_cast<uint8_t>(op.rule.table)
                                              : static_cast<uint8_t>(RT_TABLE_UNSPEC);
                Request req(undo ? RTM_DELRULE : RTM_NEWRULE, undo ? 0 : NLM_F_CREATE | NLM_F_EXCL,
                            &h, sizeof h);
                if (op.rule.src)
                    req.attr(FRA_SRC, op.rule.src->addr.bytes.data(), op.rule.src->addr.size());
                req.u32(FRA_PRIORITY, op.rule.priority);
                req.u32(FRA_TABLE, op.rule.table);
                return finish(sock_.transact(
                                  req.hdr(), [](const nlmsghdr*, size_t) {},
                                  undo ? "RTM_DELRULE" : "RTM_NEWRULE", key),
                              undo, changed);
            }
            case RepairKind::route: {
                rtmsg r{};
                r.rtm_family = op.route.dst.addr.family;
                r.rtm_dst_len = op.route.dst.length;
                r.rtm_table = op.route.table < 256 ? static_cast<uint8_t>(op.route.table)
                                                   : static_cast<uint8_t>(RT_TABLE_UNSPEC);
                r.rtm_protocol = op.route.protocol;
                r.rtm_scope = undo ? static_cast<uint8_t>(RT_SCOPE_NOWHERE) : op.route.scope;
                r.rtm_type = RTN_UNICAST;
                Request req(undo ? RTM_DELROUTE : RTM_NEWROUTE,
                            undo ? 0 : NLM_F_CREATE | NLM_F_EXCL, &r, sizeof r);
                req.u32(RTA_TABLE, op.route.table);
                if (op.route.dst.length > 0)
                    req.attr(RTA_DST, op.route.dst.addr.bytes.data(), op.route.dst.addr.size());
                if (op.route.gateway)
                    req.attr(RTA_GATEWAY, op.route.gateway->bytes.data(), op.route.gateway->size());
                if (op.route.prefsrc && !undo)
                    req.attr(RTA_PREFSRC, op.route.prefsrc->bytes.data(), op.route.prefsrc->size());
                // By name: the recorded ifindex may be stale after the device was recreated.
                unsigned idx = ::if_nametoindex(op.ifname.c_str());
                if (idx == 0 && !undo) return make_error(ENODEV, "if_nametoindex", op.ifname);
                if (idx != 0) req.u32(RTA_OIF, idx);
                return finish(sock_.transact(
                                  req.hdr(), [](const nlmsghdr*, size_t) {},
                                  undo ? "RTM_DELROUTE" : "RTM_NEWROUTE", key),
                              undo, changed);
            }
            case RepairKind::sysctl: {
                // By interface name, not by splitting the key: VLAN names contain dots.
                if (!valid_ifname(op.ifname))
                    return make_error(EINVAL, "write rp_filter", op.ifname,
                                      "'" + op.ifname + "' is not an interface name");
                std::string path = "/proc/sys/net/ipv4/conf/" + op.ifname + "/rp_filter";
                std::ofstream out(path);
                out << (undo ? op.old_value : op.new_value) << "\n";
                out.flush();
                if (!out) return make_error(errno ? errno : EIO, "write", path);
                changed = true;
                return {};
            }
        }
        return {};
    }

    static Status finish(Status s, bool undo, bool& changed) {
        if (s) {
            changed = true;
            return s;
        }
        if ((!undo && s.error().code == EEXIST) ||
            (undo && (s.error().code == ENOENT || s.error().code == ESRCH)))
            return {};
        return s;
    }

    MnlRequester sock_;
};

}  // namespace

Result<std::unique_ptr<RepairExecutor>> open_repair_executor() {
    auto e = std::make_unique<NetlinkRepairExecutor>();
    if (auto s = e->open(); !s) return s.error();
    return std::unique_ptr<RepairExecutor>(std::move(e));
}

Result<RepairInput> gather_repair_input(const AgentSettings& settings, RouteQuery& q,
                                        HostInfo& host) {
    RepairInput in;
    for (const auto& rs : settings.real_servers) in.paths.push_back(find_director_path(rs, q));
    for (uint8_t family : {uint8_t(AF_INET), uint8_t(AF_INET6)}) {
        auto rules = q.rules(family);
        if (!rules) return rules.error();
        in.rules.insert(in.rules.end(), rules->begin(), rules->end());
        auto routes = q.routes(family);
        if (!routes) return routes.error();
        in.routes.insert(in.routes.end(), routes->begin(), routes->end());
    }
    if (auto all = host.rp_filter("all")) in.rp_filter["all"] = *all;
    auto links = q.links();
    if (links)
        for (const auto& l : *links)
            if (auto v = host.rp_filter(l.name)) in.rp_filter[l.name] = *v;
    return in;
}

}  // namespace ballast::agent
