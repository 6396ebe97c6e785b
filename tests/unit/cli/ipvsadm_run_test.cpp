// ballastctl's ipvsadm mode end to end over a recording fake kernel: -R sends consecutive
// edits as one pipelined batch yet reports as ipvsadm does line by line, exit statuses,
// kernel errors in ipvsadm's words, the restore reader, and the warning about services a
// running ballastd owns (with a real unix socket and ownership record).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "ballast/ipvsadm/restore.hpp"
#include "ballast/ipvsadm/run.hpp"
#include "ballast/state/ownership.hpp"

namespace ballast::ipvsadm {
namespace {

using model::IpvsOp;
using model::ServiceKey;

// An in-memory IPVS with the kernel's errnos for what ipvsadm does; records apply() batches.
class FakeKernel final : public Kernel {
public:
    std::map<ServiceKey, kernel::ipvs::ServiceEntry> services_;
    std::map<ServiceKey, std::vector<kernel::ipvs::DestEntry>> dests_;
    std::vector<size_t> batches;  // ops per apply() call
    int init_errno = 0;
    int flushes = 0;

    Result<kernel::ipvs::Info> init() override {
        if (init_errno) return make_error(init_errno, "init");
        return kernel::ipvs::Info{0x010201, 4096};
    }
    Result<std::vector<kernel::ipvs::ServiceEntry>> services() override {
        std::vector<kernel::ipvs::ServiceEntry> v;
        for (auto& [k, s] : services_) v.push_back(s);
        return v;
    }
    Result<kernel::ipvs::ServiceEntry> service(const ServiceKey& key) override {
        auto it = services_.find(key);
        if (it == services_.end()) return make_error(ESRCH, "get");
        return it->second;
    }
    Result<std::vector<kernel::ipvs::DestEntry>> dests(const ServiceKey& key) override {
        if (!services_.count(key)) return make_error(ESRCH, "dests");
        return dests_[key];
    }
    std::vector<Status> apply(std::span<const IpvsOp> ops) override {
        batches.push_back(ops.size());
        std::vector<Status> out;
        for (const auto& op : ops) out.push_back(one(op));
        return out;
    }
    Status flush() override {
        ++flushes;
        services_.clear();
        dests_.clear();
        return {};
    }
    Status zero(const ServiceKey* key) override {
        if (key && !services_.count(*key)) return make_error(ESRCH, "zero");
        return {};
    }
    Result<kernel::ipvs::Timeouts> timeouts() override {
        return kernel::ipvs::Timeouts{900, 120, 300};
    }
    Status set_timeouts(const kernel::ipvs::Timeouts&) override { return {}; }
    Result<std::vector<kernel::ipvs::SyncDaemon>> daemons() override {
        return std::vector<kernel::ipvs::SyncDaemon>{};
    }
    Status start_daemon(const kernel::ipvs::SyncDaemon&) override { return {}; }
    Status stop_daemon(kernel::ipvs::SyncDaemon::State) override {
        return make_error(ESRCH, "stop");
    }
    Result<std::string> connections() override { return make_error(ENOENT, "open"); }

private:
    Status one(const IpvsOp& op) {
        using K = IpvsOp::Kind;
        const bool exists = services_.count(op.service);
        switch (op.kind) {
            case K::add_service:
                if (exists) return make_error(EEXIST, "add");
                if (op.service_spec.scheduler == "nosuch") return make_error(ENOENT, "add");
                services_[op.service] = {op.service, op.service_spec, {}};
                return {};
            case K::edit_service:
                if (!exists) return make_error(ESRCH, "edit");
                services_[op.service].spec = op.service_spec;
                return {};
            case K::del_service:
                if (!exists) return make_error(ESRCH, "del");
                services_.erase(op.service);
                dests_.erase(op.service);
                return {};
            case K::add_dest: {
                if (!exists) return make_error(ESRCH, "add dest");
                auto& d = dests_[op.service];
                for (const auto& e : d)
                    if (e.key == op.real) return make_error(EEXIST, "add dest");
                d.insert(d.begin(), {op.real, op.real_spec, {}});  // newest first, as the kernel
                return {};
            }
            case K::edit_dest:
            case K::del_dest: {
                if (!exists) return make_error(ESRCH, "dest");
                auto& d = dests_[op.service];
                for (auto it = d.begin(); it != d.end(); ++it)
                    if (it->key == op.real) {
                        if (op.kind == K::del_dest)
                            d.erase(it);
                        else
                            it->spec = op.real_spec;
                        return {};
                    }
                return make_error(ENOENT, "dest");
            }
        }
        return {};
    }
};

struct Ran {
    int status;
    std::string out, err;
};

Ran ballastctl(FakeKernel& k, std::vector<std::string> args, const std::string& input = {},
               Ownership* ownership = nullptr) {
    args.insert(args.begin(), "ipvsadm");
    std::istringstream in(input);
    std::ostringstream out, err;
    NoNames names;
    int status = run(args, k, names, {in, out, err}, ownership);
    return {status, out.str(), err.str()};
}

TEST(IpvsadmRun, RestoreSendsConsecutiveEditsInOneBatchAndReportsEachLine) {
    FakeKernel k;
    std::string rules;
    for (int s = 0; s < 50; ++s) {
        rules += "-A -t 10.0.0." + std::to_string(s) + ":80 -s rr\n";
        for (int d = 0; d < 10; ++d)
            rules += "-a -t 10.0.0." + std::to_string(s) + ":80 -r 10.1." + std::to_string(s) +
                     "." + std::to_string(d) + ":8080 -m\n";
    }
    auto r = ballastctl(k, {"-R"}, rules);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(k.batches, std::vector<size_t>{550});
    EXPECT_EQ(k.services_.size(), 50u);

    // A long restore goes out in batches of 1024 edits; the status is still the last line's.
    FakeKernel big;
    std::string many;
    for (int s = 0; s < 9000; ++s)
        many += "-A -t 10." + std::to_string(s / 256) + "." + std::to_string(s % 256) + ".1:80\n";
    many += "-A -t 10.0.0.1:80\n";
    auto r_big = ballastctl(big, {"-R"}, many);
    std::vector<size_t> batches(8, 1024);
    batches.push_back(809);
    EXPECT_EQ(big.batches, batches);
    EXPECT_EQ(r_big.err, "Service already exists\n");
    EXPECT_EQ(r_big.status, 255);
    FakeKernel exact;
    std::string full;
    for (int s = 0; s < 4096; ++s)
        full += "-A -t 10." + std::to_string(s / 256) + "." + std::to_string(s % 256) + ".1:80\n";
    auto r_full = ballastctl(exact, {"-R"}, "-A -t 10.0.0.1:80\n" + full);
    EXPECT_EQ(exact.batches, (std::vector<size_t>{1024, 1024, 1024, 1024, 1}));
    EXPECT_EQ(r_full.status, 0);  // the last line succeeded, though an earlier one failed

    // Errors in ipvsadm's words, in line order; the status is the last line's.
    FakeKernel e;
    auto bad = ballastctl(e, {"-R"},
                          "-A -t 10.0.0.1:80\n-A -t 10.0.0.1:80\n-a -t 10.0.0.9:80 -r 10.1.0.1\n"
                          "-E -t 10.0.0.1:80 -s nosuch\n-d -t 10.0.0.1:80 -r 10.1.0.1\n"
                          "-D -t 10.0.0.7:80\n-A -t 10.0.0.2:80 -s nosuch\n");
    EXPECT_EQ(bad.err,
              "Service already exists\nService not defined\n"
              "No such destination\nNo such service\n"
              "Scheduler or persistence engine not found\n");
    EXPECT_EQ(bad.status, 255);
    FakeKernel last_ok;
    auto ok_last =
        ballastctl(last_ok, {"-R"}, "-A -t 10.0.0.1:80\n-A -t 10.0.0.1:80\n-A -t 10.0.0.2:80\n");
    EXPECT_EQ(ok_last.err, "Service already exists\n");
    EXPECT_EQ(ok_last.status, 0);  // ipvsadm: the result of the last line
}

TEST(IpvsadmRun, ListingsAndOtherCommandsSendTheBatchFirst) {
    FakeKernel k;
    auto r = ballastctl(k, {"-R"},
                        "-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.1.0.1:80 -m\n"
                        "-L -n\n"
                        "-a -t 10.0.0.1:80 -r 10.1.0.2:80 -m\n-Z\n-C\n-S -n\n");
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(k.batches, (std::vector<size_t>{2, 1}));
    EXPECT_EQ(k.flushes, 1);
    EXPECT_EQ(r.out,
              "IP Virtual Server version 1.2.1 (size=4096)\n"
              "Prot LocalAddress:Port Scheduler Flags\n"
              "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
              "TCP  10.0.0.1:80 rr\n"
              "  -> 10.1.0.1:80                  Masq    1      0          0         \n");
}

TEST(IpvsadmRun, RestoreEndsAtARefusalButNotAtAPoptError) {
    FakeKernel k;
    auto r = ballastctl(
        k, {"-R"},
        "-A -t 10.0.0.1:80\n-L --bogus\n-A -t 10.0.0.2:80\n-A -t 80\n-A -t 10.0.0.3:80\n");
    EXPECT_EQ(r.err, "--bogus: unknown option\nillegal virtual server address[:port] specified\n");
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(k.services_.size(), 2u);  // the lines before the refusal were applied
    // A line that does not start with a command ends the restore, as ipvsadm's "Try" does.
    FakeKernel first;
    auto f = ballastctl(first, {"-R"}, "-A -t 10.0.0.1:80\n--bogus\n-A -t 10.0.0.2:80\n");
    EXPECT_EQ(f.status, 255);
    EXPECT_EQ(first.services_.size(), 1u);
    FakeKernel nested;
    auto n = ballastctl(nested, {"-R"}, "-R\n");
    EXPECT_EQ(n.status, 255);
    EXPECT_EQ(n.err, "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n");
}

TEST(IpvsadmRun, SingleCommandsAndTheirStatuses) {
    FakeKernel k;
    EXPECT_EQ(ballastctl(k, {"-A", "-t", "10.0.0.1:80"}).status, 0);
    auto again = ballastctl(k, {"-A", "-t", "10.0.0.1:80"});
    EXPECT_EQ(again.status, 255);
    EXPECT_EQ(again.err, "Service already exists\n");
    auto missing = ballastctl(k, {"-L", "-t", "10.0.0.9:80"});
    EXPECT_EQ(missing.status, 1);
    EXPECT_EQ(missing.err, "No such service\n");
    auto zero = ballastctl(k, {"-Z", "-t", "10.0.0.9:80"});
    EXPECT_EQ(zero.err, "No such service\n");
    EXPECT_EQ(zero.status, 255);
    auto stop = ballastctl(k, {"--stop-daemon", "master"});
    EXPECT_EQ(stop.err, "No daemon is running\n");
    auto conns = ballastctl(k, {"-L", "-c"});
    EXPECT_EQ(conns.status, 1);
    EXPECT_EQ(conns.err, "cannot open file /proc/net/ip_vs_conn\n");
    EXPECT_EQ(ballastctl(k, {"-L", "--timeout"}).out, "Timeout (tcp tcpfin udp): 900 120 300\n");
    auto gue = ballastctl(k, {"-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1", "-i", "--tun-type",
                              "gue", "--tun-port", "6080"});
    EXPECT_EQ(gue.status, 2);
    EXPECT_NE(gue.err.find("not supported yet"), std::string::npos);
    // No arguments: the table, as ipvsadm.
    EXPECT_EQ(ballastctl(k, {}).out.rfind("IP Virtual Server version 1.2.1", 0), 0u);
    // Help needs no kernel.
    FakeKernel down;
    down.init_errno = ENOENT;
    EXPECT_EQ(ballastctl(down, {"-h"}).status, 0);
    auto no_ipvs = ballastctl(down, {"-L"});
    EXPECT_EQ(no_ipvs.status, 2);
    EXPECT_EQ(no_ipvs.err,
              "Can't initialize ipvs: Protocol not available\n"
              "Are you sure that IP Virtual Server is built in the kernel or as module?\n");
    down.init_errno = EPERM;
    EXPECT_EQ(ballastctl(down, {"-L"}).err,
              "Can't initialize ipvs: Permission denied (you must be root)\n"
              "Are you sure that IP Virtual Server is built in the kernel or as module?\n");
}

TEST(IpvsadmRun, JsonForEveryListing) {
    FakeKernel k;
    ASSERT_EQ(ballastctl(k, {"-R"}, "-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.1.0.1 -m\n").status,
              0);
    for (auto args : std::vector<std::vector<std::string>>{{"-L", "-o", "json"},
                                                           {"-Ln", "-j"},
                                                           {"-S", "--json"},
                                                           {"-L", "-t", "10.0.0.1:80", "-j"},
                                                           {"-L", "--timeout", "-j"},
                                                           {"-L", "--daemon", "-j"}}) {
        auto r = ballastctl(k, args);
        EXPECT_EQ(r.status, 0);
        EXPECT_EQ(r.out.rfind("{\"schema\":\"ballast.ipvsadm/1\"", 0), 0u) << r.out;
    }
}

TEST(IpvsadmRestoreReader, SplitsAsIpvsadmReadsStdin) {
    auto lines = [](const std::string& text) {
        std::istringstream in(text);
        RestoreReader r(in, "p");
        std::vector<std::vector<std::string>> out;
        while (auto l = r.next()) out.push_back(*l);
        return out;
    };
    using L = std::vector<std::vector<std::string>>;
    EXPECT_EQ(lines("ipvsadm -A -t x\n\n-C"), (L{{"p", "-A", "-t", "x"}, {"p"}, {"p", "-C"}}));
    EXPECT_EQ(lines("-A  -t\tx \r\n-C\r\n"), (L{{"p", "-A", "-t", "x"}, {"p", "-C"}}));
    EXPECT_EQ(lines("# no comments\n"), (L{{"p", "#", "no", "comments"}}));
    // Blanks at the very end without a newline lose that line, as in ipvsadm.
    EXPECT_EQ(lines("-A -t x\n-C \t"), (L{{"p", "-A", "-t", "x"}}));
    EXPECT_EQ(lines("-C "), (L{{"p", "-C"}}));
    EXPECT_EQ(lines(""), L{});
    EXPECT_EQ(lines("ipvsadm"), L{});
}

// ---------------------------------------------------------------- ownership

class TempDir {
public:
    TempDir() {
        char t[] = "/tmp/ballast-cli-XXXXXX";
        path_ = ::mkdtemp(t);
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// A listening socket standing in for ballastd's control socket.
class Listener {
public:
    explicit Listener(const std::string& path) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 4) != 0)
            ADD_FAILURE() << "cannot listen on " << path;
    }
    ~Listener() { ::close(fd_); }

private:
    int fd_ = -1;
};

TEST(IpvsadmOwnership, WarnsOnlyWhileTheDaemonRunsAndNotWithForce) {
    TempDir dir;
    const std::string sock = dir.path() + "/ballastd.sock";
    // The record as ballastd writes it.
    ASSERT_TRUE(state::save_ownership(
        dir.path(),
        {ServiceKey::inet(model::Protocol::tcp, *model::IpAddress::parse("10.0.0.1"), 80),
         ServiceKey::mark(7)}));
    DaemonOwnership ownership;
    const std::vector<std::string> where = {"--socket", sock, "--state-dir", dir.path()};
    auto with = [&](std::vector<std::string> args) {
        args.insert(args.end(), where.begin(), where.end());
        return args;
    };
    FakeKernel k;
    // Not running (nothing listens): no warning.
    auto quiet = ballastctl(k, with({"-A", "-t", "10.0.0.1:80"}), {}, &ownership);
    EXPECT_EQ(quiet.status, 0);
    EXPECT_EQ(quiet.err, "");

    Listener daemon(sock);
    auto svc = ballastctl(k, with({"-E", "-t", "10.0.0.1:80", "-s", "rr"}), {}, &ownership);
    EXPECT_EQ(svc.status, 0);
    EXPECT_EQ(svc.err,
              "ballastctl: warning: TCP 10.0.0.1:80 belongs to the running ballastd, which will "
              "revert this change; change the service in ballastd's config and run `ballastctl "
              "reload` instead (--force silences this warning)\n");
    auto real = ballastctl(k, with({"-a", "-t", "10.0.0.1:80", "-r", "10.1.0.1"}), {}, &ownership);
    EXPECT_NE(real.err.find("use `ballastctl drain`, `ballastctl enable` or `ballastctl weight`"),
              std::string::npos)
        << real.err;
    auto other = ballastctl(k, with({"-A", "-t", "10.0.0.2:80"}), {}, &ownership);
    EXPECT_EQ(other.err, "");  // not the daemon's
    auto forced = ballastctl(k, with({"-D", "-t", "10.0.0.1:80", "--force"}), {}, &ownership);
    EXPECT_EQ(forced.err, "");
    EXPECT_EQ(forced.status, 0);
    auto restore =
        ballastctl(k, with({"-R"}),
                   "-A -f 7\n-a -f 7 -r 10.1.0.1 -m\n-e -f 7 -r 10.1.0.1 -m -w 3\n", &ownership);
    EXPECT_EQ(restore.status, 0);
    EXPECT_NE(restore.err.find("FWM 7 belongs to the running ballastd"), std::string::npos);
    auto flush = ballastctl(k, with({"-C"}), {}, &ownership);
    EXPECT_NE(flush.err.find("-C also deletes the 2 service(s) that the running ballastd owns"),
              std::string::npos)
        << flush.err;
    // Listings never warn.
    EXPECT_EQ(ballastctl(k, with({"-L", "-n"}), {}, &ownership).err, "");
    // Running but its record unreadable: said so.
    std::ofstream(dir.path() + "/ownership.json") << "{not json";
    auto unknown = ballastctl(k, with({"-A", "-t", "10.0.0.3:80"}), {}, &ownership);
    EXPECT_NE(unknown.err.find("ballastd is running but what it owns cannot be read"),
              std::string::npos)
        << unknown.err;
}

}  // namespace
}  // namespace ballast::ipvsadm
