// keepalived.conf reading: comments, quoting, braces, nesting, include (globs,
// relative folders, loops, missing files), conditionals and definitions.
#include <gtest/gtest.h>

#include <map>

#include "ballast/import/keepalived_parser.hpp"
#include "ballast/import/keepalived_reader.hpp"

namespace ballast::import {
namespace {

const std::string kMain = "/etc/keepalived/keepalived.conf";

struct Read {
    ReadResult read;
    ParseResult parsed;
};

Read read(const std::string& text, const std::map<std::string, std::string>& more = {},
          const ReaderOptions& options = {}) {
    MemoryFileSource files;
    files.files[kMain] = text;
    for (auto& [p, t] : more) files.files[p] = t;
    Read r{read_keepalived(kMain, files, options), {}};
    if (!r.read.error) r.parsed = parse_keepalived(r.read.lines);
    return r;
}

std::vector<std::vector<std::string>> words_of(const ReadResult& r) {
    std::vector<std::vector<std::string>> out;
    for (auto& l : r.lines) out.push_back(l.words);
    return out;
}

using Words = std::vector<std::vector<std::string>>;

TEST(KeepalivedReader, CommentsWithHashAndBangOutsideQuotesOnly) {
    auto r = read(
        "! a comment line\n"
        "# another\n"
        "delay_loop 6   # trailing\n"
        "misc_path \"/bin/x # not a comment\" ! but this is\n"
        "name a\\#b\\!c\n"
        "   \t  \n");
    ASSERT_FALSE(r.read.error);
    EXPECT_EQ(
        words_of(r.read),
        (Words{{"delay_loop", "6"}, {"misc_path", "/bin/x # not a comment"}, {"name", "a#b!c"}}));
    EXPECT_EQ(r.read.lines[0].where.line, 3u);
    EXPECT_EQ(r.read.lines[2].where.line, 5u);
}

TEST(KeepalivedReader, QuotedWordsKeepBlanksAndSplitAtQuotes) {
    EXPECT_EQ(split_words("a \"b c\" d\"e f\""),
              (std::vector<std::string>{"a", "b c", "d", "e f"}));
    EXPECT_EQ(split_words(""), std::vector<std::string>{});
    EXPECT_FALSE(split_words("a \"b"));
    auto qe = split_quoted_escaped(R"(misc_path "/bin/check -x 'a b'" 'c d' e\ f \x41\n)");
    ASSERT_TRUE(qe);
    EXPECT_EQ(*qe,
              (std::vector<std::string>{"misc_path", "/bin/check -x 'a b'", "c d", "e f", "A\n"}));
    EXPECT_FALSE(split_quoted_escaped("'open"));
    EXPECT_FALSE(split_quoted_escaped("trailing\\"));
}

TEST(KeepalivedReader, UnclosedQuoteIsAnErrorWithItsLine) {
    auto r = read("virtual_server 10.0.0.1 80 {\n  misc_path \"/bin/x\n}\n");
    ASSERT_TRUE(r.read.error);
    EXPECT_EQ(r.read.error->where, (SourceRef{kMain, 2}));
    EXPECT_NE(r.read.error->message.find("missing closing '\"'"), std::string::npos);
}

TEST(KeepalivedReader, BracesAreLinesOfTheirOwnAndBlocksNest) {
    auto r = read(
        "real_server 10.0.0.1 80 { weight 1 }\n"
        "virtual_server 10.0.0.2 80\n"
        "{\n"
        "  real_server 10.0.0.3 80 {\n"
        "    TCP_CHECK { connect_port 81 } }\n"
        "}\n");
    ASSERT_FALSE(r.read.error);
    EXPECT_EQ(words_of(r.read), (Words{{"real_server", "10.0.0.1", "80"},
                                       {"{"},
                                       {"weight", "1"},
                                       {"}"},
                                       {"virtual_server", "10.0.0.2", "80"},
                                       {"{"},
                                       {"real_server", "10.0.0.3", "80"},
                                       {"{"},
                                       {"TCP_CHECK"},
                                       {"{"},
                                       {"connect_port", "81"},
                                       {"}"},
                                       {"}"},
                                       {"}"}}));
    ASSERT_FALSE(r.parsed.error);
    ASSERT_EQ(r.parsed.nodes.size(), 2u);
    const Node& vs = r.parsed.nodes[1];
    EXPECT_TRUE(vs.has_block);  // '{' on the next line
    ASSERT_EQ(vs.children.size(), 1u);
    const Node& check = vs.children[0].children.at(0);
    EXPECT_EQ(check.keyword(), "TCP_CHECK");
    EXPECT_EQ(check.children.at(0).words, (std::vector<std::string>{"connect_port", "81"}));
    EXPECT_EQ(check.children.at(0).where.line, 5u);
}

TEST(KeepalivedParser, UnbalancedBracesAreErrorsWithTheirLine) {
    auto open = read("virtual_server 10.0.0.1 80 {\n  delay_loop 6\n");
    ASSERT_TRUE(open.parsed.error);
    EXPECT_EQ(open.parsed.error->where.line, 1u);
    EXPECT_NE(open.parsed.error->message.find("not closed"), std::string::npos);

    auto extra = read("delay_loop 6\n}\n");
    ASSERT_TRUE(extra.parsed.error);
    EXPECT_EQ(extra.parsed.error->where.line, 2u);

    auto stray = read("{\n}\n");
    ASSERT_TRUE(stray.parsed.error);
    EXPECT_EQ(stray.parsed.error->where.line, 1u);
}

TEST(KeepalivedParser, NestingDeeperThanTheLimitIsAnError) {
    std::string deep;
    for (int i = 0; i < 40; ++i) deep += "a {\n";
    for (int i = 0; i < 40; ++i) deep += "}\n";
    auto r = read(deep);
    ASSERT_TRUE(r.parsed.error);
    EXPECT_NE(r.parsed.error->message.find("nest deeper"), std::string::npos);
}

TEST(KeepalivedReader, IncludeGlobsAreRelativeToTheIncludingFileInSortedOrder) {
    auto r = read("include conf.d/*.conf\nlast 1\n",
                  {{"/etc/keepalived/conf.d/b.conf", "b 1\ninclude sub/{x,y}.conf\n"},
                   {"/etc/keepalived/conf.d/a.conf", "a 1\n"},
                   {"/etc/keepalived/conf.d/ignored.txt", "nope 1\n"},
                   {"/etc/keepalived/conf.d/sub/x.conf", "x 1\n"},
                   {"/etc/keepalived/conf.d/sub/y.conf", "y 1\n"}});
    ASSERT_FALSE(r.read.error) << r.read.error->to_string();
    EXPECT_EQ(words_of(r.read),
              (Words{{"a", "1"}, {"b", "1"}, {"x", "1"}, {"y", "1"}, {"last", "1"}}));
    EXPECT_EQ(r.read.lines[2].where, (SourceRef{"/etc/keepalived/conf.d/sub/x.conf", 1}));
    EXPECT_EQ(r.read.files.size(), 5u);
}

TEST(KeepalivedReader, IncludeWorksInsideABlock) {
    auto r = read("virtual_server 10.0.0.1 80 {\n  include reals.conf\n}\n",
                  {{"/etc/keepalived/reals.conf", "real_server 10.0.0.2 80 {\n}\n"}});
    ASSERT_FALSE(r.parsed.error);
    ASSERT_EQ(r.parsed.nodes.at(0).children.size(), 1u);
    EXPECT_EQ(r.parsed.nodes[0].children[0].where.file, "/etc/keepalived/reals.conf");
}

TEST(KeepalivedReader, MissingIncludeIsAnErrorAtTheIncludeLine) {
    auto r = read("delay_loop 6\ninclude /etc/keepalived/missing.conf\n");
    ASSERT_TRUE(r.read.error);
    EXPECT_EQ(r.read.error->where, (SourceRef{kMain, 2}));
    EXPECT_NE(r.read.error->message.find("missing.conf"), std::string::npos);
}

TEST(KeepalivedReader, EmptyGlobIsANoteNotAnError) {
    auto r = read("include conf.d/*.conf\n");
    ASSERT_FALSE(r.read.error);
    ASSERT_EQ(r.read.notes.size(), 1u);
    EXPECT_NE(r.read.notes[0].find("matched no files"), std::string::npos);
}

TEST(KeepalivedReader, FolderMatchedByAGlobIsListed) {
    auto r = read("include conf.d/*\n", {{"/etc/keepalived/conf.d/sub/a.conf", "a 1\n"},
                                         {"/etc/keepalived/conf.d/b.conf", "b 1\n"}});
    ASSERT_FALSE(r.read.error);
    EXPECT_EQ(words_of(r.read), (Words{{"b", "1"}}));
    ASSERT_EQ(r.read.not_converted.size(), 1u);
    EXPECT_EQ(r.read.not_converted[0].keyword, "include");
    EXPECT_EQ(r.read.not_converted[0].where.line, 1u);
}

TEST(KeepalivedReader, IncludeLoopsAreErrorsNamingTheChain) {
    auto self = read("include keepalived.conf\n");
    ASSERT_TRUE(self.read.error);
    EXPECT_NE(self.read.error->message.find("include loop"), std::string::npos);

    auto cycle = read("include a.conf\n", {{"/etc/keepalived/a.conf", "\ninclude b.conf\n"},
                                           {"/etc/keepalived/b.conf", "include ./a.conf\n"}});
    ASSERT_TRUE(cycle.read.error);
    EXPECT_EQ(cycle.read.error->where, (SourceRef{"/etc/keepalived/b.conf", 1}));
    EXPECT_NE(cycle.read.error->message.find("/etc/keepalived/a.conf -> /etc/keepalived/b.conf"),
              std::string::npos)
        << cycle.read.error->message;
}

TEST(KeepalivedReader, TheSameFileTwiceWithoutALoopIsFine) {
    auto r = read("include x.conf\ninclude x.conf\n", {{"/etc/keepalived/x.conf", "x 1\n"}});
    ASSERT_FALSE(r.read.error);
    EXPECT_EQ(r.read.lines.size(), 2u);
}

TEST(KeepalivedReader, UnreadableMainFileIsAnError) {
    MemoryFileSource files;
    auto r = read_keepalived("/nowhere.conf", files);
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error->where, (SourceRef{"/nowhere.conf", 0}));
}

TEST(KeepalivedReader, ConditionalLinesFollowTheConfigId) {
    const std::string text = "@high priority 170\n@low priority 85\n@^high other 1\nplain 1\n";
    ReaderOptions high;
    high.config_id = "high";
    auto r = read(text, {}, high);
    ASSERT_FALSE(r.read.error);
    EXPECT_EQ(words_of(r.read), (Words{{"priority", "170"}, {"plain", "1"}}));
    EXPECT_TRUE(r.read.not_converted.empty());

    // Without an id: as for a host that is none of them, and each line listed.
    auto none = read(text);
    EXPECT_EQ(words_of(none.read), (Words{{"other", "1"}, {"plain", "1"}}));
    ASSERT_EQ(none.read.not_converted.size(), 3u);
    EXPECT_EQ(none.read.not_converted[0].keyword, "@high");
    EXPECT_EQ(none.read.not_converted[2].keyword, "@^high");
    EXPECT_EQ(none.read.not_converted[2].where.line, 3u);
}

TEST(KeepalivedReader, DefinitionsExpand) {
    auto r = read(
        "$PORT=8080\n"
        "$VIP = 10.0.0.1\n"
        "virtual_server $VIP ${PORT}\n"
        "path /x$PORT/y\n"  // $PORT followed by '/' is not a reference
        "path2 /x${PORT}/y\n"
        "hash ${_HASH}\n"
        "undefined $NOPE\n");
    ASSERT_FALSE(r.read.error);
    EXPECT_EQ(words_of(r.read), (Words{{"virtual_server", "10.0.0.1", "8080"},
                                       {"path", "/x$PORT/y"},
                                       {"path2", "/x8080/y"},
                                       {"hash"},  // '#' starts a comment again, as in keepalived
                                       {"undefined", "$NOPE"}}));
}

TEST(KeepalivedReader, MultiLineDefinitionsExpandToSeveralLines) {
    auto r = read(
        "$REAL=real_server 10.0.0.2 80 { \\\n"
        "  weight 3 \\\n"
        "}\n"
        "virtual_server 10.0.0.1 80 {\n"
        "  $REAL\n"
        "}\n");
    ASSERT_FALSE(r.read.error);
    ASSERT_FALSE(r.parsed.error) << r.parsed.error->to_string();
    const Node& real = r.parsed.nodes.at(0).children.at(0);
    EXPECT_EQ(real.keyword(), "real_server");
    EXPECT_EQ(real.children.at(0).words, (std::vector<std::string>{"weight", "3"}));
    EXPECT_EQ(real.where.line, 5u);  // where it was used
}

TEST(KeepalivedReader, EndlessDefinitionsStop) {
    auto r = read("$A=x $A\nline $A\n");
    ASSERT_TRUE(r.read.error);
    EXPECT_EQ(r.read.error->where.line, 2u);
}

TEST(KeepalivedReader, SequencesAndRandomNumbersAreListed) {
    auto r = read(
        "~SEQ(i, 1, 3) real_server 10.0.0.$i 80\n"
        "weight ${_RANDOM}\n");
    ASSERT_FALSE(r.read.error);
    ASSERT_EQ(r.read.not_converted.size(), 2u);
    EXPECT_EQ(r.read.not_converted[0].keyword, "~SEQ");
    EXPECT_EQ(r.read.not_converted[0].where.line, 1u);
    EXPECT_EQ(r.read.not_converted[1].keyword, "$_RANDOM");
    EXPECT_EQ(r.read.not_converted[1].where.line, 2u);
}

TEST(KeepalivedReader, CrLfLineEndsAndNoFinalNewline) {
    auto r = read("a 1\r\nb 2");
    EXPECT_EQ(words_of(r.read), (Words{{"a", "1"}, {"b", "2"}}));
}

}  // namespace
}  // namespace ballast::import
