#include "ballast/control/render.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <vector>

#include <fmt/format.h>

namespace ballast::control {

namespace {

enum class Colour { none, green, red, yellow, dim, bold };

const char* code(Colour c) {
    switch (c) {
        case Colour::green:
            return "\x1b[32m";
        case Colour::red:
            return "\x1b[31m";
        case Colour::yellow:
            return "\x1b[33m";
        case Colour::dim:
            return "\x1b[2m";
        case Colour::bold:
            return "\x1b[1m";
        case Colour::none:
            break;
    }
    return "";
}

std::string paint(const std::string& text, Colour c, const RenderOptions& o) {
    if (!o.colour || c == Colour::none || text.empty()) return text;
    return std::string(code(c)) + text + "\x1b[0m";
}

struct Cell {
    std::string text;
    Colour colour = Colour::none;
};
using Row = std::vector<Cell>;

// Columns padded to the widest cell (the last column is not padded).
std::string table(const std::vector<Row>& rows, const RenderOptions& o, const std::string& indent) {
    std::vector<size_t> width;
    for (const auto& r : rows)
        for (size_t i = 0; i < r.size(); ++i) {
            if (width.size() <= i) width.push_back(0);
            width[i] = std::max(width[i], r[i].text.size());
        }
    std::string out;
    for (const auto& r : rows) {
        std::string line = indent;
        for (size_t i = 0; i < r.size(); ++i) {
            line += paint(r[i].text, r[i].colour, o);
            if (i + 1 < r.size()) line += std::string(width[i] - r[i].text.size() + 2, ' ');
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line + "\n";
    }
    return out;
}

Colour state_colour(const RealView& r) {
    if (r.state == "down") return Colour::red;
    if (r.override_ || r.effective == 0 || r.awaiting) return Colour::yellow;
    if (r.state == "up") return Colour::green;
    return Colour::none;
}

std::string health_text(const RealView& r, double now) {
    if (r.sorry) return "sorry";
    std::string s = r.awaiting ? "waiting" : r.state;
    const auto& check = r.check ? r.check : r.agent;
    if (check && check->since && !r.awaiting) s += " " + format_age(now - *check->since);
    return s;
}

std::string conns_text(const RealView& r) {
    if (!r.active) return "-";
    return std::to_string(*r.active) + "/" + std::to_string(r.inactive.value_or(0));
}

std::string traffic_pair(const Boxed<TrafficView>& t) {
    if (!t) return "-";
    return format_rate(t->inbps) + "/" + format_rate(t->outbps);
}

}  // namespace

std::string format_age(double seconds) {
    const double d = std::max(0.0, seconds);
    if (d < 90) return std::to_string(static_cast<long>(std::lround(d))) + "s";
    if (d < 5400) return std::to_string(static_cast<long>(std::lround(d / 60))) + "m";
    if (d < 172800) return std::to_string(static_cast<long>(std::lround(d / 3600))) + "h";
    return std::to_string(static_cast<long>(std::lround(d / 86400))) + "d";
}

std::string format_rate(uint64_t n) {
    if (n >= 1'000'000'000) return fmt::format("{:.1f}G", static_cast<double>(n) / 1e9);
    if (n >= 1'000'000) return fmt::format("{:.1f}M", static_cast<double>(n) / 1e6);
    if (n >= 1'000) return fmt::format("{:.1f}k", static_cast<double>(n) / 1e3);
    return std::to_string(n);
}

std::string format_utc(double unix_seconds) {
    const auto whole = static_cast<std::time_t>(std::floor(unix_seconds));
    const int ms =
        static_cast<int>(std::lround((unix_seconds - static_cast<double>(whole)) * 1000)) % 1000;
    std::tm tm{};
    ::gmtime_r(&whole, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return fmt::format("{}.{:03d}Z", buf, ms);
}

std::string render_status(const StatusView& s, const RenderOptions& o) {
    std::string out = paint(s.daemon, Colour::bold, o) + " (pid " + std::to_string(s.pid) + "), " +
                      s.config + "\n";
    const auto& rec = s.reconcile;
    std::string ipvs =
        rec.in_sync ? paint("in sync", Colour::green, o)
                    : paint(std::to_string(rec.failing_total) + " IPVS keys failing, retrying",
                            Colour::red, o);
    out += "IPVS: " + ipvs + "; last resync " +
           (rec.last_resync ? format_age(s.now - *rec.last_resync) + " ago" : "not yet") + " (" +
           std::to_string(rec.resyncs) + " resyncs, " + std::to_string(rec.drift_repairs) +
           " drift repairs, " + std::to_string(rec.ops_applied) + " writes, " +
           std::to_string(rec.op_failures) + " failed)\n";
    for (const auto& f : rec.failing) out += "  failing: " + f.key + ": " + f.error + "\n";
    if (rec.failing_total > rec.failing.size())
        out += "  ... and " + std::to_string(rec.failing_total - rec.failing.size()) + " more\n";
    if (rec.retry_in_seconds)
        out += "  next retry in " + format_age(*rec.retry_in_seconds) + " (attempt " +
               std::to_string(rec.retry_failures + 1) + ")\n";
    for (const auto& d : rec.draining) out += "  draining: " + d + "\n";
    if (rec.draining_total > rec.draining.size())
        out += "  ... and " + std::to_string(rec.draining_total - rec.draining.size()) +
               " more draining\n";
    if (!rec.foreign.empty())
        out += "  not ballast's (left alone): " + std::to_string(rec.foreign.size()) +
               " IPVS services\n";
    out += "counters: " +
           (s.counters_at ? "from a dump " + format_age(s.now - *s.counters_at) + " ago"
                          : std::string("no dump yet")) +
           "\n";
    for (const auto& svc : s.services) {
        size_t reals = 0;
        for (const auto& r : svc.reals)
            if (!r.sorry) ++reals;
        std::string title = paint(svc.name, Colour::bold, o) + "  " + svc.key.to_string() + "  " +
                            svc.scheduler + "  check " + svc.check_type + "  ";
        title += svc.down ? paint(std::to_string(svc.down) + " of " + std::to_string(reals) +
                                      " real servers down",
                                  Colour::red, o)
                          : std::to_string(reals) + " real servers";
        if (svc.panic) title += "  " + paint("PANIC: routing to all", Colour::red, o);
        if (svc.sorry_active) title += "  " + paint("sorry server active", Colour::yellow, o);
        out += "\n" + title + "\n";
        std::vector<Row> rows;
        rows.push_back({{"REAL", Colour::dim},
                        {"HEALTH", Colour::dim},
                        {"WEIGHT", Colour::dim},
                        {"ACT/INACT", Colour::dim},
                        {"CONN/S", Colour::dim},
                        {"IN/OUT B/S", Colour::dim},
                        {"WHY", Colour::dim}});
        for (const auto& r : svc.reals) {
            std::string why = r.reason;
            const auto& check = r.check ? r.check : r.agent;
            if (check && check->last_at && !check->last_ok && r.state != "down")
                why += " (last check failed: " + check->last_reason + ")";
            rows.push_back(
                {{r.real, Colour::none},
                 {health_text(r, s.now), state_colour(r)},
                 {r.present ? std::to_string(r.effective) + "/" + std::to_string(r.configured)
                            : "removed/" + std::to_string(r.configured),
                  r.effective == r.configured ? Colour::none : Colour::yellow},
                 {conns_text(r), Colour::none},
                 {r.traffic ? format_rate(r.traffic->cps) : "-", Colour::none},
                 {traffic_pair(r.traffic), Colour::none},
                 {why, Colour::none}});
        }
        out += table(rows, o, "  ");
    }
    return out;
}

std::string render_top(const StatusView& s, const RenderOptions& o) {
    struct Line {
        uint64_t cps = 0;
        Row row;
    };
    std::vector<std::pair<Line, std::vector<Line>>> services;
    for (const auto& svc : s.services) {
        const TrafficView t = svc.traffic.value_or(TrafficView{});
        Line head{t.cps,
                  {{svc.name + " " + svc.key.to_string(), Colour::bold},
                   {format_rate(t.cps), Colour::none},
                   {"", Colour::none},
                   {"", Colour::none},
                   {format_rate(t.inpps), Colour::none},
                   {format_rate(t.outpps), Colour::none},
                   {format_rate(t.inbps), Colour::none},
                   {format_rate(t.outbps), Colour::none},
                   {"", Colour::none}}};
        std::vector<Line> reals;
        for (const auto& r : svc.reals) {
            const TrafficView rt = r.traffic.value_or(TrafficView{});
            reals.push_back(Line{
                rt.cps,
                {{"  " + r.real, state_colour(r)},
                 {format_rate(rt.cps), Colour::none},
                 {r.active ? std::to_string(*r.active) : "-", Colour::none},
                 {r.inactive ? std::to_string(*r.inactive) : "-", Colour::none},
                 {format_rate(rt.inpps), Colour::none},
                 {format_rate(rt.outpps), Colour::none},
                 {format_rate(rt.inbps), Colour::none},
                 {format_rate(rt.outbps), Colour::none},
                 {std::to_string(r.effective) + "/" + std::to_string(r.configured) + " " + r.state,
                  state_colour(r)}}});
        }
        std::stable_sort(reals.begin(), reals.end(),
                         [](const Line& a, const Line& b) { return a.cps > b.cps; });
        services.emplace_back(std::move(head), std::move(reals));
    }
    std::stable_sort(services.begin(), services.end(),
                     [](const auto& a, const auto& b) { return a.first.cps > b.first.cps; });
    std::vector<Row> rows;
    rows.push_back({{"SERVICE / REAL", Colour::dim},
                    {"CONN/S", Colour::dim},
                    {"ACTIVE", Colour::dim},
                    {"INACTIVE", Colour::dim},
                    {"PKT/S IN", Colour::dim},
                    {"PKT/S OUT", Colour::dim},
                    {"B/S IN", Colour::dim},
                    {"B/S OUT", Colour::dim},
                    {"WEIGHT", Colour::dim}});
    const size_t header_lines = 2;
    const size_t limit = o.max_rows > header_lines ? o.max_rows - header_lines : SIZE_MAX;
    size_t shown = 0, total = 0;
    for (const auto& [head, reals] : services) {
        total += 1 + reals.size();
        if (rows.size() - 1 >= limit) continue;
        rows.push_back(head.row);
        for (const auto& r : reals) {
            if (rows.size() - 1 >= limit) break;
            rows.push_back(r.row);
        }
    }
    shown = rows.size() - 1;
    std::string out = paint(s.daemon, Colour::bold, o) + "  " + format_utc(s.now) + "  rates " +
                      (s.counters_at ? "from a dump " + format_age(s.now - *s.counters_at) + " ago"
                                     : std::string("not dumped yet")) +
                      (shown < total ? "  (" + std::to_string(total - shown) + " rows not shown)"
                                     : std::string()) +
                      "\n";
    return out + table(rows, o, "");
}

std::string render_plan(const PlanView& p, const RenderOptions& o) {
    std::string out;
    for (const auto& l : p.lines) {
        const Colour c = l.sign == '+'   ? Colour::green
                         : l.sign == '-' ? Colour::red
                                         : Colour::yellow;
        out += paint(std::string(1, l.sign) + " " + l.text, c, o) + "\n";
    }
    out += p.file + ": " + p.summary + "\n";
    return out;
}

std::string render_reload(const ReloadView& r) {
    std::string out = "reloaded " + r.file + ": " + std::to_string(r.services) +
                      " services; checks +" + std::to_string(r.checks_added) + " -" +
                      std::to_string(r.checks_removed) + " (" + std::to_string(r.checks_kept) +
                      " kept); " + std::to_string(r.ipvs_ops) + " IPVS writes";
    if (r.failed_ops) out += " (" + std::to_string(r.failed_ops) + " failed, retrying)";
    for (const auto& n : r.nft) out += "\n  nft: " + n;
    return out + "\n";
}

std::string render_event(const EventView& e, const RenderOptions& o) {
    const Colour c = e.severity == "error" || e.severity == "warning" ? Colour::red
                     : e.severity == "notice"                         ? Colour::yellow
                     : e.severity == "debug"                          ? Colour::dim
                                                                      : Colour::none;
    return paint(format_utc(e.at), Colour::dim, o) + " " + paint(e.severity, c, o) + " " + e.kind +
           ": " + e.message + "\n";
}

}  // namespace ballast::control
