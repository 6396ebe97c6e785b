#include "ballast/kernel/ipvs_netlink_client.hpp"

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <netlink/errno.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/socket.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

namespace ballast::kernel {

using model::IpvsOp;
using model::RealKey;
using model::RealSpec;
using model::ServiceKey;
using model::ServiceSpec;

namespace {
// A success ack costs the receive buffer about this much (skb truesize of a 36-byte message);
// the in-flight window is bounded so every ack fits, since a lost ack loses an op's outcome.
constexpr size_t kAckTruesize = 1024;
// Datagrams one recvmmsg can take: a window of acks, or a dest dump and its NLMSG_DONE
// (queued by the kernel while the first is copied out), in one system call.
constexpr size_t kRxSlots = 64;

Error sys_error(int err, const char* op, std::string what) {
    return make_error(err, op, {}, std::move(what) + ": " + std::strerror(err));
}

Status send_to_kernel(int fd, std::span<const uint8_t> bytes, const char* op) {
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    for (;;) {
        ssize_t n = ::sendto(fd, bytes.data(), bytes.size(), 0,
                             reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
        if (n >= 0) return {};
        if (errno == EINTR) continue;
        return sys_error(errno, op, "netlink send failed");
    }
}

// A failed netlink receive (errno err), and a reply that did not fit the receive buffer.
Error receive_failure(int err, const char* op) {
    return sys_error(
        err, op,
        err == ENOBUFS ? "netlink receive buffer overrun, replies lost" : "netlink receive failed");
}
Error truncated_reply(const char* op) {
    return make_error(EMSGSIZE, op, {}, "netlink reply larger than the receive buffer");
}

// The errno a dump's NLMSG_DONE (0 if none) or an NLMSG_ERROR ack carries (an Error if malformed).
Result<int> end_of_dump_errno(const nl::Message& m) {
    if (m.type == NLMSG_ERROR) {
        auto ack = nl::decode_ack(m);
        if (!ack) return ack.error();
        return -ack->error;
    }
    int32_t v = 0;
    if (m.payload.size() >= sizeof v) std::memcpy(&v, m.payload.data(), sizeof v);
    return v < 0 ? -v : 0;
}

// libnl reports its own negative NLE_* codes; our errors carry errno.
int errno_of_nl(int nl_err) {
    switch (-nl_err) {
        case NLE_OBJ_NOTFOUND:
            return ENOENT;
        case NLE_PERM:
            return EPERM;
        case NLE_NOMEM:
            return ENOMEM;
        case NLE_AF_NOSUPPORT:
            return EAFNOSUPPORT;
        case NLE_PROTO_MISMATCH:
            return EPROTONOSUPPORT;
        default:
            return EIO;
    }
}

// The "IPVS" generic-netlink family id, resolved by libnl-genl-3 on a short-lived socket of
// its own: libnl receives with large buffers, and the kernel sizes a socket's later dump
// skbs by the largest receive it ever made, which would defeat our page-sized slots.
Result<uint16_t> resolve_ipvs_family() {
    std::unique_ptr<nl_sock, void (*)(nl_sock*)> sock(nl_socket_alloc(), nl_socket_free);
    if (!sock) return make_error(ENOMEM, "nl_socket_alloc", {}, "cannot allocate a netlink socket");
    int family = genl_connect(sock.get());
    if (family >= 0) family = genl_ctrl_resolve(sock.get(), "IPVS");
    if (family < 0) return ipvs::family_unavailable(errno_of_nl(family));
    return static_cast<uint16_t>(family);
}
}  // namespace

Result<std::unique_ptr<IpvsNetlinkClient>> IpvsNetlinkClient::open() {
    return open(Options{});
}

Result<std::unique_ptr<IpvsNetlinkClient>> IpvsNetlinkClient::open(Options options) {
    int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
    if (fd < 0) return sys_error(errno, "socket", "cannot open a generic netlink socket");
    std::unique_ptr<IpvsNetlinkClient> c(new IpvsNetlinkClient(fd, options));
    c->slot_bytes_ = receive_slot_bytes();
    c->rx_.resize(kRxSlots * c->slot_bytes_);
    c->rx_msgs_.resize(kRxSlots);
    c->rx_iov_.resize(kRxSlots);
    for (size_t i = 0; i < kRxSlots; ++i) {
        c->rx_iov_[i] = iovec{c->rx_.data() + i * c->slot_bytes_, c->slot_bytes_};
        c->rx_msgs_[i].msg_hdr = msghdr{};
        c->rx_msgs_[i].msg_hdr.msg_iov = &c->rx_iov_[i];
        c->rx_msgs_[i].msg_hdr.msg_iovlen = 1;
    }

    int one = 1;
    // Error acks carry only the request header, not the whole request.
    (void)::setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
    int rcv = options.rcvbuf_bytes;
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) != 0)
        (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    int snd = static_cast<int>(options.max_batch_bytes * 2 + 4096);
    if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof snd) != 0)
        (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd);
    int actual_rcv = 0, actual_snd = 0;
    socklen_t len = sizeof actual_rcv;
    (void)::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &actual_rcv, &len);
    len = sizeof actual_snd;
    (void)::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &actual_snd, &len);
    // Half the buffer for acks keeps a margin for the kernel's own accounting.
    c->window_ = std::clamp<size_t>(static_cast<size_t>(actual_rcv) / 2 / kAckTruesize, 1,
                                    options.max_in_flight);
    c->opt_.max_batch_bytes =
        std::clamp<size_t>(static_cast<size_t>(actual_snd) / 2, 4096, options.max_batch_bytes);

    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0)
        return sys_error(errno, "bind", "cannot bind the generic netlink socket");

    Result<uint16_t> id = resolve_ipvs_family();
    if (!id) return id.error();
    c->family_ = *id;
    return c;
}

