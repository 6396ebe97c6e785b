#include "ballast/control/hub.hpp"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>

#include <cerrno>
#include <cstdio>
#include <optional>
#include <random>

#include <boost/asio/post.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/json.hpp>

#include "ballast/config/config.hpp"
#include "ballast/control/director_views.hpp"
#include "ballast/control/json_fields.hpp"
#include "ballast/control/status_page.hpp"

namespace ballast::control {

namespace asio = boost::asio;
namespace json = boost::json;
namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;

namespace {

// A config file a client passed: its whole content, or why not.
constexpr size_t kMaxConfigBytes = 64 * 1024 * 1024;

Result<std::string> read_all(int fd, const std::string& name) {
    std::string out;
    char buf[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return make_error(errno, "read", name);
        }
        if (n == 0) return out;
        if (out.size() + static_cast<size_t>(n) > kMaxConfigBytes)
            return make_error(EFBIG, "read", name,
                              name + ": larger than " + std::to_string(kMaxConfigBytes) + " bytes");
        out.append(buf, static_cast<size_t>(n));
    }
}

std::string random_token() {
    std::random_device rd;
    std::string out;
    char hex[9];
    for (int i = 0; i < 4; ++i) {
        std::snprintf(hex, sizeof hex, "%08x", rd());
        out += hex;
    }
    return out;
}

bool is_loopback(const model::IpAddress& a) {
    if (a.is_v4()) return a.bytes[0] == 127;
    static const auto v6 = model::IpAddress::parse("::1");
    return a == *v6;
}

ProtocolError error_from(const Error& e, ErrorCode code) {
    return ProtocolError{code, e.message.empty() ? e.describe() : e.message, {}};
}

std::string describe_call(const Request& r) {
    std::string out(to_string(r.verb));
    if (r.real) out += " " + r.real->to_string();
    if (r.verb == Verb::weight) out += " " + std::to_string(r.weight);
    if (r.real) out += r.service ? " in " + describe(*r.service) : " in every service";
    return out;
}

}  // namespace

HubSettings HubSettings::from(const model::DirectorConfig& config, std::string daemon,
                              std::string config_path) {
    HubSettings s;
    s.daemon = std::move(daemon);
    s.config_path = std::move(config_path);
    s.control_socket = config.director.control_socket;
    s.control_group = config.director.control_group;
    s.status_listen = config.director.status_listen;
    s.status_write = config.director.status_write;
    return s;
}

Hub::Hub(asio::io_context& loop, daemon::Director& director, HubSettings settings, LoopHooks hooks)
    : loop_(loop),
      director_(director),
      settings_(std::move(settings)),
      hooks_(std::move(hooks)),
      lateness_timer_(loop),
      metrics_(settings_.daemon) {}

Hub::~Hub() {
    stop();
}

daemon::Now Hub::now() const {
    if (hooks_.now) return hooks_.now();
    return daemon::Now{Clock::now(), std::chrono::system_clock::now()};
}

Status Hub::start() {
    auto gid = control_gid(settings_.control_group);
    if (!gid) return gid.error();
    if (!settings_.control_socket.empty()) {
        control_ = std::make_unique<ControlServer>(ops_, static_cast<ControlBackend&>(*this), *gid,
                                                   settings_.control);
        if (auto st = control_->listen(settings_.control_socket); !st)
            return make_error(
                st.error().code, "control socket", settings_.control_socket,
                "control socket " + settings_.control_socket + ": " + st.error().describe());
    }
    if (settings_.status_listen) {
        http_ =
            std::make_unique<HttpServer>(ops_, static_cast<HttpHandler&>(*this), settings_.http);
        if (auto st = http_->listen(*settings_.status_listen); !st)
            return make_error(st.error().code, "status listener",
                              settings_.status_listen->to_string(),
                              "director.status_listen " + settings_.status_listen->to_string() +
                                  ": " + st.error().describe());
        http_port_ = http_->port();
        writes_allowed_ = settings_.status_write && is_loopback(settings_.status_listen->addr);
        if (writes_allowed_) token_ = random_token();
        if (settings_.status_write && !writes_allowed_)
            log(daemon::Severity::warning,
                "director.status_write is ignored: the status page listens on " +
                    settings_.status_listen->to_string() +
                    ", not on a loopback address, so it offers no drain/enable buttons");
    }
    publish({});
    arm_lateness_probe();
    ops_guard_.emplace(ops_.get_executor());
    ops_thread_ = std::thread([this] {
        // The status thread yields to the daemon's loop: a scrape of a large table competes
        // with health verdicts' kernel edits for the CPU, and the edits come first. Named for
        // top -H and /proc.
        ::pthread_setname_np(::pthread_self(), "ballast-status");
        const auto tid = static_cast<id_t>(::gettid());
        errno = 0;
        const int nice = ::getpriority(PRIO_PROCESS, tid);  // the loop's, inherited
        if (errno == 0) ::setpriority(PRIO_PROCESS, tid, std::min(nice + kStatusThreadNice, 19));
        ops_.run();
    });
    return {};
}

