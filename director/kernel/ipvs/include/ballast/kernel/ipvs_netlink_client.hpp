#pragma once
// The IPVS adapter: one generic-netlink socket to the kernel's "IPVS" family, whose id
// libnl-genl-3 resolves. Requests are encoded and replies decoded by ipvs_codec (pure),
// so thousands of requests go out pipelined, byte for byte as tested; this class only
// moves bytes, matches acknowledgements to operations by sequence number, and
// turns errno into operator-facing errors.
#include <sys/socket.h>
#include <sys/uio.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "ballast/kernel/ipvs_client.hpp"
#include "ballast/kernel/ipvs_codec.hpp"

namespace ballast::kernel {

namespace nl {
class ReceiveSlots;
}

class IpvsNetlinkClient final : public IpvsClient {
public:
    struct Options {
        size_t max_batch_bytes = 128 * 1024;  // requests per sendmsg, by size
        size_t max_in_flight = 2048;          // requests awaiting their ack, at most
        // apply(): only the last request of each batch asks for an ack (NLM_F_ACK). The kernel
        // handles a batch's requests in order inside the send() and acks every failed one
        // anyway, so the last one's ack closes the batch: a request with no error ack before
        // it succeeded. This spares the kernel an ack skb and us a datagram per request (most
        // of a cold start's writes). true: every request is acked (for comparison in bench).
        bool ack_every_request = false;
        int rcvbuf_bytes = 16 * 1024 * 1024;  // forced when root (SO_RCVBUFFORCE)
        // dump(): a second thread does the system calls while the caller's decodes. Off: all
        // replies are received first, then decoded (for comparison in tests/bench).
        bool overlap_dump_decoding = true;
        // dump(): the GET_DEST dumps of a large table go out on up to this many sockets, each
        // on a thread of its own. The kernel builds each dump under its IPVS mutex, but the
        // system calls and the copying around it run in parallel on several CPUs. 1: every
        // dest dump on this socket, one after another, once the service list is in.
        size_t dump_sockets = 2;
        // dump(): the counters come encoded, not as maps (see IpvsSnapshot).
        bool encode_dump_counters = false;
        // A kernel that does not answer within this time ends the call with ETIMEDOUT ("no reply
        // from the kernel within 10 s") instead of blocking its thread for ever; 0: wait for ever.
        // The kernel answers a request as it takes it, so only a hung kernel reaches it.
        std::chrono::milliseconds receive_timeout{10000};
        // The sequence number before the first request's. Requests number on from it and wrap
        // at 2^32 (a daemon dumping 5,000 services a second wraps in about ten days); tests
        // start just below the wrap.
        uint32_t initial_seq = 0;
        // apply(), start_daemon(), stop_daemon(): an identical add, an absent delete and
        // stopping a stopped daemon succeed (what a reconciler wants). false: they fail with
        // the kernel's errno (EEXIST, ESRCH/ENOENT) like any other error, as ipvsadm reports.
        bool idempotent = true;
    };

    // Opens its sockets (1 + Options::dump_sockets) in the caller's network namespace, which is
    // then the one every call works on, from any thread; resolves the "IPVS" family.
    // ENOENT -> "IPVS is not available in this kernel: load ip_vs".
    static Result<std::unique_ptr<IpvsNetlinkClient>> open();
    static Result<std::unique_ptr<IpvsNetlinkClient>> open(Options options);
    ~IpvsNetlinkClient() override;
    IpvsNetlinkClient(const IpvsNetlinkClient&) = delete;
    IpvsNetlinkClient& operator=(const IpvsNetlinkClient&) = delete;

    // IpvsClient: one GET_SERVICE dump (on a second socket, read 32 KiB at a time), then one
    // GET_DEST dump per service: on this socket, and for a large table also on up to
    // Options::dump_sockets - 1 further ones, each on a thread started while the list arrives.
    Result<IpvsSnapshot> dump() override;
    // Pipelined: many requests per sendmsg with NLM_F_ACK and distinct sequence numbers,
    // each ack matched to its op. Identical add and absent delete succeed.
    std::vector<Status> apply(std::span<const model::IpvsOp> ops) override;

    // Services.
    Status add_service(const model::ServiceKey& k, const model::ServiceSpec& s);
    Status edit_service(const model::ServiceKey& k, const model::ServiceSpec& s);
    Status del_service(const model::ServiceKey& k);
    Result<ipvs::ServiceEntry> get_service(const model::ServiceKey& k);
    Result<std::vector<ipvs::ServiceEntry>> list_services();
    // Destinations.
    Status add_dest(const model::ServiceKey& k, const model::RealKey& r, const model::RealSpec& s);
    Status edit_dest(const model::ServiceKey& k, const model::RealKey& r, const model::RealSpec& s);
    Status del_dest(const model::ServiceKey& k, const model::RealKey& r);
    Result<std::vector<ipvs::DestEntry>> list_dests(const model::ServiceKey& k);
    // Timeouts, sync daemon, counters, info.
    Result<ipvs::Timeouts> get_timeouts();
    Status set_timeouts(const ipvs::Timeouts& t);  // 0 fields stay unchanged
    Status start_daemon(const ipvs::SyncDaemon& d);
    Status stop_daemon(ipvs::SyncDaemon::State state);  // stopping a stopped daemon succeeds
    Result<std::vector<ipvs::SyncDaemon>> daemons();
    Status flush();                                    // IPVS_CMD_FLUSH: every service
    Status zero_counters();                            // all services
    Status zero_counters(const model::ServiceKey& k);  // one service
    Result<ipvs::Info> info();

    uint16_t family_id() const { return family_; }

private:
    IpvsNetlinkClient(int fd, Options o);
    Status send_bytes(std::span<const uint8_t> bytes, const char* op);
    // One recvmmsg: waits for a datagram, then takes every further one already queued (up to
    // the slot count); returns how many. datagram(i) is the i-th of them.
    Result<size_t> receive(const char* op);
    std::span<const uint8_t> datagram(size_t i) const;
    // Sends one request and feeds every reply message with its seq to on_msg until the
    // exchange ends: NLMSG_DONE for dumps, the ack for writes, the first reply for gets.
    enum class Mode { write, get, dump };
    Status exchange(std::span<const uint8_t> request, uint32_t seq, Mode mode, const char* op,
                    const std::string& key,
                    const std::function<Status(const nl::Message&)>& on_msg);
    Status simple_write(std::vector<uint8_t> request, uint32_t seq, const char* op,
                        const std::string& key);
    // EEXIST on add: the add succeeded only if what exists is identical.
    Status check_identical(const model::IpvsOp& op);
    uint32_t next_seq() { return ++seq_; }

    int fd_ = -1;
    int list_fd_ = -1;              // dump()'s service list
    std::vector<int> further_fds_;  // dump()'s further dest-dump sockets
    Options opt_;
    uint16_t family_ = 0;
    uint32_t seq_ = 0;
    size_t window_ = 0;
    std::unique_ptr<nl::ReceiveSlots> rx_;  // this socket's recvmmsg slots
};

}  // namespace ballast::kernel
