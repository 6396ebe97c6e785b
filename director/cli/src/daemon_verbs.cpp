#include "daemon_verbs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fmt/core.h>
#include <sys/ioctl.h>
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "ballast/control/client.hpp"
#include "ballast/control/render.hpp"

namespace ballast::cli {

namespace {

using namespace std::chrono_literals;
using control::ControlClient;
using control::Request;
using control::Verb;

constexpr int kExitFailed = 1;
constexpr int kExitUnreachable = 2;

constexpr std::array<std::string_view, 9> kVerbs{
    "status", "drain", "enable", "weight", "reload", "plan", "check-config", "top", "events"};

struct Common {
    std::string socket = control::kDefaultSocket;
    std::string colour = "auto";
    std::string output = "text";
};

void add_common(CLI::App& app, Common& c, bool json_output) {
    app.add_option("--socket", c.socket, "ballastd's control socket (director.control_socket)")
        ->capture_default_str();
    app.add_option("--color", c.colour, "colour: auto (on a terminal), always or never")
        ->check(CLI::IsMember({"auto", "always", "never"}))
        ->capture_default_str();
    if (json_output)
        app.add_option("-o,--output", c.output, "text or json")
            ->check(CLI::IsMember({"text", "json"}))
            ->capture_default_str();
}

bool use_colour(const Common& c) {
    if (c.colour == "always") return true;
    if (c.colour == "never") return false;
    const char* term = std::getenv("TERM");
    return ::isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR") &&
           !(term && std::string_view(term) == "dumb");
}

int unreachable(const Error& e) {
    fmt::print(stderr, "ballastctl: {}\n", e.message.empty() ? e.describe() : e.message);
    return kExitUnreachable;
}

// A refusal from the daemon, with its details (e.g. every problem of an invalid file).
int refused(const control::Reply& r) {
    fmt::print(stderr, "ballastctl: {}\n", r.error.message);
    for (const auto& d : r.error.details) fmt::print(stderr, "{}\n", d);
    return kExitFailed;
}

// Whatever went wrong talking to the daemon: connect problems and protocol mismatches are
// "unreachable" (2); the daemon's refusals are failures (1).
Result<control::Reply> ask(const Common& c, const Request& req, std::chrono::milliseconds timeout,
                           int fd = -1) {
    auto client = ControlClient::connect(c.socket);
    if (!client) return client.error();
    return client->call(req, timeout, fd);
}

// "web", "192.0.2.1:80", "192.0.2.1:80/udp", "[2001:db8::1]:443/tcp", "fwmark:4096",
// "fwmark:4096/ipv6". Names never contain ':'.
std::optional<control::ServiceRef> parse_service(const std::string& text, std::string& error) {
    if (text.find(':') == std::string::npos) return control::ServiceRef{text};
    std::string body = text, proto = "tcp";
    if (auto slash = body.rfind('/'); slash != std::string::npos) {
        proto = body.substr(slash + 1);
        body = body.substr(0, slash);
    }
    if (body.rfind("fwmark:", 0) == 0) {
        char* end = nullptr;
        const auto mark = std::strtoul(body.c_str() + 7, &end, 10);
        if (*end || mark == 0 || mark > 0xffffffffUL ||
            (proto != "tcp" && proto != "ipv4" && proto != "ipv6")) {
            error = "service '" + text + "': expected fwmark:N or fwmark:N/ipv6";
            return std::nullopt;
        }
        return control::ServiceRef{model::ServiceKey::mark(static_cast<uint32_t>(mark),
                                                           proto == "ipv6" ? AF_INET6 : AF_INET)};
    }
    auto ep = model::Endpoint::parse(body);
    auto p = model::parse_protocol(proto);
    if (!ep || !p || ep->port == 0) {
        error = "service '" + text +
                "': expected a name, VIP:PORT[/tcp|udp|sctp] ([v6]:PORT for IPv6) or fwmark:N";
        return std::nullopt;
    }
    return control::ServiceRef{model::ServiceKey::inet(*p, ep->addr, ep->port)};
}

std::optional<model::RealKey> parse_real(const std::string& text, std::string& error) {
    auto ep = model::Endpoint::parse(text, uint16_t{0});
    if (!ep) {
        error = "real server '" + text + "': expected ADDRESS:PORT ([v6]:PORT for IPv6)";
        return std::nullopt;
    }
    return model::RealKey{ep->addr, ep->port};
}

size_t terminal_rows() {
    struct winsize ws {};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) return ws.ws_row;
    return 0;
}

int do_status(const Common& c, const std::string& service, bool fresh) {
    Request req;
    req.verb = Verb::status;
    req.fresh = fresh;
    if (!service.empty()) {
        std::string error;
        req.service = parse_service(service, error);
        if (!req.service) {
            fmt::print(stderr, "ballastctl: {}\n", error);
            return kExitFailed;
        }
    }
    auto reply = ask(c, req, 60s);
    if (!reply) return unreachable(reply.error());
    if (!reply->ok) return refused(*reply);
    if (c.output == "json") {
        fmt::print("{}\n", boost::json::serialize(reply->result));
        return 0;
    }
    auto view = control::status_from_json(reply->result);
    if (!view) return unreachable(view.error());
    fmt::print("{}", control::render_status(*view, {use_colour(c), 0}));
    return 0;
}

int do_override(const Common& c, Verb verb, const std::string& real, const std::string& service,
                int64_t weight) {
    std::string error;
    Request req;
    req.verb = verb;
    req.real = parse_real(real, error);
    if (!req.real) {
        fmt::print(stderr, "ballastctl: {}\n", error);
        return kExitFailed;
    }
    if (!service.empty()) {
        req.service = parse_service(service, error);
        if (!req.service) {
            fmt::print(stderr, "ballastctl: {}\n", error);
            return kExitFailed;
        }
    }
    req.weight = static_cast<model::Weight>(weight);
    auto reply = ask(c, req, 30s);
    if (!reply) return unreachable(reply.error());
    if (!reply->ok) return refused(*reply);
    const auto* msg =
        reply->result.is_object() ? reply->result.as_object().if_contains("message") : nullptr;
    fmt::print("{}\n", msg && msg->is_string() ? std::string(msg->as_string()) : "done");
    return 0;
}

int do_reload(const Common& c) {
    Request req;
    req.verb = Verb::reload;
    auto reply = ask(c, req, 300s);
    if (!reply) return unreachable(reply.error());
    if (!reply->ok) return refused(*reply);
    auto view = control::reload_from_json(reply->result);
    if (!view) return unreachable(view.error());
    fmt::print("{}", control::render_reload(*view));
    return 0;
}

// plan / check-config: the file is opened here, with this user's permissions, and its
// descriptor passed to the daemon.
int do_file(const Common& c, Verb verb, const std::string& file) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fmt::print(stderr, "ballastctl: cannot read {}: {}\n", file, std::strerror(errno));
        return kExitFailed;
    }
    Request req;
    req.verb = verb;
    req.file = file;
    auto reply = ask(c, req, 300s, fd);
    ::close(fd);
    if (!reply) return unreachable(reply.error());
    if (!reply->ok) return refused(*reply);
    if (verb == Verb::check_config) {
        const auto& o = reply->result.as_object();
        fmt::print("{}: OK: {}\n", file,
                   o.if_contains("summary") ? std::string(o.at("summary").as_string()) : "");
        return 0;
    }
    if (c.output == "json") {
        fmt::print("{}\n", boost::json::serialize(reply->result));
        return 0;
    }
    auto view = control::plan_from_json(reply->result);
    if (!view) return unreachable(view.error());
    fmt::print("{}", control::render_plan(*view, {use_colour(c), 0}));
    return 0;
}

