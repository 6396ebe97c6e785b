#pragma once
// The IPVS adapter: one generic-netlink socket to the kernel's "IPVS" family, whose id
// libnl-genl-3 resolves. Requests are encoded and replies decoded by ipvs_codec (pure),
// so thousands of requests go out pipelined, byte for byte as tested; this class only
// moves bytes, matches acknowledgements to operations by sequence number, and
// turns errno into operator-facing errors.
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "ballast/kernel/ipvs_client.hpp"
#include "ballast/kernel/ipvs_codec.hpp"

namespace ballast::kernel {

class IpvsNetlinkClient final : public IpvsClient {
public:
    struct Options {
        size_t max_batch_bytes = 128 * 1024;  // requests per sendmsg, by size
        size_t max_in_flight = 2048;          // requests awaiting their ack, at most
        int rcvbuf_bytes = 16 * 1024 * 1024;  // forced when root (SO_RCVBUFFORCE)
        // dump(): a second thread does the system calls while the caller's decodes. Off: all
        // replies are received first, then decoded (for comparison in tests/bench).
        bool overlap_dump_decoding = true;
        // dump(): the GET_DEST dumps of a large table go out on up to this many sockets, each
        // on a thread of its own. The kernel builds each dump under its IPVS mutex, but the
        // system calls and the copying around it run in parallel on several CPUs. 1: every
        // dest dump on this socket, one after another, once the service list is in.
        size_t dump_sockets = 2;
        // The sequence number before the first request's. Requests number on from it and wrap
        // at 2^32 (a daemon dumping 5,000 services a second wraps in about ten days); tests
        // start just below the wrap.
        uint32_t initial_seq = 0;
        // apply(), start_daemon(), stop_daemon(): an identical add, an absent delete and
        // stopping a stopped daemon succeed (what a reconciler wants). false: they fail with
        // the kernel's errno (EEXIST, ESRCH/ENOENT) like any other error, as ipvsadm reports.
        bool idempotent = true;
    };

    // Opens a socket in the caller's network namespace and resolves the "IPVS" family.
    // ENOENT -> "IPVS is not available in this kernel: load ip_vs".
    static Result<std::unique_ptr<IpvsNetlinkClient>> open();
    static Result<std::unique_ptr<IpvsNetlinkClient>> open(Options options);
    ~IpvsNetlinkClient() override;
    IpvsNetlinkClient(const IpvsNetlinkClient&) = delete;
    IpvsNetlinkClient& operator=(const IpvsNetlinkClient&) = delete;

    // IpvsClient: one GET_SERVICE dump (on a second, short-lived socket read 32 KiB at a time),
    // then one GET_DEST dump per service: on this socket, and for a large table also on up to
    // Options::dump_sockets - 1 short-lived ones, started while the service list arrives.
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
    // The length passed to the kernel per received datagram. The kernel sizes dump skbs by the
    // largest length a socket ever passed to recvmsg (never below one page minus overhead), so
    // one page keeps dump skbs in the slab allocator yet always fits a whole datagram.
    static size_t receive_slot_bytes();
    // How many sendmsg calls the last apply() made (pipelining is observable in tests).
    size_t last_apply_batches() const { return last_batches_; }

private:
    IpvsNetlinkClient(int fd, Options o);
    Status send_bytes(std::span<const uint8_t> bytes, const char* op);
    // One recvmmsg: waits for a datagram, then takes every further one already queued (up to
    // the slot count); returns how many. datagram(i) is the i-th of them.
    Result<size_t> receive(const char* op);
    std::span<const uint8_t> datagram(size_t i) const;
    class DumpStream;
    class ReceiveSlots;
    // dump()'s receiving side, run on its own thread while dump() decodes: the GET_SERVICE dump
    // (seq svc_seq) on svc_fd, read in large datagrams, then one GET_DEST dump per service it
    // listed, seqs from svc_seq + 1 on, in chunks of consecutive services claimed by whichever
    // socket is free: this one once the list is in, and up to Options::dump_sockets - 1
    // short-lived ones, each on a thread of its own, as soon as the list has a chunk for them.
    // Every reply datagram goes to stream undecoded.
    void receive_dump(int svc_fd, uint32_t svc_seq, DumpStream& stream);
    // Claims chunks from stream and dumps their dests on fd, one after another (one dump at a
    // time per socket), until no chunk is left or one fails.
    void receive_dest_dumps(int fd, ReceiveSlots& rx, uint32_t first_dest_seq,
                            DumpStream& stream) const;
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
    Options opt_;
    uint16_t family_ = 0;
    uint32_t seq_ = 0;
    size_t window_ = 0;
    size_t last_batches_ = 0;
    std::unique_ptr<ReceiveSlots> rx_;  // this socket's recvmmsg slots
};

}  // namespace ballast::kernel
