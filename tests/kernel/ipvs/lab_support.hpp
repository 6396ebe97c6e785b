#pragma once
// Kernel-lab helpers: a fresh network namespace per test, running ipvsadm as an
// independent oracle, and reading its `-S -n` output back into a table.
#include <string>
#include <vector>

#include "ballast/model/ipvs.hpp"
#include "ballast/model/result.hpp"

namespace ballast::lab {

// unshare(CLONE_NEWNET) for this process and bring `lo` up: IPVS state is per namespace, and
// without a local route the kernel rejects every NAT destination with EINVAL.
Status enter_fresh_netns();

// enter_fresh_netns(), keeping a descriptor of the namespace open until the process exits: for
// benchmarks, so no namespace teardown runs in the background of a later measurement.
Status enter_fresh_netns_kept_open();

struct ProcessResult {
    int exit_code = -1;
    std::string out;  // stdout + stderr
};
// Runs argv (no shell), feeding stdin_text; the child inherits our network namespace.
ProcessResult run(const std::vector<std::string>& argv, const std::string& stdin_text = {});

// Parses `ipvsadm -S -n` (rule format) into a table; throws std::runtime_error naming the line
// on anything it does not understand. Thresholds are not part of that format.
model::IpvsTable parse_ipvsadm_save(const std::string& text);

// The same table as `ipvsadm -R` input.
std::string to_ipvsadm_rules(const model::IpvsTable& table);

}  // namespace ballast::lab
