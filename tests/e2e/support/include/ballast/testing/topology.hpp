#pragma once
// An LVS-NAT cluster in network namespaces (kernel lab):
//
//   client (10.50.1.2) --- director (10.50.1.1; VIP 10.50.0.100 on lo) --- rsN (10.51.N.2)
//                                   (10.51.N.1 on the link to each real server)
//
// Every real server's default route goes via the director, as LVS-NAT needs. The director
// forwards; everything else (IPVS, nft, sysctls) is left to the code under test.
#include <memory>
#include <string>
#include <vector>

#include "ballast/testing/lab.hpp"

namespace ballast::testing {

class Topology {
public:
    explicit Topology(size_t real_servers);

    static constexpr const char* kVip = "10.50.0.100";
    static constexpr const char* kClient = "10.50.1.2";
    static std::string real_ip(size_t i);      // i from 0: "10.51.1.2", ...
    static std::string director_ip(size_t i);  // the director's end of real server i's link
    std::string director_link(size_t i) const { return "dr" + std::to_string(i + 1); }

    IsolatedNetns director;
    IsolatedNetns client;
    std::vector<std::unique_ptr<IsolatedNetns>> reals;
};

}  // namespace ballast::testing