void Hub::stop() {
    if (stopped_) return;
    stopped_ = true;
    alive_.reset();
    lateness_timer_.cancel();
    if (ops_thread_.joinable()) {
        ops_guard_.reset();
        ops_.stop();
        ops_thread_.join();
    }
    // The status thread is gone: closing its servers here races with nothing.
    if (control_) control_->stop();
    if (http_) http_->stop();
    dump_pool_.stop();
    dump_pool_.join();
}

// ---------------------------------------------------------------------------------------
// Loop thread: publishing

void Hub::sync_checks() {
    runs_ = std::make_shared<CheckRuns>(director_.shared_checks(), unix_seconds(now().wall),
                                        runs_.get());
    config_index_.clear();
    const auto& services = director_.config().services;
    for (size_t i = 0; i < services.size(); ++i) config_index_.emplace(services[i].key, i);
    std::erase_if(transitions_, [&](const auto& kv) {
        auto c = config_index_.find(kv.first.first);
        if (c == config_index_.end()) return true;
        const auto& reals = services[c->second].reals;
        return std::none_of(reals.begin(), reals.end(),
                            [&](const auto& r) { return r.key == kv.first.second; });
    });
}

void Hub::republish(const model::ServiceKey& key) {
    auto d = director_.decisions().find(key);
    auto c = config_index_.find(key);
    if (d == director_.decisions().end() || c == config_index_.end()) {
        published_.set_service(key, nullptr);
        return;
    }
    const auto& cfg = director_.config().services[c->second];
    const auto& decision = *d->second;
    auto entry = std::make_shared<PublishedService>();
    entry->decision = d->second;
    entry->scheduler = cfg.spec.scheduler;
    entry->check_type = std::string(check_type_of(cfg));
    entry->runs = runs_;
    // The service's checks as plan_checks keys them: its own check (when it has one) with its
    // port folded into the target, and the agent check of reals with an agent_port.
    std::optional<model::CheckSpec> main_spec, agent_spec;
    if (cfg.check && cfg.check->type != model::CheckType::none) {
        main_spec = *cfg.check;
        main_spec->port.reset();
    }
    const auto run_of = [&](const model::Endpoint& target, const model::CheckSpec& spec) {
        return runs_->find(health::CheckRef{target, spec});
    };
    const size_t n = decision.reals.size();
    if (main_spec) entry->main.resize(n, CheckRuns::kNone);
    for (size_t i = 0; i < n; ++i) {
        const auto& r = decision.reals[i];
        if (r.override_) {
            entry->every_service.resize(n);  // left empty while no real has an override
            entry->every_service[i] =
                override_for_every_service(director_.overrides(), key, r.real);
        }
        if (r.sorry || i >= cfg.reals.size()) continue;
        const auto& real = cfg.reals[i];  // decisions are in config order, the sorry server last
        if (main_spec)
            entry->main[i] =
                run_of({real.key.addr, cfg.check->port.value_or(real.key.port)}, *main_spec);
        if (real.agent_port) {
            if (!agent_spec)
                agent_spec = health::agent_check_spec(cfg, director_.config().default_check);
            entry->agent.resize(n, CheckRuns::kNone);  // left empty while no real has an agent
            entry->agent[i] = run_of({real.key.addr, *real.agent_port}, *agent_spec);
        }
        if (auto t = transitions_.find({key, r.real}); t != transitions_.end()) {
            entry->transitions.resize(n);  // left empty until a real of the service had one
            entry->transitions[i] = t->second;
        }
    }
    published_.set_service(key, std::move(entry));
}

