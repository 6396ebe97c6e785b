// IPVS programming speed, in one kernel-lab run, each tool in its own fresh network namespace:
//   ballast apply() vs `ipvsadm -R` of the same table, ballast dump() vs `ipvsadm -Ln`,
//   a one-weight reconcile (dump + plan + apply), and the floor: a minimal raw generic-netlink
//   loop, one request then its ack, and the same requests pipelined.
// Prints a Markdown table. Usage: ipvs_bench [S...]   (default 1000 5000; D = 10)
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ballast/kernel/ipvs_codec.hpp"
#include "ballast/kernel/ipvs_netlink_client.hpp"
#include "ballast/kernel/netlink_socket.hpp"
#include "ballast/reconcile/plan.hpp"
#include "lab_support.hpp"
#include "send_counter.hpp"

using namespace ballast;
using namespace ballast::kernel;
using model::IpAddress;
using model::IpvsOp;
using model::IpvsTable;

namespace {

constexpr size_t kDests = 10;

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "ipvs_bench: %s\n", what.c_str());
    std::exit(1);
}

// Every namespace stays alive until exit (emptied by clear_namespace).
void fresh_netns() {
    if (Status st = lab::enter_fresh_netns_kept_open(); !st) die(st.error().describe());
}

IpvsTable table(size_t services) {
    IpvsTable t;
    for (size_t s = 0; s < services; ++s) {
        auto k = model::ServiceKey::inet(model::Protocol::tcp,
                                         IpAddress::v4(0xc6120000u + uint32_t(s)), 80);
        auto& svc = t.services[k];
        svc.key = k;
        svc.spec.scheduler = "wrr";
        for (size_t d = 0; d < kDests; ++d)
            svc.reals[{IpAddress::v4(0x0a000000u + uint32_t(s * kDests + d)), 8080}] =
                model::RealSpec{model::ForwardMethod::masquerade, 1, 0, 0};
    }
    return t;
}

std::vector<IpvsOp> add_ops(const IpvsTable& t) {
    return reconcile::plan(IpvsSnapshot{}, t, {}, {}, reconcile::Clock::now()).ops;
}

// Deletes every service of the current namespace outside any timed region, so its estimators
// (the 6.1 kernel recomputes every service's and dest's rates every 2 s) stop loading the CPU
// during the next measurement.
void clear_namespace() {
    auto c = IpvsNetlinkClient::open();
    if (!c) die(c.error().describe());
    auto services = (*c)->list_services();
    if (!services) die(services.error().describe());
    std::vector<IpvsOp> dels;
    for (const auto& s : *services) dels.push_back(IpvsOp::del_service(s.key));
    for (const auto& st : (*c)->apply(dels))
        if (!st) die("clear: " + st.error().describe());
}

void check_all_ok(const std::vector<Status>& r, const char* what) {
    for (const auto& s : r)
        if (!s) die(std::string(what) + ": " + s.error().describe());
}

