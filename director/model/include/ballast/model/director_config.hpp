#pragma once
// The validated configuration: what config/ produces and policy/ consumes.
// A DirectorConfig exists only if every check in config/ passed.
#include <algorithm>
#include <chrono>
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ballast/model/address.hpp"
#include "ballast/model/boxed.hpp"
#include "ballast/model/check.hpp"
#include "ballast/model/ipvs.hpp"
#include "ballast/model/shared.hpp"

namespace ballast::model {

// Where something is written: file, line and column. The file's name is held once per process
// (interned) and a location holds its number: a config of 50,000 real servers would otherwise
// hold 50,000 copies of its path (and a pointer would take 4 bytes more than the number).
// Compared by name, line and column, as if it held the name.
struct SourceLocation {
    SourceLocation() = default;
    SourceLocation(std::string_view file_name, uint32_t line_number, uint32_t column_number);
    // The same file at another place (no lookup of the name).
    SourceLocation at(uint32_t other_line, uint32_t other_column) const {
        SourceLocation l = *this;
        l.line = other_line;
        l.column = other_column;
        return l;
    }
    const std::string& file() const;  // "" when made without one
    std::string to_string() const {
        return file() + ":" + std::to_string(line) + ":" + std::to_string(column);
    }
    // One name, one number: comparing numbers compares names.
    bool operator==(const SourceLocation& o) const {
        return file_ == o.file_ && line == o.line && column == o.column;
    }
    std::strong_ordering operator<=>(const SourceLocation& o) const {
        if (file_ != o.file_)
            if (auto c = file().compare(o.file()); c != 0) return c <=> 0;
        if (line != o.line) return line <=> o.line;
        return column <=> o.column;
    }

    uint32_t line = 0;
    uint32_t column = 0;

private:
    uint32_t file_ = 0;  // the interned name's number; 0: none
};

struct SysctlSettings {
    bool ip_forward = true;  // net.ipv4.ip_forward=1 (+ ipv6 when an IPv6 service exists)
    bool disable_send_redirects = true;        // conf.all + conf.<if>.send_redirects=0
    bool expire_nodest_conn = true;            // net.ipv4.vs.expire_nodest_conn=1
    bool expire_quiescent_template = true;     // net.ipv4.vs.expire_quiescent_template=1
    std::optional<int> vs_conntrack;           // net.ipv4.vs.conntrack; nullopt = leave as is
    std::map<std::string, std::string> extra;  // any other "net.x.y" = "value"
    auto operator<=>(const SysctlSettings&) const = default;
};

struct DirectorSettings {
    std::vector<std::string> interfaces;         // director interfaces (send_redirects=0 on each)
    std::vector<std::string> egress_interfaces;  // masquerade only out of these; empty = any
    std::string control_socket = "/run/ballast/ballastd.sock";
    std::string control_group;              // may use the control socket; empty = root only
    std::optional<Endpoint> status_listen;  // HTTP status page + metrics
    bool status_write = false;              // drain/enable buttons on the status page
    Millis drain_timeout{std::chrono::minutes(5)};
    uint32_t fwmark_first = 0x1000;  // marks allocated to service groups come from this range
    uint32_t fwmark_last = 0x1fff;
    // Where ballastd keeps what must survive a restart (ownership record, overrides).
    std::string state_directory = "/var/lib/ballast";
    // A full dump and plan repairs drift (changes made behind the daemon's back) this often.
    Millis resync_interval{std::chrono::seconds(30)};
    // Panic: when more than this share (percent) of a service's real servers would be down
    // at once, every one keeps its weight (a director that lost its own network must not
    // empty every pool). 100 = never. Services with a sorry server default to 100.
    uint32_t panic_threshold = 50;
    SysctlSettings sysctl;
    auto operator<=>(const DirectorSettings&) const = default;
};

// One member of a firewall-mark service group: an IP protocol (6 tcp, 17 udp,
// 132 sctp, 50 esp, ...) and, for port protocols, a port or port range.
struct GroupMatch {
    uint8_t ip_protocol = 6;
    uint16_t port_first = 0;  // 0 = any / not a port protocol
    uint16_t port_last = 0;
    auto operator<=>(const GroupMatch&) const = default;
};

enum class OnFailure : uint8_t { quiesce, remove };

struct RealServerConfig {
    RealKey key;
    RealSpec spec;                       // spec.weight is the configured weight
    std::optional<uint16_t> agent_port;  // ballast-agent / agent-check port on this server
    SourceLocation where;
    auto operator<=>(const RealServerConfig&) const = default;
};

struct ServiceConfig {
    std::string name;
    ServiceKey key;  // for a group: fwmark service (mark allocated by validation)
    ServiceSpec spec;
    std::vector<GroupMatch> group;  // non-empty: this is a fwmark group on group_vip
    Boxed<IpAddress> group_vip;     // boxed: most services are not groups
    OnFailure on_failure = OnFailure::quiesce;
    Boxed<RealKey> sorry_server;              // boxed: most services have none
    std::optional<uint32_t> panic_threshold;  // percent; nullopt = the director's (or 100
                                              // with a sorry server)
    // Defaults merged in; empty = not checked (always up). Services whose checks are equal share
    // one (a check spec is ~500 bytes).
    Shared<CheckSpec> check;
    std::vector<RealServerConfig> reals;
    SourceLocation where;
    auto operator<=>(const ServiceConfig&) const = default;
    // Equal but for where things are written in the file (a reload that only moves lines
    // changes nothing).
    bool same_settings(const ServiceConfig& o) const {
        auto real_eq = [](const RealServerConfig& a, const RealServerConfig& b) {
            return a.key == b.key && a.spec == b.spec && a.agent_port == b.agent_port;
        };
        return name == o.name && key == o.key && spec == o.spec && group == o.group &&
               group_vip == o.group_vip && on_failure == o.on_failure &&
               sorry_server == o.sorry_server && panic_threshold == o.panic_threshold &&
               check == o.check &&
               std::equal(reals.begin(), reals.end(), o.reals.begin(), o.reals.end(), real_eq);
    }
};

struct DirectorConfig {
    std::string source_file;
    DirectorSettings director;
    CheckSpec default_check;
    std::vector<ServiceConfig> services;
    bool operator==(const DirectorConfig&) const = default;
};

}  // namespace ballast::model
