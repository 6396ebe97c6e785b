// The status endpoint's request handling: limits and answers, byte by byte or at once.
#include <gtest/gtest.h>

#include "ballast/agent/http_request.hpp"

using namespace ballast::agent;

namespace {

std::optional<HttpDecision> read_all(std::string_view bytes, size_t chunk) {
    HttpRequestReader r;
    for (size_t i = 0; i < bytes.size(); i += chunk)
        if (auto d = r.feed(bytes.substr(i, chunk))) return d;
    return std::nullopt;
}

std::string respond(const HttpDecision& d) {
    return respond_http(
        d, [] { return std::string("{\"verdict\":\"pass\"}\n"); },
        [] { return std::string("ballast_agent_up 1\n"); });
}

TEST(HttpRequest, GetStatusAndMetricsWholeOrByteByByte) {
    for (size_t chunk : {1, 7, 4096}) {
        auto d = read_all("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", chunk);
        ASSERT_TRUE(d);
        EXPECT_EQ(d->status, 0u);
        EXPECT_EQ(d->target, "/metrics");
        std::string out = respond(*d);
        EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << out;
        EXPECT_NE(out.find("Connection: close"), std::string::npos) << out;
        EXPECT_NE(out.find("\r\n\r\nballast_agent_up 1\n"), std::string::npos) << out;
    }
    auto status = read_all("GET /status HTTP/1.0\r\n\r\n", 3);
    ASSERT_TRUE(status);
    std::string out = respond(*status);
    EXPECT_EQ(out.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << out;
    EXPECT_NE(out.find("application/json"), std::string::npos);
    EXPECT_EQ(respond(*read_all("GET /nope HTTP/1.1\r\n\r\n", 100)).rfind("HTTP/1.1 404", 0), 0u);
}

TEST(HttpRequest, IncompleteHeadWaitsForMore) {
    HttpRequestReader r;
    EXPECT_EQ(r.feed("GET /status HTTP/1.1\r\nHost: x\r\n"), std::nullopt);
    EXPECT_EQ(r.end_of_input().status, 400u);
}

TEST(HttpRequest, HeadOverFourKiBIsRefusedWithoutBufferingMore) {
    std::string big = "GET /status HTTP/1.1\r\nX-Pad: " + std::string(5000, 'a') + "\r\n\r\n";
    for (size_t chunk : {1, 100, 8192}) {
        HttpRequestReader r;
        std::optional<HttpDecision> d;
        size_t fed = 0;
        while (!d && fed < big.size()) {
            d = r.feed(std::string_view(big).substr(fed, chunk));
            fed += chunk;
            EXPECT_LE(r.buffered(), kMaxRequestHead + chunk);
        }
        ASSERT_TRUE(d) << chunk;
        EXPECT_EQ(d->status, 431u) << chunk;
        // Beast takes the request line as soon as it is whole: it counts beside the 4 KiB.
        EXPECT_LE(fed, kMaxRequestHead + chunk + 64) << "decided late";
        EXPECT_EQ(respond(*d).rfind("HTTP/1.1 431", 0), 0u);
    }
}

TEST(HttpRequest, BodiesOtherMethodsAndGarbageAreRefused) {
    auto d = read_all("POST /status HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 4096);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->status, 413u);
    d = read_all("GET /status HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 4096);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->status, 413u);
    d = read_all("DELETE /status HTTP/1.1\r\n\r\n", 4096);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->status, 405u);
    d = read_all("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n", 4096);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->status, 400u);
    EXPECT_EQ(respond(*d).rfind("HTTP/1.1 400 Bad Request", 0), 0u) << respond(*d);
}

}  // namespace