void Hub::publish_counters() {
    const auto& st = director_.reconcile_status();
    if (st.resyncs == seen_resyncs_) return;
    const auto& counters = director_.counters();
    if (seen_resyncs_ == UINT64_MAX && counters->empty()) {
        seen_resyncs_ = st.resyncs;
        return;
    }
    seen_resyncs_ = st.resyncs;
    published_.set_counters(counters);
}

void Hub::publish(const std::vector<daemon::Event>& events) {
    bool full = !synced_;
    for (const auto& e : events)
        if (e.kind == daemon::EventKind::reload) full = true;
    auto redecided = director_.take_redecided();
    if (full) {
        sync_checks();
        std::vector<model::ServiceKey> order;
        for (const auto& s : director_.config().services) {
            republish(s.key);
            order.push_back(s.key);
        }
        published_.set_order(std::move(order));
        synced_ = true;
    } else {
        for (const auto& key : redecided) republish(key);
    }
    published_.set_reconcile(reconcile_view(director_.reconcile_status(), now().steady));
    publish_counters();
    if (events.empty()) return;
    std::vector<EventView> views;
    views.reserve(events.size());
    for (const auto& e : events) {
        views.push_back(event_view(e));
        metrics_.count_event(views.back().severity, views.back().kind);
    }
    published_.add_events(views);
    if (!control_) return;
    bool post = false;
    {
        std::lock_guard lock(pending_events_mutex_);
        post = pending_events_.empty();
        pending_events_.insert(pending_events_.end(), std::make_move_iterator(views.begin()),
                               std::make_move_iterator(views.end()));
    }
    if (!post) return;  // the job posted before has not taken its batch yet: it takes these too
    asio::post(ops_, [this] {
        std::vector<EventView> batch;
        {
            std::lock_guard lock(pending_events_mutex_);
            batch.swap(pending_events_);
        }
        for (const auto& v : batch) control_->publish_event(encode_event_line(to_json(v)));
    });
}

void Hub::on_run_finished(const health::RunResult& run) {
    const auto took = run.finished - run.started;
    metrics_.observe_check(run.check.spec->type, run.result.up, took);
    const uint32_t i = runs_ ? runs_->find(run.check) : CheckRuns::kNone;
    if (i == CheckRuns::kNone) return;
    const auto n = now();
    const auto at = n.wall - std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                 n.steady - run.finished);
    runs_->record_run(i, unix_seconds(at), run.result.up, run.result.reason,
                      std::chrono::duration<double, std::milli>(took).count());
}

void Hub::on_health_event(const health::HealthEvent& ev) {
    if (!ev.transition) return;
    const uint32_t i = runs_ ? runs_->find(ev.check) : CheckRuns::kNone;
    if (i == CheckRuns::kNone) return;
    const auto n = now();
    const auto at =
        n.wall - std::chrono::duration_cast<std::chrono::system_clock::duration>(n.steady - ev.at);
    const auto before = runs_->record_state(i, ev.state, unix_seconds(at));
    // The first result (from "unknown") is where a check starts, not a change.
    if (before == health::State::unknown) return;
    auto users = director_.checks().checks.find(ev.check);
    if (users == director_.checks().checks.end()) return;
    const std::string to(health::to_string(ev.state));
    const std::string why = reason_class(ev.reason);
    const auto& services = director_.config().services;
    for (const auto& u : users->second) {
        auto& counts = transitions_[{health::user_service(services, u).key,
                                     health::user_real(services, u).key}];
        auto c = std::find_if(counts.begin(), counts.end(),
                              [&](const auto& t) { return t.to == to && t.reason == why; });
        if (c == counts.end())
            counts.push_back(TransitionCount{to, why, 1});
        else
            ++c->count;
    }
}

