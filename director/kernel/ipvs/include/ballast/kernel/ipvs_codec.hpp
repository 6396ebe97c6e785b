#pragma once
// IPVS generic-netlink messages as pure functions: every request the client
// sends is encoded here and every reply decoded here, without a socket, so both
// are tested byte for byte against linux/ip_vs.h and the decoder is fuzzed.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ballast/kernel/ipvs_client.hpp"
#include "ballast/kernel/netlink_wire.hpp"
#include "ballast/model/ipvs.hpp"
#include "ballast/model/ipvs_op.hpp"
#include "ballast/model/result.hpp"

namespace ballast::kernel::ipvs {

// Where a request goes: the resolved "IPVS" family id and the request's sequence number.
struct Header {
    uint16_t family_id = 0;
    uint32_t seq = 0;
};

// Connection timeouts in seconds. On set, 0 leaves that timeout unchanged.
struct Timeouts {
    uint32_t tcp = 0, tcp_fin = 0, udp = 0;
    auto operator<=>(const Timeouts&) const = default;
};

// A connection-sync daemon (IPVS_DAEMON_ATTR_*).
struct SyncDaemon {
    enum class State : uint32_t { master = 1, backup = 2 };
    State state = State::master;
    std::string mcast_ifn;
    uint32_t sync_id = 0;
    std::optional<uint16_t> sync_maxlen;
    std::optional<model::IpAddress> mcast_group;  // v4 or v6
    std::optional<uint16_t> mcast_port;
    std::optional<uint8_t> mcast_ttl;
    auto operator<=>(const SyncDaemon&) const = default;
};

struct Info {
    uint32_t version = 0;        // 0x010201 = 1.2.1
    uint32_t conn_tab_size = 0;  // connection hash table size
    std::string version_string() const;
};

struct ServiceEntry {
    model::ServiceKey key;
    model::ServiceSpec spec;
    IpvsStats stats;
};

struct DestEntry {
    model::RealKey key;
    model::RealSpec spec;
    DestCounters counters;
};

// ---- encoders: each appends one complete request to out ----
// Writes carry NLM_F_REQUEST|NLM_F_ACK; single gets NLM_F_REQUEST; dumps NLM_F_REQUEST|NLM_F_DUMP.
void encode_new_service(std::vector<uint8_t>& out, Header h, const model::ServiceKey& key,
                        const model::ServiceSpec& spec);
void encode_set_service(std::vector<uint8_t>& out, Header h, const model::ServiceKey& key,
                        const model::ServiceSpec& spec);
void encode_del_service(std::vector<uint8_t>& out, Header h, const model::ServiceKey& key);
void encode_get_service(std::vector<uint8_t>& out, Header h, const model::ServiceKey& key);
void encode_dump_services(std::vector<uint8_t>& out, Header h);
void encode_new_dest(std::vector<uint8_t>& out, Header h, const model::ServiceKey& svc,
                     const model::RealKey& real, const model::RealSpec& spec);
void encode_set_dest(std::vector<uint8_t>& out, Header h, const model::ServiceKey& svc,
                     const model::RealKey& real, const model::RealSpec& spec);
void encode_del_dest(std::vector<uint8_t>& out, Header h, const model::ServiceKey& svc,
                     const model::RealKey& real);
void encode_dump_dests(std::vector<uint8_t>& out, Header h, const model::ServiceKey& svc);
void encode_set_timeouts(std::vector<uint8_t>& out, Header h, const Timeouts& t);
void encode_get_timeouts(std::vector<uint8_t>& out, Header h);
void encode_new_daemon(std::vector<uint8_t>& out, Header h, const SyncDaemon& d);
void encode_del_daemon(std::vector<uint8_t>& out, Header h, SyncDaemon::State state);
void encode_dump_daemons(std::vector<uint8_t>& out, Header h);
void encode_flush(std::vector<uint8_t>& out, Header h);  // deletes every service
// Zeroes the counters of one service, or of everything when svc is null.
void encode_zero(std::vector<uint8_t>& out, Header h, const model::ServiceKey* svc);
void encode_get_info(std::vector<uint8_t>& out, Header h);
// One reconcile operation (add/edit/del service or dest).
void encode_op(std::vector<uint8_t>& out, Header h, const model::IpvsOp& op);

// ---- decoders: each takes one reply message; malformed input is an Error, never UB ----
Result<ServiceEntry> decode_service(const nl::Message& m);
// Only the key of a service reply: the same key (or error) as decode_service's, when that
// succeeds; used to start the service's dest dump before the whole reply is decoded.
Result<model::ServiceKey> decode_service_key(const nl::Message& m);
// Dest replies do not repeat the service; svc supplies the default address family.
Result<DestEntry> decode_dest(const nl::Message& m, const model::ServiceKey& svc);
// One service's decoded dests as a snapshot holds them: in key order, the first of a repeated
// key kept (dests is sorted in place; the kernel lists a service's dests newest first).
struct ServiceDests {
    model::IpvsReals reals;
    CountersByReal counters;
};
ServiceDests collect_dests(std::vector<DestEntry>& dests);
Result<SyncDaemon> decode_daemon(const nl::Message& m);
Result<Info> decode_info(const nl::Message& m);
Result<Timeouts> decode_timeouts(const nl::Message& m);

}  // namespace ballast::kernel::ipvs