// The floor: a raw generic-netlink socket, requests pre-encoded before the clock starts.
struct RawSocket {
    int fd = -1;
    uint16_t family = 0;
    std::vector<uint8_t> rx = std::vector<uint8_t>(256 * 1024);
    RawSocket() {
        auto c = IpvsNetlinkClient::open();  // only to learn the family id in this namespace
        if (!c) die(c.error().describe());
        family = (*c)->family_id();
        fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
        int one = 1, big = 16 << 20, snd = 1 << 20;
        ::setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
        ::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof snd);
        sockaddr_nl local{};
        local.nl_family = AF_NETLINK;
        if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) die("bind");
    }
    ~RawSocket() { ::close(fd); }
    void send(const uint8_t* p, size_t n) {
        sockaddr_nl k{};
        k.nl_family = AF_NETLINK;
        if (::sendto(fd, p, n, 0, reinterpret_cast<sockaddr*>(&k), sizeof k) < 0) die("sendto");
    }
    // Reads until `count` acks arrived; any non-zero error is fatal (the table is valid).
    // Reads one dump to its NLMSG_DONE, counting its messages; no decoding.
    size_t dump(const std::vector<uint8_t>& req) {
        send(req.data(), req.size());
        size_t msgs = 0;
        for (;;) {
            // The client's per-datagram length, so the kernel builds the same dump skbs.
            ssize_t n = ::recv(fd, rx.data(), nl::receive_slot_bytes(), 0);
            if (n < 0) die("recv");
            for (size_t off = 0; off + sizeof(nlmsghdr) <= size_t(n);) {
                auto* h = reinterpret_cast<nlmsghdr*>(rx.data() + off);
                if (h->nlmsg_type == NLMSG_DONE) return msgs;
                if (h->nlmsg_type == NLMSG_ERROR) die("raw dump error");
                ++msgs;
                off += NLMSG_ALIGN(h->nlmsg_len);
            }
        }
    }
    void acks(size_t count) {
        while (count > 0) {
            ssize_t n = ::recv(fd, rx.data(), rx.size(), 0);
            if (n < 0) die("recv");
            for (size_t off = 0; off + sizeof(nlmsghdr) <= size_t(n);) {
                auto* h = reinterpret_cast<nlmsghdr*>(rx.data() + off);
                if (h->nlmsg_type == NLMSG_ERROR) {
                    auto* e = reinterpret_cast<nlmsgerr*>(NLMSG_DATA(h));
                    if (e->error != 0) die("raw floor: kernel error " + std::to_string(e->error));
                    --count;
                }
                off += NLMSG_ALIGN(h->nlmsg_len);
            }
        }
    }
};

struct Encoded {
    std::vector<uint8_t> bytes;
    std::vector<size_t> offsets;  // start of each message
};
Encoded encode_all(const std::vector<IpvsOp>& ops, uint16_t family) {
    Encoded e;
    uint32_t seq = 1;
    for (const auto& op : ops) {
        e.offsets.push_back(e.bytes.size());
        ipvs::encode_op(e.bytes, {family, seq++}, op);
    }
    e.offsets.push_back(e.bytes.size());
    return e;
}

// Floor for a dump: the same requests as ballast's dump, replies counted, not decoded: the
// service list, then the dest dumps split into `sockets` contiguous runs, each on a socket and
// thread of its own (1: all on the list's socket). Runs in the current namespace.
double raw_dump(const IpvsTable& t, size_t sockets) {
    std::vector<std::unique_ptr<RawSocket>> raw;
    for (size_t i = 0; i < sockets; ++i) raw.push_back(std::make_unique<RawSocket>());
    std::vector<uint8_t> list;
    std::vector<std::vector<uint8_t>> reqs;
    uint32_t seq = 1;
    ipvs::encode_dump_services(list, {raw[0]->family, seq++});
    for (const auto& [k, s] : t.services) {
        reqs.emplace_back();
        ipvs::encode_dump_dests(reqs.back(), {raw[0]->family, seq++}, k);
    }
    std::vector<size_t> msgs(sockets);
    auto t0 = std::chrono::steady_clock::now();
    msgs[0] = raw[0]->dump(list);
    {
        std::vector<std::jthread> runs;
        for (size_t r = 0; r < sockets; ++r)
            runs.emplace_back([&, r] {
                for (size_t i = reqs.size() * r / sockets; i < reqs.size() * (r + 1) / sockets; ++i)
                    msgs[r] += raw[r]->dump(reqs[i]);
            });
    }
    double sec = seconds_since(t0);
    size_t total = 0;
    for (size_t m : msgs) total += m;
    if (total != t.services.size() + t.real_count()) die("raw dump: wrong message count");
    return sec;
}

double raw_one_at_a_time(const std::vector<IpvsOp>& ops) {
    fresh_netns();
    RawSocket raw;
    Encoded e = encode_all(ops, raw.family);
    auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i + 1 < e.offsets.size(); ++i) {
        raw.send(e.bytes.data() + e.offsets[i], e.offsets[i + 1] - e.offsets[i]);
        raw.acks(1);
    }
    double sec = seconds_since(t0);
    clear_namespace();
    return sec;
}

