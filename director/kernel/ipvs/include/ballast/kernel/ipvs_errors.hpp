#pragma once
// What the IPVS client makes of an operation's outcome, as pure functions: what is rejected
// before sending, which kernel errors mean success (idempotent deletes), and the message an
// operator reads for each errno. Not codec work: no bytes here.
#include "ballast/model/ipvs_op.hpp"
#include "ballast/model/result.hpp"

namespace ballast::kernel::ipvs {

// Catches what the kernel would reject with a bare EINVAL, before sending (e.g. a masquerade
// IPv6 real server in an IPv4 service).
Status validate_op(const model::IpvsOp& op);
// Absent delete is success: ESRCH/ENOENT on a delete.
bool is_idempotent_success(const model::IpvsOp& op, int err);
// The operator-facing error for a kernel errno (positive) on op.
Error describe_failure(const model::IpvsOp& op, int err);
// "IPVS is not available in this kernel: load ip_vs" and friends, for family resolution.
Error family_unavailable(int err);

}  // namespace ballast::kernel::ipvs
