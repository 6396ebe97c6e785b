#pragma once
// The NftClient contract: what every implementation must do with table "inet ballast", as one
// gtest suite. It runs against FakeNftClient (tests/unit/nft, label unit) and NetlinkNftClient
// in a network namespace of this host (tests/host/nft, label host), so the fake cannot drift
// from what the kernel does.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "ballast/kernel/nft_client.hpp"

namespace ballast::contract {

// One NftClient over a ruleset of its own, without table inet ballast.
class NftSubject {
public:
    virtual ~NftSubject() = default;
    virtual kernel::NftClient& client() = 0;
    // What an operator does behind the client's back: `nft delete table inet ballast`, and
    // `nft add set inet ballast NAME { type ipv4_addr; }`.
    virtual void delete_table_behind_our_back() = 0;
    virtual void add_foreign_set(const std::string& name) = 0;
};

struct NftSubjectFactory {
    std::string name;
    std::function<std::unique_ptr<NftSubject>()> make;
};
inline void PrintTo(const NftSubjectFactory& f, std::ostream* os) {
    *os << f.name;
}
std::string subject_name(const ::testing::TestParamInfo<NftSubjectFactory>& info);

class NftContract : public ::testing::TestWithParam<NftSubjectFactory> {
protected:
    void SetUp() override;
    void TearDown() override { subject.reset(); }
    kernel::NftApplied apply(const kernel::NatDesired& desired);
    kernel::NatObserved dump();

    std::unique_ptr<NftSubject> subject;
};

}  // namespace ballast::contract
