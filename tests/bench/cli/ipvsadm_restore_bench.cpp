// `ballastctl -R` against `ipvsadm -R` restoring the same rules (S services x 10 real servers),
// both as processes (process start included), each run in a fresh network namespace, in one
// kernel-lab boot, alternating which goes first; then `-Sn` of the result by each; and, as the
// floor, IpvsNetlinkClient::apply() of the same ops in-process. Prints a
// Markdown table. Usage: ipvsadm_restore_bench [S...] (default 5000), repeated 3 times.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ballast/kernel/ipvs_netlink_client.hpp"
#include "lab_support.hpp"

using namespace ballast;

namespace {

constexpr size_t kDests = 10;
constexpr int kRounds = 3;

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "ipvsadm_restore_bench: %s\n", what.c_str());
    std::exit(1);
}

std::string rules(size_t services) {
    std::string out;
    for (size_t s = 0; s < services; ++s) {
        const std::string vip = "10." + std::to_string(100 + s / 65536) + "." +
                                std::to_string(s / 256 % 256) + "." + std::to_string(s % 256) +
                                ":80";
        out += "-A -t " + vip + " -s wrr\n";
        for (size_t d = 0; d < kDests; ++d) {
            const size_t n = s * kDests + d;
            out += "-a -t " + vip + " -r 172." + std::to_string(16 + n / 65536) + "." +
                   std::to_string(n / 256 % 256) + "." + std::to_string(n % 256) +
                   ":8080 -m -w 1\n";
        }
    }
    return out;
}

// Every namespace stays open until exit (emptied by ipvsadm -C).
void fresh_netns() {
    if (Status st = lab::enter_fresh_netns_kept_open(); !st) die(st.error().describe());
}

double run_timed(const std::vector<std::string>& argv, const std::string& input,
                 std::string* output = nullptr) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = lab::run(argv, input);
    double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r.exit_code != 0) die(argv[0] + " " + argv[1] + " failed: " + r.out.substr(0, 500));
    if (output) *output = r.out;
    return sec;
}

// The same table as ops, for the floor: the client's apply() in this process, no parsing.
std::vector<model::IpvsOp> ops(size_t services) {
    std::vector<model::IpvsOp> out;
    for (size_t s = 0; s < services; ++s) {
        auto vip = model::IpAddress::v4(0x0a640000u + uint32_t(s));  // 10.100.0.0 + s
        auto key = model::ServiceKey::inet(model::Protocol::tcp, vip, 80);
        model::ServiceSpec spec;
        spec.scheduler = "wrr";
        out.push_back(model::IpvsOp::add_service(key, spec));
        for (size_t d = 0; d < kDests; ++d) {
            model::RealKey real{model::IpAddress::v4(0xac100000u + uint32_t(s * kDests + d)), 8080};
            out.push_back(
                model::IpvsOp::add_dest(key, real, {model::ForwardMethod::masquerade, 1, 0, 0}));
        }
    }
    return out;
}

double apply_floor(const std::vector<model::IpvsOp>& all) {
    auto client = kernel::IpvsNetlinkClient::open();
    if (!client) die(client.error().describe());
    auto t0 = std::chrono::steady_clock::now();
    auto results = (*client)->apply(all);
    double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (const auto& r : results)
        if (!r) die("apply: " + r.error().describe());
    return sec;
}

size_t count_lines(const std::string& s) {
    return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<size_t> sizes;
    for (int i = 1; i < argc; ++i) sizes.push_back(std::strtoul(argv[i], nullptr, 10));
    if (sizes.empty()) sizes = {5000};
    const std::string ballastctl = BALLASTCTL;

    std::printf("| measurement | table | lines | median s (3 runs) | runs s | notes |\n");
    std::printf("|---|---|---|---|---|---|\n");
    for (size_t s : sizes) {
        const std::string input = rules(s);
        const size_t lines = count_lines(input);
        std::vector<double> ours, theirs, ours_save, theirs_save, floor;
        const std::vector<model::IpvsOp> all = ops(s);
        for (int round = 0; round < kRounds; ++round) {
            for (int turn = 0; turn < 2; ++turn) {
                const bool ballast_turn = (turn == 0) == (round % 2 == 0);
                fresh_netns();
                const std::string tool = ballast_turn ? ballastctl : "ipvsadm";
                (ballast_turn ? ours : theirs).push_back(run_timed({tool, "-R"}, input));
                std::string saved;
                (ballast_turn ? ours_save : theirs_save)
                    .push_back(run_timed({tool, "-Sn"}, {}, &saved));
                if (count_lines(saved) != lines)
                    die(tool + " -Sn lists " + std::to_string(count_lines(saved)) + " lines, not " +
                        std::to_string(lines));
                // Empty the namespace outside the clock: its estimators would load the CPU.
                run_timed({"ipvsadm", "-C"}, {});
            }
            fresh_netns();
            floor.push_back(apply_floor(all));
            run_timed({"ipvsadm", "-C"}, {});
        }
        auto runs = [](const std::vector<double>& v) {
            std::string out;
            for (double x : v) {
                char b[32];
                std::snprintf(b, sizeof b, "%s%.2f", out.empty() ? "" : " ", x);
                out += b;
            }
            return out;
        };
        const double ratio = median(theirs) / median(ours);
        char note[160];
        std::snprintf(note, sizeof note, "%.1fx faster than ipvsadm -R (medians)", ratio);
        std::printf("| ballastctl -R | %zu x %zu | %zu | %.3f | %s | %s |\n", s, kDests, lines,
                    median(ours), runs(ours).c_str(), note);
        std::printf("| ipvsadm -R | %zu x %zu | %zu | %.3f | %s | |\n", s, kDests, lines,
                    median(theirs), runs(theirs).c_str());
        std::snprintf(note, sizeof note,
                      "the same ops, no process, no parsing; %.0f%% of ballastctl -R",
                      100.0 * median(floor) / median(ours));
        std::printf(
            "| floor: IpvsNetlinkClient::apply in-process | %zu x %zu | %zu | %.3f | %s | %s |\n",
            s, kDests, lines, median(floor), runs(floor).c_str(), note);
        std::snprintf(note, sizeof note, "%.1fx faster than ipvsadm -Sn (medians)",
                      median(theirs_save) / median(ours_save));
        std::printf("| ballastctl -Sn | %zu x %zu | %zu | %.3f | %s | %s |\n", s, kDests, lines,
                    median(ours_save), runs(ours_save).c_str(), note);
        std::printf("| ipvsadm -Sn | %zu x %zu | %zu | %.3f | %s | |\n", s, kDests, lines,
                    median(theirs_save), runs(theirs_save).c_str());
        std::fflush(stdout);
    }
    return 0;
}
