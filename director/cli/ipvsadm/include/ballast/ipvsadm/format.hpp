#pragma once
// ipvsadm 1.31's listings, byte for byte, from what the kernel reports: the table in every
// format (-L, --stats, --rate, --thresholds, --persistent-conn, --tun-info, --exact, -n, -S),
// --timeout, --daemon and the connection table (-c, from /proc/net/ip_vs_conn). Pure except
// for the name lookups, which go through Names.
#include <string>
#include <string_view>
#include <vector>

#include "ballast/ipvsadm/command.hpp"
#include "ballast/ipvsadm/names.hpp"
#include "ballast/kernel/ipvs_codec.hpp"

namespace ballast::ipvsadm {

using kernel::ipvs::DestEntry;
using kernel::ipvs::ServiceEntry;

// inet_ntop of af's 4 or 16 bytes.
std::string address_text(int af, const uint8_t* addr);

// "IP Virtual Server version 1.2.1 (size=4096)\n" (not printed for -S).
std::string version_header(const kernel::ipvs::Info& info);
// The column titles of a table listing ("" for -S).
std::string table_title(const Format& f);
// One service and its destinations. dests in the kernel's order: sorted here (ipvsadm's
// order) unless f.nosort.
std::string service_lines(const ServiceEntry& svc, std::vector<DestEntry> dests, const Format& f,
                          Names& names);

// ipvsadm's orders, including their quirks: addresses compare as wrapped 32-bit differences
// (so 10.0.0.1 sorts after 200.0.0.1 but before 100.0.0.1), a fwmark service's protocol is 0,
// and the sort is glibc's merge sort, so the result depends on the kernel's order just as
// ipvsadm's does.
void sort_services(std::vector<ServiceEntry>& services);
void sort_dests(std::vector<DestEntry>& dests);

// "Timeout (tcp tcpfin udp): 900 120 300\n"
std::string timeouts_line(const kernel::ipvs::Timeouts& t);
// One line per running sync daemon, in the kernel's order.
std::string daemon_lines(const std::vector<kernel::ipvs::SyncDaemon>& daemons);

// One line of /proc/net/ip_vs_conn as ipvsadm reads it (sscanf of whitespace-separated words).
struct ConnectionLine {
    int fields = 0;  // how many words were read; 11 when the persistence engine's are there
    std::string protocol, state, pe_name, pe_data;
    uint16_t af = 0, daf = 0;  // client/virtual family, destination family
    std::array<uint8_t, 16> caddr{}, vaddr{}, daddr{};
    uint16_t cport = 0, vport = 0, dport = 0;
    int expires = 0;  // seconds
    uint16_t proto() const;
};
// The lines of the file after its title, as ipvsadm reads them (at most 255 bytes each).
std::vector<std::string> connection_records(std::string_view proc_text);
// nullopt for a line sscanf reads nothing from (ipvsadm exits 1 there).
std::optional<ConnectionLine> parse_connection(const std::string& record);
// The -c listing's title and one line per connection.
std::string connections_title(const Format& f);
std::string connection_line(const ConnectionLine& c, const Format& f, Names& names);

}  // namespace ballast::ipvsadm
