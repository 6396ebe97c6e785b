#pragma once
// The part of keepalived.conf the importer understands, read from the node
// tree with keepalived's defaults still open (unset = not written), so the
// mapping can tell "written" from "inherited". Internal to ballast_import.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ballast/import/keepalived_parser.hpp"
#include "ballast/model/address.hpp"
#include "ballast/model/ipvs.hpp"

namespace ballast::import::detail {

using Micros = std::chrono::microseconds;

// A value and the line it was written on.
template <class T>
struct Set {
    T value{};
    SourceRef where;
};

// Timing keywords that cascade virtual_server -> real_server -> checker.
struct Timing {
    std::optional<Set<Micros>> delay_loop, connect_timeout, delay_before_retry, warmup;
    std::optional<Set<uint32_t>> retry;
    std::optional<Set<bool>> alpha;
};

struct KaUrl {
    SourceRef where;
    std::optional<Set<std::string>> path;
    std::vector<uint16_t> status;  // empty: keepalived's default 200-299
    std::optional<Set<std::string>> virtualhost, regex;
};

enum class CheckerKind { tcp, http, ssl, misc, dns, udp };

struct KaChecker {
    CheckerKind kind = CheckerKind::tcp;
    std::string keyword;  // TCP_CHECK, HTTP_GET, ...
    SourceRef where;
    Timing timing;
    std::optional<Set<model::IpAddress>> connect_ip;
    std::optional<Set<uint16_t>> connect_port;
    // HTTP_GET, SSL_GET
    std::vector<KaUrl> urls;
    std::optional<Set<std::string>> virtualhost;
    bool enable_sni = false;
    // MISC_CHECK
    std::optional<Set<std::vector<std::string>>> misc_path;
    std::optional<Set<Micros>> misc_timeout;
    // DNS_CHECK
    Set<std::string> dns_type{"SOA", {}};
    std::optional<Set<std::string>> dns_name;
    // UDP_CHECK
    std::optional<Set<std::string>> payload;  // bytes
    std::optional<SourceRef> require_reply;
    std::optional<Set<std::string>> reply_data;  // bytes; nullopt = any reply
};

struct KaReal {
    SourceRef where;
    std::string header;  // "real_server 10.0.0.1 80"
    model::IpAddress addr;
    uint16_t port = 0;  // 0 = not written
    std::optional<Set<uint32_t>> weight;
    std::optional<Set<model::ForwardMethod>> forward;
    std::optional<Set<uint32_t>> upper_threshold, lower_threshold;
    std::optional<Set<bool>> inhibit;
    std::optional<Set<std::string>> virtualhost;
    Timing timing;
    std::vector<KaChecker> checkers;
};

struct KaSorry {
    SourceRef where;
    model::IpAddress addr;
    uint16_t port = 0;
    std::optional<Set<model::ForwardMethod>> forward;
};

enum class VsKind { inet, fwmark, group };

struct KaVirtualServer {
    SourceRef where;
    std::string header;  // "virtual_server 10.0.0.1 80"
    VsKind kind = VsKind::inet;
    model::IpAddress vip;
    uint16_t port = 0;  // 0: every port
    uint32_t fwmark = 0;
    std::string group;
    std::optional<Set<model::Protocol>> protocol;
    std::optional<Set<uint8_t>> family;  // ip_family
    Timing timing;
    bool inhibit = false;
    Set<std::string> scheduler{"wlc", {}};
    std::optional<SourceRef> ops, sh_port, sh_fallback, mh_port, mh_fallback, flag1, flag2;
    std::optional<Set<model::ForwardMethod>> forward;  // lb_kind
    std::optional<Set<uint32_t>> persistence;          // seconds
    std::optional<Set<std::string>> granularity;
    std::optional<Set<std::string>> persistence_engine;
    Set<uint32_t> weight{1, {}};
    std::optional<Set<std::string>> virtualhost;
    std::optional<KaSorry> sorry;
    std::vector<KaReal> reals;
};

struct KaGroupEntry {
    SourceRef where;
    std::string text;  // as written
    bool is_fwmark = false;
    std::vector<model::IpAddress> addrs;  // ranges expanded
    uint16_t port = 0;                    // 0: every port
    uint32_t fwmark = 0;
    std::optional<uint8_t> family;  // "fwmark N inet|inet6"
};

struct KaGroup {
    SourceRef where;
    std::vector<KaGroupEntry> entries;
};

struct KaConfig {
    std::vector<KaVirtualServer> virtual_servers;
    std::map<std::string, KaGroup> groups;
    std::vector<NotConverted> not_converted;
};

// Reads the virtual_server and virtual_server_group blocks; everything else
// (and every keyword without a ballast equivalent) goes to not_converted.
KaConfig read_config(const std::vector<Node>& nodes);

// keepalived's number formats.
std::optional<uint64_t> parse_unsigned(const std::string& s, uint64_t min, uint64_t max);
std::optional<Micros> parse_timer(const std::string& s);  // "3", "0.5" (seconds, us resolution)

}  // namespace ballast::import::detail
