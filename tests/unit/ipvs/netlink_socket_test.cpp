// The IPVS client's socket side without a kernel that answers: a generic-netlink socket opened
// as the client opens its own (nl::open_generic_socket) on which no request was sent, so no
// reply ever comes, as from a hung kernel; and draining what an earlier exchange left.
#include "ballast/kernel/netlink_socket.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <vector>

namespace ballast::kernel::nl {
namespace {

using std::chrono::milliseconds;

TEST(NetlinkSocket, AReceiveWithoutAReplyEndsWithETimedOut) {
    FdCloser fd{open_generic_socket(milliseconds(100))};
    ASSERT_GE(fd.get(), 0) << "cannot open a generic netlink socket";
    ReceiveSlots rx(4);
    auto batch = rx.receive(fd.get(), "IPVS_CMD_GET_DEST");
    ASSERT_FALSE(batch.ok());
    EXPECT_EQ(batch.error().code, ETIMEDOUT);
    EXPECT_EQ(batch.error().op, "IPVS_CMD_GET_DEST");
    EXPECT_EQ(batch.error().message, "no reply from the kernel within 100 ms");

    std::vector<uint8_t> buf(32 * 1024);
    auto one = receive_datagram(fd.get(), buf, "IPVS_CMD_GET_SERVICE");
    ASSERT_FALSE(one.ok());
    EXPECT_EQ(one.error().code, ETIMEDOUT);
    EXPECT_EQ(one.error().message, "no reply from the kernel within 100 ms");
}

TEST(NetlinkSocket, TimeoutsInWholeSecondsReadAsSeconds) {
    FdCloser fd{open_generic_socket(milliseconds(2000))};
    ASSERT_GE(fd.get(), 0);
    ASSERT_TRUE(set_receive_timeout(fd.get(), milliseconds(1000)));
    ReceiveSlots rx(1);
    auto batch = rx.receive(fd.get(), "IPVS batch");
    ASSERT_FALSE(batch.ok());
    EXPECT_EQ(batch.error().message, "no reply from the kernel within 1 s");
}

TEST(NetlinkSocket, DrainDropsEveryQueuedDatagramAndNothingElse) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), 0);
    FdCloser ours{sv[0]}, peer{sv[1]};
    ASSERT_TRUE(set_receive_timeout(ours.get(), milliseconds(50)));
    std::vector<uint8_t> big(10000, 7);
    for (size_t len : {size_t(1), size_t(100), big.size()})
        ASSERT_EQ(::send(peer.get(), big.data(), len, 0), ssize_t(len));
    drain(ours.get());
    ReceiveSlots rx(4);
    auto left = rx.receive(ours.get(), "after drain");
    ASSERT_FALSE(left.ok()) << *left << " datagrams were left";
    EXPECT_EQ(left.error().code, ETIMEDOUT);
    // A datagram that arrives after the drain is received as usual.
    ASSERT_EQ(::send(peer.get(), big.data(), 20, 0), 20);
    auto next = rx.receive(ours.get(), "after drain");
    ASSERT_TRUE(next.ok()) << next.error().describe();
    ASSERT_EQ(*next, 1u);
    EXPECT_EQ(rx.datagram(0).size(), 20u);
}

}  // namespace
}  // namespace ballast::kernel::nl
