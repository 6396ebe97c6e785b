// ballastd's state files are written crash-safe: the temporary file is fsynced before it is
// renamed over the file and the directory after, and a failed fsync leaves the old file whole.
#include <gtest/gtest.h>

#include <filesystem>

#include "ballast/fakes/sync_recorder.hpp"
#include "ballast/state/files.hpp"

using namespace ballast;
using namespace ballast::fakes;
namespace fs = std::filesystem;

namespace {

struct StateDir : ::testing::Test {
    std::string dir;
    void SetUp() override {
        std::string t = (fs::temp_directory_path() / "ballast-state-XXXXXX").string();
        ASSERT_NE(::mkdtemp(t.data()), nullptr);
        dir = t;
    }
    void TearDown() override { fs::remove_all(dir); }
    std::string read(const char* name) {
        auto r = state::read_file(dir + "/" + name);
        return r.ok() ? r->value_or("(no file)") : "(unreadable: " + r.error().describe() + ")";
    }
};

TEST_F(StateDir, FileIsFsyncedBeforeTheRenameAndTheDirectoryAfter) {
    for (const char* content : {"first\n", "second\n"}) {  // create, then replace
        reset_sync_calls();
        ASSERT_TRUE(state::write_file_atomic(dir, "ownership.json", content).ok()) << content;
        EXPECT_TRUE(is_durable_replace(sync_calls(), dir, "ownership.json")) << content;
        EXPECT_EQ(read("ownership.json"), content);
    }
}

TEST_F(StateDir, FailedFsyncFailsTheWriteNamingItAndKeepsTheOldFile) {
    ASSERT_TRUE(state::write_file_atomic(dir, "overrides.json", "old\n").ok());
    reset_sync_calls();
    fail_next_fsync(EIO);
    auto s = state::write_file_atomic(dir, "overrides.json", "new\n");
    EXPECT_TRUE(failed_at_first_fsync(s, EIO, sync_calls()));
    EXPECT_EQ(read("overrides.json"), "old\n");
    EXPECT_EQ(names_in(dir), std::vector<std::string>{"overrides.json"});
}

}  // namespace
