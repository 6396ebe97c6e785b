// The status server (director.status_listen) against real clients, on a DaemonRig: /metrics
// passes `promtool check metrics` on a live scrape and carries the series the README lists;
// /api/v1/status; the page; drain/enable from the page need the token, a loopback Host and the
// same origin; header/body limits, the connection cap and timeouts.
#include <arpa/inet.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "ballast/control/http_server.hpp"
#include "ballast/testing/daemon_rig.hpp"
#include "control_test_support.hpp"

using namespace ballast;
using namespace ballast::testing;
using namespace std::chrono_literals;

namespace {

struct HttpReply {
    int status = 0;
    std::string head, body;
    std::string header(const std::string& name) const {
        std::string lower = head;
        for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string key = "\r\n" + name + ": ";
        for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        auto at = lower.find(key);
        if (at == std::string::npos) return "";
        auto end = head.find("\r\n", at + key.size());
        return head.substr(at + key.size(), end - at - key.size());
    }
};

int connect_to(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
        throw std::runtime_error("connect failed");
    return fd;
}

// Sends raw bytes, reads until the server closes (requests say Connection: close).
HttpReply http_exchange(uint16_t port, const std::string& raw,
                        std::chrono::milliseconds timeout = 20s) {
    const int fd = connect_to(port);
    (void)::send(fd, raw.data(), raw.size(), MSG_NOSIGNAL);
    std::string all;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        char buf[65536];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        all.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    HttpReply r;
    const auto end = all.find("\r\n\r\n");
    if (end == std::string::npos) return r;
    r.head = all.substr(0, end);
    r.body = all.substr(end + 4);
    std::sscanf(r.head.c_str(), "HTTP/1.1 %d", &r.status);
    return r;
}

HttpReply get(uint16_t port, const std::string& target, const std::string& host = "") {
    return http_exchange(port, "GET " + target + " HTTP/1.1\r\nHost: " +
                                   (host.empty() ? "127.0.0.1:" + std::to_string(port) : host) +
                                   "\r\nConnection: close\r\n\r\n");
}

HttpReply post(uint16_t port, const std::string& target, const std::string& body,
               const std::vector<std::string>& headers) {
    std::string raw = "POST " + target + " HTTP/1.1\r\nConnection: close\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n";
    for (const auto& h : headers) raw += h + "\r\n";
    return http_exchange(port, raw + "\r\n" + body);
}

std::string run(const std::string& cmd, int& status) {
    std::string out;
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    if (!p) throw std::runtime_error("popen failed");
    std::array<char, 4096> buf;
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    const int rc = ::pclose(p);
    status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return out;
}

// A gzip stream of one or more members, inflated (as Go's gzip reader reads them).
std::string gunzip(const std::string& data) {
    z_stream z{};
    if (inflateInit2(&z, 16 + 15) != Z_OK) throw std::runtime_error("inflateInit2");
    std::string out;
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    char buf[65536];
    while (z.avail_in > 0) {
        z.next_out = reinterpret_cast<Bytef*>(buf);
        z.avail_out = sizeof buf;
        const int rc = inflate(&z, Z_NO_FLUSH);
        out.append(buf, sizeof buf - z.avail_out);
        if (rc == Z_STREAM_END) {
            inflateReset(&z);  // the next member
        } else if (rc != Z_OK) {
            inflateEnd(&z);
            throw std::runtime_error("not gzip");
        }
    }
    inflateEnd(&z);
    return out;
}

// The lines of a scrape that start with `prefix`, sorted.
std::vector<std::string> lines_of(const std::string& text, const std::string& prefix) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < text.size()) {
        auto end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        if (text.compare(pos, prefix.size(), prefix) == 0)
            out.push_back(text.substr(pos, end - pos));
        pos = end + 1;
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string config_for(const ScratchDir& dir, const LoopbackServer& a, const LoopbackServer& b) {
    return R"([director]
control_socket = ")" +
           dir.path() + R"(/ctl.sock"
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
[[service]]
name = "marked"
fwmark = 7
check = { type = "none" }
[[service.real]]
address = "10.0.0.7"
)";
}

