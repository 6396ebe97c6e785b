// TOML -> validated DirectorConfig. Every problem is collected with its
// location and key path; a DirectorConfig is returned only when there is none.
#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "ballast/config/config.hpp"
#include "ballast/config/duration.hpp"

namespace ballast::config {

using namespace model;

namespace {

// ---------------------------------------------------------------- helpers

size_t edit_distance(std::string_view a, std::string_view b) {
    // Optimal string alignment: a transposition ("wieght") costs one edit.
    std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
    for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.size()][b.size()];
}

// " (did you mean 'weight'?)" when one candidate is close enough, else "".
std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates) {
    if (word.size() > 64) return {};
    std::string_view best;
    size_t best_distance = 3;  // at most two edits
    for (auto c : candidates) {
        size_t dist = edit_distance(word, c);
        if (dist < best_distance && dist < std::max(word.size(), c.size())) {
            best = c;
            best_distance = dist;
        }
    }
    return best.empty() ? std::string() : " (did you mean '" + std::string(best) + "'?)";
}

std::string join(const std::vector<std::string_view>& words) {
    std::string out;
    for (auto w : words) out += (out.empty() ? "" : ", ") + std::string(w);
    return out;
}

std::string quote_key(std::string_view key) {
    bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
    return bare ? std::string(key) : "\"" + std::string(key) + "\"";
}

std::string child_path(const std::string& parent, std::string_view key) {
    return parent.empty() ? quote_key(key) : parent + "." + quote_key(key);
}

std::string index_path(const std::string& parent, size_t i) {
    return parent + "[" + std::to_string(i) + "]";
}

std::string type_name(toml::node_type t) {
    switch (t) {
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a float";
        case toml::node_type::boolean:
            return "a boolean";
        case toml::node_type::date:
        case toml::node_type::time:
        case toml::node_type::date_time:
            return "a date/time";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::table:
            return "a table";
        case toml::node_type::none:
            break;
    }
    return "nothing";
}

// ---------------------------------------------------------------- context

struct Ctx {
    std::string file;
    std::vector<Diagnostic> diags;

    SourceLocation loc(const toml::source_region& r) const {
        return SourceLocation{file, r.begin.line, r.begin.column};
    }
    void error(SourceLocation where, std::string path, std::string message) {
        diags.push_back(Diagnostic{std::move(where), std::move(path), std::move(message)});
    }
    std::string line_of(const SourceLocation& l) const { return "line " + std::to_string(l.line); }
};

// Where a value came from: for errors found after merging and cross-checks.
struct Origin {
    SourceLocation where;
    std::string path;
};

// Reads one TOML table: every key must be in `known`; others are reported at
// their own position, with a suggestion when one is close.
class Reader {
public:
    Reader(Ctx& ctx, const toml::table& t, std::string path, std::vector<std::string_view> known)
        : ctx_(ctx), t_(t), path_(std::move(path)) {
        for (auto&& [k, v] : t_) {
            if (std::find(known.begin(), known.end(), k.str()) != known.end()) continue;
            ctx_.error(ctx_.loc(k.source()), child_path(path_, k.str()),
                       "unknown key '" + std::string(k.str()) + "'" + did_you_mean(k.str(), known));
        }
    }

    const toml::node* node(std::string_view key) const { return t_.get(key); }
    bool has(std::string_view key) const { return node(key) != nullptr; }
    std::string path(std::string_view key) const { return child_path(path_, key); }
    const std::string& path() const { return path_; }
    SourceLocation self() const { return ctx_.loc(t_.source()); }
    Origin origin() const { return {self(), path_}; }
    // The value's position, or the table's when the key is absent.
    SourceLocation at(std::string_view key) const {
        auto* n = node(key);
        return n ? ctx_.loc(n->source()) : self();
    }
    Origin origin(std::string_view key) const { return {at(key), path(key)}; }

    void error(std::string_view key, std::string message) const {
        ctx_.error(at(key), path(key), std::move(message));
    }
    void error_self(std::string message) const { ctx_.error(self(), path_, std::move(message)); }
    void missing(std::string_view key) const {
        ctx_.error(self(), path_, "missing required key '" + std::string(key) + "'");
    }
    void forbid(std::string_view key, std::string_view why) const {
        if (has(key)) error(key, "'" + std::string(key) + "' " + std::string(why));
    }

    std::optional<std::string> str(std::string_view key) const {
        auto* n = node(key);
        if (!n) return std::nullopt;
        if (!expect(key, *n, toml::node_type::string)) return std::nullopt;
        return n->as_string()->get();
    }
    std::optional<bool> boolean(std::string_view key) const {
        auto* n = node(key);
        if (!n) return std::nullopt;
        if (!expect(key, *n, toml::node_type::boolean)) return std::nullopt;
        return n->as_boolean()->get();
    }
    std::optional<int64_t> integer(std::string_view key, int64_t min, int64_t max) const {
        auto* n = node(key);
        if (!n) return std::nullopt;
        return integer_value(ctx_, *n, path(key), min, max);
    }
    std::optional<Millis> duration(std::string_view key) const {
        auto* n = node(key);
        if (!n) return std::nullopt;
        return duration_value(ctx_, *n, path(key));
    }
    const toml::table* table(std::string_view key) const {
        auto* n = node(key);
        if (!n || !expect(key, *n, toml::node_type::table)) return nullptr;
        return n->as_table();
    }
    const toml::array* array(std::string_view key) const {
        auto* n = node(key);
        if (!n || !expect(key, *n, toml::node_type::array)) return nullptr;
        return n->as_array();
    }
    // An array of strings; nullopt when absent or any element is wrong.
    std::optional<std::vector<std::string>> strings(std::string_view key) const {
        auto* a = array(key);
        if (!a) return std::nullopt;
        std::vector<std::string> out;
        bool ok = true;
        for (size_t i = 0; i < a->size(); ++i) {
            auto& n = *a->get(i);
            if (!n.is_string()) {
                ctx_.error(ctx_.loc(n.source()), index_path(path(key), i),
                           "expected a string, got " + type_name(n.type()));
                ok = false;
                continue;
            }
            out.push_back(n.as_string()->get());
        }
        if (!ok) return std::nullopt;
        return out;
    }

