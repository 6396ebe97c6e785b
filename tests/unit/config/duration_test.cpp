#include "ballast/config/duration.hpp"

#include <gtest/gtest.h>

namespace ballast::config {
namespace {

using model::Millis;

Millis ok(std::string_view text) {
    auto r = parse_duration(text);
    EXPECT_TRUE(std::holds_alternative<Millis>(r)) << text;
    return std::holds_alternative<Millis>(r) ? std::get<Millis>(r) : Millis(-1);
}

std::string bad(std::string_view text) {
    auto r = parse_duration(text);
    EXPECT_TRUE(std::holds_alternative<std::string>(r)) << text;
    return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : "";
}

TEST(Duration, ParsesEachUnit) {
    EXPECT_EQ(ok("500ms"), Millis(500));
    EXPECT_EQ(ok("2s"), Millis(2000));
    EXPECT_EQ(ok("1m"), Millis(60'000));
    EXPECT_EQ(ok("1h"), Millis(3'600'000));
    EXPECT_EQ(ok("0s"), Millis(0));
    EXPECT_EQ(ok("720h"), Millis(int64_t{720} * 3'600'000));
}

TEST(Duration, RejectsBareNumbersNegativesFractionsAndUnknownUnits) {
    EXPECT_NE(bad("5").find("a bare number has no unit"), std::string::npos);
    EXPECT_EQ(bad("-5s"), "a duration cannot be negative");
    EXPECT_NE(bad("1.5s").find("unknown unit '.5s'"), std::string::npos);
    EXPECT_NE(bad("5d").find("unknown unit 'd'"), std::string::npos);
    EXPECT_NE(bad("s").find("expected a duration"), std::string::npos);
    EXPECT_NE(bad("").find("got an empty string"), std::string::npos);
    EXPECT_NE(bad(" 5s").find("expected a duration"), std::string::npos);
}

TEST(Duration, RejectsOverflow) {
    EXPECT_EQ(bad("721h"), "duration '721h' is too large (at most 720h)");
    EXPECT_EQ(bad("99999999999999999999999ms"),
              "duration '99999999999999999999999ms' is too large (at most 720h)");
    EXPECT_EQ(bad("18446744073709551616s"),
              "duration '18446744073709551616s' is too large (at most 720h)");
}

TEST(Duration, FormatsWithTheLargestExactUnit) {
    EXPECT_EQ(format_duration(Millis(1500)), "1500ms");
    EXPECT_EQ(format_duration(Millis(2000)), "2s");
    EXPECT_EQ(format_duration(Millis(120'000)), "2m");
    EXPECT_EQ(format_duration(Millis(7'200'000)), "2h");
    EXPECT_EQ(format_duration(Millis(0)), "0ms");
    for (auto text : {"1ms", "59s", "90m", "25h"})
        EXPECT_EQ(ok(format_duration(ok(text))), ok(text));
}

}  // namespace
}  // namespace ballast::config
