// The user-space half of a dump, without a kernel: S services x 10 destinations of GET_DEST
// replies as a 6.1 kernel sends them (both stats nests, tunnel fields; newest first), decoded
// into the snapshot's containers two ways, in the same run:
//   maps:    decode_dest into two std::maps per service, as dump() did before 2026-12-01;
//   vector:  decode_dest into a reused vector, sorted once, then the reals map and
//            CountersByReal (ipvs::collect_dests), as dump() does now.
// Prints seconds per way (best of 5). Usage: dump_decode_bench [S]   (default 5000)
// Each way stays out of line so a profiler can count it: valgrind --tool=callgrind
//   --toggle-collect='*::vector_way(*' build/gcc/tests/bench/ipvs/dump_decode_bench   (5 passes)
// In the kernel lab (TCG, where decoding competes with the kernel's work for the guest's CPUs):
//   scripts/lab-vm build/gcc/tests/bench/ipvs/dump_decode_bench
#include <linux/genetlink.h>
#include <linux/ip_vs.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <vector>

#include "ballast/kernel/ipvs_codec.hpp"

using namespace ballast;
using namespace ballast::kernel;
using model::RealKey;
using model::RealSpec;
using model::ServiceKey;

namespace {

constexpr uint32_t kDests = 10;

void put_stats(nl::MessageBuilder& b, uint16_t nest, bool wide) {
    size_t n = b.begin_nest(nest);
    for (uint16_t t = IPVS_STATS_ATTR_CONNS; t <= IPVS_STATS_ATTR_OUTBPS; ++t) {
        if (wide || t == IPVS_STATS_ATTR_INBYTES || t == IPVS_STATS_ATTR_OUTBYTES) {
            uint64_t v = t;
            b.put(t, &v, sizeof v);
        } else {
            b.put_u32(t, t);
        }
    }
    b.end_nest(n);
}

// One service's dest dump reply: kDests NEW_DEST messages, newest (highest) first.
std::vector<uint8_t> dest_reply(uint32_t service) {
    std::vector<uint8_t> out;
    for (uint32_t d = kDests; d-- > 0;) {
        nl::MessageBuilder b(out);
        b.begin(0x24, 0x2 /*NLM_F_MULTI*/, service + 1, IPVS_CMD_NEW_DEST, IPVS_GENL_VERSION);
        size_t nest = b.begin_nest(IPVS_CMD_ATTR_DEST);
        uint8_t addr[16] = {10, uint8_t(service >> 8), uint8_t(service), uint8_t(d)};
        b.put(IPVS_DEST_ATTR_ADDR, addr, sizeof addr);
        b.put_be16(IPVS_DEST_ATTR_PORT, 8080);
        b.put_u32(IPVS_DEST_ATTR_FWD_METHOD, IP_VS_CONN_F_MASQ);
        b.put_u32(IPVS_DEST_ATTR_WEIGHT, 1);
        b.put_u32(IPVS_DEST_ATTR_U_THRESH, 0);
        b.put_u32(IPVS_DEST_ATTR_L_THRESH, 0);
        b.put_u32(IPVS_DEST_ATTR_ACTIVE_CONNS, 0);
        b.put_u32(IPVS_DEST_ATTR_INACT_CONNS, 0);
        b.put_u32(IPVS_DEST_ATTR_PERSIST_CONNS, 0);
        put_stats(b, IPVS_DEST_ATTR_STATS, false);
        b.put_u16(IPVS_DEST_ATTR_ADDR_FAMILY, AF_INET);
        put_stats(b, IPVS_DEST_ATTR_STATS64, true);
        b.put_u8(IPVS_DEST_ATTR_TUN_TYPE, 0);
        b.put_u16(IPVS_DEST_ATTR_TUN_PORT, 0);
        b.put_u16(IPVS_DEST_ATTR_TUN_FLAGS, 0);
        b.end_nest(nest);
        b.end();
    }
    return out;
}

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "dump_decode_bench: %s\n", what);
    std::exit(1);
}

