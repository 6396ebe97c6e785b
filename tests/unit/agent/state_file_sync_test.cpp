// The repair record is written crash-safe: the temporary file is fsynced before it is renamed
// over the record and the directory after, and a failed fsync leaves the old record whole.
#include <gtest/gtest.h>

#include <filesystem>

#include "ballast/agent/state_file.hpp"
#include "ballast/fakes/sync_recorder.hpp"

using namespace ballast::agent;
using namespace ballast::fakes;
namespace fs = std::filesystem;

namespace {

struct RecordDir : ::testing::Test {
    std::string dir;
    std::string path;
    void SetUp() override {
        std::string t = (fs::temp_directory_path() / "ballast-agent-state-XXXXXX").string();
        ASSERT_NE(::mkdtemp(t.data()), nullptr);
        dir = t;
        path = dir + "/repair.json";
    }
    void TearDown() override { fs::remove_all(dir); }
};

RepairRecord record(const char* boot) {
    RepairRecord r;
    r.boot_id = boot;
    return r;
}

TEST_F(RecordDir, FileIsFsyncedBeforeTheRenameAndTheDirectoryAfter) {
    for (const char* boot : {"first-boot", "second-boot"}) {  // create, then replace
        reset_sync_calls();
        ASSERT_TRUE(write_record(path, record(boot)).ok()) << boot;
        EXPECT_TRUE(is_durable_replace(sync_calls(), dir, "repair.json")) << boot;
        auto back = read_record(path);
        ASSERT_TRUE(back.ok() && back->has_value()) << boot;
        EXPECT_EQ((*back)->boot_id, boot);
    }
}

TEST_F(RecordDir, FailedFsyncFailsTheWriteNamingItAndKeepsTheOldRecord) {
    ASSERT_TRUE(write_record(path, record("old-boot")).ok());
    reset_sync_calls();
    fail_next_fsync(EIO);
    const auto s = write_record(path, record("new-boot"));
    EXPECT_TRUE(failed_at_first_fsync(s, EIO, sync_calls()));
    auto back = read_record(path);
    ASSERT_TRUE(back.ok() && back->has_value());
    EXPECT_EQ((*back)->boot_id, "old-boot");
    EXPECT_EQ(names_in(dir), std::vector<std::string>{"repair.json"});
}

}  // namespace
