#include "ballast/model/director_config.hpp"

#include <gtest/gtest.h>

#include <string>

#include "ballast/model/shared.hpp"

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

TEST(Shared, CopiesShareAndCompareByValue) {
    Shared<CheckSpec> none;
    EXPECT_FALSE(none);
    EXPECT_TRUE(none == std::nullopt);
    CheckSpec spec;
    spec.path = "/health";
    Shared<CheckSpec> a = spec;
    Shared<CheckSpec> b = a;
    EXPECT_TRUE(a.shares(b));
    Shared<CheckSpec> c = spec;  // equal, not shared
    EXPECT_FALSE(a.shares(c));
    EXPECT_EQ(a, c);
    EXPECT_NE(a, none);
    EXPECT_LT(none, a);  // as optional: no value first
    EXPECT_EQ(std::optional<CheckSpec>(spec), std::optional<CheckSpec>(*a));
    // Changing one copy leaves the others as they were.
    b.edit().path = "/ping";
    EXPECT_FALSE(a.shares(b));
    EXPECT_EQ(a->path, "/health");
    EXPECT_EQ(b->path, "/ping");
    EXPECT_LT(a, b);
    // The only holder changes its value in place.
    const CheckSpec* before = &*b;
    b.edit().rise = 9;
    EXPECT_EQ(&*b, before);
    b.reset();
    EXPECT_FALSE(b.has_value());
    EXPECT_EQ(Shared<CheckSpec>(std::optional<CheckSpec>()), none);
    EXPECT_EQ(*Shared<CheckSpec>(std::optional<CheckSpec>(spec)), spec);
}

TEST(Shared, IsAPointerNotACopy) {
    EXPECT_LT(sizeof(Shared<CheckSpec>), sizeof(CheckSpec) / 4);
}
