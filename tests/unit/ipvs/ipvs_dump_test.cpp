// ipvs::dump_table without a kernel: a fake kernel answers GET_SERVICE and GET_DEST dumps over
// socketpairs (one thread per socket, as the kernel answers each socket on its own), so the
// dump machinery -- the service list on its own socket, dest dumps in chunks on several sockets
// and threads, decoding in list order, failures in list order -- runs as it does against IPVS.
#include "ballast/kernel/ipvs_dump.hpp"

#include <gtest/gtest.h>
#include <linux/genetlink.h>
#include <linux/ip_vs.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "ballast/kernel/ipvs_codec.hpp"

namespace ballast::kernel::ipvs {
namespace {

using model::ForwardMethod;
using model::IpAddress;
using model::IpvsReals;
using model::Protocol;
using model::RealKey;
using model::RealSpec;
using model::ServiceKey;
using model::ServiceSpec;

constexpr uint16_t kFamily = 0x24;

struct FakeService {
    ServiceKey key;
    ServiceSpec spec;
    std::vector<std::pair<RealKey, RealSpec>> dests;
    int dest_dump_errno = 0;     // answer its dest dump with this error
    bool garbage_reply = false;  // answer its dest dump with a datagram too short for a header
};

std::vector<FakeService> services(size_t n) {
    std::vector<FakeService> out;
    for (uint32_t s = 0; s < n; ++s) {
        FakeService f;
        f.key = ServiceKey::inet(s % 2 ? Protocol::udp : Protocol::tcp,
                                 IpAddress::v4(0xc0000000u + s), static_cast<uint16_t>(80 + s % 7));
        f.spec.scheduler = s % 3 ? "wlc" : "rr";
        for (uint32_t d = 0; d < s % 4; ++d)
            f.dests.push_back({RealKey{IpAddress::v4(0x0a000000u + s * 8 + d), 8080},
                               RealSpec{ForwardMethod::masquerade, d + 1, 0, 0}});
        out.push_back(std::move(f));
    }
    return out;
}

nlmsghdr header(uint32_t len, uint16_t type, uint16_t flags, uint32_t seq) {
    nlmsghdr h{};
    h.nlmsg_len = len;
    h.nlmsg_type = type;
    h.nlmsg_flags = flags;
    h.nlmsg_seq = seq;
    return h;
}

// NLMSG_DONE (err 0) or an NLMSG_ERROR ack carrying -err and the request's header, as the kernel
// ends a dump.
std::vector<uint8_t> end_of_dump(uint32_t seq, int err) {
    const size_t len = NLMSG_HDRLEN + sizeof(int32_t) + (err ? NLMSG_HDRLEN : 0);
    std::vector<uint8_t> out(len);
    const nlmsghdr h = header(uint32_t(len), err ? NLMSG_ERROR : NLMSG_DONE, NLM_F_MULTI, seq);
    const int32_t e = -err;
    const nlmsghdr request = header(NLMSG_HDRLEN, kFamily, NLM_F_REQUEST | NLM_F_DUMP, seq);
    std::memcpy(out.data(), &h, sizeof h);
    std::memcpy(out.data() + NLMSG_HDRLEN, &e, sizeof e);
    if (err) std::memcpy(out.data() + NLMSG_HDRLEN + sizeof e, &request, sizeof request);
    return out;
}

// Serves one socket per thread: the service list in datagrams of ten services, each service's
// dests in one datagram, every dump ended by its own NLMSG_DONE datagram (as IPVS does).
class FakeKernel {
public:
    explicit FakeKernel(std::vector<FakeService> s) : services_(std::move(s)) {
        for (const auto& f : services_) {
            std::vector<uint8_t> req;
            encode_dump_dests(req, {kFamily, 0}, f.key);
            by_request_.emplace(req, &f);  // with seq 0: matched with the request's seq zeroed
        }
    }
    ~FakeKernel() {
        for (int fd : kernel_ends_) ::shutdown(fd, SHUT_RDWR);
        for (auto& t : threads_) t.join();
        for (int fd : kernel_ends_) ::close(fd);
    }

