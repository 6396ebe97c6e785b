#include "ballast/model/ipvs.hpp"

#include <gtest/gtest.h>

#include "ballast/model/ipvs_op.hpp"
#include "ballast/model/result.hpp"

using namespace ballast::model;

TEST(ServiceKey, DescribesInetAndFwmark) {
    auto k = ServiceKey::inet(Protocol::tcp, *IpAddress::parse("192.0.2.1"), 80);
    EXPECT_EQ(k.to_string(), "192.0.2.1:80/tcp");
    EXPECT_EQ(ServiceKey::inet(Protocol::udp, *IpAddress::parse("2001:db8::1"), 53).to_string(),
              "[2001:db8::1]:53/udp");
    EXPECT_EQ(ServiceKey::mark(7).to_string(), "fwmark 7/ipv4");
    EXPECT_TRUE(ServiceKey::mark(7).is_fwmark());
    EXPECT_FALSE(k.is_fwmark());
}

TEST(ServiceFlags, BitsRoundTrip) {
    for (uint32_t b = 0; b < 64; ++b) EXPECT_EQ(ServiceFlags::from_bits(b).to_bits(), b);
}

TEST(ServiceSpec, SameAttributesIgnoresKernelInternalFlags) {
    ServiceSpec a, b;
    b.flags.hashed = true;
    EXPECT_TRUE(a.same_attributes(b));
    b.scheduler = "rr";
    EXPECT_FALSE(a.same_attributes(b));
}

TEST(Scheduler, KnowsKernelSchedulers) {
    EXPECT_TRUE(is_known_scheduler("wlc"));
    EXPECT_TRUE(is_known_scheduler("mh"));
    EXPECT_FALSE(is_known_scheduler("wrrr"));
}

TEST(Error, DescribesWithOpAndKey) {
    auto e = ballast::make_error(ENOENT, "IPVS_CMD_DEL_SERVICE", "192.0.2.1:80/tcp");
    EXPECT_EQ(e.describe(), "No such file or directory (IPVS_CMD_DEL_SERVICE 192.0.2.1:80/tcp)");
    e.message = "service 192.0.2.1:80/tcp does not exist";
    EXPECT_EQ(e.describe(),
              "service 192.0.2.1:80/tcp does not exist (IPVS_CMD_DEL_SERVICE 192.0.2.1:80/tcp)");
}

TEST(IpvsOp, NamesItsCommandAndKey) {
    auto svc = ServiceKey::inet(Protocol::tcp, *IpAddress::parse("192.0.2.1"), 80);
    RealKey real{*IpAddress::parse("10.0.0.2"), 80};
    EXPECT_STREQ(IpvsOp::add_service(svc, {}).command_name(), "IPVS_CMD_NEW_SERVICE");
    EXPECT_STREQ(IpvsOp::edit_service(svc, {}).command_name(), "IPVS_CMD_SET_SERVICE");
    EXPECT_STREQ(IpvsOp::del_service(svc).command_name(), "IPVS_CMD_DEL_SERVICE");
    EXPECT_STREQ(IpvsOp::add_dest(svc, real, {}).command_name(), "IPVS_CMD_NEW_DEST");
    EXPECT_STREQ(IpvsOp::edit_dest(svc, real, {}).command_name(), "IPVS_CMD_SET_DEST");
    EXPECT_STREQ(IpvsOp::del_dest(svc, real).command_name(), "IPVS_CMD_DEL_DEST");
    EXPECT_EQ(IpvsOp::del_service(svc).key_string(), "192.0.2.1:80/tcp");
    EXPECT_EQ(IpvsOp::del_dest(svc, real).key_string(), "192.0.2.1:80/tcp -> 10.0.0.2:80");
    RealSpec spec;
    spec.weight = 5;
    EXPECT_EQ(IpvsOp::add_dest(svc, real, spec).to_string(),
              "add dest 192.0.2.1:80/tcp -> 10.0.0.2:80 masq weight 5");
}
