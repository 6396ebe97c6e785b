#include "ballast/doctor/gather.hpp"

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <memory>

#include "ballast/agent/netlink.hpp"
#include "ballast/health/probe.hpp"
#include "ballast/kernel/ipvs_netlink_client.hpp"
#include "ballast/nft/netlink_nft_client.hpp"

namespace ballast::doctor {
namespace {

Result<std::optional<nft::TableModel>> read_nft() {
    auto client = nft::NetlinkNftClient::open();
    if (!client) return client.error();
    return (*client)->dump_table();
}

Result<kernel::IpvsSnapshot> read_ipvs() {
    auto client = kernel::IpvsNetlinkClient::open();
    if (!client) return client.error();
    return (*client)->dump();
}

// Every probe at once; each ends by its own timeout (capped by reachability_probes), so
// run() returns after the slowest one.
std::map<health::CheckKey, ProbeOutcome> run_probes(const std::vector<health::CheckKey>& keys) {
    std::map<health::CheckKey, ProbeOutcome> out;
    boost::asio::io_context io;
    health::ProbeContext ctx(io);
    std::vector<std::shared_ptr<health::ProbeRun>> runs;
    runs.reserve(keys.size());
    for (const auto& key : keys)
        runs.push_back(health::start_probe(ctx, key, [&out, key](const health::ProbeResult& r) {
            out[key] = ProbeOutcome{r.up, r.reason};
        }));
    io.run();
    return out;
}

}  // namespace

DirectorFacts gather_facts(const model::DirectorConfig& config) {
    DirectorFacts facts;
    facts.nft_table = read_nft();
    facts.ipvs = read_ipvs();
    auto host = agent::system_host_info();
    for (const auto& i : config.director.interfaces) {
        std::error_code ec;
        if (std::filesystem::exists("/sys/class/net/" + i + "/bonding", ec))
            facts.bonds.emplace(i, host->bond(i));
    }
    facts.probes = run_probes(reachability_probes(config));
    return facts;
}

}  // namespace ballast::doctor
