#include "ballast/model/shared_text.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

using namespace ballast::model;

TEST(SharedText, IsOnePointer) {
    EXPECT_EQ(sizeof(SharedText), sizeof(void*));
}

TEST(SharedText, EqualTextsShareOneNode) {
    const size_t before = SharedText::pool_size();
    SharedText a("connection refused");
    SharedText b(std::string("connection ") + "refused");
    EXPECT_EQ(&a.str(), &b.str());  // the same text, not an equal copy
    EXPECT_EQ(SharedText::pool_size(), before + 1);
    SharedText c = a;
    EXPECT_EQ(&c.str(), &a.str());
    EXPECT_EQ(SharedText::pool_size(), before + 1);
    SharedText d("connect ok");
    EXPECT_NE(&d.str(), &a.str());
    EXPECT_EQ(SharedText::pool_size(), before + 2);
}

TEST(SharedText, EmptyIsNoNode) {
    const size_t before = SharedText::pool_size();
    SharedText none;
    SharedText empty("");
    EXPECT_TRUE(none.empty());
    EXPECT_TRUE(empty.empty());
    EXPECT_EQ(none, empty);
    EXPECT_EQ(none.str(), "");
    EXPECT_EQ(none.view(), "");
    EXPECT_EQ(none.size(), 0u);
    EXPECT_EQ(SharedText::pool_size(), before);
    SharedText moved("x");
    SharedText to = std::move(moved);
    EXPECT_TRUE(moved.empty());  // NOLINT(bugprone-use-after-move): a moved-from text is empty
    EXPECT_EQ(to, "x");
}

TEST(SharedText, ComparesByContent) {
    SharedText a("HTTP 200");
    SharedText b(std::string_view("HTTP 200"));
    SharedText c("HTTP 503");
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
    EXPECT_EQ(a, "HTTP 200");
    EXPECT_EQ(a, std::string("HTTP 200"));
    EXPECT_EQ(a, std::string_view("HTTP 200"));
    EXPECT_NE(a, "HTTP 20");
    EXPECT_EQ("HTTP 503", c);
    EXPECT_LT(a, c);
    EXPECT_LT(SharedText(), a);  // empty orders first, as ""
    const std::string_view v = c;
    EXPECT_EQ(v, "HTTP 503");
    std::string s;
    s = a;  // assigned as a string_view
    EXPECT_EQ(s, "HTTP 200");
    EXPECT_EQ("up: " + a.str(), "up: HTTP 200");
}

TEST(SharedText, PoolHoldsOnlyLiveTexts) {
    const size_t before = SharedText::pool_size();
    {
        std::vector<SharedText> texts;
        for (int n = 0; n < 1000; ++n) texts.emplace_back("agent: down#load " + std::to_string(n));
        EXPECT_EQ(SharedText::pool_size(), before + 1000);
        texts.resize(10);
        EXPECT_EQ(SharedText::pool_size(), before + 10);
    }
    EXPECT_EQ(SharedText::pool_size(), before);
    SharedText a("timeout after 1s");
    SharedText b = a;
    a = SharedText();
    EXPECT_EQ(SharedText::pool_size(), before + 1);  // b still holds it
    b = "timeout after 2s";
    EXPECT_EQ(SharedText::pool_size(), before + 1);  // the first text went with its last holder
    EXPECT_EQ(b, "timeout after 2s");
}

// Threads make, copy and drop the same few texts at once (the loop thread publishes decisions,
// the control hub's thread reads and releases them): every text stays intact, and the pool
// ends as it began.
TEST(SharedText, CopiesAndDropsOnManyThreads) {
    const size_t before = SharedText::pool_size();
    const std::vector<std::string> words = {"connect ok", "connection refused", "HTTP 200",
                                            "timeout after 1s (reading response)"};
    const SharedText kept(words[0]);
    std::vector<std::thread> threads;
    std::vector<int> bad(4, 0);
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            std::vector<SharedText> held;
            for (int n = 0; n < 100000; ++n) {
                const std::string& w = words[static_cast<size_t>(n + t) % words.size()];
                SharedText made(w);
                if (made != w) ++bad[static_cast<size_t>(t)];
                SharedText copy = n % 2 ? made : kept;
                held.push_back(std::move(copy));
                if (held.size() > 8) held.erase(held.begin());
                if (held.front().str() != words[0] && held.front().str() != words[1] &&
                    held.front().str() != words[2] && held.front().str() != words[3])
                    ++bad[static_cast<size_t>(t)];
            }
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(bad, std::vector<int>(4, 0));
    EXPECT_EQ(kept, words[0]);
    EXPECT_EQ(SharedText::pool_size(), before + 1);  // only `kept`
}
