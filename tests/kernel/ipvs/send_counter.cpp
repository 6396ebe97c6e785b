#include "send_counter.hpp"

#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

namespace {
std::atomic<size_t> g_send_calls{0};
}  // namespace

namespace ballast::testing {
size_t send_calls() {
    return g_send_calls.load();
}
}  // namespace ballast::testing

// Linked into the executable, this definition takes the place of libc's for every call the
// executable's own code (and the static libraries in it) makes.
extern "C" ssize_t send(int fd, const void* buf, size_t len, int flags) {
    g_send_calls.fetch_add(1, std::memory_order_relaxed);
    return ::syscall(SYS_sendto, fd, buf, len, flags, nullptr, 0);
}
