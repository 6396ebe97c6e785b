// The mapping itself. keepalived's semantics that ballast lacks or has in
// another shape get a comment in the output (Notes) or an entry in
// not_converted; values are never bent silently.
#include "map_service.hpp"

#include <algorithm>
#include <map>
#include <regex>

#include "ballast/config/duration.hpp"

namespace ballast::import::detail {

namespace {

using model::CheckSpec;
using model::CheckType;
using model::ForwardMethod;
using model::IpAddress;
using model::Millis;

constexpr Micros kDefaultDelayLoop = std::chrono::seconds(60);
constexpr Micros kDefaultConnectTimeout = std::chrono::seconds(5);

std::string dur(Millis ms) {
    return config::format_duration(ms);
}

// keepalived timers have microseconds; ballast durations milliseconds.
Millis to_millis(Micros us, bool& rounded) {
    auto ms = std::chrono::ceil<Millis>(us);
    if (Micros(ms) != us) rounded = true;
    return ms;
}

std::string keepalived_forward(ForwardMethod f) {
    switch (f) {
        case ForwardMethod::route:
            return "DR";
        case ForwardMethod::tunnel:
            return "TUN";
        default:
            return "NAT";
    }
}

std::string protocol_name(model::Protocol p) {
    return std::string(model::to_string(p));
}

std::string family_name(uint8_t f) {
    return f == AF_INET6 ? "ipv6" : "ipv4";
}

template <class T>
const std::optional<Set<T>>& first_set(const std::optional<Set<T>>& a,
                                       const std::optional<Set<T>>& b,
                                       const std::optional<Set<T>>& c) {
    return a ? a : b ? b : c;
}

// Replaces `ip` in each argument where it stands alone (not part of a longer
// address or number) by "%ip".
std::vector<std::string> generalize_command(const std::vector<std::string>& argv,
                                            const IpAddress& addr) {
    const std::string ip = addr.to_string();
    auto part_of_address = [&](char c) {
        return std::isxdigit(static_cast<unsigned char>(c)) || c == '.' || c == ':';
    };
    std::vector<std::string> out;
    for (auto arg : argv) {
        for (size_t pos = arg.find(ip); pos != std::string::npos; pos = arg.find(ip, pos)) {
            bool left_ok = pos == 0 || !part_of_address(arg[pos - 1]);
            bool right_ok = pos + ip.size() >= arg.size() || !part_of_address(arg[pos + ip.size()]);
            if (left_ok && right_ok) {
                arg.replace(pos, ip.size(), "%ip");
                pos += 3;
            } else {
                pos += ip.size();
            }
        }
        out.push_back(std::move(arg));
    }
    return out;
}

// Keys of two checks that differ, for "differs in interval, path".
std::string differing_keys(const CheckSpec& a, const CheckSpec& b) {
    std::vector<std::string> keys;
    auto add = [&](bool differs, const char* key) {
        if (differs) keys.push_back(key);
    };
    add(a.type != b.type, "type");
    add(a.interval != b.interval, "interval");
    add(a.down_interval != b.down_interval, "down_interval");
    add(a.timeout != b.timeout, "timeout");
    add(a.rise != b.rise, "rise");
    add(a.fall != b.fall, "fall");
    add(a.start_down != b.start_down, "start_down (alpha)");
    add(a.port != b.port, "port");
    add(a.send != b.send, "send");
    add(a.expect != b.expect, "expect");
    add(a.path != b.path, "path");
    add(a.host != b.host, "host");
    add(a.expect_status != b.expect_status, "expect_status");
    add(a.expect_body_regex != b.expect_body_regex, "expect_body_regex");
    add(a.query_name != b.query_name, "query_name");
    add(a.query_type != b.query_type, "query_type");
    add(a.command != b.command, "command");
    std::string out;
    for (auto& k : keys) out += (out.empty() ? "" : ", ") + k;
    return out.empty() ? "other settings" : out;
}

// The identity of one ballast service made from a virtual_server (or one of
// its group's members).
struct Identity {
    Form form = Form::inet;
    IpAddress vip;
    uint16_t port = 0;
    model::Protocol protocol = model::Protocol::tcp;
    uint32_t fwmark = 0;
    uint8_t family = AF_INET;
    std::string name_hint;
    std::string origin;
    Notes notes;
};

// A real server's converted check, before the service picks one.
struct RealCheck {
    const KaChecker* checker = nullptr;  // the checker converted; nullptr = none
    std::optional<CheckSpec> spec;
    Notes notes;
    bool had_checkers = false;
};

class ServiceMapper {
public:
    ServiceMapper(const KaVirtualServer& vs, std::vector<NotConverted>& nc) : vs_(vs), nc_(nc) {}

