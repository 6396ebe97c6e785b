#pragma once
// What the importer writes: ballast's [[service]] tables as plain values plus
// the comments that go with them. Internal to ballast_import.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ballast/import/source.hpp"
#include "ballast/model/check.hpp"

namespace ballast::import::detail {

using Notes = std::vector<std::string>;

// Comments keyed by the TOML key they belong above; "" = above the table.
using KeyNotes = std::map<std::string, Notes>;

struct OutReal {
    SourceRef where;     // the real_server line
    std::string origin;  // "real_server 10.0.0.1 80"
    std::string address;
    uint32_t weight = 1;
    std::string forward = "masq";
    uint32_t upper_threshold = 0, lower_threshold = 0;
    KeyNotes notes;
};

enum class Form { inet, fwmark, group };

struct OutService {
    SourceRef where;     // the virtual_server line
    std::string origin;  // what keepalived line(s) this service comes from
    std::string name;
    std::string name_hint;  // the name before it was made unique
    Form form = Form::inet;
    std::string vip;       // inet, group
    uint16_t port = 0;     // inet
    std::string protocol;  // inet; the one group member's protocol
    uint32_t fwmark = 0;   // fwmark
    std::string family;    // fwmark: "ipv4" | "ipv6"
    std::string scheduler = "wlc";
    bool one_packet = false, sh_fallback = false, sh_port = false, mh_fallback = false,
         mh_port = false;
    struct Persistence {
        uint32_t seconds = 0;
        std::optional<std::string> netmask;
        std::optional<int> prefix;
        std::optional<std::string> engine;
    };
    std::optional<Persistence> persistence;
    std::string on_failure = "remove";
    std::optional<std::string> sorry_server;
    std::optional<model::CheckSpec> check;  // nullopt: type = "none"
    SourceRef check_where;                  // the checker it came from (line 0: none)
    std::string check_origin;               // "TCP_CHECK"
    KeyNotes notes, check_notes;
    std::vector<OutReal> reals;
};

}  // namespace ballast::import::detail
