// ballastctl's daemon verbs as an operator runs them, against the control socket of a
// DaemonRig (the real Director, runner and hub over the fake kernel): status as a table
// (plain in a pipe, colour when asked, JSON), drain/enable/weight, plan's +/-/~ lines,
// check-config, reload, top, events; and the messages for a daemon that is not running, a
// socket the user may not use, and a daemon speaking another protocol version.
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "ballast/testing/daemon_rig.hpp"
#include "control_test_support.hpp"

using namespace ballast;
using namespace ballast::testing;
using namespace std::chrono_literals;

namespace {

struct Run {
    int status = -1;
    std::string out, err;
};

struct As {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
};

// Runs ballastctl with these arguments (as another user when asked), its output kept apart;
// killed after `timeout`. `until`: stop reading (and kill it) once stdout contains this.
Run ballastctl(const std::vector<std::string>& args, std::optional<As> as = {},
               std::chrono::milliseconds timeout = 20s, const std::string& until = "",
               const std::function<void()>& meanwhile = {}) {
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
        throw std::runtime_error("pipe");
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(out[1], 1);
        ::dup2(err[1], 2);
        if (as && (::setgroups(as->groups.size(), as->groups.data()) != 0 ||
                   ::setgid(as->gid) != 0 || ::setuid(as->uid) != 0))
            ::_exit(100);
        std::vector<char*> argv{const_cast<char*>(BALLASTCTL)};
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execv(BALLASTCTL, argv.data());
        ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    Run r;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool out_open = true, err_open = true, met = false;
    while ((out_open || err_open) && std::chrono::steady_clock::now() < deadline) {
        pollfd p[2] = {{out_open ? out[0] : -1, POLLIN, 0}, {err_open ? err[0] : -1, POLLIN, 0}};
        if (::poll(p, 2, 50) <= 0) {
            if (meanwhile) meanwhile();
            continue;
        }
        char buf[65536];
        for (int i = 0; i < 2; ++i) {
            if (!(p[i].revents & (POLLIN | POLLHUP))) continue;
            const ssize_t n = ::read(i ? err[0] : out[0], buf, sizeof buf);
            if (n <= 0) {
                (i ? err_open : out_open) = false;
                continue;
            }
            (i ? r.err : r.out).append(buf, static_cast<size_t>(n));
        }
        if (!until.empty() && r.out.find(until) != std::string::npos) {
            met = true;
            break;
        }
        if (meanwhile) meanwhile();
    }
    if (met || out_open || err_open) ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    ::close(out[0]);
    ::close(err[0]);
    return r;
}

gid_t adm() {
    return ::getgrnam("adm")->gr_gid;
}

std::string config_for(const ScratchDir& dir, const LoopbackServer& a, const LoopbackServer& b) {
    return R"([director]
control_socket = ")" +
           dir.path() + R"(/ctl.sock"
control_group = "adm"
[[service]]
name = "web"
vip = "192.0.2.1"
port = 80
scheduler = "wrr"
check = { type = "tcp", interval = "200ms", timeout = "100ms", rise = 1, fall = 1 }
[[service.real]]
address = ")" +
           a.endpoint() + R"("
weight = 3
[[service.real]]
address = ")" +
           b.endpoint() + R"("
weight = 2
)";
}

struct Ctl : ::testing::Test {
    ScratchDir dir;
    LoopbackServer a, b;
    std::unique_ptr<DaemonRig> rig;
    void SetUp() override {
        if (::geteuid() != 0) FAIL() << "the ballastctl host tests need root";
        rig = std::make_unique<DaemonRig>(dir.path(), config_for(dir, a, b));
        rig->start();
        const auto web = model::ServiceKey::inet(model::Protocol::tcp,
                                                 *model::IpAddress::parse("192.0.2.1"), 80);
        ASSERT_TRUE(eventually([&] {
            return rig->on_loop([&] {
                const auto& s = rig->ipvs().table().services.at(web);
                auto bk = model::RealKey{*model::IpAddress::parse("127.0.0.1"), b.port()};
                return s.reals.at(bk).weight == 2;
            });
        }));
    }
    std::string sock() const { return dir.path() + "/ctl.sock"; }
    std::vector<std::string> with_socket(std::vector<std::string> args) const {
        args.insert(args.begin() + 1, {"--socket", sock()});
        return args;
    }
};

}  // namespace