void Hub::observe(std::string_view trigger, std::chrono::nanoseconds took) {
    metrics_.observe_reconcile(trigger, took);
}

void Hub::observe_dump(std::chrono::nanoseconds took) {
    metrics_.observe_dump(took);
}

void Hub::arm_lateness_probe() {
    lateness_due_ = Clock::now() + settings_.lateness_period;
    lateness_timer_.expires_at(lateness_due_);
    lateness_timer_.async_wait(
        [this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
            if (ec || alive.expired()) return;
            metrics_.observe_loop_lateness(Clock::now() - lateness_due_);
            arm_lateness_probe();
        });
}

// ---------------------------------------------------------------------------------------
// Status thread: requests

void Hub::log(daemon::Severity severity, std::string message) {
    if (hooks_.log) hooks_.log(severity, message);
}

std::vector<std::string> Hub::event_backlog(size_t n) {
    std::vector<std::string> lines;
    for (const auto& e : published_.events(n)) lines.push_back(encode_event_line(to_json(e)));
    return lines;
}

void Hub::on_loop(std::function<std::string()> fn, std::function<void(std::string)> reply) {
    asio::post(loop_, [this, alive = std::weak_ptr<int>(alive_), fn = std::move(fn),
                       reply = std::move(reply)]() mutable {
        if (alive.expired()) return;
        std::string line = fn();
        asio::post(ops_, [reply = std::move(reply), line = std::move(line)] { reply(line); });
    });
}

void Hub::handle(ControlCall call, std::function<void(std::string)> reply) {
    const Request& req = call.request;
    const auto verb = req.verb;
    auto counted = [this, verb, reply = std::move(reply)](std::string line) {
        metrics_.count_request(to_string(verb), line.find("\"ok\":true") != std::string::npos);
        reply(std::move(line));
    };
    switch (req.verb) {
        case Verb::hello: {
            HelloView h{settings_.daemon, static_cast<int64_t>(::getpid()), settings_.config_path};
            counted(encode_ok(req.id, to_json(h)));
            return;
        }
        case Verb::status:
            status(req, std::move(counted));
            return;
        case Verb::plan:
        case Verb::check_config:
            read_config_reply(req, std::move(call.file), req.verb == Verb::plan,
                              std::move(counted));
            return;
        case Verb::drain:
        case Verb::enable:
        case Verb::weight: {
            log(daemon::Severity::notice,
                "control: " + describe_call(req) + " from " + call.peer.describe());
            OverrideRequest o{req.verb, req.service, *req.real, req.weight, call.peer.describe()};
            on_loop([this, id = req.id, o] { return apply_override(id, o); }, std::move(counted));
            return;
        }
        case Verb::reload:
            log(daemon::Severity::notice, "control: reload from " + call.peer.describe());
            on_loop(
                [this, id = req.id] {
                    auto r = hooks_.reload ? hooks_.reload() : ReloadResult{};
                    if (!r.problems.empty())
                        return encode_error(
                            id, ProtocolError{
                                    ErrorCode::invalid_config,
                                    "reload rejected: " + std::to_string(r.problems.size()) +
                                        (r.problems.size() == 1 ? " error in " : " errors in ") +
                                        r.file + "; the running configuration stays",
                                    r.problems});
                    if (!r.outcome)
                        return encode_error(id,
                                            ProtocolError{ErrorCode::failed, "reload failed", {}});
                    return encode_ok(id, to_json(reload_view(r.file, r.services, *r.outcome)));
                },
                std::move(counted));
            return;
        case Verb::events:
            return;  // the server subscribes the connection itself
    }
}

