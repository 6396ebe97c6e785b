#pragma once
// `-o json` / `-j`: every listing as one JSON document (schema "ballast.ipvsadm/1", described in
// README.md). Addresses are always numeric, counters are exact numbers (64-bit), lists follow
// the text listing's order (sorted as ipvsadm sorts, or the kernel's with --nosort).
#include <string>
#include <vector>

#include "ballast/ipvsadm/format.hpp"
#include "ballast/kernel/ipvs_codec.hpp"

namespace ballast::ipvsadm {

inline constexpr const char* kJsonSchema = "ballast.ipvsadm/1";

struct ServiceListing {
    ServiceEntry service;
    std::vector<DestEntry> dests;
};

std::string table_json(const kernel::ipvs::Info& info, const std::vector<ServiceListing>& services);
std::string timeouts_json(const kernel::ipvs::Timeouts& t);
std::string daemons_json(const std::vector<kernel::ipvs::SyncDaemon>& daemons);
std::string connections_json(const std::vector<ConnectionLine>& connections);

}  // namespace ballast::ipvsadm
