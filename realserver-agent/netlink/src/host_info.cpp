#include <fstream>
#include <sstream>

#include "ballast/agent/netlink.hpp"

namespace ballast::agent {
namespace {

Result<std::string> read_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) return make_error(errno ? errno : ENOENT, "read", path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

class SystemHostInfo final : public HostInfo {
public:
    Result<int> rp_filter(const std::string& ifname) override {
        if (ifname != "all" && !valid_ifname(ifname))
            return make_error(EINVAL, "rp_filter", ifname,
                              "'" + ifname + "' is not an interface name");
        std::string path = "/proc/sys/net/ipv4/conf/" + ifname + "/rp_filter";
        auto text = read_file(path);
        if (!text) return text.error();
        try {
            return std::stoi(*text);
        } catch (...) {
            return make_error(EINVAL, "read", path, path + ": not a number");
        }
    }

    Result<std::vector<Socket>> sockets() override {
        // thread-self: the calling thread's network namespace, not the process's.
        std::vector<Socket> all;
        struct File {
            const char* name;
            Transport t;
            uint8_t family;
        };
        for (File f :
             {File{"tcp", Transport::tcp, AF_INET}, File{"tcp6", Transport::tcp, AF_INET6},
              File{"udp", Transport::udp, AF_INET}, File{"udp6", Transport::udp, AF_INET6}}) {
            std::string path = std::string("/proc/thread-self/net/") + f.name;
            auto text = read_file(path);
            if (!text) {
                if (f.family == AF_INET6) continue;  // IPv6 disabled
                return text.error();
            }
            auto parsed = parse_proc_net(*text, f.t, f.family);
            if (!parsed) return parsed.error();
            all.insert(all.end(), parsed->begin(), parsed->end());
        }
        return all;
    }

    Result<BondState> bond(const std::string& ifname) override {
        if (!valid_ifname(ifname))
            return make_error(EINVAL, "bond", ifname, "'" + ifname + "' is not an interface name");
        std::string dir = "/sys/class/net/" + ifname + "/bonding/";
        BondState b;
        auto mode = read_file(dir + "mode");
        if (!mode) return mode.error();
        b.mode = trim(*mode);
        if (auto active = read_file(dir + "active_slave")) b.active_slave = trim(*active);
        auto slaves = read_file(dir + "slaves");
        if (!slaves) return slaves.error();
        std::istringstream names(*slaves);
        std::string name;
        while (names >> name) {
            auto st = read_file("/sys/class/net/" + name + "/bonding_slave/mii_status");
            b.slaves.push_back(BondSlave{name, st && trim(*st) == "up"});
        }
        return b;
    }
};

}  // namespace

std::unique_ptr<HostInfo> system_host_info() {
    return std::make_unique<SystemHostInfo>();
}

}  // namespace ballast::agent
