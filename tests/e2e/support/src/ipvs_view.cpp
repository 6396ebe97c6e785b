#include "ballast/testing/ipvs_view.hpp"

#include <thread>

#include "ballast/kernel/ipvs_netlink_client.hpp"

namespace ballast::testing {

std::map<std::string, KernelService> kernel_services(IsolatedNetns& director) {
    return director.run([] { return kernel_services_here(); });
}

std::map<std::string, KernelService> kernel_services_here() {
    auto client = kernel::IpvsNetlinkClient::open();
    if (!client) throw CommandFailed(client.error().describe());
    auto snap = (*client)->dump();
    if (!snap) throw CommandFailed(snap.error().describe());
    std::map<std::string, KernelService> out;
    for (const auto& [key, svc] : snap->table.services) {
        KernelService& s = out[key.to_string()];
        const auto counters = snap->dest_counters.find(key);
        for (const auto& [real, spec] : svc.reals) {
            KernelDest d;
            d.weight = spec.weight;
            if (counters != snap->dest_counters.end()) {
                if (auto c = counters->second.find(real); c != counters->second.end()) {
                    d.active = c->second.active_conns;
                    d.inactive = c->second.inactive_conns;
                }
            }
            s[real.to_string()] = d;
        }
    }
    return out;
}

KernelService kernel_service(IsolatedNetns& director, const std::string& key) {
    auto all = kernel_services(director);
    auto it = all.find(key);
    return it == all.end() ? KernelService{} : it->second;
}

std::map<std::string, uint32_t> weights(const KernelService& service) {
    std::map<std::string, uint32_t> out;
    for (const auto& [real, d] : service) out[real] = d.weight;
    return out;
}

bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds limit,
              std::chrono::milliseconds* took) {
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
        const bool ok = cond();
        const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - start);
        if (took) *took = elapsed;
        if (ok) return true;
        if (elapsed > limit) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

}  // namespace ballast::testing