    OutService map(const Identity& id) {
        OutService s;
        s.where = vs_.where;
        s.origin = id.origin;
        s.name_hint = id.name_hint;
        s.form = id.form;
        s.vip = id.vip.to_string();
        s.port = id.port;
        s.protocol = protocol_name(id.protocol);
        s.fwmark = id.fwmark;
        s.family = family_name(id.family);
        for (auto& n : id.notes) s.notes[""].push_back(n);
        s.scheduler = vs_.scheduler.value;
        flags(id, s);
        persistence(id, s);
        reals(id, s);
        sorry(id, s);
        return s;
    }

private:
    void nc(const SourceRef& where, std::string keyword, std::string why) {
        nc_.push_back(NotConverted{where, std::move(keyword), std::move(why)});
    }

    // ------------------------------------------------------------ service keys

    void flags(const Identity& id, OutService& s) {
        const std::string& sched = s.scheduler;
        if (vs_.ops) {
            if (id.form == Form::fwmark)
                nc(*vs_.ops, "ops",
                   "ballast allows one-packet scheduling on udp services only, not on fwmark "
                   "services");
            else if (id.protocol != model::Protocol::udp)
                nc(*vs_.ops, "ops", "one-packet scheduling needs UDP: keepalived ignores it too");
            else
                s.one_packet = true;
        }
        auto flag = [&](const std::optional<SourceRef>& at, const char* keyword,
                        const std::string& needs, bool& out) {
            if (!at) return;
            if (sched == needs)
                out = true;
            else
                nc(*at, keyword,
                   "applies to the " + needs + " scheduler only: keepalived ignores it too");
        };
        flag(vs_.sh_port, "sh-port", "sh", s.sh_port);
        flag(vs_.sh_fallback, "sh-fallback", "sh", s.sh_fallback);
        flag(vs_.mh_port, "mh-port", "mh", s.mh_port);
        flag(vs_.mh_fallback, "mh-fallback", "mh", s.mh_fallback);
        // flag-1 / flag-2 are the sh/mh fallback and port flags under another name.
        auto numbered = [&](const std::optional<SourceRef>& at, const char* keyword, bool& sh,
                            bool& mh) {
            if (!at) return;
            if (sched == "sh")
                sh = true;
            else if (sched == "mh")
                mh = true;
            else
                nc(*at, keyword,
                   "scheduler flag with no meaning for the " + sched + " scheduler in ballast");
        };
        numbered(vs_.flag1, "flag-1", s.sh_fallback, s.mh_fallback);
        numbered(vs_.flag2, "flag-2", s.sh_port, s.mh_port);
    }

    void persistence(const Identity& id, OutService& s) {
        std::optional<uint32_t> seconds;
        if (vs_.persistence) seconds = vs_.persistence->value;
        if (!seconds && vs_.granularity) {
            seconds = 360;
            s.notes["persistence"].push_back(
                "keepalived: persistence_granularity without persistence_timeout means a "
                "timeout of 360s");
        }
        if (!seconds && id.form == Form::group) {
            seconds = 360;
            s.notes["persistence"].push_back(
                "keepalived gives a service on every port (port 0) persistence of 360s");
        }
        if (!seconds) return;
        constexpr uint32_t kMaxSeconds = 720 * 3600;  // ballast's longest duration
        if (*seconds > kMaxSeconds) {
            nc(vs_.persistence->where, "persistence_timeout",
               "ballast's longest persistence timeout is 720h: set to 720h");
            seconds = kMaxSeconds;
        }
        OutService::Persistence p;
        p.seconds = *seconds;
        if (vs_.granularity) {
            const auto& g = *vs_.granularity;
            if (id.family == AF_INET6) {
                auto len = parse_unsigned(g.value, 1, 128);
                if (len)
                    p.prefix = static_cast<int>(*len);
                else
                    nc(g.where, "persistence_granularity",
                       "'" + g.value + "' is not an IPv6 prefix length (1..128)");
            } else {
                auto mask = IpAddress::parse(g.value);
                uint32_t bits = 0;
                if (mask && mask->is_v4())
                    bits = (uint32_t(mask->bytes[0]) << 24) | (uint32_t(mask->bytes[1]) << 16) |
                           (uint32_t(mask->bytes[2]) << 8) | mask->bytes[3];
                bool contiguous = ((~bits) & (~bits + 1)) == 0;
                if (!mask || !mask->is_v4())
                    nc(g.where, "persistence_granularity",
                       "'" + g.value + "' is not an IPv4 netmask: keepalived ignores it too");
                else if (!contiguous)
                    nc(g.where, "persistence_granularity",
                       "netmask '" + g.value +
                           "' is not contiguous: ballast accepts only "
                           "contiguous netmasks");
                else
                    p.netmask = mask->to_string();
            }
        }
        if (vs_.persistence_engine) {
            const auto& e = *vs_.persistence_engine;
            if (e.value != "sip")
                nc(e.where, "persistence_engine",
                   "unknown persistence engine '" + e.value + "' (ballast knows sip)");
            else if (id.form != Form::fwmark && id.protocol != model::Protocol::udp)
                nc(e.where, "persistence_engine",
                   "ballast accepts the sip persistence engine on udp services only");
            else
                p.engine = e.value;
        }
        s.persistence = p;
    }

