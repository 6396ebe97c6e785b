#include "lab_support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace ballast::lab {

using model::ForwardMethod;
using model::IpvsTable;
using model::ServiceKey;

Status enter_fresh_netns() {
    if (::unshare(CLONE_NEWNET) != 0)
        return make_error(errno, "unshare(CLONE_NEWNET)", {}, "needs root and namespaces");
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return make_error(errno, "socket");
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    int rc = ::ioctl(fd, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP;
        rc = ::ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    int err = errno;
    ::close(fd);
    if (rc != 0) return make_error(err, "SIOCSIFFLAGS", "lo", "cannot bring lo up");
    return {};
}

Status enter_fresh_netns_kept_open() {
    static std::vector<int> kept;  // closed by exit
    if (Status st = enter_fresh_netns(); !st) return st;
    int fd = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return make_error(errno, "open", "/proc/self/ns/net");
    kept.push_back(fd);
    return {};
}

ProcessResult run(const std::vector<std::string>& argv, const std::string& stdin_text) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return {};
    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(in[0], 0);
        ::dup2(out[1], 1);
        ::dup2(out[1], 2);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        _exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    // Write stdin fully before reading: ipvsadm -R reads everything before printing anything.
    size_t off = 0;
    while (off < stdin_text.size()) {
        ssize_t n = ::write(in[1], stdin_text.data() + off, stdin_text.size() - off);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
    }
    ::close(in[1]);
    ProcessResult r;
    char buf[65536];
    for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) r.out.append(buf, n);
    ::close(out[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

namespace {

[[noreturn]] void fail(const std::string& line, const std::string& why) {
    throw std::runtime_error("ipvsadm -S line '" + line + "': " + why);
}

model::Endpoint endpoint(const std::string& line, const std::string& text) {
    auto e = model::Endpoint::parse(text);
    if (!e) fail(line, "bad endpoint " + text);
    return *e;
}

}  // namespace

IpvsTable parse_ipvsadm_save(const std::string& text) {
    IpvsTable t;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream ws(line);
        std::vector<std::string> tok;
        for (std::string w; ws >> w;) tok.push_back(w);
        if (tok.empty()) continue;
        if (tok[0] != "-A" && tok[0] != "-a") fail(line, "not a rule");
        bool v6 = std::find(tok.begin(), tok.end(), "-6") != tok.end();
        ServiceKey key;
        if (tok.size() < 3) fail(line, "short");
        if (tok[1] == "-f") {
            key = ServiceKey::mark(static_cast<uint32_t>(std::stoul(tok[2])),
                                   v6 ? AF_INET6 : AF_INET);
        } else {
            model::Protocol p = tok[1] == "-t"   ? model::Protocol::tcp
                                : tok[1] == "-u" ? model::Protocol::udp
                                : tok[1] == "--sctp-service"
                                    ? model::Protocol::sctp
                                    : (fail(line, "protocol " + tok[1]), model::Protocol::tcp);
            auto e = endpoint(line, tok[2]);
            key = ServiceKey::inet(p, e.addr, e.port);
        }
        if (tok[0] == "-A") {
            model::IpvsService svc;
            svc.key = key;
            svc.spec.netmask = key.family == AF_INET6 ? 128 : 0xffffffff;
            for (size_t i = 3; i < tok.size(); ++i) {
                const std::string& o = tok[i];
                auto next = [&] {
                    if (i + 1 >= tok.size()) fail(line, o + " without value");
                    return tok[++i];
                };
                if (o == "-6") continue;
                if (o == "-s") {
                    svc.spec.scheduler = next();
                } else if (o == "-p") {
                    svc.spec.persistence = static_cast<uint32_t>(std::stoul(next()));
                    svc.spec.flags.persistent = true;
                } else if (o == "-M") {
                    std::string m = next();
                    in_addr a{};
                    if (key.family == AF_INET && ::inet_pton(AF_INET, m.c_str(), &a) == 1)
                        svc.spec.netmask = ntohl(a.s_addr);
                    else
                        svc.spec.netmask = static_cast<uint32_t>(std::stoul(m));
                } else if (o == "-o") {
                    svc.spec.flags.one_packet = true;
                } else if (o == "-b") {
                    std::istringstream fs(next());
                    for (std::string f; std::getline(fs, f, ',');) {
                        if (f == "sh-fallback" || f == "mh-fallback" || f == "flag-1")
                            svc.spec.flags.sched_flag1 = true;
                        else if (f == "sh-port" || f == "mh-port" || f == "flag-2")
                            svc.spec.flags.sched_flag2 = true;
                        else if (f == "flag-3")
                            svc.spec.flags.sched_flag3 = true;
                        else
                            fail(line, "flag " + f);
                    }
                } else if (o == "--pe") {
                    svc.spec.pe_name = next();
                } else {
                    fail(line, "option " + o);
                }
            }
            t.services[key] = svc;
        } else {
            auto it = t.services.find(key);
            if (it == t.services.end()) fail(line, "dest before its service");
            model::RealKey real;
            model::RealSpec spec;
            for (size_t i = 3; i < tok.size(); ++i) {
                const std::string& o = tok[i];
                auto next = [&] {
                    if (i + 1 >= tok.size()) fail(line, o + " without value");
                    return tok[++i];
                };
                if (o == "-6") continue;
                if (o == "-r") {
                    auto e = endpoint(line, next());
                    real = model::RealKey{e.addr, e.port};
                } else if (o == "-m") {
                    spec.forward = ForwardMethod::masquerade;
                } else if (o == "-g") {
                    spec.forward = ForwardMethod::route;
                } else if (o == "-i") {
                    spec.forward = ForwardMethod::tunnel;
                } else if (o == "-w") {
                    spec.weight = static_cast<uint32_t>(std::stoul(next()));
                } else if (o == "-x") {
                    spec.upper_threshold = static_cast<uint32_t>(std::stoul(next()));
                } else if (o == "-y") {
                    spec.lower_threshold = static_cast<uint32_t>(std::stoul(next()));
                } else if (o == "--tun-type") {
                    if (next() != "ipip") fail(line, "tunnel type");
                } else {
                    fail(line, "option " + o);
                }
            }
            it->second.reals[real] = spec;
        }
    }
    return t;
}

namespace {
std::string service_args(const ServiceKey& k) {
    if (k.is_fwmark())
        return "-f " + std::to_string(k.fwmark) + (k.family == AF_INET6 ? " -6" : "");
    std::string flag = k.protocol == model::Protocol::tcp   ? "-t"
                       : k.protocol == model::Protocol::udp ? "-u"
                                                            : "--sctp-service";
    return flag + " " + model::Endpoint{k.addr, k.port}.to_string();
}
}  // namespace

std::string to_ipvsadm_rules(const IpvsTable& table) {
    std::string out;
    for (const auto& [k, svc] : table.services) {
        out += "-A " + service_args(k) + " -s " + svc.spec.scheduler;
        if (svc.spec.persistence) {
            out += " -p " + std::to_string(*svc.spec.persistence);
            if (k.family == AF_INET6) {
                out += " -M " + std::to_string(svc.spec.netmask);
            } else {
                in_addr a{htonl(svc.spec.netmask)};
                char buf[INET_ADDRSTRLEN];
                out += std::string(" -M ") + ::inet_ntop(AF_INET, &a, buf, sizeof buf);
            }
        }
        if (svc.spec.flags.one_packet) out += " -o";
        const auto& f = svc.spec.flags;
        const std::string& s = svc.spec.scheduler;
        std::string prefix = s == "sh" || s == "mh" ? s + "-" : "";
        std::vector<std::string> names;
        if (f.sched_flag1) names.push_back(prefix.empty() ? "flag-1" : prefix + "fallback");
        if (f.sched_flag2) names.push_back(prefix.empty() ? "flag-2" : prefix + "port");
        if (f.sched_flag3) names.push_back("flag-3");
        for (size_t i = 0; i < names.size(); ++i) out += (i ? "," : " -b ") + names[i];
        out += "\n";
        for (const auto& [r, spec] : svc.reals) {
            out += "-a " + service_args(k) + " -r " + r.to_string();
            out += spec.forward == ForwardMethod::route    ? " -g"
                   : spec.forward == ForwardMethod::tunnel ? " -i"
                                                           : " -m";
            out += " -w " + std::to_string(spec.weight);
            if (spec.upper_threshold) out += " -x " + std::to_string(spec.upper_threshold);
            if (spec.lower_threshold) out += " -y " + std::to_string(spec.lower_threshold);
            out += "\n";
        }
    }
    return out;
}

}  // namespace ballast::lab