int do_top(const Common& c, double interval, int iterations) {
    auto client = ControlClient::connect(c.socket);
    if (!client) return unreachable(client.error());
    const bool tty = ::isatty(STDOUT_FILENO);
    Request req;
    req.verb = Verb::status;
    req.fresh = true;
    for (int i = 0; iterations <= 0 || i < iterations; ++i) {
        if (i > 0) std::this_thread::sleep_for(std::chrono::duration<double>(interval));
        auto reply = client->call(req, 60s);
        if (!reply) return unreachable(reply.error());
        if (!reply->ok) return refused(*reply);
        auto view = control::status_from_json(reply->result);
        if (!view) return unreachable(view.error());
        const std::string screen =
            control::render_top(*view, {use_colour(c), tty ? terminal_rows() : 0});
        // On a terminal the view refreshes in place; in a pipe each refresh follows the last.
        if (tty)
            fmt::print("\x1b[H\x1b[2J{}", screen);
        else
            fmt::print("{}{}", i ? "\n" : "", screen);
        std::fflush(stdout);
    }
    return 0;
}

int do_events(const Common& c, size_t backlog) {
    auto client = ControlClient::connect(c.socket);
    if (!client) return unreachable(client.error());
    Request req;
    req.verb = Verb::events;
    req.backlog = backlog;
    auto reply = client->call(req, 30s);
    if (!reply) return unreachable(reply.error());
    if (!reply->ok) return refused(*reply);
    const bool colour = use_colour(c);
    for (;;) {
        auto line = client->read_line(std::chrono::hours(24));
        if (!line) return unreachable(line.error());
        if (!*line) continue;
        const auto* ev = std::get_if<control::EventLine>(&**line);
        if (!ev) continue;
        if (c.output == "json") {
            fmt::print("{}\n", boost::json::serialize(ev->event));
        } else {
            auto view = control::event_from_json(ev->event);
            if (!view) return unreachable(view.error());
            fmt::print("{}", control::render_event(*view, {colour, 0}));
        }
        std::fflush(stdout);
    }
}

}  // namespace