    void sorry(const Identity& id, OutService& s) {
        if (!vs_.sorry) return;
        const KaSorry& ss = *vs_.sorry;
        if (ss.addr.family != id.family) {
            nc(ss.where, "sorry_server",
               "sorry server " + ss.addr.to_string() + " is " + family_name(ss.addr.family) +
                   " but the service is " + family_name(id.family) + ": keepalived skips it too");
            return;
        }
        ForwardMethod f = ss.forward    ? ss.forward->value
                          : vs_.forward ? vs_.forward->value
                                        : ForwardMethod::masquerade;
        if (f != ForwardMethod::masquerade)
            nc(ss.forward ? ss.forward->where : ss.where, "sorry_server",
               "the sorry server is forwarded with " + keepalived_forward(f) +
                   " in keepalived; ballast has no forwarding setting for the sorry server");
        bool with_port = ss.port != 0 && f == ForwardMethod::masquerade;
        for (auto& r : s.reals) {
            auto ep = model::Endpoint::parse(r.address, id.form == Form::inet
                                                            ? std::optional<uint16_t>(id.port)
                                                            : std::optional<uint16_t>(0));
            uint16_t sorry_port = with_port ? ss.port : id.form == Form::inet ? id.port : 0;
            if (ep && ep->addr == ss.addr && ep->port == sorry_port) {
                nc(ss.where, "sorry_server",
                   "the sorry server is also a real server of this service; ballast does not "
                   "allow a server twice in one service");
                return;
            }
        }
        s.sorry_server =
            with_port ? model::Endpoint{ss.addr, ss.port}.to_string() : ss.addr.to_string();
        s.notes["sorry_server"].push_back("keepalived's sorry server (line " +
                                          std::to_string(ss.where.line) +
                                          "): used while every real server is down");
    }

    // ------------------------------------------------------------ reals

    void reals(const Identity& id, OutService& s) {
        if (vs_.reals.empty()) return;  // reported by the caller
        std::vector<RealCheck> checks;
        std::vector<const KaReal*> kept;
        std::map<std::string, uint32_t> seen;  // address -> line of the first
        for (auto& r : vs_.reals) {
            OutReal out;
            if (!real(id, r, out)) continue;
            auto [first, fresh] = seen.emplace(out.address, r.where.line);
            if (!fresh) {
                nc(r.where, "real_server",
                   "duplicate of the real server at line " + std::to_string(first->second) +
                       ": keepalived removes it too");
                continue;
            }
            checks.push_back(real_check(id, r, out));
            kept.push_back(&r);
            s.reals.push_back(std::move(out));
        }
        on_failure(kept, s);
        choose_check(kept, checks, s);
    }

