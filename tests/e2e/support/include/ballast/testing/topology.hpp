#pragma once
// An LVS-NAT cluster in network namespaces (kernel lab):
//
//   client (10.50.1.2-9)  --- director (10.50.1.1; VIP 10.50.0.100 on lo) --- rsN (10.51.N.2)
//   client (fd00:50:1::2) --- director (fd00:50:1::1; VIP fd00:50::100)   --- rsN (fd00:51:N::2)
//                             (10.51.N.1 / fd00:51:N::1 on the link to each real server)
//
// Every real server's default route goes via the director (metric 100), as LVS-NAT needs. The
// director forwards; everything else (IPVS, nft, sysctls) is left to the code under test.
#include <memory>
#include <string>
#include <vector>

#include "ballast/testing/lab.hpp"

namespace ballast::testing {

class Topology {
public:
    explicit Topology(size_t real_servers);

    static constexpr const char* kVip = "10.50.0.100";
    static constexpr const char* kVip6 = "fd00:50::100";
    static constexpr const char* kClient = "10.50.1.2";
    static constexpr const char* kClient6 = "fd00:50:1::2";
    static constexpr size_t kClientAddresses = 8;
    static std::string client_ip(size_t k);       // k < kClientAddresses: "10.50.1.2", ...
    static std::string real_ip(size_t i);         // i from 0: "10.51.1.2", ...
    static std::string real_ip6(size_t i);        // "fd00:51:1::2", ...
    static std::string director_ip(size_t i);     // the director's end of real server i's link
    static std::string director_ip6(size_t i);    // "fd00:51:1::1", ...
    static std::string uplink_gateway(size_t i);  // see add_uplink: "192.168.1.1", ...
    std::string director_link(size_t i) const { return "dr" + std::to_string(i + 1); }
    static std::string uplink(size_t i) { return "up" + std::to_string(i + 1); }

    // Gives real server i a second network (interface upN, 192.168.N.5/24, gateway
    // 192.168.N.1 that drops everything), as on a multi-homed server. Its routes are unchanged
    // until something adds a default route through it.
    void add_uplink(size_t i);

    IsolatedNetns director;
    IsolatedNetns client;
    std::vector<std::unique_ptr<IsolatedNetns>> reals;
};

}  // namespace ballast::testing
