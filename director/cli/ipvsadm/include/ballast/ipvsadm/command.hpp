#pragma once
// One ipvsadm command line, as ipvsadm 1.31 understands it: the command, the options given
// (ipvsadm's option bits, whose order decides which error is reported first), and the
// service, destination, timeouts and sync daemon it fills in, field by field as ipvsadm
// fills them (including the order-dependent parts: `-M` before `-t [v6]` is reset).
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ballast/kernel/ipvs_codec.hpp"
#include "ballast/model/ipvs.hpp"

namespace ballast::ipvsadm {

enum class Cmd : uint8_t {
    none,
    add,
    edit,
    del,
    flush,
    list,
    add_dest,
    del_dest,
    edit_dest,
    timeout,
    start_daemon,
    stop_daemon,
    restore,
    save,
    zero,
};
// ipvsadm's name of a command in its messages: "add-service", "list", ...
const char* command_name(Cmd c);

// ipvsadm's option bits, in ipvsadm's order (the order its checks report in).
enum class Opt : uint8_t {
    numeric,
    connection,
    service,
    scheduler,
    persistent,
    netmask,
    server,
    forward,
    weight,
    uthreshold,
    lthreshold,
    mcast,
    timeout,
    daemon,
    stats,
    rate,
    thresholds,
    persistent_conn,
    nosort,
    syncid,
    exact,
    ops,
    pe,
    sched_flags,
    mcast_group,
    mcast_port,
    mcast_ttl,
    sync_maxlen,
    tun_info,
    tun_type,
    tun_port,
    tun_nocsum,
    tun_csum,
    tun_remcsum,
};
inline constexpr size_t kOptCount = 34;
const char* option_name(Opt o);  // "service-address", "weight", ...

struct OptionSet {
    uint64_t bits = 0;
    bool has(Opt o) const { return bits & bit(o); }
    void add(Opt o) { bits |= bit(o); }
    static constexpr uint64_t bit(Opt o) { return uint64_t{1} << static_cast<unsigned>(o); }
    bool operator==(const OptionSet&) const = default;
};

// How listings print (ipvsadm's FMT_* flags).
struct Format {
    bool numeric = false;
    bool rule = false;  // -S
    bool stats = false;
    bool rate = false;
    bool thresholds = false;
    bool persistent_conn = false;
    bool nosort = false;
    bool exact = false;
    bool tun_info = false;
    bool operator==(const Format&) const = default;
};

// IP_VS_SVC_F_* and IP_VS_CONN_F_* values ipvsadm works with.
inline constexpr uint32_t kSvcPersistent = 0x1, kSvcOnePacket = 0x4, kSvcSched1 = 0x8,
                          kSvcSched2 = 0x10, kSvcSched3 = 0x20;
inline constexpr uint32_t kFwdMasq = 0, kFwdLocal = 1, kFwdTunnel = 2, kFwdRoute = 3,
                          kFwdMask = 0x7;
inline constexpr uint32_t kDefaultPersistence = 360;  // seconds, `-p` without a value

// A virtual service the way ipvsadm's ipvs_service_t carries it.
struct Service {
    uint16_t af = 0;        // 0 until an address or fwmark names one
    uint16_t protocol = 0;  // IPPROTO_*
    std::array<uint8_t, 16> addr{};
    uint16_t port = 0;  // host order
    uint32_t fwmark = 0;
    std::string scheduler;  // at most 15 characters, as ipvsadm truncates
    uint32_t flags = 0;
    uint32_t timeout = 0;
    uint32_t netmask = 0xffffffff;  // IPv4: mask in network byte order; IPv6: prefix length
    std::string pe_name;
    // The kernel's key of this service (af set).
    model::ServiceKey key() const;
    // True when -Z means "every service" (no fwmark, no address, no port).
    bool is_empty() const;
    bool operator==(const Service&) const = default;
};

struct Dest {
    uint16_t af = 0;
    std::array<uint8_t, 16> addr{};
    uint16_t port = 0;  // host order
    uint32_t conn_flags = kFwdRoute;
    uint32_t weight = 1;
    uint32_t u_threshold = 0, l_threshold = 0;
    uint8_t tun_type = 0;  // 0 ipip, 1 gue, 2 gre
    uint16_t tun_port = 0;
    uint16_t tun_flags = 0;
    model::RealKey key() const;
    model::RealSpec spec() const;
    bool operator==(const Dest&) const = default;
};

// What ballastctl adds to ipvsadm's command line (taken out before ipvsadm's own parsing).
struct Extras {
    bool json = false;   // -o json, --output json, -j, --json
    bool force = false;  // --force: no warning about services a running ballastd owns
    std::optional<std::string> state_dir;  // --state-dir DIR
    std::optional<std::string> socket;     // --socket PATH
    std::optional<std::string> config;     // --config FILE
    bool operator==(const Extras&) const = default;
};

struct Command {
    Cmd cmd = Cmd::none;
    OptionSet options;
    Format format;
    Service svc;
    Dest dest;
    kernel::ipvs::Timeouts timeouts;
    kernel::ipvs::SyncDaemon daemon;
    Extras extras;
    bool operator==(const Command&) const = default;
};

}  // namespace ballast::ipvsadm
