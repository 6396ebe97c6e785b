// ballast-demo-tool: the servers and clients scripts/demo runs, each under `ip netns exec` in
// the demo's namespaces (the same code the end-to-end tests use).
//
//   serve IP NAME [PORT]                 HTTP on IP:PORT (80) answering NAME, /data/N; until
//                                        SIGTERM or SIGINT
//   tally VIP PORT N [NAME=W,...]        N requests, a bar chart of who answered; fails on any
//                                        error, or when the split is not W:... (names not
//                                        listed must get none)
//   download VIP PORT BYTES RATE         GET /data/BYTES read at RATE bytes/s; fails unless the
//                                        body is whole and its SHA-256 is right
//   wait-weight SERVICE REAL WEIGHT SECS waits until IPVS gives REAL that weight in SERVICE
//                                        ("10.50.0.100:80/tcp", "10.51.2.2:80"); says how long
// Exit status: 0 when what was asked held, 1 when it did not, 2 on bad arguments.
#include <signal.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ballast/testing/ipvs_view.hpp"
#include "ballast/testing/servers.hpp"

using namespace ballast::testing;

namespace {

int usage() {
    std::cerr << "usage: ballast-demo-tool serve IP NAME [PORT]\n"
                 "       ballast-demo-tool tally VIP PORT N [NAME=WEIGHT,...]\n"
                 "       ballast-demo-tool download VIP PORT BYTES RATE\n"
                 "       ballast-demo-tool wait-weight SERVICE REAL WEIGHT SECONDS\n";
    return 2;
}

uint64_t number(const std::string& text, const char* what) {
    size_t used = 0;
    unsigned long long v = 0;
    try {
        v = std::stoull(text, &used);
    } catch (const std::exception&) {
    }
    if (used != text.size() || text.empty())
        throw std::invalid_argument(std::string(what) + ": '" + text + "' is not a number");
    return v;
}

uint16_t port_number(const std::string& text) {
    const uint64_t p = number(text, "PORT");
    if (p == 0 || p > 65535) throw std::invalid_argument("PORT: '" + text + "' is not 1..65535");
    return static_cast<uint16_t>(p);
}

int serve(const std::vector<std::string>& a) {
    if (a.size() < 2 || a.size() > 3) return usage();
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the server's thread starts
    HttpServer server(a[0], a.size() == 3 ? port_number(a[2]) : 80, a[1]);
    int sig = 0;
    sigwait(&set, &sig);
    return 0;
}

// "rs1=3,rs2=2" -> {rs1: 3, rs2: 2}
std::map<std::string, double> shares(const std::string& text) {
    std::map<std::string, double> out;
    std::istringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        const auto eq = item.find('=');
        if (eq == std::string::npos || eq == 0)
            throw std::invalid_argument("expected NAME=WEIGHT, got '" + item + "'");
        out[item.substr(0, eq)] = static_cast<double>(number(item.substr(eq + 1), "WEIGHT"));
    }
    return out;
}

int tally(const std::vector<std::string>& a) {
    if (a.size() < 3 || a.size() > 4) return usage();
    const int n = static_cast<int>(number(a[2], "N"));
    const auto expect = a.size() == 4 ? shares(a[3]) : std::map<std::string, double>{};
    auto counts = http_tally_here(a[0], port_number(a[1]), n);
    for (const auto& [name, w] : expect) counts.emplace(name, 0);
    int most = 1;
    for (const auto& [name, c] : counts) most = std::max(most, c);
    for (const auto& [name, c] : counts) {
        std::string bar;
        for (int i = 0; i < c * 40 / most; ++i) bar += "\u2588";
        std::printf("    %-6s %4d %s\n", name.c_str(), c, bar.c_str());
    }
    bool ok = error_count(counts) == 0;
    if (!ok) std::printf("    FAILED: %d errors\n", error_count(counts));
    if (!expect.empty()) {
        double total = 0;
        for (const auto& [name, w] : expect) total += w;
        for (const auto& [name, c] : counts) {
            if (name.rfind("error", 0) == 0) continue;
            const auto it = expect.find(name);
            const double want = it == expect.end() ? 0 : n * it->second / total;
            // wrr and rr are exact; 5 % of N leaves room for the checks' own connections.
            if (std::abs(c - want) > 0.05 * n) {
                std::printf("    FAILED: %s answered %d, expected about %.0f\n", name.c_str(), c,
                            want);
                ok = false;
            }
        }
    }
    return ok ? 0 : 1;
}

int download(const std::vector<std::string>& a) {
    if (a.size() != 4) return usage();
    const uint64_t bytes = number(a[2], "BYTES");
    const Download d = download_data(a[0], port_number(a[1]), bytes, number(a[3], "RATE"));
    std::printf("    %llu bytes in %.1f s, sha256 %s\n    expected       sha256 %s: %s\n",
                static_cast<unsigned long long>(d.bytes), d.seconds, d.sha256.c_str(),
                d.expected_sha256.c_str(),
                d.intact(bytes) ? "intact" : ("NOT intact " + d.error).c_str());
    return d.intact(bytes) ? 0 : 1;
}

int wait_weight(const std::vector<std::string>& a) {
    if (a.size() != 4) return usage();
    const auto want = static_cast<uint32_t>(number(a[2], "WEIGHT"));
    const auto limit = std::chrono::seconds(number(a[3], "SECONDS"));
    auto weight = [&]() -> long {
        auto all = kernel_services_here();
        auto s = all.find(a[0]);
        if (s == all.end()) return -1;
        auto r = s->second.find(a[1]);
        return r == s->second.end() ? -1 : static_cast<long>(r->second.weight);
    };
    std::chrono::milliseconds took{};
    if (wait_for([&] { return weight() == want; }, limit, &took)) {
        std::printf("    IPVS: %s weight %u after %lld ms\n", a[1].c_str(), want,
                    static_cast<long long>(took.count()));
        return 0;
    }
    const long now = weight();
    std::printf("    FAILED: %s in %s has weight %s after %lld s, expected %u\n", a[1].c_str(),
                a[0].c_str(), now < 0 ? "(none: not in IPVS)" : std::to_string(now).c_str(),
                static_cast<long long>(limit.count()), want);
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return usage();
    const std::string verb = argv[1];
    const std::vector<std::string> args(argv + 2, argv + argc);
    try {
        if (verb == "serve") return serve(args);
        if (verb == "tally") return tally(args);
        if (verb == "download") return download(args);
        if (verb == "wait-weight") return wait_weight(args);
    } catch (const std::invalid_argument& e) {
        std::cerr << "ballast-demo-tool " << verb << ": " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "ballast-demo-tool " << verb << ": " << e.what() << "\n";
        return 1;
    }
    return usage();
}