    bool real(const Identity& id, const KaReal& r, OutReal& out) {
        out.where = r.where;
        out.origin = r.header;
        ForwardMethod f = r.forward     ? r.forward->value
                          : vs_.forward ? vs_.forward->value
                                        : ForwardMethod::masquerade;
        if (r.addr.family != id.family) {
            nc(r.where, "real_server",
               "real server " + r.addr.to_string() + " is " + family_name(r.addr.family) +
                   " but the service is " + family_name(id.family) +
                   (f == ForwardMethod::tunnel
                        ? ": keepalived tunnels across families, ballast does not"
                        : ": keepalived skips it too"));
            return false;
        }
        out.forward = std::string(model::to_string(f));
        if (!r.forward && !vs_.forward)
            out.notes["forward"].push_back(
                "keepalived: no lb_kind, so NAT (masq) as keepalived defaults to");
        bool masq = f == ForwardMethod::masquerade;
        if (masq && r.port) {
            out.address = model::Endpoint{r.addr, r.port}.to_string();
        } else {
            out.address = r.addr.to_string();
            uint16_t packet_port = id.form == Form::inet ? id.port : 0;
            if (!masq && r.port && r.port != packet_port)
                out.notes["address"].push_back("keepalived ignores port " + std::to_string(r.port) +
                                               " with " + keepalived_forward(f) +
                                               ": the packet keeps its port");
        }
        uint32_t weight = r.weight ? r.weight->value : vs_.weight.value;
        if (weight > model::kMaxWeight) {
            nc(r.weight ? r.weight->where : vs_.weight.where, "weight",
               "weight " + std::to_string(weight) + " is above ballast's 65535: set to 65535");
            weight = model::kMaxWeight;
        }
        out.weight = weight;
        if (!r.weight && vs_.weight.where.line)
            out.notes["weight"].push_back("from the virtual_server's weight (line " +
                                          std::to_string(vs_.weight.where.line) + ")");
        if (r.upper_threshold) out.upper_threshold = r.upper_threshold->value;
        if (r.lower_threshold) {
            uint32_t lower = r.lower_threshold->value;
            if (lower > 0 && (out.upper_threshold == 0 || lower >= out.upper_threshold))
                nc(r.lower_threshold->where, "lthreshold",
                   "ballast needs lthreshold below a uthreshold; not converted");
            else
                out.lower_threshold = lower;
        }
        return true;
    }

    void on_failure(const std::vector<const KaReal*>& reals, OutService& s) {
        auto inhibit_of = [&](const KaReal* r) {
            return r->inhibit ? r->inhibit->value : vs_.inhibit;
        };
        bool service = vs_.inhibit;
        if (!reals.empty() && std::all_of(reals.begin(), reals.end(), [&](const KaReal* r) {
                return inhibit_of(r) == inhibit_of(reals.front());
            }))
            service = inhibit_of(reals.front());
        for (auto* r : reals)
            if (inhibit_of(r) != service)
                nc(r->inhibit ? r->inhibit->where : r->where, "inhibit_on_failure",
                   std::string("this real server ") +
                       (inhibit_of(r) ? "keeps weight 0" : "is removed") +
                       " when it fails, unlike the others; ballast sets on_failure per service "
                       "(converted: " +
                       (service ? "quiesce" : "remove") + ")");
        s.on_failure = service ? "quiesce" : "remove";
        s.notes["on_failure"].push_back(
            service ? "keepalived inhibit_on_failure: a failed real server stays with weight 0"
                    : "keepalived without inhibit_on_failure removes a failed real server");
    }

    // ------------------------------------------------------------ checks

    RealCheck real_check(const Identity& id, const KaReal& r, const OutReal& out) {
        RealCheck rc;
        rc.had_checkers = !r.checkers.empty();
        for (auto& c : r.checkers) {
            if (rc.spec) {
                nc(c.where, c.keyword,
                   "a second checker on this real server: ballast runs one check per service "
                   "(" +
                       rc.checker->keyword + " at line " + std::to_string(rc.checker->where.line) +
                       " is converted)");
                continue;
            }
            Notes notes;
            auto spec = convert_checker(id, r, c, out, notes);
            if (spec) {
                rc.spec = std::move(spec);
                rc.checker = &c;
                rc.notes = std::move(notes);
            }
        }
        return rc;
    }