std::string Hub::apply_override(const json::value& id, const OverrideRequest& r) {
    const auto& cfg = director_.config();
    std::optional<model::ServiceKey> service;
    if (r.service) {
        const model::ServiceConfig* found = nullptr;
        for (const auto& s : cfg.services) {
            const bool match = std::holds_alternative<std::string>(*r.service)
                                   ? s.name == std::get<std::string>(*r.service)
                                   : s.key == std::get<model::ServiceKey>(*r.service);
            if (match) found = &s;
        }
        if (!found)
            return encode_error(id, ProtocolError{ErrorCode::not_found,
                                                  "no service " + describe(*r.service) +
                                                      " in the running configuration",
                                                  {}});
        service = found->key;
    }
    const policy::OverrideKey key{service, r.real};
    const auto n = now();
    Status st;
    std::string message;
    if (r.verb == Verb::enable) {
        const auto& all = director_.overrides();
        auto everywhere = all.find(policy::OverrideKey{std::nullopt, r.real});
        if (service && !all.count(key) && everywhere != all.end())
            return encode_error(
                id, ProtocolError{ErrorCode::not_found,
                                  r.real.to_string() + " is " +
                                      (everywhere->second.kind == policy::Override::Kind::drain
                                           ? "drained"
                                           : "weighted") +
                                      " in every service (" + everywhere->second.describe() +
                                      "); enable it without a service to lift that",
                                  {}});
        st = director_.clear_override(key, n);
        message = key.to_string() + ": override cleared";
    } else {
        policy::Override ov;
        ov.kind =
            r.verb == Verb::drain ? policy::Override::Kind::drain : policy::Override::Kind::weight;
        ov.weight = r.weight;
        ov.set_by = r.set_by;
        ov.set_at = std::chrono::time_point_cast<std::chrono::seconds>(n.wall);
        st = director_.set_override(key, ov, n);
        message = key.to_string() + ": " + ov.describe();
    }
    if (!st)
        return encode_error(
            id, error_from(st.error(),
                           st.error().code == ENOENT ? ErrorCode::not_found : ErrorCode::failed));
    if (hooks_.settle) hooks_.settle();
    return encode_ok(id, json::object{{"override", key.to_string()}, {"message", message}});
}

StatusView Hub::status_view(const std::optional<ServiceRef>& only, bool& found) {
    auto snap = published_.snapshot();
    StatusView s;
    s.daemon = settings_.daemon;
    s.config = settings_.config_path;
    s.pid = ::getpid();
    s.now = unix_seconds(std::chrono::system_clock::now());
    if (snap.counters) s.counters_at = snap.counters->at;
    s.reconcile = std::move(snap.reconcile);
    s.recent_events = std::move(snap.recent_events);
    found = !only;
    s.services.reserve(snap.services.size());
    for (const auto& entry : snap.services) {
        if (only) {
            const bool match = std::holds_alternative<std::string>(*only)
                                   ? entry->name() == std::get<std::string>(*only)
                                   : entry->key() == std::get<model::ServiceKey>(*only);
            if (!match) continue;
            found = true;
        }
        s.services.push_back(complete_view(*entry, snap.counters.get()));
    }
    return s;
}

void Hub::status(const Request& req, std::function<void(std::string)> reply) {
    auto answer = [this, id = req.id, only = req.service, reply = std::move(reply)] {
        bool found = false;
        auto view = status_view(only, found);
        if (!found) {
            reply(encode_error(
                id, ProtocolError{ErrorCode::not_found,
                                  "no service " + describe(*only) + " in the running configuration",
                                  {}}));
            return;
        }
        reply(encode_ok(id, to_json(view)));
    };
    if (req.fresh)
        with_fresh_counters(std::move(answer));
    else
        answer();
}

void Hub::with_fresh_counters(std::function<void()> then) {
    const auto t = Clock::now();
    const auto min_gap =
        std::max<Clock::duration>(settings_.fresh_interval, last_sample_took_ * 10);
    if (!hooks_.dump || (last_sample_ && t - *last_sample_ < min_gap)) {
        then();
        return;
    }
    fresh_waiters_.push_back(std::move(then));
    if (sampling_) return;
    sampling_ = true;
    asio::post(dump_pool_, [this] {
        const auto t0 = Clock::now();
        auto result = hooks_.dump();
        const auto took = Clock::now() - t0;
        const auto wall = std::chrono::system_clock::now();
        // Encoded here, off the status thread, and the dump's maps dropped here.
        std::shared_ptr<const PublishedCounters> counters;
        std::optional<Error> failure;
        if (result)
            counters = kernel::take_counters(*result, unix_seconds(wall));
        else
            failure = result.error();
        asio::post(ops_, [this, counters = std::move(counters), failure = std::move(failure),
                          took]() mutable {
            sampling_ = false;
            last_sample_ = Clock::now();
            last_sample_took_ = took;
            if (counters) {
                metrics_.observe_dump(took);
                published_.set_counters(std::move(counters));
            } else {
                log(daemon::Severity::warning,
                    "fresh counters: cannot dump IPVS: " + failure->describe());
            }
            auto waiters = std::exchange(fresh_waiters_, {});
            for (auto& w : waiters) w();
        });
    });
}

