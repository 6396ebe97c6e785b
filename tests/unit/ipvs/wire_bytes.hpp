#pragma once
// A deliberately naive byte writer for expected messages, independent of
// nl::MessageBuilder: little-endian host fields, 4-byte attribute alignment.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace ballast::testing {

struct WireBytes {
    std::vector<uint8_t> b;
    void u8(uint8_t v) { b.push_back(v); }
    void le16(uint16_t v) { u8(v & 0xff), u8(v >> 8); }
    void le32(uint32_t v) { le16(v & 0xffff), le16(v >> 16); }
    void le64(uint64_t v) { le32(uint32_t(v)), le32(uint32_t(v >> 32)); }
    void raw(std::initializer_list<uint8_t> bytes) { b.insert(b.end(), bytes); }
    void pad() {
        while (b.size() % 4) u8(0);
    }
    // nlmsghdr + genlmsghdr; returns the offset to patch with end_msg.
    size_t msg(uint16_t type, uint16_t flags, uint32_t seq, uint8_t cmd, uint8_t version = 1) {
        size_t at = b.size();
        le32(0), le16(type), le16(flags), le32(seq), le32(0);
        raw({cmd, version, 0, 0});
        return at;
    }
    void end_msg(size_t at) { patch32(at, uint32_t(b.size() - at)); }
    size_t open(uint16_t type) {
        size_t at = b.size();
        le16(0), le16(type);
        return at;
    }
    void close(size_t at) {
        patch16(at, uint16_t(b.size() - at));
        pad();
    }
    void attr16(uint16_t type, uint16_t v) { le16(6), le16(type), le16(v), pad(); }
    void attr32(uint16_t type, uint32_t v) { le16(8), le16(type), le32(v); }
    void attr64(uint16_t type, uint64_t v) { le16(12), le16(type), le64(v); }
    void attr_raw(uint16_t type, std::initializer_list<uint8_t> v) {
        le16(uint16_t(4 + v.size())), le16(type), raw(v), pad();
    }
    void attr_str(uint16_t type, const std::string& s) {
        le16(uint16_t(4 + s.size() + 1)), le16(type);
        for (char c : s) u8(uint8_t(c));
        u8(0), pad();
    }
    void patch16(size_t at, uint16_t v) { b[at] = v & 0xff, b[at + 1] = v >> 8; }
    void patch32(size_t at, uint32_t v) {
        for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (8 * i));
    }
};

}  // namespace ballast::testing