IpvsNetlinkClient::~IpvsNetlinkClient() {
    if (fd_ >= 0) ::close(fd_);
}

Status IpvsNetlinkClient::send_bytes(std::span<const uint8_t> bytes, const char* op) {
    return send_to_kernel(fd_, bytes, op);
}

size_t IpvsNetlinkClient::receive_slot_bytes() {
    long page = ::sysconf(_SC_PAGESIZE);
    // The kernel's NLMSG_GOODSIZE is below min(page, 8 KiB); never pass less than it.
    return std::clamp<size_t>(page > 0 ? static_cast<size_t>(page) : 4096, 4096, 8192);
}

Result<size_t> IpvsNetlinkClient::receive(const char* op) {
    for (;;) {
        int n = ::recvmmsg(fd_, rx_msgs_.data(), static_cast<unsigned>(rx_msgs_.size()),
                           MSG_WAITFORONE, nullptr);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return receive_failure(errno, op);
        for (int i = 0; i < n; ++i)
            if (rx_msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) return truncated_reply(op);
        return static_cast<size_t>(n);
    }
}

std::span<const uint8_t> IpvsNetlinkClient::datagram(size_t i) const {
    return {rx_.data() + i * slot_bytes_, rx_msgs_[i].msg_len};
}

Status IpvsNetlinkClient::exchange(std::span<const uint8_t> request, uint32_t seq, Mode mode,
                                   const char* op, const std::string& key,
                                   const std::function<Status(const nl::Message&)>& on_msg) {
    if (auto st = send_bytes(request, op); !st) return st;
    Status result;
    bool done = false;
    auto on_reply = [&](const nl::Message& m) -> Status {
        if (m.seq != seq) return {};  // a stale reply of an earlier, failed exchange
        if (m.type == NLMSG_ERROR || m.type == NLMSG_DONE) {
            auto err = end_of_dump_errno(m);
            if (!err) return err.error();
            if (*err != 0) return make_error(*err, op, key);
            done = true;
            return {};
        }
        if (mode == Mode::write) return {};
        if (result) {
            Status st = on_msg(m);
            if (!st) result = st;  // keep draining the dump so the socket stays in sync
        }
        if (mode == Mode::get) done = true;
        return {};
    };
    for (;;) {
        auto n = receive(op);
        if (!n) return n.error();
        for (size_t i = 0; i < *n; ++i)
            if (Status st = nl::for_each_message(datagram(i), on_reply); !st) return st;
        if (done) return result;
    }
}

