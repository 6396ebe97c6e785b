// Each bad input yields exactly one diagnostic, with the expected line, column,
// key path and message. The inputs are small so the location is easy to check by eye.
#include <gtest/gtest.h>

#include <set>

#include "ballast/config/config.hpp"

namespace ballast::config {
namespace {

struct BadCase {
    const char* name;
    std::string toml;  // a leading newline is dropped, so line 1 is the first line shown
    uint32_t line;
    uint32_t column;  // 0: not asserted (syntax errors: the parser decides)
    const char* key_path;
    std::string message;  // ending in '*': a prefix
};

void PrintTo(const BadCase& c, std::ostream* os) {
    *os << c.name;
}

const std::string kWeb = R"(
[[service]]
name = "web"
vip = "192.0.2.1"
port = 80
)";

std::string svc(const std::string& extra) {
    return kWeb + extra;
}

const BadCase kCases[] = {
    // ---- structure, unknown keys, types
    {"unknown_top_level_key", R"(
servce = 1
)",
     1, 1, "servce", "unknown key 'servce' (did you mean 'service'?)"},
    {"unknown_director_key", R"(
[director]
foo = 1
)",
     2, 1, "director.foo", "unknown key 'foo'"},
    {"director_not_a_table", R"(
director = 5
)",
     1, 12, "director", "expected a table, got an integer"},
    {"resync_interval_too_short", R"(
[director]
resync_interval = "500ms"
)",
     2, 19, "director.resync_interval", "must be at least 1s"},
    {"state_directory_relative", R"(
[director]
state_directory = "var/lib/ballast"
)",
     2, 19, "director.state_directory", "must be an absolute path"},
    {"panic_threshold_out_of_range", R"(
[director]
panic_threshold = 0
)",
     2, 19, "director.panic_threshold", "must be between 1 and 100, got 0"},
    {"control_group_invalid", R"(
[director]
control_group = "bad group"
)",
     2, 17, "director.control_group", "invalid group name 'bad group'"},
    {"service_panic_threshold_out_of_range", svc(R"(panic_threshold = 101
)"),
     5, 19, "service[0].panic_threshold", "must be between 1 and 100, got 101"},
    {"unknown_defaults_key", R"(
[defaults]
check_interval = "2s"
)",
     2, 1, "defaults.check_interval", "unknown key 'check_interval'"},
    {"service_single_table", R"(
[service]
name = "web"
)",
     1, 1, "service", "expected an array of tables: write [[service]], got a table"},
    {"syntax_error", R"(
[[service]]
name = "web
)",
     2, 0, "", "TOML syntax error: *"},
    // ---- [director]
    {"interfaces_not_array", R"(
[director]
interfaces = "eth0"
)",
     2, 14, "director.interfaces", "expected an array, got a string"},
    {"bad_interface_name", R"(
[director]
interfaces = ["eth0", "a/b"]
)",
     2, 23, "director.interfaces[1]",
     "invalid interface name 'a/b' (1 to 15 characters, no '/', ':' or spaces)"},
    {"interface_listed_twice", R"(
[director]
egress_interfaces = ["eth0", "eth0"]
)",
     2, 30, "director.egress_interfaces[1]", "interface 'eth0' is listed twice"},
    {"control_socket_relative", R"(
[director]
control_socket = "run/b.sock"
)",
     2, 18, "director.control_socket", "must be an absolute path"},
    {"control_socket_too_long",
     "\n[director]\ncontrol_socket = \"/" + std::string(120, 'x') + "\"\n", 2, 18,
     "director.control_socket", "path is too long for a unix socket (at most 107 bytes)"},
    {"status_listen_not_an_address", R"(
[director]
status_listen = "localhost:80"
)",
     2, 17, "director.status_listen",
     "invalid listen address 'localhost:80' (expected \"addr:port\" or \"[v6]:port\")"},
    {"status_listen_port_zero", R"(
[director]
status_listen = "127.0.0.1:0"
)",
     2, 17, "director.status_listen", "port must be between 1 and 65535"},
    {"duration_bare_integer", R"(
[director]
drain_timeout = 5
)",
     2, 17, "director.drain_timeout",
     "expected a duration string like \"2s\" or \"500ms\", got an integer"},
    {"duration_bare_number_string", R"(
[director]
drain_timeout = "5"
)",
     2, 17, "director.drain_timeout",
     "expected a duration: an integer and a unit (ms, s, m, h), e.g. \"500ms\", \"2s\" (a bare "
     "number has no unit)"},
    {"duration_negative", R"(
[director]
drain_timeout = "-5s"
)",
     2, 17, "director.drain_timeout", "a duration cannot be negative"},
    {"duration_overflow", R"(
[director]
drain_timeout = "9999999999999999999999h"
)",
     2, 17, "director.drain_timeout",
     "duration '9999999999999999999999h' is too large (at most 720h)"},
    {"fwmark_range_one_element", R"(
[director]
fwmark_range = [1]
)",
     2, 16, "director.fwmark_range", "expected two integers [first, last], got 1 elements"},
    {"fwmark_range_reversed", R"(
[director]
fwmark_range = [200, 100]
)",
     2, 16, "director.fwmark_range", "first mark must not be greater than the last"},
    {"fwmark_range_zero", R"(
[director]
fwmark_range = [0, 100]
)",
     2, 17, "director.fwmark_range[0]", "must be between 1 and 4294967295, got 0"},
    {"sysctl_wrong_type", R"(
[director.sysctl]
ip_forward = "yes"
)",
     2, 14, "director.sysctl.ip_forward", "expected a boolean, got a string"},
    {"sysctl_conntrack_range", R"(
[director.sysctl]
vs_conntrack = 2
)",
     2, 16, "director.sysctl.vs_conntrack", "must be between 0 and 1, got 2"},
    {"sysctl_extra_outside_net", R"(
[director.sysctl.extra]
"kernel.panic" = 1
)",
     2, 1, "director.sysctl.extra.\"kernel.panic\"",
     "invalid sysctl name 'kernel.panic' (expected a dotted name under net., e.g. "
     "\"net.ipv4.vs.sloppy_tcp\")"},
    {"sysctl_extra_has_own_key", R"(
[director.sysctl.extra]
"net.ipv4.vs.conntrack" = 1
)",
     2, 1, "director.sysctl.extra.\"net.ipv4.vs.conntrack\"",
     "'net.ipv4.vs.conntrack' has its own setting: use director.sysctl.vs_conntrack"},
    {"sysctl_extra_value_type", R"(
[director.sysctl.extra]
"net.ipv4.vs.sloppy_tcp" = [1]
)",
     2, 28, "director.sysctl.extra.\"net.ipv4.vs.sloppy_tcp\"",
     "expected a string, integer or boolean, got an array"},
    // ---- service identity
    {"service_missing_name", R"(
[[service]]
vip = "192.0.2.1"
port = 80
)",
     1, 1, "service[0]", "missing required key 'name'"},
    {"service_bad_name", R"(
[[service]]
name = "web site"
vip = "192.0.2.1"
port = 80
)",
     2, 8, "service[0].name",
     "invalid service name 'web site' (1 to 64 letters, digits, '_', '-' or '.')"},
    {"service_missing_vip", R"(
[[service]]
name = "web"
port = 80
)",
     1, 1, "service[0]", "missing required key 'vip'"},
    {"service_bad_vip", R"(
[[service]]
name = "web"
vip = "192.0.2.300"
port = 80
)",
     3, 7, "service[0].vip", "invalid IP address '192.0.2.300'"},
    {"service_multicast_vip", R"(
[[service]]
name = "web"
vip = "224.0.0.1"
port = 80
)",
     3, 7, "service[0].vip", "a VIP cannot be the unspecified or a multicast address"},
    {"service_missing_port", R"(
[[service]]
name = "web"
vip = "192.0.2.1"
)",
     1, 1, "service[0]", "missing required key 'port'"},
    {"service_port_out_of_range", R"(
[[service]]
name = "web"
vip = "192.0.2.1"
port = 70000
)",
     4, 8, "service[0].port", "must be between 1 and 65535, got 70000"},
    {"service_port_string", R"(
[[service]]
name = "web"
vip = "192.0.2.1"
port = "80"
)",
     4, 8, "service[0].port", "expected an integer, got a string"},
    {"service_unknown_protocol", svc(R"(protocol = "icmp"
)"),
     5, 12, "service[0].protocol",
     "unknown protocol 'icmp' (expected tcp, udp or sctp; for others use a group)"},
    {"scheduler_typo", svc(R"(scheduler = "wrrr"
)"),
     5, 13, "service[0].scheduler", "unknown scheduler 'wrrr' (did you mean 'wrr'?)"},
    {"scheduler_unknown", svc(R"(scheduler = "fancy"
)"),
     5, 13, "service[0].scheduler",
     "unknown scheduler 'fancy' (known: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, "
     "mh, twos)"},
    {"fwmark_with_vip", R"(
[[service]]
name = "m"
fwmark = 5
vip = "192.0.2.1"
)",
     4, 7, "service[0].vip",
     "'vip' cannot be used with 'fwmark' (a fwmark service matches marked packets)"},
    {"fwmark_zero", R"(
[[service]]
name = "m"
fwmark = 0
)",
     3, 10, "service[0].fwmark", "must be between 1 and 4294967295, got 0"},
    {"family_on_inet_service", svc(R"(family = "ipv6"
)"),
     5, 10, "service[0].family",
     "'family' applies only to fwmark services (the VIP gives the family)"},
    {"fwmark_unknown_family", R"(
[[service]]
name = "m"
fwmark = 5
family = "ipv5"
)",
     4, 10, "service[0].family", "family must be \"ipv4\" or \"ipv6\", got 'ipv5'"},
    {"duplicate_service_name", svc(R"([[service]]
name = "web"
vip = "192.0.2.2"
port = 80
)"),
     6, 8, "service[1].name", "duplicate service name 'web' (first at line 2)"},
    {"duplicate_service_key", svc(R"([[service]]
name = "web2"
vip = "192.0.2.1"
port = 80
protocol = "tcp"
)"),
     7, 7, "service[1].vip", "duplicate service 192.0.2.1:80/tcp (also service 'web' at line 1)"},
    {"duplicate_fwmark", R"(
[[service]]
name = "a"
fwmark = 7
[[service]]
name = "b"
fwmark = 7
)",
     6, 10, "service[1].fwmark", "duplicate service fwmark 7/ipv4 (also service 'a' at line 1)"},
    // ---- groups
    {"group_with_port", R"(
[[service]]
name = "g"
vip = "192.0.2.1"
port = 500
group = [{protocol = "udp", port = 500}]
)",
     4, 8, "service[0].port",
     "'port' cannot be used with 'group' (give ports in the group members)"},
    {"group_unknown_protocol", R"(
[[service]]
name = "g"
vip = "192.0.2.1"
group = [{protocol = "udpp"}]
)",
     4, 22, "service[0].group[0].protocol",
     "unknown protocol 'udpp' (expected tcp, udp, sctp, esp, ah, gre, icmp, ipv6-icmp, or a "
     "protocol number)"},
    {"group_icmp_on_ipv6_vip", R"(
[[service]]
name = "g"
vip = "2001:db8::1"
group = [{protocol = "icmp"}]
)",
     4, 22, "service[0].group[0].protocol", "use protocol \"ipv6-icmp\" on an IPv6 VIP"},
    {"group_port_on_esp", R"(
[[service]]
name = "g"
vip = "192.0.2.1"
group = [{protocol = "esp", port = 1}]
)",
     4, 36, "service[0].group[0].port", "esp has no ports"},
    {"group_port_last_below_port", R"(
[[service]]
name = "g"
vip = "192.0.2.1"
group = [{protocol = "udp", port = 600, port_last = 500}]
)",
     4, 53, "service[0].group[0].port_last", "port_last must not be below port"},
    {"group_members_overlap", R"(
[[service]]
name = "g"
vip = "192.0.2.1"
group = [{protocol = "tcp", port = 21}, {protocol = "tcp", port = 20, port_last = 30}]
)",
     4, 41, "service[0].group[1]", "group member tcp 20-30 overlaps tcp 21 (line 4)"},
    {"group_empty", R"(
[[service]]
name = "g"
vip = "192.0.2.1"
group = []
)",
     4, 9, "service[0].group", "a group needs at least one member"},
    {"group_member_not_a_table", R"(
[[service]]
name = "g"
vip = "192.0.2.1"
group = ["udp"]
)",
     4, 10, "service[0].group[0]",
     "expected a table like {protocol = \"udp\", port = 500}, got a string"},
    {"group_steals_other_service", R"(
[[service]]
name = "ike"
vip = "192.0.2.1"
port = 500
protocol = "udp"
[[service]]
name = "ipsec"
vip = "192.0.2.1"
group = [{protocol = "udp"}, {protocol = "esp"}]
)",
     9, 10, "service[1].group[0]",
     "group member udp on 192.0.2.1 also matches service 'ike' (line 3)"},
    {"group_marks_exhausted", R"(
[director]
fwmark_range = [10, 10]
[[service]]
name = "m"
fwmark = 10
[[service]]
name = "g"
vip = "192.0.2.1"
group = [{protocol = "esp"}]
)",
     8, 7, "service[1].vip",
     "no free firewall mark left for this group in director.fwmark_range [10, 10]"},
    // ---- persistence and flags
    {"persistence_integer", svc(R"(persistence = 300
)"),
     5, 15, "service[0].persistence",
     "expected a duration string or a table {timeout = \"5m\", netmask = ...}, got an integer"},
    {"persistence_subsecond", svc(R"(persistence = "1500ms"
)"),
     5, 15, "service[0].persistence",
     "persistence timeout must be a whole number of seconds, at least 1s"},
    {"persistence_bad_netmask", svc(R"(persistence = { timeout = "5m", netmask = "255.0.255.0" }
)"),
     5, 43, "service[0].persistence.netmask",
     "invalid netmask '255.0.255.0' (expected e.g. \"255.255.255.0\")"},
    {"persistence_netmask_on_ipv6", R"(
[[service]]
name = "web6"
vip = "2001:db8::1"
port = 80
persistence = { timeout = "5m", netmask = "255.255.255.0" }
)",
     5, 43, "service[0].persistence.netmask", "an IPv6 service takes 'prefix', not 'netmask'"},
    {"persistence_netmask_and_prefix",
     svc(R"(persistence = { timeout = "5m", netmask = "255.255.255.0", prefix = 24 }
)"),
     5, 69, "service[0].persistence.prefix", "give either 'netmask' or 'prefix', not both"},
    {"persistence_sip_engine_on_tcp", svc(R"(persistence = { timeout = "5m", engine = "sip" }
)"),
     5, 42, "service[0].persistence.engine", "persistence engine 'sip' needs a udp service"},
    {"persistence_missing_timeout", svc(R"(persistence = { netmask = "255.255.255.0" }
)"),
     5, 15, "service[0].persistence", "missing required key 'timeout'"},
    {"one_packet_on_tcp", svc(R"(one_packet = true
)"),
     5, 14, "service[0].one_packet", "one_packet needs a udp service (or a group of udp members)"},
    {"sh_port_without_sh", svc(R"(sh_port = true
)"),
     5, 11, "service[0].sh_port", "'sh_port' needs scheduler = \"sh\""},
    {"on_failure_unknown", svc(R"(on_failure = "drop"
)"),
     5, 14, "service[0].on_failure", "on_failure must be \"quiesce\" or \"remove\", got 'drop'"},
    {"sorry_server_other_family", svc(R"(sorry_server = "[2001:db8::9]:80"
)"),
     5, 16, "service[0].sorry_server", "sorry server 2001:db8::9 is IPv6 but the service is IPv4"},
    {"sorry_server_is_a_vip", svc(R"(sorry_server = "192.0.2.2"
[[service]]
name = "b"
vip = "192.0.2.2"
port = 80
)"),
     5, 16, "service[0].sorry_server", "sorry server 192.0.2.2 is the VIP of service 'b'"},
    // ---- checks
    {"check_unknown_type", svc(R"([service.check]
type = "icmp"
)"),
     6, 8, "service[0].check.type",
     "unknown check type 'icmp' (expected tcp, tcp_half_open, http, https, udp, dns, exec, agent "
     "or "
     "none)"},
    {"check_unknown_key_suggests", svc(R"([service.check]
intervall = "2s"
)"),
     6, 1, "service[0].check.intervall", "unknown key 'intervall' (did you mean 'interval'?)"},
    {"check_timeout_not_below_interval", svc(R"([service.check]
timeout = "2s"
)"),
     6, 11, "service[0].check.timeout", "timeout (2s) must be shorter than interval (2s)"},
    {"check_interval_vs_default_timeout", R"(
[defaults.check]
timeout = "1s"
[[service]]
name = "web"
vip = "192.0.2.1"
port = 80
[service.check]
interval = "1s"
)",
     8, 12, "service[0].check.interval", "timeout (1s) must be shorter than interval (1s)"},
    {"check_timeout_not_below_down_interval", R"(
[defaults.check]
down_interval = "1s"
)",
     2, 17, "defaults.check.down_interval", "timeout (1s) must be shorter than down_interval (1s)"},
    {"check_rise_zero", svc(R"([service.check]
rise = 0
)"),
     6, 8, "service[0].check.rise", "must be between 1 and 1000, got 0"},
    {"check_fall_string", svc(R"([service.check]
fall = "3"
)"),
     6, 8, "service[0].check.fall", "expected an integer, got a string"},
    {"check_jitter_not_below_interval", R"(
[defaults.check]
jitter = "2s"
)",
     2, 10, "defaults.check.jitter", "jitter (2s) must be shorter than interval (2s)"},
    {"check_http_path_without_slash", svc(R"([service.check]
type = "http"
path = "health"
)"),
     7, 8, "service[0].check.path", "an HTTP path must start with '/'"},
    {"check_status_code_out_of_range", R"(
[defaults.check]
expect_status = [200, 600]
)",
     2, 23, "defaults.check.expect_status[1]", "must be between 100 and 599, got 600"},
    {"check_status_list_empty", R"(
[defaults.check]
expect_status = []
)",
     2, 17, "defaults.check.expect_status", "must list at least one status code"},
    {"check_method_lowercase", R"(
[defaults.check]
method = "get"
)",
     2, 10, "defaults.check.method",
     "unknown HTTP method 'get' (expected GET, HEAD, POST, PUT, OPTIONS)"},
    {"check_bad_regex", R"(
[defaults.check]
expect_body_regex = "("
)",
     2, 21, "defaults.check.expect_body_regex",
     "invalid regular expression (RE2 syntax): missing ): ("},
    {"check_regex_repetition_too_large", R"(
[defaults.check]
expect_body_regex = "(a{100}){101}"
)",
     2, 21, "defaults.check.expect_body_regex",
     "invalid regular expression (RE2 syntax): invalid repetition size: {101}"},
    // ECMAScript's backreferences and lookahead are not RE2's (linear time).
    {"check_regex_backreference", R"(
[defaults.check]
expect_body_regex = "(ok)\\1"
)",
     2, 21, "defaults.check.expect_body_regex",
     "invalid regular expression (RE2 syntax): invalid escape sequence: \\1"},
    {"check_regex_lookahead", R"toml(
[defaults.check]
expect_body_regex = "ok(?=!)"
)toml",
     2, 21, "defaults.check.expect_body_regex",
     "invalid regular expression (RE2 syntax): invalid perl operator: (?="},
    {"check_exec_unknown_user", R"(
[defaults.check]
user = "ballast-no-such-user"
)",
     2, 8, "defaults.check.user", "no user 'ballast-no-such-user' on this system"},
    {"check_half_open_ipv6_real", R"(
[[service]]
name = "web6"
vip = "2001:db8::1"
port = 80
check = { type = "tcp_half_open" }
[[service.real]]
address = "2001:db8::10"
)",
     7, 11, "service[0].real[0].address",
     "a tcp_half_open check probes IPv4 real servers only (2001:db8::10 is IPv6: use type = "
     "\"tcp\")"},
    {"check_user_only_for_exec", svc(R"([service.check]
user = "nobody"
)"),
     6, 1, "service[0].check.user", "'user' does not apply to type = \"tcp\""},
    {"check_query_type", R"(
[defaults.check]
query_type = "MX"
)",
     2, 14, "defaults.check.query_type", "query_type must be \"A\" or \"AAAA\", got 'MX'"},
    {"check_dns_without_query_name", svc(R"([service.check]
type = "dns"
)"),
     6, 8, "service[0].check.type", "a dns check needs 'query_name'"},
    {"check_exec_empty_command", R"(
[defaults.check]
command = []
)",
     2, 11, "defaults.check.command",
     "command must not be empty (it is argv: [\"/path/to/prog\", \"%ip\"])"},
    {"check_exec_without_command", svc(R"([service.check]
type = "exec"
)"),
     6, 8, "service[0].check.type", "an exec check needs 'command'"},
    {"check_udp_without_send", svc(R"([service.check]
type = "udp"
)"),
     6, 8, "service[0].check.type", "a udp check needs 'send' (the probe payload)"},
    {"check_key_for_other_type", svc(R"([service.check]
path = "/x"
)"),
     6, 1, "service[0].check.path", "'path' does not apply to type = \"tcp\""},
    {"check_agent_without_agent_port", svc(R"(check.type = "agent"
[[service.real]]
address = "10.0.0.2"
)"),
     6, 1, "service[0].real[0]",
     "an agent check needs 'agent_port' on each real server or 'port' in the service's check"},
    {"check_key_with_type_none", svc(R"([service.check]
type = "none"
query_name = "x"
)"),
     7, 1, "service[0].check.query_name", "'query_name' does not apply to type = \"none\""},
    {"check_port_zero", svc(R"([service.check]
port = 0
)"),
     6, 8, "service[0].check.port", "must be between 1 and 65535, got 0"},
    // ---- real servers
    {"real_missing_address", svc(R"([[service.real]]
weight = 1
)"),
     5, 1, "service[0].real[0]", "missing required key 'address'"},
    {"real_bad_address", svc(R"([[service.real]]
address = "10.0.0.2:http"
)"),
     6, 11, "service[0].real[0].address",
     "invalid real server address '10.0.0.2:http' (expected \"addr:port\", \"[v6]:port\", or an "
     "address alone for the service's port)"},
    {"real_other_family", svc(R"([[service.real]]
address = "[2001:db8::2]:80"
)"),
     6, 11, "service[0].real[0].address",
     "real server 2001:db8::2 is IPv6 but the service is IPv4"},
    {"real_weight_out_of_range", svc(R"([[service.real]]
address = "10.0.0.2"
weight = 70000
)"),
     7, 10, "service[0].real[0].weight", "must be between 0 and 65535, got 70000"},
    {"real_weight_negative", svc(R"([[service.real]]
address = "10.0.0.2"
weight = -1
)"),
     7, 10, "service[0].real[0].weight", "must be between 0 and 65535, got -1"},
    {"real_weight_float", svc(R"([[service.real]]
address = "10.0.0.2"
weight = 1.5
)"),
     7, 10, "service[0].real[0].weight", "expected an integer, got a float"},
    {"real_weight_typo", svc(R"([[service.real]]
address = "10.0.0.2"
wieght = 5
)"),
     7, 1, "service[0].real[0].wieght", "unknown key 'wieght' (did you mean 'weight'?)"},
    {"real_unknown_forward", svc(R"([[service.real]]
address = "10.0.0.2"
forward = "nat2"
)"),
     7, 11, "service[0].real[0].forward",
     "unknown forward method 'nat2' (expected masq, route or tunnel)"},
    {"real_route_changes_port", svc(R"([[service.real]]
address = "10.0.0.2:8080"
forward = "route"
)"),
     7, 11, "service[0].real[0].forward",
     "forward = \"route\" cannot change the port (80 -> 8080); use masq"},
    {"real_lower_threshold_without_upper", svc(R"([[service.real]]
address = "10.0.0.2"
lower_threshold = 5
)"),
     7, 19, "service[0].real[0].lower_threshold",
     "lower_threshold needs an upper_threshold above it"},
    {"real_agent_port_zero", svc(R"([[service.real]]
address = "10.0.0.2"
agent_port = 0
)"),
     7, 14, "service[0].real[0].agent_port", "must be between 1 and 65535, got 0"},
    {"real_duplicate", svc(R"([[service.real]]
address = "10.0.0.2"
[[service.real]]
address = "10.0.0.2:80"
)"),
     8, 11, "service[0].real[1].address", "duplicate real server 10.0.0.2:80 (first at line 5)"},
    {"real_is_a_vip", svc(R"([[service]]
name = "b"
vip = "192.0.2.2"
port = 80
[[service.real]]
address = "192.0.2.1"
)"),
     10, 11, "service[1].real[0].address", "real server 192.0.2.1 is the VIP of service 'web'"},
    {"real_as_single_table", svc(R"([service.real]
address = "10.0.0.2"
)"),
     5, 1, "service[0].real", "expected an array of tables ([[service.real]]), got a table"},
    {"real_fwmark_explicit_port_zero", R"(
[[service]]
name = "m"
fwmark = 5
check.port = 80
[[service.real]]
address = "10.0.0.2:0"
)",
     6, 11, "service[0].real[0].address",
     "port must be between 1 and 65535 (leave it out to keep the packet's port)"},
    {"real_without_port_needs_check_port", R"(
[[service]]
name = "m"
fwmark = 5
[[service.real]]
address = "10.0.0.2"
)",
     5, 11, "service[0].real[0].address",
     "real server 10.0.0.2 has no port, so a tcp check needs 'port' in the service's check"},
};