    static std::optional<int64_t> integer_value(Ctx& ctx, const toml::node& n,
                                                const std::string& path, int64_t min, int64_t max) {
        if (!n.is_integer()) {
            ctx.error(ctx.loc(n.source()), path, "expected an integer, got " + type_name(n.type()));
            return std::nullopt;
        }
        int64_t v = n.as_integer()->get();
        if (v < min || v > max) {
            ctx.error(ctx.loc(n.source()), path,
                      "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                          ", got " + std::to_string(v));
            return std::nullopt;
        }
        return v;
    }
    static std::optional<Millis> duration_value(Ctx& ctx, const toml::node& n,
                                                const std::string& path) {
        if (!n.is_string()) {
            ctx.error(
                ctx.loc(n.source()), path,
                "expected a duration string like \"2s\" or \"500ms\", got " + type_name(n.type()));
            return std::nullopt;
        }
        auto parsed = parse_duration(n.as_string()->get());
        if (auto* why = std::get_if<std::string>(&parsed)) {
            ctx.error(ctx.loc(n.source()), path, *why);
            return std::nullopt;
        }
        return std::get<Millis>(parsed);
    }

private:
    bool expect(std::string_view key, const toml::node& n, toml::node_type want) const {
        if (n.type() == want) return true;
        ctx_.error(ctx_.loc(n.source()), path(key),
                   "expected " + type_name(want) + ", got " + type_name(n.type()));
        return false;
    }

    Ctx& ctx_;
    const toml::table& t_;
    std::string path_;
};

std::string family_name(uint8_t family) {
    return family == AF_INET6 ? "IPv6" : "IPv4";
}

// ---------------------------------------------------------------- director

bool valid_ifname(std::string_view s) {
    // IFNAMSIZ is 16 including the NUL; '/' and whitespace are not allowed by the kernel.
    if (s.empty() || s.size() > 15 || s == "." || s == "..") return false;
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return c > ' ' && c < 127 && c != '/' && c != ':'; });
}

void read_ifnames(Ctx& ctx, const Reader& r, std::string_view key, std::vector<std::string>& out) {
    auto names = r.strings(key);
    if (!names) return;
    auto* arr = r.node(key)->as_array();
    std::set<std::string> seen;
    for (size_t i = 0; i < names->size(); ++i) {
        auto& name = (*names)[i];
        auto where = ctx.loc(arr->get(i)->source());
        if (!valid_ifname(name))
            ctx.error(where, index_path(r.path(key), i),
                      "invalid interface name '" + name +
                          "' (1 to 15 characters, no '/', ':' or spaces)");
        else if (!seen.insert(name).second)
            ctx.error(where, index_path(r.path(key), i),
                      "interface '" + name + "' is listed twice");
        else
            out.push_back(name);
    }
}

// Sysctls with their own named setting: "extra" must not set them behind its back.
constexpr std::pair<std::string_view, std::string_view> kNamedSysctls[] = {
    {"net.ipv4.ip_forward", "ip_forward"},
    {"net.ipv6.conf.all.forwarding", "ip_forward"},
    {"net.ipv4.conf.all.send_redirects", "disable_send_redirects"},
    {"net.ipv4.vs.expire_nodest_conn", "expire_nodest_conn"},
    {"net.ipv4.vs.expire_quiescent_template", "expire_quiescent_template"},
    {"net.ipv4.vs.conntrack", "vs_conntrack"},
};

bool valid_sysctl_name(std::string_view s) {
    if (s.size() < 5 || s.size() > 128 || s.substr(0, 4) != "net.") return false;
    char prev = '.';
    for (char c : s) {
        bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
        if (!word && c != '.') return false;
        if (c == '.' && prev == '.') return false;
        prev = c;
    }
    return prev != '.';
}