bool is_daemon_verb(std::string_view word) {
    return std::find(kVerbs.begin(), kVerbs.end(), word) != kVerbs.end();
}

int run_daemon_verb(int argc, char** argv) {
    const std::string verb = argv[0];
    CLI::App app{"ballastctl " + verb};
    app.name("ballastctl " + verb);
    Common common;
    std::string real, service, file;
    int64_t weight = 0;
    bool fresh = false;
    double interval = 2.0;
    int iterations = 0;
    size_t backlog = 0;
    if (verb == "status") {
        app.description(
            "every service and real server: health and since when, weights and why, "
            "connections and rates; the kernel's sync state");
        add_common(app, common, true);
        app.add_option("service", service, "only this service (name, VIP:PORT[/proto], fwmark:N)");
        app.add_flag("--fresh", fresh, "counters from a dump made now (else: the last resync's)");
    } else if (verb == "drain" || verb == "enable" || verb == "weight") {
        app.description(
            verb == "drain" ? "weight 0 for a real server (kept in IPVS: its connections finish); "
                              "survives reloads and restarts"
            : verb == "enable" ? "lift a drain or weight override"
                               : "replace a real server's configured weight until enabled again");
        add_common(app, common, false);
        app.add_option("real", real, "the real server, ADDRESS:PORT")->required();
        if (verb == "weight")
            app.add_option("weight", weight, "0..65535")->required()->check(CLI::Range(0, 65535));
        app.add_option("-s,--service", service,
                       "only in this service (name, VIP:PORT[/proto], fwmark:N); default: in "
                       "every service that has the real server");
    } else if (verb == "reload") {
        app.description("re-read ballastd's config file and apply it (as systemctl reload)");
        add_common(app, common, false);
    } else if (verb == "plan" || verb == "check-config") {
        app.description(verb == "plan" ? "what a reload of FILE would change, without applying it"
                                       : "validate FILE with the running daemon's rules");
        add_common(app, common, verb == "plan");
        app.add_option("file", file, "config file")->required();
    } else if (verb == "top") {
        app.description("live connection, packet and byte rates per service and real server");
        add_common(app, common, false);
        app.add_option("-i,--interval", interval, "seconds between refreshes")
            ->capture_default_str()
            ->check(CLI::Range(0.1, 3600.0));
        app.add_option("-n,--iterations", iterations, "stop after N refreshes (0: never)");
    } else if (verb == "events") {
        app.description("follow state changes as they happen");
        add_common(app, common, true);
        app.add_option("--backlog", backlog, "first show the last N events (up to 1000)")
            ->check(CLI::Range(0, 1000));
    }
    CLI11_PARSE(app, argc, argv);
    if (verb == "status") return do_status(common, service, fresh);
    if (verb == "drain") return do_override(common, Verb::drain, real, service, 0);
    if (verb == "enable") return do_override(common, Verb::enable, real, service, 0);
    if (verb == "weight") return do_override(common, Verb::weight, real, service, weight);
    if (verb == "reload") return do_reload(common);
    if (verb == "plan") return do_file(common, Verb::plan, file);
    if (verb == "check-config") return do_file(common, Verb::check_config, file);
    if (verb == "top") return do_top(common, interval, iterations);
    return do_events(common, backlog);
}

}  // namespace ballast::cli
