#pragma once
// FakeSysctl: an in-memory SysctlAccess. Keys that were never set do not exist (read and
// write fail ENOENT, like a missing /proc/sys file); a key "exists" also when it is a
// prefix of a set key ("net.ipv4.vs" exists once "net.ipv4.vs.conntrack" is set). Every
// successful write is recorded in order; fail_writes(key, errno) makes writes of key fail.
#include <cerrno>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "ballast/kernel/sysctl.hpp"

namespace ballast::fakes {

class FakeSysctl : public kernel::SysctlAccess {
public:
    FakeSysctl() = default;
    explicit FakeSysctl(std::map<std::string, std::string> values) : values_(std::move(values)) {}

    bool exists(const std::string& key) const override {
        for (const auto& entry : values_)
            if (entry.first == key || entry.first.rfind(key + ".", 0) == 0) return true;
        return false;
    }
    Result<std::string> read(const std::string& key) const override {
        auto it = values_.find(key);
        if (it == values_.end()) return make_error(ENOENT, "read sysctl", key);
        return it->second;
    }
    Status write(const std::string& key, const std::string& value) override {
        if (auto f = failing_.find(key); f != failing_.end())
            return make_error(f->second, "write sysctl", key);
        auto it = values_.find(key);
        if (it == values_.end()) return make_error(ENOENT, "write sysctl", key);
        it->second = value;
        writes_.emplace_back(key, value);
        return {};
    }

    void set(const std::string& key, const std::string& value) { values_[key] = value; }
    void fail_writes(const std::string& key, int error) { failing_[key] = error; }
    const std::map<std::string, std::string>& values() const { return values_; }
    const std::vector<std::pair<std::string, std::string>>& writes() const { return writes_; }

private:
    std::map<std::string, std::string> values_;
    std::map<std::string, int> failing_;
    std::vector<std::pair<std::string, std::string>> writes_;
};

}  // namespace ballast::fakes
