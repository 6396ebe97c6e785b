#pragma once
// The /proc/sys boundary: read and write one key. Keys use sysctl(8) notation
// ("net.ipv4.conf.eth0.send_redirects"; an interface name containing '.' is written
// with '/', e.g. "net.ipv4.conf.eth0/100.send_redirects"). The real implementation maps
// keys onto a root directory (normally /proc/sys), so tests use a temp dir instead.
#include <string>

#include "ballast/model/result.hpp"

namespace ballast::kernel {

class SysctlAccess {
public:
    virtual ~SysctlAccess() = default;
    virtual bool exists(const std::string& key) const = 0;
    // The value with surrounding whitespace removed.
    virtual Result<std::string> read(const std::string& key) const = 0;
    virtual Status write(const std::string& key, const std::string& value) = 0;
};

}  // namespace ballast::kernel
