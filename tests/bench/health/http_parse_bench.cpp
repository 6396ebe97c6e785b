// Cost of reading one HTTP response with HttpResponseParser (Boost.Beast
// underneath since 2026-12-05): a typical health answer (status line, five
// headers, 100-byte body) fed whole and in 16-byte pieces, and a chunked one.
//   http_parse_bench [iterations=200000]
// Prints ns per response for each shape. Not part of scripts/test.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ballast/health/http_response.hpp"

namespace {

using ballast::health::HttpResponseParser;

double ns_per_response(const std::string& response, size_t piece, long iterations) {
    size_t checksum = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < iterations; ++i) {
        HttpResponseParser p;
        std::string_view in = response;
        auto progress = HttpResponseParser::Progress::need_more;
        while (!in.empty() && progress == HttpResponseParser::Progress::need_more) {
            const size_t n = std::min(piece, in.size());
            progress = p.feed(in.substr(0, n));
            in.remove_prefix(n);
        }
        if (progress != HttpResponseParser::Progress::done) {
            std::fprintf(stderr, "http_parse_bench: not parsed: %s\n", p.error().c_str());
            std::exit(1);
        }
        checksum += p.body().size() + static_cast<size_t>(p.status());
    }
    const auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0);
    if (checksum == 0) std::printf("?");
    return ns.count() / static_cast<double>(iterations);
}

}  // namespace

int main(int argc, char** argv) {
    const long iterations = argc > 1 ? std::atol(argv[1]) : 200000;
    const std::string body(100, 'x');
    const std::string plain =
        "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sat, 05 Dec 2026 12:00:00 GMT\r\n"
        "Content-Type: application/json\r\nConnection: close\r\nContent-Length: 100\r\n\r\n" +
        body;
    const std::string chunked =
        "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        "32\r\n" +
        body.substr(0, 50) + "\r\n32\r\n" + body.substr(0, 50) + "\r\n0\r\n\r\n";
    std::printf("| response | fed | ns per response |\n|---|---|---|\n");
    std::printf("| 200, 5 headers, Content-Length 100 | whole | %.0f |\n",
                ns_per_response(plain, plain.size(), iterations));
    std::printf("| 200, 5 headers, Content-Length 100 | 16-byte pieces | %.0f |\n",
                ns_per_response(plain, 16, iterations));
    std::printf("| 200, chunked 2 x 50 | whole | %.0f |\n",
                ns_per_response(chunked, chunked.size(), iterations));
    return 0;
}
