// The status page in a real browser: headless Chromium driven over WebDriver (chromedriver,
// plain HTTP from here) loads the page from a DaemonRig's status server, shows every real
// server, shows one going down with its reason and coming back, drains one with its button
// (the token, same-origin path), and logs nothing to the console at level SEVERE.
#include <arpa/inet.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdio>

#include <gtest/gtest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "ballast/testing/daemon_rig.hpp"
#include "control_test_support.hpp"

using namespace ballast;
using namespace ballast::testing;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace http = boost::beast::http;

namespace {

uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

// chromedriver as a child process, and the WebDriver commands this test needs.
class WebDriver {
public:
    WebDriver() : port_(free_port()) {
        pid_ = ::fork();
        if (pid_ == 0) {
            const std::string arg = "--port=" + std::to_string(port_);
            ::execlp("chromedriver", "chromedriver", arg.c_str(), "--log-level=SEVERE",
                     static_cast<char*>(nullptr));
            ::_exit(127);
        }
        if (!eventually([&] {
                try {
                    return call(http::verb::get, "/status", {}).at("value").at("ready").as_bool();
                } catch (const std::exception&) {
                    return false;
                }
            }))
            throw std::runtime_error("chromedriver did not come up (Debian: chromium-driver)");
    }
    ~WebDriver() {
        if (!session_.empty()) {
            try {
                call(http::verb::delete_, "/session/" + session_, {});
            } catch (const std::exception&) {
            }
        }
        ::kill(pid_, SIGTERM);
        ::waitpid(pid_, nullptr, 0);
    }

    void start_browser(const std::string& profile_dir) {
        json::array args{"--headless=new", "--no-sandbox",
                         "--disable-gpu",  "--disable-dev-shm-usage",
                         "--no-first-run", "--user-data-dir=" + profile_dir};
        json::object chrome{{"args", args}};
        if (::access("/usr/lib/chromium/chromium", X_OK) == 0)
            chrome["binary"] = "/usr/lib/chromium/chromium";
        json::object caps{{"browserName", "chrome"},
                          {"goog:chromeOptions", chrome},
                          {"goog:loggingPrefs", json::object{{"browser", "ALL"}}}};
        auto r = call(http::verb::post, "/session",
                      json::object{{"capabilities", json::object{{"alwaysMatch", caps}}}});
        session_ = std::string(r.at("value").at("sessionId").as_string());
    }
    void go(const std::string& url) {
        call(http::verb::post, path("/url"), json::object{{"url", url}});
    }
    json::value script(const std::string& js) {
        return call(http::verb::post, path("/execute/sync"),
                    json::object{{"script", js}, {"args", json::array{}}})
            .at("value");
    }
    // The browser's console since the last call.
    json::array console() {
        return call(http::verb::post, path("/se/log"), json::object{{"type", "browser"}})
            .at("value")
            .as_array();
    }

private:
    std::string path(const std::string& p) const { return "/session/" + session_ + p; }
    json::value call(http::verb verb, const std::string& target, const json::value& body) {
        boost::asio::io_context io;
        boost::asio::ip::tcp::socket s(io);
        s.connect({boost::asio::ip::make_address("127.0.0.1"), port_});
        http::request<http::string_body> req{verb, target, 11};
        req.set(http::field::host, "127.0.0.1");
        req.set(http::field::content_type, "application/json");
        if (verb != http::verb::get && verb != http::verb::delete_)
            req.body() = json::serialize(body);
        req.prepare_payload();
        http::write(s, req);
        boost::beast::flat_buffer buf;
        http::response<http::string_body> res;
        http::read(s, buf, res);
        auto v = json::parse(res.body());
        if (res.result_int() != 200)
            throw std::runtime_error("WebDriver " + target + ": " + res.body());
        return v;
    }

