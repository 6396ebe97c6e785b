// Real-kernel round trips of the IPVS netlink client, run inside the qemu kernel
// lab (scripts/lab-vm). Every test gets a fresh network namespace with lo up, and
// reads state back both through our dump and through ipvsadm as an oracle.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ostream>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "ballast/kernel/ipvs_netlink_client.hpp"
#include "ballast/reconcile/plan.hpp"
#include "lab_support.hpp"
#include "send_counter.hpp"

namespace ballast::model {
// Readable gtest output for table mismatches: every attribute we compare.
void PrintTo(const IpvsTable& t, std::ostream* os) {
    *os << "\n";
    for (const auto& [k, s] : t.services) {
        *os << "  " << k.to_string() << " sched=" << s.spec.scheduler
            << " flags=" << s.spec.flags.to_bits()
            << " persist=" << (s.spec.persistence ? std::to_string(*s.spec.persistence) : "-")
            << " mask=" << s.spec.netmask << " pe=" << s.spec.pe_name << "\n";
        for (const auto& [r, d] : s.reals)
            *os << "    -> " << r.to_string() << " " << to_string(d.forward) << " w=" << d.weight
                << " u=" << d.upper_threshold << " l=" << d.lower_threshold << "\n";
    }
}
}  // namespace ballast::model