Status IpvsNetlinkClient::simple_write(std::vector<uint8_t> request, uint32_t seq, const char* op,
                                       const std::string& key) {
    return exchange(request, seq, Mode::write, op, key, nullptr);
}

std::vector<Status> IpvsNetlinkClient::apply(std::span<const IpvsOp> ops) {
    std::vector<Status> results(ops.size());
    std::vector<int> errnos(ops.size(), 0);
    last_batches_ = 0;
    std::vector<uint8_t> batch;
    batch.reserve(opt_.max_batch_bytes + 1024);

    size_t i = 0;
    while (i < ops.size()) {
        batch.clear();
        // seq -> op index for this batch; seqs are consecutive so a vector suffices.
        const uint32_t base = seq_ + 1;
        std::vector<size_t> index;
        while (i < ops.size() && batch.size() < opt_.max_batch_bytes && index.size() < window_) {
            if (Status v = ipvs::validate_op(ops[i]); !v) {
                results[i++] = v;
                continue;
            }
            ipvs::encode_op(batch, {family_, next_seq()}, ops[i]);
            index.push_back(i++);
        }
        if (index.empty()) continue;
        ++last_batches_;
        const char* op = "IPVS batch";
        std::vector<bool> answered(index.size(), false);
        size_t pending = index.size();
        Status failure = send_bytes(batch, op);
        while (failure && pending > 0) {
            auto n = receive(op);
            if (!n) {
                failure = n.error();
                break;
            }
            // Each ack is its own datagram; one recvmmsg takes all that are queued.
            auto on_ack = [&](const nl::Message& m) -> Status {
                if (m.type != NLMSG_ERROR) return {};
                auto ack = nl::decode_ack(m);
                if (!ack || ack->request_seq < base || ack->request_seq - base >= index.size())
                    return {};  // not one of ours (a late reply from an earlier exchange)
                size_t slot = ack->request_seq - base;
                if (answered[slot]) return {};
                answered[slot] = true;
                --pending;
                errnos[index[slot]] = -ack->error;
                return {};
            };
            // A malformed datagram is skipped: its ops stay unanswered and are reported so.
            for (size_t d = 0; d < *n; ++d) (void)nl::for_each_message(datagram(d), on_ack);
        }
        for (size_t s = 0; s < index.size(); ++s) {
            size_t k = index[s];
            if (!answered[s]) {
                Error e = failure.error();
                e.op = ops[k].command_name();
                e.key = ops[k].key_string();
                e.message = "outcome unknown: " + e.message;
                results[k] = e;
                continue;
            }
            int err = errnos[k];
            if (err == 0 || ipvs::is_idempotent_success(ops[k], err)) continue;
            if (err == EEXIST) {
                results[k] = check_identical(ops[k]);
                continue;
            }
            results[k] = ipvs::describe_failure(ops[k], err);
        }
    }
    return results;
}

Status IpvsNetlinkClient::check_identical(const IpvsOp& op) {
    if (op.kind == IpvsOp::Kind::add_service) {
        auto existing = get_service(op.service);
        if (!existing) return existing.error();
        if (existing->spec.same_attributes(op.service_spec)) return {};
        return ipvs::describe_failure(op, EEXIST);
    }
    if (op.kind == IpvsOp::Kind::add_dest) {
        auto dests = list_dests(op.service);
        if (!dests) return dests.error();
        for (const auto& d : *dests)
            if (d.key == op.real && d.spec == op.real_spec) return {};
    }
    return ipvs::describe_failure(op, EEXIST);
}

// ---------------------------------------------------------------- single operations

namespace {
Status first(std::vector<Status> v) {
    return v.front();
}
}  // namespace

