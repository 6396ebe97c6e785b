#include "ballast/kernel/netlink_wire.hpp"

#include <arpa/inet.h>
#include <linux/netlink.h>

#include <string>

namespace ballast::kernel::nl {

static_assert(sizeof(nlmsghdr) == kNlmsgHdrLen);
static_assert(sizeof(nlattr) == kAttrHdrLen);

namespace {
void append(std::vector<uint8_t>& out, const void* data, size_t len) {
    auto* p = static_cast<const uint8_t*>(data);
    out.insert(out.end(), p, p + len);
}
void pad(std::vector<uint8_t>& out) {
    out.resize(align(out.size()), 0);
}
void patch_u16(std::vector<uint8_t>& out, size_t at, uint16_t v) {
    std::memcpy(&out[at], &v, 2);
}
void patch_u32(std::vector<uint8_t>& out, size_t at, uint32_t v) {
    std::memcpy(&out[at], &v, 4);
}
}  // namespace

Error malformed(std::string_view what, std::string_view where) {
    return make_error(EBADMSG, std::string(where), {},
                      "malformed netlink reply: " + std::string(what));
}

void MessageBuilder::begin(uint16_t type, uint16_t flags, uint32_t seq, uint8_t cmd,
                           uint8_t version) {
    pad(out_);
    msg_start_ = out_.size();
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_flags = flags;
    h.nlmsg_seq = seq;
    h.nlmsg_pid = 0;
    append(out_, &h, sizeof h);
    const uint8_t genl[kGenlHdrLen] = {cmd, version, 0, 0};
    append(out_, genl, sizeof genl);
}

void MessageBuilder::end() {
    pad(out_);
    patch_u32(out_, msg_start_, static_cast<uint32_t>(out_.size() - msg_start_));
}

void MessageBuilder::put(uint16_t type, const void* data, size_t len) {
    nlattr a{static_cast<uint16_t>(kAttrHdrLen + len), type};
    append(out_, &a, sizeof a);
    if (len) append(out_, data, len);
    pad(out_);
}

void MessageBuilder::put_be16(uint16_t type, uint16_t host_value) {
    uint16_t v = htons(host_value);
    put(type, &v, 2);
}

void MessageBuilder::put_be32(uint16_t type, uint32_t host_value) {
    uint32_t v = htonl(host_value);
    put(type, &v, 4);
}

void MessageBuilder::put_string(uint16_t type, std::string_view s) {
    std::string z(s);
    put(type, z.c_str(), z.size() + 1);
}

size_t MessageBuilder::begin_nest(uint16_t type) {
    size_t start = out_.size();
    nlattr a{0, type};
    append(out_, &a, sizeof a);
    return start;
}

void MessageBuilder::end_nest(size_t start) {
    patch_u16(out_, start, static_cast<uint16_t>(out_.size() - start));
}

Result<std::vector<Message>> split_messages(Bytes buf) {
    std::vector<Message> msgs;
    size_t off = 0;
    while (off < buf.size()) {
        if (buf.size() - off < kNlmsgHdrLen) return malformed("truncated nlmsghdr", "netlink");
        nlmsghdr h;
        std::memcpy(&h, buf.data() + off, sizeof h);
        if (h.nlmsg_len < kNlmsgHdrLen || h.nlmsg_len > buf.size() - off)
            return malformed("nlmsg_len " + std::to_string(h.nlmsg_len) + " out of bounds",
                             "netlink");
        msgs.push_back(Message{h.nlmsg_type, h.nlmsg_flags, h.nlmsg_seq, h.nlmsg_pid,
                               buf.subspan(off + kNlmsgHdrLen, h.nlmsg_len - kNlmsgHdrLen)});
        size_t step = align(h.nlmsg_len);
        if (step > buf.size() - off) break;  // last message without tail padding
        off += step;
    }
    return msgs;
}

Result<Ack> decode_ack(const Message& m) {
    if (m.type != NLMSG_ERROR) return malformed("not an NLMSG_ERROR", "netlink ack");
    if (m.payload.size() < sizeof(int32_t) + kNlmsgHdrLen)
        return malformed("truncated nlmsgerr", "netlink ack");
    int32_t err;
    std::memcpy(&err, m.payload.data(), sizeof err);
    nlmsghdr orig;
    std::memcpy(&orig, m.payload.data() + sizeof err, sizeof orig);
    if (err > 0 || err < -4095) return malformed("error code out of range", "netlink ack");
    return Ack{err, orig.nlmsg_seq};
}

Error attr_length_error(uint16_t len) {
    return malformed("attribute length " + std::to_string(len) + " out of bounds",
                     "netlink attributes");
}

Result<std::vector<Attr>> parse_attrs(Bytes data) {
    std::vector<Attr> attrs;
    Status st = for_each_attr(data, [&](const Attr& a) { attrs.push_back(a); });
    if (!st) return st.error();
    return attrs;
}

namespace {
template <typename T>
Result<T> get_exact(const Attr& a, const char* what) {
    if (a.payload.size() != sizeof(T))
        return malformed(std::string("attribute ") + std::to_string(a.type) + " is " +
                             std::to_string(a.payload.size()) + " bytes, expected " + what,
                         "netlink attributes");
    T v;
    std::memcpy(&v, a.payload.data(), sizeof v);
    return v;
}
}  // namespace

Result<uint8_t> get_u8(const Attr& a) {
    return get_exact<uint8_t>(a, "u8");
}
Result<uint16_t> get_u16(const Attr& a) {
    return get_exact<uint16_t>(a, "u16");
}
Result<uint32_t> get_u32(const Attr& a) {
    return get_exact<uint32_t>(a, "u32");
}
Result<uint64_t> get_u64(const Attr& a) {
    return get_exact<uint64_t>(a, "u64");
}

Result<uint64_t> get_u32_or_u64(const Attr& a) {
    if (a.payload.size() == 4) {
        auto v = get_u32(a);
        if (!v) return v.error();
        return uint64_t{*v};
    }
    return get_u64(a);
}

Result<uint16_t> get_be16(const Attr& a) {
    auto v = get_u16(a);
    if (!v) return v.error();
    return static_cast<uint16_t>(ntohs(*v));
}

Result<std::string> get_string(const Attr& a) {
    auto p = a.payload;
    size_t n = 0;
    while (n < p.size() && p[n] != 0) ++n;
    return std::string(reinterpret_cast<const char*>(p.data()), n);
}

Result<GenlView> genl_view(Bytes payload) {
    if (payload.size() < kGenlHdrLen) return malformed("truncated genlmsghdr", "generic netlink");
    return GenlView{payload[0], payload[1], payload.subspan(kGenlHdrLen)};
}

}  // namespace ballast::kernel::nl
