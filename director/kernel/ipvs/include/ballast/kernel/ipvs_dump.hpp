#pragma once
// IpvsNetlinkClient::dump()'s machinery: one GET_SERVICE dump, then one GET_DEST dump per
// listed service, in chunks of consecutive services claimed by whichever of several sockets is
// free (each further socket on a thread of its own), while the caller's thread decodes the
// replies in list order into the snapshot. It only moves bytes over the sockets it is given, so
// tests run it against a fake kernel over socketpairs.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "ballast/kernel/ipvs_client.hpp"
#include "ballast/kernel/netlink_socket.hpp"

namespace ballast::kernel::ipvs {

struct DumpSockets {
    // The service list's own socket, read 32 KiB at a time (so its large reads never enlarge the
    // dest dumps' skbs on dest_fd).
    int list_fd = -1;
    // The caller's socket and its recvmmsg slots: dest dumps on it once the list is in.
    int dest_fd = -1;
    nl::ReceiveSlots* dest_rx = nullptr;
    // Further sockets for dest dumps, each used by a thread of its own once the list has a chunk
    // for it (up to DumpOptions::sockets - 1 of them). All are the caller's: opened in the network
    // namespace to dump, kept open. A reply a failed dump left behind is told apart by its seq.
    std::vector<int> further;
};

struct DumpOptions {
    uint16_t family_id = 0;  // the resolved "IPVS" generic-netlink family
    // Dest dumps on up to this many sockets, dest_fd included (1: all on dest_fd, after the list).
    size_t sockets = 2;
    // A receiving thread makes the system calls while the caller's thread decodes; false: every
    // reply is received first, then decoded.
    bool overlap_decoding = true;
    // The counters encoded service by service into the snapshot's `counters`, its maps left
    // empty (see IpvsSnapshot).
    bool encode_counters = false;
};

struct DumpOutcome {
    // The snapshot, or the first failure in list order (the list, then each service's dests).
    Result<IpvsSnapshot> snapshot;
    // Sequence numbers used from first_seq on: the list's, and one per dest dump sent.
    uint32_t seqs_used = 0;
};

// The list has sequence number first_seq, the dest dumps first_seq + 1 on (in list order).
DumpOutcome dump_table(const DumpSockets& sockets, const DumpOptions& options, uint32_t first_seq);

}  // namespace ballast::kernel::ipvs
