// The state directory's records: atomic files, the ownership record's format and its
// errors (a corrupt record is an error naming the file, never an empty set).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "ballast/state/files.hpp"
#include "ballast/state/json_keys.hpp"
#include "ballast/state/ownership.hpp"

using namespace ballast;
namespace fs = std::filesystem;

namespace {

struct TempDir {
    std::string path;
    TempDir() {
        std::string t = (fs::temp_directory_path() / "ballast-state-XXXXXX").string();
        path = ::mkdtemp(t.data());
    }
    ~TempDir() { fs::remove_all(path); }
};

model::ServiceKey tcp(const char* a, uint16_t port) {
    return model::ServiceKey::inet(model::Protocol::tcp, *model::IpAddress::parse(a), port);
}

}  // namespace

TEST(StateFiles, AtomicWriteReplacesWholeFileWithMode0600AndLeavesNoTemporary) {
    TempDir d;
    ASSERT_TRUE(state::write_file_atomic(d.path, "x.json", "first\n").ok());
    ASSERT_TRUE(state::write_file_atomic(d.path, "x.json", "second\n").ok());
    auto r = state::read_file(d.path + "/x.json");
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(r->has_value());
    EXPECT_EQ(**r, "second\n");
    struct stat st {};
    ASSERT_EQ(::stat((d.path + "/x.json").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    size_t files = 0;
    for ([[maybe_unused]] auto& e : fs::directory_iterator(d.path)) ++files;
    EXPECT_EQ(files, 1u);
}

TEST(StateFiles, OnlyAMissingFileReadsAsAbsent) {
    TempDir d;
    auto missing = state::read_file(d.path + "/none");
    ASSERT_TRUE(missing.ok());
    EXPECT_FALSE(missing->has_value());
    // A symlink is not followed: an error, not "absent".
    fs::create_symlink(d.path + "/target", d.path + "/link");
    std::ofstream(d.path + "/target") << "x";
    auto link = state::read_file(d.path + "/link");
    ASSERT_FALSE(link.ok());
    EXPECT_EQ(link.error().code, ELOOP);
    // A directory is an error too.
    fs::create_directory(d.path + "/dir");
    EXPECT_FALSE(state::read_file(d.path + "/dir").ok());
    // So is a file over the size limit.
    std::ofstream(d.path + "/big") << std::string(100, 'x');
    auto big = state::read_file(d.path + "/big", 10);
    ASSERT_FALSE(big.ok());
    EXPECT_EQ(big.error().code, EFBIG);
}

TEST(StateFiles, WriteIntoAMissingDirectoryFailsWithItsErrno) {
    auto st = state::write_file_atomic("/nonexistent-ballast-dir", "x", "y");
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, ENOENT);
}

TEST(Ownership, RoundTripsEveryKindOfServiceKey) {
    std::set<model::ServiceKey> keys{
        tcp("192.0.2.1", 80),
        model::ServiceKey::inet(model::Protocol::udp, *model::IpAddress::parse("2001:db8::1"), 53),
        model::ServiceKey::inet(model::Protocol::sctp, *model::IpAddress::parse("192.0.2.2"), 9),
        model::ServiceKey::mark(4096),
        model::ServiceKey::mark(7, AF_INET6),
    };
    const auto text = state::encode_ownership(keys);
    auto back = state::decode_ownership(text, "f");
    ASSERT_TRUE(back.ok()) << back.error().describe();
    EXPECT_EQ(*back, keys);
    EXPECT_NE(text.find("{\"protocol\":\"tcp\",\"address\":\"192.0.2.1\",\"port\":80}"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("{\"fwmark\":7,\"family\":\"ipv6\"}"), std::string::npos) << text;
}

TEST(Ownership, MissingRecordIsEmptySavedRecordLoadsBack) {
    TempDir d;
    auto none = state::load_ownership(d.path);
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(none->empty());
    std::set<model::ServiceKey> keys{tcp("192.0.2.1", 80), model::ServiceKey::mark(9)};
    ASSERT_TRUE(state::save_ownership(d.path, keys).ok());
    auto back = state::load_ownership(d.path);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, keys);
}

TEST(Ownership, CorruptRecordsAreErrorsNamingTheFileAndTheProblem) {
    const std::pair<const char*, const char*> cases[] = {
        {"", "not JSON"},
        {"{\"version\":1,\"services\":[", "not JSON"},
        {"[]", "not a JSON object"},
        {"{\"services\":[]}", "\"version\" must be 1"},
        {"{\"version\":2,\"services\":[]}", "\"version\" must be 1"},
        {"{\"version\":1}", "\"services\" must be an array"},
        {"{\"version\":1,\"services\":[1]}", "services[0]: a service must be an object"},
        {"{\"version\":1,\"services\":[{\"protocol\":\"icmp\",\"address\":\"1.2.3.4\","
         "\"port\":1}]}",
         "unknown protocol"},
        {"{\"version\":1,\"services\":[{\"protocol\":\"tcp\",\"address\":\"1.2.3\","
         "\"port\":1}]}",
         "bad address"},
        {"{\"version\":1,\"services\":[{\"protocol\":\"tcp\",\"address\":\"1.2.3.4\","
         "\"port\":70000}]}",
         "\"port\" must be 0..65535"},
        {"{\"version\":1,\"services\":[{\"fwmark\":0,\"family\":\"ipv4\"}]}", "\"fwmark\" must be"},
        {"{\"version\":1,\"services\":[{\"fwmark\":3,\"family\":\"inet\"}]}", "\"family\""},
    };
    for (const auto& [text, want] : cases) {
        auto r = state::decode_ownership(text, "/var/lib/ballast/ownership.json");
        ASSERT_FALSE(r.ok()) << text;
        EXPECT_EQ(r.error().code, EBADMSG);
        EXPECT_NE(r.error().message.find("/var/lib/ballast/ownership.json: corrupt ownership "
                                         "record: "),
                  std::string::npos)
            << r.error().message;
        EXPECT_NE(r.error().message.find(want), std::string::npos)
            << text << " -> " << r.error().message;
    }
    TempDir d;
    std::ofstream(d.path + "/ownership.json") << "garbage";
    auto r = state::load_ownership(d.path);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find(d.path + "/ownership.json"), std::string::npos);
}

TEST(JsonKeys, RealKeysAreAddrPortStrings) {
    model::RealKey r{*model::IpAddress::parse("2001:db8::2"), 8080};
    auto j = state::real_key_to_json(r);
    EXPECT_EQ(j.as_string(), "[2001:db8::2]:8080");
    auto back = state::real_key_from_json(j);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, r);
    EXPECT_FALSE(state::real_key_from_json(boost::json::value("10.0.0.1:99999")).ok());
    EXPECT_FALSE(state::real_key_from_json(boost::json::value(5)).ok());
}