std::string Hub::read_config_reply(const Request& req, UniqueFd file, bool plan,
                                   std::function<void(std::string)> reply) {
    auto text = read_all(file.get(), req.file);
    if (!text) {
        reply(encode_error(req.id, error_from(text.error(), ErrorCode::bad_argument)));
        return {};
    }
    auto loaded = config::load_string(*text, req.file);
    if (!loaded.ok()) {
        ProtocolError e{ErrorCode::invalid_config,
                        req.file + ": " + std::to_string(loaded.diagnostics.size()) +
                            (loaded.diagnostics.size() == 1 ? " error" : " errors"),
                        {}};
        for (const auto& d : loaded.diagnostics) e.details.push_back(config::format(d));
        reply(encode_error(req.id, e));
        return {};
    }
    if (!plan) {
        reply(encode_ok(req.id, json::object{{"file", req.file},
                                             {"summary", config::summary(*loaded.config)}}));
        return {};
    }
    auto next = std::make_shared<model::DirectorConfig>(std::move(*loaded.config));
    on_loop(
        [this, id = req.id, file_name = req.file, next] {
            const auto outcome = director_.preview(*next, now());
            return encode_ok(id, to_json(plan_view(file_name, outcome, director_.config(), *next,
                                                   director_.programmed())));
        },
        std::move(reply));
    return {};
}

// ---------------------------------------------------------------------------------------
// Status thread: HTTP

namespace {

HttpResponse text_response(unsigned status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
}

HttpResponse json_response(unsigned status, const json::value& v) {
    HttpResponse r;
    r.status = status;
    r.content_type = "application/json";
    r.body = json::serialize(v);
    return r;
}

// A Host header naming this listener by a loopback literal or "localhost" (a DNS name that
// resolves here by rebinding must not get the write token).
bool loopback_host(std::string_view host, uint16_t port) {
    const std::string suffix = ":" + std::to_string(port);
    if (host.size() <= suffix.size() || host.substr(host.size() - suffix.size()) != suffix)
        return false;
    host.remove_suffix(suffix.size());
    if (host == "localhost") return true;
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    auto a = model::IpAddress::parse(host);
    return a && is_loopback(*a);
}

}  // namespace

HttpResponse Hub::http_status(bool) {
    bool found = true;
    auto view = to_json(status_view(std::nullopt, found));
    view.as_object()["write"] = writes_allowed_;
    return json_response(200, view);
}

