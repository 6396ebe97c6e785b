// The IPVS client's pure error rules: operator messages, idempotent deletes, and what is
// rejected before sending.
#include "ballast/kernel/ipvs_errors.hpp"

#include <gtest/gtest.h>

namespace ballast::kernel::ipvs {
namespace {

using model::ForwardMethod;
using model::IpAddress;
using model::IpvsOp;
using model::Protocol;
using model::RealKey;
using model::RealSpec;
using model::ServiceKey;
using model::ServiceSpec;

IpAddress ip(const char* s) {
    return *IpAddress::parse(s);
}
ServiceKey vip80() {
    return ServiceKey::inet(Protocol::tcp, ip("192.0.2.1"), 80);
}

TEST(IpvsErrors, OperatorMessagesNameTheObject) {
    ServiceSpec mh;
    mh.scheduler = "mh";
    auto add = IpvsOp::add_service(vip80(), mh);
    EXPECT_EQ(describe_failure(add, ENOENT).message,
              "scheduler 'mh' is not available: load ip_vs_mh");
    auto dest = IpvsOp::add_dest(vip80(), RealKey{ip("10.0.0.2"), 80}, RealSpec{});
    Error e = describe_failure(dest, ESRCH);
    EXPECT_EQ(e.message, "service 192.0.2.1:80/tcp does not exist");
    EXPECT_EQ(e.op, "IPVS_CMD_NEW_DEST");
    EXPECT_EQ(e.key, "192.0.2.1:80/tcp -> 10.0.0.2:80");
    EXPECT_EQ(e.code, ESRCH);
    EXPECT_EQ(family_unavailable(ENOENT).message,
              "IPVS is not available in this kernel: load ip_vs");
    auto edit = IpvsOp::edit_dest(vip80(), RealKey{ip("10.0.0.9"), 80}, RealSpec{});
    EXPECT_EQ(describe_failure(edit, ENOENT).message,
              "real server 10.0.0.9:80 of service 192.0.2.1:80/tcp does not exist");
}

TEST(IpvsErrors, AbsentDeleteIsSuccessButAbsentEditIsNot) {
    auto del_svc = IpvsOp::del_service(vip80());
    auto del_dest = IpvsOp::del_dest(vip80(), RealKey{ip("10.0.0.2"), 80});
    auto edit = IpvsOp::edit_service(vip80(), ServiceSpec{});
    EXPECT_TRUE(is_idempotent_success(del_svc, ESRCH));
    EXPECT_TRUE(is_idempotent_success(del_dest, ENOENT));
    EXPECT_TRUE(is_idempotent_success(del_dest, ESRCH));
    EXPECT_FALSE(is_idempotent_success(edit, ESRCH));
    EXPECT_FALSE(is_idempotent_success(del_svc, EPERM));
}

TEST(IpvsErrors, AddressFamilyMismatchIsRejectedBeforeSending) {
    auto op = IpvsOp::add_dest(vip80(), RealKey{ip("2001:db8::2"), 80}, RealSpec{});
    Status st = validate_op(op);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, EINVAL);
    EXPECT_NE(st.error().message.find("address family mismatch"), std::string::npos);
    EXPECT_NE(st.error().message.find("IPv6"), std::string::npos);
    // Tunnel forwarding may mix families (the kernel allows it).
    auto tun = IpvsOp::add_dest(vip80(), RealKey{ip("2001:db8::2"), 80},
                                RealSpec{ForwardMethod::tunnel, 1, 0, 0});
    EXPECT_TRUE(validate_op(tun).ok());
    EXPECT_TRUE(validate_op(IpvsOp::add_service(vip80(), ServiceSpec{})).ok());
    ServiceSpec bad;
    bad.scheduler = "";
    EXPECT_FALSE(validate_op(IpvsOp::add_service(vip80(), bad)).ok());
}

}  // namespace
}  // namespace ballast::kernel::ipvs
