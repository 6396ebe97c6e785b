#include "ballast/state/overrides.hpp"

#include <boost/json.hpp>

#include "ballast/state/files.hpp"
#include "ballast/state/json_keys.hpp"

namespace ballast::state {

namespace json = boost::json;

std::string encode_overrides(const policy::Overrides& overrides) {
    json::array list;
    for (const auto& [key, ov] : overrides) {
        json::object o;
        o["service"] = key.service ? service_key_to_json(*key.service) : json::value(nullptr);
        o["real"] = real_key_to_json(key.real);
        o["action"] = ov.kind == policy::Override::Kind::drain ? "drain" : "weight";
        if (ov.kind == policy::Override::Kind::weight) o["weight"] = ov.weight;
        o["set_by"] = ov.set_by;
        o["set_at"] =
            std::chrono::duration_cast<std::chrono::seconds>(ov.set_at.time_since_epoch()).count();
        list.push_back(std::move(o));
    }
    json::object root;
    root["version"] = 1;
    root["overrides"] = std::move(list);
    return json::serialize(root) + "\n";
}

Result<policy::Overrides> decode_overrides(std::string_view text, const std::string& where) {
    auto bad = [&](const std::string& why) {
        return make_error(EBADMSG, "read", where, where + ": corrupt overrides record: " + why);
    };
    boost::system::error_code ec;
    json::value root = json::parse(text, ec);
    if (ec) return bad("not JSON (" + ec.message() + ")");
    const auto* obj = root.if_object();
    if (!obj) return bad("not a JSON object");
    const auto* version = obj->if_contains("version");
    if (!version || !version->is_int64() || version->as_int64() != 1)
        return bad("\"version\" must be 1");
    const auto* list = obj->if_contains("overrides");
    if (!list || !list->is_array()) return bad("\"overrides\" must be an array");
    policy::Overrides out;
    size_t i = 0;
    for (const auto& v : list->as_array()) {
        const std::string at = "overrides[" + std::to_string(i++) + "]: ";
        const auto* o = v.if_object();
        if (!o) return bad(at + "must be an object");
        policy::OverrideKey key;
        const auto* svc = o->if_contains("service");
        if (!svc) return bad(at + "\"service\" is missing (null for every service)");
        if (!svc->is_null()) {
            auto k = service_key_from_json(*svc);
            if (!k) return bad(at + k.error().message);
            key.service = *k;
        }
        const auto* real = o->if_contains("real");
        if (!real) return bad(at + "\"real\" is missing");
        auto r = real_key_from_json(*real);
        if (!r) return bad(at + r.error().message);
        key.real = *r;
        policy::Override ov;
        const auto* action = o->if_contains("action");
        if (!action || !action->is_string()) return bad(at + "\"action\" must be a string");
        if (action->as_string() == "drain") {
            ov.kind = policy::Override::Kind::drain;
        } else if (action->as_string() == "weight") {
            ov.kind = policy::Override::Kind::weight;
            const auto* w = o->if_contains("weight");
            if (!w || !w->is_int64() || w->as_int64() < 0 || w->as_int64() > model::kMaxWeight)
                return bad(at + "\"weight\" must be 0..65535");
            ov.weight = static_cast<model::Weight>(w->as_int64());
        } else {
            return bad(at + "\"action\" must be \"drain\" or \"weight\"");
        }
        if (const auto* by = o->if_contains("set_by")) {
            if (!by->is_string()) return bad(at + "\"set_by\" must be a string");
            ov.set_by = std::string(by->as_string());
        }
        if (const auto* t = o->if_contains("set_at")) {
            if (!t->is_int64()) return bad(at + "\"set_at\" must be seconds since the epoch");
            ov.set_at = policy::WallTime(std::chrono::seconds(t->as_int64()));
        }
        if (!out.emplace(key, ov).second) return bad(at + "repeats " + key.to_string());
    }
    return out;
}

Result<policy::Overrides> load_overrides(const std::string& dir) {
    const std::string path = dir + "/" + kOverridesFile;
    auto text = read_file(path);
    if (!text) return text.error();
    if (!*text) return policy::Overrides{};
    return decode_overrides(**text, path);
}

Status save_overrides(const std::string& dir, const policy::Overrides& overrides) {
    return write_file_atomic(dir, kOverridesFile, encode_overrides(overrides));
}

}  // namespace ballast::state
