// `ballastctl --help`. The wording is ballastctl's; the commands and options are ipvsadm
// 1.31's (every one of them is accepted) plus ballastctl's own.
#include "ballast/ipvsadm/parse.hpp"

namespace ballast::ipvsadm {

namespace {
// {P} stands for the program name.
constexpr std::string_view kUsage = R"(Usage:
  {P} -A|-E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [--pe engine] [-b flags] [-o]
  {P} -D virtual-service
  {P} -C
  {P} -R
  {P} -S [-n]
  {P} -a|-e virtual-service -r server-address [-g|-i|-m] [-w weight] [-x upper] [-y lower]
  {P} -d virtual-service -r server-address
  {P} -L|-l [virtual-service] [options]
  {P} -Z [virtual-service]
  {P} --set tcp tcpfin udp
  {P} --start-daemon {master|backup} [daemon-options]
  {P} --stop-daemon {master|backup}
  {P} doctor [-c FILE] [--json]
  {P} import-keepalived FILE [-o ballast.toml]
  {P} -h|--help   -v|--version

Commands (ipvsadm's; long or short form):
  --add-service     -A   add a virtual service
  --edit-service    -E   change a virtual service
  --delete-service  -D   delete a virtual service and its real servers
  --clear           -C   delete every virtual service
  --restore         -R   read commands from stdin, one per line (as -S writes them)
  --save            -S   write the table as commands to stdout
  --add-server      -a   add a real server to a virtual service
  --edit-server     -e   change a real server
  --delete-server   -d   remove a real server
  --list            -L, -l  list the table (the default without arguments)
  --zero            -Z   zero the counters of one service or of all
  --set tcp tcpfin udp   set the connection timeouts (seconds; 0 keeps a value)
  --start-daemon STATE   start the connection sync daemon (master or backup)
  --stop-daemon STATE    stop it
  --help            -h   this text
  --version         -v   ballastctl's version

virtual-service:
  --tcp-service     -t host[:port]
  --udp-service     -u host[:port]
  --sctp-service       host[:port]
  --fwmark-service  -f fwmark        a firewall mark greater than zero
  (an IPv6 address is written [addr]:port)

Options:
  --ipv6            -6               the fwmark service is IPv6 (after -f)
  --scheduler       -s scheduler     rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos (default wlc)
  --pe engine                        persistence engine (sip)
  --persistent      -p [timeout]     persistent service (default 360 s)
  --netmask         -M netmask       persistence granularity (IPv6: a prefix length)
  --real-server     -r host[:port]   the real server
  --gatewaying      -g               direct routing (the default)
  --ipip            -i               IP-in-IP tunnel
  --masquerading    -m               NAT
  --tun-type type                    ipip (gue and gre are not supported yet)
  --tun-port port, --tun-nocsum, --tun-csum, --tun-remcsum   GUE/GRE options
  --weight          -w weight        0..2147483647 (default 1)
  --u-threshold     -x uthreshold    connection limit (0: none)
  --l-threshold     -y lthreshold    accept again below this
  --connection      -c               list the connection table
  --timeout                          list the timeouts
  --daemon                           list the sync daemons
  --stats                            list counters
  --rate                             list rates
  --exact                            exact numbers (no K, M, G, T)
  --thresholds                       list thresholds
  --persistent-conn                  list persistent connections
  --tun-info                         list tunnel information
  --nosort                           the kernel's order, not sorted
  --sort                             sorted (the default)
  --ops             -o               one-packet scheduling (UDP)
  --numeric         -n               addresses and ports as numbers
  --sched-flags     -b flags         sh-fallback, sh-port, mh-fallback, mh-port, flag-1..3

Daemon options:
  --syncid id                        sync id (0..255)
  --sync-maxlen length               largest sync message
  --mcast-interface interface        interface for the sync traffic
  --mcast-group address              multicast group
  --mcast-port port                  UDP port
  --mcast-ttl ttl                    multicast TTL

ballastctl's own:
  -o json, --output json, --json, -j  listings as JSON (schema ballast.ipvsadm/1)
  --force                            no warning when changing what a running ballastd owns
  --state-dir DIR                    ballastd's state directory (default /var/lib/ballast)
  --socket PATH                      ballastd's control socket (default /run/ballast/ballastd.sock)
  --config FILE                      read the control socket from this config
)";
}  // namespace

std::string usage(const std::string& program) {
    std::string out = version_line();
    std::string_view rest = kUsage;
    for (size_t at; (at = rest.find("{P}")) != std::string_view::npos; rest.remove_prefix(at + 3))
        out.append(rest.substr(0, at)).append(program);
    out.append(rest);
    return out;
}

}  // namespace ballast::ipvsadm
