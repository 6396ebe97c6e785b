// Checks across services: names, identities, group marks, reals that are VIPs.
#include <map>
#include <set>

#include "reader.hpp"
#include "sections.hpp"

namespace ballast::config::detail {

void cross_check(Ctx& ctx, std::vector<ServiceDraft>& services, const DirectorSettings& d) {
    std::map<std::string, const ServiceDraft*> names;
    std::map<ServiceKey, const ServiceDraft*> keys;
    std::set<uint32_t> marks;
    for (auto& s : services) {
        if (!s.cfg.name.empty()) {
            auto [it, fresh] = names.emplace(s.cfg.name, &s);
            if (!fresh)
                ctx.error(s.name_origin.where, s.name_origin.path,
                          "duplicate service name '" + s.cfg.name + "' (first at " +
                              ctx.line_of(it->second->name_origin.where) + ")");
        }
        if (!s.key_ok || !s.cfg.group.empty()) continue;
        auto [it, fresh] = keys.emplace(s.cfg.key, &s);
        if (!fresh)
            ctx.error(s.key_origin.where, s.key_origin.path,
                      "duplicate service " + s.cfg.key.to_string() + " (also service '" +
                          it->second->cfg.name + "' at " + ctx.line_of(it->second->cfg.where) +
                          ")");
        if (s.explicit_fwmark) marks.insert(s.cfg.key.fwmark);
    }

    // Group marks: lowest free mark of the range, in file order, so the same
    // file always gives the same marks and never one an explicit service uses.
    uint64_t next = d.fwmark_first;
    for (auto& s : services) {
        if (!s.key_ok || s.cfg.group.empty()) continue;
        while (next <= d.fwmark_last && marks.count(static_cast<uint32_t>(next))) ++next;
        if (next > d.fwmark_last) {
            ctx.error(s.key_origin.where, s.key_origin.path,
                      "no free firewall mark left for this group in director.fwmark_range [" +
                          std::to_string(d.fwmark_first) + ", " + std::to_string(d.fwmark_last) +
                          "]");
            continue;
        }
        s.cfg.key.fwmark = static_cast<uint32_t>(next);
        marks.insert(static_cast<uint32_t>(next));
    }

    // A group member that also matches another service on the same VIP would
    // steal its packets: IPVS looks up fwmark services first.
    for (size_t i = 0; i < services.size(); ++i) {
        auto& a = services[i];
        if (!a.key_ok || a.cfg.group.empty()) continue;
        for (size_t j = 0; j < services.size(); ++j) {
            auto& b = services[j];
            if (i == j || !b.key_ok || b.explicit_fwmark) continue;
            bool b_group = !b.cfg.group.empty();
            if (b_group && (j < i || *b.cfg.group_vip != *a.cfg.group_vip)) continue;
            if (!b_group && b.cfg.key.addr != *a.cfg.group_vip) continue;
            for (size_t m = 0; m < a.cfg.group.size(); ++m) {
                const GroupMatch& g = a.cfg.group[m];
                bool hit = false;
                if (b_group) {
                    for (auto& h : b.cfg.group) hit = hit || overlaps(g, h);
                } else {
                    GroupMatch single{static_cast<uint8_t>(b.cfg.key.protocol), b.cfg.key.port,
                                      b.cfg.key.port};
                    hit = overlaps(g, single);
                }
                if (hit) {
                    auto& o = b_group ? b.group_origins.front() : b.key_origin;
                    ctx.error(a.group_origins[m].where, a.group_origins[m].path,
                              "group member " + describe(g) + " on " +
                                  a.cfg.group_vip->to_string() + " also matches service '" +
                                  b.cfg.name + "' (" + ctx.line_of(o.where) + ")");
                }
            }
        }
    }

    std::map<IpAddress, const ServiceDraft*> vips;
    for (auto& s : services) {
        if (!s.key_ok || s.explicit_fwmark) continue;
        vips.emplace(s.cfg.group.empty() ? s.cfg.key.addr : *s.cfg.group_vip, &s);
    }
    for (auto& s : services) {
        for (size_t i = 0; i < s.cfg.reals.size(); ++i) {
            auto it = vips.find(s.cfg.reals[i].key.addr);
            if (it != vips.end())
                ctx.error(s.real_where[i], s.real_address_path(i),
                          "real server " + it->first.to_string() + " is the VIP of service '" +
                              it->second->cfg.name + "'");
        }
        if (s.cfg.sorry_server) {
            auto it = vips.find(s.cfg.sorry_server->addr);
            if (it != vips.end())
                ctx.error(s.sorry_origin.where, s.sorry_origin.path,
                          "sorry server " + it->first.to_string() + " is the VIP of service '" +
                              it->second->cfg.name + "'");
        }
    }
}

}  // namespace ballast::config::detail