Status IpvsNetlinkClient::add_service(const ServiceKey& k, const ServiceSpec& s) {
    IpvsOp op = IpvsOp::add_service(k, s);
    return first(apply({&op, 1}));
}
Status IpvsNetlinkClient::edit_service(const ServiceKey& k, const ServiceSpec& s) {
    IpvsOp op = IpvsOp::edit_service(k, s);
    return first(apply({&op, 1}));
}
Status IpvsNetlinkClient::del_service(const ServiceKey& k) {
    IpvsOp op = IpvsOp::del_service(k);
    return first(apply({&op, 1}));
}
Status IpvsNetlinkClient::add_dest(const ServiceKey& k, const RealKey& r, const RealSpec& s) {
    IpvsOp op = IpvsOp::add_dest(k, r, s);
    return first(apply({&op, 1}));
}
Status IpvsNetlinkClient::edit_dest(const ServiceKey& k, const RealKey& r, const RealSpec& s) {
    IpvsOp op = IpvsOp::edit_dest(k, r, s);
    return first(apply({&op, 1}));
}
Status IpvsNetlinkClient::del_dest(const ServiceKey& k, const RealKey& r) {
    IpvsOp op = IpvsOp::del_dest(k, r);
    return first(apply({&op, 1}));
}

Result<ipvs::ServiceEntry> IpvsNetlinkClient::get_service(const ServiceKey& k) {
    std::vector<uint8_t> req;
    uint32_t seq = next_seq();
    ipvs::encode_get_service(req, {family_, seq}, k);
    Result<ipvs::ServiceEntry> out = make_error(ENODATA, "IPVS_CMD_GET_SERVICE", k.to_string());
    Status st = exchange(req, seq, Mode::get, "IPVS_CMD_GET_SERVICE", k.to_string(),
                         [&](const nl::Message& m) -> Status {
                             out = ipvs::decode_service(m);
                             if (!out) return out.error();
                             return {};
                         });
    if (!st) {
        Error e = st.error();
        if (e.code == ESRCH || e.code == ENOENT)
            e.message = "service " + k.to_string() + " does not exist";
        return e;
    }
    return out;
}

Result<std::vector<ipvs::ServiceEntry>> IpvsNetlinkClient::list_services() {
    std::vector<uint8_t> req;
    uint32_t seq = next_seq();
    ipvs::encode_dump_services(req, {family_, seq});
    std::vector<ipvs::ServiceEntry> out;
    Status st = exchange(req, seq, Mode::dump, "IPVS_CMD_GET_SERVICE", "dump",
                         [&](const nl::Message& m) -> Status {
                             auto e = ipvs::decode_service(m);
                             if (!e) return e.error();
                             out.push_back(std::move(*e));
                             return {};
                         });
    if (!st) return st.error();
    return out;
}

Result<std::vector<ipvs::DestEntry>> IpvsNetlinkClient::list_dests(const ServiceKey& k) {
    std::vector<uint8_t> req;
    uint32_t seq = next_seq();
    ipvs::encode_dump_dests(req, {family_, seq}, k);
    std::vector<ipvs::DestEntry> out;
    // The key text is built only on failure: this runs once per service in every dump.
    static const std::string no_key;
    Status st = exchange(req, seq, Mode::dump, "IPVS_CMD_GET_DEST", no_key,
                         [&](const nl::Message& m) -> Status {
                             auto e = ipvs::decode_dest(m, k);
                             if (!e) return e.error();
                             out.push_back(std::move(*e));
                             return {};
                         });
    if (!st) {
        Error e = st.error();
        e.key = k.to_string();
        if (e.code == ESRCH || e.code == ENOENT)
            e.message = "service " + k.to_string() + " does not exist";
        return e;
    }
    return out;
}

