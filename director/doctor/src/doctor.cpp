#include "ballast/doctor/doctor.hpp"

#include "ballast/policy/policy.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "ballast/sysctl/applier.hpp"
#include "ballast/sysctl/plan.hpp"

namespace ballast::doctor {
namespace {

using agent::Check;
using agent::Verdict;

Check make(std::string name, std::string subject, Verdict v, std::string reason,
           std::string fix = {}) {
    return Check{std::move(name), std::move(subject), v, std::move(reason), std::move(fix)};
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
    return out;
}

const char* kRestartDaemon = "systemctl restart ballastd";

// The real servers a service sends traffic to: its reals and its sorry server.
std::vector<model::IpAddress> nat_sources(const model::ServiceConfig& s) {
    std::vector<model::IpAddress> out;
    for (const auto& r : s.reals) out.push_back(r.key.addr);
    if (s.sorry_server) out.push_back(s.sorry_server->addr);
    return out;
}

void sysctl_checks(const model::DirectorConfig& config, const kernel::SysctlAccess& access,
                   std::vector<Check>& out) {
    sysctl::SysctlInputs in{config.director.sysctl, config.director.interfaces,
                            policy::has_ipv6_service(config), sysctl::ipvs_present(access)};
    for (const auto& want : sysctl::plan_sysctls(in)) {
        const bool forwarding =
            want.key == "net.ipv4.ip_forward" || want.key.ends_with(".forwarding");
        const bool redirects = want.key.ends_with(".send_redirects");
        const std::string name = forwarding  ? "forwarding"
                                 : redirects ? "send_redirects"
                                             : "sysctl";
        // Forwarding and redirects break LVS-NAT outright; the rest degrade it.
        const Verdict bad = forwarding || redirects ? Verdict::fail : Verdict::warn;
        const std::string fix = "sysctl -w " + want.key + "=" + want.value;
        auto have = access.read(want.key);
        if (!have) {
            out.push_back(make(name, want.key, bad,
                               "cannot read " + want.key + ": " + have.error().describe() +
                                   (redirects ? " (does the interface exist?)" : ""),
                               fix));
            continue;
        }
        if (*have == want.value) {
            out.push_back(make(name, want.key, Verdict::pass,
                               want.key + " = " + want.value + " (" + want.reason + ")"));
            continue;
        }
        std::string why = want.reason;
        if (forwarding)
            why =
                "the director does not forward packets, so no request reaches a real server "
                "and no reply is masqueraded back";
        else if (redirects)
            why =
                "the director sends ICMP redirects: clients on the real servers' segment are "
                "redirected around the director, so their replies skip the NAT and break";
        out.push_back(make(name, want.key, bad,
                           want.key + " = " + *have + ", must be " + want.value + ": " + why, fix));
    }
}

void rp_filter_checks(const model::DirectorConfig& config, const kernel::SysctlAccess& access,
                      std::vector<Check>& out) {
    auto strict = sysctl::strict_rp_filter(access, config.director.interfaces);
    for (const auto& i : config.director.interfaces) {
        auto f = std::find_if(strict.begin(), strict.end(),
                              [&](const auto& s) { return s.interface == i; });
        const std::string key = "net.ipv4.conf." + sysctl::interface_key_part(i) + ".rp_filter";
        if (f == strict.end()) {
            auto v = access.read(key);
            out.push_back(make("rp_filter", i, Verdict::pass,
                               v ? "rp_filter not strict on " + i + " (" + key + " = " + *v + ")"
                                 : "rp_filter not strict on " + i));
            continue;
        }
        std::string fix = "sysctl -w " + key + "=2";
        if (f->all == 1) fix = "sysctl -w net.ipv4.conf.all.rp_filter=2 " + key + "=2";
        out.push_back(make("rp_filter", i, Verdict::warn, f->message, fix));
    }
}

bool in_ranges(const std::vector<kernel::AddressRange>& ranges, const model::IpAddress& a) {
    return std::any_of(ranges.begin(), ranges.end(), [&](const auto& r) {
        return r.first.family == a.family && r.first <= a && a <= r.last;
    });
}

void nft_checks(const model::DirectorConfig& config, const DirectorFacts& facts,
                std::vector<Check>& out) {
    const std::string table = "inet ballast";
    if (!facts.nft_table) {
        out.push_back(make("nft-table", table, Verdict::fail,
                           "cannot read nftables: " + facts.nft_table.error().describe(),
                           "modprobe nf_tables"));
        return;
    }
    const auto& observed = *facts.nft_table;
    if (!observed) {
        out.push_back(make("nft-table", table, Verdict::fail,
                           "table inet ballast does not exist: replies and traffic from the real "
                           "servers are not masqueraded (ballastd creates it when it starts)",
                           kRestartDaemon));
        return;
    }
    out.push_back(make("nft-table", table, Verdict::pass, "table inet ballast exists"));

    auto desired = nft::build_table(policy::desired_nat(config));
    if (!desired) {
        out.push_back(
            make("masquerade", table, Verdict::warn,
                 "cannot build the expected table from the config: " + desired.error().describe()));
        return;
    }
    // The masquerade chain: same hook and rules as the daemon builds.
    const nft::ChainModel* want = desired->find_chain(nft::kChainPostrouting);
    const nft::ChainModel* have = observed->find_chain(nft::kChainPostrouting);
    const std::string chain_subject = table + " chain " + nft::kChainPostrouting;
    if (want) {
        if (!have) {
            out.push_back(make("masquerade", chain_subject, Verdict::fail,
                               "the masquerade chain postrouting is missing", kRestartDaemon));
        } else if (!have->same_shape(*want) || have->rules.size() != want->rules.size() ||
                   !std::equal(have->rules.begin(), have->rules.end(), want->rules.begin(),
                               [](const auto& a, const auto& b) { return a.same_as(b); })) {
            out.push_back(make("masquerade", chain_subject, Verdict::fail,
                               "chain postrouting differs from what ballastd builds (" +
                                   std::to_string(have->rules.size()) + " rules, expected " +
                                   std::to_string(want->rules.size()) + ")",
                               kRestartDaemon));
        } else {
            out.push_back(make("masquerade", chain_subject, Verdict::pass,
                               "chain postrouting masquerades traffic from the real-server set (" +
                                   std::to_string(have->rules.size()) + " rules)"));
        }
    }
    // Every configured real server is in the set the chain matches.
    auto ranges = nft::to_observed(*observed).real_server_ranges;
    std::vector<std::string> missing;
    size_t total = 0;
    std::set<model::IpAddress> seen;
    for (const auto& s : config.services)
        for (const auto& a : nat_sources(s)) {
            if (!seen.insert(a).second) continue;
            ++total;
            if (!in_ranges(ranges, a)) missing.push_back(a.to_string());
        }
    const std::string set_subject = table + " sets rs4/rs6";
    if (!missing.empty())
        out.push_back(make("masquerade-set", set_subject, Verdict::fail,
                           "real servers not in the masquerade set (their traffic leaves "
                           "un-NATed): " +
                               join(missing),
                           kRestartDaemon));
    else
        out.push_back(make("masquerade-set", set_subject, Verdict::pass,
                           "all " + std::to_string(total) + " real servers are masqueraded"));
    // Anything else that differs (egress interfaces, mark groups, set shapes).
    auto ops = nft::plan(observed, *desired);
    if (!ops.empty() && missing.empty())
        out.push_back(make("nft-table", table, Verdict::warn,
                           "table inet ballast differs from the config in " +
                               std::to_string(ops.size()) +
                               " place(s), first: " + nft::describe(ops.front()),
                           kRestartDaemon));
}

void ipvs_checks(const model::DirectorConfig& config, const DirectorFacts& facts,
                 std::vector<Check>& out) {
    if (!facts.ipvs) {
        const std::string why = facts.ipvs.error().describe();
        out.push_back(
            make("ipvs", "IPVS", Verdict::fail, why,
                 why.find("load ip_vs") != std::string::npos ? "modprobe ip_vs" : std::string{}));
        return;
    }
    const auto& services = facts.ipvs->table.services;
    for (const auto& s : config.services) {
        const std::string subject = s.name + " " + s.key.to_string();
        auto it = services.find(s.key);
        if (it == services.end()) {
            out.push_back(make("ipvs", subject, Verdict::fail,
                               "virtual service " + s.key.to_string() +
                                   " is not in the kernel's IPVS table (is ballastd running?)",
                               kRestartDaemon));
            continue;
        }
        std::vector<std::string> missing;
        for (const auto& r : s.reals)
            if (!it->second.reals.contains(r.key)) missing.push_back(r.key.to_string());
        if (missing.empty()) {
            out.push_back(make(
                "ipvs", subject, Verdict::pass,
                "service present with all " + std::to_string(s.reals.size()) + " real servers"));
        } else if (s.on_failure == model::OnFailure::remove) {
            // Removing failed real servers is this service's policy: say so, not fail.
            out.push_back(make("ipvs", subject, Verdict::warn,
                               "real servers not in IPVS (on_failure = remove: their health "
                               "check fails?): " +
                                   join(missing),
                               "ballastctl doctor's reachability checks below; journalctl -u "
                               "ballastd"));
        } else {
            out.push_back(make("ipvs", subject, Verdict::fail,
                               "real servers missing from the IPVS service: " + join(missing),
                               kRestartDaemon));
        }
    }
}

void reachability_checks(const model::DirectorConfig& config, const DirectorFacts& facts,
                         std::vector<Check>& out) {
    for (const auto& key : reachability_probes(config)) {
        const std::string subject = key.to_string();
        auto it = facts.probes.find(key);
        if (it == facts.probes.end()) {
            out.push_back(make("reachability", subject, Verdict::warn, "probe was not run"));
        } else if (it->second.up) {
            out.push_back(make("reachability", subject, Verdict::pass,
                               "real server answers: " + it->second.reason));
        } else {
            const std::string ip = key.target.addr.to_string();
            out.push_back(make("reachability", subject, Verdict::fail,
                               "real server does not answer: " + it->second.reason,
                               "start the service on " + key.target.to_string() +
                                   " and check the path from the director: ip route get " + ip));
        }
    }
}

}  // namespace

std::vector<health::CheckKey> reachability_probes(const model::DirectorConfig& config) {
    std::set<health::CheckKey> keys;
    for (const auto& s : config.services) {
        std::optional<model::CheckSpec> spec;
        if (s.check) {
            switch (s.check->type) {
                case model::CheckType::tcp:
                case model::CheckType::http:
                case model::CheckType::https:
                case model::CheckType::udp:
                case model::CheckType::dns:
                    spec = *s.check;
                    break;
                default:
                    break;
            }
        }
        if (!spec && !s.key.is_fwmark() && s.key.protocol == model::Protocol::tcp) {
            spec = model::CheckSpec{};
            spec->type = model::CheckType::tcp;
        }
        if (!spec) continue;
        spec->timeout = std::min(spec->timeout, kProbeTimeoutCap);
        for (const auto& r : s.reals) {
            if (r.key.port == 0 && !spec->port) continue;  // nothing to connect to
            keys.insert(health::make_check_key(r.key.addr, r.key.port, *spec));
        }
    }
    return {keys.begin(), keys.end()};
}

agent::Report evaluate(const model::DirectorConfig& config, const kernel::SysctlAccess& sysctl,
                       const DirectorFacts& facts) {
    agent::Report report;
    auto& out = report.checks;
    sysctl_checks(config, sysctl, out);
    rp_filter_checks(config, sysctl, out);
    for (const auto& [name, state] : facts.bonds) out.push_back(agent::bond_check(name, state));
    nft_checks(config, facts, out);
    ipvs_checks(config, facts, out);
    reachability_checks(config, facts, out);
    return report;
}

std::string render_json(const agent::Report& r, const std::string& config_file) {
    boost::json::array checks;
    for (const auto& c : r.checks) {
        boost::json::object o;
        o["check"] = c.name;
        o["subject"] = c.subject;
        o["verdict"] = agent::to_string(c.verdict);
        o["reason"] = c.reason;
        if (!c.fix.empty()) o["fix"] = c.fix;
        checks.push_back(std::move(o));
    }
    boost::json::object root;
    root["verdict"] = agent::to_string(r.overall());
    root["config"] = config_file;
    root["checks"] = std::move(checks);
    return boost::json::serialize(root) + "\n";
}

int exit_code(const agent::Report& report) {
    return report.overall() == Verdict::fail ? kExitChecksFail : kExitOk;
}

}  // namespace ballast::doctor
