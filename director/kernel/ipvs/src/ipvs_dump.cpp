#include "ballast/kernel/ipvs_dump.hpp"

#include <linux/netlink.h>

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "ballast/kernel/ipvs_codec.hpp"

namespace ballast::kernel::ipvs {

using model::ServiceKey;

namespace {
// Handing datagrams over in batches of about this size keeps locking rare.
constexpr size_t kHandoffBytes = 64 * 1024;
// The service list is read in datagrams of this size on a socket of its own: the kernel then
// fills each with ~100 services (one page holds ~13), so the list takes few system calls, and
// the dest dumps keep their page-sized skbs on the main socket (see nl::receive_slot_bytes()).
constexpr size_t kServiceReadBytes = 32 * 1024;
// Marks a record of the service list in a batch (datagrams are far below 2 GiB).
constexpr uint32_t kServiceRecord = 0x80000000u;
// The dest dumps go out in chunks of this many services, each claimed by whichever socket is
// free; a further socket (and thread) is only opened once the list has a chunk for it.
constexpr size_t kChunkServices = 64;
// recvmmsg slots of a further socket: a dest dump and its NLMSG_DONE, with room to spare.
constexpr size_t kRxSlotsPerRun = 8;

void append_datagram(std::vector<uint8_t>& batch, std::span<const uint8_t> d, uint32_t tag = 0) {
    const auto len = static_cast<uint32_t>(d.size()) | tag;
    const size_t at = batch.size();
    batch.resize(at + sizeof len + d.size());
    std::memcpy(batch.data() + at, &len, sizeof len);
    std::memcpy(batch.data() + at + sizeof len, d.data(), d.size());
}

Error out_of_memory(const char* op) {
    return make_error(ENOMEM, op, {}, "out of memory while dumping");
}

// Reply datagrams of one dump(), each stored as [u32 length | kServiceRecord][bytes], passed
// undecoded from the threads that talk to the kernel to the one that decodes them, in the order
// it needs them. The service list arrives datagram by datagram; the dest dumps are made in chunks
// of kChunkServices consecutive listed services, each claimed (in list order) by whichever socket
// is free once all its services are listed. pop() hands out every list batch as soon as it is in
// and chunk c's batches after chunk c - 1's, so each service is decoded before its dests.
class DumpStream {
public:
    // The lister: one list datagram (as a batch) and the keys of the services it names.
    void push_list(std::vector<uint8_t> batch, std::span<const ServiceKey> keys) {
        {
            std::lock_guard lock(mu_);
            list_.push_back(std::move(batch));
            keys_.insert(keys_.end(), keys.begin(), keys.end());
        }
        cv_.notify_all();
    }
    // The list is complete (outcome ok), or ended early (outcome the error).
    void end_list(const Status& outcome) {
        {
            std::lock_guard lock(mu_);
            list_ended_ = true;
            if (!outcome.ok()) list_failure_ = outcome.error();
        }
        cv_.notify_all();
    }
    size_t listed() {
        std::lock_guard lock(mu_);
        return keys_.size();
    }

    // A socket's next chunk: its index, the list position of its first service, and its keys.
    struct Claim {
        size_t chunk = 0;
        size_t first = 0;
        std::vector<ServiceKey> keys;
    };
    // Waits until the next unclaimed chunk is fully listed; nothing once every chunk is claimed,
    // or the list or another chunk failed.
    std::optional<Claim> claim() {
        std::unique_lock lock(mu_);
        for (;;) {
            if (aborted_ || list_failure_) return std::nullopt;
            const size_t first = chunks_.size() * kChunkServices;
            const size_t end = std::min(first + kChunkServices, keys_.size());
            if (end == first + kChunkServices || (list_ended_ && end > first)) {
                Claim c{chunks_.size(),
                        first,
                        {keys_.begin() + static_cast<std::ptrdiff_t>(first),
                         keys_.begin() + static_cast<std::ptrdiff_t>(end)}};
                chunks_.emplace_back();  // after the copy: a claim that threw claimed nothing
                return c;
            }
            if (list_ended_) return std::nullopt;
            cv_.wait(lock);
        }
    }
    void push(size_t chunk, std::vector<uint8_t> batch) {
        {
            std::lock_guard lock(mu_);
            chunks_[chunk].batches.push_back(std::move(batch));
        }
        cv_.notify_all();
    }
    // Every dest dump of the chunk ended (outcome ok), or one failed (outcome the error): then no
    // chunk is claimed any more and the stream ends after this one.
    void end_chunk(size_t chunk, const Status& outcome) {
        {
            std::lock_guard lock(mu_);
            chunks_[chunk].ended = true;
            if (!outcome.ok()) {
                aborted_ = true;
                chunks_[chunk].failure = outcome.error();
            }
        }
        cv_.notify_all();
    }

