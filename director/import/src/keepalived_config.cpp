// Node tree -> KaConfig, following keepalived 2.2.7's check_parser.c and the
// checkers' keyword handlers. A keyword the importer has no ballast equivalent
// for is listed where it is read, so nothing is dropped without a line.
#include "keepalived_config.hpp"

#include <algorithm>
#include <cctype>
#include <set>

namespace ballast::import::detail {

namespace {

using model::ForwardMethod;
using model::IpAddress;

const std::string kHa =
    "VRRP is outside ballast's scope: director high availability comes with a later "
    "director-HA feature";

bool is_digits(const std::string& s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string join_words(const std::vector<std::string>& words, size_t from = 0) {
    std::string out;
    for (size_t i = from; i < words.size(); ++i) out += (i > from ? " " : "") + words[i];
    return out;
}

// keepalived's check_true_false(); no argument = true.
std::optional<bool> true_false(const Node& n) {
    if (n.words.size() < 2) return true;
    const std::string& w = n.words[1];
    if (w == "true" || w == "on" || w == "yes") return true;
    if (w == "false" || w == "off" || w == "no") return false;
    return std::nullopt;
}

// An address as keepalived's inet_stosockaddr() takes it, without range or mask.
std::optional<IpAddress> parse_address(std::string s) {
    if (s.size() > 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
    if (s.find_first_of("-/") != std::string::npos) return std::nullopt;
    return IpAddress::parse(s);
}

// Port words: absent or all zeros = no port (keepalived's rule since 2.0.7).
std::optional<uint16_t> parse_port(const std::string& s) {
    if (s.empty() || s.find_first_not_of('0') == std::string::npos) return uint16_t{0};
    auto v = parse_unsigned(s, 1, 65535);
    if (!v) return std::nullopt;
    return static_cast<uint16_t>(*v);
}

std::optional<std::string> hex_bytes(const std::string& text, bool& masked) {
    // keepalived's read_hex_str(): pairs of hex digits, blanks between bytes,
    // a lone digit before a blank is one byte; 'x' is a wildcard nibble.
    std::string out;
    masked = false;
    auto nibble = [&](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        char u = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (u >= 'A' && u <= 'F') return u - 'A' + 10;
        if (u == 'X') {
            masked = true;
            return 0;
        }
        return -1;
    };
    for (size_t p = 0; p < text.size();) {
        while (p < text.size() && (text[p] == ' ' || text[p] == '\t')) ++p;
        if (p >= text.size()) break;
        int v = nibble(text[p++]);
        if (v < 0) return std::nullopt;
        if (p < text.size() && text[p] != ' ' && text[p] != '\t') {
            int w = nibble(text[p++]);
            if (w < 0) return std::nullopt;
            v = (v << 4) | w;
        }
        out += static_cast<char>(v);
    }
    if (out.empty()) return std::nullopt;
    return out;
}

class ConfigReader {
public:
    explicit ConfigReader(KaConfig& out) : out_(out) {}

    void top(const Node& n) {
        const std::string& k = n.keyword();
        if (k == "virtual_server_group") return group(n);
        if (k == "virtual_server") return virtual_server(n);
        if (k == "global_defs")
            return nc(n,
                      "global settings (router id, notification e-mail, LVS timeouts and sync "
                      "daemon, ...) have no ballast equivalent; set [director] yourself");
        if (k.rfind("vrrp_", 0) == 0 || k == "static_ipaddress" || k == "static_routes" ||
            k == "static_rules" || k == "garp_group" || k == "track_file" || k == "track_group" ||
            k == "linkbeat_interfaces" || k == "linkbeat_use_polling" ||
            k == "interface_up_down_delays" || k == "bfd_instance")
            return nc(n, kHa);
        if (k == "SSL")
            return nc(n,
                      "the SSL block (client certificate, key and CA for SSL_GET) has no "
                      "ballast equivalent: ballast's https check presents no client "
                      "certificate");
        if (k == "net_namespace" || k == "net_namespace_ipvs" || k == "namespace_with_ipsets" ||
            k == "instance" || k == "use_pid_dir" || k == "child_wait_time")
            return nc(n, "keepalived process setting with no ballast equivalent");
        nc(n, "unknown keyword (not one keepalived 2.2.7 reads at the top level)");
    }

private:
    // An empty keyword ("" in the file) is shown as "".
    void nc(const Node& n, std::string why) {
        nc(n.where, n.keyword().empty() ? "\"\"" : n.keyword(), std::move(why));
    }
    void nc(const SourceRef& where, std::string keyword, std::string why) {
        out_.not_converted.push_back(NotConverted{where, std::move(keyword), std::move(why)});
    }
    void invalid(const Node& n, const std::string& what) {
        nc(n, "invalid " + what + " '" + join_words(n.words, 1) + "': keepalived ignores it too");
    }
    // A keyword that takes no block but has one: the block is not read.
    void no_block(const Node& n) {
        if (n.has_block) nc(n, "unexpected block after this keyword: its contents are not read");
    }

    template <class T>
    static Set<T> set(const Node& n, T v) {
        return Set<T>{std::move(v), n.where};
    }

    // ------------------------------------------------------------ groups

    void group(const Node& n) {
        if (n.words.size() < 2) return nc(n, "virtual_server_group without a name");
        const std::string& name = n.words[1];
        if (out_.groups.count(name))
            return nc(n, "a second virtual_server_group '" + name + "': the first one (line " +
                             std::to_string(out_.groups[name].where.line) + ") is used");
        KaGroup g;
        g.where = n.where;
        // keepalived reads entries after the name on the same line too.
        if (n.words.size() > 2) {
            Node inline_entry{n.where, {n.words.begin() + 2, n.words.end()}, "", false, {}};
            group_entry(inline_entry, g);
        }
        for (auto& e : n.children) group_entry(e, g);
        if (g.entries.empty()) {
            nc(n, "virtual_server_group '" + name +
                      "' has no usable entries: keepalived removes it too");
            // Still recorded, so its virtual servers say why they are not converted.
        }
        out_.groups.emplace(name, std::move(g));
    }

    void group_entry(const Node& n, KaGroup& g) {
        KaGroupEntry e;
        e.where = n.where;
        e.text = join_words(n.words);
        if (n.has_block) nc(n, "unexpected block in virtual_server_group: not read");
        if (n.keyword() == "fwmark") {
            auto mark = parse_unsigned(n.word(1), 0, 0xffffffff);
            if (!mark)
                return nc(n, "invalid fwmark '" + n.word(1) + "': keepalived ignores it too");
            if (*mark == 0) return nc(n, "fwmark 0 matches no packets: not converted");
            e.is_fwmark = true;
            e.fwmark = static_cast<uint32_t>(*mark);
            if (n.words.size() > 2) {
                if (n.words[2] == "inet")
                    e.family = AF_INET;
                else if (n.words[2] == "inet6")
                    e.family = AF_INET6;
                else
                    return nc(n,
                              "unknown family '" + n.words[2] + "': keepalived ignores the entry");
            }
            g.entries.push_back(std::move(e));
            return;
        }
        auto port = parse_port(n.word(1));
        if (!port) return nc(n, "invalid port '" + n.word(1) + "': keepalived skips the entry");
        e.port = *port;
        std::string why;
        if (!expand_range(n.keyword(), e.addrs, why)) return nc(n, why);
        if (n.words.size() > 2)
            nc(n, "extra words after the port are ignored (as keepalived does)");
        g.entries.push_back(std::move(e));
    }

    // "a.b.c.d", "a.b.c.d-e" (last octet), "a.b.c.d-w.x.y.z", "prefix/len",
    // and the IPv6 forms (last group in hex); at most 256 addresses.
    static bool expand_range(const std::string& text, std::vector<IpAddress>& out,
                             std::string& why) {
        constexpr uint64_t kMax = 256;
        auto bad = [&](std::string w) {
            why = std::move(w);
            return false;
        };
        IpAddress first, last;
        if (size_t slash = text.find('/'); slash != std::string::npos) {
            auto prefix = model::IpPrefix::parse(text);
            auto raw = IpAddress::parse(text.substr(0, slash));
            if (!prefix || !raw || text.substr(slash + 1).empty())
                return bad("invalid address range '" + text + "': keepalived skips it");
            // keepalived refuses host bits; IpPrefix::parse would clear them.
            if (raw->bytes != prefix->addr.bytes)
                return bad("address mask bits not empty in '" + text + "': keepalived skips it");
            first = prefix->addr;
            size_t bits = first.size() * 8;
            if (prefix->length == 0 || bits - prefix->length > 8)
                return bad("range '" + text + "' covers more than " + std::to_string(kMax) +
                           " addresses: not converted");
            last = first;
            for (size_t b = prefix->length; b < bits; ++b)
                last.bytes[b / 8] |= static_cast<uint8_t>(0x80 >> (b % 8));
        } else if (size_t dash = text.find('-'); dash != std::string::npos) {
            auto a = IpAddress::parse(text.substr(0, dash));
            if (!a) return bad("invalid address range '" + text + "': keepalived skips it");
            first = *a;
            std::string end = text.substr(dash + 1);
            bool full = end.find(a->is_v4() ? '.' : ':') != std::string::npos;
            if (full) {
                auto b = IpAddress::parse(end);
                if (!b || b->family != a->family)
                    return bad("invalid address range '" + text + "': keepalived skips it");
                last = *b;
            } else {
                bool hex = a->is_v6();
                if (end.empty() ||
                    !std::all_of(end.begin(), end.end(),
                                 [&](char c) {
                                     return hex ? std::isxdigit(static_cast<unsigned char>(c)) != 0
                                                : (c >= '0' && c <= '9');
                                 }) ||
                    end.size() > 5)
                    return bad("invalid address range '" + text + "': keepalived skips it");
                unsigned long v = std::stoul(end, nullptr, hex ? 16 : 10);
                last = first;
                if (a->is_v4()) {
                    if (v > 255) return bad("range end of '" + text + "' is too large");
                    if (v <= first.bytes[3])
                        return bad("range end of '" + text + "' is not above its start");
                    last.bytes[3] = static_cast<uint8_t>(v);
                } else {
                    if (v > 0xffff) return bad("range end of '" + text + "' is too large");
                    unsigned start = (unsigned(first.bytes[14]) << 8) | first.bytes[15];
                    if (v <= start)
                        return bad("range end of '" + text + "' is not above its start");
                    last.bytes[14] = static_cast<uint8_t>(v >> 8);
                    last.bytes[15] = static_cast<uint8_t>(v);
                }
            }
        } else {
            auto a = IpAddress::parse(text);
            if (!a) return bad("invalid address '" + text + "': keepalived skips the entry");
            out.push_back(*a);
            return true;
        }
        if (last < first)
            return bad("range end of '" + text + "' is below its start: keepalived skips it");
        // Count and expand, big-endian increment.
        IpAddress cur = first;
        for (uint64_t n = 0;; ++n) {
            if (n >= kMax)
                return bad("range '" + text + "' covers more than " + std::to_string(kMax) +
                           " addresses: not converted");
            out.push_back(cur);
            if (cur == last) break;
            for (size_t i = cur.size(); i-- > 0;)
                if (++cur.bytes[i] != 0) break;
        }
        return true;
    }

    // ------------------------------------------------------------ virtual_server

    void virtual_server(const Node& n) {
        KaVirtualServer vs;
        vs.where = n.where;
        vs.header = join_words(n.words);
        const std::string& a = n.word(1);
        if (a == "group") {
            if (n.word(2).empty()) return nc(n, "virtual_server group without a group name");
            vs.kind = VsKind::group;
            vs.group = n.word(2);
        } else if (a == "fwmark") {
            auto mark = parse_unsigned(n.word(2), 0, 0xffffffff);
            if (!mark)
                return nc(n, "invalid fwmark '" + n.word(2) +
                                 "': keepalived skips this virtual server too");
            if (*mark == 0) return nc(n, "fwmark 0 matches no packets: not converted");
            vs.kind = VsKind::fwmark;
            vs.fwmark = static_cast<uint32_t>(*mark);
        } else {
            auto vip = parse_address(a);
            auto port = parse_port(n.word(2));
            if (!vip || !port)
                return nc(n, "invalid address or port '" + join_words(n.words, 1) +
                                 "': keepalived skips this virtual server too");
            vs.vip = *vip;
            vs.port = *port;
            vs.family = Set<uint8_t>{vip->family, n.where};
        }
        if (n.words.size() > 3)
            nc(n, "extra words after the address are ignored (as keepalived does)");
        if (!n.has_block) nc(n, "virtual_server without a block: nothing to convert");
        for (auto& c : n.children) vs_keyword(c, vs);
        out_.virtual_servers.push_back(std::move(vs));
    }

    bool timing(const Node& n, Timing& t) {
        const std::string& k = n.keyword();
        auto timer = [&](std::optional<Set<Micros>>& slot, bool zero_ok) {
            auto v = parse_timer(n.word(1));
            if (!v || (!zero_ok && v->count() == 0)) return invalid(n, k);
            slot = set(n, *v);
        };
        if (k == "delay_loop") {
            timer(t.delay_loop, false);
        } else if (k == "connect_timeout") {
            timer(t.connect_timeout, false);
        } else if (k == "delay_before_retry") {
            timer(t.delay_before_retry, true);
        } else if (k == "warmup") {
            timer(t.warmup, true);
            if (t.warmup)
                nc(n,
                   "ballast spreads the first checks over one interval by itself; a warm-up "
                   "delay cannot be set");
        } else if (k == "retry" || k == "nb_get_retry") {
            auto v = parse_unsigned(n.word(1), 0, 0xffffffffu);
            if (!v) return invalid(n, k), true;
            t.retry = set(n, static_cast<uint32_t>(*v));
        } else if (k == "alpha") {
            auto v = true_false(n);
            if (!v) return invalid(n, k), true;
            t.alpha = set(n, *v);
        } else {
            return false;
        }
        no_block(n);
        return true;
    }

    std::optional<Set<ForwardMethod>> forward(const Node& n) {
        const std::string& m = n.word(1);
        ForwardMethod f;
        if (m == "NAT")
            f = ForwardMethod::masquerade;
        else if (m == "DR")
            f = ForwardMethod::route;
        else if (m == "TUN")
            f = ForwardMethod::tunnel;
        else
            return invalid(n, "forwarding method"), std::nullopt;
        if (n.words.size() > 2)
            nc(n, "tunnel options '" + join_words(n.words, 2) +
                      "' have no ballast equivalent: plain IP-in-IP is used");
        return set(n, f);
    }

    // The service flags that take no value; the mapping decides what they mean.
    static std::optional<SourceRef>* service_flag(KaVirtualServer& vs, const std::string& k) {
        static const std::pair<const char*, std::optional<SourceRef> KaVirtualServer::*> flags[] = {
            {"ops", &KaVirtualServer::ops},
            {"sh-port", &KaVirtualServer::sh_port},
            {"sh-fallback", &KaVirtualServer::sh_fallback},
            {"mh-port", &KaVirtualServer::mh_port},
            {"mh-fallback", &KaVirtualServer::mh_fallback},
            {"flag-1", &KaVirtualServer::flag1},
            {"flag-2", &KaVirtualServer::flag2}};
        for (auto& [name, member] : flags)
            if (k == name) return &(vs.*member);
        return nullptr;
    }

    // Keywords of both virtual_server and real_server; false when `n` is none of them.
    bool shared_server_keyword(const Node& n, std::optional<Set<std::string>>& virtualhost) {
        const std::string& k = n.keyword();
        if (k == "smtp_alert") {
            nc(n,
               "e-mail alerts have no ballast equivalent (state changes are logged and in "
               "the metrics)");
        } else if (k == "snmp_name") {
            nc(n, "ballast has no SNMP agent");
        } else if (k == "virtualhost") {
            if (n.word(1).empty())
                invalid(n, k);
            else
                virtualhost = set(n, n.word(1));
        } else {
            return false;
        }
        return true;
    }

    void vs_keyword(const Node& n, KaVirtualServer& vs) {
        const std::string& k = n.keyword();
        if (k == "real_server") return real(n, vs);
        if (timing(n, vs.timing)) return;
        if (k != "sorry_server") no_block(n);
        if (k == "ip_family") {
            if (n.word(1) == "inet")
                vs.family = set<uint8_t>(n, AF_INET);
            else if (n.word(1) == "inet6")
                vs.family = set<uint8_t>(n, AF_INET6);
            else
                invalid(n, k);
        } else if (k == "inhibit_on_failure") {
            vs.inhibit = true;
        } else if (k == "lb_algo" || k == "lvs_sched") {
            if (!model::is_known_scheduler(n.word(1)))
                return nc(n, "unknown scheduler '" + n.word(1) +
                                 "': keepalived ignores it (its default is wlc)");
            vs.scheduler = set(n, n.word(1));
        } else if (auto* flag = service_flag(vs, k)) {
            *flag = n.where;
        } else if (k == "flag-3") {
            nc(n, "scheduler flag 3 has no ballast equivalent");
        } else if (k == "hashed") {
            nc(n, "the 'hashed' flag has no ballast equivalent (IPVS hashes every service)");
        } else if (k == "lb_kind" || k == "lvs_method") {
            if (auto f = forward(n)) vs.forward = f;
        } else if (k == "persistence_timeout") {
            if (n.words.size() < 2) {
                vs.persistence = set<uint32_t>(n, 360);
            } else if (n.word(1) == "0") {
                // Written in many configs to mean "no persistence"; keepalived rejects 0.
                vs.persistence.reset();
            } else if (auto v = parse_unsigned(n.word(1), 1, 86400 * 31)) {
                vs.persistence = set(n, static_cast<uint32_t>(*v));
            } else {
                invalid(n, k);
            }
        } else if (k == "persistence_granularity") {
            if (n.word(1).empty()) return invalid(n, k);
            vs.granularity = set(n, n.word(1));
        } else if (k == "persistence_engine") {
            vs.persistence_engine = set(n, n.word(1));
        } else if (k == "protocol") {
            std::string p = n.word(1);
            std::transform(p.begin(), p.end(), p.begin(), [](char c) {
                return static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            });
            if (p == "TCP")
                vs.protocol = set(n, model::Protocol::tcp);
            else if (p == "UDP")
                vs.protocol = set(n, model::Protocol::udp);
            else if (p == "SCTP")
                vs.protocol = set(n, model::Protocol::sctp);
            else
                invalid(n, "protocol");
        } else if (k == "ha_suspend") {
            nc(n, "suspends checks while VRRP is backup; " + kHa);
        } else if (shared_server_keyword(n, vs.virtualhost)) {
        } else if (k == "omega") {
            nc(n,
               "running quorum_down and clearing the servers when keepalived stops has no "
               "ballast equivalent");
        } else if (k == "quorum_up" || k == "quorum_down") {
            nc(n, "quorum scripts have no ballast equivalent");
        } else if (k == "quorum") {
            auto v = parse_unsigned(n.word(1), 1, 0xffffffffu);
            if (!v || *v != 1)
                nc(n,
                   "ballast has no quorum: its sorry server takes over when every real "
                   "server is down (keepalived's quorum 1)");
        } else if (k == "hysteresis") {
            auto v = parse_unsigned(n.word(1), 0, 0xffffffffu);
            if (!v || *v != 0) nc(n, "ballast has no quorum, so no quorum hysteresis");
        } else if (k == "weight") {
            auto v = parse_unsigned(n.word(1), 1, 0x7fffffff);
            if (!v) return invalid(n, k);
            vs.weight = set(n, static_cast<uint32_t>(*v));
        } else if (k == "sorry_server") {
            no_block(n);
            auto addr = parse_address(n.word(1));
            auto port = parse_port(n.word(2));
            if (!addr || !port) return invalid(n, "sorry server");
            vs.sorry = KaSorry{n.where, *addr, *port, std::nullopt};
        } else if (k == "sorry_server_inhibit") {
            nc(n,
               "ballast gives its sorry server weight 1 while every real server is down and "
               "removes it otherwise; inhibiting it is not possible");
        } else if (k == "sorry_server_lvs_method") {
            if (!vs.sorry)
                return nc(n, "used before or without sorry_server: keepalived ignores it");
            if (auto f = forward(n)) vs.sorry->forward = f;
        } else {
            nc(n, "unknown keyword in virtual_server");
        }
    }

    // ------------------------------------------------------------ real_server

    void real(const Node& n, KaVirtualServer& vs) {
        KaReal r;
        r.where = n.where;
        r.header = join_words(n.words);
        auto addr = parse_address(n.word(1));
        auto port = parse_port(n.word(2));
        if (!addr || !port)
            return nc(n, "invalid address or port '" + join_words(n.words, 1) +
                             "': keepalived skips this real server too");
        r.addr = *addr;
        r.port = *port;
        for (auto& c : n.children) real_keyword(c, r);
        vs.reals.push_back(std::move(r));
    }

    void real_keyword(const Node& n, KaReal& r) {
        const std::string& k = n.keyword();
        if (k == "TCP_CHECK") return checker(n, r, CheckerKind::tcp);
        if (k == "HTTP_GET") return checker(n, r, CheckerKind::http);
        if (k == "SSL_GET") return checker(n, r, CheckerKind::ssl);
        if (k == "MISC_CHECK") return checker(n, r, CheckerKind::misc);
        if (k == "DNS_CHECK") return checker(n, r, CheckerKind::dns);
        if (k == "UDP_CHECK") return checker(n, r, CheckerKind::udp);
        if (k == "SMTP_CHECK" || k == "PING_CHECK" || k == "FILE_CHECK" || k == "BFD_CHECK")
            return nc(n, "ballast has no " + k +
                             " (its checks are tcp, http, https, udp, dns, "
                             "exec and agent)");
        if (timing(n, r.timing)) return;
        no_block(n);
        if (k == "weight") {
            auto v = parse_unsigned(n.word(1), 0, 0x7fffffff);
            if (!v) return invalid(n, k);
            r.weight = set(n, static_cast<uint32_t>(*v));
        } else if (k == "lvs_method") {
            if (auto f = forward(n)) r.forward = f;
        } else if (k == "uthreshold" || k == "lthreshold") {
            auto v = parse_unsigned(n.word(1), 0, 0xffffffffu);
            if (!v) return invalid(n, k);
            (k == "uthreshold" ? r.upper_threshold : r.lower_threshold) =
                set(n, static_cast<uint32_t>(*v));
        } else if (k == "inhibit_on_failure") {
            auto v = true_false(n);
            if (!v) return invalid(n, k);
            r.inhibit = set(n, *v);
        } else if (k == "notify_up" || k == "notify_down") {
            nc(n,
               "ballast runs no scripts on state changes (they are logged, shown by "
               "ballastctl and in the metrics)");
        } else if (shared_server_keyword(n, r.virtualhost)) {
        } else {
            nc(n, "unknown keyword in real_server");
        }
    }

    // ------------------------------------------------------------ checkers

    void checker(const Node& n, KaReal& r, CheckerKind kind) {
        KaChecker c;
        c.kind = kind;
        c.keyword = n.keyword();
        c.where = n.where;
        for (auto& child : n.children) checker_keyword(child, c);
        if (c.kind == CheckerKind::http || c.kind == CheckerKind::ssl) {
            auto no_path = [](const KaUrl& u) { return !u.path; };
            c.urls.erase(std::remove_if(c.urls.begin(), c.urls.end(), no_path), c.urls.end());
            if (c.urls.empty())
                return nc(n, "no url with a path: keepalived drops this checker too");
        }
        if (c.kind == CheckerKind::misc && !c.misc_path)
            return nc(n, "no misc_path: keepalived drops this checker too");
        r.checkers.push_back(std::move(c));
    }

    void checker_keyword(const Node& n, KaChecker& c) {
        const std::string& k = n.keyword();
        bool connecting = c.kind != CheckerKind::misc;
        if (k == "url" && (c.kind == CheckerKind::http || c.kind == CheckerKind::ssl))
            return url(n, c);
        if (k != "nb_get_retry" || c.kind == CheckerKind::http || c.kind == CheckerKind::ssl)
            if ((k != "connect_timeout" || connecting) && timing(n, c.timing)) return;
        no_block(n);
        if (connecting && k == "connect_ip") {
            auto a = parse_address(n.word(1));
            if (!a) return invalid(n, k);
            c.connect_ip = set(n, *a);
        } else if (connecting && k == "connect_port") {
            auto v = parse_unsigned(n.word(1), 1, 65535);
            if (!v) return invalid(n, k);
            c.connect_port = set(n, static_cast<uint16_t>(*v));
        } else if (connecting && (k == "bindto" || k == "bind_port" || k == "bind_if")) {
            nc(n, "ballast's checks use the director's default source address and port");
        } else if (connecting && k == "fwmark") {
            nc(n, "ballast's checks do not mark their packets");
        } else if (k == "log_all_failures") {
            nc(n, "ballast logs state changes, not every failed check");
        } else if (((c.kind == CheckerKind::http || c.kind == CheckerKind::ssl) &&
                    http_keyword(n, c)) ||
                   (c.kind == CheckerKind::misc && misc_keyword(n, c)) ||
                   (c.kind == CheckerKind::udp && udp_keyword(n, c))) {
            // the checker-specific keyword was taken by its reader
        } else if (c.kind == CheckerKind::dns && (k == "type" || k == "name")) {
            if (k == "type") {
                std::string t = n.word(1);
                std::transform(t.begin(), t.end(), t.begin(), [](char ch) {
                    return static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
                });
                static const std::set<std::string> known = {"A",   "NS",   "CNAME", "SOA",   "MX",
                                                            "TXT", "AAAA", "RRSIG", "DNSKEY"};
                if (!known.count(t)) return invalid(n, "DNS type");
                c.dns_type = set(n, t);
            } else {
                if (n.word(1).empty()) return invalid(n, k);
                c.dns_name = set(n, n.word(1));
            }
        } else {
            nc(n, "unknown keyword in " + c.keyword);
        }
    }

    bool http_keyword(const Node& n, KaChecker& c) {
        const std::string& k = n.keyword();
        if (k == "virtualhost") {
            if (n.word(1).empty()) return invalid(n, k), true;
            c.virtualhost = set(n, n.word(1));
        } else if (k == "http_protocol") {
            nc(n, "ballast's http check always sends HTTP/1.1 requests with a Host header");
        } else if (k == "enable_sni") {
            auto v = true_false(n);
            if (!v) return invalid(n, k), true;
            c.enable_sni = *v;
        } else if (k == "fast_recovery") {
            nc(n, "ballast's checks keep their interval after a recovery");
        } else {
            return false;
        }
        return true;
    }

    void url(const Node& n, KaChecker& c) {
        KaUrl u;
        u.where = n.where;
        for (auto& child : n.children) {
            const std::string& k = child.keyword();
            no_block(child);
            if (k == "path") {
                if (child.word(1).empty()) {
                    invalid(child, k);
                    continue;
                }
                u.path = set(child, child.word(1));
            } else if (k == "digest") {
                nc(child,
                   "ballast's http check cannot compare an MD5 digest of the body; only "
                   "the path and status are checked");
            } else if (k == "status_code") {
                status_codes(child, u);
            } else if (k == "virtualhost") {
                if (child.word(1).empty()) {
                    invalid(child, k);
                    continue;
                }
                u.virtualhost = set(child, child.word(1));
            } else if (k == "regex") {
                auto words = split_quoted_escaped(child.text);
                if (!words || words->size() != 2) {
                    invalid(child, k);
                    continue;
                }
                u.regex = set(child, (*words)[1]);
            } else if (k == "regex_no_match" || k == "regex_options" || k == "regex_min_offset" ||
                       k == "regex_max_offset" || k == "regex_stack") {
                nc(child, "ballast's expect_body_regex has no " + k.substr(6) + " setting");
            } else {
                nc(child, "unknown keyword in url");
            }
        }
        c.urls.push_back(std::move(u));
    }

    void status_codes(const Node& n, KaUrl& u) {
        for (size_t i = 1; i < n.words.size(); ++i) {
            const std::string& w = n.words[i];
            size_t dash = w.find('-');
            auto lo = parse_unsigned(w.substr(0, dash), 100, 599);
            auto hi = dash == std::string::npos ? lo : parse_unsigned(w.substr(dash + 1), 100, 599);
            if (!lo || !hi || *lo > *hi) {
                nc(n.where, "status_code",
                   "invalid status code '" + w + "': keepalived ignores it too");
                continue;
            }
            for (uint64_t code = *lo; code <= *hi; ++code)
                if (std::find(u.status.begin(), u.status.end(), code) == u.status.end())
                    u.status.push_back(static_cast<uint16_t>(code));
        }
        std::sort(u.status.begin(), u.status.end());
    }

    bool misc_keyword(const Node& n, KaChecker& c) {
        const std::string& k = n.keyword();
        if (k == "misc_path") {
            // keepalived re-reads the line with quotes and escapes, then splits
            // its first argument again into the program and its arguments.
            auto line = split_quoted_escaped(n.text);
            std::optional<std::vector<std::string>> argv;
            if (line && line->size() >= 2) argv = split_quoted_escaped((*line)[1]);
            if (!argv || argv->empty() || (*argv)[0].empty()) return invalid(n, k), true;
            if (line->size() > 2)
                nc(n, "words after the quoted command are ignored by keepalived ('" +
                          join_words(*line, 2) + "'); quote the whole command");
            c.misc_path = set(n, *argv);
        } else if (k == "misc_timeout") {
            auto v = parse_unsigned(n.word(1), 0, 0xffffffffu / 1000000);
            if (!v) return invalid(n, k), true;
            if (*v > 0) c.misc_timeout = set(n, Micros(*v * 1000000));
        } else if (k == "misc_dynamic") {
            nc(n,
               "keepalived takes the weight from the exit code (2..255 = weight + 2); "
               "ballast's exec check takes it from the program's output "
               "(weight_from_output): change the script, then set weight_from_output");
        } else if (k == "user") {
            nc(n, "ballast runs exec checks as its own user");
        } else {
            return false;
        }
        return true;
    }

    bool udp_keyword(const Node& n, KaChecker& c) {
        const std::string& k = n.keyword();
        bool masked = false;
        if (k == "payload") {
            auto bytes = hex_bytes(join_words(n.words, 1), masked);
            if (!bytes || masked) return invalid(n, "payload"), true;
            c.payload = set(n, *bytes);
        } else if (k == "require_reply") {
            c.require_reply = n.where;
            if (n.words.size() > 1) {
                auto bytes = hex_bytes(join_words(n.words, 1), masked);
                if (!bytes) return invalid(n, k), true;
                if (masked)
                    nc(n,
                       "a reply pattern with wildcard nibbles cannot be converted: any reply "
                       "is accepted");
                else
                    c.reply_data = set(n, *bytes);
            }
        } else if (k == "min_reply_length" || k == "max_reply_length") {
            nc(n, "ballast's udp check has no reply length limits");
        } else {
            return false;
        }
        return true;
    }

    KaConfig& out_;
};

}  // namespace

std::optional<uint64_t> parse_unsigned(const std::string& s, uint64_t min, uint64_t max) {
    if (!is_digits(s) || s.size() > 19) return std::nullopt;
    uint64_t v = std::stoull(s);
    if (v < min || v > max) return std::nullopt;
    return v;
}

std::optional<Micros> parse_timer(const std::string& s) {
    size_t dot = s.find('.');
    std::string whole = s.substr(0, dot);
    std::string frac = dot == std::string::npos ? "" : s.substr(dot + 1);
    if (whole.empty() && frac.empty()) return std::nullopt;
    if ((!whole.empty() && !is_digits(whole)) || (!frac.empty() && !is_digits(frac)) ||
        frac.size() > 6 || whole.size() > 9)
        return std::nullopt;
    uint64_t us = (whole.empty() ? 0 : std::stoull(whole)) * 1'000'000;
    if (!frac.empty()) us += std::stoull(frac + std::string(6 - frac.size(), '0'));
    return Micros(static_cast<int64_t>(us));
}

KaConfig read_config(const std::vector<Node>& nodes) {
    KaConfig out;
    ConfigReader reader(out);
    for (auto& n : nodes) reader.top(n);
    return out;
}

}  // namespace ballast::import::detail
