#pragma once
// What ballastctl's ipvsadm mode asks of the kernel, as a small interface: the real one is the
// project's IpvsNetlinkClient (pipelined apply, one socket for everything) plus
// /proc/net/ip_vs_conn; tests put a fake behind it.
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ballast/kernel/ipvs_codec.hpp"
#include "ballast/kernel/ipvs_netlink_client.hpp"
#include "ballast/model/ipvs_op.hpp"
#include "ballast/model/result.hpp"

namespace ballast::ipvsadm {

class Kernel {
public:
    virtual ~Kernel() = default;
    // Connects (loading ip_vs when it is missing, as ipvsadm does) and reads IPVS's version.
    virtual Result<kernel::ipvs::Info> init() = 0;
    // In the kernel's order.
    virtual Result<std::vector<kernel::ipvs::ServiceEntry>> services() = 0;
    virtual Result<kernel::ipvs::ServiceEntry> service(const model::ServiceKey& key) = 0;
    virtual Result<std::vector<kernel::ipvs::DestEntry>> dests(const model::ServiceKey& key) = 0;
    // In order, pipelined, one Status per op carrying the kernel's errno; nothing is idempotent
    // (adding what exists fails with EEXIST, deleting what is absent with ESRCH/ENOENT).
    virtual std::vector<Status> apply(std::span<const model::IpvsOp> ops) = 0;
    virtual Status flush() = 0;
    virtual Status zero(const model::ServiceKey* key) = 0;  // null: every service
    virtual Result<kernel::ipvs::Timeouts> timeouts() = 0;
    virtual Status set_timeouts(const kernel::ipvs::Timeouts& t) = 0;
    virtual Result<std::vector<kernel::ipvs::SyncDaemon>> daemons() = 0;
    virtual Status start_daemon(const kernel::ipvs::SyncDaemon& d) = 0;
    virtual Status stop_daemon(kernel::ipvs::SyncDaemon::State state) = 0;
    // The text of /proc/net/ip_vs_conn in the caller's (thread's) network namespace.
    virtual Result<std::string> connections() = 0;
};

class NetlinkKernel final : public Kernel {
public:
    NetlinkKernel();
    ~NetlinkKernel() override;
    Result<kernel::ipvs::Info> init() override;
    Result<std::vector<kernel::ipvs::ServiceEntry>> services() override;
    Result<kernel::ipvs::ServiceEntry> service(const model::ServiceKey& key) override;
    Result<std::vector<kernel::ipvs::DestEntry>> dests(const model::ServiceKey& key) override;
    std::vector<Status> apply(std::span<const model::IpvsOp> ops) override;
    Status flush() override;
    Status zero(const model::ServiceKey* key) override;
    Result<kernel::ipvs::Timeouts> timeouts() override;
    Status set_timeouts(const kernel::ipvs::Timeouts& t) override;
    Result<std::vector<kernel::ipvs::SyncDaemon>> daemons() override;
    Status start_daemon(const kernel::ipvs::SyncDaemon& d) override;
    Status stop_daemon(kernel::ipvs::SyncDaemon::State state) override;
    Result<std::string> connections() override;

private:
    std::unique_ptr<kernel::IpvsNetlinkClient> client_;
};

}  // namespace ballast::ipvsadm
