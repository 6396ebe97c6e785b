// ipvsadm's command line. The option table and the checks follow ipvsadm 1.31's behaviour (its
// messages are its own wording, so scripts that match them keep working); popt itself does
// the tokenizing, so bundles (-Ln), attached values (-t1.2.3.4:80), --long=value, optional
// values (-p [timeout]) and popt's own errors are exactly ipvsadm's.
#include "ballast/ipvsadm/parse.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <popt.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdarg>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>

#include "ballast/version.hpp"

namespace ballast::ipvsadm {

const char* command_name(Cmd c) {
    switch (c) {
        case Cmd::add:
            return "add-service";
        case Cmd::edit:
            return "edit-service";
        case Cmd::del:
            return "delete-service";
        case Cmd::flush:
            return "flush";
        case Cmd::list:
            return "list";
        case Cmd::add_dest:
            return "add-server";
        case Cmd::del_dest:
            return "delete-server";
        case Cmd::edit_dest:
            return "edit-server";
        case Cmd::timeout:
            return "set";
        case Cmd::start_daemon:
            return "start-daemon";
        case Cmd::stop_daemon:
            return "stop-daemon";
        case Cmd::restore:
            return "restore";
        case Cmd::save:
            return "save";
        case Cmd::zero:
            return "zero";
        case Cmd::none:
            break;
    }
    return "";
}

const char* option_name(Opt o) {
    static const char* const names[kOptCount] = {"numeric",
                                                 "connection",
                                                 "service-address",
                                                 "scheduler",
                                                 "persistent",
                                                 "netmask",
                                                 "real-server",
                                                 "forwarding-method",
                                                 "weight",
                                                 "u-threshold",
                                                 "l-threshold",
                                                 "mcast-interface",
                                                 "timeout",
                                                 "daemon",
                                                 "stats",
                                                 "rate",
                                                 "thresholds",
                                                 "persistent-conn",
                                                 "nosort",
                                                 "syncid",
                                                 "exact",
                                                 "ops",
                                                 "pe",
                                                 "sched-flags",
                                                 "mcast-group",
                                                 "mcast-port",
                                                 "mcast-ttl",
                                                 "sync-maxlen",
                                                 "tun-info",
                                                 "tun-type",
                                                 "tun-port",
                                                 "tun-nocsum",
                                                 "tun-csum",
                                                 "tun-remcsum"};
    return names[static_cast<unsigned>(o)];
}

model::ServiceKey Service::key() const {
    if (fwmark) return model::ServiceKey::mark(fwmark, static_cast<uint8_t>(af));
    model::IpAddress a;
    a.family = static_cast<uint8_t>(af);
    std::memcpy(a.bytes.data(), addr.data(), af == AF_INET6 ? 16 : 4);
    return model::ServiceKey::inet(static_cast<model::Protocol>(protocol), a, port);
}

bool Service::is_empty() const {
    static const std::array<uint8_t, 16> zero{};
    return fwmark == 0 && addr == zero && port == 0;
}

model::RealKey Dest::key() const {
    model::IpAddress a;
    a.family = static_cast<uint8_t>(af);
    std::memcpy(a.bytes.data(), addr.data(), af == AF_INET6 ? 16 : 4);
    return model::RealKey{a, port};
}

model::RealSpec Dest::spec() const {
    return model::RealSpec{static_cast<model::ForwardMethod>(conn_flags & kFwdMask), weight,
                           u_threshold, l_threshold};
}

namespace {

// A refusal that ends ipvsadm (its fail()): thrown inside this file only, caught in
// parse_command, so every check can stop where ipvsadm stops.
struct Refusal {
    Stop stop;
};

[[noreturn]] __attribute__((format(printf, 1, 2))) void fail(const char* fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    throw Refusal{Stop{2, "", std::string(buf) + "\n", true}};
}

Stop try_help(const std::string& program) {
    return Stop{255, "",
                "Try `" + program + " -h' or '" + program + " --help' for more information.\n",
                true};
}

// ipvsadm's tags for options without a short name (values outside ASCII).
enum Tag : int {
    tag_set = 128,
    tag_start_daemon,
    tag_stop_daemon,
    tag_mcast_interface,
    tag_timeout,
    tag_daemon,
    tag_stats,
    tag_rate,
    tag_thresholds,
    tag_persistent_conn,
    tag_sort,
    tag_no_sort,
    tag_pe,
    tag_sctp_service,
    tag_mcast_group,
    tag_mcast_port,
    tag_mcast_ttl,
    tag_sync_maxlen,
    tag_tun_info,
    tag_tun_type,
    tag_tun_port,
    tag_tun_nocsum,
    tag_tun_csum,
    tag_tun_remcsum,
};

constexpr uint32_t kMaxTimeout = 86400 * 31;
constexpr int kSvcAddr = 1, kSvcPort = 2;

// strtol in base 10, the whole string, within [min, max]; else -1 (ipvsadm's string_to_number).
long number_in(const char* s, long min, long max) {
    errno = 0;
    char* end = nullptr;
    long n = std::strtol(s, &end, 10);
    if (*end == '\0' && end != s && errno != ERANGE && min <= n && n <= max) return n;
    return -1;
}

uint32_t parse_timeout(const char* buf, long min, long max) {
    if (buf == nullptr) return kDefaultPersistence;
    long v = number_in(buf, min, max);
    if (v == -1) fail("invalid timeout value `%s' specified", buf);
    return static_cast<uint32_t>(v);
}

uint32_t parse_fwmark(const char* buf) {
    errno = 0;
    char* end = nullptr;
    // ipvsadm keeps strtol's long in an unsigned long: "-5" becomes huge and is refused.
    unsigned long l = static_cast<unsigned long>(std::strtol(buf, &end, 10));
    if (*end != '\0' || end == buf || errno == ERANGE || l == 0 || l > UINT_MAX)
        fail("invalid fwmark value `%s' specified", buf);
    return static_cast<uint32_t>(l);
}

bool all_digits(const char* s) {
    for (; *s; ++s)
        if (!std::isdigit(static_cast<unsigned char>(*s))) return false;
    return true;  // also for "": ipvsadm refuses an empty address as it refuses a bare number
}

// host[:port], [v6]:port, or a bare v6 address into svc (ipvsadm's parse_service, with its
// quirks: "[1.2.3.4]:80" loses its port, an address alone leaves the port as it was).
int parse_service(const char* arg, Service& svc, Names& names) {
    if (arg == nullptr || all_digits(arg)) return 0;
    std::string text(arg);
    char* buf = text.data();
    char* portp = nullptr;
    if (buf[0] == '[') {
        ++buf;
        portp = std::strchr(buf, ']');
        if (portp == nullptr) return 0;
        *portp++ = '\0';
        if (*portp != ':') return 0;
        *portp = '\0';
    }
    in6_addr a6{};
    in_addr a4{};
    if (::inet_pton(AF_INET6, buf, &a6) > 0) {
        std::memcpy(svc.addr.data(), &a6, 16);
        svc.af = AF_INET6;
        svc.netmask = 128;
    } else {
        portp = std::strrchr(buf, ':');
        if (portp != nullptr) *portp = '\0';
        if (::inet_aton(buf, &a4) != 0) {
            std::memcpy(svc.addr.data(), &a4.s_addr, 4);
        } else if (auto by_name = names.ipv4_by_name(buf)) {
            std::memcpy(svc.addr.data(), &*by_name, 4);
        } else {
            return 0;
        }
        svc.af = AF_INET;
    }
    int result = kSvcAddr;
    if (portp != nullptr) {
        result |= kSvcPort;
        const char* proto = services_protocol(svc.protocol);
        if (long port = number_in(portp + 1, 0, 65535); port != -1)
            svc.port = static_cast<uint16_t>(port);
        else if (auto named = proto ? names.port_by_name(portp + 1, proto) : std::nullopt)
            svc.port = *named;
        else
            return 0;
    }
    return result;
}

// A dotted mask or a host name's IPv4 address, in network byte order.
bool parse_netmask(const char* buf, uint32_t& mask, Names& names) {
    in_addr a{};
    if (::inet_aton(buf, &a) != 0) {
        mask = a.s_addr;
        return true;
    }
    if (auto by_name = names.ipv4_by_name(buf)) {
        mask = *by_name;
        return true;
    }
    return false;
}

uint32_t parse_sched_flags(std::string sched, const std::string& arg) {
    if (sched.empty()) sched = "wlc";
    uint32_t flags = 0;
    size_t start = 0;
    bool any = false;
    // strtok(",") semantics: empty pieces are skipped.
    while (start <= arg.size()) {
        size_t comma = arg.find(',', start);
        std::string flag =
            arg.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        start = comma == std::string::npos ? arg.size() + 1 : comma + 1;
        if (flag.empty()) continue;
        any = true;
        if (flag == "flag-1") {
            flags |= kSvcSched1;
        } else if (flag == "flag-2") {
            flags |= kSvcSched2;
        } else if (flag == "flag-3") {
            flags |= kSvcSched3;
        } else if (flag == "sh-fallback" || flag == "sh-port" || flag == "mh-fallback" ||
                   flag == "mh-port") {
            flags |= flag.ends_with("fallback") ? kSvcSched1 : kSvcSched2;
            if (sched != flag.substr(0, 2)) fail("incompatible scheduler flag `%s'", flag.c_str());
        } else {
            fail("invalid scheduler flag `%s'", flag.c_str());
        }
    }
    if (!any) fail("invalid scheduler flag `%s'", arg.c_str());
    return flags;
}

// Which options each command allows ('+' required, 'x' refused, '1' at most one of them,
// ' ' optional), as ipvsadm's table decides; columns in Opt order.
struct Legality {
    Cmd cmd;
    const char* row;
};
constexpr Legality kLegal[] = {
    //               0123456789012345678901234567890123
    {Cmd::add, /*    */ "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx"},
    {Cmd::edit, /*   */ "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx"},
    {Cmd::del, /*    */ "xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
    {Cmd::flush, /*  */ "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
    {Cmd::list, /*   */ " 11xxxxxxxxx11       xxxxxxx xxxxx"},
    {Cmd::add_dest, /**/ "xx+xxx+    xxxxxxxxxxxxxxxxxx     "},
    {Cmd::del_dest, /**/ "xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx"},
    {Cmd::edit_dest, /**/ "xx+xxx+    xxxxxxxxxxxxxxxxxx     "},
    {Cmd::timeout, /**/ "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
    {Cmd::start_daemon, "xxxxxxxxxxx xxxxxxx xxxx    xxxxxx"},
    {Cmd::stop_daemon, "xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxx"},
    {Cmd::restore, /**/ "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
    {Cmd::save, /*   */ " xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
    {Cmd::zero, /*   */ "xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
};
// check_options reads row[j] for every j < kOptCount: a short row would read past its end.
constexpr bool every_row_has_a_column_per_option() {
    for (const auto& l : kLegal)
        if (std::string_view(l.row).size() != kOptCount) return false;
    return true;
}
static_assert(every_row_has_a_column_per_option());

void check_options(Cmd cmd, OptionSet options) {
    const char* row = nullptr;
    for (const auto& l : kLegal)
        if (l.cmd == cmd) row = l.row;
    if (row == nullptr) return;
    int count = 0;
    size_t last = 0;
    for (size_t j = 0; j < kOptCount; ++j) {
        const Opt o = static_cast<Opt>(j);
        if (!options.has(o)) {
            if (row[j] == '+')
                fail("You need to supply the '%s' option for the '%s' command", option_name(o),
                     command_name(cmd));
            continue;
        }
        if (row[j] == 'x')
            fail("Illegal '%s' option with the '%s' command", option_name(o), command_name(cmd));
        if (row[j] == '1' && ++count > 1)
            fail("The option '%s' conflicts with the '%s' option in the '%s' command",
                 option_name(o), option_name(static_cast<Opt>(last)), command_name(cmd));
        if (row[j] == '1') last = j;
    }
}

// Tunnel types against --tun-port, --tun-nocsum, --tun-csum, --tun-remcsum.
void check_tunnel_options(uint8_t tun_type, OptionSet options) {
    static const char* const types[] = {"ipip", "gue", "gre"};
    static const char* const rows[] = {"xxxx", "+111", "x11x"};
    static const Opt opts[] = {Opt::tun_port, Opt::tun_nocsum, Opt::tun_csum, Opt::tun_remcsum};
    if (tun_type > 2) return;
    const char* row = rows[tun_type];
    int count = 0;
    Opt last = opts[0];
    for (size_t j = 0; j < 4; ++j) {
        if (!options.has(opts[j])) {
            if (row[j] == '+')
                fail("You need to supply the '%s' option for the '%s' tunnel type",
                     option_name(opts[j]), types[tun_type]);
            continue;
        }
        if (row[j] == 'x')
            fail("Illegal '%s' option with the '%s' tunnel type", option_name(opts[j]),
                 types[tun_type]);
        if (row[j] == '1' && ++count > 1)
            fail("The option '%s' conflicts with the '%s' option in the '%s' tunnel type",
                 option_name(opts[j]), option_name(last), types[tun_type]);
        if (row[j] == '1') last = opts[j];
    }
}

void set_option(OptionSet& options, Opt o) {
    if (options.has(o)) fail("multiple '%s' options specified", option_name(o));
    options.add(o);
}

struct PoptFree {
    void operator()(poptContext c) const { poptFreeContext(c); }
};
using PoptContext = std::unique_ptr<std::remove_pointer_t<poptContext>, PoptFree>;

// popt stores each string value as a fresh copy the caller owns; this frees the previous one.
struct OptArg {
    char* value = nullptr;
    ~OptArg() { std::free(value); }
    void reset() {
        std::free(value);
        value = nullptr;
    }
};

// Everything after popt: the semantic checks ipvsadm makes before acting.
void check_command(Command& ce) {
    check_options(ce.cmd, ce.options);
    Service& svc = ce.svc;
    if (ce.cmd == Cmd::add || ce.cmd == Cmd::edit) {
        if (!svc.fwmark && !svc.port && !(svc.flags & kSvcPersistent))
            fail("Zero port specified for non-persistent service");
        if ((svc.flags & kSvcOnePacket) && !svc.fwmark && svc.protocol != IPPROTO_UDP)
            fail("One-Packet Scheduling is only for UDP virtual services");
        if (svc.scheduler.empty()) svc.scheduler = "wlc";
    }
    if (ce.cmd == Cmd::start_daemon && ce.daemon.mcast_ifn.empty()) ce.daemon.mcast_ifn = "eth0";
    const uint32_t fwd = ce.dest.conn_flags & kFwdMask;
    if (ce.cmd == Cmd::add_dest || ce.cmd == Cmd::edit_dest) {
        // Direct routing and tunnels cannot change the port (fwmark services have none).
        if (!svc.fwmark && (fwd == kFwdTunnel || fwd == kFwdRoute)) ce.dest.port = svc.port;
        if (ce.dest.af != svc.af && fwd != kFwdTunnel)
            fail("Different address family is allowed only for tunneling servers");
        const OptionSet tun_opts{OptionSet::bit(Opt::tun_type) | OptionSet::bit(Opt::tun_port) |
                                 OptionSet::bit(Opt::tun_nocsum) | OptionSet::bit(Opt::tun_csum) |
                                 OptionSet::bit(Opt::tun_remcsum)};
        if ((ce.options.bits & tun_opts.bits) && fwd != kFwdTunnel)
            fail("Tunnel options conflict with forward method");
        check_tunnel_options(ce.dest.tun_type, ce.options);
    }
    if (ce.cmd == Cmd::list) {
        const auto& o = ce.options;
        const bool what = o.has(Opt::connection) || o.has(Opt::timeout) || o.has(Opt::daemon);
        const bool counters = o.has(Opt::stats) || o.has(Opt::rate) || o.has(Opt::thresholds);
        const bool settings = o.has(Opt::timeout) || o.has(Opt::daemon);
        if ((what && counters) || (settings && o.has(Opt::persistent_conn)))
            fail("options conflicts in the list command");
    }
}

// ipvsadm's options: long name, short name, whether a value follows, and the code popt
// returns for it (ipvsadm's own codes, so the handlers below read like its switch).
enum class Value : uint8_t { none, required, optional };
struct OptionDef {
    const char* long_name;
    char short_name;
    Value value;
    int code;
};
constexpr OptionDef kOptions[] = {
    {"add-service", 'A', Value::none, 'A'},
    {"edit-service", 'E', Value::none, 'E'},
    {"delete-service", 'D', Value::none, 'D'},
    {"clear", 'C', Value::none, 'C'},
    {"list", 'L', Value::none, 'L'},
    {"list", 'l', Value::none, 'l'},
    {"zero", 'Z', Value::none, 'Z'},
    {"add-server", 'a', Value::none, 'a'},
    {"edit-server", 'e', Value::none, 'e'},
    {"delete-server", 'd', Value::none, 'd'},
    {"set", '\0', Value::none, tag_set},
    {"help", 'h', Value::none, 'h'},
    {"version", 'v', Value::none, 'v'},
    {"restore", 'R', Value::none, 'R'},
    {"save", 'S', Value::none, 'S'},
    {"start-daemon", '\0', Value::required, tag_start_daemon},
    {"stop-daemon", '\0', Value::required, tag_stop_daemon},
    {"tcp-service", 't', Value::required, 't'},
    {"udp-service", 'u', Value::required, 'u'},
    {"sctp-service", '\0', Value::required, tag_sctp_service},
    {"fwmark-service", 'f', Value::required, 'f'},
    {"scheduler", 's', Value::required, 's'},
    {"persistent", 'p', Value::optional, 'p'},
    {"netmask", 'M', Value::required, 'M'},
    {"real-server", 'r', Value::required, 'r'},
    {"masquerading", 'm', Value::none, 'm'},
    {"ipip", 'i', Value::none, 'i'},
    {"gatewaying", 'g', Value::none, 'g'},
    {"weight", 'w', Value::required, 'w'},
    {"u-threshold", 'x', Value::required, 'x'},
    {"l-threshold", 'y', Value::required, 'y'},
    {"numeric", 'n', Value::none, 'n'},
    {"connection", 'c', Value::none, 'c'},
    {"mcast-interface", '\0', Value::required, tag_mcast_interface},
    {"syncid", '\0', Value::required, 'I'},
    {"timeout", '\0', Value::none, tag_timeout},
    {"daemon", '\0', Value::none, tag_daemon},
    {"stats", '\0', Value::none, tag_stats},
    {"rate", '\0', Value::none, tag_rate},
    {"thresholds", '\0', Value::none, tag_thresholds},
    {"persistent-conn", '\0', Value::none, tag_persistent_conn},
    {"nosort", '\0', Value::none, tag_no_sort},
    {"sort", '\0', Value::none, tag_sort},
    {"exact", 'X', Value::none, 'X'},
    {"ipv6", '6', Value::none, '6'},
    {"ops", 'o', Value::none, 'o'},
    {"pe", '\0', Value::required, tag_pe},
    {"sched-flags", 'b', Value::required, 'b'},
    {"mcast-group", '\0', Value::required, tag_mcast_group},
    {"mcast-port", '\0', Value::required, tag_mcast_port},
    {"mcast-ttl", '\0', Value::required, tag_mcast_ttl},
    {"sync-maxlen", '\0', Value::required, tag_sync_maxlen},
    {"tun-info", '\0', Value::none, tag_tun_info},
    {"tun-type", '\0', Value::required, tag_tun_type},
    {"tun-port", '\0', Value::required, tag_tun_port},
    {"tun-nocsum", '\0', Value::none, tag_tun_nocsum},
    {"tun-csum", '\0', Value::none, tag_tun_csum},
    {"tun-remcsum", '\0', Value::none, tag_tun_remcsum},
};

// The same table for popt; string values land in *arg.
std::vector<poptOption> popt_table(char** arg) {
    std::vector<poptOption> t;
    for (const auto& o : kOptions) {
        unsigned int info = o.value == Value::none       ? POPT_ARG_NONE
                            : o.value == Value::optional ? POPT_ARG_STRING | POPT_ARGFLAG_OPTIONAL
                                                         : POPT_ARG_STRING;
        t.push_back({o.long_name, o.short_name, info, o.value == Value::none ? nullptr : arg,
                     o.code, nullptr, nullptr});
    }
    t.push_back(POPT_TABLEEND);
    return t;
}

// What parsing reads a command line as: options one by one (popt's codes; -1 at the end, below
// -1 a popt error), each with its value, then the words left over.
class Events {
public:
    virtual ~Events() = default;
    virtual int next() = 0;
    virtual const char* value() const = 0;  // of the last option; null when it has none
    virtual std::string bad_option() = 0;   // poptBadOption: the last word read
    virtual std::string error_text(int code) = 0;
    virtual const char* leftover() = 0;  // the next word that was not an option, or null
};

// popt itself.
class PoptEvents final : public Events {
public:
    explicit PoptEvents(std::vector<const char*>& argv)
        : table_(popt_table(&value_.value)),
          ctx_(poptGetContext("ballastctl", static_cast<int>(argv.size()) - 1, argv.data(),
                              table_.data(), 0)) {}
    int next() override {
        value_.reset();
        return poptGetNextOpt(ctx_.get());
    }
    const char* value() const override { return value_.value; }
    std::string bad_option() override { return poptBadOption(ctx_.get(), POPT_BADOPTION_NOALIAS); }
    std::string error_text(int code) override { return poptStrerror(code); }
    const char* leftover() override { return poptGetArg(ctx_.get()); }

private:
    OptArg value_;  // before ctx_: popt's context is freed first
    std::vector<poptOption> table_;
    PoptContext ctx_;
};

// A fast path for what -R mostly reads: every option a word of its own ("-t", "--weight") with
// its value, if any, as the next word, and no word left over. popt's events for such a line are
// plain to see and this yields exactly them; any other line (bundles, attached or "=" values,
// "--", unknown options, leftovers, a missing value, POSIXLY_CORRECT set) goes to popt.
class PlainEvents final : public Events {
public:
    static std::optional<PlainEvents> read(const std::vector<const char*>& argv) {
        static const bool posix = std::getenv("POSIXLY_CORRECT") || std::getenv("POSIX_ME_HARDER");
        if (posix) return std::nullopt;
        PlainEvents e;
        const size_t n = argv.size() - 1;  // argv ends with a null
        e.events_.reserve(n);
        for (size_t i = 1; i < n; ++i) {
            const OptionDef* def = find(argv[i]);
            if (!def) return std::nullopt;
            const char* v = nullptr;
            if (def->value == Value::required) {
                if (i + 1 >= n) return std::nullopt;
                v = argv[++i];
            } else if (def->value == Value::optional && i + 1 < n && argv[i + 1][0] != '-') {
                v = argv[++i];  // popt takes an optional value unless it starts with '-'
            }
            e.events_.push_back({def->code, v, argv[i]});
        }
        return e;
    }
    int next() override {
        if (at_ == events_.size()) return -1;
        last_ = at_++;
        return events_[last_].code;
    }
    const char* value() const override { return events_[last_].value; }
    std::string bad_option() override { return events_[last_].last_word; }
    std::string error_text(int) override { return {}; }  // never has one
    const char* leftover() override { return nullptr; }

private:
    struct Event {
        int code;
        const char* value;
        const char* last_word;  // the last word this option read (its value, when it has one)
    };
    static const OptionDef* find(const char* w) {
        if (w[0] != '-') return nullptr;
        if (w[1] == '-') {
            for (const auto& o : kOptions)
                if (std::strcmp(o.long_name, w + 2) == 0) return &o;
        } else if (w[1] != '\0' && w[2] == '\0') {
            for (const auto& o : kOptions)
                if (o.short_name == w[1]) return &o;
        }
        return nullptr;
    }
    std::vector<Event> events_;
    size_t at_ = 0, last_ = 0;
};

}  // namespace

Parsed parse_command(const std::vector<std::string>& args, bool reading_stdin, Names& names,
                     Tokenizer tokenizer) {
    const std::string program = args.empty() ? std::string("ballastctl") : args[0];
    std::vector<const char*> argv;
    argv.reserve(args.size() + 1);
    for (const auto& a : args) argv.push_back(a.c_str());
    argv.push_back(nullptr);

    std::optional<PlainEvents> plain;
    if (tokenizer == Tokenizer::fastest) plain = PlainEvents::read(argv);
    std::optional<PoptEvents> popt;
    if (!plain) popt.emplace(argv);
    Events& events = plain ? static_cast<Events&>(*plain) : *popt;
    Command ce;
    try {
        int c = events.next();
        if (c < 0) return try_help(program);
        auto daemon_state = [&](const char* refusal) {
            const char* v = events.value() ? events.value() : "";
            if (std::strcmp(v, "master") == 0)
                ce.daemon.state = kernel::ipvs::SyncDaemon::State::master;
            else if (std::strcmp(v, "backup") == 0)
                ce.daemon.state = kernel::ipvs::SyncDaemon::State::backup;
            else
                fail("%s", refusal);
        };
        switch (c) {
            case 'A':
                ce.cmd = Cmd::add;
                break;
            case 'E':
                ce.cmd = Cmd::edit;
                break;
            case 'D':
                ce.cmd = Cmd::del;
                break;
            case 'a':
                ce.cmd = Cmd::add_dest;
                break;
            case 'e':
                ce.cmd = Cmd::edit_dest;
                break;
            case 'd':
                ce.cmd = Cmd::del_dest;
                break;
            case 'C':
                ce.cmd = Cmd::flush;
                break;
            case 'L':
            case 'l':
                ce.cmd = Cmd::list;
                break;
            case 'Z':
                ce.cmd = Cmd::zero;
                break;
            case tag_set:
                ce.cmd = Cmd::timeout;
                break;
            case 'R':
                ce.cmd = Cmd::restore;
                break;
            case 'S':
                ce.cmd = Cmd::save;
                break;
            case tag_start_daemon:
                ce.cmd = Cmd::start_daemon;
                daemon_state("illegal start-daemon parameter specified");
                break;
            case tag_stop_daemon:
                ce.cmd = Cmd::stop_daemon;
                daemon_state("illegal start_daemon specified");
                break;
            case 'h':
                return Stop{0, usage(program), "", true};
            case 'v':
                return Stop{0, version_line(), "", true};
            default:
                return try_help(program);
        }
        std::string sched_flags;
        Service& svc = ce.svc;
        Dest& dest = ce.dest;
        while ((c = events.next()) >= 0) {
            const char* v = events.value();
            switch (c) {
                case 't':
                case 'u':
                case tag_sctp_service:
                    set_option(ce.options, Opt::service);
                    svc.protocol = c == 't' ? IPPROTO_TCP : c == 'u' ? IPPROTO_UDP : IPPROTO_SCTP;
                    if (!(parse_service(v, svc, names) & kSvcAddr))
                        fail("illegal virtual server address[:port] specified");
                    break;
                case 'f':
                    set_option(ce.options, Opt::service);
                    svc.af = AF_INET;
                    svc.protocol = IPPROTO_TCP;  // unused for a fwmark service, as in ipvsadm
                    svc.fwmark = parse_fwmark(v);
                    break;
                case 's':
                    set_option(ce.options, Opt::scheduler);
                    svc.scheduler = std::string(v).substr(0, 15);
                    break;
                case 'p':
                    set_option(ce.options, Opt::persistent);
                    svc.flags |= kSvcPersistent;
                    svc.timeout = parse_timeout(v, 1, kMaxTimeout);
                    break;
                case 'M':
                    set_option(ce.options, Opt::netmask);
                    if (svc.af != AF_INET6) {
                        if (!parse_netmask(v, svc.netmask, names))
                            fail("illegal virtual server persistent mask specified");
                    } else {
                        svc.netmask = static_cast<uint32_t>(std::atoi(v));
                        if (svc.netmask < 1 || svc.netmask > 128)
                            fail("illegal ipv6 netmask specified");
                    }
                    break;
                case 'r': {
                    set_option(ce.options, Opt::server);
                    Service t = svc;
                    int parsed = parse_service(v, t, names);
                    dest.af = t.af;
                    dest.addr = t.addr;
                    dest.port = t.port;
                    if (!(parsed & kSvcAddr)) fail("illegal real server address[:port] specified");
                    if (parsed == kSvcAddr) dest.port = svc.port;
                    break;
                }
                case 'i':
                    set_option(ce.options, Opt::forward);
                    dest.conn_flags = kFwdTunnel;
                    break;
                case 'g':
                    set_option(ce.options, Opt::forward);
                    dest.conn_flags = kFwdRoute;
                    break;
                case 'm':
                    set_option(ce.options, Opt::forward);
                    dest.conn_flags = kFwdMasq;
                    break;
                case 'w': {
                    set_option(ce.options, Opt::weight);
                    long w = number_in(v, 0, INT_MAX);  // Debian's ipvsadm allows INT_MAX
                    if (w == -1) fail("illegal weight specified");
                    dest.weight = static_cast<uint32_t>(w);
                    break;
                }
                case 'x': {
                    set_option(ce.options, Opt::uthreshold);
                    long x = number_in(v, 0, INT_MAX);
                    if (x == -1) fail("illegal u_threshold specified");
                    dest.u_threshold = static_cast<uint32_t>(x);
                    break;
                }
                case 'y': {
                    set_option(ce.options, Opt::lthreshold);
                    long y = number_in(v, 0, INT_MAX);
                    if (y == -1) fail("illegal l_threshold specified");
                    dest.l_threshold = static_cast<uint32_t>(y);
                    break;
                }
                case 'c':
                    set_option(ce.options, Opt::connection);
                    break;
                case 'n':
                    set_option(ce.options, Opt::numeric);
                    ce.format.numeric = true;
                    break;
                case tag_mcast_interface:
                    set_option(ce.options, Opt::mcast);
                    ce.daemon.mcast_ifn = std::string(v).substr(0, 15);
                    break;
                case 'I': {
                    set_option(ce.options, Opt::syncid);
                    long id = number_in(v, 0, 255);
                    if (id == -1) fail("illegal syncid specified");
                    ce.daemon.sync_id = static_cast<uint32_t>(id);
                    break;
                }
                case tag_timeout:
                    set_option(ce.options, Opt::timeout);
                    break;
                case tag_daemon:
                    set_option(ce.options, Opt::daemon);
                    break;
                case tag_stats:
                    set_option(ce.options, Opt::stats);
                    ce.format.stats = true;
                    break;
                case tag_rate:
                    set_option(ce.options, Opt::rate);
                    ce.format.rate = true;
                    break;
                case tag_thresholds:
                    set_option(ce.options, Opt::thresholds);
                    ce.format.thresholds = true;
                    break;
                case tag_persistent_conn:
                    set_option(ce.options, Opt::persistent_conn);
                    ce.format.persistent_conn = true;
                    break;
                case tag_no_sort:
                    set_option(ce.options, Opt::nosort);
                    ce.format.nosort = true;
                    break;
                case tag_sort:
                    break;  // sorting is the default; accepted for old scripts
                case 'X':
                    set_option(ce.options, Opt::exact);
                    ce.format.exact = true;
                    break;
                case '6':
                    if (!svc.fwmark) fail("-6 used before -f\n");
                    svc.af = AF_INET6;
                    svc.netmask = 128;
                    break;
                case 'o':
                    set_option(ce.options, Opt::ops);
                    svc.flags |= kSvcOnePacket;
                    break;
                case tag_pe:
                    set_option(ce.options, Opt::pe);
                    svc.pe_name = std::string(v).substr(0, 15);
                    break;
                case 'b':
                    set_option(ce.options, Opt::sched_flags);
                    sched_flags = std::string(v).substr(0, 127);
                    break;
                case tag_mcast_group: {
                    set_option(ce.options, Opt::mcast_group);
                    model::IpAddress g;
                    if (std::strchr(v, ':')) {
                        in6_addr a{};
                        if (::inet_pton(AF_INET6, v, &a) <= 0 || !IN6_IS_ADDR_MULTICAST(&a))
                            fail("invalid IPv6 mcast-group `%s'", v);
                        g.family = AF_INET6;
                        std::memcpy(g.bytes.data(), &a, 16);
                    } else {
                        in_addr a{};
                        if (::inet_pton(AF_INET, v, &a) <= 0 || !IN_MULTICAST(ntohl(a.s_addr)))
                            fail("invalid IPv4 mcast-group `%s'", v);
                        g.family = AF_INET;
                        std::memcpy(g.bytes.data(), &a, 4);
                    }
                    ce.daemon.mcast_group = g;
                    break;
                }
                case tag_mcast_port: {
                    set_option(ce.options, Opt::mcast_port);
                    long p = number_in(v, 1, 65535);
                    if (p == -1) fail("illegal mcast-port specified");
                    ce.daemon.mcast_port = static_cast<uint16_t>(p);
                    break;
                }
                case tag_mcast_ttl: {
                    set_option(ce.options, Opt::mcast_ttl);
                    long t = number_in(v, 1, 255);
                    if (t == -1) fail("illegal mcast-ttl specified");
                    ce.daemon.mcast_ttl = static_cast<uint8_t>(t);
                    break;
                }
                case tag_sync_maxlen: {
                    set_option(ce.options, Opt::sync_maxlen);
                    long m = number_in(v, 1, 65535 - 20 - 8);
                    if (m == -1) fail("illegal sync-maxlen specified");
                    ce.daemon.sync_maxlen = static_cast<uint16_t>(m);
                    break;
                }
                case tag_tun_info:
                    set_option(ce.options, Opt::tun_info);
                    ce.format.tun_info = true;
                    break;
                case tag_tun_type: {
                    set_option(ce.options, Opt::tun_type);
                    const std::string t = v;
                    if (t == "ipip")
                        dest.tun_type = 0;
                    else if (t == "gue")
                        dest.tun_type = 1;
                    else if (t == "gre")
                        dest.tun_type = 2;
                    else
                        fail("illegal tunnel type specified");
                    break;
                }
                case tag_tun_port: {
                    set_option(ce.options, Opt::tun_port);
                    long p = number_in(v, 1, 65535);
                    if (p == -1) fail("illegal tunnel port specified");
                    dest.tun_port = static_cast<uint16_t>(p);
                    break;
                }
                case tag_tun_nocsum:
                    set_option(ce.options, Opt::tun_nocsum);
                    break;
                case tag_tun_csum:
                    set_option(ce.options, Opt::tun_csum);
                    dest.tun_flags |= 1;
                    break;
                case tag_tun_remcsum:
                    set_option(ce.options, Opt::tun_remcsum);
                    dest.tun_flags |= 2;
                    break;
                default:
                    fail("invalid option `%s'", events.bad_option().c_str());
            }
        }
        if (c < -1) {
            return Stop{255, "", events.bad_option() + ": " + events.error_text(c) + "\n", false};
        }
        if (ce.cmd == Cmd::timeout) {
            const char* values[3] = {};
            for (auto& value : values)
                if ((value = events.leftover()) == nullptr)
                    fail("--set option requires 3 timeout values");
            ce.timeouts.tcp = parse_timeout(values[0], 0, kMaxTimeout);
            ce.timeouts.tcp_fin = parse_timeout(values[1], 0, kMaxTimeout);
            ce.timeouts.udp = parse_timeout(values[2], 0, kMaxTimeout);
        }
        if (const char* extra = events.leftover()) fail("unexpected argument %s", extra);
        if (!sched_flags.empty()) {
            svc.flags &= ~(kSvcSched1 | kSvcSched2 | kSvcSched3);
            svc.flags |= parse_sched_flags(svc.scheduler, sched_flags);
        }
        check_command(ce);
        if (ce.cmd == Cmd::restore && reading_stdin) return try_help(program);
        if (ce.cmd == Cmd::save) ce.format.rule = true;
    } catch (const Refusal& r) {
        return r.stop;
    }
    return ce;
}

// ---------------------------------------------------------------- ballastctl's own options

namespace {

// An ipvsadm option by its short or long name (null when there is none).
const OptionDef* option_named(char short_name, std::string_view long_name) {
    for (const auto& o : kOptions)
        if ((short_name && o.short_name == short_name) || (!short_name && o.long_name == long_name))
            return &o;
    return nullptr;
}

Stop bad_extra(const std::string& what) {
    return Stop{2, "", "ballastctl: " + what + "\n", true};
}

}  // namespace

std::variant<Extras, Stop> take_extras(std::vector<std::string>& argv) {
    Extras x;
    std::vector<std::string> kept;
    if (!argv.empty()) kept.push_back(argv[0]);
    auto output = [&](const std::string& v) -> bool {
        if (v == "json")
            x.json = true;
        else if (v == "text")
            x.json = false;
        else
            return false;
        return true;
    };
    for (size_t i = 1; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        const bool has_next = i + 1 < argv.size();
        if (a == "--") {
            kept.insert(kept.end(), argv.begin() + static_cast<long>(i), argv.end());
            break;
        }
        if (a == "-j" || a == "--json") {
            x.json = true;
            continue;
        }
        if (a == "--force") {
            x.force = true;
            continue;
        }
        if (a == "-o" && has_next && (argv[i + 1] == "json" || argv[i + 1] == "text")) {
            output(argv[++i]);
            continue;
        }
        if (a == "-ojson" || a == "-otext") {
            output(a.substr(2));
            continue;
        }
        struct Valued {
            const char* name;
            std::optional<std::string>* into;
        };
        std::optional<std::string> out_value;
        const Valued valued[] = {{"--output", &out_value},
                                 {"--state-dir", &x.state_dir},
                                 {"--socket", &x.socket},
                                 {"--config", &x.config}};
        bool taken = false;
        for (const auto& v : valued) {
            const std::string name = v.name;
            if (a == name) {
                if (!has_next) return bad_extra(name + " needs a value");
                *v.into = argv[++i];
                taken = true;
            } else if (a.starts_with(name + "=")) {
                *v.into = a.substr(name.size() + 1);
                taken = true;
            }
        }
        if (taken) {
            if (out_value && !output(*out_value))
                return bad_extra("--output must be json or text, not '" + *out_value + "'");
            continue;
        }
        kept.push_back(a);
        // Skip the value of an ipvsadm option, so "-s -j" stays ipvsadm's business.
        if (a.starts_with("--")) {
            std::string_view name = std::string_view(a).substr(2);
            if (name.find('=') != std::string_view::npos) continue;
            const OptionDef* o = option_named('\0', name);
            if (o && o->value == Value::required && has_next) kept.push_back(argv[++i]);
            if (o && o->value == Value::optional && has_next && !argv[i + 1].starts_with("-"))
                kept.push_back(argv[++i]);
        } else if (a.size() > 1 && a[0] == '-') {
            for (size_t j = 1; j < a.size(); ++j) {
                const bool last = j + 1 == a.size();
                const OptionDef* o = option_named(a[j], {});
                if (!o || o->value == Value::none) continue;
                // The value is the rest of the bundle, or else the next word.
                if (last && has_next &&
                    (o->value == Value::required || !argv[i + 1].starts_with("-")))
                    kept.push_back(argv[++i]);
                break;
            }
        }
    }
    argv = std::move(kept);
    return x;
}

std::string version_line() {
    return std::string("ballastctl ") + kVersion +
           " (the command line and output of ipvsadm v1.31 2019/12/24, IPVS v1.2.1)\n";
}

}  // namespace ballast::ipvsadm
