#include "ballast/health/agent_reply.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace ballast::health {
namespace {

std::optional<uint32_t> parse_uint(std::string_view s, uint32_t max) {
    if (s.empty() || s.size() > 6) return std::nullopt;
    uint32_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return std::min(v, max);
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

void apply_word(std::string_view w, AgentReply& r) {
    if (iequals(w, "up")) {
        r.liveness = AgentLiveness::up;
    } else if (iequals(w, "down") || iequals(w, "fail") || iequals(w, "stopped")) {
        r.liveness = AgentLiveness::down;
    } else if (iequals(w, "ready")) {
        r.admin = AgentAdmin::ready;
    } else if (iequals(w, "drain")) {
        r.admin = AgentAdmin::drain;
    } else if (iequals(w, "maint")) {
        r.admin = AgentAdmin::maint;
    } else if (w.size() > 1 && w.back() == '%') {
        if (auto v = parse_uint(w.substr(0, w.size() - 1), 256)) r.percent = *v;
    } else if (w.size() > 7 && iequals(w.substr(0, 7), "weight:")) {
        if (auto v = parse_uint(w.substr(7), 65535)) r.weight = *v;
    }
    // Anything else (maxconn:N, future words) is ignored on purpose.
}

}  // namespace

bool AgentReply::alive() const {
    return liveness != AgentLiveness::down && admin != AgentAdmin::maint;
}

Result<AgentReply> parse_agent_reply(std::string_view line) {
    if (line.size() > kMaxAgentLine + 2) {
        return make_error(0, "agent reply", {},
                          "reply line longer than " + std::to_string(kMaxAgentLine) + " bytes");
    }
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > kMaxAgentLine) {
        return make_error(0, "agent reply", {},
                          "reply line longer than " + std::to_string(kMaxAgentLine) + " bytes");
    }
    if (line.find('\0') != std::string_view::npos || line.find('\n') != std::string_view::npos) {
        return make_error(0, "agent reply", {}, "reply is not a single text line");
    }
    AgentReply r;
    const auto hash = line.find('#');
    if (hash != std::string_view::npos) {
        auto desc = line.substr(hash + 1);
        while (!desc.empty() && (desc.front() == ' ' || desc.front() == '\t'))
            desc.remove_prefix(1);
        while (!desc.empty() && (desc.back() == ' ' || desc.back() == '\t')) desc.remove_suffix(1);
        r.description = std::string(desc);
        line = line.substr(0, hash);
    }
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ',' || line[i] == ' ' || line[i] == '\t')) ++i;
        size_t j = i;
        while (j < line.size() && line[j] != ',' && line[j] != ' ' && line[j] != '\t') ++j;
        if (j > i) apply_word(line.substr(i, j - i), r);
        i = j;
    }
    return r;
}

std::optional<AgentReply> parse_weight_text(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
        text.remove_suffix(1);
    }
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
        text.remove_prefix(1);
    }
    if (auto v = parse_uint(text, 65535)) {
        AgentReply r;
        r.weight = *v;
        return r;
    }
    auto parsed = parse_agent_reply(text);
    if (!parsed.ok() || (!parsed->percent && !parsed->weight)) return std::nullopt;
    return std::move(parsed).value();
}

}  // namespace ballast::health