    std::optional<CheckSpec> convert_checker(const Identity& id, const KaReal& r,
                                             const KaChecker& c, const OutReal& out, Notes& notes) {
        auto refuse = [&](const SourceRef& where, std::string why) {
            nc(where, c.keyword, std::move(why));
            return std::nullopt;
        };
        CheckSpec spec;
        // Where the probe goes: keepalived uses connect_port, else the port
        // written on the real_server line (0 if none).
        if (c.connect_ip && c.connect_ip->value != r.addr)
            nc(c.connect_ip->where, "connect_ip",
               "checks another address (" + c.connect_ip->value.to_string() +
                   "); ballast checks the real server itself");
        if (c.kind != CheckerKind::misc) {
            auto ep = model::Endpoint::parse(out.address, id.form == Form::inet
                                                              ? std::optional<uint16_t>(id.port)
                                                              : std::optional<uint16_t>(0));
            uint16_t real_port = ep ? ep->port : 0;
            uint16_t probe = c.connect_port ? c.connect_port->value : r.port;
            if (probe == 0 && real_port == 0)
                return refuse(c.where,
                              "no port to check: give connect_port (keepalived probes "
                              "port 0 here, which always fails)");
            if (probe == 0)
                notes.push_back(
                    "keepalived probes port 0 for a real_server written without a "
                    "port (and always fails); ballast probes the real server's port");
            else if (probe != real_port)
                spec.port = probe;
        }
        timing(r, c, spec, notes);
        switch (c.kind) {
            case CheckerKind::tcp:
                spec.type = CheckType::tcp;
                break;
            case CheckerKind::http:
            case CheckerKind::ssl:
                if (!http(r, c, spec, notes)) return std::nullopt;
                break;
            case CheckerKind::misc:
                spec.type = CheckType::exec;
                spec.command = c.misc_path->value;
                for (auto& arg : spec.command)
                    if (!valid_utf8(arg))
                        return refuse(c.misc_path->where,
                                      "the command holds bytes that are not UTF-8, which a TOML "
                                      "file cannot hold");
                break;
            case CheckerKind::dns: {
                spec.type = CheckType::dns;
                const std::string& t = c.dns_type.value;
                if (t != "A" && t != "AAAA")
                    return refuse(c.dns_type.where.line ? c.dns_type.where : c.where,
                                  "ballast's dns check asks for A or AAAA records; this one asks "
                                  "for " +
                                      t + (c.dns_type.where.line ? "" : " (keepalived's default)"));
                spec.query_type = t;
                if (!c.dns_name || c.dns_name->value.empty() || c.dns_name->value == ".")
                    return refuse(c.where,
                                  "no name to query (keepalived asks for the root "
                                  "zone); ballast's dns check needs a name");
                if (!valid_utf8(c.dns_name->value))
                    return refuse(c.dns_name->where, "the name is not UTF-8");
                spec.query_name = c.dns_name->value;
                notes.push_back(
                    "keepalived accepts any reply without an error code; ballast "
                    "also needs an " +
                    t + " record in the answer");
                break;
            }
            case CheckerKind::udp:
                if (!c.require_reply)
                    return refuse(c.where,
                                  "without require_reply keepalived counts silence as success and "
                                  "fails only on ICMP port unreachable; ballast's udp check needs "
                                  "a reply, so it would fail healthy servers");
                if (!c.payload)
                    return refuse(c.where,
                                  "no payload: keepalived sends filler bytes; ballast's "
                                  "udp check needs the bytes to send ('send')");
                if (!valid_utf8(c.payload->value))
                    return refuse(c.payload->where,
                                  "the payload is not UTF-8 text, which a TOML string cannot "
                                  "hold byte for byte");
                spec.type = CheckType::udp;
                spec.send = c.payload->value;
                if (c.reply_data) {
                    if (!valid_utf8(c.reply_data->value))
                        return refuse(c.reply_data->where,
                                      "the expected reply is not UTF-8 text, which a TOML string "
                                      "cannot hold byte for byte");
                    spec.expect = c.reply_data->value;
                    notes.push_back(
                        "keepalived compares the start of the reply; ballast looks "
                        "for the bytes anywhere in it");
                }
                break;
        }
        return spec;
    }