void read_sysctl(Ctx& ctx, const toml::table& t, const std::string& path, SysctlSettings& s) {
    Reader r(ctx, t, path,
             {"ip_forward", "disable_send_redirects", "expire_nodest_conn",
              "expire_quiescent_template", "vs_conntrack", "extra"});
    if (auto v = r.boolean("ip_forward")) s.ip_forward = *v;
    if (auto v = r.boolean("disable_send_redirects")) s.disable_send_redirects = *v;
    if (auto v = r.boolean("expire_nodest_conn")) s.expire_nodest_conn = *v;
    if (auto v = r.boolean("expire_quiescent_template")) s.expire_quiescent_template = *v;
    if (auto v = r.integer("vs_conntrack", 0, 1)) s.vs_conntrack = static_cast<int>(*v);
    auto* extra = r.table("extra");
    if (!extra) return;
    std::string extra_path = r.path("extra");
    for (auto&& [k, v] : *extra) {
        std::string name(k.str());
        std::string p = child_path(extra_path, name);
        auto where = ctx.loc(k.source());
        if (!valid_sysctl_name(name)) {
            ctx.error(where, p,
                      "invalid sysctl name '" + name +
                          "' (expected a dotted name under net., e.g. "
                          "\"net.ipv4.vs.sloppy_tcp\")");
            continue;
        }
        auto named = std::find_if(std::begin(kNamedSysctls), std::end(kNamedSysctls),
                                  [&](auto& e) { return e.first == name; });
        if (named != std::end(kNamedSysctls)) {
            ctx.error(where, p,
                      "'" + name + "' has its own setting: use director.sysctl." +
                          std::string(named->second));
            continue;
        }
        if (auto* str = v.as_string()) {
            s.extra[name] = str->get();
        } else if (auto* i = v.as_integer()) {
            s.extra[name] = std::to_string(i->get());
        } else if (auto* b = v.as_boolean()) {
            s.extra[name] = b->get() ? "1" : "0";
        } else {
            ctx.error(ctx.loc(v.source()), p,
                      "expected a string, integer or boolean, got " + type_name(v.type()));
        }
    }
}

void read_director(Ctx& ctx, const toml::table& t, DirectorSettings& d) {
    Reader r(ctx, t, "director",
             {"interfaces", "egress_interfaces", "control_socket", "status_listen", "drain_timeout",
              "fwmark_range", "sysctl"});
    read_ifnames(ctx, r, "interfaces", d.interfaces);
    read_ifnames(ctx, r, "egress_interfaces", d.egress_interfaces);
    if (auto v = r.str("control_socket")) {
        // sun_path holds 108 bytes including the NUL.
        if (v->empty() || v->front() != '/')
            r.error("control_socket", "must be an absolute path");
        else if (v->size() > 107)
            r.error("control_socket", "path is too long for a unix socket (at most 107 bytes)");
        else
            d.control_socket = *v;
    }
    if (auto v = r.str("status_listen")) {
        auto ep = Endpoint::parse(*v);
        if (!ep)
            r.error("status_listen", "invalid listen address '" + *v +
                                         "' (expected \"addr:port\" or \"[v6]:port\")");
        else if (ep->port == 0)
            r.error("status_listen", "port must be between 1 and 65535");
        else
            d.status_listen = ep;
    }
    if (auto v = r.duration("drain_timeout")) d.drain_timeout = *v;
    if (auto* a = r.array("fwmark_range")) {
        if (a->size() != 2) {
            r.error("fwmark_range", "expected two integers [first, last], got " +
                                        std::to_string(a->size()) + " elements");
        } else {
            auto first = Reader::integer_value(
                ctx, *a->get(0), index_path(r.path("fwmark_range"), 0), 1, 0xffffffff);
            auto last = Reader::integer_value(ctx, *a->get(1),
                                              index_path(r.path("fwmark_range"), 1), 1, 0xffffffff);
            if (first && last && *first > *last)
                r.error("fwmark_range", "first mark must not be greater than the last");
            else if (first && last) {
                d.fwmark_first = static_cast<uint32_t>(*first);
                d.fwmark_last = static_cast<uint32_t>(*last);
            }
        }
    }
    if (auto* s = r.table("sysctl")) read_sysctl(ctx, *s, r.path("sysctl"), d.sysctl);
}

// ---------------------------------------------------------------- checks

struct CheckDraft {
    CheckSpec spec;
    std::map<std::string, Origin, std::less<>> origin;  // key -> where its value was set
};

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

// ---------------------------------------------------------------- services

struct ProtoName {
    std::string_view name;
    uint8_t number;
    bool has_ports;
};
constexpr ProtoName kGroupProtocols[] = {
    {"tcp", 6, true},  {"udp", 17, true},  {"sctp", 132, true}, {"esp", 50, false},
    {"ah", 51, false}, {"gre", 47, false}, {"icmp", 1, false},  {"ipv6-icmp", 58, false},
};

std::string protocol_name(uint8_t number) {
    for (auto& p : kGroupProtocols)
        if (p.number == number) return std::string(p.name);
    return "protocol " + std::to_string(number);
}

std::string describe(const GroupMatch& m) {
    std::string s = protocol_name(m.ip_protocol);
    if (m.port_first) s += " " + std::to_string(m.port_first);
    if (m.port_last != m.port_first) s += "-" + std::to_string(m.port_last);
    return s;
}

bool overlaps(const GroupMatch& a, const GroupMatch& b) {
    if (a.ip_protocol != b.ip_protocol) return false;
    if (a.port_first == 0 || b.port_first == 0) return true;  // 0 = any port
    return a.port_first <= b.port_last && b.port_first <= a.port_last;
}

// What validation needs to know about a service beyond ServiceConfig.
struct ServiceDraft {
    ServiceConfig cfg;
    bool key_ok = false;  // key (or group vip) parsed
    bool explicit_fwmark = false;
    std::optional<uint8_t> family;
    Origin name_origin, key_origin, sorry_origin;
    std::vector<Origin> group_origins;
    std::vector<Origin> real_origins;  // address of each real in cfg.reals
};

const std::vector<std::string_view> kServiceKeys = {
    "name",        "vip",       "port",        "protocol",     "fwmark",      "family",
    "group",       "scheduler", "persistence", "one_packet",   "sh_fallback", "sh_port",
    "mh_fallback", "mh_port",   "on_failure",  "sorry_server", "check",       "real"};

const std::vector<std::string_view> kRealKeys = {
    "address", "weight", "forward", "upper_threshold", "lower_threshold", "agent_port"};

