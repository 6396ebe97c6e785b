#include "ballast/testing/topology.hpp"

namespace ballast::testing {

std::string Topology::client_ip(size_t k) {
    return "10.50.1." + std::to_string(k + 2);
}
std::string Topology::real_ip(size_t i) {
    return "10.51." + std::to_string(i + 1) + ".2";
}
std::string Topology::real_ip6(size_t i) {
    return "fd00:51:" + std::to_string(i + 1) + "::2";
}
std::string Topology::director_ip(size_t i) {
    return "10.51." + std::to_string(i + 1) + ".1";
}
std::string Topology::director_ip6(size_t i) {
    return "fd00:51:" + std::to_string(i + 1) + "::1";
}
std::string Topology::uplink_gateway(size_t i) {
    return "192.168." + std::to_string(i + 1) + ".1";
}

Topology::Topology(size_t real_servers) {
    require_ipvs_kernel();
    // One `ip -batch` per namespace: process starts are what costs in the lab. IPv6 addresses
    // skip duplicate address detection, so they are usable at once.
    director.check({"ip", "-batch", "-"},
                   "link set lo up\n"
                   "addr add " +
                       std::string(kVip) + "/32 dev lo\naddr add " + kVip6 +
                       "/128 dev lo\n"
                       "link add dc type veth peer name pc netns " +
                       std::to_string(client.tid()) +
                       "\n"
                       "addr add 10.50.1.1/24 dev dc\n"
                       "addr add fd00:50:1::1/64 dev dc nodad\n"
                       "link set dc up\n");
    std::string client_setup;
    for (size_t k = 0; k < kClientAddresses; ++k)
        client_setup += "addr add " + client_ip(k) + "/24 dev pc\n";
    client.check({"ip", "-batch", "-"}, client_setup + "addr add " + kClient6 +
                                            "/64 dev pc nodad\n"
                                            "link set pc up\n"
                                            "route add default via 10.50.1.1\n"
                                            "route add ::/0 via fd00:50:1::1\n");
    for (size_t i = 0; i < real_servers; ++i) {
        reals.push_back(std::make_unique<IsolatedNetns>());
        auto& rs = *reals.back();
        const std::string d = director_link(i), p = "pr" + std::to_string(i + 1);
        director.check({"ip", "-batch", "-"}, "link add " + d + " type veth peer name " + p +
                                                  " netns " + std::to_string(rs.tid()) +
                                                  "\naddr add " + director_ip(i) + "/24 dev " + d +
                                                  "\naddr add " + director_ip6(i) + "/64 dev " + d +
                                                  " nodad\nlink set " + d + " up\n");
        rs.check({"ip", "-batch", "-"}, "addr add " + real_ip(i) + "/24 dev " + p + "\naddr add " +
                                            real_ip6(i) + "/64 dev " + p + " nodad\nlink set " + p +
                                            " up\nroute add default via " + director_ip(i) +
                                            " metric 100\nroute add ::/0 via " + director_ip6(i) +
                                            " metric 100\n");
    }
}

void Topology::add_uplink(size_t i) {
    const std::string net = "192.168." + std::to_string(i + 1);
    reals.at(i)->check({"ip", "-batch", "-"}, "link add " + uplink(i) + " type dummy\naddr add " +
                                                  net + ".5/24 dev " + uplink(i) + "\nlink set " +
                                                  uplink(i) + " up\n");
}

}  // namespace ballast::testing
