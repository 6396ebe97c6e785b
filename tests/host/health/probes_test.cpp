// Every probe against well-behaved and misbehaving servers on loopback: each
// verdict arrives with the right reason, and within the check's timeout.
#include <linux/capability.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "ballast/health/probe.hpp"
#include "farm.hpp"

namespace ballast::health {
namespace {

using namespace std::chrono_literals;
using testing::Farm;
using testing::TestPki;

CheckKey key(model::CheckType type, const std::string& addr, uint16_t port,
             Millis timeout = 1000ms) {
    CheckKey k;
    k.target = model::Endpoint{*model::IpAddress::parse(addr), port};
    k.spec.edit().type = type;
    k.spec.edit().timeout = timeout;
    return k;
}

struct Outcome {
    ProbeResult result;
};

class ProbeTest : public ::testing::Test {
protected:
    Outcome run(const CheckKey& k) {
        std::optional<ProbeResult> got;
        int calls = 0;
        auto handle = start_probe(ctx, k, [&](ProbeResult r) {
            ++calls;
            got = std::move(r);
        });
        io.restart();
        io.run();  // returns once the run and all its handlers are done
        EXPECT_EQ(calls, 1);
        // How soon verdicts arrive is measured by probe_latency_bench, not asserted here.
        return {got.value_or(ProbeResult{false, "no result", std::nullopt})};
    }

    boost::asio::io_context io;
    ProbeContext ctx{io};
    Farm farm;
};

const std::string kOk = "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nall ok\n";

uint16_t http_server(Farm& farm, std::string response, const std::string& addr = "127.0.0.1") {
    return farm.tcp(addr, [response](int fd) {
        Farm::read_request(fd);
        Farm::send_all(fd, response);
    });
}

// ---------- tcp ----------

TEST_F(ProbeTest, TcpConnectUpAndRefused) {
    auto port = farm.tcp("127.0.0.1", [](int) {});
    auto ok = run(key(model::CheckType::tcp, "127.0.0.1", port));
    EXPECT_TRUE(ok.result.up);
    EXPECT_EQ(ok.result.reason, "connected");

    auto dead = farm.dead_udp_port("127.0.0.1");  // free port number: nothing listens on TCP either
    auto refused = run(key(model::CheckType::tcp, "127.0.0.1", dead));
    EXPECT_FALSE(refused.result.up);
    EXPECT_EQ(refused.result.reason, "connect refused");
}

TEST_F(ProbeTest, TcpConnectOverIpv6) {
    // A listener on [::1] (the kernel completes the handshake; nobody accepts).
    const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_addr = in6addr_loopback;
    socklen_t len = sizeof sa;
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0) << std::strerror(errno);
    ASSERT_EQ(::listen(fd, 16), 0);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len), 0);
    const uint16_t port = ntohs(sa.sin6_port);
    auto ok = run(key(model::CheckType::tcp, "::1", port));
    EXPECT_TRUE(ok.result.up) << ok.result.reason;
    EXPECT_EQ(ok.result.reason, "connected");
    ::close(fd);  // now nothing listens there
    auto refused = run(key(model::CheckType::tcp, "::1", port));
    EXPECT_FALSE(refused.result.up);
    EXPECT_EQ(refused.result.reason, "connect refused");
}

// The connect checks' shared epoll set is made on first use: when that first use
// falls in a moment without free descriptors, later checks must not keep failing.
TEST_F(ProbeTest, TcpConnectRecoversWhenDescriptorsRanOutAtFirstUse) {
    const auto port = farm.listen_only("127.0.0.1");
    const auto k = key(model::CheckType::tcp, "127.0.0.1", port);
    // The loop's own descriptors exist already (made by a first run of another kind).
    EXPECT_TRUE(run(key(model::CheckType::none, "127.0.0.1", port)).result.up);
    {
        testing::NoFreeDescriptors starved;
        auto r = run(k);
        EXPECT_FALSE(r.result.up);
        EXPECT_TRUE(r.result.inconclusive);
        EXPECT_EQ(r.result.reason, "checker: connecting: Too many open files");
    }
    auto r = run(k);
    EXPECT_TRUE(r.result.up) << r.result.reason;
    EXPECT_FALSE(r.result.inconclusive);
    EXPECT_EQ(r.result.reason, "connected");
}