std::optional<IpAddress> read_vip(const Reader& r) {
    auto text = r.str("vip");
    if (!text) {
        if (!r.has("vip")) r.missing("vip");
        return std::nullopt;
    }
    auto a = IpAddress::parse(*text);
    if (!a) {
        r.error("vip", "invalid IP address '" + *text + "'");
        return std::nullopt;
    }
    if (a->is_unspecified() || a->is_multicast()) {
        r.error("vip", "a VIP cannot be the unspecified or a multicast address");
        return std::nullopt;
    }
    return a;
}

void read_group(Ctx& ctx, const Reader& r, ServiceDraft& s) {
    auto* a = r.array("group");
    if (!a) return;
    if (a->empty()) r.error("group", "a group needs at least one member");
    for (size_t i = 0; i < a->size(); ++i) {
        std::string p = index_path(r.path("group"), i);
        auto* t = a->get(i)->as_table();
        if (!t) {
            ctx.error(ctx.loc(a->get(i)->source()), p,
                      "expected a table like {protocol = \"udp\", port = 500}, got " +
                          type_name(a->get(i)->type()));
            continue;
        }
        Reader m(ctx, *t, p, {"protocol", "port", "port_last"});
        GroupMatch g;
        const ProtoName* proto = nullptr;
        bool ok = true;
        if (auto* pn = m.node("protocol")) {
            if (auto* str = pn->as_string()) {
                for (auto& e : kGroupProtocols)
                    if (e.name == str->get()) proto = &e;
                if (!proto) {
                    std::vector<std::string_view> names;
                    for (auto& e : kGroupProtocols) names.push_back(e.name);
                    m.error("protocol", "unknown protocol '" + str->get() + "' (expected " +
                                            join(names) + ", or a protocol number)");
                    ok = false;
                } else {
                    g.ip_protocol = proto->number;
                }
            } else if (auto n = Reader::integer_value(ctx, *pn, m.path("protocol"), 1, 255)) {
                g.ip_protocol = static_cast<uint8_t>(*n);
                for (auto& e : kGroupProtocols)
                    if (e.number == g.ip_protocol) proto = &e;
            } else {
                ok = false;
            }
        } else {
            m.missing("protocol");
            ok = false;
        }
        bool port_protocol = proto && proto->has_ports;
        // ICMP differs per family; the member must match the VIP's.
        if (ok && s.family && (g.ip_protocol == IPPROTO_ICMP || g.ip_protocol == IPPROTO_ICMPV6)) {
            bool v6 = *s.family == AF_INET6;
            if (v6 != (g.ip_protocol == IPPROTO_ICMPV6)) {
                m.error("protocol", std::string("use protocol \"") + (v6 ? "ipv6-icmp" : "icmp") +
                                        "\" on an " + family_name(*s.family) + " VIP");
                ok = false;
            }
        }
        if (auto port = m.integer("port", 1, 65535)) {
            if (ok && !port_protocol)
                m.error("port", protocol_name(g.ip_protocol) + " has no ports");
            g.port_first = g.port_last = static_cast<uint16_t>(*port);
        } else if (m.has("port")) {
            ok = false;
        }
        if (auto last = m.integer("port_last", 1, 65535)) {
            if (!m.has("port"))
                m.error("port_last", "'port_last' needs 'port' (the first port of the range)");
            else if (g.port_first && *last < g.port_first)
                m.error("port_last", "port_last must not be below port");
            else
                g.port_last = static_cast<uint16_t>(*last);
        }
        if (!ok) continue;
        for (size_t j = 0; j < s.cfg.group.size(); ++j) {
            if (overlaps(s.cfg.group[j], g)) {
                ctx.error(m.self(), p,
                          "group member " + describe(g) + " overlaps " + describe(s.cfg.group[j]) +
                              " (" + ctx.line_of(s.group_origins[j].where) + ")");
                ok = false;
                break;
            }
        }
        if (!ok) continue;
        s.cfg.group.push_back(g);
        s.group_origins.push_back(m.origin());
    }
}

