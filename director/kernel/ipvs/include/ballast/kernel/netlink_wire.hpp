#pragma once
// Netlink bytes without a socket: a message builder (nlmsghdr + genlmsghdr +
// attributes) and bounds-checked readers. Everything here is pure so the IPVS
// codec can be tested byte for byte and fuzzed.
#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "ballast/model/result.hpp"

namespace ballast::kernel::nl {

using Bytes = std::span<const uint8_t>;

inline constexpr size_t kAlign = 4;
constexpr size_t align(size_t n) {
    return (n + kAlign - 1) & ~(kAlign - 1);
}
inline constexpr size_t kNlmsgHdrLen = 16;  // sizeof(struct nlmsghdr)
inline constexpr size_t kGenlHdrLen = 4;    // sizeof(struct genlmsghdr)
inline constexpr size_t kAttrHdrLen = 4;    // sizeof(struct nlattr)

// Appends netlink messages to a byte buffer; several messages may share one
// buffer (a pipelined batch is one sendmsg of many requests).
class MessageBuilder {
public:
    explicit MessageBuilder(std::vector<uint8_t>& out) : out_(out) {}

    // Starts a generic-netlink message: nlmsghdr(type, flags, seq, pid 0) + genlmsghdr.
    void begin(uint16_t type, uint16_t flags, uint32_t seq, uint8_t cmd, uint8_t version);
    // Patches nlmsg_len of the message started by begin().
    void end();

    void put(uint16_t type, const void* data, size_t len);
    void put_u8(uint16_t type, uint8_t v) { put(type, &v, 1); }
    void put_u16(uint16_t type, uint16_t v) { put(type, &v, 2); }  // host order
    void put_u32(uint16_t type, uint32_t v) { put(type, &v, 4); }  // host order
    void put_be16(uint16_t type, uint16_t host_value);
    void put_be32(uint16_t type, uint32_t host_value);
    void put_string(uint16_t type, std::string_view s);  // NUL-terminated
    size_t begin_nest(uint16_t type);
    void end_nest(size_t start);

private:
    std::vector<uint8_t>& out_;
    size_t msg_start_ = 0;
};

// One netlink message inside a received buffer.
struct Message {
    uint16_t type = 0;
    uint16_t flags = 0;
    uint32_t seq = 0;
    uint32_t pid = 0;
    Bytes payload;  // after the nlmsghdr
};

// Splits a buffer into messages; an error if any header or length is out of bounds.
Result<std::vector<Message>> split_messages(Bytes buffer);

// NLMSG_ERROR payload: the (negative or zero) errno and the seq of the request it answers.
struct Ack {
    int error = 0;  // 0 = success, else -errno
    uint32_t request_seq = 0;
};
Result<Ack> decode_ack(const Message& m);

struct Attr {
    uint16_t type = 0;  // NLA_F_NESTED / NLA_F_NET_BYTEORDER stripped
    Bytes payload;
};

// Attributes indexed by type (0..N-1); unknown higher types are ignored; a repeated type keeps
// the last. present(t) says whether t was seen.
template <size_t N>
struct AttrTable {
    std::array<Attr, N> attrs{};
    std::array<bool, N> seen{};
    bool present(uint16_t t) const { return t < N && seen[t]; }
    const Attr& operator[](uint16_t t) const { return attrs[t]; }
};

// Decode failures are EBADMSG with a description of what was wrong.
Error malformed(std::string_view what, std::string_view where);
Error attr_length_error(uint16_t len);

// Splits a run of attributes; an error on a truncated or overlong one.
Result<std::vector<Attr>> parse_attrs(Bytes data);

// Calls fn(const Attr&) for each attribute, without allocating; an error on a truncated or
// overlong one. Fewer than 4 trailing bytes are ignored, as the kernel's nla_for_each_attr does.
template <typename Fn>
Status for_each_attr(Bytes data, Fn&& fn) {
    size_t off = 0;
    while (off + kAttrHdrLen <= data.size()) {
        uint16_t len, type;
        std::memcpy(&len, data.data() + off, 2);
        std::memcpy(&type, data.data() + off + 2, 2);
        if (len < kAttrHdrLen || len > data.size() - off) return attr_length_error(len);
        fn(Attr{static_cast<uint16_t>(type & 0x3fff /* NLA_TYPE_MASK */),
                data.subspan(off + kAttrHdrLen, len - kAttrHdrLen)});
        off += align(len);
    }
    return {};
}

// Fills t in place (no copy of the table through a Result: this is the decoder's hot path).
template <size_t N>
Status parse_attr_table_into(Bytes data, AttrTable<N>& t) {
    return for_each_attr(data, [&](const Attr& a) {
        if (a.type < N) {
            t.attrs[a.type] = a;
            t.seen[a.type] = true;
        }
    });
}

template <size_t N>
Result<AttrTable<N>> parse_attr_table(Bytes data) {
    AttrTable<N> t;
    if (Status st = parse_attr_table_into(data, t); !st) return st.error();
    return t;
}

// Typed readers: exact length checks, so a wrong type is an error rather than a misread.
Result<uint8_t> get_u8(const Attr& a);
Result<uint16_t> get_u16(const Attr& a);
Result<uint32_t> get_u32(const Attr& a);
Result<uint64_t> get_u64(const Attr& a);
Result<uint64_t> get_u32_or_u64(const Attr& a);  // counters: 4 or 8 bytes
Result<uint16_t> get_be16(const Attr& a);        // returned in host order
Result<std::string> get_string(const Attr& a);   // NUL-terminated or not, no embedded NUL past end

// The generic-netlink header of a message payload and the attributes after it.
struct GenlView {
    uint8_t cmd = 0;
    uint8_t version = 0;
    Bytes attrs;
};
Result<GenlView> genl_view(Bytes payload);

}  // namespace ballast::kernel::nl