    uint16_t port_;
    pid_t pid_ = -1;
    std::string session_;
};

std::string config_for(const ScratchDir& dir, const LoopbackServer& a, const LoopbackServer& b) {
    return R"([director]
control_socket = ")" +
           dir.path() + R"(/ctl.sock"
[[service]]
name = "web"
vip = "192.0.2.1"
port = 80
scheduler = "wrr"
check = { type = "tcp", interval = "200ms", timeout = "100ms", rise = 2, fall = 2 }
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

// [state, reason, has a drain button] of one real server's row, as the page shows it.
std::string row_script(const std::string& real) {
    return "const r = document.querySelector(`tr[data-service='web'][data-real='" + real +
           "']`); if (!r) return null; const b = r.querySelector('button'); "
           "return [r.dataset.state, r.querySelector('.reason').textContent, b ? "
           "b.dataset.action : ''];";
}

}  // namespace

TEST(StatusPageBrowser, ShowsARealServerGoDownWithItsReasonAndComeBackWithoutConsoleErrors) {
    ScratchDir dir, profile;
    LoopbackServer a, b;
    DaemonRig rig(dir.path(), config_for(dir, a, b));
    rig.adjust = [](control::HubSettings& s) {
        s.status_listen = model::Endpoint{*model::IpAddress::parse("127.0.0.1"), 0};
        s.status_write = true;
    };
    rig.start();
    WebDriver driver;
    driver.start_browser(profile.path());
    const std::string url = "http://127.0.0.1:" + std::to_string(rig.http_port()) + "/";
    driver.go(url);

    auto row = [&](const LoopbackServer& s) { return driver.script(row_script(s.endpoint())); };
    ASSERT_TRUE(eventually([&] {
        auto r = row(b);
        return r.is_array() && r.at(0) == "up";
    })) << json::serialize(row(b));
    EXPECT_EQ(row(a).at(2), "drain");  // writes are on: the page offers the button

    // Down: the detection bound is fall x interval (+ timeout): 2 x 200 ms + 100 ms.
    const auto closed_at = std::chrono::steady_clock::now();
    b.close();
    ASSERT_TRUE(eventually([&] {
        auto r = row(b);
        return r.is_array() && r.at(0) == "down";
    })) << json::serialize(row(b));
    const auto shown = std::chrono::steady_clock::now() - closed_at;
    const auto reason = std::string(row(b).at(1).as_string());
    // Refused, or reset for a check whose connection was queued on the listener as it closed.
    EXPECT_TRUE(reason.find("connect refused") != std::string::npos ||
                reason.find("connection reset by peer") != std::string::npos)
        << reason;
    std::printf("down shown after %.0f ms (detection bound 500 ms, page refresh 1000 ms)\n",
                std::chrono::duration<double, std::milli>(shown).count());

    b.reopen();
    ASSERT_TRUE(eventually([&] {
        auto r = row(b);
        return r.is_array() && r.at(0) == "up";
    })) << json::serialize(row(b));

    // The drain button works from the page itself (token, same origin).
    driver.script("document.querySelector(`tr[data-real='" + a.endpoint() +
                  "'] button`).click(); return null;");
    ASSERT_TRUE(eventually([&] {
        auto r = row(a);
        return r.is_array() && r.at(2) == "enable";
    })) << json::serialize(row(a));
    EXPECT_NE(std::string(row(a).at(1).as_string()).find("override: drained by status page"),
              std::string::npos);
    const auto web =
        model::ServiceKey::inet(model::Protocol::tcp, *model::IpAddress::parse("192.0.2.1"), 80);
    EXPECT_EQ(rig.on_loop([&] {
        return rig.ipvs()
            .table()
            .services.at(web)
            .reals.at(model::RealKey{*model::IpAddress::parse("127.0.0.1"), a.port()})
            .weight;
    }),
              0u);

    for (const auto& entry : driver.console()) {
        EXPECT_NE(entry.at("level"), "SEVERE") << json::serialize(entry);
    }
}