// Raw reply datagrams, each stored as [u32 length | kServiceRecord][bytes], passed from the thread
// that talks to the kernel to the thread that decodes them.
class IpvsNetlinkClient::DatagramQueue {
public:
    void push(std::vector<uint8_t> batch) {
        {
            std::lock_guard lock(mu_);
            batches_.push_back(std::move(batch));
        }
        cv_.notify_one();
    }
    // No more batches will come; failure says why the stream ended early, if it did, and
    // in_service_list whether it ended before the service list was complete.
    void close(Status failure, bool in_service_list = false) {
        {
            std::lock_guard lock(mu_);
            closed_ = true;
            failure_ = std::move(failure);
            in_service_list_ = in_service_list;
        }
        cv_.notify_one();
    }
    // The next batch; false once closed and drained.
    bool pop(std::vector<uint8_t>& out) {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return closed_ || !batches_.empty(); });
        if (batches_.empty()) return false;
        out = std::move(batches_.front());
        batches_.pop_front();
        return true;
    }
    Status failure() {
        std::lock_guard lock(mu_);
        return failure_;
    }
    bool failed_in_service_list() {
        std::lock_guard lock(mu_);
        return !failure_ && in_service_list_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::vector<uint8_t>> batches_;
    bool closed_ = false;
    Status failure_;
    bool in_service_list_ = false;
};

namespace {
// Handing datagrams over in batches of about this size keeps locking rare.
constexpr size_t kHandoffBytes = 64 * 1024;
// The service list is read in datagrams of this size on a socket of its own: the kernel then
// fills each with ~100 services (one page holds ~13), so the list takes few system calls, and
// the dest dumps keep their page-sized skbs on the main socket (see receive_slot_bytes()).
constexpr size_t kServiceReadBytes = 32 * 1024;
// Marks a record of the service list in a batch (datagrams are far below 2 GiB).
constexpr uint32_t kServiceRecord = 0x80000000u;

void append_datagram(std::vector<uint8_t>& batch, std::span<const uint8_t> d, uint32_t tag = 0) {
    const auto len = static_cast<uint32_t>(d.size()) | tag;
    const size_t at = batch.size();
    batch.resize(at + sizeof len + d.size());
    std::memcpy(batch.data() + at, &len, sizeof len);
    std::memcpy(batch.data() + at + sizeof len, d.data(), d.size());
}

}  // namespace