void read_persistence(Ctx& ctx, const Reader& r, ServiceDraft& s) {
    auto* n = r.node("persistence");
    if (!n) return;
    ServiceSpec& spec = s.cfg.spec;
    const std::string path = r.path("persistence");
    std::optional<Millis> timeout;
    if (n->is_string()) {
        timeout = Reader::duration_value(ctx, *n, path);
    } else if (auto* t = n->as_table()) {
        Reader p(ctx, *t, path, {"timeout", "netmask", "prefix", "engine"});
        timeout = p.duration("timeout");
        if (!p.has("timeout")) p.missing("timeout");
        if (p.has("netmask") && p.has("prefix"))
            p.error("prefix", "give either 'netmask' or 'prefix', not both");
        else if (auto mask = p.str("netmask")) {
            auto a = IpAddress::parse(*mask);
            uint32_t bits = 0;
            if (a && a->is_v4())
                bits = (uint32_t(a->bytes[0]) << 24) | (uint32_t(a->bytes[1]) << 16) |
                       (uint32_t(a->bytes[2]) << 8) | a->bytes[3];
            bool contiguous = ((~bits) & (~bits + 1)) == 0;  // ones, then zeros
            if (s.family == AF_INET6)
                p.error("netmask", "an IPv6 service takes 'prefix', not 'netmask'");
            else if (!a || !a->is_v4() || !contiguous)
                p.error("netmask",
                        "invalid netmask '" + *mask + "' (expected e.g. \"255.255.255.0\")");
            else
                spec.netmask = bits;
        } else if (p.has("prefix")) {
            int64_t max = s.family == AF_INET6 ? 128 : 32;
            if (auto len = p.integer("prefix", s.family == AF_INET6 ? 1 : 0, max)) {
                if (s.family == AF_INET6)
                    spec.netmask = static_cast<uint32_t>(*len);
                else
                    spec.netmask = *len == 0 ? 0 : ~uint32_t{0} << (32 - *len);
            }
        }
        if (auto engine = p.str("engine")) {
            if (*engine != "sip")
                p.error("engine", "unknown persistence engine '" + *engine + "' (expected sip)");
            else if (!s.explicit_fwmark && s.cfg.group.empty() &&
                     s.cfg.key.protocol != Protocol::udp)
                p.error("engine", "persistence engine 'sip' needs a udp service");
            else
                spec.pe_name = *engine;
        }
    } else {
        ctx.error(ctx.loc(n->source()), path,
                  "expected a duration string or a table {timeout = \"5m\", netmask = ...}, got " +
                      type_name(n->type()));
        return;
    }
    if (!timeout) return;
    if (timeout->count() < 1000 || timeout->count() % 1000 != 0) {
        ctx.error(ctx.loc(n->is_table() ? n->as_table()->get("timeout")->source() : n->source()),
                  n->is_table() ? child_path(path, "timeout") : path,
                  "persistence timeout must be a whole number of seconds, at least 1s");
        return;
    }
    spec.persistence = static_cast<uint32_t>(timeout->count() / 1000);
    spec.flags.persistent = true;
}

std::optional<RealServerConfig> read_real(Ctx& ctx, const toml::table& t, const std::string& path,
                                          ServiceDraft& s, Origin& address_origin) {
    Reader r(ctx, t, path, kRealKeys);
    RealServerConfig real;
    real.where = r.self();
    bool ok = true;
    const bool inet = s.key_ok && !s.explicit_fwmark && s.cfg.group.empty();
    if (auto text = r.str("address")) {
        // Without a port: the service port, or (fwmark services) the packet's own port.
        std::optional<uint16_t> default_port =
            inet ? std::optional<uint16_t>(s.cfg.key.port) : std::optional<uint16_t>(0);
        auto ep = Endpoint::parse(*text, default_port);
        if (!ep) {
            r.error("address", "invalid real server address '" + *text +
                                   "' (expected \"addr:port\", \"[v6]:port\", or an address alone "
                                   "for the service's port)");
            ok = false;
        } else if (ep->port == 0 && Endpoint::parse(*text)) {
            r.error("address",
                    "port must be between 1 and 65535 (leave it out to keep the "
                    "packet's port)");
            ok = false;
        } else if (s.family && ep->addr.family != *s.family) {
            r.error("address", "real server " + ep->addr.to_string() + " is " +
                                   family_name(ep->addr.family) + " but the service is " +
                                   family_name(*s.family));
            ok = false;
        } else if (ep->addr.is_unspecified() || ep->addr.is_multicast()) {
            r.error("address", "a real server cannot be the unspecified or a multicast address");
            ok = false;
        } else {
            real.key = RealKey{ep->addr, ep->port};
        }
    } else {
        if (!r.has("address")) r.missing("address");
        ok = false;
    }
    address_origin = r.origin("address");
    if (auto w = r.integer("weight", 0, kMaxWeight)) real.spec.weight = static_cast<Weight>(*w);
    if (auto f = r.str("forward")) {
        auto m = parse_forward_method(*f);
        if (!m) {
            r.error("forward",
                    "unknown forward method '" + *f + "' (expected masq, route or tunnel)");
        } else {
            real.spec.forward = *m;
            // Direct routing and tunnelling deliver the packet unchanged: no port rewrite.
            if (*m != ForwardMethod::masquerade && ok && inet && real.key.port != s.cfg.key.port)
                r.error("forward", "forward = \"" + *f + "\" cannot change the port (" +
                                       std::to_string(s.cfg.key.port) + " -> " +
                                       std::to_string(real.key.port) + "); use masq");
        }
    }
    if (auto v = r.integer("upper_threshold", 0, 0xffffffff))
        real.spec.upper_threshold = static_cast<uint32_t>(*v);
    if (auto v = r.integer("lower_threshold", 0, 0xffffffff)) {
        real.spec.lower_threshold = static_cast<uint32_t>(*v);
        if (*v > 0 && (real.spec.upper_threshold == 0 ||
                       real.spec.lower_threshold >= real.spec.upper_threshold))
            r.error("lower_threshold", "lower_threshold needs an upper_threshold above it");
    }
    if (auto v = r.integer("agent_port", 1, 65535)) real.agent_port = static_cast<uint16_t>(*v);
    if (!ok) return std::nullopt;
    return real;
}

