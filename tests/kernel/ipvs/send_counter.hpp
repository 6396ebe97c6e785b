#pragma once
// How many send() calls this process has made: the binaries that link send_counter.cpp replace
// libc's send() with one that counts and then makes the system call, so a test or benchmark can
// see how many requests a client packs into each call without the client reporting it.
#include <cstddef>

namespace ballast::testing {

size_t send_calls();

}  // namespace ballast::testing
