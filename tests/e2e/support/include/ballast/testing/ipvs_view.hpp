#pragma once
// What the director's kernel holds, read over generic netlink inside its namespace, and a
// helper to wait for it to change.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "ballast/testing/lab.hpp"

namespace ballast::testing {

struct KernelDest {
    uint32_t weight = 0;
    uint32_t active = 0;    // established connections
    uint32_t inactive = 0;  // every other state
};
// One service's real servers: "10.51.1.2:80" / "[fd00:51:1::2]:80" -> weight and connections.
using KernelService = std::map<std::string, KernelDest>;

// Every IPVS service in the director's namespace, by model::ServiceKey::to_string():
// "10.50.0.100:80/tcp", "[fd00:50::100]:80/tcp", "fwmark 4096/ipv4". Throws CommandFailed.
std::map<std::string, KernelService> kernel_services(IsolatedNetns& director);
// The same in the calling thread's namespace (the demo's tool, under `ip netns exec`).
std::map<std::string, KernelService> kernel_services_here();
// One of them; empty when it is missing.
KernelService kernel_service(IsolatedNetns& director, const std::string& key);
// Its real servers' weights.
std::map<std::string, uint32_t> weights(const KernelService& service);

// Polls cond every 20 ms until it holds (true) or `limit` passes (false); `took` gets how long.
bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds limit,
              std::chrono::milliseconds* took = nullptr);

}  // namespace ballast::testing
