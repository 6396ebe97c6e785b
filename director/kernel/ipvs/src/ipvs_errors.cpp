#include "ballast/kernel/ipvs_errors.hpp"

#include <linux/ip_vs.h>
#include <sys/socket.h>

#include <cstring>

namespace ballast::kernel::ipvs {

using model::IpvsOp;
using model::ServiceKey;

namespace {
std::string family_name(uint8_t af) {
    return af == AF_INET6 ? "IPv6" : "IPv4";
}
}  // namespace

Status validate_op(const IpvsOp& op) {
    const ServiceKey& k = op.service;
    if (k.family != AF_INET && k.family != AF_INET6)
        return make_error(EAFNOSUPPORT, op.command_name(), op.key_string(),
                          "unknown address family");
    if (!k.is_fwmark() && k.addr.family != k.family)
        return make_error(EINVAL, op.command_name(), op.key_string(),
                          "address family mismatch: service family is " + family_name(k.family) +
                              " but its address is " + family_name(k.addr.family));
    if (op.kind == IpvsOp::Kind::add_service || op.kind == IpvsOp::Kind::edit_service) {
        const auto& s = op.service_spec.scheduler;
        if (s.empty() || s.size() >= IP_VS_SCHEDNAME_MAXLEN)
            return make_error(EINVAL, op.command_name(), op.key_string(),
                              "scheduler name '" + s + "' is empty or too long");
        if (op.service_spec.pe_name.size() >= IP_VS_PENAME_MAXLEN)
            return make_error(EINVAL, op.command_name(), op.key_string(),
                              "persistence engine name too long");
        if (k.family == AF_INET6 && op.service_spec.persistence &&
            (op.service_spec.netmask < 1 || op.service_spec.netmask > 128))
            return make_error(EINVAL, op.command_name(), op.key_string(),
                              "IPv6 persistence netmask must be a prefix length 1..128");
    }
    if (op.kind == IpvsOp::Kind::add_dest || op.kind == IpvsOp::Kind::edit_dest) {
        // The kernel mixes families only for tunnel forwarding, and then only as a bare EINVAL.
        if (op.real.addr.family != k.family && op.real_spec.forward != model::ForwardMethod::tunnel)
            return make_error(EINVAL, op.command_name(), op.key_string(),
                              "address family mismatch: service " + k.to_string() + " is " +
                                  family_name(k.family) + " but real server " +
                                  op.real.to_string() + " is " + family_name(op.real.addr.family) +
                                  " (only tunnel forwarding may mix families)");
        if (op.real_spec.weight > 0x7fffffffu)
            return make_error(ERANGE, op.command_name(), op.key_string(), "weight out of range");
    }
    return {};
}

bool is_idempotent_success(const IpvsOp& op, int err) {
    if (op.kind == IpvsOp::Kind::del_service) return err == ESRCH || err == ENOENT;
    if (op.kind == IpvsOp::Kind::del_dest) return err == ESRCH || err == ENOENT;
    return false;
}

Error describe_failure(const IpvsOp& op, int err) {
    std::string msg;
    const std::string svc = op.service.to_string();
    const bool service_write =
        op.kind == IpvsOp::Kind::add_service || op.kind == IpvsOp::Kind::edit_service;
    if (err == ESRCH) {
        msg = "service " + svc + " does not exist";
    } else if (err == ENOENT && service_write) {
        const auto& s = op.service_spec;
        msg = "scheduler '" + s.scheduler + "' is not available: load ip_vs_" + s.scheduler;
        if (!s.pe_name.empty())
            msg = "scheduler '" + s.scheduler + "' or persistence engine '" + s.pe_name +
                  "' is not available: load ip_vs_" + s.scheduler + " / ip_vs_pe_" + s.pe_name;
    } else if (err == ENOENT && op.is_dest_op()) {
        msg = "real server " + op.real.to_string() + " of service " + svc + " does not exist";
    } else if (err == EEXIST && op.kind == IpvsOp::Kind::add_service) {
        msg = "service " + svc + " already exists with different attributes";
    } else if (err == EEXIST && op.kind == IpvsOp::Kind::add_dest) {
        msg = "real server " + op.real.to_string() + " of service " + svc +
              " already exists with different attributes";
    } else if (err == EPERM) {
        msg = "permission denied: changing IPVS needs CAP_NET_ADMIN";
    } else if (err == EAFNOSUPPORT) {
        msg = "address family not supported by this kernel's IPVS";
    } else if (err == EINVAL && op.is_dest_op()) {
        msg = "the kernel rejected real server " + op.real.to_string() + " of service " + svc +
              " as invalid (address family, forwarding method, or no local route: is lo up?)";
    } else if (err == EINVAL) {
        msg = "the kernel rejected service " + svc + " as invalid";
    } else {
        msg = std::string(std::strerror(err));
    }
    return make_error(err, op.command_name(), op.key_string(), msg);
}

Error family_unavailable(int err) {
    if (err == ENOENT)
        return make_error(err, "CTRL_CMD_GETFAMILY", "IPVS",
                          "IPVS is not available in this kernel: load ip_vs");
    return make_error(err, "CTRL_CMD_GETFAMILY", "IPVS",
                      std::string("cannot resolve the IPVS netlink family: ") + std::strerror(err));
}

}  // namespace ballast::kernel::ipvs
