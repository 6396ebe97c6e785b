#include "ballast/ipvsadm/kernel.hpp"

#include <spawn.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

extern char** environ;

namespace ballast::ipvsadm {

namespace {

// What ipvsadm runs when IPVS does not answer: /sbin/modprobe -- ip_vs (its messages go to
// our stderr as they go to ipvsadm's).
bool modprobe_ip_vs() {
    const char* argv[] = {"/sbin/modprobe", "--", "ip_vs", nullptr};
    pid_t pid = 0;
    if (::posix_spawn(&pid, argv[0], nullptr, nullptr, const_cast<char* const*>(argv), environ) !=
        0)
        return false;
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) return false;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

Error not_open() {
    return make_error(ENOTCONN, "ipvsadm", "", "not connected to IPVS");
}

}  // namespace

NetlinkKernel::NetlinkKernel() = default;
NetlinkKernel::~NetlinkKernel() = default;

Result<kernel::ipvs::Info> NetlinkKernel::init() {
    if (!client_) {
        kernel::IpvsNetlinkClient::Options o;
        o.idempotent = false;
        auto c = kernel::IpvsNetlinkClient::open(o);
        if (!c && modprobe_ip_vs()) c = kernel::IpvsNetlinkClient::open(o);
        if (!c) return c.error();
        client_ = std::move(*c);
    }
    return client_->info();
}

Result<std::vector<kernel::ipvs::ServiceEntry>> NetlinkKernel::services() {
    if (!client_) return not_open();
    return client_->list_services();
}
Result<kernel::ipvs::ServiceEntry> NetlinkKernel::service(const model::ServiceKey& key) {
    if (!client_) return not_open();
    return client_->get_service(key);
}
Result<std::vector<kernel::ipvs::DestEntry>> NetlinkKernel::dests(const model::ServiceKey& key) {
    if (!client_) return not_open();
    return client_->list_dests(key);
}
std::vector<Status> NetlinkKernel::apply(std::span<const model::IpvsOp> ops) {
    if (!client_) return std::vector<Status>(ops.size(), Status(not_open()));
    return client_->apply(ops);
}
Status NetlinkKernel::flush() {
    if (!client_) return not_open();
    return client_->flush();
}
Status NetlinkKernel::zero(const model::ServiceKey* key) {
    if (!client_) return not_open();
    return key ? client_->zero_counters(*key) : client_->zero_counters();
}
Result<kernel::ipvs::Timeouts> NetlinkKernel::timeouts() {
    if (!client_) return not_open();
    return client_->get_timeouts();
}
Status NetlinkKernel::set_timeouts(const kernel::ipvs::Timeouts& t) {
    if (!client_) return not_open();
    return client_->set_timeouts(t);
}
Result<std::vector<kernel::ipvs::SyncDaemon>> NetlinkKernel::daemons() {
    if (!client_) return not_open();
    return client_->daemons();
}
Status NetlinkKernel::start_daemon(const kernel::ipvs::SyncDaemon& d) {
    if (!client_) return not_open();
    return client_->start_daemon(d);
}
Status NetlinkKernel::stop_daemon(kernel::ipvs::SyncDaemon::State state) {
    if (!client_) return not_open();
    return client_->stop_daemon(state);
}

Result<std::string> NetlinkKernel::connections() {
    // thread-self: the namespace of this thread (a test may run us on a thread of its own
    // namespace); for ipvsadm, a single thread, /proc/net is the same file.
    std::ifstream in("/proc/thread-self/net/ip_vs_conn");
    if (!in) return make_error(errno ? errno : ENOENT, "open", "/proc/net/ip_vs_conn");
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace ballast::ipvsadm