namespace ballast::kernel {
namespace {

using ipvs::SyncDaemon;
using ipvs::Timeouts;
using model::ForwardMethod;
using model::IpAddress;
using model::IpvsOp;
using model::IpvsService;
using model::IpvsTable;
using model::Protocol;
using model::RealKey;
using model::RealSpec;
using model::ServiceKey;
using model::ServiceSpec;

IpAddress ip(const char* s) {
    return *IpAddress::parse(s);
}
ServiceKey tcp(const char* a, uint16_t port) {
    return ServiceKey::inet(Protocol::tcp, ip(a), port);
}

// What a dump is compared on: the kernel-internal hashed flag dropped, persistent derived.
IpvsTable normalized(IpvsTable t) {
    for (auto& [k, s] : t.services) s.spec = reconcile::normalized(s.spec);
    return t;
}

IpvsTable without_thresholds(IpvsTable t) {
    for (auto& [k, s] : t.services)
        for (auto& [r, spec] : s.reals) spec.upper_threshold = spec.lower_threshold = 0;
    return t;
}

std::vector<IpvsOp> add_ops(const IpvsTable& t) {
    std::vector<IpvsOp> ops;
    for (const auto& [k, s] : t.services) ops.push_back(IpvsOp::add_service(k, s.spec));
    for (const auto& [k, s] : t.services)
        for (const auto& [r, spec] : s.reals) ops.push_back(IpvsOp::add_dest(k, r, spec));
    return ops;
}

void expect_all_ok(const std::vector<Status>& results, std::span<const IpvsOp> ops) {
    ASSERT_EQ(results.size(), ops.size());
    for (size_t i = 0; i < results.size(); ++i)
        EXPECT_TRUE(results[i].ok()) << ops[i].to_string() << ": " << results[i].error().describe();
}

// A table exercising every kind of service and destination the client supports.
IpvsTable varied_table() {
    IpvsTable t;
    auto add = [&](ServiceKey k, ServiceSpec s) -> IpvsService& {
        auto& svc = t.services[k];
        svc.key = k;
        svc.spec = s;
        return svc;
    };
    ServiceSpec wlc;
    auto& web = add(tcp("192.0.2.1", 80), wlc);
    web.reals[{ip("10.0.0.2"), 80}] = RealSpec{ForwardMethod::masquerade, 5, 100, 10};
    web.reals[{ip("10.0.0.3"), 8080}] = RealSpec{ForwardMethod::masquerade, 0, 0, 0};
    web.reals[{ip("2001:db8::9"), 80}] = RealSpec{ForwardMethod::tunnel, 2, 0, 0};  // mixed family

    ServiceSpec sh;
    sh.scheduler = "sh";
    sh.persistence = 300;
    sh.netmask = 0xffffff00;
    sh.flags.one_packet = true;
    sh.flags.sched_flag1 = true;
    sh.flags.sched_flag2 = true;
    auto& dns = add(ServiceKey::inet(Protocol::udp, ip("192.0.2.1"), 53), sh);
    dns.reals[{ip("10.0.0.4"), 53}] = RealSpec{ForwardMethod::tunnel, 1, 0, 0};
    dns.reals[{ip("10.0.0.5"), 53}] = RealSpec{ForwardMethod::route, 3, 0, 0};

    ServiceSpec rr;
    rr.scheduler = "rr";
    add(ServiceKey::inet(Protocol::sctp, ip("192.0.2.2"), 9000), rr).reals[{ip("10.0.0.6"), 9000}] =
        RealSpec{};

    ServiceSpec mh;
    mh.scheduler = "mh";
    mh.flags.sched_flag2 = true;  // mh-port
    add(ServiceKey::mark(7), mh).reals[{ip("10.0.0.7"), 80}] =
        RealSpec{ForwardMethod::masquerade, 4, 0, 0};

    ServiceSpec v6p;
    v6p.scheduler = "rr";
    v6p.persistence = 60;
    v6p.netmask = 64;
    add(ServiceKey::mark(8, AF_INET6), v6p);

    ServiceSpec wrr;
    wrr.scheduler = "wrr";
    wrr.netmask = 128;
    auto& v6 = add(ServiceKey::inet(Protocol::tcp, ip("2001:db8::1"), 443), wrr);
    v6.reals[{ip("2001:db8::2"), 443}] = RealSpec{ForwardMethod::masquerade, 3, 0, 0};
    v6.reals[{ip("2001:db8::3"), 8443}] = RealSpec{ForwardMethod::masquerade, 7, 50, 5};
    return t;
}

IpvsTable big_table(size_t services, size_t dests) {
    IpvsTable t;
    for (size_t s = 0; s < services; ++s) {
        // 198.18.x.y: one VIP per service; reals from 10.0.0.0 up.
        auto k = ServiceKey::inet(Protocol::tcp, IpAddress::v4(0xc6120000u + uint32_t(s)), 80);
        auto& svc = t.services[k];
        svc.key = k;
        svc.spec.scheduler = "wrr";
        for (size_t d = 0; d < dests; ++d)
            svc.reals[{IpAddress::v4(0x0a000000u + uint32_t(s * dests + d)), 8080}] =
                RealSpec{ForwardMethod::masquerade, 1, 0, 0};
    }
    return t;
}

class IpvsLab : public ::testing::Test {
protected:
    void SetUp() override {
        Status ns = lab::enter_fresh_netns();
        ASSERT_TRUE(ns.ok()) << ns.error().describe();
        auto c = IpvsNetlinkClient::open();
        ASSERT_TRUE(c.ok()) << c.error().describe();
        client = std::move(*c);
        auto empty = client->dump();
        ASSERT_TRUE(empty.ok()) << empty.error().describe();
        ASSERT_TRUE(empty->table.services.empty()) << "a fresh namespace must start empty";
    }
    void TearDown() override {
        // The kernel keeps every namespace's services in one table and resumes a multi-part
        // dump by position in it. A namespace left behind is cleaned up later, asynchronously;
        // its services vanishing in the middle of the next test's dump would make that dump
        // skip one of the next test's services. So each test removes its own before it leaves.
        if (!client) return;
        auto d = client->dump();
        ASSERT_TRUE(d.ok()) << d.error().describe();
        std::vector<IpvsOp> ops;
        for (const auto& [k, svc] : d->table.services) ops.push_back(IpvsOp::del_service(k));
        for (const auto& st : client->apply(ops)) EXPECT_TRUE(st.ok()) << st.error().describe();
    }
    IpvsTable dump_table() {
        auto d = client->dump();
        EXPECT_TRUE(d.ok()) << d.error().describe();
        return d.ok() ? normalized(d->table) : IpvsTable{};
    }
    IpvsTable ipvsadm_table() {
        auto r = lab::run({"ipvsadm", "-S", "-n"});
        EXPECT_EQ(r.exit_code, 0) << r.out;
        return normalized(lab::parse_ipvsadm_save(r.out));
    }
    std::unique_ptr<IpvsNetlinkClient> client;
};

TEST_F(IpvsLab, InfoAndTimeoutsMatchIpvsadm) {
    auto info = client->info();
    ASSERT_TRUE(info.ok()) << info.error().describe();
    EXPECT_EQ(info->version_string(), "1.2.1");
    ASSERT_GT(info->conn_tab_size, 0u);

    auto before = client->get_timeouts();
    ASSERT_TRUE(before.ok()) << before.error().describe();
    EXPECT_GT(before->tcp, 0u);
    ASSERT_TRUE(client->set_timeouts(Timeouts{1000, 0, 200}).ok());  // tcp_fin unchanged
    auto after = client->get_timeouts();
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(*after, (Timeouts{1000, before->tcp_fin, 200}));

    auto r = lab::run({"ipvsadm", "-L", "-n", "--timeout"});
    EXPECT_NE(
        r.out.find("Timeout (tcp tcpfin udp): 1000 " + std::to_string(before->tcp_fin) + " 200"),
        std::string::npos)
        << r.out;
    auto l = lab::run({"ipvsadm", "-L", "-n"});
    EXPECT_NE(l.out.find("(size=" + std::to_string(info->conn_tab_size) + ")"), std::string::npos)
        << l.out;
}

TEST_F(IpvsLab, RoundTripEveryKindOfServiceAndDestThroughIpvsadm) {
    IpvsTable want = varied_table();
    auto ops = add_ops(want);
    expect_all_ok(client->apply(ops), ops);
    EXPECT_EQ(dump_table(), normalized(want));
    // ipvsadm -S does not print thresholds; `ipvsadm -Ln --thresholds` does.
    EXPECT_EQ(ipvsadm_table(), without_thresholds(normalized(want)));
    auto th = lab::run({"ipvsadm", "-L", "-n", "--thresholds"});
    EXPECT_TRUE(std::regex_search(th.out, std::regex(R"(-> 10\.0\.0\.2:80\s+100\s+10\s)")))
        << th.out;
    EXPECT_TRUE(std::regex_search(th.out, std::regex(R"(-> \[2001:db8::3\]:8443\s+50\s+5\s)")))
        << th.out;

    // In-place edits: scheduler, persistence, flags, weight, thresholds, forwarding method.
    IpvsTable edited = want;
    std::vector<IpvsOp> edits;
    auto& web = edited.services.at(tcp("192.0.2.1", 80));
    web.spec.scheduler = "lc";
    web.spec.persistence = 120;
    web.spec.netmask = 0xffff0000;
    edits.push_back(IpvsOp::edit_service(web.key, web.spec));
    auto& r2 = web.reals.at({ip("10.0.0.2"), 80});
    r2 = RealSpec{ForwardMethod::masquerade, 9, 0, 0};
    edits.push_back(IpvsOp::edit_dest(web.key, {ip("10.0.0.2"), 80}, r2));
    auto& dns = edited.services.at(ServiceKey::inet(Protocol::udp, ip("192.0.2.1"), 53));
    dns.spec.persistence.reset();
    dns.spec.netmask = 0xffffffff;  // ipvsadm -S shows the mask only for persistent services
    dns.spec.flags = {};
    dns.spec.scheduler = "sed";
    edits.push_back(IpvsOp::edit_service(dns.key, dns.spec));
    auto& r5 = dns.reals.at({ip("10.0.0.5"), 53});
    r5 = RealSpec{ForwardMethod::tunnel, 8, 20, 2};
    edits.push_back(IpvsOp::edit_dest(dns.key, {ip("10.0.0.5"), 53}, r5));
    expect_all_ok(client->apply(edits), edits);
    EXPECT_EQ(dump_table(), normalized(edited));

    // Deletes: one dest, then every service (destinations go with their service).
    std::vector<IpvsOp> dels = {IpvsOp::del_dest(web.key, {ip("10.0.0.3"), 8080})};
    edited.services.at(web.key).reals.erase({ip("10.0.0.3"), 8080});
    expect_all_ok(client->apply(dels), dels);
    EXPECT_EQ(dump_table(), normalized(edited));
    EXPECT_EQ(ipvsadm_table(), without_thresholds(normalized(edited)));
    dels.clear();
    for (const auto& [k, s] : edited.services) dels.push_back(IpvsOp::del_service(k));
    expect_all_ok(client->apply(dels), dels);
    EXPECT_TRUE(dump_table().services.empty());
    EXPECT_TRUE(ipvsadm_table().services.empty());
}

TEST_F(IpvsLab, WhatIpvsadmWritesOurDumpReadsExactly) {
    IpvsTable want = varied_table();
    // ipvsadm forces a route/tunnel destination's port to the service's; keep them equal.
    auto r = lab::run({"ipvsadm", "-R"}, lab::to_ipvsadm_rules(want));
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(dump_table(), normalized(want));
    auto snap = client->dump();
    ASSERT_TRUE(snap.ok());
    const auto& counters = snap->dest_counters.at(tcp("192.0.2.1", 80));
    EXPECT_EQ(counters.size(), 3u);
    for (const auto& [real, c] : counters) EXPECT_EQ(c.total_conns(), 0u) << real.to_string();
}

// The service list arrives in several datagrams (32 KiB reads on dump()'s second socket) and
// the dest dumps follow in the kernel's order; threaded or not, the snapshot is the table, with
// counters for exactly its reals, and the client's sequence numbers stay in step afterwards.
TEST_F(IpvsLab, ALongServiceListDumpsWholeOnAnyNumberOfSocketsWithOrWithoutTheReceivingThread) {
    IpvsTable want = varied_table();
    for (const auto& [k, s] : big_table(400, 3).services) want.services.emplace(k, s);
    // Some services without reals, between the others in key order.
    for (uint32_t i = 0; i < 20; ++i) {
        auto k = ServiceKey::inet(Protocol::udp, IpAddress::v4(0xc6120000u + i * 7), 53);
        want.services[k] = IpvsService{k, ServiceSpec{}, {}};
    }
    auto plan = reconcile::plan(kernel::IpvsSnapshot{}, want, {}, {}, reconcile::Clock::now());
    for (const auto& st : client->apply(plan.ops)) ASSERT_TRUE(st.ok()) << st.error().describe();

    // Over 420 services: seven chunks of dest dumps, shared by up to four sockets.
    std::vector<std::unique_ptr<IpvsNetlinkClient>> others;
    for (auto [overlap, sockets] : {std::pair{false, 1}, {true, 1}, {false, 3}, {true, 4}}) {
        IpvsNetlinkClient::Options o;
        o.overlap_dump_decoding = overlap;
        o.dump_sockets = sockets;
        auto c = IpvsNetlinkClient::open(o);
        ASSERT_TRUE(c.ok()) << c.error().describe();
        others.push_back(std::move(*c));
    }
    std::vector<IpvsNetlinkClient*> clients{client.get()};  // the defaults
    for (const auto& o : others) clients.push_back(o.get());
    for (IpvsNetlinkClient* c : clients) {
        for (int round = 0; round < 2; ++round) {  // a second dump on the same client
            auto snap = c->dump();
            ASSERT_TRUE(snap.ok()) << snap.error().describe();
            EXPECT_EQ(normalized(snap->table), normalized(want));
            ASSERT_EQ(snap->dest_counters.size(), want.services.size());
            ASSERT_EQ(snap->service_stats.size(), want.services.size());
            for (const auto& [k, svc] : want.services) {
                const auto& counters = snap->dest_counters.at(k);
                ASSERT_EQ(counters.size(), svc.reals.size()) << k.to_string();
                auto r = svc.reals.begin();
                for (const auto& [real, c] : counters) EXPECT_EQ(real, (r++)->first);
            }
        }
        // Requests after the dumps are still matched to their replies.
        auto web = tcp("192.0.2.1", 80);
        auto got = c->get_service(web);
        ASSERT_TRUE(got.ok()) << got.error().describe();
        EXPECT_EQ(got->key, web);
        const RealKey real{ip("10.0.0.2"), 80};
        Status edit = c->edit_dest(web, real, RealSpec{ForwardMethod::masquerade, 9, 100, 10});
        EXPECT_TRUE(edit.ok()) << edit.error().describe();
        auto dests = c->list_dests(web);
        ASSERT_TRUE(dests.ok()) << dests.error().describe();
        bool seen = false;
        for (const auto& d : *dests) {
            if (d.key != real) continue;
            seen = true;
            EXPECT_EQ(d.spec.weight, 9u);
        }
        EXPECT_TRUE(seen);
        edit = c->edit_dest(web, real, want.services.at(web).reals.at(real));
        EXPECT_TRUE(edit.ok()) << edit.error().describe();
    }

    // Counters encoded as the dump arrives (as ballastd dumps): the same table, and the counters
    // the maps of a dump in the same moment encode to.
    IpvsNetlinkClient::Options o;
    o.encode_dump_counters = true;
    auto encoding = IpvsNetlinkClient::open(o);
    ASSERT_TRUE(encoding.ok()) << encoding.error().describe();
    auto as_maps = client->dump();
    auto encoded = (*encoding)->dump();
    ASSERT_TRUE(as_maps.ok()) << as_maps.error().describe();
    ASSERT_TRUE(encoded.ok()) << encoded.error().describe();
    EXPECT_EQ(encoded->table, as_maps->table);
    EXPECT_TRUE(encoded->service_stats.empty());
    EXPECT_TRUE(encoded->dest_counters.empty());
    ASSERT_TRUE(encoded->counters);
    EXPECT_EQ(encoded->counters->size(), want.services.size());
    EXPECT_EQ(*encoded->counters,
              kernel::IpvsCounters(0, as_maps->service_stats, as_maps->dest_counters));
}

// Services deleted by someone else while dumps run, on every number of sockets: each dump
// succeeds, and every service in it is one of the table's with all its reals, or with none (a
// 6.1 kernel answers the dest dump of a service deleted after the list with an empty dump).
TEST_F(IpvsLab, DumpsStayWholeWhileAnotherClientDeletesServices) {
    const IpvsTable want = normalized(big_table(1500, 2));
    auto plan = reconcile::plan(kernel::IpvsSnapshot{}, want, {}, {}, reconcile::Clock::now());
    for (const auto& st : client->apply(plan.ops)) ASSERT_TRUE(st.ok()) << st.error().describe();

    auto deleter = IpvsNetlinkClient::open();
    ASSERT_TRUE(deleter.ok()) << deleter.error().describe();
    std::vector<ServiceKey> keys;
    for (const auto& [k, svc] : want.services) keys.push_back(k);
    std::shuffle(keys.begin(), keys.end(), std::mt19937(11));
    std::atomic<bool> deleting{true};
    std::jthread deletions([&] {
        for (const auto& k : keys) {
            EXPECT_TRUE((*deleter)->del_service(k).ok());
            // Paced, so that many dumps run while the table shrinks.
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        deleting = false;
    });

    std::vector<std::unique_ptr<IpvsNetlinkClient>> dumpers;
    for (size_t sockets : {1, 2, 4}) {
        IpvsNetlinkClient::Options o;
        o.dump_sockets = sockets;
        auto c = IpvsNetlinkClient::open(o);
        ASSERT_TRUE(c.ok()) << c.error().describe();
        dumpers.push_back(std::move(*c));
    }
    size_t dumps = 0, partial = 0, emptied = 0;
    while (deleting) {
        auto snap = dumpers[dumps % dumpers.size()]->dump();
        ++dumps;
        ASSERT_TRUE(snap.ok()) << snap.error().describe();
        if (snap->table.services.size() < want.services.size()) ++partial;
        for (const auto& [k, svc] : normalized(snap->table).services) {
            auto w = want.services.find(k);
            ASSERT_NE(w, want.services.end()) << k.to_string();
            EXPECT_EQ(svc.spec, w->second.spec) << k.to_string();
            if (svc.reals.empty()) ++emptied;
            if (!svc.reals.empty()) {
                EXPECT_EQ(svc.reals, w->second.reals) << k.to_string();
            }
        }
    }
    deletions.join();
    std::printf("%zu dumps, %zu partial, %zu services seen without their reals\n", dumps, partial,
                emptied);
    EXPECT_GT(partial, 0u) << "no dump ran while services were being deleted (" << dumps << ")";
    EXPECT_TRUE(dump_table().services.empty());
}

// Sequence numbers wrap at 2^32 in a long-running daemon: a pipelined apply and a dump whose
// requests cross the wrap still match every reply to its request.
TEST_F(IpvsLab, PipelinedApplyAndDumpAcrossTheSequenceNumberWrap) {
    const IpvsTable want = normalized(big_table(300, 3));
    auto plan = reconcile::plan(kernel::IpvsSnapshot{}, want, {}, {}, reconcile::Clock::now());
    ASSERT_EQ(plan.ops.size(), 1200u);
    IpvsNetlinkClient::Options o;
    o.initial_seq = UINT32_MAX - 500;  // the apply's requests cross the wrap
    auto writer = IpvsNetlinkClient::open(o);
    ASSERT_TRUE(writer.ok()) << writer.error().describe();
    for (const auto& st : (*writer)->apply(plan.ops)) ASSERT_TRUE(st.ok()) << st.error().describe();

    for (size_t sockets : {1, 2}) {
        o.initial_seq = UINT32_MAX - 100;  // the dest dumps' requests cross the wrap
        o.dump_sockets = sockets;
        auto reader = IpvsNetlinkClient::open(o);
        ASSERT_TRUE(reader.ok()) << reader.error().describe();
        auto snap = (*reader)->dump();
        ASSERT_TRUE(snap.ok()) << snap.error().describe();
        EXPECT_EQ(normalized(snap->table), want);
        // And the next request, numbered after the wrap, is answered.
        const ServiceKey first = want.services.begin()->first;
        auto got = (*reader)->get_service(first);
        ASSERT_TRUE(got.ok()) << got.error().describe();
        EXPECT_EQ(got->key, first);
    }
}

TEST_F(IpvsLab, IdenticalAddAndAbsentDeleteSucceed) {
    auto web = tcp("192.0.2.1", 80);
    ServiceSpec spec;
    RealKey real{ip("10.0.0.2"), 80};
    RealSpec rs{ForwardMethod::masquerade, 5, 0, 0};
    std::vector<IpvsOp> ops = {IpvsOp::add_service(web, spec), IpvsOp::add_dest(web, real, rs)};
    expect_all_ok(client->apply(ops), ops);
    expect_all_ok(client->apply(ops), ops);  // identical again: success

    ServiceSpec other = spec;
    other.scheduler = "rr";
    Status s = client->add_service(web, other);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, EEXIST);
    EXPECT_EQ(s.error().message,
              "service 192.0.2.1:80/tcp already exists with different attributes");
    Status d = client->add_dest(web, real, RealSpec{ForwardMethod::masquerade, 6, 0, 0});
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error().code, EEXIST);