    // delay_loop, connect_timeout, retry, delay_before_retry and alpha, with
    // keepalived's cascade checker -> real_server -> virtual_server -> default.
    void timing(const KaReal& r, const KaChecker& c, CheckSpec& spec, Notes& notes) {
        const Timing &ct = c.timing, &rt = r.timing, &vt = vs_.timing;
        bool rounded = false;
        auto delay = first_set(ct.delay_loop, rt.delay_loop, vt.delay_loop);
        Micros interval_us = delay ? delay->value : kDefaultDelayLoop;
        Micros timeout_us;
        if (c.kind == CheckerKind::misc) {
            // misc_timeout, else the virtual server's delay_loop.
            timeout_us = c.misc_timeout  ? c.misc_timeout->value
                         : vt.delay_loop ? vt.delay_loop->value
                                         : kDefaultDelayLoop;
        } else {
            auto t = first_set(ct.connect_timeout, rt.connect_timeout, vt.connect_timeout);
            timeout_us = t ? t->value : kDefaultConnectTimeout;
        }
        uint32_t default_retry = c.kind == CheckerKind::misc  ? 0
                                 : c.kind == CheckerKind::dns ? 3
                                                              : 1;
        auto retry_set = first_set(ct.retry, rt.retry, vt.retry);
        uint64_t retry = retry_set ? retry_set->value : default_retry;
        Micros default_dbr = c.kind == CheckerKind::http || c.kind == CheckerKind::ssl
                                 ? Micros(std::chrono::seconds(3))
                             : c.kind == CheckerKind::dns ? interval_us
                                                          : Micros(std::chrono::seconds(1));
        auto dbr_set =
            first_set(ct.delay_before_retry, rt.delay_before_retry, vt.delay_before_retry);
        Micros dbr_us = dbr_set ? dbr_set->value : default_dbr;
        auto alpha = first_set(ct.alpha, rt.alpha, vt.alpha);

        spec.interval = std::max(to_millis(interval_us, rounded), Millis(1));
        spec.timeout = std::max(to_millis(timeout_us, rounded), Millis(1));
        Millis dbr = to_millis(dbr_us, rounded);
        if (rounded)
            notes.push_back(
                "keepalived times below a millisecond are rounded up to whole "
                "milliseconds");
        if (spec.timeout >= spec.interval) {
            Millis was = spec.timeout;
            spec.timeout =
                spec.interval > Millis(1000) ? spec.interval - Millis(1000) : spec.interval / 2;
            if (spec.timeout.count() == 0) spec.timeout = Millis(1);
            notes.push_back(
                "keepalived: " +
                std::string(c.kind == CheckerKind::misc ? "script timeout " : "connect_timeout ") +
                dur(was) + " with delay_loop " + dur(spec.interval) +
                " (keepalived waits for a check before the next); ballast needs a "
                "timeout shorter than the interval: " +
                dur(spec.timeout));
        }
        spec.rise = 1;
        spec.fall = static_cast<uint32_t>(std::min<uint64_t>(retry + 1, 1000));
        if (retry + 1 > 1000)
            nc(retry_set->where, "retry",
               "ballast's fall is at most 1000 (retry 999): set to 1000");
        spec.start_down = alpha && alpha->value;
        spec.jitter = Millis(0);
        std::string detect = "keepalived retries a failing server " + std::to_string(retry) +
                             " time(s) " + dur(dbr) +
                             " apart before marking it down, then checks "
                             "it every delay_loop; ballast marks it down after fall = " +
                             std::to_string(spec.fall) + " failures " + dur(spec.interval) +
                             " apart";
        if (retry == 0) {
            notes.push_back("keepalived: retry 0, so one failure marks a server down (fall = 1)");
        } else if (dbr == spec.interval) {
            notes.push_back(detect);
        } else if (dbr > spec.timeout) {
            spec.down_interval = dbr;
            notes.push_back(detect + " and then checks it every down_interval (" +
                            "delay_before_retry)");
        } else {
            notes.push_back(detect + "; delay_before_retry " + dur(dbr) +
                            " is not longer than the timeout, so a failed server is checked "
                            "every interval");
        }
        if (spec.start_down)
            notes.push_back("keepalived alpha: servers start down until their first success");
    }

    bool http(const KaReal& r, const KaChecker& c, CheckSpec& spec, Notes& notes) {
        spec.type = c.kind == CheckerKind::ssl ? CheckType::https : CheckType::http;
        const KaUrl& url = c.urls.front();
        for (size_t i = 1; i < c.urls.size(); ++i)
            nc(c.urls[i].where, "url",
               "ballast checks one path per service: only the first url (line " +
                   std::to_string(url.where.line) + ") is converted");
        std::string path = url.path->value;
        const SourceRef& path_at = url.path->where;
        if (!valid_utf8(path)) {
            nc(path_at, "path", "the path is not UTF-8");
            return false;
        }
        bool clean = std::all_of(path.begin(), path.end(), [](char ch) {
            return static_cast<unsigned char>(ch) > ' ' && ch != 127;
        });
        if (!clean) {
            nc(path_at, "path", "ballast's path may not hold spaces or control characters");
            return false;
        }
        if (path.front() != '/') {
            nc(path_at, "path",
               "'" + path + "' does not start with '/': converted as '/" + path + "'");
            path = "/" + path;
        }
        spec.path = path;
        if (url.status.empty()) {
            spec.expect_status.clear();
            for (uint16_t code = 200; code <= 299; ++code) spec.expect_status.push_back(code);
            notes.push_back("keepalived's default status codes: 200-299");
        } else {
            spec.expect_status = url.status;
        }
        const std::optional<Set<std::string>>* host = nullptr;
        for (auto* h : {&url.virtualhost, &c.virtualhost, &r.virtualhost, &vs_.virtualhost})
            if (*h) {
                host = h;
                break;
            }
        if (host) {
            if (!valid_utf8((*host)->value)) {
                nc((*host)->where, "virtualhost", "the host name is not UTF-8");
                return false;
            }
            spec.host = (*host)->value;
            if (c.kind == CheckerKind::ssl && !c.enable_sni)
                notes.push_back(
                    "keepalived sends no SNI without enable_sni; ballast sends the "
                    "host as SNI");
        }
        if (url.regex) {
            const std::string& re = url.regex->value;
            bool ok = valid_utf8(re) && re.size() <= 256;
            if (ok) {
                try {
                    std::regex compiled(re, std::regex::ECMAScript);
                } catch (const std::regex_error&) {
                    ok = false;
                }
            }
            if (ok) {
                spec.expect_body_regex = re;
                notes.push_back(
                    "keepalived's regex is PCRE2; ballast reads it as an ECMAScript "
                    "regex");
            } else {
                nc(url.regex->where, "regex",
                   "not an ECMAScript regex of at most 256 characters, as ballast needs");
            }
        }
        return true;
    }