void IpvsNetlinkClient::receive_dump(int svc_fd, uint32_t svc_seq, DatagramQueue& queue,
                                     size_t& dest_dumps) {
    // The service list, on svc_fd.
    const char* svc_op = "IPVS_CMD_GET_SERVICE";
    {
        std::vector<uint8_t> req;
        ipvs::encode_dump_services(req, {family_, svc_seq});
        if (Status st = send_to_kernel(svc_fd, req, svc_op); !st) return queue.close(st, true);
    }
    std::vector<ServiceKey> keys;
    std::vector<uint8_t> batch;
    {
        std::vector<uint8_t> buf(kServiceReadBytes);
        bool done = false;
        while (!done) {
            iovec iov{buf.data(), buf.size()};
            msghdr mh{};
            mh.msg_iov = &iov;
            mh.msg_iovlen = 1;
            ssize_t n = ::recvmsg(svc_fd, &mh, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return queue.close(receive_failure(errno, svc_op), true);
            if (mh.msg_flags & MSG_TRUNC) return queue.close(truncated_reply(svc_op), true);
            std::span<const uint8_t> d(buf.data(), static_cast<size_t>(n));
            Status st = nl::for_each_message(d, [&](const nl::Message& m) -> Status {
                if (m.seq != svc_seq) return {};  // not ours
                if (m.type == NLMSG_ERROR || m.type == NLMSG_DONE) {
                    auto err = end_of_dump_errno(m);
                    if (!err) return err.error();
                    if (*err != 0) return make_error(*err, svc_op, "dump");
                    done = true;
                    return {};
                }
                // The caller decodes the same reply in full; a service whose key cannot be read
                // fails its decode there, which fails the dump, so its dests are not needed.
                if (auto k = ipvs::decode_service_key(m)) keys.push_back(*k);
                return {};
            });
            if (!st) return queue.close(st, true);
            append_datagram(batch, d, kServiceRecord);
        }
    }
    dest_dumps = keys.size();
    queue.push(std::move(batch));  // the caller decodes the services while the dests arrive
    batch = {};
    batch.reserve(kHandoffBytes + slot_bytes_);

    // One GET_DEST dump per service, on this socket, one after another.
    const char* op = "IPVS_CMD_GET_DEST";
    for (size_t i = 0; i < keys.size(); ++i) {
        const uint32_t seq = svc_seq + 1 + static_cast<uint32_t>(i);
        tx_.clear();
        ipvs::encode_dump_dests(tx_, {family_, seq}, keys[i]);
        if (Status st = send_bytes(tx_, op); !st) return queue.close(st);
        // One dump at a time per socket: wait for this one's NLMSG_DONE (or error ack).
        bool done = false;
        while (!done) {
            auto n = receive(op);
            if (!n) return queue.close(n.error());
            for (size_t d = 0; d < *n; ++d) {
                append_datagram(batch, datagram(d));
                Status st = nl::for_each_message(datagram(d), [&](const nl::Message& m) -> Status {
                    if (m.seq == seq && (m.type == NLMSG_DONE || m.type == NLMSG_ERROR))
                        done = true;
                    return {};
                });
                if (!st) return queue.close(st);  // the decoder cannot read past it either
            }
        }
        if (batch.size() >= kHandoffBytes || i + 1 == keys.size()) {
            queue.push(std::move(batch));
            batch = {};
            batch.reserve(kHandoffBytes + slot_bytes_);
        }
    }
    queue.close({});
}

namespace {
struct FdCloser {
    int fd;
    ~FdCloser() {
        if (fd >= 0) ::close(fd);
    }
};
}  // namespace

Result<IpvsSnapshot> IpvsNetlinkClient::dump() {
    // The service list goes over a socket of its own, closed after this dump, so its 32 KiB reads
    // never enlarge the dest dumps' skbs on fd_ (and no late reply of it can outlive the dump).
    FdCloser svc{::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC)};
    if (svc.fd < 0) return sys_error(errno, "socket", "cannot open a generic netlink socket");

    // Seqs: svc_seq for the service list, then one per service for the dest dumps.
    const uint32_t svc_seq = next_seq();
    const uint32_t first_dest_seq = svc_seq + 1;
    DatagramQueue queue;
    size_t dest_dumps = 0;  // read only after the receiver ended
    std::jthread receiver;  // joined on every way out; it always runs to its end by itself
    if (opt_.overlap_dump_decoding)
        receiver = std::jthread([&] { receive_dump(svc.fd, svc_seq, queue, dest_dumps); });
    else
        receive_dump(svc.fd, svc_seq, queue, dest_dumps);  // everything queued before decoding

    // Per service, in the order the kernel listed them (= the order of their dest dumps).
    std::vector<ipvs::ServiceEntry> services;
    std::vector<std::map<RealKey, RealSpec>> reals;
    std::vector<CountersByReal> counters;
    std::vector<uint8_t> present;  // 0: gone before its dest dump (or failed)
    Status service_failure;        // the first service decode failure
    Status failure;                // the first dest failure, reported after the stream is drained
    size_t cur = 0;                // the service whose dests arrive now
    std::vector<ipvs::DestEntry> dests;  // cur's, as they arrive
    ipvs::DestEntry entry;

    auto on_service = [&](const nl::Message& m) -> Status {
        // Control messages and errors of the service list are the receiver's to report.
        if (m.seq != svc_seq || m.type == NLMSG_ERROR || m.type == NLMSG_DONE) return {};
        auto e = ipvs::decode_service(m);
        if (!e) {
            if (service_failure) service_failure = e.error();
            return {};
        }
        services.push_back(std::move(*e));
        return {};
    };
    auto fail = [&](Error e) {
        e.key = services[cur].key.to_string();
        if (failure) failure = std::move(e);
    };
    auto finish_service = [&](bool keep) {
        reals.emplace_back();
        counters.emplace_back();
        present.push_back(keep ? 1 : 0);
        if (keep) {
            sort_by_key_first_wins(
                dests, [](const ipvs::DestEntry& d) -> const RealKey& { return d.key; });
            auto& r = reals.back();
            std::vector<CountersByReal::value_type> c;
            c.reserve(dests.size());
            for (const auto& d : dests) {
                r.emplace_hint(r.end(), d.key, d.spec);
                c.emplace_back(d.key, d.counters);
            }
            counters.back() = CountersByReal::from_unsorted(std::move(c));
        }
        dests.clear();
        ++cur;
    };
    auto on_dest = [&](const nl::Message& m) -> Status {
        if (cur >= services.size() || m.seq != first_dest_seq + cur) return {};  // not ours
        if (m.type == NLMSG_ERROR || m.type == NLMSG_DONE) {
            auto err = end_of_dump_errno(m);
            if (!err) return err.error();
            // ESRCH/ENOENT: deleted between the two dumps by someone else, which is not ours to
            // report as an error; the service is just not in the snapshot.
            const bool gone = *err == ESRCH || *err == ENOENT;
            if (*err > 0 && !gone) fail(make_error(*err, "IPVS_CMD_GET_DEST", {}));
            finish_service(*err == 0);
            return {};
        }
        if (!ipvs::decode_dest_fast(m, services[cur].key, entry)) {
            auto e = ipvs::decode_dest(m, services[cur].key);
            if (!e) return e.error();
            entry = std::move(*e);
        }
        dests.push_back(entry);
        return {};
    };

    std::vector<uint8_t> batch;
    while (queue.pop(batch)) {
        for (size_t off = 0; off + sizeof(uint32_t) <= batch.size();) {
            uint32_t len;
            std::memcpy(&len, batch.data() + off, sizeof len);
            const bool service_record = len & kServiceRecord;
            len &= ~kServiceRecord;
            std::span<const uint8_t> d(batch.data() + off + sizeof len, len);
            off += sizeof len + len;
            if (service_record) {
                // A malformed one ended the list in the receiver, which reports it.
                (void)nl::for_each_message(d, on_service);
                continue;
            }
            // Keep draining after a failure, so the receiver always runs to its end.
            if (Status st = nl::for_each_message(d, on_dest); !st && cur < services.size())
                fail(st.error());
        }
    }
    if (receiver.joinable()) receiver.join();
    seq_ = svc_seq + static_cast<uint32_t>(dest_dumps);

    // What failed first in the old order (list, then dests) is what is reported.
    Status ended = queue.failure();
    if (!ended && queue.failed_in_service_list()) return ended.error();
    if (!service_failure) return service_failure.error();
    if (!ended) return ended.error();
    if (!failure) return failure.error();
    if (cur != dest_dumps || services.size() != dest_dumps)
        return make_error(EPROTO, "IPVS_CMD_GET_DEST", {}, "dest dumps ended early");

    // The kernel lists services in hash order; in key order every insert below goes at the end
    // of its map in constant time.
    std::vector<uint32_t> order;
    order.reserve(services.size());
    for (uint32_t i = 0; i < services.size(); ++i)
        if (present[i]) order.push_back(i);
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return services[a].key < services[b].key; });
    IpvsSnapshot snap;
    for (uint32_t i : order) {
        const ServiceKey& k = services[i].key;
        snap.dest_counters.emplace_hint(snap.dest_counters.end(), k, std::move(counters[i]));
        snap.service_stats.emplace_hint(snap.service_stats.end(), k, services[i].stats);
        snap.table.services.emplace_hint(
            snap.table.services.end(), k,
            model::IpvsService{k, std::move(services[i].spec), std::move(reals[i])});
    }
    return snap;
}

