// A long document is parsed in pieces (load.cpp, parse_document): the result — the config, or
// every diagnostic with its file:line:col — must be exactly that of one parse, whatever the
// piece size, including where a piece cannot be parsed alone.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ballast/config/config.hpp"

namespace {

using namespace ballast::config;

std::vector<std::string> formatted(const LoadResult& r) {
    std::vector<std::string> out;
    for (const auto& d : r.diagnostics) out.push_back(format(d));
    return out;
}

// Loads `text` whole and in pieces of 1, 2 and 3 services and expects the same result; returns
// the whole parse's.
LoadResult expect_same_in_pieces(const std::string& text) {
    const auto whole = load_string(text, "p.toml", 0);
    for (size_t per_piece : {1u, 2u, 3u, 250u}) {
        const auto pieces = load_string(text, "p.toml", per_piece);
        EXPECT_EQ(pieces.ok(), whole.ok()) << per_piece;
        EXPECT_EQ(formatted(pieces), formatted(whole)) << per_piece;
        if (pieces.ok() && whole.ok()) {
            EXPECT_TRUE(*pieces.config == *whole.config) << per_piece;
        }
    }
    return whole;
}

std::string service(size_t s, const std::string& extra = "") {
    std::string t = "[[service]]\nname = \"s" + std::to_string(s) + "\"\nvip = \"10.1.0." +
                    std::to_string(s + 1) + "\"\nport = 80\n" + extra;
    for (size_t i = 0; i < 3; ++i)
        t += "[[service.real]]\naddress = \"10.0." + std::to_string(s) + "." +
             std::to_string(i + 1) + ":8080\"\nweight = " + std::to_string(i + 1) + "\n";
    return t;
}

const std::string kHead =
    "[director]\ndrain_timeout = \"5s\"\n\n[defaults.check]\ntype = \"tcp\"\ninterval = \"2s\"\n";

TEST(Pieces, ManyServicesLoadAsOne) {
    std::string text = kHead;
    for (size_t s = 0; s < 9; ++s)
        text += service(s, s % 2 ? "[service.check]\ntype = \"http\"\npath = \"/h\"\n" : "");
    const auto r = expect_same_in_pieces(text);
    ASSERT_TRUE(r.ok()) << formatted(r).front();
    EXPECT_EQ(r.config->services.size(), 9u);
}

TEST(Pieces, ErrorsInLaterPiecesKeepTheirLines) {
    std::string text = kHead;
    for (size_t s = 0; s < 7; ++s) text += service(s, s == 5 ? "scheduler = \"nope\"\n" : "");
    text +=
        "[[service]]\nname = \"late\"\nvip = \"10.1.1.1\"\nport = 81\n[[service.real]]\n"
        "address = \"10.9.9.9:1\"\nweight = -3\n";
    const auto r = expect_same_in_pieces(text);
    EXPECT_FALSE(r.ok());
    EXPECT_GE(r.diagnostics.size(), 2u);
}

TEST(Pieces, SyntaxErrorInAPieceIsReportedAsByOneParse) {
    std::string text = kHead;
    for (size_t s = 0; s < 6; ++s) text += service(s, s == 4 ? "oops = \n" : "");
    const auto r = expect_same_in_pieces(text);
    ASSERT_EQ(r.diagnostics.size(), 1u);
    EXPECT_NE(format(r.diagnostics[0]).find("TOML syntax error"), std::string::npos);
}

// Documents a piece cannot be parsed alone: each must still load exactly as one parse.
TEST(Pieces, DocumentsThatMustBeParsedWhole) {
    // A table after the services.
    std::string late_table;
    for (size_t s = 0; s < 5; ++s) late_table += service(s);
    late_table += "[director]\ndrain_timeout = \"7s\"\n";
    const auto r = expect_same_in_pieces(late_table);
    ASSERT_TRUE(r.ok()) << formatted(r).front();

    // "[[service]]" lines inside a multi-line string.
    std::string in_string = kHead + service(0) + service(1, "name2 = \"\"\"\n[[service]]\n");
    in_string += "[[service]]\n\"\"\"\n";
    for (size_t s = 2; s < 6; ++s) in_string += service(s);
    expect_same_in_pieces(in_string);

    // An inline array of services that [[service]] may not extend.
    std::string inline_array =
        kHead + "service = [{ name = \"i\", vip = \"10.2.0.1\", port = 1 }]\n";
    for (size_t s = 0; s < 5; ++s) inline_array += service(s);
    expect_same_in_pieces(inline_array);

    // Something other than services between them, as a dotted key of the root.
    std::string root_key;
    for (size_t s = 0; s < 4; ++s) root_key += service(s);
    root_key += "[[service]]\n[[service.real]]\n[defaults]\n";
    for (size_t s = 4; s < 8; ++s) root_key += service(s);
    expect_same_in_pieces(root_key);
}

// A long [[service]] array is read on two threads (load.cpp, read_service_array): errors in
// either half keep their places, and services with equal checks share one spec across halves.
TEST(Pieces, ALongArrayIsReadOnTwoThreadsAsOnOne) {
    const auto service = [](size_t s, const std::string& extra) {
        std::string t = "[[service]]\nname = \"s" + std::to_string(s) + "\"\nvip = \"10.1." +
                        std::to_string(s / 250) + "." + std::to_string(s % 250 + 1) +
                        "\"\nport = 80\n" + extra;
        for (size_t i = 0; i < 2; ++i)
            t += "[[service.real]]\naddress = \"10.0." + std::to_string(s % 250) + "." +
                 std::to_string(i + 1) + ":8080\"\n";
        return t;
    };
    const std::string http = "[service.check]\ntype = \"http\"\npath = \"/h\"\n";
    std::string good = kHead;
    for (size_t s = 0; s < 600; ++s) good += service(s, s % 2 ? http : "");
    const auto r = expect_same_in_pieces(good);
    ASSERT_TRUE(r.ok()) << formatted(r).front();
    const auto& services = r.config->services;
    ASSERT_EQ(services.size(), 600u);
    for (size_t s : {size_t{2}, size_t{299}, size_t{300}, size_t{598}, size_t{599}})
        EXPECT_EQ(services[s].name, "s" + std::to_string(s));
    EXPECT_TRUE(services[1].check.shares(services[599].check));
    EXPECT_TRUE(services[0].check.shares(services[598].check));
    EXPECT_FALSE(services[0].check.shares(services[1].check));

    std::string bad = kHead;
    for (size_t s = 0; s < 600; ++s)
        bad += service(s, s == 7 || s == 555 ? "scheduler = \"nope\"\n" : "");
    const auto b = expect_same_in_pieces(bad);
    ASSERT_EQ(b.diagnostics.size(), 2u);
    EXPECT_NE(format(b.diagnostics[0]).find("service[7].scheduler"), std::string::npos)
        << format(b.diagnostics[0]);
    EXPECT_NE(format(b.diagnostics[1]).find("service[555].scheduler"), std::string::npos)
        << format(b.diagnostics[1]);
}

TEST(Pieces, CrlfLinesAndBlanksAfterTheHeader) {
    std::string text = kHead;
    for (size_t s = 0; s < 6; ++s) text += service(s);
    std::string crlf;
    for (char c : text) {
        if (c == '\n') crlf += "\r";
        crlf += c;
    }
    const auto r = expect_same_in_pieces(crlf);
    ASSERT_TRUE(r.ok()) << formatted(r).front();
    std::string blanks = text;
    for (size_t at = 0; (at = blanks.find("[[service]]\n", at)) != std::string::npos; at += 12)
        blanks.replace(at, 12, "[[service]] \t\n");
    expect_same_in_pieces(blanks);
}

}  // namespace
