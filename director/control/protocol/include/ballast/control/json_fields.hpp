#pragma once
// Reads the members of one JSON object without exceptions: each accessor returns a value (or
// a default) and the first problem is kept with the member's name, so a decoder reads every
// field it wants and then asks once whether all was well.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

namespace ballast::control {

class JsonFields {
public:
    // `where` prefixes problems: "status.services[2]". Not an object: a problem at once.
    JsonFields(const boost::json::value& v, std::string where);

    bool ok() const { return !problem_; }
    const std::string& problem() const { return *problem_; }
    // Records a problem of the caller's own (the first one wins).
    void fail(std::string message);

    bool has(std::string_view name) const;
    const boost::json::value* find(std::string_view name) const;

    // Required members: absent or of another type is a problem.
    std::string str(std::string_view name);
    bool boolean(std::string_view name);
    double number(std::string_view name);
    uint64_t uint(std::string_view name, uint64_t max = UINT64_MAX);
    const boost::json::array* array(std::string_view name);
    const boost::json::value* object(std::string_view name);

    // Optional members: absent (or null) is nullopt/nullptr, another type is a problem.
    std::optional<std::string> opt_str(std::string_view name);
    std::optional<bool> opt_boolean(std::string_view name);
    std::optional<double> opt_number(std::string_view name);
    std::optional<uint64_t> opt_uint(std::string_view name, uint64_t max = UINT64_MAX);
    const boost::json::value* opt_object(std::string_view name);

    std::string where(std::string_view name) const;

private:
    const boost::json::object* obj_ = nullptr;
    std::string where_;
    std::optional<std::string> problem_;
};

}  // namespace ballast::control