Result<ipvs::Timeouts> IpvsNetlinkClient::get_timeouts() {
    std::vector<uint8_t> req;
    uint32_t seq = next_seq();
    ipvs::encode_get_timeouts(req, {family_, seq});
    Result<ipvs::Timeouts> out = make_error(ENODATA, "IPVS_CMD_GET_CONFIG");
    Status st = exchange(req, seq, Mode::get, "IPVS_CMD_GET_CONFIG", "",
                         [&](const nl::Message& m) -> Status {
                             out = ipvs::decode_timeouts(m);
                             if (!out) return out.error();
                             return {};
                         });
    if (!st) return st.error();
    return out;
}

Status IpvsNetlinkClient::set_timeouts(const ipvs::Timeouts& t) {
    std::vector<uint8_t> req;
    uint32_t seq = next_seq();
    ipvs::encode_set_timeouts(req, {family_, seq}, t);
    return simple_write(std::move(req), seq, "IPVS_CMD_SET_CONFIG", "timeouts");
}

Status IpvsNetlinkClient::start_daemon(const ipvs::SyncDaemon& d) {
    std::vector<uint8_t> req;
    uint32_t seq = next_seq();
    ipvs::encode_new_daemon(req, {family_, seq}, d);
    std::string key =
        std::string(d.state == ipvs::SyncDaemon::State::master ? "master" : "backup") + " on " +
        d.mcast_ifn + " syncid " + std::to_string(d.sync_id);
    Status st = simple_write(std::move(req), seq, "IPVS_CMD_NEW_DAEMON", key);
    if (!st && st.error().code == EEXIST) {
        auto running = daemons();
        if (running)
            for (const auto& r : *running)
                if (r.state == d.state && r.mcast_ifn == d.mcast_ifn && r.sync_id == d.sync_id)
                    return {};
        Error e = st.error();
        e.message = "a " +
                    std::string(d.state == ipvs::SyncDaemon::State::master ? "master" : "backup") +
                    " sync daemon with other settings is already running";
        return e;
    }
    if (!st && st.error().code == ENODEV) {
        Error e = st.error();
        e.message = "interface '" + d.mcast_ifn + "' does not exist";
        return e;
    }
    return st;
}