    // One check per service: the first real server's; the others must agree.
    void choose_check(const std::vector<const KaReal*>& reals, std::vector<RealCheck>& checks,
                      OutService& s) {
        generalize_commands(reals, checks, s);
        size_t chosen = checks.size();
        for (size_t i = 0; i < checks.size(); ++i)
            if (checks[i].spec) {
                chosen = i;
                break;
            }
        if (chosen == checks.size()) {
            bool any = std::any_of(checks.begin(), checks.end(),
                                   [](const RealCheck& c) { return c.had_checkers; });
            s.check_notes[""].push_back(
                any ? "keepalived's checkers could not be converted (listed at the end): the "
                      "service is not checked"
                    : "keepalived: no checker, so the real servers are always up");
            return;
        }
        const RealCheck& base = checks[chosen];
        s.check = base.spec;
        s.check_where = base.checker->where;
        s.check_origin = base.checker->keyword;
        s.check_notes[""] = base.notes;
        for (size_t i = 0; i < checks.size(); ++i) {
            if (i == chosen) continue;
            const RealCheck& rc = checks[i];
            if (rc.spec && *rc.spec != *base.spec) {
                nc(rc.checker->where, rc.checker->keyword,
                   "differs from the check converted for this service (real_server at line " +
                       std::to_string(reals[chosen]->where.line) + ") in " +
                       differing_keys(*base.spec, *rc.spec) +
                       "; ballast runs one check per service");
            } else if (!rc.had_checkers) {
                nc(reals[i]->where, "real_server",
                   "no checker: keepalived keeps this real server up without checking it; "
                   "ballast checks it with the service's check");
            }
        }
    }

    // Per-server commands that differ only by the server's address become one
    // command with %ip, which ballast replaces per server.
    void generalize_commands(const std::vector<const KaReal*>& reals,
                             std::vector<RealCheck>& checks, OutService& s) {
        std::vector<size_t> exec;
        for (size_t i = 0; i < checks.size(); ++i)
            if (checks[i].spec && checks[i].spec->type == CheckType::exec) exec.push_back(i);
        if (exec.size() < 2) return;
        auto same = [&](auto get) {
            for (size_t i : exec)
                if (get(i) != get(exec.front())) return false;
            return true;
        };
        if (same([&](size_t i) { return checks[i].spec->command; })) return;
        auto general = [&](size_t i) {
            return generalize_command(checks[i].spec->command, reals[i]->addr);
        };
        if (!same(general)) return;
        for (size_t i : exec) checks[i].spec->command = general(i);
        s.check_notes["command"].push_back(
            "each real server's misc_path named its own address; ballast replaces %ip by it");
    }