    // A socket's thread could not go on (out of memory) outside a chunk: no more claims.
    void fail(Error why) {
        {
            std::lock_guard lock(mu_);
            aborted_ = true;
            if (!other_failure_) other_failure_ = std::move(why);
        }
        cv_.notify_all();
    }

    // The decoder: the next batch in order; false at the end, or after a failure.
    bool pop(std::vector<uint8_t>& out) {
        std::unique_lock lock(mu_);
        for (;;) {
            if (!list_.empty()) {
                out = std::move(list_.front());
                list_.pop_front();
                return true;
            }
            if (list_failure_) return false;
            if (next_ < chunks_.size()) {
                Chunk& c = chunks_[next_];
                if (!c.batches.empty()) {
                    out = std::move(c.batches.front());
                    c.batches.pop_front();
                    return true;
                }
                // After a failed chunk, the rest of the list is still decoded (a service that
                // cannot be decoded is reported before a failed dest dump).
                if (c.ended && c.failure && list_ended_) return false;
                if (c.ended && !c.failure) {
                    ++next_;
                    continue;
                }
            } else if (list_ended_ && (aborted_ || next_ * kChunkServices >= keys_.size())) {
                return false;
            }
            cv_.wait(lock);
        }
    }

    // After every thread ended: why the list ended early, and the first chunk that failed.
    std::optional<Error> list_failure() {
        std::lock_guard lock(mu_);
        return list_failure_;
    }
    std::optional<Error> chunk_failure() {
        std::lock_guard lock(mu_);
        for (const auto& c : chunks_)
            if (c.failure) return c.failure;
        return other_failure_;
    }

private:
    struct Chunk {
        std::deque<std::vector<uint8_t>> batches;
        bool ended = false;
        std::optional<Error> failure;
    };
    std::mutex mu_;
    std::condition_variable cv_;  // one for both sides: each waits rarely
    std::deque<std::vector<uint8_t>> list_;
    std::vector<ServiceKey> keys_;
    bool list_ended_ = false;
    std::optional<Error> list_failure_;
    std::deque<Chunk> chunks_;            // index = chunk number, appended as claimed
    bool aborted_ = false;                // a chunk failed, or a socket's thread
    std::optional<Error> other_failure_;  // why a socket's thread failed outside a chunk
    size_t next_ = 0;                     // the chunk pop() hands out from
};

// dump_table()'s receiving side, run on its own thread while the caller decodes: the
// GET_SERVICE dump (seq svc_seq) on list_fd, read in large datagrams, then one GET_DEST dump per
// service it listed, seqs from svc_seq + 1 on, in chunks claimed by whichever socket is free:
// dest_fd once the list is in, and up to sockets - 1 further ones, each on a thread of its own,
// as soon as the list has a chunk for them. Every reply datagram goes to stream undecoded.
class Receiver {
public:
    Receiver(const DumpSockets& s, const DumpOptions& o, uint32_t svc_seq, DumpStream& stream)
        : s_(s), o_(o), svc_seq_(svc_seq), first_dest_seq_(svc_seq + 1), stream_(stream) {}
    void run();

private:
    // Claims chunks from the stream and dumps their dests on fd, one after another (one dump at
    // a time per socket), until no chunk is left or one fails.
    void dest_dumps(int fd, nl::ReceiveSlots& rx) const;