// Every probe that cannot get a descriptor says so as the checker's fault
// (inconclusive), never as the server being down.
TEST_F(ProbeTest, OutOfDescriptorsIsInconclusiveForEveryKind) {
    const auto port = farm.listen_only("127.0.0.1");
    EXPECT_TRUE(run(key(model::CheckType::none, "127.0.0.1", port)).result.up);
    auto tcp_expect = key(model::CheckType::tcp, "127.0.0.1", port);
    tcp_expect.spec.edit().expect = "x";
    auto udp = key(model::CheckType::udp, "127.0.0.1", port);
    udp.spec.edit().send = "ping";
    auto exec = key(model::CheckType::exec, "127.0.0.1", port);
    exec.spec.edit().command = {"/bin/true"};
    std::vector<std::pair<CheckKey, std::string>> cases = {
        {tcp_expect, "checker: connecting: Too many open files"},
        {key(model::CheckType::http, "127.0.0.1", port),
         "checker: connecting: Too many open files"},
        {key(model::CheckType::agent, "127.0.0.1", port),
         "checker: connecting: Too many open files"},
        {udp, "checker: connecting: Too many open files"},
        {exec, "checker: exec: pipe: Too many open files"},
    };
    for (auto& [k, reason] : cases) {
        k.spec.edit().timeout = 200ms;
        run(k);  // once with descriptors (see NoFreeDescriptors)
    }
    testing::NoFreeDescriptors starved;
    for (const auto& [k, reason] : cases) {
        auto r = run(k);
        EXPECT_FALSE(r.result.up) << k.to_string();
        EXPECT_TRUE(r.result.inconclusive) << k.to_string();
        EXPECT_EQ(r.result.reason, reason) << k.to_string();
    }
}

TEST_F(ProbeTest, TcpConnectTimesOutWhenSynsAreDropped) {
    auto port = farm.syn_dropping("127.0.0.3");
    auto r = run(key(model::CheckType::tcp, "127.0.0.3", port, 300ms));
    EXPECT_FALSE(r.result.up);
    EXPECT_EQ(r.result.reason, "timeout after 300ms (connecting)");
}

// Many plain connect checks in flight at once, and more started from inside
// callbacks (as the runner does): each gets its own verdict, exactly once.
TEST_F(ProbeTest, TcpConnectChecksInFlightTogether) {
    const auto up_port = farm.listen_only("127.0.0.1");
    const auto refused_port = farm.dead_udp_port("127.0.0.1");
    const auto dropped_port = farm.syn_dropping("127.0.0.4");
    struct Want {
        CheckKey key;
        std::string reason;
    };
    std::vector<Want> wants;
    for (int i = 0; i < 300; ++i) {
        switch (i % 3) {
            case 0:
                wants.push_back({key(model::CheckType::tcp, "127.0.0.1", up_port), "connected"});
                break;
            case 1:
                wants.push_back(
                    {key(model::CheckType::tcp, "127.0.0.1", refused_port), "connect refused"});
                break;
            default:
                wants.push_back({key(model::CheckType::tcp, "127.0.0.4", dropped_port, 200ms),
                                 "timeout after 200ms (connecting)"});
        }
    }
    std::vector<std::vector<std::string>> got(wants.size() * 2);
    std::vector<std::shared_ptr<ProbeRun>> runs;
    for (size_t i = 0; i < wants.size(); ++i) {
        runs.push_back(start_probe(ctx, wants[i].key, [&, i](ProbeResult r) {
            got[i].push_back(r.reason);
            // A second round, started from inside the first one's callback.
            const size_t j = wants.size() + i;
            runs.push_back(start_probe(ctx, wants[i].key,
                                       [&, j](ProbeResult r2) { got[j].push_back(r2.reason); }));
        }));
    }
    io.restart();
    io.run();
    for (size_t i = 0; i < got.size(); ++i) {
        const auto& want = wants[i % wants.size()];
        ASSERT_EQ(got[i].size(), 1u) << i << " " << want.key.to_string();
        EXPECT_EQ(got[i][0], want.reason) << i << " " << want.key.to_string();
    }
}

