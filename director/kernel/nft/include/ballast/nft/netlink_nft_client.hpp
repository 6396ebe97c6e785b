#pragma once
// The nfnetlink shell of NftClient: libnftnl encodes and decodes, libmnl talks to the
// kernel. The socket lives in the network namespace of the thread that called open().
// One client per writer (the reconciler); calls must not run concurrently.
#include <memory>
#include <optional>
#include <vector>

#include "ballast/kernel/nft_client.hpp"
#include "ballast/nft/ruleset.hpp"

struct mnl_socket;
struct nlmsghdr;

namespace ballast::nft {

class NetlinkNftClient final : public kernel::NftClient {
public:
    static Result<std::unique_ptr<NetlinkNftClient>> open();
    ~NetlinkNftClient() override;
    NetlinkNftClient(const NetlinkNftClient&) = delete;
    NetlinkNftClient& operator=(const NetlinkNftClient&) = delete;

    Result<kernel::NatObserved> dump() override;
    Result<kernel::NftApplied> apply(const kernel::NatDesired& desired) override;
    Status remove() override;

    // Lower level, for diagnostics (ballastctl doctor) and tests: our table as the kernel holds
    // it (nullopt = no table), and sending prepared ops as one batch. With a generation, the
    // kernel refuses the batch (ERESTART) if the ruleset changed since then.
    Result<std::optional<TableModel>> dump_table();
    Status send_batch(const std::vector<NftOp>& ops, std::optional<uint32_t> generation = {});
    // The nftables ruleset generation now.
    Result<uint32_t> read_generation();

private:
    explicit NetlinkNftClient(mnl_socket* sock);
    Status run_dump(std::vector<char> request, int (*cb)(const ::nlmsghdr*, void*), void* data,
                    const char* op);
    uint32_t next_seq() { return seq_++; }
    // Discards whatever is queued on the socket (replies of an exchange that ended early).
    void drain();

    mnl_socket* sock_;
    uint32_t portid_;
    uint32_t seq_;
    uint32_t generation_ = 0;  // the ruleset generation the last dump_table() saw
};

}  // namespace ballast::nft