struct Built {
    std::map<ServiceKey, std::map<RealKey, RealSpec>> reals;
    size_t count = 0;
};

// Before: decode_dest, then a map node per destination in each of two maps.
[[gnu::noinline]] size_t maps_way(const std::vector<ServiceKey>& keys,
                                  const std::vector<std::vector<uint8_t>>& replies) {
    Built out;
    std::map<ServiceKey, std::map<RealKey, DestCounters>> counters;
    for (size_t s = 0; s < keys.size(); ++s) {
        std::map<RealKey, RealSpec> reals;
        std::map<RealKey, DestCounters> c;
        auto rh = reals.end();
        auto ch = c.end();
        Status st = nl::for_each_message(replies[s], [&](const nl::Message& m) -> Status {
            auto e = ipvs::decode_dest(m, keys[s]);
            if (!e) return e.error();
            rh = reals.emplace_hint(rh, e->key, e->spec);
            ch = c.emplace_hint(ch, e->key, e->counters);
            return {};
        });
        if (!st) die("maps decode failed");
        out.count += reals.size();
        out.reals.emplace_hint(out.reals.end(), keys[s], std::move(reals));
        counters.emplace_hint(counters.end(), keys[s], std::move(c));
    }
    return out.count;
}

// Now: decode_dest into a reused vector, sorted once per service (as dump() does).
[[gnu::noinline]] size_t vector_way(const std::vector<ServiceKey>& keys,
                                    const std::vector<std::vector<uint8_t>>& replies) {
    std::map<ServiceKey, model::IpvsReals> reals;  // as a snapshot holds them
    size_t count = 0;
    std::map<ServiceKey, CountersByReal> counters;
    std::vector<ipvs::DestEntry> dests;
    for (size_t s = 0; s < keys.size(); ++s) {
        dests.clear();
        Status st = nl::for_each_message(replies[s], [&](const nl::Message& m) -> Status {
            auto e = ipvs::decode_dest(m, keys[s]);
            if (!e) return e.error();
            dests.push_back(std::move(*e));
            return {};
        });
        if (!st) die("vector decode failed");
        ipvs::ServiceDests d = ipvs::collect_dests(dests);
        count += d.reals.size();
        reals.emplace_hint(reals.end(), keys[s], std::move(d.reals));
        counters.emplace_hint(counters.end(), keys[s], std::move(d.counters));
    }
    return count;
}

template <typename Fn>
double best_of_5(Fn fn, size_t expect) {
    double best = 1e9;
    for (int i = 0; i < 5; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        if (fn() != expect) die("wrong destination count");
        best = std::min(
            best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
}

}  // namespace

int main(int argc, char** argv) {
    const size_t services = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 5000;
    std::vector<ServiceKey> keys;
    std::vector<std::vector<uint8_t>> replies;
    for (uint32_t s = 0; s < services; ++s) {
        keys.push_back(
            ServiceKey::inet(model::Protocol::tcp, model::IpAddress::v4(0xc6120000u + s), 80));
        replies.push_back(dest_reply(s));
    }
    const size_t n = services * kDests;
    double t_maps = best_of_5([&] { return maps_way(keys, replies); }, n);
    double t_vector = best_of_5([&] { return vector_way(keys, replies); }, n);
    std::printf("| way | table | seconds (best of 5) | us per destination |\n|---|---|---|---|\n");
    std::printf("| maps: decode_dest + two std::maps (before) | %zu x %u | %.3f | %.2f |\n",
                services, kDests, t_maps, 1e6 * t_maps / double(n));
    std::printf("| vector: decode_dest + vector, sorted once (now) | %zu x %u | %.3f | %.2f |\n",
                services, kDests, t_vector, 1e6 * t_vector / double(n));
    return 0;
}
