#include "ballast/model/director_config.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace ballast::model;

// Locations made apart with the same name hold one copy of it, and compare as if each held its
// own: by name, then line, then column.
TEST(SourceLocation, HoldsTheNameOnceAndComparesByName) {
    std::string name = "/etc/ballast/";
    name += "ballast.toml";  // not the literal's storage
    const SourceLocation a(name, 3, 7), b("/etc/ballast/ballast.toml", 3, 7);
    EXPECT_EQ(&a.file(), &b.file());  // one copy of the name
    EXPECT_EQ(a, b);
    EXPECT_EQ(a.to_string(), "/etc/ballast/ballast.toml:3:7");
    EXPECT_EQ(a.at(9, 1).to_string(), "/etc/ballast/ballast.toml:9:1");
    EXPECT_LT(a, a.at(4, 1));
    EXPECT_LT(a.at(3, 6), a);
    // Another file orders by its name, whatever the line.
    EXPECT_LT(SourceLocation("a.toml", 9, 9), SourceLocation("b.toml", 1, 1));
    EXPECT_GT(SourceLocation("c.toml", 1, 1), SourceLocation("b.toml", 9, 9));
    EXPECT_NE(SourceLocation("a.toml", 1, 1), SourceLocation("b.toml", 1, 1));
    // No name is the empty name.
    EXPECT_EQ(SourceLocation().file(), "");
    EXPECT_EQ(SourceLocation("", 0, 0), SourceLocation());
    EXPECT_EQ(SourceLocation().to_string(), ":0:0");
}
