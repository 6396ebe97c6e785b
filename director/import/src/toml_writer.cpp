#include "toml_writer.hpp"

#include <cstdio>

#include "ballast/config/duration.hpp"
#include "map_service.hpp"

namespace ballast::import::detail {

namespace {

using model::CheckSpec;
using model::CheckType;

class Writer {
public:
    std::string out;

    // Wrapped at 100 columns (at blanks); continuation lines are indented.
    void comment(const std::string& text) {
        std::string rest = comment_text(text);
        if (rest.empty()) {
            out += "#\n";
            return;
        }
        size_t lead = rest.find_first_not_of(' ');
        std::string indent = "# " + rest.substr(0, lead == std::string::npos ? 0 : lead);
        std::string prefix = "# ";
        constexpr size_t kWidth = 100;
        while (!rest.empty()) {
            size_t room = kWidth > prefix.size() ? kWidth - prefix.size() : 1;
            size_t cut = rest.size();
            if (cut > room) {
                size_t blank = rest.rfind(' ', room);
                cut = blank != std::string::npos && blank > 0 ? blank : room;
            }
            out += prefix + rest.substr(0, cut) + "\n";
            rest.erase(0, cut);
            size_t next = rest.find_first_not_of(' ');
            rest.erase(0, next == std::string::npos ? rest.size() : next);
            prefix = indent + "  ";
        }
    }
    void notes(const KeyNotes& notes, const std::string& key) {
        auto it = notes.find(key);
        if (it == notes.end()) return;
        for (auto& n : it->second) comment(n);
    }
    void raw(const KeyNotes& notes, const std::string& key, const std::string& value) {
        this->notes(notes, key);
        out += key + " = " + value + "\n";
    }
    void str(const KeyNotes& notes, const std::string& key, const std::string& value) {
        raw(notes, key, toml_string(value));
    }
    void num(const KeyNotes& notes, const std::string& key, uint64_t value) {
        raw(notes, key, std::to_string(value));
    }
    void boolean(const KeyNotes& notes, const std::string& key, bool value) {
        raw(notes, key, value ? "true" : "false");
    }
    void dur(const KeyNotes& notes, const std::string& key, model::Millis value) {
        str(notes, key, config::format_duration(value));
    }

    void service(const OutService& s) {
        out += "\n[[service]]\n";
        comment("keepalived: " + s.origin);
        notes(s.notes, "");
        str(s.notes, "name", s.name);
        switch (s.form) {
            case Form::inet:
                str(s.notes, "vip", s.vip);
                num(s.notes, "port", s.port);
                str(s.notes, "protocol", s.protocol);
                break;
            case Form::fwmark:
                num(s.notes, "fwmark", s.fwmark);
                str(s.notes, "family", s.family);
                break;
            case Form::group:
                str(s.notes, "vip", s.vip);
                raw(s.notes, "group", "[{ protocol = " + toml_string(s.protocol) + " }]");
                break;
        }
        str(s.notes, "scheduler", s.scheduler);
        if (s.one_packet) boolean(s.notes, "one_packet", true);
        if (s.sh_fallback) boolean(s.notes, "sh_fallback", true);
        if (s.sh_port) boolean(s.notes, "sh_port", true);
        if (s.mh_fallback) boolean(s.notes, "mh_fallback", true);
        if (s.mh_port) boolean(s.notes, "mh_port", true);
        if (s.persistence) {
            const auto& p = *s.persistence;
            std::string v = "{ timeout = " + toml_string(config::format_duration(model::Millis(
                                                 static_cast<int64_t>(p.seconds) * 1000)));
            if (p.netmask) v += ", netmask = " + toml_string(*p.netmask);
            if (p.prefix) v += ", prefix = " + std::to_string(*p.prefix);
            if (p.engine) v += ", engine = " + toml_string(*p.engine);
            raw(s.notes, "persistence", v + " }");
        }
        str(s.notes, "on_failure", s.on_failure);
        if (s.sorry_server) str(s.notes, "sorry_server", *s.sorry_server);
        check(s);
        for (auto& r : s.reals) real(r);
    }

    void check(const OutService& s) {
        out += "\n[service.check]\n";
        const KeyNotes& n = s.check_notes;
        if (s.check_where.line)
            comment("keepalived: " + s.check_origin + " (" + s.check_where.to_string() + ")");
        notes(n, "");
        if (!s.check) {
            str(n, "type", "none");
            return;
        }
        const CheckSpec& c = *s.check;
        str(n, "type", std::string(model::to_string(c.type)));
        dur(n, "interval", c.interval);
        if (c.down_interval.count()) dur(n, "down_interval", c.down_interval);
        dur(n, "timeout", c.timeout);
        num(n, "rise", c.rise);
        num(n, "fall", c.fall);
        if (c.start_down) boolean(n, "start_down", true);
        if (c.port) num(n, "port", *c.port);
        switch (c.type) {
            case CheckType::tcp:
            case CheckType::udp:
                if (!c.send.empty()) str(n, "send", c.send);
                if (!c.expect.empty()) str(n, "expect", c.expect);
                break;
            case CheckType::http:
            case CheckType::https: {
                str(n, "path", c.path);
                if (!c.host.empty()) str(n, "host", c.host);
                std::string codes;
                for (size_t i = 0; i < c.expect_status.size(); ++i) {
                    if (i) codes += i % 16 ? ", " : ",\n  ";
                    codes += std::to_string(c.expect_status[i]);
                }
                raw(n, "expect_status",
                    c.expect_status.size() > 16 ? "[\n  " + codes + ",\n]" : "[" + codes + "]");
                if (!c.expect_body_regex.empty()) str(n, "expect_body_regex", c.expect_body_regex);
                break;
            }
            case CheckType::dns:
                str(n, "query_name", c.query_name);
                str(n, "query_type", c.query_type);
                break;
            case CheckType::exec: {
                std::string argv;
                for (auto& a : c.command) argv += (argv.empty() ? "" : ", ") + toml_string(a);
                raw(n, "command", "[" + argv + "]");
                break;
            }
            default:
                break;
        }
    }

    void real(const OutReal& r) {
        out += "\n[[service.real]]\n";
        comment("keepalived: " + r.origin + " (" + r.where.to_string() + ")");
        notes(r.notes, "");
        str(r.notes, "address", r.address);
        num(r.notes, "weight", r.weight);
        str(r.notes, "forward", r.forward);
        if (r.upper_threshold) num(r.notes, "upper_threshold", r.upper_threshold);
        if (r.lower_threshold) num(r.notes, "lower_threshold", r.lower_threshold);
    }
};

}  // namespace

std::string toml_string(std::string_view s) {
    std::string out = "\"";
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        switch (ch) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\r':
                out += "\\r";
                break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04X", c);
                    out += buf;
                } else {
                    out += ch;
                }
        }
    }
    return out + "\"";
}

std::string comment_text(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
            ++i;
            continue;
        }
        size_t len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 1;
        if (i + len <= s.size() && valid_utf8(s.substr(i, len))) {
            out += s.substr(i, len);
            i += len;
        } else {
            out += '?';
            ++i;
        }
    }
    return out;
}

std::string write_toml(const Document& doc) {
    Writer w;
    for (auto& line : doc.header) w.comment(line);
    for (auto& s : doc.services) w.service(s);
    if (!doc.footer.empty()) w.out += "\n";
    for (auto& line : doc.footer) w.comment(line);
    return w.out;
}

}  // namespace ballast::import::detail
