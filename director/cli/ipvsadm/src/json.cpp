#include "ballast/ipvsadm/json.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <boost/json.hpp>

namespace ballast::ipvsadm {

namespace json = boost::json;

namespace {

std::string family_name(int af) {
    return af == AF_INET6 ? "ipv6" : "ipv4";
}

json::object counters(const kernel::IpvsStats& s) {
    return {{"conns", s.conns},
            {"inpkts", s.inpkts},
            {"outpkts", s.outpkts},
            {"inbytes", s.inbytes},
            {"outbytes", s.outbytes}};
}
json::object rates(const kernel::IpvsStats& s) {
    return {{"cps", s.cps},
            {"inpps", s.inpps},
            {"outpps", s.outpps},
            {"inbps", s.inbps},
            {"outbps", s.outbps}};
}

json::array sched_flag_names(const ServiceEntry& s) {
    json::array a;
    const auto& f = s.spec.flags;
    const std::string& sched = s.spec.scheduler;
    if (sched == "sh" || sched == "mh") {
        if (f.sched_flag1) a.emplace_back(sched + "-fallback");
        if (f.sched_flag2) a.emplace_back(sched + "-port");
        if (f.sched_flag3) a.emplace_back("flag-3");
    } else {
        if (f.sched_flag1) a.emplace_back("flag-1");
        if (f.sched_flag2) a.emplace_back("flag-2");
        if (f.sched_flag3) a.emplace_back("flag-3");
    }
    return a;
}

json::object service_json(const ServiceListing& l) {
    const auto& s = l.service;
    const auto& k = s.key;
    json::object o;
    o["family"] = family_name(k.family);
    if (k.is_fwmark()) {
        o["protocol"] = nullptr;
        o["address"] = nullptr;
        o["port"] = nullptr;
        o["fwmark"] = k.fwmark;
    } else {
        o["protocol"] = std::string(model::to_string(k.protocol));
        o["address"] = k.addr.to_string();
        o["port"] = k.port;
        o["fwmark"] = nullptr;
    }
    o["scheduler"] = s.spec.scheduler;
    o["sched_flags"] = sched_flag_names(s);
    if (s.spec.flags.persistent) {
        json::object p;
        p["timeout"] = s.spec.persistence.value_or(0);
        if (k.family == AF_INET6) {
            p["netmask"] = s.spec.netmask;
        } else {
            in_addr a{htonl(s.spec.netmask)};
            p["netmask"] = address_text(AF_INET, reinterpret_cast<const uint8_t*>(&a));
        }
        o["persistence"] = std::move(p);
    } else {
        o["persistence"] = nullptr;
    }
    o["pe"] = s.spec.pe_name.empty() ? json::value(nullptr) : json::value(s.spec.pe_name);
    o["one_packet"] = s.spec.flags.one_packet;
    o["stats"] = counters(s.stats);
    o["rates"] = rates(s.stats);
    json::array reals;
    for (const auto& d : l.dests) {
        json::object r;
        r["family"] = family_name(d.key.addr.family);
        r["address"] = d.key.addr.to_string();
        r["port"] = d.key.port;
        r["forward"] = std::string(model::to_string(d.spec.forward));
        r["weight"] = d.spec.weight;
        r["upper_threshold"] = d.spec.upper_threshold;
        r["lower_threshold"] = d.spec.lower_threshold;
        r["active_conns"] = d.counters.active_conns;
        r["inactive_conns"] = d.counters.inactive_conns;
        r["persistent_conns"] = d.counters.persist_conns;
        r["stats"] = counters(d.counters.stats);
        r["rates"] = rates(d.counters.stats);
        reals.emplace_back(std::move(r));
    }
    o["reals"] = std::move(reals);
    return o;
}

json::object document() {
    return {{"schema", kJsonSchema}};
}

std::string text(const json::object& o) {
    return json::serialize(o) + "\n";
}

json::object endpoint(int af, const std::array<uint8_t, 16>& addr, uint16_t port) {
    return {{"address", address_text(af, addr.data())}, {"port", port}};
}

}  // namespace

std::string table_json(const kernel::ipvs::Info& info,
                       const std::vector<ServiceListing>& services) {
    json::object o = document();
    o["ipvs"] = {{"version", info.version_string()}, {"conn_tab_size", info.conn_tab_size}};
    json::array a;
    for (const auto& s : services) a.emplace_back(service_json(s));
    o["services"] = std::move(a);
    return text(o);
}

std::string timeouts_json(const kernel::ipvs::Timeouts& t) {
    json::object o = document();
    o["timeouts"] = {{"tcp", t.tcp}, {"tcp_fin", t.tcp_fin}, {"udp", t.udp}};
    return text(o);
}

std::string daemons_json(const std::vector<kernel::ipvs::SyncDaemon>& daemons) {
    json::object o = document();
    json::array a;
    for (const auto& d : daemons) {
        json::object j;
        j["state"] = d.state == kernel::ipvs::SyncDaemon::State::master ? "master" : "backup";
        j["mcast_interface"] = d.mcast_ifn;
        j["syncid"] = d.sync_id;
        auto opt = [](const auto& v) { return v ? json::value(*v) : json::value(nullptr); };
        j["sync_maxlen"] = opt(d.sync_maxlen);
        j["mcast_group"] =
            d.mcast_group ? json::value(d.mcast_group->to_string()) : json::value(nullptr);
        j["mcast_port"] = opt(d.mcast_port);
        j["mcast_ttl"] = opt(d.mcast_ttl);
        a.emplace_back(std::move(j));
    }
    o["daemons"] = std::move(a);
    return text(o);
}

std::string connections_json(const std::vector<ConnectionLine>& connections) {
    json::object o = document();
    json::array a;
    for (const auto& c : connections) {
        json::object j;
        j["protocol"] = c.protocol;
        j["state"] = c.state;
        j["expires"] = c.expires;
        j["client"] = endpoint(c.af, c.caddr, c.cport);
        j["virtual"] = endpoint(c.af, c.vaddr, c.vport);
        j["destination"] = endpoint(c.daf, c.daddr, c.dport);
        if (c.fields == 11) {
            j["pe_name"] = c.pe_name;
            j["pe_data"] = c.pe_data;
        } else {
            j["pe_name"] = nullptr;
            j["pe_data"] = nullptr;
        }
        a.emplace_back(std::move(j));
    }
    o["connections"] = std::move(a);
    return text(o);
}

}  // namespace ballast::ipvsadm
