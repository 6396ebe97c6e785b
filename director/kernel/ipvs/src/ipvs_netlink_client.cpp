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
#include <cstddef>
#include <cstring>
#include <optional>
#include <utility>

#include "ballast/kernel/ipvs_dump.hpp"
#include "ballast/kernel/ipvs_errors.hpp"
#include "ballast/kernel/netlink_socket.hpp"

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

// The request at `at` (already encoded in `batch`) asks for no ack of its success.
void clear_ack_flag(std::vector<uint8_t>& batch, size_t at) {
    uint16_t flags;
    std::memcpy(&flags, batch.data() + at + offsetof(nlmsghdr, nlmsg_flags), sizeof flags);
    flags = static_cast<uint16_t>(flags & ~NLM_F_ACK);
    std::memcpy(batch.data() + at + offsetof(nlmsghdr, nlmsg_flags), &flags, sizeof flags);
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
    int fd = nl::open_generic_socket(options.receive_timeout);
    if (fd < 0) return nl::sys_error(errno, "socket", "cannot open a generic netlink socket");
    std::unique_ptr<IpvsNetlinkClient> c(new IpvsNetlinkClient(fd, options));
    c->rx_ = std::make_unique<nl::ReceiveSlots>(kRxSlots);

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

    // dump()'s other sockets, opened now so that they are in this namespace whichever thread
    // dumps: the service list's own (its 32 KiB reads never enlarge the dest dumps' skbs on fd),
    // and the further ones its dest dumps go out on.
    c->list_fd_ = nl::open_generic_socket(options.receive_timeout);
    if (c->list_fd_ < 0)
        return nl::sys_error(errno, "socket", "cannot open a generic netlink socket");
    for (size_t i = 1; i < options.dump_sockets; ++i) {
        const int further = nl::open_generic_socket(options.receive_timeout);
        if (further < 0)
            return nl::sys_error(errno, "socket", "cannot open a generic netlink socket");
        c->further_fds_.push_back(further);
    }

    Result<uint16_t> id = resolve_ipvs_family();
    if (!id) return id.error();
    c->family_ = *id;
    return c;
}

IpvsNetlinkClient::IpvsNetlinkClient(int fd, Options o) : fd_(fd), opt_(o), seq_(o.initial_seq) {}

IpvsNetlinkClient::~IpvsNetlinkClient() {
    if (fd_ >= 0) ::close(fd_);
    if (list_fd_ >= 0) ::close(list_fd_);
    for (int fd : further_fds_) ::close(fd);
}

Status IpvsNetlinkClient::send_bytes(std::span<const uint8_t> bytes, const char* op) {
    return nl::send_request(fd_, bytes, op);
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
    Status result;  // of on_msg: ok until it fails once
    bool done = false;
    auto on_reply = [&](const nl::Message& m) -> Status {
        if (m.seq != seq) return {};  // a stale reply of an earlier, failed exchange
        if (m.type == NLMSG_ERROR || m.type == NLMSG_DONE) {
            auto err = nl::end_of_dump_errno(m);
            if (!err) return err.error();
            if (*err != 0) return make_error(*err, op, key);
            done = true;
            return {};
        }
        if (mode == Mode::write) return {};
        if (result.ok()) result = on_msg(m);  // after a failure, drain: the socket stays in sync
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
    std::vector<uint8_t> batch;
    batch.reserve(opt_.max_batch_bytes + 1024);

    size_t i = 0;
    while (i < ops.size()) {
        batch.clear();
        // seq -> op index for this batch; seqs are consecutive so a vector suffices.
        const uint32_t base = seq_ + 1;
        std::vector<size_t> index;
        size_t last_start = 0;  // where the batch's last request begins
        while (i < ops.size() && batch.size() < opt_.max_batch_bytes && index.size() < window_) {
            if (Status v = ipvs::validate_op(ops[i]); !v) {
                results[i++] = v;
                continue;
            }
            const size_t start = batch.size();  // requests end aligned: the next begins here
            ipvs::encode_op(batch, {family_, next_seq()}, ops[i]);
            if (!opt_.ack_every_request && !index.empty()) clear_ack_flag(batch, last_start);
            last_start = start;
            index.push_back(i++);
        }
        if (index.empty()) continue;
        const char* op = "IPVS batch";
        std::vector<bool> answered(index.size(), false);
        size_t pending = index.size();
        // Why the acks still missing will never come (a failed send or receive); none while
        // all is well.
        std::optional<Error> lost;
        if (Status sent = send_bytes(batch, op); !sent.ok()) lost = sent.error();
        // Acked only at the end: the last request's ack follows every earlier error ack, as the
        // kernel queued them in order, so once it is in the unanswered requests succeeded.
        bool closed = false;
        while (!lost && pending > 0 && !closed) {
            auto n = receive(op);
            if (!n) {
                lost = n.error();
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
                if (slot + 1 == index.size() && !opt_.ack_every_request) closed = true;
                return {};
            };
            // A malformed datagram is skipped: its ops stay unanswered and are reported so.
            for (size_t d = 0; d < *n; ++d) (void)nl::for_each_message(datagram(d), on_ack);
        }
        if (closed) std::fill(answered.begin(), answered.end(), true);  // errnos stay 0
        for (size_t s = 0; s < index.size(); ++s) {
            size_t k = index[s];
            if (!answered[s]) {
                Error e = *lost;
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

Result<IpvsSnapshot> IpvsNetlinkClient::dump() {
    ipvs::DumpSockets sockets{list_fd_, fd_, rx_.get(), further_fds_};
    ipvs::DumpOptions options{family_, opt_.dump_sockets, opt_.overlap_dump_decoding,
                              opt_.encode_dump_counters};
    ipvs::DumpOutcome out = ipvs::dump_table(sockets, options, seq_ + 1);
    seq_ += out.seqs_used;
    return std::move(out.snapshot);
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
