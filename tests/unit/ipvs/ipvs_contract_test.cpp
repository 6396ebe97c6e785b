// The IpvsClient contract (tests/contract/ipvs) against FakeIpvs; the same suite runs against
// the kernel in tests/kernel/ipvs/ipvs_contract_kernel_test.cpp.
#include "ballast/contract/ipvs_contract.hpp"
#include "ballast/fakes/fake_ipvs.hpp"

namespace ballast::contract {
namespace {

class FakeSubject : public IpvsSubject {
public:
    kernel::IpvsClient& client() override { return fake_; }
    // A connection shows as one more active connection of the real server.
    void hold_connection(const model::ServiceKey& service, const model::RealKey& real) override {
        auto counters = fake_.dest_counters(service, real);
        ASSERT_TRUE(counters.has_value()) << "no such real server in the fake";
        ++counters->active_conns;
        ASSERT_TRUE(fake_.set_dest_counters(service, real, *counters));
    }

private:
    fakes::FakeIpvs fake_;
};

INSTANTIATE_TEST_SUITE_P(Fake, IpvsContract,
                         ::testing::Values(IpvsSubjectFactory{
                             "FakeIpvs", [] { return std::make_unique<FakeSubject>(); }}),
                         subject_name);

}  // namespace
}  // namespace ballast::contract
