#include "ballast/control/protocol.hpp"

#include <array>

#include <boost/json.hpp>

#include "ballast/control/json_fields.hpp"
#include "ballast/state/json_keys.hpp"

namespace ballast::control {

namespace json = boost::json;

namespace {

constexpr std::array<std::pair<Verb, std::string_view>, 9> kVerbs{{
    {Verb::hello, "hello"},
    {Verb::status, "status"},
    {Verb::plan, "plan"},
    {Verb::check_config, "check-config"},
    {Verb::drain, "drain"},
    {Verb::enable, "enable"},
    {Verb::weight, "weight"},
    {Verb::reload, "reload"},
    {Verb::events, "events"},
}};

constexpr std::array<std::pair<ErrorCode, std::string_view>, 10> kCodes{{
    {ErrorCode::parse, "parse"},
    {ErrorCode::too_large, "too-large"},
    {ErrorCode::version, "version"},
    {ErrorCode::unknown_verb, "unknown-verb"},
    {ErrorCode::bad_argument, "bad-argument"},
    {ErrorCode::not_found, "not-found"},
    {ErrorCode::permission, "permission"},
    {ErrorCode::invalid_config, "invalid-config"},
    {ErrorCode::failed, "failed"},
    {ErrorCode::unavailable, "unavailable"},
}};

std::string verb_list() {
    std::string out;
    for (const auto& [v, name] : kVerbs) out += (out.empty() ? "" : ", ") + std::string(name);
    return out;
}

// Which members each verb takes (besides v, id, verb): anything else is a mistake worth
// reporting (a misspelt "servcie" must not silently mean "every service").
bool allowed_member(Verb verb, std::string_view name) {
    switch (verb) {
        case Verb::hello:
        case Verb::reload:
            return false;
        case Verb::status:
            return name == "service" || name == "fresh";
        case Verb::plan:
        case Verb::check_config:
            return name == "file";
        case Verb::drain:
        case Verb::enable:
            return name == "real" || name == "service";
        case Verb::weight:
            return name == "real" || name == "service" || name == "weight";
        case Verb::events:
            return name == "backlog";
    }
    return false;
}

std::optional<ServiceRef> read_service(JsonFields& f) {
    const auto* v = f.find("service");
    if (!v) return std::nullopt;
    if (v->is_string()) {
        if (v->get_string().empty()) {
            f.fail("\"service\" must not be empty");
            return std::nullopt;
        }
        return ServiceRef{std::string(v->get_string())};
    }
    auto key = state::service_key_from_json(*v);
    if (!key) {
        f.fail("\"service\" must be a service's name or its key: " + key.error().message);
        return std::nullopt;
    }
    return ServiceRef{*key};
}

}  // namespace

std::string_view to_string(Verb v) {
    for (const auto& [verb, name] : kVerbs)
        if (verb == v) return name;
    return "?";
}

std::optional<Verb> parse_verb(std::string_view s) {
    for (const auto& [verb, name] : kVerbs)
        if (name == s) return verb;
    return std::nullopt;
}

bool changes_state(Verb v) {
    return v == Verb::drain || v == Verb::enable || v == Verb::weight || v == Verb::reload;
}

bool needs_file(Verb v) {
    return v == Verb::plan || v == Verb::check_config;
}

std::string describe(const ServiceRef& ref) {
    if (const auto* name = std::get_if<std::string>(&ref)) return *name;
    return std::get<model::ServiceKey>(ref).to_string();
}

std::string_view to_string(ErrorCode c) {
    for (const auto& [code, name] : kCodes)
        if (code == c) return name;
    return "failed";
}

std::optional<ErrorCode> parse_error_code(std::string_view s) {
    for (const auto& [code, name] : kCodes)
        if (name == s) return code;
    return std::nullopt;
}

ParsedRequest parse_request(std::string_view line) {
    ParsedRequest out;
    auto fail = [&](ErrorCode code, std::string message) {
        out.outcome = ProtocolError{code, std::move(message), {}};
        return out;
    };
    if (line.size() > kMaxRequestBytes)
        return fail(ErrorCode::too_large,
                    "request larger than " + std::to_string(kMaxRequestBytes) + " bytes");
    boost::system::error_code ec;
    json::value root = json::parse(line, ec);
    if (ec) return fail(ErrorCode::parse, "not JSON: " + ec.message());
    const auto* obj = root.if_object();
    if (!obj) return fail(ErrorCode::parse, "a request must be a JSON object");
    if (const auto* id = obj->if_contains("id")) out.id = *id;

    const auto* v = obj->if_contains("v");
    if (!v)
        return fail(ErrorCode::version, "\"v\" is missing: this daemon speaks protocol version " +
                                            std::to_string(kProtocolVersion));
    if (!v->is_int64() || v->get_int64() != kProtocolVersion)
        return fail(ErrorCode::version, "protocol version " + json::serialize(*v) +
                                            " is not spoken here: this daemon speaks version " +
                                            std::to_string(kProtocolVersion));

    const auto* verb_value = obj->if_contains("verb");
    if (!verb_value || !verb_value->is_string())
        return fail(ErrorCode::bad_argument, "\"verb\" must be a string, one of: " + verb_list());
    auto verb = parse_verb(std::string_view(verb_value->get_string()));
    if (!verb)
        return fail(ErrorCode::unknown_verb, "unknown verb \"" +
                                                 std::string(verb_value->get_string()) +
                                                 "\"; verbs: " + verb_list());
    for (const auto& member : *obj) {
        const std::string_view name = member.key();
        if (name == "v" || name == "id" || name == "verb") continue;
        if (!allowed_member(*verb, name))
            return fail(ErrorCode::bad_argument, "\"" + std::string(name) +
                                                     "\" is not an argument of " +
                                                     std::string(to_string(*verb)));
    }

    Request req;
    req.verb = *verb;
    req.id = out.id;
    JsonFields f(root, "");
    switch (req.verb) {
        case Verb::hello:
        case Verb::reload:
            break;
        case Verb::status:
            req.service = read_service(f);
            req.fresh = f.opt_boolean("fresh").value_or(false);
            break;
        case Verb::plan:
        case Verb::check_config:
            req.file = f.str("file");
            if (f.ok() && req.file.empty()) f.fail("\"file\" must not be empty");
            break;
        case Verb::drain:
        case Verb::enable:
        case Verb::weight: {
            const auto* real = f.find("real");
            if (!real) {
                f.fail("\"real\" is missing: the real server as \"addr:port\"");
            } else if (auto r = state::real_key_from_json(*real); !r) {
                f.fail("\"real\": " + r.error().message);
            } else {
                req.real = *r;
            }
            req.service = read_service(f);
            if (req.verb == Verb::weight)
                req.weight = static_cast<model::Weight>(f.uint("weight", model::kMaxWeight));
            break;
        }
        case Verb::events:
            req.backlog = f.opt_uint("backlog", kMaxEventBacklog).value_or(0);
            break;
    }
    if (!f.ok()) return fail(ErrorCode::bad_argument, f.problem());
    out.outcome = std::move(req);
    return out;
}

std::string encode_request(const Request& r) {
    json::object o;
    o["v"] = kProtocolVersion;
    if (!r.id.is_null()) o["id"] = r.id;
    o["verb"] = std::string(to_string(r.verb));
    if (r.service) {
        if (const auto* name = std::get_if<std::string>(&*r.service))
            o["service"] = *name;
        else
            o["service"] = state::service_key_to_json(std::get<model::ServiceKey>(*r.service));
    }
    if (r.real) o["real"] = state::real_key_to_json(*r.real);
    if (r.verb == Verb::weight) o["weight"] = r.weight;
    if (needs_file(r.verb)) o["file"] = r.file;
    if (r.verb == Verb::status && r.fresh) o["fresh"] = true;
    if (r.verb == Verb::events && r.backlog) o["backlog"] = r.backlog;
    return json::serialize(o) + "\n";
}

std::string encode_ok(const json::value& id, json::value result) {
    json::object o;
    o["v"] = kProtocolVersion;
    if (!id.is_null()) o["id"] = id;
    o["ok"] = true;
    o["result"] = std::move(result);
    return json::serialize(o) + "\n";
}

std::string encode_error(const json::value& id, const ProtocolError& e) {
    json::object err;
    err["code"] = std::string(to_string(e.code));
    err["message"] = e.message;
    if (!e.details.empty()) {
        json::array d;
        for (const auto& line : e.details) d.emplace_back(line);
        err["details"] = std::move(d);
    }
    json::object o;
    o["v"] = kProtocolVersion;
    if (!id.is_null()) o["id"] = id;
    o["ok"] = false;
    o["error"] = std::move(err);
    return json::serialize(o) + "\n";
}

std::string encode_event_line(json::value event) {
    json::object o;
    o["v"] = kProtocolVersion;
    o["event"] = std::move(event);
    return json::serialize(o) + "\n";
}

std::variant<Reply, EventLine, DecodeProblem> decode_line(std::string_view line) {
    auto problem = [](std::string message) { return DecodeProblem{false, 0, std::move(message)}; };
    boost::system::error_code ec;
    json::value root = json::parse(line, ec);
    if (ec) return problem("the daemon's reply is not JSON: " + ec.message());
    const auto* obj = root.if_object();
    if (!obj) return problem("the daemon's reply is not a JSON object");
    const auto* v = obj->if_contains("v");
    if (!v || !v->is_int64()) return problem("the daemon's reply has no protocol version \"v\"");
    if (v->get_int64() != kProtocolVersion) {
        const auto theirs = v->get_int64();
        return DecodeProblem{true, static_cast<int>(theirs),
                             "protocol version mismatch: ballastd speaks version " +
                                 std::to_string(theirs) + ", this ballastctl speaks version " +
                                 std::to_string(kProtocolVersion) +
                                 " (use the ballastctl that came with the running ballastd)"};
    }
    if (const auto* ev = obj->if_contains("event")) return EventLine{*ev};
    JsonFields f(root, "reply");
    Reply r;
    if (const auto* id = obj->if_contains("id")) r.id = *id;
    r.ok = f.boolean("ok");
    if (f.ok() && r.ok) {
        if (const auto* res = obj->if_contains("result")) r.result = *res;
    } else if (f.ok()) {
        const auto* err = f.object("error");
        if (err) {
            JsonFields e(*err, "reply.error");
            auto code = e.str("code");
            r.error.message = e.str("message");
            r.error.code = parse_error_code(code).value_or(ErrorCode::failed);
            if (const auto* details = e.find("details"); details && details->is_array())
                for (const auto& d : details->get_array())
                    if (d.is_string()) r.error.details.emplace_back(d.get_string());
            if (!e.ok()) f.fail(e.problem());
        }
    }
    if (!f.ok()) return problem("malformed reply from the daemon: " + f.problem());
    return r;
}

}  // namespace ballast::control
