#include "ballast/control/json_fields.hpp"

#include <boost/json.hpp>

namespace ballast::control {

namespace json = boost::json;

JsonFields::JsonFields(const json::value& v, std::string where)
    : obj_(v.if_object()), where_(std::move(where)) {
    if (!obj_)
        problem_ =
            (where_.empty() ? std::string("the message") : where_) + " must be a JSON object";
}

void JsonFields::fail(std::string message) {
    if (!problem_) problem_ = std::move(message);
}

std::string JsonFields::where(std::string_view name) const {
    std::string out = "\"" + std::string(name) + "\"";
    return where_.empty() ? out : where_ + "." + out;
}

bool JsonFields::has(std::string_view name) const {
    return find(name) != nullptr;
}

const json::value* JsonFields::find(std::string_view name) const {
    if (!obj_) return nullptr;
    const auto* v = obj_->if_contains(name);
    return v && !v->is_null() ? v : nullptr;
}

std::string JsonFields::str(std::string_view name) {
    auto v = opt_str(name);
    if (!v && ok()) fail(where(name) + " is missing");
    return v.value_or("");
}

bool JsonFields::boolean(std::string_view name) {
    auto v = opt_boolean(name);
    if (!v && ok()) fail(where(name) + " is missing");
    return v.value_or(false);
}

double JsonFields::number(std::string_view name) {
    auto v = opt_number(name);
    if (!v && ok()) fail(where(name) + " is missing");
    return v.value_or(0);
}

uint64_t JsonFields::uint(std::string_view name, uint64_t max) {
    auto v = opt_uint(name, max);
    if (!v && ok()) fail(where(name) + " is missing");
    return v.value_or(0);
}

const json::array* JsonFields::array(std::string_view name) {
    const auto* v = find(name);
    if (!v) {
        fail(where(name) + " is missing");
        return nullptr;
    }
    if (!v->is_array()) {
        fail(where(name) + " must be an array");
        return nullptr;
    }
    return &v->get_array();
}

const json::value* JsonFields::object(std::string_view name) {
    const auto* v = opt_object(name);
    if (!v && ok()) fail(where(name) + " is missing");
    return v;
}

std::optional<std::string> JsonFields::opt_str(std::string_view name) {
    const auto* v = find(name);
    if (!v) return std::nullopt;
    if (!v->is_string()) {
        fail(where(name) + " must be a string");
        return std::nullopt;
    }
    return std::string(v->get_string());
}

std::optional<bool> JsonFields::opt_boolean(std::string_view name) {
    const auto* v = find(name);
    if (!v) return std::nullopt;
    if (!v->is_bool()) {
        fail(where(name) + " must be true or false");
        return std::nullopt;
    }
    return v->get_bool();
}

std::optional<double> JsonFields::opt_number(std::string_view name) {
    const auto* v = find(name);
    if (!v) return std::nullopt;
    if (v->is_double()) return v->get_double();
    if (v->is_int64()) return static_cast<double>(v->get_int64());
    if (v->is_uint64()) return static_cast<double>(v->get_uint64());
    fail(where(name) + " must be a number");
    return std::nullopt;
}

std::optional<uint64_t> JsonFields::opt_uint(std::string_view name, uint64_t max) {
    const auto* v = find(name);
    if (!v) return std::nullopt;
    std::optional<uint64_t> n;
    if (v->is_uint64()) n = v->get_uint64();
    if (v->is_int64() && v->get_int64() >= 0) n = static_cast<uint64_t>(v->get_int64());
    if (!n || *n > max) {
        fail(where(name) + " must be an integer 0.." + std::to_string(max));
        return std::nullopt;
    }
    return n;
}

const json::value* JsonFields::opt_object(std::string_view name) {
    const auto* v = find(name);
    if (!v) return nullptr;
    if (!v->is_object()) {
        fail(where(name) + " must be an object");
        return nullptr;
    }
    return v;
}

}  // namespace ballast::control
