#pragma once
// keepalived virtual_server -> ballast services. Internal to ballast_import.
#include <vector>

#include "ballast_out.hpp"
#include "keepalived_config.hpp"

namespace ballast::import::detail {

// One service, or one per member of the virtual_server_group it names (each
// member is its own IPVS service in keepalived too). What cannot be carried
// over is appended to `not_converted`.
std::vector<OutService> map_virtual_server(const KaVirtualServer& vs, const KaConfig& config,
                                           std::vector<NotConverted>& not_converted);

// True when `s` is UTF-8 a TOML string can hold.
bool valid_utf8(std::string_view s);

}  // namespace ballast::import::detail
