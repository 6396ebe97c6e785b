#pragma once
// Address lists -> the disjoint, non-adjacent ranges an nftables interval set holds.
// Interval sets reject overlapping elements, so duplicates and overlapping prefixes are
// merged first; adjacent ones stay separate elements. Pure.
#include <vector>

#include "ballast/kernel/nft_client.hpp"
#include "ballast/model/address.hpp"

namespace ballast::nft {

using kernel::AddressRange;

// The first and last address a prefix covers (host bits cleared / set).
AddressRange prefix_range(const model::IpPrefix& p);

// Sorted (IPv4 before IPv6, ascending), disjoint ranges covering exactly the union of the
// prefixes. Families never merge with each other.
std::vector<AddressRange> normalise(const std::vector<model::IpPrefix>& prefixes);

// a + 1 (false when a is the family's last address).
bool next_address(model::IpAddress& a);
// a - 1 (false when a is all zero).
bool previous_address(model::IpAddress& a);

}  // namespace ballast::nft
