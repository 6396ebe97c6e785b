#pragma once
// Recording fakes of RouteQuery and HostInfo: tests program the answers and can
// assert which lookups the verdicts made.
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ballast/agent/host_info.hpp"
#include "ballast/agent/route_query.hpp"

namespace ballast::fakes {

using agent::IpAddress;

class FakeRouteQuery : public agent::RouteQuery {
public:
    std::map<std::pair<IpAddress, IpAddress>, Result<agent::RouteAnswer>> answers;  // (dst, src)
    std::vector<agent::Link> link_list;
    std::vector<agent::Address> address_list;
    std::vector<agent::Route> route_list;
    std::vector<agent::Rule> rule_list;
    std::vector<std::string> calls;                     // "lookup DST from SRC", "links", ...
    std::optional<Error> links_error, addresses_error;  // set: links()/addresses() fail so

    void answer(const std::string& dst, const std::string& src, agent::RouteAnswer a) {
        answers.insert_or_assign({*IpAddress::parse(dst), *IpAddress::parse(src)}, std::move(a));
    }
    void fail(const std::string& dst, const std::string& src, int err) {
        answers.insert_or_assign({*IpAddress::parse(dst), *IpAddress::parse(src)},
                                 make_error(err, "RTM_GETROUTE", dst + " from " + src));
    }

    Result<agent::RouteAnswer> lookup(const IpAddress& dst, const IpAddress& src) override {
        calls.push_back("lookup " + dst.to_string() + " from " + src.to_string());
        auto it = answers.find({dst, src});
        if (it == answers.end())
            return make_error(ENETUNREACH, "RTM_GETROUTE",
                              dst.to_string() + " from " + src.to_string());
        return it->second;
    }
    Result<std::vector<agent::Link>> links() override {
        calls.push_back("links");
        if (links_error) return *links_error;
        return link_list;
    }
    Result<std::vector<agent::Address>> addresses() override {
        calls.push_back("addresses");
        if (addresses_error) return *addresses_error;
        return address_list;
    }
    Result<std::vector<agent::Route>> routes(uint8_t family) override {
        calls.push_back("routes");
        std::vector<agent::Route> out;
        for (const auto& r : route_list)
            if (r.dst.addr.family == family) out.push_back(r);
        return out;
    }
    Result<std::vector<agent::Rule>> rules(uint8_t family) override {
        calls.push_back("rules");
        std::vector<agent::Rule> out;
        for (const auto& r : rule_list)
            if (r.family == family) out.push_back(r);
        return out;
    }
};

class FakeHostInfo : public agent::HostInfo {
public:
    std::map<std::string, int> rp_filters{{"all", 0}};
    std::vector<agent::Socket> socket_list;
    std::map<std::string, agent::BondState> bonds;
    std::vector<std::string> calls;

    Result<int> rp_filter(const std::string& ifname) override {
        calls.push_back("rp_filter " + ifname);
        auto it = rp_filters.find(ifname);
        if (it == rp_filters.end()) return 0;
        return it->second;
    }
    Result<std::vector<agent::Socket>> sockets() override {
        calls.push_back("sockets");
        return socket_list;
    }
    Result<agent::BondState> bond(const std::string& ifname) override {
        calls.push_back("bond " + ifname);
        auto it = bonds.find(ifname);
        if (it == bonds.end()) return make_error(ENOENT, "bond", ifname);
        return it->second;
    }
};

}  // namespace ballast::fakes
