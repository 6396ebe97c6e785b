#include "ballast/model/check.hpp"

namespace ballast::model {

namespace {
constexpr std::pair<CheckType, std::string_view> kCheckNames[] = {
    {CheckType::none, "none"},
    {CheckType::tcp, "tcp"},
    {CheckType::http, "http"},
    {CheckType::https, "https"},
    {CheckType::udp, "udp"},
    {CheckType::dns, "dns"},
    {CheckType::exec, "exec"},
    {CheckType::agent, "agent"},
    {CheckType::tcp_half_open, "tcp_half_open"},
};
}

std::optional<CheckType> parse_check_type(std::string_view s) {
    for (auto& [t, name] : kCheckNames)
        if (name == s) return t;
    return std::nullopt;
}

std::string_view to_string(CheckType t) {
    for (auto& [type, name] : kCheckNames)
        if (type == t) return name;
    return "?";
}

}  // namespace ballast::model