class BadInput : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadInput, ReportsOneErrorAtItsPlace) {
    const BadCase& c = GetParam();
    std::string text = c.toml.substr(c.toml.front() == '\n' ? 1 : 0);
    LoadResult r = load_string(text, "bad.toml");
    EXPECT_FALSE(r.config.has_value()) << "a config with an error must be rejected whole";
    ASSERT_EQ(r.diagnostics.size(), 1u) << [&] {
        std::string all;
        for (auto& d : r.diagnostics) all += format(d) + "\n";
        return all;
    }();
    const Diagnostic& d = r.diagnostics[0];
    EXPECT_EQ(d.where.file(), "bad.toml");
    EXPECT_EQ(d.where.line, c.line) << format(d);
    if (c.column) {
        EXPECT_EQ(d.where.column, c.column) << format(d);
    }
    EXPECT_EQ(d.key_path, c.key_path);
    if (c.message.back() == '*') {
        std::string prefix = c.message.substr(0, c.message.size() - 1);
        EXPECT_EQ(d.message.substr(0, prefix.size()), prefix) << d.message;
    } else {
        EXPECT_EQ(d.message, c.message);
    }
}

INSTANTIATE_TEST_SUITE_P(Config, BadInput, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(BadInput, CasesAreManyAndDistinct) {
    std::set<std::string> names;
    for (auto& c : kCases) EXPECT_TRUE(names.insert(c.name).second) << c.name;
    EXPECT_GE(names.size(), 40u);
}

}  // namespace
}  // namespace ballast::config