Status IpvsNetlinkClient::stop_daemon(ipvs::SyncDaemon::State state) {
    std::vector<uint8_t> req;
    uint32_t seq = next_seq();
    ipvs::encode_del_daemon(req, {family_, seq}, state);
    Status st = simple_write(std::move(req), seq, "IPVS_CMD_DEL_DAEMON",
                             state == ipvs::SyncDaemon::State::master ? "master" : "backup");
    if (!st && st.error().code == ESRCH) return {};  // not running: already stopped
    return st;
}

Result<std::vector<ipvs::SyncDaemon>> IpvsNetlinkClient::daemons() {
    std::vector<uint8_t> req;
    uint32_t seq = next_seq();
    ipvs::encode_dump_daemons(req, {family_, seq});
    std::vector<ipvs::SyncDaemon> out;
    Status st = exchange(req, seq, Mode::dump, "IPVS_CMD_GET_DAEMON", "",
                         [&](const nl::Message& m) -> Status {
                             auto d = ipvs::decode_daemon(m);
                             if (!d) return d.error();
                             out.push_back(std::move(*d));
                             return {};
                         });
    if (!st) return st.error();
    return out;
}

Status IpvsNetlinkClient::zero_counters() {
    std::vector<uint8_t> req;
    uint32_t seq = next_seq();
    ipvs::encode_zero(req, {family_, seq}, nullptr);
    return simple_write(std::move(req), seq, "IPVS_CMD_ZERO", "all");
}

Status IpvsNetlinkClient::zero_counters(const ServiceKey& k) {
    std::vector<uint8_t> req;
    uint32_t seq = next_seq();
    ipvs::encode_zero(req, {family_, seq}, &k);
    Status st = simple_write(std::move(req), seq, "IPVS_CMD_ZERO", k.to_string());
    if (!st && (st.error().code == ESRCH || st.error().code == ENOENT)) {
        Error e = st.error();
        e.message = "service " + k.to_string() + " does not exist";
        return e;
    }
    return st;
}

Result<ipvs::Info> IpvsNetlinkClient::info() {
    std::vector<uint8_t> req;
    uint32_t seq = next_seq();
    ipvs::encode_get_info(req, {family_, seq});
    Result<ipvs::Info> out = make_error(ENODATA, "IPVS_CMD_GET_INFO");
    Status st =
        exchange(req, seq, Mode::get, "IPVS_CMD_GET_INFO", "", [&](const nl::Message& m) -> Status {
            out = ipvs::decode_info(m);
            if (!out) return out.error();
            return {};
        });
    if (!st) return st.error();
    return out;
}

}  // namespace ballast::kernel
