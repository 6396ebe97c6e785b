#include "ballast/state/ownership.hpp"

#include <boost/json.hpp>

#include "ballast/state/files.hpp"
#include "ballast/state/json_keys.hpp"

namespace ballast::state {

namespace json = boost::json;

std::string encode_ownership(const std::set<model::ServiceKey>& services) {
    json::array list;
    for (const auto& k : services) list.push_back(service_key_to_json(k));
    json::object root;
    root["version"] = 1;
    root["services"] = std::move(list);
    return json::serialize(root) + "\n";
}

Result<std::set<model::ServiceKey>> decode_ownership(std::string_view text,
                                                     const std::string& where) {
    auto bad = [&](const std::string& why) {
        return make_error(EBADMSG, "read", where, where + ": corrupt ownership record: " + why);
    };
    boost::system::error_code ec;
    json::value root = json::parse(text, ec);
    if (ec) return bad("not JSON (" + ec.message() + ")");
    const auto* obj = root.if_object();
    if (!obj) return bad("not a JSON object");
    const auto* version = obj->if_contains("version");
    if (!version || !version->is_int64() || version->as_int64() != 1)
        return bad("\"version\" must be 1");
    const auto* list = obj->if_contains("services");
    if (!list || !list->is_array()) return bad("\"services\" must be an array");
    std::set<model::ServiceKey> out;
    size_t i = 0;
    for (const auto& v : list->as_array()) {
        auto key = service_key_from_json(v);
        if (!key) return bad("services[" + std::to_string(i) + "]: " + key.error().message);
        out.insert(*key);
        ++i;
    }
    return out;
}

Result<std::set<model::ServiceKey>> load_ownership(const std::string& dir) {
    const std::string path = dir + "/" + kOwnershipFile;
    auto text = read_file(path);
    if (!text) return text.error();
    if (!*text) return std::set<model::ServiceKey>{};
    return decode_ownership(**text, path);
}

Status save_ownership(const std::string& dir, const std::set<model::ServiceKey>& services) {
    return write_file_atomic(dir, kOwnershipFile, encode_ownership(services));
}

}  // namespace ballast::state
