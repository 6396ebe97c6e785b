// Feeds arbitrary bytes, as if received from the kernel, through every IPVS
// reply decoder. Any crash, sanitizer report or hang is a bug: malformed
// replies must come back as Errors; the dump's fast path decode_service_key must
// agree with decode_service wherever that succeeds.
#include <cstddef>
#include <cstdint>
#include <span>

#include "ballast/kernel/ipvs_codec.hpp"

using namespace ballast;
using namespace ballast::kernel;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto msgs = nl::split_messages(std::span<const uint8_t>(data, size));
    if (!msgs) return 0;
    const auto v4 =
        model::ServiceKey::inet(model::Protocol::tcp, model::IpAddress::v4(0xc0000201), 80);
    const auto v6 = model::ServiceKey::mark(1, AF_INET6);
    for (const nl::Message& m : *msgs) {
        (void)nl::decode_ack(m);
        if (auto s = ipvs::decode_service(m)) {
            (void)s->key.to_string();
            auto k = ipvs::decode_service_key(m);
            if (!k || *k != s->key) __builtin_trap();
        }
        if (auto d = ipvs::decode_dest(m, v4)) (void)d->key.to_string();
        (void)ipvs::decode_dest(m, v6);
        (void)ipvs::decode_daemon(m);
        if (auto i = ipvs::decode_info(m)) (void)i->version_string();
        (void)ipvs::decode_timeouts(m);
    }
    return 0;
}