    // A socket whose other end this kernel serves; mute: it never answers.
    int open_socket(bool mute = false) {
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return -1;
        std::lock_guard lock(mu_);
        kernel_ends_.push_back(sv[1]);
        user_end_[sv[1]] = sv[0];
        threads_.emplace_back([this, fd = sv[1], mute] { serve(fd, mute); });
        return sv[0];
    }
    size_t dest_requests() const { return dest_requests_; }
    size_t late_replies() const { return late_replies_; }
    void set_garbage(size_t service, bool garbage) { services_[service].garbage_reply = garbage; }
    // The sockets (their user ends) that carried a dest dump.
    std::set<int> sockets_used_for_dests() {
        std::lock_guard lock(mu_);
        return dest_sockets_;
    }

private:
    void serve(int fd, bool mute) {
        std::vector<uint8_t> buf(64 * 1024);
        for (;;) {
            ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
            if (n <= 0) return;  // the other end closed
            if (mute || size_t(n) < NLMSG_HDRLEN + GENL_HDRLEN) continue;
            std::vector<uint8_t> req(buf.begin(), buf.begin() + n);
            uint32_t seq;
            std::memcpy(&seq, req.data() + 8, sizeof seq);
            const uint8_t cmd = req[NLMSG_HDRLEN];
            if (cmd == IPVS_CMD_GET_SERVICE) {
                list(fd, seq);
            } else if (cmd == IPVS_CMD_GET_DEST) {
                std::memset(req.data() + 8, 0, sizeof seq);
                auto it = by_request_.find(req);
                ASSERT_NE(it, by_request_.end()) << "a dest dump of a service never listed";
                ++dest_requests_;
                {
                    std::lock_guard lock(mu_);
                    dest_sockets_.insert(user_end_.at(fd));
                }
                dests(fd, seq, *it->second);
            }
        }
    }
    void list(int fd, uint32_t seq) {
        std::vector<uint8_t> d;
        for (size_t i = 0; i < services_.size(); ++i) {
            encode_new_service(d, {kFamily, seq}, services_[i].key, services_[i].spec);
            if (i % 10 == 9) send(fd, std::exchange(d, {}));
        }
        if (!d.empty()) send(fd, d);
        send(fd, end_of_dump(seq, list_errno));
    }
    void dests(int fd, uint32_t seq, const FakeService& f) {
        if (f.garbage_reply) {
            // Two datagrams too short for a header: the dump stops at the first, and the second
            // comes late, when that dump has ended (it stays queued for the next).
            send(fd, {1, 2, 3, 4, 5, 6, 7});
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            send(fd, {7, 6, 5, 4, 3, 2, 1});
            ++late_replies_;
            return;
        }
        if (f.dest_dump_errno) return send(fd, end_of_dump(seq, f.dest_dump_errno));
        std::vector<uint8_t> d;
        for (const auto& [real, spec] : f.dests)
            encode_new_dest(d, {kFamily, seq}, f.key, real, spec);
        if (!d.empty()) send(fd, d);
        send(fd, end_of_dump(seq, 0));
    }
    static void send(int fd, const std::vector<uint8_t>& d) {
        ssize_t n = ::send(fd, d.data(), d.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EPIPE) return;  // the dump ended without this reply
        ASSERT_EQ(n, ssize_t(d.size())) << std::strerror(errno);
    }

public:
    int list_errno = 0;  // end the service list with this error instead of NLMSG_DONE

private:
    std::vector<FakeService> services_;
    std::map<std::vector<uint8_t>, const FakeService*> by_request_;
    std::mutex mu_;
    std::vector<int> kernel_ends_;
    std::vector<std::thread> threads_;
    std::atomic<size_t> dest_requests_{0};
    std::atomic<size_t> late_replies_{0};
    std::map<int, int> user_end_;  // kernel end -> user end
    std::set<int> dest_sockets_;
};

struct Dump {
    DumpOutcome out;
    size_t further_used = 0;  // further sockets that carried a dest dump
};

// One dump_table over the fake's sockets: the list's, the caller's, and `further` more.
Dump dump(FakeKernel& kernel, size_t sockets, bool overlap, uint32_t first_seq = 100,
          size_t further = 3, bool encode_counters = false) {
    nl::FdCloser list{kernel.open_socket()};
    nl::FdCloser main{kernel.open_socket()};
    nl::ReceiveSlots rx(64);
    std::vector<nl::FdCloser> keep;
    DumpSockets s{list.get(), main.get(), &rx, {}};
    for (size_t i = 0; i < further; ++i) {
        keep.emplace_back(kernel.open_socket());
        s.further.push_back(keep.back().get());
    }
    DumpOutcome out =
        dump_table(s, DumpOptions{kFamily, sockets, overlap, encode_counters}, first_seq);
    const auto used = kernel.sockets_used_for_dests();
    return Dump{std::move(out), used.size() - used.count(main.get())};
}

// What a dump of `fake` must give: every service with its reals (as decoded from what the fake
// sent), except those whose dest dump said they are gone.
void expect_snapshot_of(const IpvsSnapshot& snap, const std::vector<FakeService>& fake) {
    size_t expected = 0;
    for (const auto& f : fake) {
        if (f.dest_dump_errno) {
            EXPECT_FALSE(snap.table.services.contains(f.key)) << f.key.to_string();
            continue;
        }
        ++expected;
        auto it = snap.table.services.find(f.key);
        ASSERT_NE(it, snap.table.services.end()) << f.key.to_string();
        EXPECT_EQ(it->second.spec.scheduler, f.spec.scheduler);
        IpvsReals reals(f.dests.begin(), f.dests.end());
        EXPECT_EQ(it->second.reals, reals) << f.key.to_string();
        ASSERT_TRUE(snap.dest_counters.contains(f.key));
        EXPECT_EQ(snap.dest_counters.at(f.key).size(), f.dests.size());
        EXPECT_TRUE(snap.service_stats.contains(f.key));
    }
    EXPECT_EQ(snap.table.services.size(), expected);
}

TEST(IpvsDump, EveryServiceWithItsRealsOnOneTwoAndFourSockets) {
    const auto fake = services(300);  // 5 chunks of 64
    for (size_t sockets : {1, 2, 4}) {
        for (bool overlap : {true, false}) {
            SCOPED_TRACE(testing::Message() << sockets << " sockets, overlap " << overlap);
            FakeKernel kernel(fake);
            Dump d = dump(kernel, sockets, overlap);
            ASSERT_TRUE(d.out.snapshot.ok()) << d.out.snapshot.error().describe();
            expect_snapshot_of(*d.out.snapshot, fake);
            EXPECT_EQ(d.out.seqs_used, 301u) << "the list's seq and one per dest dump";
            EXPECT_EQ(kernel.dest_requests(), 300u) << "one dest dump per service";
            // A further socket takes a chunk only if it is free first, so some may go unused.
            EXPECT_LE(d.further_used, sockets - 1);
            if (sockets == 1) {
                EXPECT_EQ(d.further_used, 0u);
            }
        }
    }
}

TEST(IpvsDump, CountersEncodedAsTheyArriveAreWhatTheMapsEncodeTo) {
    auto fake = services(300);
    fake[17].dest_dump_errno = ESRCH;  // gone before its dest dump: in neither form
    for (size_t sockets : {1, 2}) {
        SCOPED_TRACE(testing::Message() << sockets << " sockets");
        FakeKernel as_maps(fake), encoding(fake);
        Dump m = dump(as_maps, sockets, true);
        Dump e = dump(encoding, sockets, true, 100, 3, true);
        ASSERT_TRUE(m.out.snapshot.ok()) << m.out.snapshot.error().describe();
        ASSERT_TRUE(e.out.snapshot.ok()) << e.out.snapshot.error().describe();
        const IpvsSnapshot& maps = *m.out.snapshot;
        const IpvsSnapshot& enc = *e.out.snapshot;
        EXPECT_FALSE(maps.counters);
        EXPECT_EQ(enc.table, maps.table);
        EXPECT_TRUE(enc.service_stats.empty());
        EXPECT_TRUE(enc.dest_counters.empty());
        ASSERT_TRUE(enc.counters);
        EXPECT_EQ(enc.counters->size(), 299u);
        EXPECT_EQ(*enc.counters, IpvsCounters(0, maps.service_stats, maps.dest_counters));
    }
}

TEST(IpvsDump, AnEmptyTableAndATableSmallerThanAChunk) {
    for (size_t n : {0, 1, 63, 64, 65}) {
        SCOPED_TRACE(n);
        const auto fake = services(n);
        FakeKernel kernel(fake);
        Dump d = dump(kernel, 2, true);
        ASSERT_TRUE(d.out.snapshot.ok()) << d.out.snapshot.error().describe();
        expect_snapshot_of(*d.out.snapshot, fake);
        EXPECT_EQ(d.out.seqs_used, 1 + n);
        // A further socket only once the list has a chunk for it (64 services).
        if (n < 64) {
            EXPECT_EQ(d.further_used, 0u);
        }
    }
}

TEST(IpvsDump, SequenceNumbersWrapAt32Bits) {
    const auto fake = services(130);
    FakeKernel kernel(fake);
    Dump d = dump(kernel, 2, true, 0xffffffffu - 50);
    ASSERT_TRUE(d.out.snapshot.ok()) << d.out.snapshot.error().describe();
    expect_snapshot_of(*d.out.snapshot, fake);
}

TEST(IpvsDump, WithoutFurtherSocketsEveryDestDumpGoesOnTheCallersSocket) {
    const auto fake = services(200);
    FakeKernel kernel(fake);
    Dump d = dump(kernel, 4, true, 100, /*further=*/0);
    ASSERT_TRUE(d.out.snapshot.ok()) << d.out.snapshot.error().describe();
    expect_snapshot_of(*d.out.snapshot, fake);
    EXPECT_EQ(kernel.sockets_used_for_dests().size(), 1u);
    EXPECT_EQ(d.further_used, 0u);
}

TEST(IpvsDump, FurtherSocketsCarryDestDumps) {
    // Enough chunks that the first further socket (started when the list has 64 services, long
    // before it ends) certainly claims one: the caller's socket starts only after the list.
    const auto fake = services(2000);
    FakeKernel kernel(fake);
    Dump d = dump(kernel, 2, true);
    ASSERT_TRUE(d.out.snapshot.ok()) << d.out.snapshot.error().describe();
    expect_snapshot_of(*d.out.snapshot, fake);
    EXPECT_EQ(d.further_used, 1u);
}

TEST(IpvsDump, AServiceGoneBeforeItsDestDumpIsLeftOutWithoutAnError) {
    auto fake = services(200);
    fake[3].dest_dump_errno = ENOENT;
    fake[150].dest_dump_errno = ESRCH;
    for (size_t sockets : {1, 2}) {
        FakeKernel kernel(fake);
        Dump d = dump(kernel, sockets, true);
        ASSERT_TRUE(d.out.snapshot.ok()) << d.out.snapshot.error().describe();
        expect_snapshot_of(*d.out.snapshot, fake);
    }
}

TEST(IpvsDump, TheFirstFailedDestDumpInListOrderIsReported) {
    auto fake = services(300);
    fake[70].dest_dump_errno = EPERM;  // chunk 1
    fake[200].dest_dump_errno = EIO;   // chunk 3, maybe dumped first on another socket
    for (size_t sockets : {1, 2, 4}) {
        for (bool overlap : {true, false}) {
            SCOPED_TRACE(testing::Message() << sockets << " sockets, overlap " << overlap);
            FakeKernel kernel(fake);
            Dump d = dump(kernel, sockets, overlap);
            ASSERT_FALSE(d.out.snapshot.ok());
            EXPECT_EQ(d.out.snapshot.error().code, EPERM);
            EXPECT_EQ(d.out.snapshot.error().op, "IPVS_CMD_GET_DEST");
            EXPECT_EQ(d.out.snapshot.error().key, fake[70].key.to_string());
            EXPECT_LE(d.out.seqs_used, 301u);
        }
    }
}

TEST(IpvsDump, AMalformedReplyFailsTheDump) {
    auto fake = services(100);
    fake[10].garbage_reply = true;
    for (size_t sockets : {1, 2}) {
        FakeKernel kernel(fake);
        Dump d = dump(kernel, sockets, true);
        ASSERT_FALSE(d.out.snapshot.ok());
        EXPECT_EQ(d.out.snapshot.error().code, EBADMSG) << d.out.snapshot.error().describe();
    }
}

// The client keeps its sockets from dump to dump: what a failed dump left queued on them does
// not fail the next one.
TEST(IpvsDump, WhatAFailedDumpLeftOnItsSocketsDoesNotFailTheNext) {
    auto fake = services(100);
    fake[10].garbage_reply = true;
    FakeKernel kernel(fake);
    nl::FdCloser list{kernel.open_socket()};
    nl::FdCloser main{kernel.open_socket()};
    nl::ReceiveSlots rx(64);
    const DumpSockets s{list.get(), main.get(), &rx, {}};
    const DumpOptions o{kFamily, 1, true};
    DumpOutcome first = dump_table(s, o, 100);
    ASSERT_FALSE(first.snapshot.ok());
    EXPECT_EQ(first.snapshot.error().code, EBADMSG);
    for (int i = 0; i < 1000 && kernel.late_replies() == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_EQ(kernel.late_replies(), 1u);
    kernel.set_garbage(10, false);
    DumpOutcome second = dump_table(s, o, 100 + first.seqs_used);
    ASSERT_TRUE(second.snapshot.ok()) << second.snapshot.error().describe();
    fake[10].garbage_reply = false;
    expect_snapshot_of(*second.snapshot, fake);
}

// A kernel that never answers (a hung IPVS) ends the dump with ETIMEDOUT once the sockets'
// receive timeout passes, instead of blocking the caller for ever: on the service list, on the
// caller's socket, and on a further socket.
TEST(IpvsDump, ASocketThatNeverAnswersEndsTheDumpWithATimeout) {
    const auto fake = services(2000);  // enough chunks that the further socket surely takes one
    const auto timeout = std::chrono::milliseconds(200);
    enum class Mute { list, dests, further };
    for (Mute mute : {Mute::list, Mute::dests, Mute::further}) {
        SCOPED_TRACE(int(mute));
        FakeKernel kernel(fake);
        nl::FdCloser list{kernel.open_socket(mute == Mute::list)};
        nl::FdCloser main{kernel.open_socket(mute == Mute::dests)};
        nl::FdCloser further{kernel.open_socket(mute == Mute::further)};
        for (int fd : {list.get(), main.get(), further.get()})
            ASSERT_TRUE(nl::set_receive_timeout(fd, timeout));
        nl::ReceiveSlots rx(64);
        const DumpSockets s{list.get(), main.get(), &rx, {further.get()}};
        DumpOutcome out = dump_table(s, DumpOptions{kFamily, 2, true}, 100);
        ASSERT_FALSE(out.snapshot.ok());
        EXPECT_EQ(out.snapshot.error().code, ETIMEDOUT) << out.snapshot.error().describe();
        EXPECT_EQ(out.snapshot.error().op,
                  mute == Mute::list ? "IPVS_CMD_GET_SERVICE" : "IPVS_CMD_GET_DEST");
        EXPECT_EQ(out.snapshot.error().message, "no reply from the kernel within 200 ms");
    }
}

TEST(IpvsDump, AFailedServiceListFailsTheDump) {
    FakeKernel kernel(services(30));
    kernel.list_errno = EPERM;
    Dump d = dump(kernel, 2, true);
    ASSERT_FALSE(d.out.snapshot.ok());
    EXPECT_EQ(d.out.snapshot.error().code, EPERM);
    EXPECT_EQ(d.out.snapshot.error().op, "IPVS_CMD_GET_SERVICE");
}

}  // namespace
}  // namespace ballast::kernel::ipvs