    const DumpSockets& s_;
    const DumpOptions& o_;
    const uint32_t svc_seq_;
    const uint32_t first_dest_seq_;
    DumpStream& stream_;
};

void Receiver::run() {
    DumpStream& stream = stream_;
    const uint32_t svc_seq = svc_seq_;
    // The sockets outlive each dump: whatever a failed one left queued goes first.
    nl::drain(s_.list_fd);
    nl::drain(s_.dest_fd);
    for (int fd : s_.further) nl::drain(fd);
    // Further sockets, each with a thread that claims chunks from the stream, started while the
    // list arrives as soon as it has a chunk for them.
    const size_t sockets = std::min(std::max<size_t>(o_.sockets, 1), 1 + s_.further.size());
    std::vector<std::jthread> helpers;
    bool no_more_threads = false;
    auto add_helpers = [&](size_t listed) {
        while (!no_more_threads && 1 + helpers.size() < sockets &&
               listed >= (helpers.size() + 1) * kChunkServices) {
            try {
                helpers.emplace_back([this, &stream, fd = s_.further[helpers.size()]] {
                    try {
                        nl::ReceiveSlots rx(kRxSlotsPerRun);
                        dest_dumps(fd, rx);
                    } catch (const std::bad_alloc&) {
                        stream.fail(out_of_memory("IPVS_CMD_GET_DEST"));
                    }
                });
            } catch (const std::system_error&) {  // no thread to be had: do without it
                no_more_threads = true;
            }
        }
    };

    // The service list, on list_fd; this thread then dumps dests on dest_fd.
    const char* svc_op = "IPVS_CMD_GET_SERVICE";
    auto read_list = [&]() -> Status {
        helpers.reserve(sockets);
        std::vector<uint8_t> req;
        encode_dump_services(req, {o_.family_id, svc_seq});
        if (Status st = nl::send_request(s_.list_fd, req, svc_op); !st) return st;
        std::vector<uint8_t> buf(kServiceReadBytes);
        std::vector<ServiceKey> keys;
        size_t listed = 0;
        for (bool done = false; !done;) {
            auto n = nl::receive_datagram(s_.list_fd, buf, svc_op);
            if (!n) return n.error();
            std::span<const uint8_t> d(buf.data(), *n);
            keys.clear();
            Status st = nl::for_each_message(d, [&](const nl::Message& m) -> Status {
                if (m.seq != svc_seq) return {};  // not ours
                if (m.type == NLMSG_ERROR || m.type == NLMSG_DONE) {
                    auto err = nl::end_of_dump_errno(m);
                    if (!err) return err.error();
                    if (*err != 0) return make_error(*err, svc_op, "dump");
                    done = true;
                    return {};
                }
                // The caller decodes the same reply in full; a service whose key cannot be read
                // fails its decode there, which fails the dump, so its dests are not needed.
                if (auto k = decode_service_key(m)) keys.push_back(*k);
                return {};
            });
            if (!st) return st;
            std::vector<uint8_t> batch;
            append_datagram(batch, d, kServiceRecord);
            stream.push_list(std::move(batch), keys);
            listed += keys.size();
            add_helpers(listed);
        }
        return {};
    };
    // Whatever happens, the list ends (end_list below) before helpers is destroyed: a helper
    // waits in claim() for it.
    Status list_outcome;
    try {
        list_outcome = read_list();
    } catch (const std::bad_alloc&) {
        list_outcome = out_of_memory(svc_op);
    }
    stream.end_list(list_outcome);
    if (list_outcome.ok()) dest_dumps(s_.dest_fd, *s_.dest_rx);
}

void Receiver::dest_dumps(int fd, nl::ReceiveSlots& rx) const {
    DumpStream& stream = stream_;
    const uint32_t first_dest_seq = first_dest_seq_;
    const char* op = "IPVS_CMD_GET_DEST";
    std::vector<uint8_t> req;
    // One service's dest dump (one at a time per socket: to its NLMSG_DONE or error ack), every
    // reply datagram appended to batch.
    auto dump_one = [&](uint32_t seq, const ServiceKey& key, std::vector<uint8_t>& batch) {
        req.clear();
        encode_dump_dests(req, {o_.family_id, seq}, key);
        if (Status st = nl::send_request(fd, req, op); !st) return st;
        for (bool done = false; !done;) {
            auto n = rx.receive(fd, op);
            if (!n) return Status{n.error()};
            for (size_t d = 0; d < *n; ++d) {
                append_datagram(batch, rx.datagram(d));
                // A malformed datagram ends the chunk: the decoder cannot read past it either.
                Status st = nl::for_each_message(rx.datagram(d), [&](const nl::Message& m) {
                    if (m.seq == seq && (m.type == NLMSG_DONE || m.type == NLMSG_ERROR))
                        done = true;
                    return Status{};
                });
                if (!st) return st;
            }
        }
        return Status{};
    };
    for (;;) {
        std::optional<DumpStream::Claim> claim;
        try {
            claim = stream.claim();
        } catch (const std::bad_alloc&) {
            return stream.fail(out_of_memory(op));
        }
        if (!claim) return;
        Status outcome;  // of the chunk: ok until a dest dump fails
        try {
            std::vector<uint8_t> batch;
            batch.reserve(kHandoffBytes + rx.slot_bytes());
            for (size_t i = 0; i < claim->keys.size() && outcome.ok(); ++i) {
                const uint32_t seq = first_dest_seq + static_cast<uint32_t>(claim->first + i);
                outcome = dump_one(seq, claim->keys[i], batch);
                if (batch.size() >= kHandoffBytes) {
                    stream.push(claim->chunk, std::move(batch));
                    batch = {};
                    batch.reserve(kHandoffBytes + rx.slot_bytes());
                }
            }
            if (!batch.empty()) stream.push(claim->chunk, std::move(batch));
        } catch (const std::bad_alloc&) {
            outcome = out_of_memory(op);
        }
        const bool ok = outcome.ok();
        stream.end_chunk(claim->chunk, outcome);
        if (!ok) return;
    }
}

}  // namespace

DumpOutcome dump_table(const DumpSockets& sockets, const DumpOptions& options, uint32_t first_seq) {
    // Seqs: svc_seq for the service list, then one per service for the dest dumps.
    const uint32_t svc_seq = first_seq;
    const uint32_t first_dest_seq = svc_seq + 1;
    DumpStream stream;
    Receiver receiving(sockets, options, svc_seq, stream);
    std::jthread receiver;  // joined on every way out; it always runs to its end by itself
    if (options.overlap_decoding)
        receiver = std::jthread([&] { receiving.run(); });
    else
        receiving.run();  // everything queued before decoding

    // Per service, in the order the kernel listed them (= the order of their dest dumps).
    std::vector<ServiceEntry> services;
    // Filled as each service's dests are complete, while later ones are still being received
    // (the kernel lists services in hash order; the first of a repeated one is kept).
    IpvsSnapshot snap;
    IpvsCounters::Builder encoded;       // with options.encode_counters
    std::optional<Error> service_error;  // the first service that could not be decoded
    std::optional<Error> dest_error;     // the first dest failure, reported once all is drained
    size_t cur = 0;                      // the service whose dests arrive now
    std::vector<DestEntry> dests;        // cur's, as they arrive

    auto on_service = [&](const nl::Message& m) -> Status {
        // Control messages and errors of the service list are the receiver's to report.
        if (m.seq != svc_seq || m.type == NLMSG_ERROR || m.type == NLMSG_DONE) return {};
        auto e = decode_service(m);
        if (!e) {
            if (!service_error) service_error = e.error();
            return {};
        }
        services.push_back(std::move(*e));
        return {};
    };
    auto fail = [&](Error e) {
        e.key = services[cur].key.to_string();
        if (!dest_error) dest_error = std::move(e);
    };
    // keep: false if the service was gone before its dest dump (or that failed).
    auto finish_service = [&](bool keep) {
        const ServiceKey& k = services[cur].key;
        if (keep && !snap.table.services.contains(k)) {
            ServiceDests d = collect_dests(dests);
            if (options.encode_counters) {
                encoded.add(k, &services[cur].stats, &d.counters);
            } else {
                snap.dest_counters.emplace(k, std::move(d.counters));
                snap.service_stats.emplace(k, services[cur].stats);
            }
            snap.table.services.emplace(
                k, model::IpvsService{k, std::move(services[cur].spec), std::move(d.reals)});
        }
        dests.clear();
        ++cur;
    };
    auto on_dest = [&](const nl::Message& m) -> Status {
        if (cur >= services.size() || m.seq != static_cast<uint32_t>(first_dest_seq + cur))
            return {};  // not ours
        if (m.type == NLMSG_ERROR || m.type == NLMSG_DONE) {
            auto err = nl::end_of_dump_errno(m);
            if (!err) return err.error();
            // ESRCH/ENOENT: deleted between the two dumps by someone else, which is not ours to
            // report as an error; the service is just not in the snapshot.
            const bool gone = *err == ESRCH || *err == ENOENT;
            if (*err > 0 && !gone) fail(make_error(*err, "IPVS_CMD_GET_DEST", {}));
            finish_service(*err == 0);
            return {};
        }
        auto e = decode_dest(m, services[cur].key);
        if (!e) return e.error();
        dests.push_back(std::move(*e));
        return {};
    };

    std::vector<uint8_t> batch;
    while (stream.pop(batch)) {
        for (size_t off = 0; off + sizeof(uint32_t) <= batch.size();) {
            uint32_t len;
            std::memcpy(&len, batch.data() + off, sizeof len);
            const bool service_record = len & kServiceRecord;
            len &= ~kServiceRecord;
            std::span<const uint8_t> d(batch.data() + off + sizeof len, len);
            off += sizeof len + len;
            if (service_record) {
                // A malformed one ended the list in the receiver, which reports it.
                (void)nl::for_each_message(d, on_service);
                continue;
            }
            // Keep draining after a failure, so the receiver always runs to its end.
            if (Status st = nl::for_each_message(d, on_dest); !st && cur < services.size())
                fail(st.error());
        }
    }
    if (receiver.joinable()) receiver.join();
    const size_t dest_dumps = stream.listed();
    const auto seqs_used = static_cast<uint32_t>(1 + dest_dumps);

    // What failed first in list order (the list, then each service's dests) is what is reported.
    auto outcome = [&](Result<IpvsSnapshot> r) { return DumpOutcome{std::move(r), seqs_used}; };
    for (auto first : {stream.list_failure(), service_error, stream.chunk_failure(), dest_error})
        if (first) return outcome(std::move(*first));
    if (cur != dest_dumps || services.size() != dest_dumps)
        return outcome(make_error(EPROTO, "IPVS_CMD_GET_DEST", {}, "dest dumps ended early"));
    if (options.encode_counters) snap.counters = std::move(encoded).finish(0);
    return outcome(std::move(snap));
}

}  // namespace ballast::kernel::ipvs