TEST_F(ProbeTest, TcpSendExpect) {
    auto port = farm.tcp("127.0.0.2", [](int fd) {
        char buf[64];
        if (::recv(fd, buf, sizeof buf, 0) > 0) Farm::send_all(fd, "+PONG\r\n");
    });
    auto k = key(model::CheckType::tcp, "127.0.0.2", port);
    k.spec.edit().send = "PING\r\n";
    k.spec.edit().expect = "PONG";
    EXPECT_TRUE(run(k).result.up);
    k.spec.edit().expect = "READY";
    auto r = run(k);
    EXPECT_FALSE(r.result.up);
    EXPECT_EQ(r.result.reason, "reply lacks \"READY\"");
}

TEST_F(ProbeTest, TcpExpectAgainstSilentServerTimesOut) {
    auto port = farm.listen_only("127.0.0.1");  // accepts (kernel) and never answers
    auto k = key(model::CheckType::tcp, "127.0.0.1", port, 300ms);
    k.spec.edit().expect = "hello";
    auto r = run(k);
    EXPECT_FALSE(r.result.up);
    EXPECT_EQ(r.result.reason, "timeout after 300ms (reading reply)");
}

// ---------- http ----------

TEST_F(ProbeTest, HttpUpWithBodyAndHost) {
    // Shared with the farm's thread, which may outlive this test body's locals.
    struct Seen {
        std::mutex mu;
        std::string request;
    };
    auto seen = std::make_shared<Seen>();
    auto port = farm.tcp("127.0.0.1", [seen](int fd) {
        auto req = Farm::read_request(fd);
        {
            std::lock_guard lk(seen->mu);
            seen->request = req;
        }
        Farm::send_all(fd, kOk);
    });
    auto k = key(model::CheckType::http, "127.0.0.1", port);
    k.spec.edit().path = "/healthz";
    k.spec.edit().host = "www.example.org";
    k.spec.edit().expect_body = "all ok";
    auto r = run(k);
    EXPECT_TRUE(r.result.up) << r.result.reason;
    EXPECT_EQ(r.result.reason, "HTTP 200");
    std::lock_guard lk(seen->mu);
    EXPECT_EQ(seen->request.rfind("GET /healthz HTTP/1.1\r\n", 0), 0u);
    EXPECT_NE(seen->request.find("\r\nHost: www.example.org\r\n"), std::string::npos);
}

