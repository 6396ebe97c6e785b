#pragma once
// The ownership record: every IPVS service ballastd created or adopted and has not yet
// seen deleted. A restart reads it, so services that left the config while the daemon was
// down are still drained and deleted, and services it never owned are never touched.
//
// File: <state_directory>/ownership.json
//   {"version": 1, "services": [
//      {"protocol": "tcp", "address": "192.0.2.1", "port": 80},
//      {"fwmark": 4096, "family": "ipv4"} ]}
#include <set>
#include <string>
#include <string_view>

#include "ballast/model/ipvs.hpp"
#include "ballast/model/result.hpp"

namespace ballast::state {

inline constexpr const char* kOwnershipFile = "ownership.json";
inline constexpr const char* kDefaultStateDirectory = "/var/lib/ballast";

std::string encode_ownership(const std::set<model::ServiceKey>& services);
// Error (EBADMSG) naming what is wrong, with `where` (the file) as its key.
Result<std::set<model::ServiceKey>> decode_ownership(std::string_view text,
                                                     const std::string& where);

// dir/ownership.json; a missing file is an empty set (nothing owned yet).
Result<std::set<model::ServiceKey>> load_ownership(const std::string& dir);
Status save_ownership(const std::string& dir, const std::set<model::ServiceKey>& services);

}  // namespace ballast::state
