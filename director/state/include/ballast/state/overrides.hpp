#pragma once
// The operators' runtime overrides (ballastctl drain / weight), kept across restarts.
//
// File: <state_directory>/overrides.json
//   {"version": 1, "overrides": [
//      {"service": {"protocol": "tcp", "address": "192.0.2.1", "port": 80} | null,
//       "real": "10.0.0.2:80", "action": "drain" | "weight", "weight": 5,
//       "set_by": "uid 0 (root) pid 4242", "set_at": 1764936000} ]}
// (set_at: seconds since the epoch; service null = every service that has the real.)
#include <string>
#include <string_view>

#include "ballast/model/result.hpp"
#include "ballast/policy/overrides.hpp"

namespace ballast::state {

inline constexpr const char* kOverridesFile = "overrides.json";

std::string encode_overrides(const policy::Overrides& overrides);
Result<policy::Overrides> decode_overrides(std::string_view text, const std::string& where);

// dir/overrides.json; a missing file is no overrides.
Result<policy::Overrides> load_overrides(const std::string& dir);
Status save_overrides(const std::string& dir, const policy::Overrides& overrides);

}  // namespace ballast::state
