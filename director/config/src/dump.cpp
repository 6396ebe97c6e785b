#include "ballast/config/dump.hpp"

#include <sstream>

#include "ballast/config/duration.hpp"

namespace ballast::config {

using namespace model;

namespace {

// Quoted, with escapes, so every dumped value stays on its line.
std::string q(const std::string& s) {
    std::string out = "\"";
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f) {
            const char* hex = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

std::string list(const std::vector<std::string>& items) {
    std::string out = "[";
    for (auto& i : items) out += (out.size() > 1 ? "," : "") + q(i);
    return out + "]";
}

std::string netmask_text(const ServiceConfig& s) {
    if (s.key.family == AF_INET6) return "/" + std::to_string(s.spec.netmask);
    return IpAddress::v4(s.spec.netmask).to_string();
}

void dump_check(std::ostream& o, const CheckSpec& c) {
    o << "type=" << to_string(c.type) << " interval=" << format_duration(c.interval)
      << " down_interval=" << format_duration(c.down_interval)
      << " timeout=" << format_duration(c.timeout) << " jitter=" << format_duration(c.jitter)
      << " slow_start=" << format_duration(c.slow_start) << " rise=" << c.rise << " fall=" << c.fall
      << " start_down=" << c.start_down << " port=" << (c.port ? std::to_string(*c.port) : "-")
      << " send=" << q(c.send) << " expect=" << q(c.expect) << " method=" << c.method
      << " path=" << q(c.path) << " host=" << q(c.host) << " expect_status=[";
    for (size_t i = 0; i < c.expect_status.size(); ++i) o << (i ? "," : "") << c.expect_status[i];
    o << "] expect_body=" << q(c.expect_body) << " expect_body_regex=" << q(c.expect_body_regex)
      << " tls_verify=" << c.tls_verify << " sni=" << q(c.sni) << " query_name=" << q(c.query_name)
      << " query_type=" << c.query_type << " command=" << list(c.command)
      << " weight_from_output=" << c.weight_from_output << " user=" << q(c.user);
}

}  // namespace

std::string dump(const DirectorConfig& cfg) {
    std::ostringstream o;
    const auto& d = cfg.director;
    o << "director interfaces=" << list(d.interfaces)
      << " egress_interfaces=" << list(d.egress_interfaces)
      << " control_socket=" << d.control_socket
      << " status_listen=" << (d.status_listen ? d.status_listen->to_string() : "-")
      << " drain_timeout=" << format_duration(d.drain_timeout) << " fwmark_range=["
      << d.fwmark_first << "," << d.fwmark_last << "]\n";
    const auto& s = d.sysctl;
    o << "sysctl ip_forward=" << s.ip_forward
      << " disable_send_redirects=" << s.disable_send_redirects
      << " expire_nodest_conn=" << s.expire_nodest_conn
      << " expire_quiescent_template=" << s.expire_quiescent_template
      << " vs_conntrack=" << (s.vs_conntrack ? std::to_string(*s.vs_conntrack) : "-") << "\n";
    for (auto& [k, v] : s.extra) o << "sysctl " << k << "=" << v << "\n";
    o << "default_check ";
    dump_check(o, cfg.default_check);
    o << "\n";
    for (auto& svc : cfg.services) {
        o << "service " << svc.name << " key=" << svc.key.to_string();
        if (svc.group_vip) {
            o << " group_vip=" << svc.group_vip->to_string() << " group=[";
            for (size_t i = 0; i < svc.group.size(); ++i)
                o << (i ? "," : "") << int(svc.group[i].ip_protocol) << ":"
                  << svc.group[i].port_first << "-" << svc.group[i].port_last;
            o << "]";
        }
        o << " scheduler=" << svc.spec.scheduler << " flags=0x" << std::hex
          << svc.spec.flags.to_bits() << std::dec
          << " persistence=" << (svc.spec.persistence ? std::to_string(*svc.spec.persistence) : "-")
          << " netmask=" << netmask_text(svc)
          << " pe=" << (svc.spec.pe_name.empty() ? "-" : svc.spec.pe_name)
          << " on_failure=" << (svc.on_failure == OnFailure::remove ? "remove" : "quiesce")
          << " sorry_server=" << (svc.sorry_server ? svc.sorry_server->to_string() : "-") << "\n";
        o << "  check ";
        if (svc.check)
            dump_check(o, *svc.check);
        else
            o << "none";
        o << "\n";
        for (auto& r : svc.reals)
            o << "  real " << r.key.to_string() << " weight=" << r.spec.weight
              << " forward=" << to_string(r.spec.forward)
              << " upper_threshold=" << r.spec.upper_threshold
              << " lower_threshold=" << r.spec.lower_threshold
              << " agent_port=" << (r.agent_port ? std::to_string(*r.agent_port) : "-") << "\n";
    }
    return o.str();
}

}  // namespace ballast::config
