// The NftClient contract (tests/contract/nft) against FakeNftClient; the same suite runs against
// the kernel in tests/host/nft/nft_contract_host_test.cpp.
#include <linux/netfilter/nf_tables.h>

#include "ballast/contract/nft_contract.hpp"
#include "ballast/fakes/fake_nft.hpp"

namespace ballast::contract {
namespace {

class FakeSubject : public NftSubject {
public:
    kernel::NftClient& client() override { return fake_; }
    void delete_table_behind_our_back() override { fake_.flush_ruleset(); }
    void add_foreign_set(const std::string& name) override {
        ASSERT_TRUE(fake_.table().has_value());
        nft::SetModel s;
        s.name = name;
        s.key_type = 7;  // ipv4_addr
        s.key_len = 4;
        fake_.table()->sets.push_back(s);
    }

private:
    fakes::FakeNftClient fake_;
};

INSTANTIATE_TEST_SUITE_P(Fake, NftContract,
                         ::testing::Values(NftSubjectFactory{
                             "FakeNftClient", [] { return std::make_unique<FakeSubject>(); }}),
                         subject_name);

}  // namespace
}  // namespace ballast::contract
