#pragma once
// SysctlAccess over a directory tree laid out like /proc/sys. /proc/sys/net belongs to the
// network namespace of the thread that opens a file, so the caller's thread decides which
// namespace is read and written.
#include <string>

#include "ballast/kernel/sysctl.hpp"

namespace ballast::sysctl {

class ProcSysctl final : public kernel::SysctlAccess {
public:
    explicit ProcSysctl(std::string root = "/proc/sys");
    bool exists(const std::string& key) const override;
    Result<std::string> read(const std::string& key) const override;
    Status write(const std::string& key, const std::string& value) override;
    // "net.ipv4.conf.eth0/100.send_redirects" -> ROOT/net/ipv4/conf/eth0.100/send_redirects
    std::string path_of(const std::string& key) const;

private:
    std::string root_;
};

}  // namespace ballast::sysctl
