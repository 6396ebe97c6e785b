// The sections of a config file, each read by its own file. Not a public header.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "reader.hpp"

namespace ballast::config::detail {

struct CheckDraft {
    CheckSpec spec;
    std::map<std::string, Origin, std::less<>> origin;  // key -> where its value was set
};

// What validation needs to know about a service beyond ServiceConfig.
struct ServiceDraft {
    std::string path;  // service[i]
    ServiceConfig cfg;
    bool key_ok = false;  // key (or group vip) parsed
    bool explicit_fwmark = false;
    std::optional<uint8_t> family;
    Origin name_origin, key_origin, sorry_origin;
    std::vector<Origin> group_origins;
    // Where each real of cfg.reals has its address, and its index among the service's
    // [[service.real]] tables: its key path is made only for an error (real_address_path).
    std::vector<SourceLocation> real_where;
    std::vector<uint32_t> real_index;
    std::string real_address_path(size_t i) const { return address_path_of(real_index[i]); }
    // The path of the address of the [[service.real]] table at `index`.
    std::string address_path_of(size_t index) const {
        return child_path(index_path(child_path(path, "real"), index), "address");
    }
};

// director_section.cpp
void read_director(Ctx& ctx, const toml::table& t, DirectorSettings& d);

// check_section.cpp: applies the keys of one check table over `d`; then checks
// that concern several keys, once the check is merged.
void apply_check(Ctx& ctx, const toml::table& t, const std::string& path, CheckDraft& d,
                 bool is_defaults);
void validate_check(Ctx& ctx, const CheckDraft& d, const Origin& fallback);

// service_section.cpp
void read_service(Ctx& ctx, const toml::table& t, const std::string& path,
                  const CheckDraft& defaults, ServiceDraft& s);
std::string describe(const GroupMatch& m);
bool overlaps(const GroupMatch& a, const GroupMatch& b);

// cross_check.cpp
void cross_check(Ctx& ctx, std::vector<ServiceDraft>& services, const DirectorSettings& d);

}  // namespace ballast::config::detail