void Hub::handle(const HttpRequest& req, const asio::ip::tcp::endpoint& peer,
                 std::function<void(HttpResponse)> done) {
    const std::string target(req.target());
    const std::string path = target.substr(0, target.find('?'));
    const std::string host(req[http::field::host]);
    const bool trusted_host = writes_allowed_ && loopback_host(host, http_port_);
    // The label is one of the served paths or "other": a peer requesting random paths must not
    // grow the metrics without bound.
    static constexpr std::array<std::string_view, 5> kServed{"/", "/metrics", "/api/v1/status",
                                                             "/api/v1/drain", "/api/v1/enable"};
    const bool served = std::find(kServed.begin(), kServed.end(), path) != kServed.end();
    auto answer = [this, label = "http " + (served ? path : std::string("other")),
                   done = std::move(done)](HttpResponse r) {
        metrics_.count_request(label, r.status < 400);
        done(std::move(r));
    };
    if (req.method() == http::verb::get && path == "/") {
        HttpResponse r;
        r.content_type = "text/html; charset=utf-8";
        r.body = render_status_page(trusted_host ? token_ : std::string(), settings_.daemon);
        r.headers = {{"Content-Security-Policy",
                      "default-src 'none'; script-src 'unsafe-inline'; style-src "
                      "'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; "
                      "form-action 'none'; frame-ancestors 'none'"},
                     {"X-Content-Type-Options", "nosniff"},
                     {"X-Frame-Options", "DENY"},
                     {"Referrer-Policy", "no-referrer"}};
        answer(std::move(r));
        return;
    }
    if (req.method() == http::verb::get && path == "/metrics") {
        ServerGauges g;
        if (control_) {
            g.control_connections = control_->connections();
            g.event_subscribers = control_->subscribers();
        }
        if (http_) g.http_connections = http_->connections();
        HttpResponse r;
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        const bool gzip =
            std::string_view(req[http::field::accept_encoding]).find("gzip") != std::string::npos;
        r.parts = metrics_
                      .render(published_.snapshot(), g,
                              gzip ? Metrics::Encoding::gzip : Metrics::Encoding::identity)
                      .parts;
        if (gzip) r.headers.emplace_back("Content-Encoding", "gzip");
        r.headers.emplace_back("Vary", "Accept-Encoding");
        answer(std::move(r));
        return;
    }
    if (req.method() == http::verb::get && path == "/api/v1/status") {
        const bool fresh = target.find("fresh=1") != std::string::npos;
        if (fresh)
            with_fresh_counters([this, answer] { answer(http_status(true)); });
        else
            answer(http_status(false));
        return;
    }
    const bool drain = path == "/api/v1/drain", enable = path == "/api/v1/enable";
    if (drain || enable) {
        if (req.method() != http::verb::post) {
            answer(text_response(405, "use POST\n"));
            return;
        }
        // No CSRF: writes need the listener on loopback with status_write, a Host naming it
        // (not a rebound DNS name), the page's token in a header (which a cross-origin page
        // can neither read nor send without a preflight we never grant) and, when the browser
        // says where the request came from, this very origin.
        if (!writes_allowed_) {
            answer(text_response(403,
                                 "writes are off: set director.status_write = true with a "
                                 "loopback status_listen\n"));
            return;
        }
        const std::string origin(req[http::field::origin]);
        if (!trusted_host || req["X-Ballast-Token"] != token_ ||
            (!origin.empty() && origin != "http://" + host)) {
            answer(text_response(403, "forbidden: not the status page's own request\n"));
            return;
        }
        boost::system::error_code ec;
        auto body = json::parse(req.body(), ec);
        JsonFields f(body, "request");
        OverrideRequest o;
        o.verb = drain ? Verb::drain : Verb::enable;
        if (!ec) {
            const auto real = f.str("real");
            if (auto e = model::Endpoint::parse(real, uint16_t{0}); e)
                o.real = model::RealKey{e->addr, e->port};
            else if (f.ok())
                f.fail("\"real\" must be \"addr:port\"");
            if (auto s = f.opt_str("service"); s) o.service = ServiceRef{*s};
        }
        if (ec || !f.ok()) {
            answer(json_response(
                400, json::object{{"error", ec ? std::string("not JSON") : f.problem()}}));
            return;
        }
        boost::system::error_code pe;
        o.set_by =
            "status page from " + peer.address().to_string(pe) + ":" + std::to_string(peer.port());
        log(daemon::Severity::notice, "control: " + std::string(drain ? "drain " : "enable ") +
                                          o.real.to_string() + " from the " + o.set_by);
        on_loop(
            [this, o] { return apply_override({}, o); },
            [answer](const std::string& line) {
                auto decoded = decode_line(line);
                const auto* r = std::get_if<Reply>(&decoded);
                if (r && r->ok)
                    answer(json_response(200, r->result));
                else
                    answer(json_response(r && r->error.code == ErrorCode::not_found ? 404 : 500,
                                         json::object{{"error", r ? r->error.message : "failed"}}));
            });
        return;
    }
    if (path == "/" || path == "/metrics" || path == "/api/v1/status") {
        answer(text_response(405, "use GET\n"));
        return;
    }
    answer(text_response(404, "not found: try /, /metrics or /api/v1/status\n"));
}

}  // namespace ballast::control
