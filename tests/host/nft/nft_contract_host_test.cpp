// The NftClient contract (tests/contract/nft) against NetlinkNftClient and this host's
// nftables, each test in a network namespace of its own (needs root). The same suite runs
// against FakeNftClient in tests/unit/nft/nft_contract_test.cpp.
#include <memory>
#include <stdexcept>

#include "ballast/contract/nft_contract.hpp"
#include "ballast/nft/netlink_nft_client.hpp"
#include "ballast/testing/netns.hpp"

namespace ballast::contract {
namespace {

class KernelSubject : public NftSubject {
public:
    KernelSubject() : ns_("nfc") {
        client_ = ns_.run_inside([] {
            auto c = nft::NetlinkNftClient::open();
            if (!c) throw std::runtime_error(c.error().describe());
            return std::move(*c);
        });
    }
    kernel::NftClient& client() override { return *client_; }
    void delete_table_behind_our_back() override { ns_.exec("nft delete table inet ballast"); }
    void add_foreign_set(const std::string& name) override {
        ns_.exec("nft add set inet ballast " + name + " \"{ type ipv4_addr; }\"");
    }

private:
    testing::NetNs ns_;
    std::unique_ptr<nft::NetlinkNftClient> client_;
};

INSTANTIATE_TEST_SUITE_P(Kernel, NftContract,
                         ::testing::Values(NftSubjectFactory{
                             "NetlinkNftClient", [] { return std::make_unique<KernelSubject>(); }}),
                         subject_name);

}  // namespace
}  // namespace ballast::contract
