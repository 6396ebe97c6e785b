#include "ballast/contract/ipvs_contract.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

namespace ballast::contract {

using model::ForwardMethod;
using model::IpAddress;
using model::IpvsOp;
using model::IpvsReals;
using model::Protocol;
using model::RealKey;
using model::RealSpec;
using model::ServiceKey;
using model::ServiceSpec;

model::ServiceKey contract_traffic_service() {
    return ServiceKey::inet(Protocol::tcp, *IpAddress::parse("192.0.2.80"), 80);
}
model::RealKey contract_traffic_real() {
    return RealKey{*IpAddress::parse("10.77.0.2"), 8080};
}

void IpvsContract::SetUp() {
    subject = GetParam().make();
    ASSERT_TRUE(subject);
}

void IpvsContract::TearDown() {
    subject.reset();
}

std::vector<Status> IpvsContract::apply_statuses(const std::vector<IpvsOp>& ops) {
    return subject->client().apply(ops);
}

std::vector<int> IpvsContract::apply(const std::vector<IpvsOp>& ops) {
    std::vector<int> codes;
    for (const Status& st : apply_statuses(ops)) codes.push_back(st.ok() ? 0 : st.error().code);
    return codes;
}

kernel::IpvsSnapshot IpvsContract::dump() {
    auto snap = subject->client().dump();
    if (!snap.ok()) {
        ADD_FAILURE() << "dump failed: " << snap.error().describe();
        return {};
    }
    return *snap;
}

std::string subject_name(const ::testing::TestParamInfo<IpvsSubjectFactory>& info) {
    return info.param.name;
}

namespace {

ServiceKey tcp(const char* vip, uint16_t port = 80) {
    return ServiceKey::inet(Protocol::tcp, *IpAddress::parse(vip), port);
}
RealKey real(const char* addr, uint16_t port = 80) {
    return RealKey{*IpAddress::parse(addr), port};
}
ServiceSpec sched(const char* name) {
    ServiceSpec s;
    s.scheduler = name;
    return s;
}
RealSpec weight(uint32_t w, ForwardMethod f = ForwardMethod::masquerade) {
    return RealSpec{f, w, 0, 0};
}
const std::vector<int> ok1{0}, ok2{0, 0};

TEST_P(IpvsContract, IdenticalAddsAndAbsentDeletesSucceed) {
    const auto a = tcp("192.0.2.1"), b = tcp("192.0.2.2");
    EXPECT_EQ(apply({IpvsOp::add_service(a, sched("rr")), IpvsOp::add_service(a, sched("rr"))}),
              ok2);
    EXPECT_EQ(apply({IpvsOp::add_dest(a, real("10.0.0.1"), weight(1)),
                     IpvsOp::add_dest(a, real("10.0.0.1"), weight(1))}),
              ok2);
    EXPECT_EQ(apply({IpvsOp::del_dest(a, real("10.0.0.2"))}), ok1) << "absent real server";
    EXPECT_EQ(apply({IpvsOp::del_dest(b, real("10.0.0.1"))}), ok1) << "absent service";
    EXPECT_EQ(apply({IpvsOp::del_service(b)}), ok1);
    const auto snap = dump();
    ASSERT_EQ(snap.table.services.size(), 1u);
    EXPECT_EQ(snap.table.services.at(a).spec.scheduler, "rr");
    EXPECT_EQ(snap.table.services.at(a).reals, (IpvsReals{{real("10.0.0.1"), weight(1)}}));
    // Deleting twice: the second finds nothing and succeeds.
    EXPECT_EQ(apply({IpvsOp::del_dest(a, real("10.0.0.1")), IpvsOp::del_dest(a, real("10.0.0.1")),
                     IpvsOp::del_service(a), IpvsOp::del_service(a)}),
              (std::vector{0, 0, 0, 0}));
    EXPECT_TRUE(dump().table.services.empty());
}

TEST_P(IpvsContract, AddsThatDifferFromWhatExistsFailWithEexistAndChangeNothing) {
    const auto a = tcp("192.0.2.1");
    ASSERT_EQ(apply({IpvsOp::add_service(a, sched("rr")),
                     IpvsOp::add_dest(a, real("10.0.0.1"), weight(1))}),
              ok2);
    const auto add_svc = IpvsOp::add_service(a, sched("wlc"));
    const auto add_real = IpvsOp::add_dest(a, real("10.0.0.1"), weight(2));
    auto st = apply_statuses({add_svc, add_real});
    ASSERT_EQ(st.size(), 2u);
    ASSERT_FALSE(st[0].ok());
    EXPECT_EQ(st[0].error().code, EEXIST);
    EXPECT_EQ(st[0].error().op, add_svc.command_name());
    EXPECT_EQ(st[0].error().key, add_svc.key_string());
    ASSERT_FALSE(st[1].ok());
    EXPECT_EQ(st[1].error().code, EEXIST);
    EXPECT_EQ(st[1].error().op, add_real.command_name());
    EXPECT_EQ(st[1].error().key, add_real.key_string());
    const auto snap = dump();
    EXPECT_EQ(snap.table.services.at(a).spec.scheduler, "rr");
    EXPECT_EQ(snap.table.services.at(a).reals.at(real("10.0.0.1")).weight, 1u);
}

TEST_P(IpvsContract, OpsOnAMissingServiceFailWithEsrchAndOnAMissingRealWithEnoent) {
    const auto a = tcp("192.0.2.1"), missing = tcp("192.0.2.9");
    ASSERT_EQ(apply({IpvsOp::add_service(a, sched("rr"))}), ok1);
    EXPECT_EQ(apply({IpvsOp::add_dest(missing, real("10.0.0.1"), weight(1)),
                     IpvsOp::edit_dest(missing, real("10.0.0.1"), weight(1)),
                     IpvsOp::edit_service(missing, sched("rr"))}),
              (std::vector{ESRCH, ESRCH, ESRCH}));
    EXPECT_EQ(apply({IpvsOp::edit_dest(a, real("10.0.0.9"), weight(1))}), std::vector{ENOENT});
    const auto snap = dump();
    ASSERT_EQ(snap.table.services.size(), 1u);
    EXPECT_TRUE(snap.table.services.at(a).reals.empty());
}

TEST_P(IpvsContract, AFailedOpDoesNotStopTheOnesAfterIt) {
    const auto a = tcp("192.0.2.1"), missing = tcp("192.0.2.9");
    EXPECT_EQ(apply({IpvsOp::add_dest(missing, real("10.0.0.1"), weight(1)),
                     IpvsOp::add_service(a, sched("rr")),
                     IpvsOp::add_dest(a, real("10.0.0.1"), weight(3))}),
              (std::vector{ESRCH, 0, 0}));
    EXPECT_EQ(dump().table.services.at(a).reals.at(real("10.0.0.1")).weight, 3u);
}

TEST_P(IpvsContract, DeletingAServiceDeletesItsReals) {
    const auto a = tcp("192.0.2.1");
    ASSERT_EQ(apply({IpvsOp::add_service(a, sched("rr")),
                     IpvsOp::add_dest(a, real("10.0.0.1"), weight(1)),
                     IpvsOp::add_dest(a, real("10.0.0.2"), weight(1))}),
              (std::vector{0, 0, 0}));
    ASSERT_EQ(apply({IpvsOp::del_service(a)}), ok1);
    EXPECT_TRUE(dump().table.services.empty());
    ASSERT_EQ(apply({IpvsOp::add_service(a, sched("rr"))}), ok1);
    const auto snap = dump();
    EXPECT_TRUE(snap.table.services.at(a).reals.empty());
    EXPECT_TRUE(snap.dest_counters.at(a).empty());
}

TEST_P(IpvsContract, EditsChangeAServiceAndARealInPlace) {
    const auto a = tcp("192.0.2.1");
    ASSERT_EQ(apply({IpvsOp::add_service(a, sched("rr")),
                     IpvsOp::add_dest(a, real("10.0.0.1"), weight(1)),
                     IpvsOp::add_dest(a, real("10.0.0.2"), weight(1))}),
              (std::vector{0, 0, 0}));
    ServiceSpec sticky = sched("wlc");
    sticky.persistence = 300;
    sticky.netmask = 0xffffff00;
    const RealSpec limited{ForwardMethod::masquerade, 5, 100, 10};
    EXPECT_EQ(
        apply({IpvsOp::edit_service(a, sticky), IpvsOp::edit_dest(a, real("10.0.0.1"), limited),
               IpvsOp::edit_dest(a, real("10.0.0.2"), weight(0))}),
        (std::vector{0, 0, 0}));
    const auto snap = dump();
    const auto& svc = snap.table.services.at(a);
    EXPECT_TRUE(svc.spec.same_attributes(sticky));
    EXPECT_TRUE(svc.spec.flags.persistent);
    EXPECT_EQ(svc.reals.at(real("10.0.0.1")), limited);
    EXPECT_EQ(svc.reals.at(real("10.0.0.2")).weight, 0u) << "weight 0 keeps the real server";
    // Back without persistence: the flag goes with it.
    EXPECT_EQ(apply({IpvsOp::edit_service(a, sched("rr"))}), ok1);
    EXPECT_FALSE(dump().table.services.at(a).spec.flags.persistent);
}

TEST_P(IpvsContract, ServiceFlagsPersistenceAndRealAttributesRoundTrip) {
    struct Case {
        ServiceKey key;
        ServiceSpec spec;
        RealKey real;
        RealSpec real_spec;
    };
    ServiceSpec sh = sched("sh");
    sh.flags.sched_flag1 = sh.flags.sched_flag2 = true;  // sh-fallback, sh-port
    sh.persistence = 600;
    sh.netmask = 0xffffff00;
    ServiceSpec one_packet = sched("rr");
    one_packet.flags.one_packet = true;
    ServiceSpec mark4 = sched("wrr");
    mark4.persistence = 60;
    ServiceSpec mark6 = sched("rr");
    mark6.persistence = 60;
    mark6.netmask = 64;
    ServiceSpec v6 = sched("wlc");
    v6.netmask = 128;
    const std::vector<Case> cases = {
        {tcp("192.0.2.1"), sh, real("10.0.0.1"), RealSpec{ForwardMethod::masquerade, 7, 500, 50}},
        {ServiceKey::inet(Protocol::udp, *IpAddress::parse("192.0.2.2"), 53), one_packet,
         real("10.0.0.2", 53), RealSpec{ForwardMethod::route, 2, 0, 0}},
        {ServiceKey::mark(7, AF_INET), mark4, real("10.0.0.3", 0),
         RealSpec{ForwardMethod::tunnel, 3, 0, 0}},
        {ServiceKey::mark(8, AF_INET6), mark6, RealKey{*IpAddress::parse("2001:db8::3"), 0},
         RealSpec{ForwardMethod::masquerade, 1, 0, 0}},
        {ServiceKey::inet(Protocol::tcp, *IpAddress::parse("2001:db8::1"), 443), v6,
         RealKey{*IpAddress::parse("2001:db8::2"), 8443}, weight(4)},
    };
    std::vector<IpvsOp> ops;
    for (const auto& c : cases) {
        ops.push_back(IpvsOp::add_service(c.key, c.spec));
        ops.push_back(IpvsOp::add_dest(c.key, c.real, c.real_spec));
    }
    const auto codes = apply(ops);
    ASSERT_EQ(codes, std::vector<int>(ops.size(), 0));
    const auto snap = dump();
    ASSERT_EQ(snap.table.services.size(), cases.size());
    for (const auto& c : cases) {
        SCOPED_TRACE(c.key.to_string());
        const auto& svc = snap.table.services.at(c.key);
        EXPECT_EQ(svc.key, c.key);
        EXPECT_TRUE(svc.spec.same_attributes(c.spec))
            << svc.spec.scheduler << " persistence " << svc.spec.persistence.value_or(0)
            << " netmask " << svc.spec.netmask << " flags " << svc.spec.flags.to_bits();
        EXPECT_EQ(svc.spec.flags.persistent, c.spec.persistence.has_value());
        EXPECT_TRUE(svc.spec.flags.hashed) << "a stored service is hashed";
        EXPECT_EQ(svc.reals, (IpvsReals{{c.real, c.real_spec}}));
        EXPECT_EQ(snap.dest_counters.at(c.key).at(c.real), kernel::DestCounters{});
        // The same add again is identical, hence a success.
        EXPECT_EQ(apply({IpvsOp::add_service(c.key, c.spec),
                         IpvsOp::add_dest(c.key, c.real, c.real_spec)}),
                  ok2);
    }
}

TEST_P(IpvsContract, ARealServerWithConnectionsKeepsThemWhenDeletedAndAddedAgain) {
    const auto s = contract_traffic_service();
    const auto r = contract_traffic_real();
    ASSERT_EQ(apply({IpvsOp::add_service(s, sched("rr")), IpvsOp::add_dest(s, r, weight(1))}), ok2);
    subject->hold_connection(s, r);
    EXPECT_EQ(dump().dest_counters.at(s).at(r).active_conns, 1u);
    // Its connection still points to it: the kernel keeps the deleted real server aside and
    // takes it back, connection count and all, when the same one is added again.
    ASSERT_EQ(apply({IpvsOp::del_dest(s, r)}), ok1);
    EXPECT_FALSE(dump().dest_counters.at(s).contains(r));
    ASSERT_EQ(apply({IpvsOp::add_dest(s, r, weight(2))}), ok1);
    auto snap = dump();
    EXPECT_EQ(snap.table.services.at(s).reals.at(r).weight, 2u);
    EXPECT_EQ(snap.dest_counters.at(s).at(r).active_conns, 1u);
    // The same when the whole service went and came back.
    ASSERT_EQ(apply({IpvsOp::del_service(s)}), ok1);
    ASSERT_EQ(apply({IpvsOp::add_service(s, sched("rr")), IpvsOp::add_dest(s, r, weight(1))}), ok2);
    EXPECT_EQ(dump().dest_counters.at(s).at(r).active_conns, 1u);
    // A real server without connections comes back with none.
    const auto idle = real("10.77.0.3", 8080);
    ASSERT_EQ(apply({IpvsOp::add_dest(s, idle, weight(1)), IpvsOp::del_dest(s, idle),
                     IpvsOp::add_dest(s, idle, weight(1))}),
              (std::vector{0, 0, 0}));
    EXPECT_EQ(dump().dest_counters.at(s).at(idle), kernel::DestCounters{});
}

}  // namespace
}  // namespace ballast::contract