void read_service(Ctx& ctx, const toml::table& t, const std::string& path,
                  const CheckDraft& defaults, ServiceDraft& s) {
    Reader r(ctx, t, path, kServiceKeys);
    ServiceConfig& cfg = s.cfg;
    cfg.where = r.self();
    s.name_origin = r.origin("name");

    if (auto name = r.str("name")) {
        bool valid = !name->empty() && name->size() <= 64 &&
                     std::all_of(name->begin(), name->end(), [](char c) {
                         return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
                     });
        if (!valid)
            r.error("name", "invalid service name '" + *name +
                                "' (1 to 64 letters, digits, '_', '-' or '.')");
        else
            cfg.name = *name;
    } else if (!r.has("name")) {
        r.missing("name");
    }

    // The service's identity: fwmark, a group on a VIP, or protocol + VIP + port.
    if (r.has("fwmark")) {
        s.explicit_fwmark = true;
        s.key_origin = r.origin("fwmark");
        for (auto k : {"vip", "port", "protocol", "group"})
            r.forbid(k, "cannot be used with 'fwmark' (a fwmark service matches marked packets)");
        uint8_t family = AF_INET;
        if (auto f = r.str("family")) {
            if (*f == "ipv6")
                family = AF_INET6;
            else if (*f != "ipv4")
                r.error("family", "family must be \"ipv4\" or \"ipv6\", got '" + *f + "'");
        }
        s.family = family;
        if (auto mark = r.integer("fwmark", 1, 0xffffffff)) {
            cfg.key = ServiceKey::mark(static_cast<uint32_t>(*mark), family);
            s.key_ok = true;
        }
    } else if (r.has("group")) {
        s.key_origin = r.origin("vip");
        r.forbid("port", "cannot be used with 'group' (give ports in the group members)");
        r.forbid("protocol", "cannot be used with 'group' (give protocols in the group members)");
        r.forbid("family", "applies only to fwmark services (the VIP gives the family)");
        auto vip = read_vip(r);
        if (vip) s.family = vip->family;
        read_group(ctx, r, s);
        if (vip && !cfg.group.empty()) {
            cfg.group_vip = vip;
            cfg.key = ServiceKey::mark(0, vip->family);  // mark allocated after all services
            s.key_ok = true;
        }
    } else {
        s.key_origin = r.origin("vip");
        r.forbid("family", "applies only to fwmark services (the VIP gives the family)");
        auto vip = read_vip(r);
        if (vip) s.family = vip->family;
        Protocol proto = Protocol::tcp;
        bool proto_ok = true;
        if (auto p = r.str("protocol")) {
            if (auto parsed = parse_protocol(*p))
                proto = *parsed;
            else {
                r.error("protocol", "unknown protocol '" + *p +
                                        "' (expected tcp, udp or sctp; for others use a group)");
                proto_ok = false;
            }
        } else if (r.has("protocol")) {
            proto_ok = false;
        }
        auto port = r.integer("port", 1, 65535);
        if (!r.has("port")) r.missing("port");
        if (vip && port && proto_ok) {
            cfg.key = ServiceKey::inet(proto, *vip, static_cast<uint16_t>(*port));
            s.key_ok = true;
        }
    }
    if (s.family == AF_INET6) cfg.spec.netmask = 128;

    if (auto sched = r.str("scheduler")) {
        if (is_known_scheduler(*sched)) {
            cfg.spec.scheduler = *sched;
        } else {
            std::vector<std::string_view> known(std::begin(kSchedulers), std::end(kSchedulers));
            std::string hint = did_you_mean(*sched, known);
            r.error("scheduler", "unknown scheduler '" + *sched + "'" +
                                     (hint.empty() ? " (known: " + join(known) + ")" : hint));
        }
    }
    read_persistence(ctx, r, s);

    if (auto v = r.boolean("one_packet"); v && *v) {
        bool udp = s.explicit_fwmark ? false
                   : cfg.group.empty()
                       ? cfg.key.protocol == Protocol::udp
                       : std::all_of(cfg.group.begin(), cfg.group.end(),
                                     [](auto& g) { return g.ip_protocol == IPPROTO_UDP; });
        if (!udp)
            r.error("one_packet", "one_packet needs a udp service (or a group of udp members)");
        else
            cfg.spec.flags.one_packet = true;
    }
    auto sched_flag = [&](std::string_view key, std::string_view scheduler, bool& flag) {
        auto v = r.boolean(key);
        if (!v || !*v) return;
        if (cfg.spec.scheduler != scheduler)
            r.error(key, "'" + std::string(key) + "' needs scheduler = \"" +
                             std::string(scheduler) + "\"");
        else
            flag = true;
    };
    sched_flag("sh_fallback", "sh", cfg.spec.flags.sched_flag1);
    sched_flag("sh_port", "sh", cfg.spec.flags.sched_flag2);
    sched_flag("mh_fallback", "mh", cfg.spec.flags.sched_flag1);
    sched_flag("mh_port", "mh", cfg.spec.flags.sched_flag2);

    if (auto v = r.str("on_failure")) {
        if (*v == "quiesce")
            cfg.on_failure = OnFailure::quiesce;
        else if (*v == "remove")
            cfg.on_failure = OnFailure::remove;
        else
            r.error("on_failure", "on_failure must be \"quiesce\" or \"remove\", got '" + *v + "'");
    }

    const bool inet = s.key_ok && !s.explicit_fwmark && cfg.group.empty();
    s.sorry_origin = r.origin("sorry_server");
    if (auto text = r.str("sorry_server")) {
        auto ep = Endpoint::parse(
            *text, inet ? std::optional<uint16_t>(cfg.key.port) : std::optional<uint16_t>(0));
        if (!ep)
            r.error("sorry_server", "invalid address '" + *text +
                                        "' (expected \"addr:port\", "
                                        "\"[v6]:port\" or an address alone)");
        else if (s.family && ep->addr.family != *s.family)
            r.error("sorry_server", "sorry server " + ep->addr.to_string() + " is " +
                                        family_name(ep->addr.family) + " but the service is " +
                                        family_name(*s.family));
        else if (ep->addr.is_unspecified() || ep->addr.is_multicast())
            r.error("sorry_server",
                    "a sorry server cannot be the unspecified or a multicast address");
        else
            cfg.sorry_server = RealKey{ep->addr, ep->port};
    }

    CheckDraft check = defaults;
    if (auto* ct = r.table("check")) {
        apply_check(ctx, *ct, r.path("check"), check, false);
        validate_check(ctx, check, Origin{ctx.loc(ct->source()), r.path("check")});
    }
    if (check.spec.type != CheckType::none) cfg.check = check.spec;

    if (auto* reals = r.node("real")) {
        auto* a = reals->as_array();
        if (!a) {
            r.error("real", "expected an array of tables ([[service.real]]), got " +
                                type_name(reals->type()));
        } else {
            for (size_t i = 0; i < a->size(); ++i) {
                std::string p = index_path(r.path("real"), i);
                auto* rt = a->get(i)->as_table();
                if (!rt) {
                    ctx.error(
                        ctx.loc(a->get(i)->source()), p,
                        "expected a table ([[service.real]]), got " + type_name(a->get(i)->type()));
                    continue;
                }
                Origin address_origin;
                auto real = read_real(ctx, *rt, p, s, address_origin);
                if (!real) continue;
                auto dup = std::find_if(cfg.reals.begin(), cfg.reals.end(),
                                        [&](auto& o) { return o.key == real->key; });
                if (dup != cfg.reals.end()) {
                    ctx.error(address_origin.where, address_origin.path,
                              "duplicate real server " + real->key.to_string() + " (first at " +
                                  ctx.line_of(dup->where) + ")");
                    continue;
                }
                if (cfg.check && cfg.check->type == CheckType::agent && !cfg.check->port &&
                    !real->agent_port)
                    ctx.error(real->where, p,
                              "an agent check needs 'agent_port' on each real server or 'port' in "
                              "the service's check");
                // A fwmark real server without a port takes the packet's: probes
                // that connect somewhere need the check to name the port.
                bool port_probe = cfg.check && cfg.check->type != CheckType::exec &&
                                  cfg.check->type != CheckType::agent;
                if (port_probe && s.key_ok && !cfg.check->port && real->key.port == 0)
                    ctx.error(address_origin.where, address_origin.path,
                              "real server " + real->key.addr.to_string() + " has no port, so a " +
                                  std::string(to_string(cfg.check->type)) +
                                  " check needs 'port' in the service's check");
                cfg.reals.push_back(*real);
                s.real_origins.push_back(address_origin);
            }
        }
    }
}