TEST(BallastctlUnreachable, SaysTheDaemonIsNotRunning) {
    ScratchDir dir;
    auto r = ballastctl({"status", "--socket", dir.path() + "/none.sock"});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("ballastd is not running: there is no control socket at " + dir.path() +
                         "/none.sock"),
              std::string::npos)
        << r.err;
    // A socket file left behind by a daemon that died.
    const std::string stale = dir.path() + "/stale.sock";
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, stale.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
    r = ballastctl({"drain", "10.0.0.1:80", "--socket", stale});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("ballastd is not running: " + stale + " exists but nothing answers"),
              std::string::npos)
        << r.err;
}

TEST(BallastctlUnreachable, SaysWhenTheDaemonSpeaksAnotherProtocolVersion) {
    ScratchDir dir;
    const std::string path = dir.path() + "/v2.sock";
    const int lfd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(lfd, 4), 0);
    // A future daemon: answers everything in version 2.
    std::thread future([lfd] {
        const int c = ::accept(lfd, nullptr, nullptr);
        char buf[4096];
        (void)::read(c, buf, sizeof buf);
        const std::string reply = R"({"v":2,"ok":true,"result":{}})"
                                  "\n";
        (void)::write(c, reply.data(), reply.size());
        ::close(c);
    });
    auto r = ballastctl({"status", "--socket", path});
    future.join();
    ::close(lfd);
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("protocol version mismatch: ballastd speaks version 2, this ballastctl "
                         "speaks version 1"),
              std::string::npos)
        << r.err;
}

TEST_F(Ctl, PermissionDeniedNamesTheSocketsGroup) {
    auto r = ballastctl(with_socket({"status"}), As{65534, 65534, {}});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("permission denied on " + sock()), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("group 'adm'"), std::string::npos) << r.err;
    // A member of the group gets through.
    r = ballastctl(with_socket({"status"}), As{65534, 65534, {adm()}});
    EXPECT_EQ(r.status, 0) << r.err;
}

TEST_F(Ctl, StatusIsAPlainTableInAPipeColouredWhenAskedAndJsonOnRequest) {
    auto r = ballastctl(with_socket({"status"}));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out.find('\x1b'), std::string::npos);  // no colour in a pipe
    EXPECT_NE(r.out.find("ballastd test-rig"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("IPVS: in sync"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("web  192.0.2.1:80/tcp  wrr  check tcp  2 real servers"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("REAL"), std::string::npos);
    EXPECT_NE(r.out.find("WHY"), std::string::npos);
    EXPECT_NE(r.out.find(a.endpoint()), std::string::npos);
    EXPECT_NE(r.out.find("3/3"), std::string::npos) << r.out;

    auto coloured = ballastctl(with_socket({"status", "--color", "always"}));
    ASSERT_EQ(coloured.status, 0);
    EXPECT_NE(coloured.out.find("\x1b[32mup"), std::string::npos) << coloured.out;

    auto json = ballastctl(with_socket({"status", "-o", "json"}));
    ASSERT_EQ(json.status, 0);
    auto v = boost::json::parse(json.out);
    EXPECT_EQ(v.at("services").as_array().size(), 1u);
    EXPECT_EQ(v.at("services").at(0).at("reals").at(1).at("configured").as_int64(), 2);

    auto missing = ballastctl(with_socket({"status", "nope"}));
    EXPECT_EQ(missing.status, 1);
    EXPECT_NE(missing.err.find("no service nope"), std::string::npos) << missing.err;
}

TEST_F(Ctl, DrainEnableAndWeightReportWhatTheyDidAndShowInStatus) {
    auto r = ballastctl(with_socket({"drain", b.endpoint(), "--service", "192.0.2.1:80"}));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find(b.endpoint() + " in 192.0.2.1:80/tcp: drained by uid 0 (root) pid "),
              std::string::npos)
        << r.out;
    auto s = ballastctl(with_socket({"status"}));
    EXPECT_NE(s.out.find("0/2"), std::string::npos) << s.out;
    EXPECT_NE(s.out.find("override: drained by uid 0 (root)"), std::string::npos) << s.out;

    r = ballastctl(with_socket({"weight", a.endpoint(), "9"}));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("in every service: weight 9 set by"), std::string::npos) << r.out;
    EXPECT_NE(ballastctl(with_socket({"status"})).out.find("9/3"), std::string::npos);

    r = ballastctl(with_socket({"enable", b.endpoint(), "-s", "web"}));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("override cleared"), std::string::npos);

    auto bad = ballastctl(with_socket({"weight", a.endpoint(), "70000"}));
    EXPECT_NE(bad.status, 0);
    auto unknown = ballastctl(with_socket({"drain", "10.9.9.9:80"}));
    EXPECT_EQ(unknown.status, 1);
    EXPECT_NE(unknown.err.find("no service has the real server 10.9.9.9:80"), std::string::npos)
        << unknown.err;
    auto garbled = ballastctl(with_socket({"drain", "not-an-address"}));
    EXPECT_EQ(garbled.status, 1);
    EXPECT_NE(garbled.err.find("expected ADDRESS:PORT"), std::string::npos) << garbled.err;
}

