#pragma once
// The shell of `ballastctl doctor`: reads table inet ballast (nfnetlink), the IPVS table
// (generic netlink), bond state (/sys/class/net/<if>/bonding) and runs every reachability
// probe once, concurrently, on one io_context. Everything happens in the calling thread's
// network namespace. Failures become Errors inside the facts, never exceptions.
#include "ballast/doctor/doctor.hpp"

namespace ballast::doctor {

DirectorFacts gather_facts(const model::DirectorConfig& config);

}  // namespace ballast::doctor