// Checks across services: names, identities, group marks, reals that are VIPs.
void cross_check(Ctx& ctx, std::vector<ServiceDraft>& services, const DirectorSettings& d) {
    std::map<std::string, const ServiceDraft*> names;
    std::map<ServiceKey, const ServiceDraft*> keys;
    std::set<uint32_t> marks;
    for (auto& s : services) {
        if (!s.cfg.name.empty()) {
            auto [it, fresh] = names.emplace(s.cfg.name, &s);
            if (!fresh)
                ctx.error(s.name_origin.where, s.name_origin.path,
                          "duplicate service name '" + s.cfg.name + "' (first at " +
                              ctx.line_of(it->second->name_origin.where) + ")");
        }
        if (!s.key_ok || !s.cfg.group.empty()) continue;
        auto [it, fresh] = keys.emplace(s.cfg.key, &s);
        if (!fresh)
            ctx.error(s.key_origin.where, s.key_origin.path,
                      "duplicate service " + s.cfg.key.to_string() + " (also service '" +
                          it->second->cfg.name + "' at " + ctx.line_of(it->second->cfg.where) +
                          ")");
        if (s.explicit_fwmark) marks.insert(s.cfg.key.fwmark);
    }

    // Group marks: lowest free mark of the range, in file order, so the same
    // file always gives the same marks and never one an explicit service uses.
    uint64_t next = d.fwmark_first;
    for (auto& s : services) {
        if (!s.key_ok || s.cfg.group.empty()) continue;
        while (next <= d.fwmark_last && marks.count(static_cast<uint32_t>(next))) ++next;
        if (next > d.fwmark_last) {
            ctx.error(s.key_origin.where, s.key_origin.path,
                      "no free firewall mark left for this group in director.fwmark_range [" +
                          std::to_string(d.fwmark_first) + ", " + std::to_string(d.fwmark_last) +
                          "]");
            continue;
        }
        s.cfg.key.fwmark = static_cast<uint32_t>(next);
        marks.insert(static_cast<uint32_t>(next));
    }

    // A group member that also matches another service on the same VIP would
    // steal its packets: IPVS looks up fwmark services first.
    for (size_t i = 0; i < services.size(); ++i) {
        auto& a = services[i];
        if (!a.key_ok || a.cfg.group.empty()) continue;
        for (size_t j = 0; j < services.size(); ++j) {
            auto& b = services[j];
            if (i == j || !b.key_ok || b.explicit_fwmark) continue;
            bool b_group = !b.cfg.group.empty();
            if (b_group && (j < i || *b.cfg.group_vip != *a.cfg.group_vip)) continue;
            if (!b_group && b.cfg.key.addr != *a.cfg.group_vip) continue;
            for (size_t m = 0; m < a.cfg.group.size(); ++m) {
                const GroupMatch& g = a.cfg.group[m];
                bool hit = false;
                if (b_group) {
                    for (auto& h : b.cfg.group) hit = hit || overlaps(g, h);
                } else {
                    GroupMatch single{static_cast<uint8_t>(b.cfg.key.protocol), b.cfg.key.port,
                                      b.cfg.key.port};
                    hit = overlaps(g, single);
                }
                if (hit) {
                    auto& o = b_group ? b.group_origins.front() : b.key_origin;
                    ctx.error(a.group_origins[m].where, a.group_origins[m].path,
                              "group member " + describe(g) + " on " +
                                  a.cfg.group_vip->to_string() + " also matches service '" +
                                  b.cfg.name + "' (" + ctx.line_of(o.where) + ")");
                }
            }
        }
    }

    std::map<IpAddress, const ServiceDraft*> vips;
    for (auto& s : services) {
        if (!s.key_ok || s.explicit_fwmark) continue;
        vips.emplace(s.cfg.group.empty() ? s.cfg.key.addr : *s.cfg.group_vip, &s);
    }
    for (auto& s : services) {
        for (size_t i = 0; i < s.cfg.reals.size(); ++i) {
            auto it = vips.find(s.cfg.reals[i].key.addr);
            if (it != vips.end())
                ctx.error(s.real_origins[i].where, s.real_origins[i].path,
                          "real server " + it->first.to_string() + " is the VIP of service '" +
                              it->second->cfg.name + "'");
        }
        if (s.cfg.sorry_server) {
            auto it = vips.find(s.cfg.sorry_server->addr);
            if (it != vips.end())
                ctx.error(s.sorry_origin.where, s.sorry_origin.path,
                          "sorry server " + it->first.to_string() + " is the VIP of service '" +
                              it->second->cfg.name + "'");
        }
    }
}