TEST_F(Ctl, PlanPrintsPlusMinusTildeLinesAndChecksTheFileAsTheUser) {
    std::string next = config_for(dir, a, b);
    next.replace(next.find("weight = 2"), 10, "weight = 5");
    // b leaves web? keep it; add a service, remove nothing.
    next += R"(
[[service]]
name = "dns"
vip = "192.0.2.2"
port = 53
protocol = "udp"
check = { type = "none" }
[[service.real]]
address = "10.0.0.10:53"
)";
    const std::string file = dir.path() + "/next.toml";
    std::ofstream(file) << next;
    auto r = ballastctl(with_socket({"plan", file}));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("~ real " + b.endpoint() + " in web (192.0.2.1:80/tcp): weight 2 -> 5"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("+ service dns (192.0.2.2:53/udp), scheduler wlc"), std::string::npos);
    EXPECT_NE(r.out.find(file + ": 3 IPVS writes"), std::string::npos) << r.out;

    // The file is read with the caller's rights: a group member cannot plan root's 0600 file.
    ::chmod(file.c_str(), 0600);
    auto denied = ballastctl(with_socket({"plan", file}), As{65534, 65534, {adm()}});
    EXPECT_EQ(denied.status, 1);
    EXPECT_NE(denied.err.find("cannot read " + file + ": Permission denied"), std::string::npos)
        << denied.err;

    std::ofstream(file) << "[[service]]\nname = \"x\"\nvip = \"192.0.2.9\"\nport = 99999\n";
    auto invalid = ballastctl(with_socket({"check-config", file}));
    EXPECT_EQ(invalid.status, 1);
    EXPECT_NE(invalid.err.find(file + ":4:"), std::string::npos) << invalid.err;
    std::ofstream(file) << next;
    auto ok = ballastctl(with_socket({"check-config", file}));
    EXPECT_EQ(ok.status, 0) << ok.err;
    EXPECT_EQ(ok.out, file + ": OK: 2 services, 3 real servers\n");
}

TEST_F(Ctl, ReloadSaysWhatItAppliedOrEveryProblem) {
    std::string next = config_for(dir, a, b);
    next.replace(next.find("weight = 3"), 10, "weight = 4");
    rig->write_config(next);
    auto r = ballastctl(with_socket({"reload"}));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("reloaded " + rig->config_path() + ": 1 services"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("1 IPVS writes"), std::string::npos) << r.out;
    rig->write_config("[director]\nnope = true\n");
    r = ballastctl(with_socket({"reload"}));
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("reload rejected"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("unknown key 'nope'"), std::string::npos) << r.err;
}

TEST_F(Ctl, TopRefreshesWithRatesAndEventsFollowsChanges) {
    auto top = ballastctl(with_socket({"top", "-n", "2", "-i", "0.2"}));
    ASSERT_EQ(top.status, 0) << top.err;
    EXPECT_NE(top.out.find("CONN/S"), std::string::npos) << top.out;
    // Two refreshes, one after the other in a pipe.
    const auto first = top.out.find("SERVICE / REAL");
    ASSERT_NE(first, std::string::npos);
    EXPECT_NE(top.out.find("SERVICE / REAL", first + 1), std::string::npos);
    EXPECT_NE(top.out.find("web 192.0.2.1:80/tcp"), std::string::npos);

    // events: follows; a drain made meanwhile shows up.
    std::thread drainer;
    auto ev = ballastctl(with_socket({"events"}), {}, 20s, "override: " + a.endpoint(), [&] {
        if (drainer.joinable()) return;
        drainer = std::thread([this] {
            std::this_thread::sleep_for(300ms);
            ballastctl(with_socket({"drain", a.endpoint(), "-s", "web"}));
        });
    });
    if (drainer.joinable()) drainer.join();
    EXPECT_NE(ev.out.find("notice override: " + a.endpoint() + " in 192.0.2.1:80/tcp: drained by"),
              std::string::npos)
        << ev.out;
}
