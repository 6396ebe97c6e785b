#include "ballast/testing/topology.hpp"

namespace ballast::testing {

std::string Topology::real_ip(size_t i) {
    return "10.51." + std::to_string(i + 1) + ".2";
}
std::string Topology::director_ip(size_t i) {
    return "10.51." + std::to_string(i + 1) + ".1";
}

Topology::Topology(size_t real_servers) {
    require_ipvs_kernel();
    director.check({"ip", "-batch", "-"},
                   "link set lo up\n"
                   "addr add " +
                       std::string(kVip) +
                       "/32 dev lo\n"
                       "link add dc type veth peer name pc netns " +
                       std::to_string(client.tid()) +
                       "\n"
                       "addr add 10.50.1.1/24 dev dc\n"
                       "link set dc up\n");
    client.check({"ip", "-batch", "-"},
                 "addr add 10.50.1.2/24 dev pc\n"
                 "link set pc up\n"
                 "route add default via 10.50.1.1\n");
    for (size_t i = 0; i < real_servers; ++i) {
        reals.push_back(std::make_unique<IsolatedNetns>());
        auto& rs = *reals.back();
        const std::string d = director_link(i), p = "pr" + std::to_string(i + 1);
        director.check({"ip", "-batch", "-"}, "link add " + d + " type veth peer name " + p +
                                                  " netns " + std::to_string(rs.tid()) +
                                                  "\naddr add " + director_ip(i) + "/24 dev " + d +
                                                  "\nlink set " + d + " up\n");
        rs.check({"ip", "-batch", "-"}, "addr add " + real_ip(i) + "/24 dev " + p + "\nlink set " +
                                            p + " up\nroute add default via " + director_ip(i) +
                                            "\n");
    }
}

}  // namespace ballast::testing