    std::vector<IpvsOp> dels = {IpvsOp::del_dest(web, {ip("10.0.0.99"), 80}),
                                IpvsOp::del_dest(tcp("192.0.2.77", 80), real),
                                IpvsOp::del_service(tcp("192.0.2.77", 80))};
    expect_all_ok(client->apply(dels), dels);
    EXPECT_EQ(dump_table().services.at(web).reals.size(), 1u);  // nothing else was touched
}

TEST_F(IpvsLab, ErrorsCarryTheOperatorMessage) {
    auto web = tcp("192.0.2.1", 80);
    ServiceSpec twos;  // ip_vs_twos is not in Debian's 6.1 kernel, so it cannot be loaded
    twos.scheduler = "twos";
    Status s = client->add_service(web, twos);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ENOENT);
    EXPECT_EQ(s.error().message, "scheduler 'twos' is not available: load ip_vs_twos");
    EXPECT_EQ(s.error().op, "IPVS_CMD_NEW_SERVICE");
    EXPECT_EQ(s.error().key, "192.0.2.1:80/tcp");

    Status d = client->add_dest(web, {ip("10.0.0.2"), 80}, RealSpec{});
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error().code, ESRCH);
    EXPECT_EQ(d.error().message, "service 192.0.2.1:80/tcp does not exist");
    auto g = client->get_service(web);
    ASSERT_FALSE(g.ok());
    EXPECT_EQ(g.error().message, "service 192.0.2.1:80/tcp does not exist");

    ASSERT_TRUE(client->add_service(web, ServiceSpec{}).ok());
    Status fam = client->add_dest(web, {ip("2001:db8::2"), 80}, RealSpec{});
    ASSERT_FALSE(fam.ok());
    EXPECT_NE(fam.error().message.find("address family mismatch"), std::string::npos)
        << fam.error().message;
    Status edit = client->edit_dest(web, {ip("10.0.0.9"), 80}, RealSpec{});
    ASSERT_FALSE(edit.ok());
    EXPECT_EQ(edit.error().message,
              "real server 10.0.0.9:80 of service 192.0.2.1:80/tcp does not exist");
    Status sched = client->edit_service(web, twos);
    ASSERT_FALSE(sched.ok());
    EXPECT_EQ(sched.error().message, "scheduler 'twos' is not available: load ip_vs_twos");
    Status zero = client->zero_counters(tcp("192.0.2.9", 80));
    ASSERT_FALSE(zero.ok());
    EXPECT_EQ(zero.error().message, "service 192.0.2.9:80/tcp does not exist");
}

