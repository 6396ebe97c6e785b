// [defaults.check] and [service.check]: keys applied over the defaults, then
// the checks that concern several keys.
#include <regex>

#include "reader.hpp"
#include "sections.hpp"

namespace ballast::config::detail {

namespace {

const std::vector<std::string_view> kCheckKeys = {
    "type",          "interval",    "down_interval",
    "timeout",       "jitter",      "slow_start",
    "rise",          "fall",        "start_down",
    "port",          "send",        "expect",
    "method",        "path",        "host",
    "expect_status", "expect_body", "expect_body_regex",
    "tls_verify",    "sni",         "query_name",
    "query_type",    "command",     "weight_from_output"};

// Keys that mean something only for some check types.
bool applies(std::string_view key, CheckType t) {
    using T = CheckType;
    if (key == "send" || key == "expect") return t == T::tcp || t == T::udp;
    if (key == "method" || key == "path" || key == "host" || key == "expect_status" ||
        key == "expect_body" || key == "expect_body_regex")
        return t == T::http || t == T::https;
    if (key == "tls_verify" || key == "sni") return t == T::https;
    if (key == "query_name" || key == "query_type") return t == T::dns;
    if (key == "command" || key == "weight_from_output") return t == T::exec;
    return true;
}

// Product of the {n} / {n,m} repetition bounds in a regex (a cheap upper bound
// on how much std::regex expands it); digits are capped to avoid overflow.
uint64_t repetition_product(std::string_view re) {
    uint64_t product = 1;
    for (size_t i = 0; i < re.size(); ++i) {
        if (re[i] == '\\') {
            ++i;
            continue;
        }
        if (re[i] != '{') continue;
        uint64_t bound = 1, number = 0;  // the larger of {n,m}; {n,} expands n times
        for (size_t j = i + 1; j < re.size() && re[j] != '}'; ++j) {
            if (re[j] >= '0' && re[j] <= '9') {
                number = std::min<uint64_t>(number * 10 + uint64_t(re[j] - '0'), 1'000'000);
                bound = std::max(bound, number);
            } else if (re[j] == ',') {
                number = 0;
            } else {
                break;
            }
        }
        product = std::min<uint64_t>(product * bound, 1'000'000'000);
    }
    return product;
}

}  // namespace

// Applies the keys of one check table over `d`. In [defaults.check] any key is
// accepted (it is a template); in a service's check a key that does not apply
// to the resulting type is an error, since it would be silently ignored.
void apply_check(Ctx& ctx, const toml::table& t, const std::string& path, CheckDraft& d,
                 bool is_defaults) {
    Reader r(ctx, t, path, kCheckKeys);
    CheckSpec& c = d.spec;
    for (auto&& [k, v] : t)
        if (std::find(kCheckKeys.begin(), kCheckKeys.end(), k.str()) != kCheckKeys.end())
            d.origin[std::string(k.str())] = r.origin(k.str());
    if (auto v = r.str("type")) {
        if (auto type = parse_check_type(*v))
            c.type = *type;
        else
            r.error("type", "unknown check type '" + *v +
                                "' (expected tcp, http, https, udp, dns, exec, agent or none)");
    }
    if (auto v = r.duration("interval")) c.interval = *v;
    if (auto v = r.duration("down_interval")) c.down_interval = *v;
    if (auto v = r.duration("timeout")) c.timeout = *v;
    if (auto v = r.duration("jitter")) c.jitter = *v;
    if (auto v = r.duration("slow_start")) c.slow_start = *v;
    if (auto v = r.integer("rise", 1, 1000)) c.rise = static_cast<uint32_t>(*v);
    if (auto v = r.integer("fall", 1, 1000)) c.fall = static_cast<uint32_t>(*v);
    if (auto v = r.boolean("start_down")) c.start_down = *v;
    if (auto v = r.integer("port", 1, 65535)) c.port = static_cast<uint16_t>(*v);
    if (auto v = r.str("send")) c.send = *v;
    if (auto v = r.str("expect")) c.expect = *v;
    if (auto v = r.str("method")) {
        static const std::vector<std::string_view> methods = {"GET", "HEAD", "POST", "PUT",
                                                              "OPTIONS"};
        if (std::find(methods.begin(), methods.end(), *v) == methods.end())
            r.error("method", "unknown HTTP method '" + *v + "' (expected " + join(methods) + ")");
        else
            c.method = *v;
    }
    if (auto v = r.str("path")) {
        bool clean = std::all_of(v->begin(), v->end(), [](char ch) {
            return static_cast<unsigned char>(ch) > ' ' && ch != 127;
        });
        if (v->empty() || v->front() != '/')
            r.error("path", "an HTTP path must start with '/'");
        else if (!clean)
            r.error("path", "an HTTP path must not contain spaces or control characters");
        else
            c.path = *v;
    }
    if (auto v = r.str("host")) c.host = *v;
    if (auto* n = r.node("expect_status")) {
        std::vector<uint16_t> codes;
        bool ok = true;
        auto add = [&](const toml::node& code, const std::string& p) {
            auto v = Reader::integer_value(ctx, code, p, 100, 599);
            if (v)
                codes.push_back(static_cast<uint16_t>(*v));
            else
                ok = false;
        };
        if (auto* a = n->as_array()) {
            if (a->empty()) r.error("expect_status", "must list at least one status code");
            for (size_t i = 0; i < a->size(); ++i)
                add(*a->get(i), index_path(r.path("expect_status"), i));
        } else {
            add(*n, r.path("expect_status"));
        }
        if (ok && !codes.empty()) c.expect_status = codes;
    }
    if (auto v = r.str("expect_body")) c.expect_body = *v;
    if (auto v = r.str("expect_body_regex")) {
        if (v->size() > 256) {
            r.error("expect_body_regex", "regular expression is too long (at most 256 characters)");
        } else if (repetition_product(*v) > 10'000) {
            // std::regex expands {n} into n copies: nested counts would explode.
            r.error("expect_body_regex",
                    "repetition counts are too large (their product must be at most 10000)");
        } else {
            try {
                std::regex re(*v, std::regex::ECMAScript);
                c.expect_body_regex = *v;
            } catch (const std::regex_error& e) {
                r.error("expect_body_regex",
                        std::string("invalid regular expression: ") + e.what());
            }
        }
    }
    if (auto v = r.boolean("tls_verify")) c.tls_verify = *v;
    if (auto v = r.str("sni")) c.sni = *v;
    if (auto v = r.str("query_name")) c.query_name = *v;
    if (auto v = r.str("query_type")) {
        if (*v != "A" && *v != "AAAA")
            r.error("query_type", "query_type must be \"A\" or \"AAAA\", got '" + *v + "'");
        else
            c.query_type = *v;
    }
    if (auto v = r.strings("command")) {
        if (v->empty())
            r.error("command",
                    "command must not be empty (it is argv: [\"/path/to/prog\", \"%ip\"])");
        else if ((*v)[0].empty())
            r.error("command", "the program (first element) must not be empty");
        else
            c.command = *v;
    }
    if (auto v = r.boolean("weight_from_output")) c.weight_from_output = *v;

    if (is_defaults) return;
    for (auto&& [k, v] : t) {
        if (std::find(kCheckKeys.begin(), kCheckKeys.end(), k.str()) == kCheckKeys.end()) continue;
        if (!applies(k.str(), c.type))
            ctx.error(ctx.loc(k.source()), r.path(k.str()),
                      "'" + std::string(k.str()) + "' does not apply to type = \"" +
                          std::string(to_string(c.type)) + "\"");
    }
}

// Checks that concern several keys, once the check is merged; each error is
// reported where the offending value was written (or at `fallback`).
void validate_check(Ctx& ctx, const CheckDraft& d, const Origin& fallback) {
    const CheckSpec& c = d.spec;
    // Report at the first of `keys` written in this table (the value the user
    // just changed), else at the first written anywhere (e.g. in the defaults).
    auto err = [&](std::initializer_list<std::string_view> keys, std::string message) {
        const Origin* o = nullptr;
        for (auto k : keys) {
            auto it = d.origin.find(k);
            if (it == d.origin.end()) continue;
            if (it->second.path.rfind(fallback.path + ".", 0) == 0) {
                o = &it->second;
                break;
            }
            if (!o) o = &it->second;
        }
        if (!o) o = &fallback;
        ctx.error(o->where, o->path, std::move(message));
    };
    if (c.type == CheckType::none) return;
    if (c.interval.count() <= 0) err({"interval"}, "interval must be greater than 0");
    if (c.timeout.count() <= 0) err({"timeout"}, "timeout must be greater than 0");
    if (c.interval.count() > 0 && c.timeout >= c.interval)
        err({"timeout", "interval"}, "timeout (" + format_duration(c.timeout) +
                                         ") must be shorter than interval (" +
                                         format_duration(c.interval) + ")");
    if (c.down_interval.count() > 0 && c.timeout >= c.down_interval)
        err({"timeout", "down_interval"}, "timeout (" + format_duration(c.timeout) +
                                              ") must be shorter than down_interval (" +
                                              format_duration(c.down_interval) + ")");
    if (c.jitter.count() > 0 && c.jitter >= c.interval)
        err({"jitter", "interval"}, "jitter (" + format_duration(c.jitter) +
                                        ") must be shorter than interval (" +
                                        format_duration(c.interval) + ")");
    switch (c.type) {
        case CheckType::udp:
            if (c.send.empty())
                err({"send", "type"}, "a udp check needs 'send' (the probe payload)");
            break;
        case CheckType::dns:
            if (c.query_name.empty()) err({"query_name", "type"}, "a dns check needs 'query_name'");
            break;
        case CheckType::exec:
            if (c.command.empty()) err({"command", "type"}, "an exec check needs 'command'");
            break;
        default:
            break;
    }
}

}  // namespace ballast::config::detail
