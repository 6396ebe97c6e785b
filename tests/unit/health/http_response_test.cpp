#include "ballast/health/http_response.hpp"

#include <gtest/gtest.h>

namespace ballast::health {
namespace {

using P = HttpResponseParser::Progress;

TEST(HttpResponse, ContentLengthBodyAcrossFeeds) {
    HttpResponseParser p;
    EXPECT_EQ(p.feed("HTTP/1.1 200 OK\r\nContent-Le"), P::need_more);
    EXPECT_EQ(p.feed("ngth: 5\r\n\r\nhel"), P::need_more);
    EXPECT_EQ(p.status(), 200);
    EXPECT_EQ(p.feed("lo"), P::done);
    EXPECT_EQ(p.body(), "hello");
}

TEST(HttpResponse, ChunkedBody) {
    HttpResponseParser p;
    EXPECT_EQ(p.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-Trailer: y\r\n\r\n"),
              P::done);
    EXPECT_EQ(p.body(), "abcdefg");
}

TEST(HttpResponse, CloseDelimitedBodyAndInterim) {
    HttpResponseParser p;
    EXPECT_EQ(p.feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 503 Busy\r\n\r\nsorry"), P::need_more);
    EXPECT_EQ(p.finish(), P::done);
    EXPECT_EQ(p.status(), 503);
    EXPECT_EQ(p.body(), "sorry");
}

TEST(HttpResponse, HeadHasNoBody) {
    HttpResponseParser p(HttpLimits{}, true);
    EXPECT_EQ(p.feed("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"), P::done);
}

TEST(HttpResponse, GarbageAndTruncation) {
    HttpResponseParser g;
    EXPECT_EQ(g.feed("SSH-2.0-OpenSSH_9.2\r\n"), P::error);
    EXPECT_EQ(g.error(), "not an HTTP response");
    HttpResponseParser bad_code;
    EXPECT_EQ(bad_code.feed("HTTP/1.1 2x0 OK\r\n"), P::error);
    HttpResponseParser cut;
    EXPECT_EQ(cut.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), P::need_more);
    EXPECT_EQ(cut.finish(), P::error);
    HttpResponseParser nothing;
    EXPECT_EQ(nothing.finish(), P::error);
    EXPECT_EQ(nothing.error(), "connection closed without a response");
    HttpResponseParser conflict;
    EXPECT_EQ(conflict.feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
              P::error);
}

TEST(HttpResponse, LimitsOnEachPart) {
    HttpLimits lim{64, 128, 10};
    HttpResponseParser status_line(lim);
    EXPECT_EQ(status_line.feed("HTTP/1.1 200 " + std::string(100, 'x')), P::error);
    EXPECT_EQ(status_line.error(), "HTTP status line too long");

    HttpResponseParser headers(lim);
    std::string many = "HTTP/1.1 200 OK\r\n";
    for (int i = 0; i < 20; ++i) many += "X-H: aaaaaaaaaa\r\n";
    EXPECT_EQ(headers.feed(many), P::error);
    EXPECT_EQ(headers.error(), "HTTP headers too long");

    HttpResponseParser declared(lim);
    EXPECT_EQ(declared.feed("HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n"), P::error);
    EXPECT_NE(declared.error().find("exceeds the limit"), std::string::npos);

    HttpResponseParser streamed(lim);
    EXPECT_EQ(streamed.feed("HTTP/1.1 200 OK\r\n\r\n0123456789"), P::need_more);
    EXPECT_EQ(streamed.feed("a"), P::error);

    HttpResponseParser chunk(lim);
    EXPECT_EQ(chunk.feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffff\r\n"),
              P::error);
}

TEST(HttpClassify, StatusListBodyAndRegex) {
    model::CheckSpec spec;
    spec.expect_status = {200, 204};
    EXPECT_TRUE(classify_http(204, "", spec, nullptr).up);
    auto v = classify_http(503, "", spec, nullptr);
    EXPECT_FALSE(v.up);
    EXPECT_EQ(v.reason, "HTTP 503");
    spec.expect_status.clear();
    EXPECT_TRUE(classify_http(302, "", spec, nullptr).up);
    EXPECT_FALSE(classify_http(404, "", spec, nullptr).up);

    spec.expect_body = "ok";
    v = classify_http(200, "status: fine", spec, nullptr);
    EXPECT_FALSE(v.up);
    EXPECT_EQ(v.reason, "HTTP 200: body lacks \"ok\"");
    EXPECT_TRUE(classify_http(200, "all ok", spec, nullptr).up);

    spec.expect_body.clear();
    spec.expect_body_regex = "version=[0-9]+";
    auto re = BodyRegex::compile(spec.expect_body_regex);
    ASSERT_TRUE(re);
    EXPECT_TRUE(classify_http(200, "x version=12 y", spec, re.get()).up);
    v = classify_http(200, "version=x", spec, re.get());
    EXPECT_FALSE(v.up);
    EXPECT_EQ(v.reason, "HTTP 200: body does not match /version=[0-9]+/");
}

// A body the server controls, searched with patterns a backtracking engine
// handles badly (std::regex recursed once per byte here and overflowed the
// stack; nested repetition is exponential for it): decided in linear time.
TEST(HttpClassify, BodyRegexOverAHostileBodyIsDecided) {
    model::CheckSpec spec;
    const std::string as(kBodyRegexWindow - 1, 'a');
    for (const std::string pattern : {"(a|b)*c", "(a+)+c", "(a|aa)*c"}) {
        spec.expect_body_regex = pattern;
        auto re = BodyRegex::compile(pattern);
        ASSERT_TRUE(re) << pattern;
        EXPECT_TRUE(classify_http(200, as + "c", spec, re.get()).up) << pattern;
        EXPECT_FALSE(classify_http(200, as + "a", spec, re.get()).up) << pattern;
    }
    spec.expect_body_regex = "^(a?){25}a{25}$";  // 2^25 paths for a backtracking engine
    auto re = BodyRegex::compile(spec.expect_body_regex);
    ASSERT_TRUE(re);
    EXPECT_TRUE(classify_http(200, std::string(25, 'a'), spec, re.get()).up);
    EXPECT_FALSE(classify_http(200, std::string(24, 'a') + "b", spec, re.get()).up);
    // Only the first kBodyRegexWindow bytes are searched.
    spec.expect_body_regex = "needle";
    re = BodyRegex::compile(spec.expect_body_regex);
    EXPECT_TRUE(classify_http(200, std::string(100, 'x') + "needle", spec, re.get()).up);
    EXPECT_FALSE(
        classify_http(200, std::string(kBodyRegexWindow, 'x') + "needle", spec, re.get()).up);
}

TEST(HttpClassify, RegexSyntaxIsRe2s) {
    std::string error;
    EXPECT_FALSE(BodyRegex::compile("(a)\\1", &error));  // backreferences: not in RE2
    EXPECT_EQ(error, "invalid escape sequence: \\1");
    EXPECT_FALSE(BodyRegex::compile("a(?=b)", &error));  // lookahead: not in RE2
    EXPECT_FALSE(BodyRegex::compile("(", &error));
    EXPECT_EQ(error, "missing ): (");
    auto ok = BodyRegex::compile("\\bstatus\\s*:\\s*(ok|up)\\b", &error);
    ASSERT_TRUE(ok);
    EXPECT_TRUE(ok->search("health status: ok\n"));
    EXPECT_FALSE(ok->search("health status: broken\n"));
}

}  // namespace
}  // namespace ballast::health
