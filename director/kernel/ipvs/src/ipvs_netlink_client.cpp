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
#include <new>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

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
Error out_of_memory(const char* op) {
    return make_error(ENOMEM, op, {}, "out of memory while dumping");
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

// recvmmsg slots of receive_slot_bytes() each, for one socket at a time.
class IpvsNetlinkClient::ReceiveSlots {
public:
    explicit ReceiveSlots(size_t slots)
        : slot_bytes_(receive_slot_bytes()), buf_(slots * slot_bytes_), msgs_(slots), iov_(slots) {
        for (size_t i = 0; i < slots; ++i) {
            iov_[i] = iovec{buf_.data() + i * slot_bytes_, slot_bytes_};
            msgs_[i].msg_hdr = msghdr{};
            msgs_[i].msg_hdr.msg_iov = &iov_[i];
            msgs_[i].msg_hdr.msg_iovlen = 1;
        }
    }
    // Waits for a datagram on fd, then takes every further one already queued; returns how many.
    Result<size_t> receive(int fd, const char* op) {
        for (;;) {
            int n = ::recvmmsg(fd, msgs_.data(), static_cast<unsigned>(msgs_.size()),
                               MSG_WAITFORONE, nullptr);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return receive_failure(errno, op);
            for (int i = 0; i < n; ++i)
                if (msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) return truncated_reply(op);
            return static_cast<size_t>(n);
        }
    }
    std::span<const uint8_t> datagram(size_t i) const {
        return {buf_.data() + i * slot_bytes_, msgs_[i].msg_len};
    }
    size_t slot_bytes() const { return slot_bytes_; }

private:
    size_t slot_bytes_;
    std::vector<uint8_t> buf_;
    std::vector<mmsghdr> msgs_;
    std::vector<iovec> iov_;
};

Result<std::unique_ptr<IpvsNetlinkClient>> IpvsNetlinkClient::open() {
    return open(Options{});
}

Result<std::unique_ptr<IpvsNetlinkClient>> IpvsNetlinkClient::open(Options options) {
    int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
    if (fd < 0) return sys_error(errno, "socket", "cannot open a generic netlink socket");
    std::unique_ptr<IpvsNetlinkClient> c(new IpvsNetlinkClient(fd, options));
    c->rx_ = std::make_unique<ReceiveSlots>(kRxSlots);

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

IpvsNetlinkClient::IpvsNetlinkClient(int fd, Options o) : fd_(fd), opt_(o), seq_(o.initial_seq) {}

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
    return rx_->receive(fd_, op);
}

std::span<const uint8_t> IpvsNetlinkClient::datagram(size_t i) const {
    return rx_->datagram(i);
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
                // Offsets from base in uint32 arithmetic, so a window across 2^32 still matches.
                const uint32_t offset = ack ? ack->request_seq - base : 0;
                if (!ack || offset >= index.size())
                    return {};  // not one of ours (a late reply from an earlier exchange)
                const size_t slot = offset;
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
            if (err == 0 || (opt_.idempotent && ipvs::is_idempotent_success(ops[k], err))) continue;
            if (err == EEXIST && opt_.idempotent) {
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

namespace {
// Handing datagrams over in batches of about this size keeps locking rare.
constexpr size_t kHandoffBytes = 64 * 1024;
// The service list is read in datagrams of this size on a socket of its own: the kernel then
// fills each with ~100 services (one page holds ~13), so the list takes few system calls, and
// the dest dumps keep their page-sized skbs on the main socket (see receive_slot_bytes()).
constexpr size_t kServiceReadBytes = 32 * 1024;
// Marks a record of the service list in a batch (datagrams are far below 2 GiB).
constexpr uint32_t kServiceRecord = 0x80000000u;
// The dest dumps go out in chunks of this many services, each claimed by whichever socket is
// free; a further socket (and thread) is only opened once the list has a chunk for it.
constexpr size_t kChunkServices = 64;
// recvmmsg slots of a further socket: a dest dump and its NLMSG_DONE, with room to spare.
constexpr size_t kRxSlotsPerRun = 8;

struct FdCloser {
    int fd = -1;
    explicit FdCloser(int f) : fd(f) {}
    FdCloser(FdCloser&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
    FdCloser& operator=(FdCloser&&) = delete;
    ~FdCloser() {
        if (fd >= 0) ::close(fd);
    }
};

// A bound generic-netlink socket for one dump()'s service list or further dest dumps (-1 and
// errno if none can be had).
int open_dump_socket() {
    int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
    if (fd < 0) return -1;
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
        const int err = errno;
        ::close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

void append_datagram(std::vector<uint8_t>& batch, std::span<const uint8_t> d, uint32_t tag = 0) {
    const auto len = static_cast<uint32_t>(d.size()) | tag;
    const size_t at = batch.size();
    batch.resize(at + sizeof len + d.size());
    std::memcpy(batch.data() + at, &len, sizeof len);
    std::memcpy(batch.data() + at + sizeof len, d.data(), d.size());
}

}  // namespace

// Reply datagrams of one dump(), each stored as [u32 length | kServiceRecord][bytes], passed
// undecoded from the threads that talk to the kernel to the one that decodes them, in the order
// it needs them. The service list arrives datagram by datagram; the dest dumps are made in chunks
// of kChunkServices consecutive listed services, each claimed (in list order) by whichever socket
// is free once all its services are listed. pop() hands out every list batch as soon as it is in
// and chunk c's batches after chunk c - 1's, so each service is decoded before its dests.
class IpvsNetlinkClient::DumpStream {
public:
    // The lister: one list datagram (as a batch) and the keys of the services it names.
    void push_list(std::vector<uint8_t> batch, std::span<const ServiceKey> keys) {
        {
            std::lock_guard lock(mu_);
            list_.push_back(std::move(batch));
            keys_.insert(keys_.end(), keys.begin(), keys.end());
        }
        cv_.notify_all();
    }
    // The list is complete, or ended early (failure).
    void end_list(Status failure) {
        {
            std::lock_guard lock(mu_);
            list_ended_ = true;
            list_failure_ = std::move(failure);
        }
        cv_.notify_all();
    }
    size_t listed() {
        std::lock_guard lock(mu_);
        return keys_.size();
    }

    // A socket's next chunk: its index, the list position of its first service, and its keys.
    struct Claim {
        size_t chunk = 0;
        size_t first = 0;
        std::vector<ServiceKey> keys;
    };
    // Waits until the next unclaimed chunk is fully listed; nothing once every chunk is claimed,
    // or the list or another chunk failed.
    std::optional<Claim> claim() {
        std::unique_lock lock(mu_);
        for (;;) {
            if (aborted_ || (list_ended_ && !list_failure_)) return std::nullopt;
            const size_t first = chunks_.size() * kChunkServices;
            const size_t end = std::min(first + kChunkServices, keys_.size());
            if (end == first + kChunkServices || (list_ended_ && end > first)) {
                Claim c{chunks_.size(), first, {keys_.begin() + first, keys_.begin() + end}};
                chunks_.emplace_back();  // after the copy: a claim that threw claimed nothing
                return c;
            }
            if (list_ended_) return std::nullopt;
            cv_.wait(lock);
        }
    }
    void push(size_t chunk, std::vector<uint8_t> batch) {
        {
            std::lock_guard lock(mu_);
            chunks_[chunk].batches.push_back(std::move(batch));
        }
        cv_.notify_all();
    }
    // Every dest dump of the chunk ended, or one failed (failure): then no chunk is claimed any
    // more and the stream ends after this one.
    void end_chunk(size_t chunk, Status failure) {
        {
            std::lock_guard lock(mu_);
            chunks_[chunk].ended = true;
            if (!failure) aborted_ = true;
            chunks_[chunk].failure = std::move(failure);
        }
        cv_.notify_all();
    }

    // A socket's thread could not go on (out of memory) outside a chunk: no more claims.
    void fail(Status failure) {
        {
            std::lock_guard lock(mu_);
            aborted_ = true;
            if (other_failure_) other_failure_ = std::move(failure);
        }
        cv_.notify_all();
    }

    // The decoder: the next batch in order; false at the end, or after a failure.
    bool pop(std::vector<uint8_t>& out) {
        std::unique_lock lock(mu_);
        for (;;) {
            if (!list_.empty()) {
                out = std::move(list_.front());
                list_.pop_front();
                return true;
            }
            if (list_ended_ && !list_failure_) return false;
            if (next_ < chunks_.size()) {
                Chunk& c = chunks_[next_];
                if (!c.batches.empty()) {
                    out = std::move(c.batches.front());
                    c.batches.pop_front();
                    return true;
                }
                // After a failed chunk, the rest of the list is still decoded (a service that
                // cannot be decoded is reported before a failed dest dump).
                if (c.ended && !c.failure && list_ended_) return false;
                if (c.ended && c.failure) {
                    ++next_;
                    continue;
                }
            } else if (list_ended_ && (aborted_ || next_ * kChunkServices >= keys_.size())) {
                return false;
            }
            cv_.wait(lock);
        }
    }

    // After every thread ended: why the list ended early, and the first chunk that failed.
    Status list_failure() {
        std::lock_guard lock(mu_);
        return list_failure_;
    }
    Status chunk_failure() {
        std::lock_guard lock(mu_);
        for (const auto& c : chunks_)
            if (!c.failure) return c.failure;
        return other_failure_;
    }

private:
    struct Chunk {
        std::deque<std::vector<uint8_t>> batches;
        bool ended = false;
        Status failure;
    };
    std::mutex mu_;
    std::condition_variable cv_;  // one for both sides: each waits rarely
    std::deque<std::vector<uint8_t>> list_;
    std::vector<ServiceKey> keys_;
    bool list_ended_ = false;
    Status list_failure_;
    std::deque<Chunk> chunks_;  // index = chunk number, appended as claimed
    bool aborted_ = false;      // a chunk failed, or a socket's thread
    Status other_failure_;      // why a socket's thread failed outside a chunk
    size_t next_ = 0;           // the chunk pop() hands out from
};

void IpvsNetlinkClient::receive_dump(int svc_fd, uint32_t svc_seq, DumpStream& stream) {
    const uint32_t first_dest_seq = svc_seq + 1;
    // Further sockets, each with a thread that claims chunks from the stream, opened while the
    // list arrives as soon as it has a chunk for them; one that cannot be opened is done without.
    const size_t sockets = std::max<size_t>(opt_.dump_sockets, 1);
    std::vector<FdCloser> fds;
    std::vector<std::jthread> helpers;  // declared after fds: joined before those are closed
    bool no_more_sockets = false;
    auto add_helpers = [&](size_t listed) {
        while (!no_more_sockets && 1 + helpers.size() < sockets &&
               listed >= (helpers.size() + 1) * kChunkServices) {
            FdCloser fd{open_dump_socket()};
            if (fd.fd < 0) {
                no_more_sockets = true;
                return;
            }
            fds.push_back(std::move(fd));
            try {
                helpers.emplace_back([this, &stream, first_dest_seq, s = fds.back().fd] {
                    try {
                        ReceiveSlots rx(kRxSlotsPerRun);
                        receive_dest_dumps(s, rx, first_dest_seq, stream);
                    } catch (const std::bad_alloc&) {
                        stream.fail(out_of_memory("IPVS_CMD_GET_DEST"));
                    }
                });
            } catch (const std::system_error&) {  // no thread to be had: do without it
                no_more_sockets = true;
            }
        }
    };

    // The service list, on svc_fd; this thread then dumps dests on this socket too.
    const char* svc_op = "IPVS_CMD_GET_SERVICE";
    auto read_list = [&]() -> Status {
        fds.reserve(sockets);
        helpers.reserve(sockets);
        std::vector<uint8_t> req;
        ipvs::encode_dump_services(req, {family_, svc_seq});
        if (Status st = send_to_kernel(svc_fd, req, svc_op); !st) return st;
        std::vector<uint8_t> buf(kServiceReadBytes);
        std::vector<ServiceKey> keys;
        size_t listed = 0;
        for (bool done = false; !done;) {
            iovec iov{buf.data(), buf.size()};
            msghdr mh{};
            mh.msg_iov = &iov;
            mh.msg_iovlen = 1;
            ssize_t n = ::recvmsg(svc_fd, &mh, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return receive_failure(errno, svc_op);
            if (mh.msg_flags & MSG_TRUNC) return truncated_reply(svc_op);
            std::span<const uint8_t> d(buf.data(), static_cast<size_t>(n));
            keys.clear();
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
            if (!st) return st;
            std::vector<uint8_t> batch;
            append_datagram(batch, d, kServiceRecord);
            stream.push_list(std::move(batch), keys);
            listed += keys.size();
            add_helpers(listed);
        }
        return {};
    };
    // Whatever happens, the list ends (end_list below) before helpers is destroyed: a helper
    // waits in claim() for it.
    Status list;
    try {
        list = read_list();
    } catch (const std::bad_alloc&) {
        list = out_of_memory(svc_op);
    }
    stream.end_list(list);
    if (list) receive_dest_dumps(fd_, *rx_, first_dest_seq, stream);
}

void IpvsNetlinkClient::receive_dest_dumps(int fd, ReceiveSlots& rx, uint32_t first_dest_seq,
                                           DumpStream& stream) const {
    const char* op = "IPVS_CMD_GET_DEST";
    std::vector<uint8_t> req;
    // One service's dest dump (one at a time per socket: to its NLMSG_DONE or error ack), every
    // reply datagram appended to batch.
    auto dump_one = [&](uint32_t seq, const ServiceKey& key, std::vector<uint8_t>& batch) {
        req.clear();
        ipvs::encode_dump_dests(req, {family_, seq}, key);
        if (Status st = send_to_kernel(fd, req, op); !st) return st;
        for (bool done = false; !done;) {
            auto n = rx.receive(fd, op);
            if (!n) return Status{n.error()};
            for (size_t d = 0; d < *n; ++d) {
                append_datagram(batch, rx.datagram(d));
                // A malformed datagram ends the chunk: the decoder cannot read past it either.
                Status st = nl::for_each_message(rx.datagram(d), [&](const nl::Message& m) {
                    if (m.seq == seq && (m.type == NLMSG_DONE || m.type == NLMSG_ERROR))
                        done = true;
                    return Status{};
                });
                if (!st) return st;
            }
        }
        return Status{};
    };
    for (;;) {
        std::optional<DumpStream::Claim> claim;
        try {
            claim = stream.claim();
        } catch (const std::bad_alloc&) {
            return stream.fail(out_of_memory(op));
        }
        if (!claim) return;
        Status failure;
        try {
            std::vector<uint8_t> batch;
            batch.reserve(kHandoffBytes + rx.slot_bytes());
            for (size_t i = 0; i < claim->keys.size() && failure; ++i) {
                const uint32_t seq = first_dest_seq + static_cast<uint32_t>(claim->first + i);
                failure = dump_one(seq, claim->keys[i], batch);
                if (batch.size() >= kHandoffBytes) {
                    stream.push(claim->chunk, std::move(batch));
                    batch = {};
                    batch.reserve(kHandoffBytes + rx.slot_bytes());
                }
            }
            if (!batch.empty()) stream.push(claim->chunk, std::move(batch));
        } catch (const std::bad_alloc&) {
            failure = out_of_memory(op);
        }
        const bool ok = static_cast<bool>(failure);
        stream.end_chunk(claim->chunk, std::move(failure));
        if (!ok) return;
    }
}

Result<IpvsSnapshot> IpvsNetlinkClient::dump() {
    // The service list goes over a socket of its own, closed after this dump, so its 32 KiB reads
    // never enlarge the dest dumps' skbs on fd_ (and no late reply of it can outlive the dump).
    FdCloser svc{open_dump_socket()};
    if (svc.fd < 0) return sys_error(errno, "socket", "cannot open a generic netlink socket");

    // Seqs: svc_seq for the service list, then one per service for the dest dumps.
    const uint32_t svc_seq = next_seq();
    const uint32_t first_dest_seq = svc_seq + 1;
    DumpStream stream;
    std::jthread receiver;  // joined on every way out; it always runs to its end by itself
    if (opt_.overlap_dump_decoding)
        receiver = std::jthread([&] { receive_dump(svc.fd, svc_seq, stream); });
    else
        receive_dump(svc.fd, svc_seq, stream);  // everything queued before decoding

    // Per service, in the order the kernel listed them (= the order of their dest dumps).
    std::vector<ipvs::ServiceEntry> services;
    // Filled as each service's dests are complete, while later ones are still being received
    // (the kernel lists services in hash order; the first of a repeated one is kept).
    IpvsSnapshot snap;
    Status service_failure;  // the first service decode failure
    Status failure;          // the first dest failure, reported after the stream is drained
    size_t cur = 0;          // the service whose dests arrive now
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
    // keep: false if the service was gone before its dest dump (or that failed).
    auto finish_service = [&](bool keep) {
        const ServiceKey& k = services[cur].key;
        if (keep && !snap.table.services.contains(k)) {
            ipvs::ServiceDests d = ipvs::collect_dests(dests);
            snap.dest_counters.emplace(k, std::move(d.counters));
            snap.service_stats.emplace(k, services[cur].stats);
            snap.table.services.emplace(
                k, model::IpvsService{k, std::move(services[cur].spec), std::move(d.reals)});
        }
        dests.clear();
        ++cur;
    };
    auto on_dest = [&](const nl::Message& m) -> Status {
        if (cur >= services.size() || m.seq != static_cast<uint32_t>(first_dest_seq + cur))
            return {};  // not ours
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
    while (stream.pop(batch)) {
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
    const size_t dest_dumps = stream.listed();
    seq_ = svc_seq + static_cast<uint32_t>(dest_dumps);

    // What failed first in list order (the list, then each service's dests) is what is reported.
    if (Status st = stream.list_failure(); !st) return st.error();
    if (!service_failure) return service_failure.error();
    if (Status st = stream.chunk_failure(); !st) return st.error();
    if (!failure) return failure.error();
    if (cur != dest_dumps || services.size() != dest_dumps)
        return make_error(EPROTO, "IPVS_CMD_GET_DEST", {}, "dest dumps ended early");

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
    if (!st && st.error().code == EEXIST && opt_.idempotent) {
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
    if (!st && st.error().code == ESRCH && opt_.idempotent) return {};  // already stopped
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

Status IpvsNetlinkClient::flush() {
    std::vector<uint8_t> req;
    uint32_t seq = next_seq();
    ipvs::encode_flush(req, {family_, seq});
    return simple_write(std::move(req), seq, "IPVS_CMD_FLUSH", "all");
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
