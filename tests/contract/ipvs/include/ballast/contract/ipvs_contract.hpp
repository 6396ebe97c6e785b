#pragma once
// The IpvsClient contract: what every implementation must do, as one gtest suite. It runs
// against FakeIpvs (tests/unit/ipvs, label unit) and IpvsNetlinkClient against real IPVS
// (tests/kernel/ipvs, label kernel), so the fake cannot drift from the kernel's semantics.
// A test binary instantiates it with a factory of fresh subjects:
//   INSTANTIATE_TEST_SUITE_P(Fake, IpvsContract, ::testing::Values(IpvsSubjectFactory{...}));
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "ballast/kernel/ipvs_client.hpp"

namespace ballast::contract {

// One IpvsClient over an empty table of its own.
class IpvsSubject {
public:
    virtual ~IpvsSubject() = default;
    virtual kernel::IpvsClient& client() = 0;
    // Opens one TCP connection that IPVS schedules to `real` of `service` (a TCP service whose
    // only real server is `real`, both as contract_traffic_service() / _real() say) and keeps
    // it open until the subject is destroyed.
    virtual void hold_connection(const model::ServiceKey& service, const model::RealKey& real) = 0;
};

struct IpvsSubjectFactory {
    std::string name;
    std::function<std::unique_ptr<IpvsSubject>()> make;
};
inline void PrintTo(const IpvsSubjectFactory& f, std::ostream* os) {
    *os << f.name;
}

// The service and real server hold_connection is called with: a kernel subject routes the VIP
// to the real server's network.
model::ServiceKey contract_traffic_service();
model::RealKey contract_traffic_real();

class IpvsContract : public ::testing::TestWithParam<IpvsSubjectFactory> {
protected:
    void SetUp() override;
    void TearDown() override;

    // Applies ops; the errno of each (0 = success).
    std::vector<int> apply(const std::vector<model::IpvsOp>& ops);
    std::vector<Status> apply_statuses(const std::vector<model::IpvsOp>& ops);
    kernel::IpvsSnapshot dump();

    std::unique_ptr<IpvsSubject> subject;
};

std::string subject_name(const ::testing::TestParamInfo<IpvsSubjectFactory>& info);

}  // namespace ballast::contract
