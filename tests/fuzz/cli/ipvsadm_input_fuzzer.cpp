// ballastctl's ipvsadm mode on arbitrary input: the bytes as -R's stdin (the restore reader,
// popt and every check, over a kernel that accepts everything) and as /proc/net/ip_vs_conn
// (the connection listing, text and JSON). Nothing may crash, leak or hang.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "ballast/ipvsadm/run.hpp"

namespace {

using namespace ballast;
using namespace ballast::ipvsadm;

class AcceptingKernel final : public Kernel {
public:
    std::string conn;
    Result<kernel::ipvs::Info> init() override { return kernel::ipvs::Info{0x010201, 4096}; }
    Result<std::vector<kernel::ipvs::ServiceEntry>> services() override {
        return std::vector<kernel::ipvs::ServiceEntry>{};
    }
    Result<kernel::ipvs::ServiceEntry> service(const model::ServiceKey&) override {
        return make_error(ESRCH, "get");
    }
    Result<std::vector<kernel::ipvs::DestEntry>> dests(const model::ServiceKey&) override {
        return std::vector<kernel::ipvs::DestEntry>{};
    }
    std::vector<Status> apply(std::span<const model::IpvsOp> ops) override {
        return std::vector<Status>(ops.size());
    }
    Status flush() override { return {}; }
    Status zero(const model::ServiceKey*) override { return {}; }
    Result<kernel::ipvs::Timeouts> timeouts() override { return kernel::ipvs::Timeouts{}; }
    Status set_timeouts(const kernel::ipvs::Timeouts&) override { return {}; }
    Result<std::vector<kernel::ipvs::SyncDaemon>> daemons() override {
        return std::vector<kernel::ipvs::SyncDaemon>{};
    }
    Status start_daemon(const kernel::ipvs::SyncDaemon&) override { return {}; }
    Status stop_daemon(kernel::ipvs::SyncDaemon::State) override { return {}; }
    Result<std::string> connections() override { return conn; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    AcceptingKernel kernel;
    kernel.conn = text;
    NoNames names;
    for (const auto& argv : {std::vector<std::string>{"ballastctl", "-R"},
                             std::vector<std::string>{"ballastctl", "-Lc", "--persistent-conn"},
                             std::vector<std::string>{"ballastctl", "-Lnc", "-j"}}) {
        std::istringstream in(text);
        std::ostringstream out, err;
        (void)run(argv, kernel, names, {in, out, err}, nullptr);
    }
    return 0;
}