// encode_inside: whether the clock also covers encoding the requests (as ballast's does).
double raw_pipelined(const std::vector<IpvsOp>& ops, bool encode_inside) {
    fresh_netns();
    RawSocket raw;
    auto t0 = std::chrono::steady_clock::now();
    Encoded e = encode_all(ops, raw.family);
    if (!encode_inside) t0 = std::chrono::steady_clock::now();
    constexpr size_t kBatch = 2048;  // same window as the client's default
    for (size_t i = 0; i + 1 < e.offsets.size(); i += kBatch) {
        size_t j = std::min(i + kBatch, e.offsets.size() - 1);
        // Keep each sendmsg within the socket's send buffer.
        size_t start = i;
        while (start < j) {
            size_t end = start;
            while (end < j && e.offsets[end + 1] - e.offsets[start] <= 128 * 1024) ++end;
            raw.send(e.bytes.data() + e.offsets[start], e.offsets[end] - e.offsets[start]);
            start = end;
        }
        raw.acks(j - i);
    }
    double sec = seconds_since(t0);
    clear_namespace();
    return sec;
}

void row(const char* what, size_t s, size_t ops, double sec, const std::string& note = {}) {
    std::printf("| %s | %zu x %zu | %zu | %.3f | %.0f | %s |\n", what, s, kDests, ops, sec,
                ops / sec, note.c_str());
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<size_t> sizes;
    for (int i = 1; i < argc; ++i) sizes.push_back(std::strtoul(argv[i], nullptr, 10));
    if (sizes.empty()) sizes = {1000, 5000};

    std::printf("| measurement | table | ops | seconds | ops/s | notes |\n");
    std::printf("|---|---|---|---|---|---|\n");
    for (size_t s : sizes) {
        IpvsTable want = table(s);
        std::vector<IpvsOp> ops = add_ops(want);
        const size_t n = ops.size();

        // The floors first, so any warm-up advantage goes to them, not to ballast.
        double floor_serial = raw_one_at_a_time(ops);
        double floor_pipelined = raw_pipelined(ops, false);
        double floor_pipelined_enc = raw_pipelined(ops, true);

        // ballast: program from empty, dump, one-weight reconcile.
        fresh_netns();
        auto client = IpvsNetlinkClient::open();
        if (!client) die(client.error().describe());
        const size_t sends_before = testing::send_calls();
        auto t0 = std::chrono::steady_clock::now();
        auto results = (*client)->apply(ops);
        double ballast_program = seconds_since(t0);
        check_all_ok(results, "ballast apply");
        const size_t batches = testing::send_calls() - sends_before;
        // The dump floors run once before and once after ballast's dumps; the faster counts.
        double floor_dump = raw_dump(want, 1);
        double floor_dump2 = raw_dump(want, 2);

        t0 = std::chrono::steady_clock::now();
        auto snap = (*client)->dump();
        double ballast_dump = seconds_since(t0);
        if (!snap) die(snap.error().describe());
        if (snap->table.real_count() != s * kDests) die("ballast dump: wrong destination count");
        // The same dump on one socket, and with receiving and decoding on one thread.
        auto dump_with = [&](bool overlap, const char* what) {
            IpvsNetlinkClient::Options o;
            o.overlap_dump_decoding = overlap;
            o.dump_sockets = 1;
            auto other = IpvsNetlinkClient::open(o);
            if (!other) die(other.error().describe());
            auto t = std::chrono::steady_clock::now();
            auto snap1 = (*other)->dump();
            double sec = seconds_since(t);
            if (!snap1 || snap1->table != snap->table) die(std::string(what) + " dump differs");
            return sec;
        };
        const double ballast_dump_one_socket = dump_with(true, "one-socket");
        const double ballast_dump_one_thread = dump_with(false, "one-thread");

        // Three one-weight reconciles, alternating the weight so each has exactly one change;
        // the median is reported, with each one's dump / plan / apply split.
        IpvsTable changed = want;
        changed.services.begin()->second.reals.begin()->second.weight = 42;
        reconcile::Ownership owned = reconcile::Ownership::of(want);
        std::vector<double> reconciles;
        std::string reconcile_note = "1 op (edit_dest) each; dump/plan/apply s:";
        for (int round = 0; round < 3; ++round) {
            const IpvsTable& desired = round % 2 == 0 ? changed : want;
            t0 = std::chrono::steady_clock::now();
            auto observed = (*client)->dump();
            if (!observed) die(observed.error().describe());
            double t_dump = seconds_since(t0);
            auto p = reconcile::plan(*observed, desired, owned, {}, reconcile::Clock::now());
            double t_plan = seconds_since(t0);
            auto applied = (*client)->apply(p.ops);
            double total = seconds_since(t0);
            check_all_ok(applied, "one-change apply");
            if (p.ops.size() != 1)
                die("one-change plan has " + std::to_string(p.ops.size()) + " ops");
            reconciles.push_back(total);
            char part[96];
            std::snprintf(part, sizeof part, " %.3f/%.3f/%.3f", t_dump, t_plan - t_dump,
                          total - t_plan);
            reconcile_note += part;
        }
        std::vector<double> sorted = reconciles;
        std::sort(sorted.begin(), sorted.end());
        double one_change = sorted[1];
        floor_dump = std::min(floor_dump, raw_dump(want, 1));
        floor_dump2 = std::min(floor_dump2, raw_dump(want, 2));
        client->reset();
        clear_namespace();

        // ipvsadm: restore the same table, then list it.
        fresh_netns();
        std::string rules = lab::to_ipvsadm_rules(want);
        t0 = std::chrono::steady_clock::now();
        auto restore = lab::run({"ipvsadm", "-R"}, rules);
        double ipvsadm_program = seconds_since(t0);
        if (restore.exit_code != 0) die("ipvsadm -R: " + restore.out);
        t0 = std::chrono::steady_clock::now();
        auto list = lab::run({"ipvsadm", "-Ln"});
        double ipvsadm_dump = seconds_since(t0);
        if (list.exit_code != 0) die("ipvsadm -Ln: " + list.out);
        clear_namespace();

        char note[256];
        std::snprintf(note, sizeof note,
                      "encoding inside the clock; %zu sendmsg batches; %.1fx ipvsadm -R; %.0f%% "
                      "of pipelined floor (pre-encoded), %.0f%% (encoding inside)",
                      batches, ipvsadm_program / ballast_program,
                      100.0 * floor_pipelined / ballast_program,
                      100.0 * floor_pipelined_enc / ballast_program);
        row("ballast apply (program from empty)", s, n, ballast_program, note);
        row("ipvsadm -R (same table, incl. process start)", s, n, ipvsadm_program);
        row("floor: raw genl, one request then its ack (pre-encoded)", s, n, floor_serial);
        row("floor: raw genl, pipelined, 2048 in flight (pre-encoded)", s, n, floor_pipelined);
        row("floor: raw genl, pipelined, 2048 in flight (encoding inside)", s, n,
            floor_pipelined_enc);
        std::snprintf(note, sizeof note,
                      "1 GET_SERVICE dump + %zu GET_DEST dumps on 2 sockets; %.1fx ipvsadm -Ln; "
                      "%.0f%% of the 2-socket floor, %.0f%% of the 1-socket floor",
                      s, ipvsadm_dump / ballast_dump, 100.0 * floor_dump2 / ballast_dump,
                      100.0 * floor_dump / ballast_dump);
        row("ballast dump", s, s * (kDests + 1), ballast_dump, note);
        std::snprintf(note, sizeof note, "%.0f%% of the 1-socket floor",
                      100.0 * floor_dump / ballast_dump_one_socket);
        row("ballast dump on one socket (a receiving thread, decoding on the caller's)", s,
            s * (kDests + 1), ballast_dump_one_socket, note);
        row("ballast dump, receiving and decoding on one thread", s, s * (kDests + 1),
            ballast_dump_one_thread);
        row("ipvsadm -Ln (incl. process start)", s, s * (kDests + 1), ipvsadm_dump);
        row("floor: raw genl dump, same requests, one socket, one recv per datagram, no decoding "
            "(best of 2)",
            s, s * (kDests + 1), floor_dump);
        row("floor: the same, dest dumps split over 2 sockets and threads (best of 2)", s,
            s * (kDests + 1), floor_dump2);
        row("one-weight reconcile: dump + plan + apply (median of 3)", s, 1, one_change,
            reconcile_note);
    }
    return 0;
}