TEST_F(ProbeTest, HttpWrongStatus) {
    auto port = http_server(farm, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
    auto r = run(key(model::CheckType::http, "127.0.0.1", port));
    EXPECT_FALSE(r.result.up);
    EXPECT_EQ(r.result.reason, "HTTP 503");
}

TEST_F(ProbeTest, HttpGarbageInsteadOfHttp) {
    auto port = http_server(farm, "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
    auto r = run(key(model::CheckType::http, "127.0.0.1", port));
    EXPECT_FALSE(r.result.up);
    EXPECT_EQ(r.result.reason, "not an HTTP response");
}

TEST_F(ProbeTest, HttpHangAfterAccept) {
    auto port = farm.tcp("127.0.0.1", [&](int) { farm.nap(10s); });
    auto r = run(key(model::CheckType::http, "127.0.0.1", port, 500ms));
    EXPECT_FALSE(r.result.up);
    EXPECT_EQ(r.result.reason, "timeout after 500ms (reading response)");
}

TEST_F(ProbeTest, HttpAcceptedByKernelNeverAnswered) {
    auto port = farm.listen_only("127.0.0.3");
    auto r = run(key(model::CheckType::http, "127.0.0.3", port, 500ms));
    EXPECT_FALSE(r.result.up);
    EXPECT_EQ(r.result.reason, "timeout after 500ms (reading response)");
}

TEST_F(ProbeTest, HttpReset) {
    auto port = farm.tcp("127.0.0.1", [](int fd) {
        Farm::read_request(fd);
        linger l{1, 0};  // the farm's close() then sends RST instead of FIN
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    });
    auto r = run(key(model::CheckType::http, "127.0.0.1", port));
    EXPECT_FALSE(r.result.up);
    EXPECT_EQ(r.result.reason, "connection reset by peer");
}

TEST_F(ProbeTest, HttpDripOneBytePerSecond) {
    auto port = farm.tcp("127.0.0.1", [&](int fd) {
        Farm::read_request(fd);
        for (char c : std::string("HTTP/1.1 200 OK\r\n\r\n")) {
            Farm::send_all(fd, std::string_view(&c, 1));
            if (!farm.nap(1s)) return;
        }
    });
    auto r = run(key(model::CheckType::http, "127.0.0.1", port, 1500ms));
    EXPECT_FALSE(r.result.up);
    EXPECT_EQ(r.result.reason, "timeout after 1.5s (reading response)");
}

TEST_F(ProbeTest, HttpHundredMegabyteBody) {
    auto stream_100mb = [](bool declare) {
        return [declare](int fd) {
            Farm::read_request(fd);
            Farm::send_all(fd, declare ? "HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n"
                                       : "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            std::string chunk(64 * 1024, 'x');
            for (int i = 0; i < 1600; ++i) {
                if (::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL) <= 0) return;
            }
        };
    };
    auto declared =
        run(key(model::CheckType::http, "127.0.0.1", farm.tcp("127.0.0.1", stream_100mb(true))));
    EXPECT_FALSE(declared.result.up);
    EXPECT_EQ(declared.result.reason,
              "HTTP 200: HTTP body of 104857600 bytes exceeds the limit of 1048576");
    auto streamed =
        run(key(model::CheckType::http, "127.0.0.1", farm.tcp("127.0.0.1", stream_100mb(false))));
    EXPECT_FALSE(streamed.result.up);
    EXPECT_EQ(streamed.result.reason, "HTTP 200: HTTP body exceeds the limit of 1048576 bytes");
}

TEST_F(ProbeTest, HttpHeadIgnoresBodyAndRegexWorks) {
    auto port = http_server(farm, "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nversion=1.2.3");
    auto head = key(model::CheckType::http, "127.0.0.1", port);
    head.spec.edit().method = "HEAD";
    EXPECT_TRUE(run(head).result.up);
    auto re = key(model::CheckType::http, "127.0.0.1", port);
    re.spec.edit().expect_body_regex = "version=[0-9]+\\.[0-9]+";
    EXPECT_TRUE(run(re).result.up);
    re.spec.edit().expect_body_regex = "version=9";
    auto r = run(re);
    EXPECT_FALSE(r.result.up);
    EXPECT_EQ(r.result.reason, "HTTP 200: body does not match /version=9/");
}

// ---------- https ----------

class HttpsTest : public ProbeTest {
protected:
    HttpsTest() { EXPECT_TRUE(ctx.add_trusted_ca_pem(pki.ca_pem())); }
    CheckKey https(uint16_t port, bool verify) {
        auto k = key(model::CheckType::https, "127.0.0.1", port);
        k.spec.edit().tls_verify = verify;
        return k;
    }
    TestPki pki;
};

TEST_F(HttpsTest, ValidCertificateVerifies) {
    auto port = testing::tls_http_server(farm, "127.0.0.1", pki.leaf(-1, 10));
    auto r = run(https(port, true));
    EXPECT_TRUE(r.result.up) << r.result.reason;
    EXPECT_EQ(r.result.reason, "HTTP 200");
}

TEST_F(HttpsTest, ExpiredCertificate) {
    auto port = testing::tls_http_server(farm, "127.0.0.1", pki.leaf(-10, -1));
    auto r = run(https(port, true));
    EXPECT_FALSE(r.result.up);
    EXPECT_EQ(r.result.reason, "TLS: certificate expired");
    EXPECT_TRUE(run(https(port, false)).result.up);  // verification off: still serves
}

TEST_F(HttpsTest, SelfSignedCertificate) {
    auto port = testing::tls_http_server(farm, "127.0.0.1", pki.self_signed());
    auto r = run(https(port, true));
    EXPECT_FALSE(r.result.up);
    EXPECT_EQ(r.result.reason, "TLS: self-signed certificate");
}

TEST_F(HttpsTest, NameMismatchAndPlainHttpServer) {
    auto port = testing::tls_http_server(farm, "127.0.0.1", pki.leaf(-1, 10));
    auto k = https(port, true);
    k.spec.edit().sni = "www.example.org";
    auto r = run(k);
    EXPECT_FALSE(r.result.up);
    EXPECT_EQ(r.result.reason, "TLS: certificate name mismatch");

    // A plain HTTP server answers the ClientHello with an HTTP error, as real ones do.
    auto plain = farm.tcp("127.0.0.1", [](int fd) {
        char buf[512];
        if (::recv(fd, buf, sizeof buf, 0) > 0) {
            Farm::send_all(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    auto p = run(https(plain, false));
    EXPECT_FALSE(p.result.up);
    EXPECT_EQ(p.result.reason.rfind("TLS handshake failed: ", 0), 0u) << p.result.reason;
}

// ---------- udp / dns ----------

TEST_F(ProbeTest, UdpNothingListeningFailsFast) {
    auto port = farm.dead_udp_port("127.0.0.1");
    auto k = key(model::CheckType::udp, "127.0.0.1", port, 2000ms);
    k.spec.edit().send = "ping";
    auto r = run(k);
    EXPECT_FALSE(r.result.up);
    EXPECT_EQ(r.result.reason, "ICMP port unreachable");  // not "timeout after 2s ..."
}

TEST_F(ProbeTest, UdpEchoExpect) {
    auto port = farm.udp_echo("127.0.0.4");
    auto k = key(model::CheckType::udp, "127.0.0.4", port);
    k.spec.edit().send = "ping";
    k.spec.edit().expect = "echo:ping";
    auto r = run(k);
    EXPECT_TRUE(r.result.up) << r.result.reason;
    k.spec.edit().expect = "pong";
    EXPECT_EQ(run(k).result.reason, "reply lacks \"pong\"");
}

TEST_F(ProbeTest, Dns) {
    auto port = farm.dns("127.0.0.1");
    auto k = key(model::CheckType::dns, "127.0.0.1", port);
    k.spec.edit().query_name = "www.example.org";
    auto r = run(k);
    EXPECT_TRUE(r.result.up) << r.result.reason;
    EXPECT_EQ(r.result.reason, "DNS NOERROR, 1 A answer");
    k.spec.edit().query_name = "nx.test";
    EXPECT_EQ(run(k).result.reason, "DNS NXDOMAIN");
    k.spec.edit().query_name = "www.example.org";
    k.spec.edit().query_type = "AAAA";  // the farm only has A records
    EXPECT_EQ(run(k).result.reason, "DNS NOERROR but no AAAA answer");
    k.spec.edit().query_type = "MX";
    EXPECT_EQ(run(k).result.reason, "DNS: unsupported query type \"MX\"");
}

// ---------- agent ----------

uint16_t agent_server(Farm& farm, std::string reply) {
    return farm.tcp("127.0.0.1", [reply](int fd) { Farm::send_all(fd, reply); });
}

TEST_F(ProbeTest, AgentReplies) {
    auto up = run(key(model::CheckType::agent, "127.0.0.1", agent_server(farm, "up 75%\n")));
    EXPECT_TRUE(up.result.up);
    EXPECT_EQ(up.result.reason, "agent: up 75%");
    ASSERT_TRUE(up.result.agent);
    EXPECT_EQ(up.result.agent->percent, 75u);

    auto down = run(key(model::CheckType::agent, "127.0.0.1",
                        agent_server(farm, "down#return route via 192.168.1.1\r\n")));
    EXPECT_FALSE(down.result.up);
    EXPECT_EQ(down.result.reason, "agent: down#return route via 192.168.1.1");

    auto drain = run(key(model::CheckType::agent, "127.0.0.1", agent_server(farm, "drain")));
    EXPECT_TRUE(drain.result.up);  // reply ended by close, not newline
    EXPECT_EQ(drain.result.agent->admin, AgentAdmin::drain);

    auto silent = run(key(model::CheckType::agent, "127.0.0.1", agent_server(farm, "")));
    EXPECT_EQ(silent.result.reason, "agent: connection closed without a reply");
}

TEST_F(ProbeTest, AgentEndlessLine) {
    auto port = farm.tcp("127.0.0.1", [&](int fd) {
        std::string a(4096, 'a');
        while (!farm.stopping() && ::send(fd, a.data(), a.size(), MSG_NOSIGNAL) > 0) {
        }
    });
    auto r = run(key(model::CheckType::agent, "127.0.0.1", port));
    EXPECT_FALSE(r.result.up);
    EXPECT_EQ(r.result.reason, "agent: reply line longer than 1024 bytes");
}

// ---------- exec ----------

bool no_children_left() {
    return ::waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD;
}

TEST_F(ProbeTest, ExecExitCodesAndWeight) {
    auto k = key(model::CheckType::exec, "127.0.0.9", 8080);
    k.spec.edit().command = {"/bin/sh", "-c", "echo checking %ip:%port; exit 0"};
    auto r = run(k);
    EXPECT_TRUE(r.result.up);
    EXPECT_EQ(r.result.reason, "exec: exit 0: checking 127.0.0.9:8080");

    k.spec.edit().command = {"/bin/sh", "-c", "echo broken >&2; exit 2"};
    r = run(k);
    EXPECT_FALSE(r.result.up);
    EXPECT_EQ(r.result.reason, "exec: exit 2: broken");

    k.spec.edit().command = {"/bin/sh", "-c", "echo 40%"};
    k.spec.edit().weight_from_output = true;
    r = run(k);
    ASSERT_TRUE(r.result.agent);
    EXPECT_EQ(r.result.agent->percent, 40u);

    k.spec.edit().command = {"/nonexistent/checker"};
    r = run(k);
    EXPECT_FALSE(r.result.up);
    EXPECT_NE(r.result.reason.find("cannot run /nonexistent/checker"), std::string::npos);
    EXPECT_TRUE(no_children_left());
}

TEST_F(ProbeTest, ExecTimeoutKillsAndReaps) {
    auto k = key(model::CheckType::exec, "127.0.0.1", 1, 300ms);
    // A child that also starts a grandchild in its process group, and floods output.
    k.spec.edit().command = {"/bin/sh", "-c", "sleep 30 & yes | head -c 10000000; sleep 30"};
    auto r = run(k);
    EXPECT_FALSE(r.result.up);
    EXPECT_EQ(r.result.reason, "timeout after 300ms (running)");
    EXPECT_TRUE(no_children_left());
}

// The child sees none of the daemon's descriptors (Asio's sockets are not
// close-on-exec) and none of its environment: PATH, HOME and LANG only.
TEST_F(ProbeTest, ExecChildGetsNoDescriptorsAndAMinimalEnvironment) {
    ASSERT_EQ(::setenv("BALLAST_TEST_SECRET", "leaked", 1), 0);
    const int sock = ::socket(AF_INET, SOCK_STREAM, 0);  // not close-on-exec
    ASSERT_GE(sock, 0);
    ASSERT_EQ(::dup2(sock, 250), 250);
    auto k = key(model::CheckType::exec, "127.0.0.1", 1);
    k.spec.edit().command = {
        "/bin/sh", "-c",
        "echo ${BALLAST_TEST_SECRET:-unset} $(test -e /proc/self/fd/250 && echo "
        "fd-inherited || echo fd-closed) $PATH $HOME $(env | wc -l)"};
    auto r = run(k);
    ::close(250);
    ::close(sock);
    ::unsetenv("BALLAST_TEST_SECRET");
    EXPECT_TRUE(r.result.up) << r.result.reason;
    // env also lists what sh adds itself (PWD; dash: nothing else).
    EXPECT_EQ(r.result.reason,
              "exec: exit 0: unset fd-closed "
              "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin / 4");
}

TEST_F(ProbeTest, ExecRunsAsTheConfiguredUser) {
    const passwd* nobody = ::getpwnam("nobody");
    ASSERT_NE(nobody, nullptr);
    const std::string want = std::to_string(nobody->pw_uid) + " " + std::to_string(nobody->pw_gid) +
                             " " + nobody->pw_dir;
    auto k = key(model::CheckType::exec, "127.0.0.1", 1);
    k.spec.edit().command = {"/bin/sh", "-c", "echo $(id -u) $(id -g) $HOME"};
    k.spec.edit().user = "nobody";
    auto r = run(k);
    EXPECT_TRUE(r.result.up) << r.result.reason;
    EXPECT_EQ(r.result.reason, "exec: exit 0: " + want);

    k.spec.edit().user = "ballast-no-such-user";
    r = run(k);
    EXPECT_FALSE(r.result.up);
    EXPECT_TRUE(r.result.inconclusive);
    EXPECT_EQ(r.result.reason, "checker: exec: no user ballast-no-such-user");
}

// Killing a child does not wait for it on the spot (a child in uninterruptible
// sleep would freeze the loop): its pidfd reaps it once it has gone.
TEST_F(ProbeTest, ExecCancelReapsThroughThePidfdNotOnTheSpot) {
    auto k = key(model::CheckType::exec, "127.0.0.1", 1, 5000ms);
    k.spec.edit().command = {"sleep", "30"};
    bool called = false;
    auto run = start_probe(ctx, k, [&](ProbeResult) { called = true; });
    bool child_there_after_cancel = false;
    boost::asio::steady_timer t(io, 100ms);
    t.async_wait([&](auto) {
        run->cancel();
        run.reset();
        siginfo_t info{};
        // Not reaped yet (alive or a zombie): waitid sees a child.
        child_there_after_cancel = ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0;
    });
    io.restart();
    io.run();
    EXPECT_FALSE(called);
    EXPECT_TRUE(child_there_after_cancel);
    EXPECT_TRUE(no_children_left());
}

// ---------- tcp_half_open ----------

TEST_F(ProbeTest, HalfOpenUpOnAListenerThatNeverAcceptsAConnection) {
    const auto port = farm.tcp_accept_close("127.0.0.6");
    auto k = key(model::CheckType::tcp_half_open, "127.0.0.6", port);
    for (int i = 0; i < 3; ++i) {
        auto r = run(k);
        EXPECT_TRUE(r.result.up) << r.result.reason;
        EXPECT_EQ(r.result.reason, "SYN-ACK received");
    }
    // A connect check on the same listener is accepted: the counter counts, and
    // the three SYN-ACKs before it were reset by the kernel, never accepted.
    EXPECT_TRUE(run(key(model::CheckType::tcp, "127.0.0.6", port)).result.up);
    testing::wait_for([&] { return farm.accepted(port) >= 1; });
    EXPECT_EQ(farm.accepted(port), 1u);
}

TEST_F(ProbeTest, HalfOpenDownOnAClosedPort) {
    auto r =
        run(key(model::CheckType::tcp_half_open, "127.0.0.1", farm.dead_udp_port("127.0.0.1")));
    EXPECT_FALSE(r.result.up);
    EXPECT_FALSE(r.result.inconclusive);
    EXPECT_EQ(r.result.reason, "connect refused");
}

// SYNs dropped by nft in a network namespace of the test's own: a timeout.
TEST_F(ProbeTest, HalfOpenDownWhenSynsAreDropped) {
    testing::PrivateNetns ns;
    const auto port = farm.listen_only("127.0.0.1");
    ns.sh(
        "nft add table inet ballast_test && nft add chain inet ballast_test in "
        "'{ type filter hook input priority 0; }' && nft add rule inet ballast_test in tcp "
        "dport " +
        std::to_string(port) + " tcp flags syn drop");
    auto r = run(key(model::CheckType::tcp_half_open, "127.0.0.1", port, 300ms));
    EXPECT_FALSE(r.result.up);
    EXPECT_FALSE(r.result.inconclusive);
    EXPECT_EQ(r.result.reason, "timeout after 300ms (waiting for SYN-ACK)");
    ns.sh("nft delete table inet ballast_test");
    auto up = run(key(model::CheckType::tcp_half_open, "127.0.0.1", port, 300ms));
    EXPECT_TRUE(up.result.up) << up.result.reason;
}

TEST_F(ProbeTest, HalfOpenManyInFlightTogether) {
    const auto up_port = farm.listen_only("127.0.0.7");
    const auto refused_port = farm.dead_udp_port("127.0.0.7");
    std::vector<std::string> got(200);
    std::vector<std::shared_ptr<ProbeRun>> runs;
    for (size_t i = 0; i < got.size(); ++i) {
        auto k = key(model::CheckType::tcp_half_open, "127.0.0.7", i % 2 ? refused_port : up_port);
        k.spec.edit().path = std::to_string(i);  // distinct checks of the same target
        runs.push_back(start_probe(ctx, k, [&got, i](ProbeResult r) { got[i] = r.reason; }));
    }
    io.restart();
    io.run();
    for (size_t i = 0; i < got.size(); ++i)
        EXPECT_EQ(got[i], i % 2 ? "connect refused" : "SYN-ACK received") << i;
}

// Without CAP_NET_RAW the check cannot run: missing_privileges says so, naming
// the check and the capability (the daemon and --check-config report it).
TEST(HalfOpenPrivileges, MissingCapNetRawIsNamed) {
    CheckKey k = key(model::CheckType::tcp_half_open, "10.0.0.2", 80);
    EXPECT_TRUE(missing_privileges({k}).empty());  // this test runs as root
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        testing::drop_capability(CAP_NET_RAW);
        const auto tcp = key(model::CheckType::tcp, "10.0.0.2", 80);
        const auto missing = missing_privileges({k, tcp});
        const bool ok = missing.size() == 1 &&
                        missing[0] ==
                            "tcp_half_open 10.0.0.2:80: needs CAP_NET_RAW (a raw socket: "
                            "Operation not permitted)";
        if (!ok) std::fprintf(stderr, "%s\n", missing.empty() ? "(none)" : missing[0].c_str());
        // The daemon asks the same of its check plan.
        std::vector<CheckMap::value_type> entries{{k, {}}, {tcp, {}}};
        std::sort(entries.begin(), entries.end(),
                  [](const auto& a, const auto& b) { return a.first < b.first; });
        const bool plan_ok = missing_privileges(CheckPlan{CheckMap(std::move(entries))}) == missing;
        if (!plan_ok) std::fprintf(stderr, "the plan's answer differs\n");
        _exit(ok && plan_ok ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

// ---------- cancellation ----------

TEST_F(ProbeTest, CancelledRunNeverCallsBack) {
    auto port = farm.tcp("127.0.0.1", [&](int) { farm.nap(10s); });
    bool called = false;
    std::vector<std::shared_ptr<ProbeRun>> runs;
    for (auto type : {model::CheckType::http, model::CheckType::agent, model::CheckType::tcp}) {
        auto k = key(type, "127.0.0.1", port);
        k.spec.edit().expect = "x";
        runs.push_back(start_probe(ctx, k, [&](ProbeResult) { called = true; }));
    }
    auto ex = key(model::CheckType::exec, "127.0.0.1", 1);
    ex.spec.edit().command = {"sleep", "30"};
    runs.push_back(start_probe(ctx, ex, [&](ProbeResult) { called = true; }));
    boost::asio::steady_timer t(io, 100ms);
    t.async_wait([&](auto) {
        for (auto& r : runs) r->cancel();
        runs.clear();  // drop the handles: the runs live on only in their pending handlers
    });
    io.restart();
    io.run();
    EXPECT_FALSE(called);
    EXPECT_TRUE(no_children_left());
}

TEST_F(ProbeTest, CancelledConnectCheckNeverCallsBack) {
    const auto port = farm.syn_dropping("127.0.0.5");
    bool called = false;
    auto k = key(model::CheckType::tcp, "127.0.0.5", port, 5000ms);
    auto a = start_probe(ctx, k, [&](ProbeResult) { called = true; });
    auto b = start_probe(ctx, k, [&](ProbeResult) { called = true; });
    a->cancel();  // at once, before the loop ever ran
    boost::asio::steady_timer t(io, 100ms);
    t.async_wait([&](auto) {
        b->cancel();
        a.reset();
        b.reset();
    });
    io.restart();
    io.run();  // returns: nothing is left waiting once both are cancelled
    EXPECT_FALSE(called);
}

}  // namespace
}  // namespace ballast::health
