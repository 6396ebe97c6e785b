#pragma once
// IPVS identities as JSON, the same in every file and message ballast writes:
//   service: {"protocol": "tcp", "address": "192.0.2.1", "port": 80}
//            {"fwmark": 4096, "family": "ipv4"}
//   real:    "10.0.0.2:80" / "[2001:db8::2]:80"
#include <boost/json/value.hpp>

#include "ballast/model/ipvs.hpp"
#include "ballast/model/result.hpp"

namespace ballast::state {

boost::json::value service_key_to_json(const model::ServiceKey& key);
// Error(EINVAL) with a message saying what is wrong.
Result<model::ServiceKey> service_key_from_json(const boost::json::value& v);

boost::json::value real_key_to_json(const model::RealKey& key);
Result<model::RealKey> real_key_from_json(const boost::json::value& v);

}  // namespace ballast::state