    const KaVirtualServer& vs_;
    std::vector<NotConverted>& nc_;
};

std::string name_part(const IpAddress& a) {
    std::string s = a.to_string();
    std::replace(s.begin(), s.end(), ':', '_');
    return s;
}

std::string sanitize_name(const std::string& s) {
    std::string out;
    for (char c : s)
        out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')
                   ? c
                   : '_';
    return out;
}

// The family of a fwmark service: ip_family, else the first real (or sorry)
// server's, else IPv4 (keepalived's order).
uint8_t fwmark_family(const KaVirtualServer& vs, std::optional<uint8_t> entry_family) {
    if (entry_family) return *entry_family;
    if (vs.family) return vs.family->value;
    for (auto& r : vs.reals)
        if (!(r.forward ? r.forward->value == ForwardMethod::tunnel
                        : vs.forward && vs.forward->value == ForwardMethod::tunnel))
            return r.addr.family;
    if (vs.sorry) return vs.sorry->addr.family;
    if (!vs.reals.empty()) return vs.reals.front().addr.family;
    return AF_INET;
}

}  // namespace

bool valid_utf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        size_t len = c < 0x80           ? 1
                     : (c >> 5) == 0x6  ? 2
                     : (c >> 4) == 0xe  ? 3
                     : (c >> 3) == 0x1e ? 4
                                        : 0;
        if (len == 0 || i + len > s.size()) return false;
        uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
        for (size_t k = 1; k < len; ++k) {
            auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc >> 6) != 0x2) return false;
            cp = (cp << 6) | (cc & 0x3f);
        }
        static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += len;
    }
    return true;
}

std::vector<OutService> map_virtual_server(const KaVirtualServer& vs, const KaConfig& config,
                                           std::vector<NotConverted>& not_converted) {
    auto nc = [&](std::string why) {
        not_converted.push_back(NotConverted{vs.where, "virtual_server", std::move(why)});
    };
    if (vs.reals.empty()) {
        nc("no real_server: keepalived ignores this virtual server too");
        return {};
    }
    const std::string where = vs.where.to_string();
    std::vector<Identity> ids;
    auto protocol = [&](Identity& id) {
        if (vs.protocol) {
            id.protocol = vs.protocol->value;
        } else {
            id.protocol = model::Protocol::udp;
            id.notes.push_back(
                "keepalived 2.2.7 uses UDP when 'protocol' is missing (older "
                "versions used TCP)");
        }
    };
    auto inet = [&](const IpAddress& vip, uint16_t port, const std::string& prefix,
                    const std::string& origin) {
        Identity id;
        id.vip = vip;
        id.port = port;
        id.family = vip.family;
        id.origin = origin;
        protocol(id);
        id.form = port ? Form::inet : Form::group;
        id.name_hint = prefix + protocol_name(id.protocol) + "-" + name_part(vip) + "-" +
                       (port ? std::to_string(port) : "all");
        if (!port)
            id.notes.push_back(
                "keepalived's port 0 (every port of the VIP) becomes a group "
                "with one member without a port");
        ids.push_back(std::move(id));
    };
    auto fwmark = [&](uint32_t mark, std::optional<uint8_t> family, const std::string& prefix,
                      const std::string& origin) {
        Identity id;
        id.form = Form::fwmark;
        id.fwmark = mark;
        id.family = fwmark_family(vs, family);
        id.origin = origin;
        id.name_hint =
            prefix + "fwmark-" + std::to_string(mark) + (id.family == AF_INET6 ? "-ipv6" : "");
        if (vs.protocol) id.notes.push_back("keepalived ignores 'protocol' on a fwmark service");
        ids.push_back(std::move(id));
    };
    switch (vs.kind) {
        case VsKind::inet:
            inet(vs.vip, vs.port, "", vs.header + " (" + where + ")");
            break;
        case VsKind::fwmark:
            fwmark(vs.fwmark, vs.family ? std::optional(vs.family->value) : std::nullopt, "",
                   vs.header + " (" + where + ")");
            break;
        case VsKind::group: {
            auto it = config.groups.find(vs.group);
            if (it == config.groups.end()) {
                nc("virtual_server_group '" + vs.group +
                   "' is not defined: keepalived skips this virtual server too");
                return {};
            }
            if (it->second.entries.empty()) {
                nc("virtual_server_group '" + vs.group + "' has no usable entries");
                return {};
            }
            std::string prefix = sanitize_name(vs.group) + "-";
            for (auto& e : it->second.entries) {
                std::string origin = vs.header + " (" + where + "), member '" + e.text + "' (" +
                                     e.where.to_string() + ")";
                if (e.is_fwmark) {
                    fwmark(e.fwmark, e.family, prefix, origin);
                } else {
                    for (auto& a : e.addrs) inet(a, e.port, prefix, origin);
                }
            }
            break;
        }
    }
    std::vector<OutService> out;
    ServiceMapper mapper(vs, not_converted);
    for (auto& id : ids) {
        auto s = mapper.map(id);
        if (s.reals.empty()) {
            not_converted.push_back(NotConverted{
                vs.where, "virtual_server",
                "no real server of " + s.origin + " could be converted: service left out"});
            continue;
        }
        out.push_back(std::move(s));
    }
    return out;
}

}  // namespace ballast::import::detail
