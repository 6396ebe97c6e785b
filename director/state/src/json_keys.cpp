#include "ballast/state/json_keys.hpp"

#include <boost/json.hpp>

namespace ballast::state {

namespace json = boost::json;

namespace {
Error invalid(std::string message) {
    return make_error(EINVAL, "decode", {}, std::move(message));
}
}  // namespace

json::value service_key_to_json(const model::ServiceKey& key) {
    json::object o;
    if (key.is_fwmark()) {
        o["fwmark"] = key.fwmark;
        o["family"] = key.family == AF_INET6 ? "ipv6" : "ipv4";
    } else {
        o["protocol"] = std::string(model::to_string(key.protocol));
        o["address"] = key.addr.to_string();
        o["port"] = key.port;
    }
    return o;
}

Result<model::ServiceKey> service_key_from_json(const json::value& v) {
    const auto* o = v.if_object();
    if (!o) return invalid("a service must be an object");
    if (const auto* mark = o->if_contains("fwmark")) {
        if (!mark->is_int64() || mark->as_int64() < 1 || mark->as_int64() > 0xffffffffLL)
            return invalid("\"fwmark\" must be 1..4294967295");
        const auto* fam = o->if_contains("family");
        if (!fam || !fam->is_string() || (fam->as_string() != "ipv4" && fam->as_string() != "ipv6"))
            return invalid("\"family\" must be \"ipv4\" or \"ipv6\"");
        return model::ServiceKey::mark(static_cast<uint32_t>(mark->as_int64()),
                                       fam->as_string() == "ipv6" ? AF_INET6 : AF_INET);
    }
    const auto* proto = o->if_contains("protocol");
    const auto* addr = o->if_contains("address");
    const auto* port = o->if_contains("port");
    if (!proto || !proto->is_string()) return invalid("\"protocol\" must be a string");
    auto p = model::parse_protocol(std::string_view(proto->as_string()));
    if (!p) return invalid("unknown protocol \"" + std::string(proto->as_string()) + "\"");
    if (!addr || !addr->is_string()) return invalid("\"address\" must be a string");
    auto a = model::IpAddress::parse(std::string_view(addr->as_string()));
    if (!a) return invalid("bad address \"" + std::string(addr->as_string()) + "\"");
    if (!port || !port->is_int64() || port->as_int64() < 0 || port->as_int64() > 65535)
        return invalid("\"port\" must be 0..65535");
    return model::ServiceKey::inet(*p, *a, static_cast<uint16_t>(port->as_int64()));
}

json::value real_key_to_json(const model::RealKey& key) {
    return json::value(key.to_string());
}

Result<model::RealKey> real_key_from_json(const json::value& v) {
    if (!v.is_string()) return invalid("a real server must be a string \"addr:port\"");
    auto e = model::Endpoint::parse(std::string_view(v.as_string()), uint16_t{0});
    if (!e) return invalid("bad real server \"" + std::string(v.as_string()) + "\"");
    return model::RealKey{e->addr, e->port};
}

}  // namespace ballast::state
