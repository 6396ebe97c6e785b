#include "ballast/kernel/netlink_wire.hpp"

#include <gtest/gtest.h>

#include "wire_bytes.hpp"

namespace ballast::kernel::nl {
namespace {

using testing::WireBytes;

TEST(NetlinkWire, BuilderPadsAttributesAndPatchesLengths) {
    std::vector<uint8_t> out;
    MessageBuilder b(out);
    b.begin(0x1d, 0x5, 42, 3, 1);
    size_t n = b.begin_nest(1);
    b.put_u16(2, 0x0a0b);
    b.put_string(3, "ab");
    b.end_nest(n);
    b.put_be32(4, 0x01020304);
    b.end();

    const std::vector<uint8_t> expected = {48, 0, 0, 0, 0x1d, 0,    0x05, 0,
                                           42, 0, 0, 0, 0,    0,    0,    0,  // nlmsghdr
                                           3,  1, 0, 0,                       // genlmsghdr
                                           20, 0, 1, 0,  // nest type 1, len 4+8+8
                                           6,  0, 2, 0, 0x0b, 0x0a, 0,    0,   // u16 + 2 pad
                                           7,  0, 3, 0, 'a',  'b',  0,    0,   // "ab\0" + 1 pad
                                           8,  0, 4, 0, 1,    2,    3,    4};  // be32
    EXPECT_EQ(out, expected);
}

TEST(NetlinkWire, SplitsSeveralMessagesAndRejectsOutOfBoundsLength) {
    WireBytes w;
    size_t a = w.msg(0x20, 0, 1, 1);
    w.attr32(1, 7);
    w.end_msg(a);
    size_t b = w.msg(0x20, 0, 2, 1);
    w.end_msg(b);
    auto msgs = split_messages(w.b);
    ASSERT_TRUE(msgs.ok()) << msgs.error().describe();
    ASSERT_EQ(msgs->size(), 2u);
    EXPECT_EQ((*msgs)[0].seq, 1u);
    EXPECT_EQ((*msgs)[0].payload.size(), 12u);
    EXPECT_EQ((*msgs)[1].seq, 2u);

    w.patch32(b, 200);  // claims more than the buffer holds
    auto bad = split_messages(w.b);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code, EBADMSG);

    std::vector<uint8_t> tiny = {1, 2, 3};
    EXPECT_FALSE(split_messages(tiny).ok());
}

TEST(NetlinkWire, DecodesAckWithErrnoAndOriginalSeq) {
    WireBytes w;
    w.le32(36), w.le16(2 /*NLMSG_ERROR*/), w.le16(0x100), w.le32(9), w.le32(0);
    w.le32(uint32_t(-17));                                         // -EEXIST
    w.le32(40), w.le16(0x1d), w.le16(5), w.le32(1234), w.le32(0);  // original header
    auto msgs = split_messages(w.b);
    ASSERT_TRUE(msgs.ok());
    auto ack = decode_ack(msgs->front());
    ASSERT_TRUE(ack.ok());
    EXPECT_EQ(ack->error, -EEXIST);
    EXPECT_EQ(ack->request_seq, 1234u);
}

TEST(NetlinkWire, AttributeParserRejectsTruncationAndTypedReadersCheckLength) {
    WireBytes w;
    w.attr16(1, 5);
    w.attr32(2, 9);
    auto attrs = parse_attrs(w.b);
    ASSERT_TRUE(attrs.ok());
    ASSERT_EQ(attrs->size(), 2u);
    EXPECT_EQ(*get_u16((*attrs)[0]), 5);
    EXPECT_FALSE(get_u32((*attrs)[0]).ok());  // wrong width is an error, not a misread
    EXPECT_EQ(*get_u32((*attrs)[1]), 9u);
    EXPECT_EQ(*get_u32_or_u64((*attrs)[1]), 9u);

    std::vector<uint8_t> overlong = {12, 0, 1, 0, 1, 2, 3, 4};  // says 12, has 8
    EXPECT_FALSE(parse_attrs(overlong).ok());
    std::vector<uint8_t> undersized = {2, 0, 1, 0};  // nla_len below the header size
    EXPECT_FALSE(parse_attrs(undersized).ok());
}

}  // namespace
}  // namespace ballast::kernel::nl