DirectorConfig read_root(Ctx& ctx, const toml::table& root) {
    Reader r(ctx, root, "", {"director", "defaults", "service"});
    DirectorConfig cfg;
    cfg.source_file = ctx.file;
    if (auto* t = r.table("director")) read_director(ctx, *t, cfg.director);

    CheckDraft defaults;
    if (auto* t = r.table("defaults")) {
        Reader d(ctx, *t, "defaults", {"check"});
        if (auto* c = d.table("check")) {
            apply_check(ctx, *c, d.path("check"), defaults, true);
            validate_check(ctx, defaults, Origin{ctx.loc(c->source()), d.path("check")});
        }
    }
    cfg.default_check = defaults.spec;

    std::vector<ServiceDraft> services;
    if (auto* n = r.node("service")) {
        auto* a = n->as_array();
        if (!a) {
            r.error("service",
                    "expected an array of tables: write [[service]], got " + type_name(n->type()));
        } else {
            services.resize(a->size());
            for (size_t i = 0; i < a->size(); ++i) {
                auto* t = a->get(i)->as_table();
                if (!t)
                    ctx.error(
                        ctx.loc(a->get(i)->source()), index_path("service", i),
                        "expected a table ([[service]]), got " + type_name(a->get(i)->type()));
                else
                    read_service(ctx, *t, index_path("service", i), defaults, services[i]);
            }
        }
    }
    cross_check(ctx, services, cfg.director);
    for (auto& s : services) cfg.services.push_back(std::move(s.cfg));
    return cfg;
}

}  // namespace

std::string format(const Diagnostic& d) {
    std::string out = d.where.file;
    if (d.where.line)
        out += ":" + std::to_string(d.where.line) + ":" + std::to_string(d.where.column);
    out += ": ";
    if (!d.key_path.empty()) out += d.key_path + ": ";
    return out + d.message;
}

LoadResult load_string(std::string_view text, std::string name) {
    Ctx ctx;
    ctx.file = std::move(name);
    LoadResult result;
    try {
        toml::table root = toml::parse(text, ctx.file);
        DirectorConfig cfg = read_root(ctx, root);
        if (ctx.diags.empty()) result.config = std::move(cfg);
    } catch (const toml::parse_error& e) {
        auto& pos = e.source().begin;
        ctx.error(SourceLocation{ctx.file, pos.line, pos.column}, "",
                  "TOML syntax error: " + std::string(e.description()));
    } catch (const std::exception& e) {
        ctx.diags.clear();
        ctx.error(SourceLocation{ctx.file, 0, 0}, "", std::string("cannot load: ") + e.what());
    }
    std::stable_sort(ctx.diags.begin(), ctx.diags.end(), [](auto& a, auto& b) {
        return std::tie(a.where.line, a.where.column) < std::tie(b.where.line, b.where.column);
    });
    // A value merged into several checks may be reported more than once.
    ctx.diags.erase(std::unique(ctx.diags.begin(), ctx.diags.end()), ctx.diags.end());
    result.diagnostics = std::move(ctx.diags);
    return result;
}

LoadResult load_file(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        LoadResult r;
        r.diagnostics.push_back(Diagnostic{SourceLocation{path, 0, 0}, "", "is a directory"});
        return r;
    }
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    if (in) text << in.rdbuf();
    if (!in || in.bad()) {
        LoadResult r;
        r.diagnostics.push_back(
            Diagnostic{SourceLocation{path, 0, 0}, "",
                       "cannot read the file: " + std::string(std::strerror(errno))});
        return r;
    }
    return load_string(text.str(), path);
}

std::string summary(const DirectorConfig& cfg) {
    size_t reals = 0;
    for (auto& s : cfg.services) reals += s.reals.size();
    auto plural = [](size_t n, std::string_view word) {
        return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
    };
    return plural(cfg.services.size(), "service") + ", " + plural(reals, "real server");
}

}  // namespace ballast::config
