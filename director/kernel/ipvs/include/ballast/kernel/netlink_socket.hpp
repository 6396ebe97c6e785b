#pragma once
// The socket side of the IPVS client: requests sent whole, replies received in batches
// (recvmmsg into page-sized slots) or one large datagram at a time, each call a Result. Nothing
// here is specific to netlink sockets, so the dump machinery runs in unit tests over a socketpair
// with a fake kernel on the other end.
#include <sys/socket.h>
#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ballast/kernel/netlink_wire.hpp"
#include "ballast/model/result.hpp"

namespace ballast::kernel::nl {

// A descriptor closed on destruction (-1: none).
class FdCloser {
public:
    explicit FdCloser(int fd) : fd_(fd) {}
    FdCloser(FdCloser&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    FdCloser& operator=(FdCloser&&) = delete;
    ~FdCloser();
    int get() const { return fd_; }

private:
    int fd_ = -1;
};

// A bound generic-netlink socket (close-on-exec) whose blocking receives give up after
// receive_timeout (see set_receive_timeout); -1 and errno if none can be had.
int open_generic_socket(std::chrono::milliseconds receive_timeout);
// Blocking receives on fd give up after timeout (SO_RCVTIMEO): a kernel that never answers
// ends in an ETIMEDOUT error instead of a hung caller. 0: wait for ever. False on failure.
bool set_receive_timeout(int fd, std::chrono::milliseconds timeout);

Error sys_error(int err, const char* op, std::string what);
// A failed receive (errno err) on fd: EAGAIN from a blocking socket is its receive timeout
// ("no reply from the kernel within 10 s", ETIMEDOUT). And a reply that did not fit the buffer.
Error receive_failure(int fd, int err, const char* op);
Error truncated_reply(const char* op);

// Discards every datagram already queued on fd (replies an earlier, failed exchange left).
void drain(int fd);

// Sends one buffer of requests in one call (to the kernel, on a netlink socket).
Status send_request(int fd, Bytes bytes, const char* op);

// The errno a dump's NLMSG_DONE (0 if none) or an NLMSG_ERROR ack carries (an Error if malformed).
Result<int> end_of_dump_errno(const Message& m);

// The length passed to the kernel per received datagram. The kernel sizes dump skbs by the
// largest length a socket ever passed to recvmsg (never below one page minus overhead), so
// one page keeps dump skbs in the slab allocator yet always fits a whole datagram.
size_t receive_slot_bytes();

// recvmmsg slots of receive_slot_bytes() each, for one socket at a time.
class ReceiveSlots {
public:
    explicit ReceiveSlots(size_t slots);
    // Waits for a datagram on fd, then takes every further one already queued; returns how many.
    Result<size_t> receive(int fd, const char* op);
    Bytes datagram(size_t i) const { return {buf_.data() + i * slot_bytes_, msgs_[i].msg_len}; }
    size_t slot_bytes() const { return slot_bytes_; }

private:
    size_t slot_bytes_;
    std::vector<uint8_t> buf_;
    std::vector<mmsghdr> msgs_;
    std::vector<iovec> iov_;
};

// One datagram into buf (a larger read than a slot: the service list); returns its length.
Result<size_t> receive_datagram(int fd, std::span<uint8_t> buf, const char* op);

}  // namespace ballast::kernel::nl
