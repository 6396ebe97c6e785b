// ipvsadm 1.31's listing formats. Widths, truncations and number styles follow ipvsadm's
// printf formats (they are the contract scripts parse), which is why this file formats with
// snprintf rather than fmt: "%-28s" and "%8lluK" must mean exactly what they mean there.
#include "ballast/ipvsadm/format.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <numeric>

namespace ballast::ipvsadm {

namespace {

__attribute__((format(printf, 2, 3))) void appendf(std::string& out, const char* fmt, ...) {
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = std::vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (static_cast<size_t>(n) < sizeof small) {
        out.append(small, static_cast<size_t>(n));
        return;
    }
    std::string big(static_cast<size_t>(n) + 1, '\0');
    va_start(ap, fmt);
    std::vsnprintf(big.data(), big.size(), fmt, ap);
    va_end(ap);
    big.resize(static_cast<size_t>(n));
    out += big;
}

// ipvsadm truncates names by writing a NUL at a fixed index.
void truncate_at(std::string& s, size_t n) {
    if (s.size() > n) s.resize(n);
}

// "addr:port" / "[v6]:port", names unless numeric, cut at 59 bytes (ipvsadm's 60-byte buffer).
std::string addrport(int af, const uint8_t* addr, uint16_t port, uint16_t proto, const Format& f,
                     Names& names) {
    const char* open = af == AF_INET ? "" : "[";
    const char* close = af == AF_INET ? "" : "]";
    std::string host, service;
    if (f.numeric) {
        host = address_text(af, addr);
        service = std::to_string(port);
    } else {
        host = names.host_by_addr(af, addr).value_or(address_text(af, addr));
        const char* p = services_protocol(proto);
        service =
            (p ? names.service_by_port(port, p) : std::nullopt).value_or(std::to_string(port));
    }
    std::string s = std::string(open) + host + close + ":" + service;
    truncate_at(s, 59);
    return s;
}

void largenum(std::string& out, uint64_t i, const Format& f) {
    const auto v = static_cast<unsigned long long>(i);
    if (f.exact) {
        const int len = static_cast<int>(std::to_string(v).size());
        appendf(out, "%*llu", len <= 8 ? 9 : len + 1, v);
    } else if (v < 100000000ULL) {
        appendf(out, "%9llu", v);
    } else if (v < 1000000000ULL) {
        appendf(out, "%8lluK", v / 1000);
    } else if (v < 100000000000ULL) {
        appendf(out, "%8lluM", v / 1000000);
    } else if (v < 100000000000000ULL) {
        appendf(out, "%8lluG", v / 1000000000ULL);
    } else {
        appendf(out, "%8lluT", v / 1000000000000ULL);
    }
}

const char* protocol_name(uint16_t protocol) {
    switch (protocol) {
        case IPPROTO_TCP:
            return "TCP";
        case IPPROTO_UDP:
            return "UDP";
        case IPPROTO_SCTP:
            return "SCTP";
        default:
            return "?";
    }
}

const char* rule_option(uint16_t protocol) {
    switch (protocol) {
        case IPPROTO_TCP:
            return "-t";
        case IPPROTO_UDP:
            return "-u";
        case IPPROTO_SCTP:
            return "--sctp-service";
        default:
            return "--xxx-service";
    }
}

// What ipvsadm's printf("%s", NULL) prints for a forwarding method it has no name for.
const char* fwd_name(model::ForwardMethod m) {
    switch (m) {
        case model::ForwardMethod::masquerade:
            return "Masq";
        case model::ForwardMethod::local:
            return "Local";
        case model::ForwardMethod::tunnel:
            return "Tunnel";
        case model::ForwardMethod::route:
            return "Route";
        default:
            return "(null)";
    }
}

const char* fwd_switch(model::ForwardMethod m) {
    switch (m) {
        case model::ForwardMethod::masquerade:
            return "-m";
        case model::ForwardMethod::tunnel:
            return "-i";
        case model::ForwardMethod::local:
        case model::ForwardMethod::route:
            return "-g";
        default:
            return "(null)";
    }
}

uint16_t service_protocol(const ServiceEntry& s) {
    return s.key.is_fwmark() ? 0 : static_cast<uint16_t>(s.key.protocol);
}

bool has_sched_flags(const model::ServiceFlags& f) {
    return f.sched_flag1 || f.sched_flag2 || f.sched_flag3;
}

std::string sched_flags(const ServiceEntry& s) {
    const auto& f = s.spec.flags;
    std::string out;
    auto add = [&](bool on, const char* name) {
        if (!on) return;
        if (!out.empty()) out += ",";
        out += name;
    };
    if (s.spec.scheduler == "sh") {
        add(f.sched_flag1, "sh-fallback");
        add(f.sched_flag2, "sh-port");
    } else if (s.spec.scheduler == "mh") {
        add(f.sched_flag1, "mh-fallback");
        add(f.sched_flag2, "mh-port");
    } else {
        add(f.sched_flag1, "flag-1");
        add(f.sched_flag2, "flag-2");
        add(f.sched_flag3, "flag-3");
    }
    return out;
}

std::string dotted(uint32_t host_order) {
    in_addr a{htonl(host_order)};
    return ::inet_ntoa(a);
}

// " mask 255.255.255.0" / " mask 64", or "" for a whole address.
std::string mask_suffix(const ServiceEntry& s, const char* word) {
    if (s.key.family == AF_INET && s.spec.netmask != 0xffffffffu)
        return std::string(" ") + word + " " + dotted(s.spec.netmask);
    if (s.key.family == AF_INET6 && s.spec.netmask != 128)
        return std::string(" ") + word + " " + std::to_string(static_cast<int>(s.spec.netmask));
    return {};
}

// libipvs reads these dest counters from the 64-bit attributes with a 32-bit getter.
kernel::IpvsStats as_ipvsadm_reads_dests(kernel::IpvsStats s) {
    for (uint64_t* v :
         {&s.conns, &s.inpkts, &s.outpkts, &s.cps, &s.inpps, &s.outpps, &s.inbps, &s.outbps})
        *v = static_cast<uint32_t>(*v);
    return s;
}

// glibc's qsort as ipvsadm gets it on Debian 12 (glibc 2.36): a top-down merge sort, first
// half n/2, taking from the left run while cmp <= 0. With ipvsadm's comparators, which are
// not transitive, only this very algorithm gives ipvsadm's order.
template <typename T, typename Cmp>
void glibc_msort(std::vector<T>& v, Cmp cmp) {
    std::vector<size_t> idx(v.size()), tmp(v.size());
    std::iota(idx.begin(), idx.end(), 0);
    auto sort = [&](auto& self, size_t* b, size_t n) -> void {
        if (n <= 1) return;
        size_t n1 = n / 2, n2 = n - n1;
        size_t* b1 = b;
        size_t* b2 = b + n1;
        self(self, b1, n1);
        self(self, b2, n2);
        size_t* t = tmp.data();
        while (n1 > 0 && n2 > 0) {
            if (cmp(v[*b1], v[*b2]) <= 0) {
                *t++ = *b1++;
                --n1;
            } else {
                *t++ = *b2++;
                --n2;
            }
        }
        while (n1 > 0) {
            *t++ = *b1++;
            --n1;
        }
        std::copy(tmp.data(), t, b);
    };
    sort(sort, idx.data(), idx.size());
    std::vector<T> sorted;
    sorted.reserve(v.size());
    for (size_t i : idx) sorted.push_back(std::move(v[i]));
    v = std::move(sorted);
}

uint32_t word(const model::IpAddress& a, size_t i) {
    uint32_t w;
    std::memcpy(&w, a.bytes.data() + 4 * i, 4);
    return ntohl(w);
}

// (int)(a - b) of unsigned 32-bit values, as ipvsadm's comparators compute differences.
int wrapped(uint32_t a, uint32_t b) {
    return static_cast<int>(a - b);
}

int address_order(int af, const model::IpAddress& a, const model::IpAddress& b) {
    int r = 0;
    if (af == AF_INET6)
        for (size_t i = 0; r == 0 && i < 4; ++i) r = wrapped(word(a, i), word(b, i));
    else
        r = wrapped(word(a, 0), word(b, 0));
    return r;
}

}  // namespace

std::string address_text(int af, const uint8_t* addr) {
    char buf[INET6_ADDRSTRLEN];
    const char* s = ::inet_ntop(af, addr, buf, sizeof buf);
    return s ? s : "(null)";  // what printf("%s", NULL) prints, as in ipvsadm
}

std::string version_header(const kernel::ipvs::Info& info) {
    std::string out;
    appendf(out, "IP Virtual Server version %d.%d.%d (size=%d)\n",
            static_cast<int>((info.version >> 16) & 0xff),
            static_cast<int>((info.version >> 8) & 0xff), static_cast<int>(info.version & 0xff),
            static_cast<int>(info.conn_tab_size));
    return out;
}

std::string table_title(const Format& f) {
    std::string out;
    const char* first = "Prot LocalAddress:Port";
    if (f.stats)
        appendf(out, "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n", first, "Conns",
                "InPkts", "OutPkts", "InBytes", "OutBytes");
    else if (f.rate)
        appendf(out, "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n", first, "CPS", "InPPS",
                "OutPPS", "InBPS", "OutBPS");
    else if (f.thresholds)
        appendf(out, "%-33s %-10s %-10s %-10s %-10s\n  -> RemoteAddress:Port\n", first,
                "Uthreshold", "Lthreshold", "ActiveConn", "InActConn");
    else if (f.persistent_conn)
        appendf(out, "%-33s %-9s %-11s %-10s %-10s\n  -> RemoteAddress:Port\n", first, "Weight",
                "PersistConn", "ActiveConn", "InActConn");
    else if (f.tun_info)
        out +=
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn "
            "InActConn\n";
    else if (!f.rule)
        out +=
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n";
    return out;
}

void sort_services(std::vector<ServiceEntry>& services) {
    glibc_msort(services, [](const ServiceEntry& a, const ServiceEntry& b) {
        int r = wrapped(a.key.fwmark, b.key.fwmark);
        if (r != 0) return r;
        r = int(a.key.family) - int(b.key.family);
        if (r != 0) return r;
        r = int(service_protocol(a)) - int(service_protocol(b));
        if (r != 0) return r;
        r = address_order(a.key.family, a.key.addr, b.key.addr);
        if (r != 0) return r;
        return int(a.key.port) - int(b.key.port);
    });
}

void sort_dests(std::vector<DestEntry>& dests) {
    glibc_msort(dests, [](const DestEntry& a, const DestEntry& b) {
        int r = address_order(a.key.addr.family, a.key.addr, b.key.addr);
        if (r != 0) return r;
        return int(a.key.port) - int(b.key.port);
    });
}

std::string service_lines(const ServiceEntry& svc, std::vector<DestEntry> dests, const Format& f,
                          Names& names) {
    const int af = svc.key.family;
    const uint16_t proto = service_protocol(svc);
    const int mark = static_cast<int>(svc.key.fwmark);  // ipvsadm 1.31 prints marks with %d
    std::string name;
    if (svc.key.is_fwmark()) {
        if (f.rule)
            appendf(name, af == AF_INET6 ? "-f %d -6" : "-f %d", mark);
        else
            appendf(name, af == AF_INET6 ? "FWM  %d IPv6" : "FWM  %d", mark);
    } else {
        std::string v = addrport(af, svc.key.addr.bytes.data(), svc.key.port, proto, f, names);
        if (f.rule) {
            name = std::string(rule_option(proto)) + " " + v;
        } else {
            appendf(name, "%-4s %s", protocol_name(proto), v.c_str());
            if (af != AF_INET6) truncate_at(name, 33);
        }
        truncate_at(name, 1023);
    }

    std::string out;
    const auto& spec = svc.spec;
    const bool persistent = spec.flags.persistent;
    const uint32_t timeout = spec.persistence.value_or(0);
    if (f.rule) {
        appendf(out, "-A %s -s %s", name.c_str(), spec.scheduler.c_str());
        if (persistent) {
            appendf(out, " -p %u", timeout);
            out += mask_suffix(svc, "-M");
        }
        if (!spec.pe_name.empty()) out += " --pe " + spec.pe_name;
        if (spec.flags.one_packet) out += " -o";
        if (has_sched_flags(spec.flags)) out += " -b " + sched_flags(svc);
    } else if (f.stats || f.rate) {
        appendf(out, "%-33s", name.c_str());
        const auto& s = svc.stats;
        const uint64_t counters[] = {s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes};
        const uint64_t rates[] = {s.cps, s.inpps, s.outpps, s.inbps, s.outbps};
        for (uint64_t v : f.stats ? counters : rates) largenum(out, v, f);
    } else {
        appendf(out, "%s %s", name.c_str(), spec.scheduler.c_str());
        if (has_sched_flags(spec.flags)) out += " (" + sched_flags(svc) + ")";
        if (persistent) {
            appendf(out, " persistent %u", timeout);
            out += mask_suffix(svc, "mask");
            if (!spec.pe_name.empty()) out += " pe " + spec.pe_name;
        }
        if (spec.flags.one_packet) out += " ops";
    }
    out += "\n";

    if (!f.nosort) sort_dests(dests);
    for (const auto& e : dests) {
        const int daf = e.key.addr.family;
        std::string d = addrport(daf, e.key.addr.bytes.data(), e.key.port, proto, f, names);
        if (!f.rule && daf != AF_INET6) truncate_at(d, 28);
        const auto& c = e.counters;
        const auto s = as_ipvsadm_reads_dests(c.stats);
        const int weight = static_cast<int>(e.spec.weight);
        const bool tunnel = e.spec.forward == model::ForwardMethod::tunnel;
        if (f.rule) {
            // Tunnel types other than ipip are not read from the kernel yet (README).
            appendf(out, "-a %s -r %s %s -w %d%s\n", name.c_str(), d.c_str(),
                    fwd_switch(e.spec.forward), weight, tunnel ? " --tun-type ipip" : "");
        } else if (f.stats) {
            appendf(out, "  -> %-28s", d.c_str());
            for (uint64_t v : {s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes})
                largenum(out, v, f);
            out += "\n";
        } else if (f.rate) {
            appendf(out, "  -> %-28s %8llu %8llu %8llu", d.c_str(),
                    static_cast<unsigned long long>(s.cps),
                    static_cast<unsigned long long>(s.inpps),
                    static_cast<unsigned long long>(s.outpps));
            largenum(out, s.inbps, f);
            largenum(out, s.outbps, f);
            out += "\n";
        } else if (f.thresholds) {
            appendf(out, "  -> %-28s %-10u %-10u %-10u %-10u\n", d.c_str(), e.spec.upper_threshold,
                    e.spec.lower_threshold, c.active_conns, c.inactive_conns);
        } else if (f.persistent_conn) {
            appendf(out, "  -> %-28s %-9u %-11u %-10u %-10u\n", d.c_str(), e.spec.weight,
                    c.persist_conns, c.active_conns, c.inactive_conns);
        } else if (f.tun_info) {
            appendf(out, "  -> %-28s %-7s %-13s %-6d %-10u %-10u\n", d.c_str(),
                    fwd_name(e.spec.forward), tunnel ? "ipip" : "n/a", weight, c.active_conns,
                    c.inactive_conns);
        } else {
            appendf(out, "  -> %-28s %-7s %-6d %-10u %-10u\n", d.c_str(), fwd_name(e.spec.forward),
                    weight, c.active_conns, c.inactive_conns);
        }
    }
    return out;
}

std::string timeouts_line(const kernel::ipvs::Timeouts& t) {
    std::string out;
    appendf(out, "Timeout (tcp tcpfin udp): %d %d %d\n", static_cast<int>(t.tcp),
            static_cast<int>(t.tcp_fin), static_cast<int>(t.udp));
    return out;
}

std::string daemon_lines(const std::vector<kernel::ipvs::SyncDaemon>& daemons) {
    std::string out;
    for (const auto& d : daemons) {
        const char* type = d.state == kernel::ipvs::SyncDaemon::State::master ? "master" : "backup";
        appendf(out, "%s sync daemon (mcast=%s, syncid=%d", type, d.mcast_ifn.c_str(),
                static_cast<int>(d.sync_id));
        if (d.sync_maxlen && *d.sync_maxlen) appendf(out, ", maxlen=%u", unsigned{*d.sync_maxlen});
        if (d.mcast_group)
            out += ", group=" + address_text(d.mcast_group->family, d.mcast_group->bytes.data());
        if (d.mcast_port && *d.mcast_port) appendf(out, ", port=%u", unsigned{*d.mcast_port});
        if (d.mcast_ttl && *d.mcast_ttl) appendf(out, ", ttl=%u", unsigned{*d.mcast_ttl});
        out += ")\n";
    }
    return out;
}

// ---------------------------------------------------------------- connections

uint16_t ConnectionLine::proto() const {
    if (protocol == "TCP") return IPPROTO_TCP;
    if (protocol == "UDP") return IPPROTO_UDP;
    if (protocol == "SCTP") return IPPROTO_SCTP;
    return 0;
}

std::vector<std::string> connection_records(std::string_view text) {
    // fgets() into a 256-byte buffer: a record ends after a newline or 255 bytes.
    std::vector<std::string> lines;
    size_t pos = 0;
    auto next = [&]() -> std::optional<std::string> {
        if (pos >= text.size()) return std::nullopt;
        size_t nl = text.find('\n', pos);
        size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
        end = std::min(end, pos + 255);
        std::string line(text.substr(pos, end - pos));
        pos = end;
        return line;
    };
    if (!next()) return lines;  // the title
    while (auto l = next()) lines.push_back(std::move(*l));
    return lines;
}

std::optional<ConnectionLine> parse_connection(const std::string& record) {
    ConnectionLine c;
    char protocol[256] = "", a1[256] = "", a2[256] = "", a3[256] = "", state[256] = "",
         pe_name[256] = "", pe_data[256] = "";
    unsigned short cport = 0, vport = 0, dport = 0;
    int expires = 0;
    c.fields = std::sscanf(record.c_str(),
                           "%255s %255s %hX %255s %hX %255s %hX %255s %d %255s %255s", protocol, a1,
                           &cport, a2, &vport, a3, &dport, state, &expires, pe_name, pe_data);
    if (c.fields == EOF) return std::nullopt;
    c.protocol = protocol, c.state = state, c.pe_name = pe_name, c.pe_data = pe_data;
    c.cport = cport, c.vport = vport, c.dport = dport, c.expires = expires;
    auto hex4 = [](const char* s, std::array<uint8_t, 16>& out) {
        uint32_t v = htonl(static_cast<uint32_t>(std::strtoul(s, nullptr, 16)));
        std::memcpy(out.data(), &v, 4);
    };
    if (::inet_pton(AF_INET6, a1, c.caddr.data()) > 0) {
        ::inet_pton(AF_INET6, a2, c.vaddr.data());
        c.af = AF_INET6;
    } else if (::inet_pton(AF_INET, a1, c.caddr.data()) > 0) {
        ::inet_pton(AF_INET, a2, c.vaddr.data());
        c.af = AF_INET;
    } else {
        hex4(a1, c.caddr);
        hex4(a2, c.vaddr);
        c.af = AF_INET;
    }
    if (::inet_pton(AF_INET6, a3, c.daddr.data()) > 0) {
        c.daf = AF_INET6;
    } else {
        c.daf = AF_INET;
        if (::inet_pton(AF_INET, a3, c.daddr.data()) <= 0) hex4(a3, c.daddr);
    }
    return c;
}

std::string connections_title(const Format& f) {
    std::string out = "IPVS connection entries\n";
    if (f.persistent_conn)
        appendf(out, "pro expire %-11s %-18s %-18s %-18s %-16s %s\n", "state", "source", "virtual",
                "destination", "pe name", "pe_data");
    else
        appendf(out, "pro expire %-11s %-18s %-18s %s\n", "state", "source", "virtual",
                "destination");
    return out;
}

std::string connection_line(const ConnectionLine& c, const Format& f, Names& names) {
    const uint16_t proto = c.proto();
    std::string cname = addrport(c.af, c.caddr.data(), c.cport, proto, f, names);
    std::string vname = addrport(c.af, c.vaddr.data(), c.vport, proto, f, names);
    std::string dname = addrport(c.daf, c.daddr.data(), c.dport, proto, f, names);
    const unsigned expires = static_cast<unsigned>(c.expires);
    char expire[32];
    std::snprintf(expire, sizeof expire, "%02d:%02d", static_cast<int>(expires / 60),
                  static_cast<int>(expires % 60));
    std::string out;
    if (f.persistent_conn && c.fields == 11)
        appendf(out, "%-3s %-6s %-11s %-18s %-18s %-16s %-18s %s\n", c.protocol.c_str(), expire,
                c.state.c_str(), cname.c_str(), vname.c_str(), dname.c_str(), c.pe_name.c_str(),
                c.pe_data.c_str());
    else
        appendf(out, "%-3s %-6s %-11s %-18s %-18s %s\n", c.protocol.c_str(), expire,
                c.state.c_str(), cname.c_str(), vname.c_str(), dname.c_str());
    return out;
}

}  // namespace ballast::ipvsadm