// Each mode of acking: only the last request of a batch (default), or every request.
class IpvsLabAcks : public IpvsLab, public ::testing::WithParamInterface<bool> {
protected:
    std::unique_ptr<IpvsNetlinkClient> writer(size_t max_in_flight = 2048) {
        IpvsNetlinkClient::Options o;
        o.ack_every_request = GetParam();
        o.max_in_flight = max_in_flight;
        auto c = IpvsNetlinkClient::open(o);
        EXPECT_TRUE(c.ok()) << c.error().describe();
        return c.ok() ? std::move(*c) : nullptr;
    }
};
INSTANTIATE_TEST_SUITE_P(Acks, IpvsLabAcks, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Every" : "LastOfBatch"; });

TEST_P(IpvsLabAcks, PipelinedApplyMatchesEachAckToItsOp) {
    auto w = writer(500);  // batches of 500: 3,000+ requests make several
    ASSERT_TRUE(w);
    IpvsTable t = big_table(300, 10);
    auto ops = add_ops(t);
    // A destination of a service that does not exist: in the middle of the stream, as the
    // last request of a batch (whose ack closes it), as the first of the next, and at the end.
    const IpvsOp orphan =
        IpvsOp::add_dest(tcp("192.0.2.250", 80), {ip("10.9.9.9"), 80}, RealSpec{});
    const std::set<size_t> bad = {499, 500, 1500, ops.size() + 3};
    for (size_t b : bad) ops.insert(ops.begin() + static_cast<long>(b), orphan);
    const size_t sends_before = testing::send_calls();
    auto results = w->apply(ops);
    const size_t batches = testing::send_calls() - sends_before;  // one send() per batch
    ASSERT_EQ(results.size(), ops.size());
    for (size_t i = 0; i < results.size(); ++i) {
        if (bad.count(i)) {
            ASSERT_FALSE(results[i].ok()) << i;
            EXPECT_EQ(results[i].error().key, "192.0.2.250:80/tcp -> 10.9.9.9:80");
            EXPECT_EQ(results[i].error().message, "service 192.0.2.250:80/tcp does not exist");
        } else {
            EXPECT_TRUE(results[i].ok()) << i << " " << results[i].error().describe();
        }
    }
    EXPECT_EQ(batches, (ops.size() + 499) / 500);  // many requests per sendmsg
    EXPECT_EQ(dump_table(), normalized(t));
}

TEST_P(IpvsLabAcks, EveryRequestOfABatchCanFailAndEachIsReported) {
    auto w = writer();
    ASSERT_TRUE(w);
    IpvsTable t = big_table(50, 4);
    auto ops = add_ops(t);
    expect_all_ok(w->apply(ops), ops);
    // Deletes of dests that do not exist, sent by a client that is not idempotent: a batch
    // of them only, then each between two deletes that succeed.
    IpvsNetlinkClient::Options strict;
    strict.idempotent = false;
    strict.ack_every_request = GetParam();
    auto c = IpvsNetlinkClient::open(strict);
    ASSERT_TRUE(c.ok()) << c.error().describe();
    std::vector<IpvsOp> absent, mixed;
    for (const auto& [k, s] : t.services)
        absent.push_back(IpvsOp::del_dest(k, {ip("10.200.0.1"), 80}));
    for (const auto& st : (*c)->apply(absent)) {
        ASSERT_FALSE(st.ok());
        EXPECT_EQ(st.error().code, ENOENT) << st.error().describe();
    }
    for (const auto& [k, s] : t.services)
        for (const auto& [r, spec] : s.reals) {
            mixed.push_back(IpvsOp::del_dest(k, {ip("10.200.0.1"), r.port}));
            mixed.push_back(IpvsOp::del_dest(k, r));
        }
    auto results = (*c)->apply(mixed);
    ASSERT_EQ(results.size(), mixed.size());
    for (size_t i = 0; i < results.size(); ++i)
        EXPECT_EQ(results[i].ok(), i % 2 == 1) << mixed[i].to_string();
    for (auto& [k, s] : t.services) s.reals.clear();
    EXPECT_EQ(dump_table(), normalized(t));
}

TEST_F(IpvsLab, SyncDaemonStartQueryStop) {
    SyncDaemon d;
    d.state = SyncDaemon::State::master;
    d.mcast_ifn = "lo";
    d.sync_id = 5;
    Status st = client->start_daemon(d);
    ASSERT_TRUE(st.ok()) << st.error().describe();
    ASSERT_TRUE(client->start_daemon(d).ok());  // identical start: success
    auto running = client->daemons();
    ASSERT_TRUE(running.ok()) << running.error().describe();
    ASSERT_EQ(running->size(), 1u);
    EXPECT_EQ(running->front().state, SyncDaemon::State::master);
    EXPECT_EQ(running->front().mcast_ifn, "lo");
    EXPECT_EQ(running->front().sync_id, 5u);
    auto r = lab::run({"ipvsadm", "-L", "--daemon"});
    EXPECT_NE(r.out.find("master sync daemon (mcast=lo, syncid=5"), std::string::npos) << r.out;

    ASSERT_TRUE(client->stop_daemon(SyncDaemon::State::master).ok());
    ASSERT_TRUE(client->stop_daemon(SyncDaemon::State::master).ok());  // already stopped
    running = client->daemons();
    ASSERT_TRUE(running.ok());
    EXPECT_TRUE(running->empty());
}

TEST_F(IpvsLab, ZeroCountersSucceedsForAllAndForOneService) {
    auto web = tcp("192.0.2.1", 80);
    ASSERT_TRUE(client->add_service(web, ServiceSpec{}).ok());
    EXPECT_TRUE(client->zero_counters().ok());
    EXPECT_TRUE(client->zero_counters(web).ok());
    auto snap = client->dump();
    ASSERT_TRUE(snap.ok());
    EXPECT_EQ(snap->service_stats.at(web), IpvsStats{});
}

TEST_F(IpvsLab, ReconcilingFiveThousandServicesAgainstItselfIssuesNoWrites) {
    IpvsTable want = big_table(5000, 10);
    auto now = reconcile::Clock::now();
    auto first = reconcile::plan(kernel::IpvsSnapshot{}, want, {}, {}, now);
    ASSERT_EQ(first.ops.size(), 55000u);
    expect_all_ok(client->apply(first.ops), first.ops);

    auto observed = client->dump();
    ASSERT_TRUE(observed.ok()) << observed.error().describe();
    EXPECT_EQ(observed->table.real_count(), 50000u);
    auto same = reconcile::plan(*observed, want, first.ownership, first.ledger, now);
    EXPECT_TRUE(same.ops.empty()) << same.ops.size() << " ops, first: " << same.ops[0].to_string();

    IpvsTable changed = want;
    auto& svc = changed.services.begin()->second;
    svc.reals.begin()->second.weight = 42;
    auto one = reconcile::plan(*observed, changed, same.ownership, same.ledger, now);
    ASSERT_EQ(one.ops.size(), 1u);
    EXPECT_EQ(one.ops[0].kind, IpvsOp::Kind::edit_dest);
    expect_all_ok(client->apply(one.ops), one.ops);
    auto after = client->dump();
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(normalized(after->table), normalized(changed));
}

}  // namespace
}  // namespace ballast::kernel
