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
    ServiceConfig cfg;
    bool key_ok = false;  // key (or group vip) parsed
    bool explicit_fwmark = false;
    std::optional<uint8_t> family;
    Origin name_origin, key_origin, sorry_origin;
    std::vector<Origin> group_origins;
    std::vector<Origin> real_origins;  // address of each real in cfg.reals
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