struct Http : ::testing::Test {
    ScratchDir dir;
    LoopbackServer a, b;
    std::unique_ptr<DaemonRig> rig;
    uint16_t port = 0;
    void start(bool write = true, std::function<void(control::HubSettings&)> more = {}) {
        rig = std::make_unique<DaemonRig>(dir.path(), config_for(dir, a, b));
        rig->adjust = [write, more](control::HubSettings& s) {
            s.status_listen = model::Endpoint{*model::IpAddress::parse("127.0.0.1"), 0};
            s.status_write = write;
            if (more) more(s);
        };
        rig->start();
        port = rig->http_port();
        ASSERT_NE(port, 0);
    }
    std::string host() const { return "127.0.0.1:" + std::to_string(port); }
    boost::json::value status() { return boost::json::parse(get(port, "/api/v1/status").body); }
};

}  // namespace

TEST_F(Http, MetricsPassPromtoolAndCarryTheListedSeries) {
    start();
    // Let both reals get checked and one go down and come back: transitions with reasons.
    ASSERT_TRUE(eventually([&] {
        auto s = status();
        return s.at("services").at(0).at("reals").at(1).at("state") == "up";
    }));
    b.close();
    ASSERT_TRUE(eventually(
        [&] { return status().at("services").at(0).at("reals").at(1).at("state") == "down"; }));
    b.reopen();
    ASSERT_TRUE(eventually(
        [&] { return status().at("services").at(0).at("reals").at(1).at("state") == "up"; }));
    // Counters from a dump (fresh: the fake kernel's), with connections on one real.
    kernel::DestCounters c;
    c.active_conns = 4;
    c.inactive_conns = 9;
    const auto web =
        model::ServiceKey::inet(model::Protocol::tcp, *model::IpAddress::parse("192.0.2.1"), 80);
    ASSERT_TRUE(rig->on_loop([&] {
        return rig->ipvs().set_dest_counters(
            web, model::RealKey{*model::IpAddress::parse("127.0.0.1"), a.port()}, c);
    }));
    ASSERT_EQ(get(port, "/api/v1/status?fresh=1").status, 200);

    auto scrape = get(port, "/metrics");
    ASSERT_EQ(scrape.status, 200);
    EXPECT_EQ(scrape.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    const std::string file = dir.path() + "/scrape.prom";
    std::ofstream(file) << scrape.body;
    int rc = -1;
    const auto out = run("promtool check metrics < " + file, rc);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_EQ(out, "") << "promtool has remarks:\n" << out;

    const std::string& m = scrape.body;
    auto has = [&](const std::string& s) { return m.find(s) != std::string::npos; };
    const std::string ra = "local_address=\"192.0.2.1\",local_port=\"80\",proto=\"TCP\"";
    EXPECT_TRUE(has("ballast_real_weight_configured{" + ra +
                    ",service=\"web\",remote_address=\"127.0.0.1\",remote_port=\"" +
                    std::to_string(a.port()) + "\"} 3"))
        << m.substr(0, 4000);
    EXPECT_TRUE(has("ballast_real_weight_effective{" + ra +
                    ",service=\"web\",remote_address=\"127.0.0.1\",remote_port=\"" +
                    std::to_string(b.port()) + "\"} 2"));
    EXPECT_TRUE(has("ballast_real_health{" + ra +
                    ",service=\"web\",remote_address=\"127.0.0.1\",remote_port=\"" +
                    std::to_string(a.port()) + "\"} 1"));
    EXPECT_TRUE(has("ballast_real_health_transitions_total{" + ra +
                    ",service=\"web\",remote_address=\"127.0.0.1\",remote_port=\"" +
                    std::to_string(b.port()) + "\",to=\"down\",reason=\"connect refused\"} 1"))
        << m;
    EXPECT_TRUE(has("ballast_ipvs_backend_connections_active{" + ra +
                    ",remote_address=\"127.0.0.1\",remote_port=\"" + std::to_string(a.port()) +
                    "\"} 4"));
    EXPECT_TRUE(has("ballast_ipvs_backend_connections_inactive{" + ra +
                    ",remote_address=\"127.0.0.1\",remote_port=\"" + std::to_string(a.port()) +
                    "\"} 9"));
    EXPECT_TRUE(has("ballast_ipvs_connections_total{" + ra + "} 0"));
    // fwmark services: node_exporter's local_mark and proto FWM.
    EXPECT_TRUE(
        has("ballast_real_weight_configured{local_mark=\"7\",proto=\"FWM\",service=\"marked\","
            "remote_address=\"10.0.0.7\",remote_port=\"0\"} 1"))
        << m;
    EXPECT_TRUE(has("ballast_check_duration_seconds_bucket{type=\"tcp\",le=\"0.0005\"}"));
    EXPECT_TRUE(has("ballast_check_runs_total{result=\"success\",type=\"tcp\"}") ||
                has("ballast_check_runs_total{type=\"tcp\",result=\"success\"}"));
    EXPECT_TRUE(has("ballast_reconcile_duration_seconds_bucket{"));  // edits from the verdicts
    EXPECT_TRUE(has("ballast_reconcile_operations_total "));
    EXPECT_TRUE(has("ballast_reconcile_errors_total 0"));
    EXPECT_TRUE(has("ballast_reconcile_drift_repairs_total 0"));
    EXPECT_TRUE(has("ballast_event_loop_lateness_seconds_count "));
    EXPECT_TRUE(has("ballast_ipvs_dump_duration_seconds_count 1"));
    EXPECT_TRUE(has("ballast_services 2"));
    EXPECT_TRUE(has("ballast_build_info{version=\"ballastd test-rig\"} 1"));

    // Asked for gzip (as Prometheus does): members of one gzip stream with the same series.
    auto zipped = http_exchange(port, "GET /metrics HTTP/1.1\r\nHost: " + std::to_string(port) +
                                          "\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n");
    ASSERT_EQ(zipped.status, 200);
    EXPECT_EQ(zipped.header("content-encoding"), "gzip");
    EXPECT_LT(zipped.body.size(), m.size());
    const auto unzipped = gunzip(zipped.body);
    EXPECT_EQ(lines_of(unzipped, "ballast_real_"), lines_of(m, "ballast_real_"));
    EXPECT_EQ(lines_of(unzipped, "ballast_ipvs_backend_"), lines_of(m, "ballast_ipvs_backend_"));
    std::ofstream(file) << unzipped;
    const auto out2 = run("promtool check metrics < " + file, rc);
    EXPECT_EQ(rc, 0) << out2;
}

TEST_F(Http, StatusApiAndPage) {
    start();
    auto s = get(port, "/api/v1/status");
    ASSERT_EQ(s.status, 200);
    EXPECT_EQ(s.header("content-type"), "application/json");
    auto v = boost::json::parse(s.body);
    EXPECT_EQ(v.at("write"), true);
    EXPECT_EQ(v.at("services").as_array().size(), 2u);
    auto page = get(port, "/");
    ASSERT_EQ(page.status, 200);
    EXPECT_EQ(page.header("content-type"), "text/html; charset=utf-8");
    EXPECT_NE(page.header("content-security-policy").find("default-src 'none'"), std::string::npos);
    EXPECT_EQ(page.header("x-frame-options"), "DENY");
    // Self-contained: nothing fetched from elsewhere (the one URL is SVG's namespace name).
    std::string rest = page.body;
    for (auto at = rest.find("http://www.w3.org/2000/svg"); at != std::string::npos;
         at = rest.find("http://www.w3.org/2000/svg"))
        rest.erase(at, 26);
    EXPECT_EQ(rest.find("http://"), std::string::npos);
    EXPECT_EQ(rest.find("https://"), std::string::npos);
    EXPECT_EQ(rest.find("src="), std::string::npos);
    EXPECT_EQ(rest.find("@import"), std::string::npos);
    EXPECT_EQ(rest.find("url("), std::string::npos);
    // The token is in the page for a loopback Host, and not for any other name.
    const std::string token = rig->hub().write_token();
    ASSERT_EQ(token.size(), 32u);
    EXPECT_NE(page.body.find("const TOKEN = \"" + token + "\""), std::string::npos);
    auto rebound = get(port, "/", "evil.example:" + std::to_string(port));
    EXPECT_EQ(rebound.body.find(token), std::string::npos);
    EXPECT_EQ(get(port, "/nope").status, 404);
    EXPECT_EQ(
        http_exchange(port, "DELETE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .status,
        405);
    // Paths a peer makes up are counted under one label: they cannot grow the scrape.
    for (int i = 0; i < 50; ++i) EXPECT_EQ(get(port, "/made-up-" + std::to_string(i)).status, 404);
    const auto scrape = get(port, "/metrics").body;
    EXPECT_EQ(scrape.find("made-up"), std::string::npos);
    EXPECT_NE(scrape.find("verb=\"http other\""), std::string::npos);
}

TEST_F(Http, WritesNeedTokenLoopbackHostAndSameOrigin) {
    start();
    const std::string token = rig->hub().write_token();
    const std::string body = "{\"real\":\"" + a.endpoint() + "\",\"service\":\"web\"}";
    const std::string h = "Host: " + host();
    const std::string ct = "Content-Type: application/json";
    // No token, a wrong token, a foreign origin, a rebound Host: refused, nothing changed.
    EXPECT_EQ(post(port, "/api/v1/drain", body, {h, ct}).status, 403);
    EXPECT_EQ(post(port, "/api/v1/drain", body, {h, ct, "X-Ballast-Token: 0000"}).status, 403);
    EXPECT_EQ(post(port, "/api/v1/drain", body,
                   {h, ct, "X-Ballast-Token: " + token, "Origin: http://evil.example"})
                  .status,
              403);
    EXPECT_EQ(post(port, "/api/v1/drain", body,
                   {"Host: evil.example:" + std::to_string(port), ct, "X-Ballast-Token: " + token})
                  .status,
              403);
    EXPECT_EQ(get(port, "/api/v1/drain").status, 405);
    auto v = status();
    EXPECT_FALSE(v.at("services").at(0).at("reals").at(0).as_object().contains("override"));
    // The page's own request.
    auto ok = post(port, "/api/v1/drain", body,
                   {h, ct, "X-Ballast-Token: " + token, "Origin: http://" + host()});
    ASSERT_EQ(ok.status, 200) << ok.body;
    v = status();
    const auto& ov = v.at("services").at(0).at("reals").at(0).at("override");
    EXPECT_EQ(ov.at("action"), "drain");
    EXPECT_EQ(std::string(ov.at("set_by").as_string()).rfind("status page from 127.0.0.1:", 0), 0u);
    EXPECT_TRUE(rig->logged("control: drain " + a.endpoint() + " from the status page"));
    auto bad = post(port, "/api/v1/enable", "{\"real\":\"nonsense\"}",
                    {h, ct, "X-Ballast-Token: " + token});
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(post(port, "/api/v1/enable", body, {h, ct, "X-Ballast-Token: " + token}).status, 200);
}

TEST_F(Http, WritesAreOffUnlessAskedFor) {
    start(false);
    EXPECT_EQ(rig->hub().write_token(), "");
    auto page = get(port, "/");
    EXPECT_NE(page.body.find("const TOKEN = \"\""), std::string::npos);
    EXPECT_EQ(post(port, "/api/v1/drain", "{}", {"Host: " + host(), "X-Ballast-Token: "}).status,
              403);
    EXPECT_EQ(status().at("write"), false);
}

TEST_F(Http, LimitsHeadersBodiesConnectionsAndSlowClients) {
    start(true, [](control::HubSettings& s) {
        s.http.max_connections = 4;
        s.http.read_timeout = 300ms;
    });
    const std::string huge(20 * 1024, 'a');
    EXPECT_EQ(
        http_exchange(port, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + huge + "\r\n\r\n").status,
        431);
    EXPECT_EQ(post(port, "/api/v1/drain", std::string(8192, '{'), {"Host: " + host()}).status, 413);
    // A client that never finishes its request is dropped after the read timeout.
    const int slow = connect_to(port);
    (void)::send(slow, "GET / HT", 8, MSG_NOSIGNAL);
    pollfd p{slow, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1);
    char c;
    EXPECT_EQ(::recv(slow, &c, 1, 0), 0);  // closed without an answer
    ::close(slow);
    // Beyond the cap: 503 at once, while the open ones still get answers.
    std::vector<int> held;
    for (int i = 0; i < 4; ++i) held.push_back(connect_to(port));
    ASSERT_TRUE(eventually(
        [&] {
            auto r = get(port, "/api/v1/status");
            return r.status == 503;
        },
        5s));
    const std::string req = "GET /api/v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    (void)::send(held[0], req.data(), req.size(), MSG_NOSIGNAL);
    std::string got;
    pollfd q{held[0], POLLIN, 0};
    ASSERT_EQ(::poll(&q, 1, 5000), 1);
    char buf[256];
    const ssize_t n = ::recv(held[0], buf, sizeof buf, 0);
    ASSERT_GT(n, 12);
    EXPECT_EQ(std::string(buf, 12), "HTTP/1.1 200");
    for (int fd : held) ::close(fd);
}

namespace {

// The nice value of this process's thread named `name` (field 19 of its stat), or nullopt.
std::optional<int> nice_of_thread(const std::string& name) {
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream comm(task.path() / "comm");
        std::string n;
        std::getline(comm, n);
        if (n != name) continue;
        std::ifstream stat(task.path() / "stat");
        std::string all((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
        std::istringstream rest(all.substr(all.rfind(')') + 2));  // after "(comm) "
        std::string field;
        for (int i = 3; i <= 19 && rest >> field; ++i) {
        }
        return std::stoi(field);
    }
    return std::nullopt;
}

}  // namespace

// Scrapes run on a thread that yields the CPU to the daemon's loop (health verdicts first).
TEST_F(Http, StatusThreadRunsBelowTheLoopsPriority) {
    start();
    // A reply comes from the status thread's loop, which it runs after naming itself and
    // lowering its priority: after it, both are done.
    ASSERT_EQ(get(port, "/metrics").status, 200);
    errno = 0;
    const int loop_nice = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
    ASSERT_EQ(errno, 0);
    const auto nice = nice_of_thread("ballast-status");
    ASSERT_TRUE(nice.has_value()) << "no thread named ballast-status";
    EXPECT_EQ(*nice, std::min(loop_nice + control::Hub::kStatusThreadNice, 19));
}

namespace {

// Answers every request with the same body in pieces.
struct PartsHandler : control::HttpHandler {
    std::vector<std::shared_ptr<const std::string>> parts;
    void handle(const control::HttpRequest&, const boost::asio::ip::tcp::endpoint&,
                std::function<void(control::HttpResponse)> done) override {
        control::HttpResponse r;
        r.parts = parts;
        done(std::move(r));
    }
};

}  // namespace

// A body in pieces (thousands of small ones, large ones among them, empty ones) arrives whole and
// in order with its length, and the connection then serves the next request (two pipelined).
TEST(HttpServerParts, ABodyInPiecesArrivesWholeAndTheConnectionGoesOn) {
    PartsHandler handler;
    std::string expected;
    for (size_t i = 0; i < 6000; ++i) {
        size_t size = (i * 7919) % 1500;
        if (i % 1000 == 17) size = 300 * 1024;  // written from where it is
        if (i % 777 == 5) size = 16 * 1024;
        if (i % 50 == 3) size = 0;
        std::string part(size, '\0');
        for (size_t k = 0; k < size; ++k) part[k] = static_cast<char>('a' + (i + k) % 26);
        expected += part;
        handler.parts.push_back(std::make_shared<const std::string>(std::move(part)));
    }
    boost::asio::io_context io;
    control::HttpServer server(io, handler);
    ASSERT_TRUE(server.listen(model::Endpoint{*model::IpAddress::parse("127.0.0.1"), 0}).ok());
    std::thread loop([&io] { io.run(); });
    const auto reply = http_exchange(server.port(),
                                     "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                                     "GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    boost::asio::post(io, [&server] { server.stop(); });
    loop.join();
    ASSERT_EQ(reply.status, 200);
    EXPECT_EQ(reply.header("Content-Length"), std::to_string(expected.size()));
    // The first body, then the second response whole.
    ASSERT_GE(reply.body.size(), expected.size());
    EXPECT_TRUE(reply.body.compare(0, expected.size(), expected) == 0);
    const std::string rest = reply.body.substr(expected.size());
    const auto end = rest.find("\r\n\r\n");
    ASSERT_NE(end, std::string::npos);
    EXPECT_EQ(rest.compare(0, 15, "HTTP/1.1 200 OK"), 0) << rest.substr(0, 40);
    EXPECT_EQ(rest.size() - end - 4, expected.size());
    EXPECT_TRUE(rest.compare(end + 4, std::string::npos, expected) == 0);
}
