// ballast-agent: checks on a real server that LVS-NAT replies return via the director.
#include <fmt/core.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <cstdio>
#include <filesystem>
#include <functional>

#include "ballast/agent/agent.hpp"
#include "ballast/agent/config.hpp"
#include "ballast/agent/netlink.hpp"
#include "ballast/agent/render.hpp"
#include "ballast/agent/repair.hpp"
#include "ballast/agent/state_file.hpp"
#include "ballast/version.hpp"

using namespace ballast::agent;

namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitChecksFail = 2;

struct Opened {
    std::unique_ptr<RouteQuery> routes;
    std::unique_ptr<HostInfo> host;
};

Opened open_kernel() {
    auto q = open_route_query();
    if (!q) throw std::runtime_error("rtnetlink: " + q.error().describe());
    return Opened{std::move(*q), system_host_info()};
}

// The record for this boot: a record made in an earlier boot describes routes, rules and
// sysctls that the reboot already took away, so it is set aside (said so, never undone).
ballast::Result<RepairRecord> record_for_this_boot(const std::string& path, bool& earlier_boot) {
    earlier_boot = false;
    auto record = read_record(path);
    if (!record) return record.error();
    auto boot = current_boot_id();
    if (!boot) return boot.error();
    RepairRecord r;
    if (*record) {
        r = std::move(**record);
        if (!r.boot_id.empty() && r.boot_id != *boot) {
            earlier_boot = true;
            r = RepairRecord{};
        }
    }
    r.boot_id = *boot;
    return r;
}

// Installs what is missing. The record gets the intent before anything changes and the
// result after, so --undo finds every change even after a crash in between. A record that
// cannot be read stops repair before any change (the write would drop what it holds).
int do_repair(const AgentSettings& s, bool dry_run) {
    const std::string& path = s.repair.state_file;
    bool earlier_boot = false;
    auto record = record_for_this_boot(path, earlier_boot);
    if (!record) {
        fmt::print(stderr, "ballast-agent: repair record {}: {}; not repairing\n", path,
                   record.error().describe());
        return kExitError;
    }
    if (earlier_boot)
        fmt::print(stderr, "ballast-agent: {} is from an earlier boot; its changes are gone\n",
                   path);
    auto k = open_kernel();
    auto in = gather_repair_input(s, *k.routes, *k.host);
    if (!in) throw std::runtime_error(in.error().describe());
    RepairPlan plan = plan_repair(s, *in);
    for (const auto& p : plan.problems) fmt::print(stderr, "ballast-agent: {}\n", p);
    if (plan.ops.empty()) fmt::print("repair: nothing to do\n");
    for (const auto& op : plan.ops)
        fmt::print("{}{}\n", dry_run ? "would run: " : "run: ", op.command());
    if (dry_run || plan.ops.empty()) return plan.problems.empty() ? kExitOk : kExitError;
    auto exec = open_repair_executor();
    if (!exec) throw std::runtime_error(exec.error().describe());
    record->pending = plan.ops;
    if (auto w = write_record(path, *record); !w) {
        fmt::print(stderr, "ballast-agent: cannot record the repair in {}: {}; nothing changed\n",
                   path, w.error().describe());
        return kExitError;
    }
    std::vector<RepairOp> applied;
    ballast::Status st = (*exec)->apply(plan.ops, applied);
    record->applied.insert(record->applied.end(), applied.begin(), applied.end());
    record->pending.clear();
    if (auto w = write_record(path, *record); !w) {
        // The intent is on disk: --undo still finds these changes.
        fmt::print(stderr, "ballast-agent: cannot record the result in {}: {}\n", path,
                   w.error().describe());
        return kExitError;
    }
    if (!st) {
        fmt::print(stderr, "ballast-agent: repair failed: {}\n", st.error().describe());
        return kExitError;
    }
    fmt::print("repair: {} change(s) recorded in {}\n", applied.size(), path);
    return plan.problems.empty() ? kExitOk : kExitError;
}

// Removes exactly what the record holds (applied and pending, what is still there), then
// the record.
int do_undo(const AgentSettings& s, bool dry_run) {
    const std::string& path = s.repair.state_file;
    bool earlier_boot = false;
    auto record = record_for_this_boot(path, earlier_boot);
    if (!record) {
        fmt::print(stderr, "ballast-agent: repair record {}: {}\n", path,
                   record.error().describe());
        return kExitError;
    }
    if (earlier_boot) {
        fmt::print("undo: {} is from an earlier boot: nothing it recorded is left\n", path);
        if (!dry_run) std::filesystem::remove(path);
        return kExitOk;
    }
    if (record->changes().empty()) {
        fmt::print("undo: no repair recorded in {}\n", path);
        return kExitOk;
    }
    auto k = open_kernel();
    auto in = gather_repair_input(s, *k.routes, *k.host);
    if (!in) throw std::runtime_error(in.error().describe());
    auto ops = plan_undo(record->changes(), *in);
    for (const auto& op : ops)
        fmt::print("{}{}\n", dry_run ? "would run: " : "run: ", op.command(true));
    if (dry_run) return kExitOk;
    auto exec = open_repair_executor();
    if (!exec) throw std::runtime_error(exec.error().describe());
    if (auto st = (*exec)->revert(ops); !st) {
        fmt::print(stderr, "ballast-agent: undo failed: {}\n", st.error().describe());
        return kExitError;
    }
    std::filesystem::remove(path);
    fmt::print("undo: {} change(s) reverted\n", ops.size());
    return kExitOk;
}

int do_doctor(AgentSettings s, const std::vector<std::string>& clients, bool json) {
    if (!clients.empty()) {
        s.probe_clients.clear();
        for (const auto& c : clients) {
            auto a = ballast::model::IpAddress::parse(c);
            if (!a) throw std::runtime_error("--client: '" + c + "' is not an IP address");
            s.probe_clients.push_back(*a);
        }
    }
    auto k = open_kernel();
    Report r = evaluate(s, *k.routes, *k.host);
    bool drain = !s.drain_file.empty() && std::filesystem::exists(s.drain_file);
    if (json)
        fmt::print("{}", render_json(r, agent_reply(r, drain, std::nullopt)));
    else
        fmt::print("ballast-agent doctor: LVS-NAT checklist of this real server\n\n{}",
                   render_text(r));
    return r.overall() == Verdict::fail ? kExitChecksFail : kExitOk;
}

// Serves until SIGINT/SIGTERM. SIGHUP re-reads the config: a bad one is reported and the
// running one kept; listen addresses need a restart (said so).
int do_serve(const AgentSettings& s, const std::string& config) {
    boost::asio::io_context io;
    auto k = open_kernel();
    Agent agent(io, s, std::move(k.routes), std::move(k.host));
    if (auto st = agent.start(); !st) throw std::runtime_error(st.error().describe());
    boost::asio::signal_set stop(io, SIGINT, SIGTERM);
    stop.async_wait([&](boost::system::error_code, int) {
        agent.stop();
        io.stop();
    });
    boost::asio::signal_set hup(io, SIGHUP);
    std::function<void()> wait_hup = [&] {
        hup.async_wait([&](boost::system::error_code ec, int) {
            if (ec) return;
            try {
                std::string note = agent.reload(load_agent_config(config));
                fmt::print("ballast-agent: reloaded {}{}; now: {}\n", config,
                           note.empty() ? "" : " (" + note + ")", agent.reply());
            } catch (const ConfigError& e) {
                for (const auto& line : e.errors) fmt::print(stderr, "{}\n", line);
                fmt::print(stderr, "ballast-agent: reload failed; keeping the running config\n");
            }
            std::fflush(stdout);
            wait_hup();
        });
    };
    wait_hup();
    fmt::print(
        "ballast-agent: agent-check on {}{}; now: {}\n", agent.agent_endpoint().to_string(),
        agent.status_endpoint() ? ", status on http://" + agent.status_endpoint()->to_string() : "",
        agent.reply());
    std::fflush(stdout);
    io.run();
    return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "ballast-agent - real-server agent: return-route checks, repair, agent-check "
        "responder"};
    app.set_version_flag("--version", std::string("ballast-agent ") + ballast::kVersion);
    std::string config = "/etc/ballast/agent.toml";
    bool repair = false, undo = false, dry_run = false, no_serve = false, no_repair = false;
    app.add_option("-c,--config", config, "agent config file (TOML)")->capture_default_str();
    app.add_flag("--repair", repair,
                 "install the missing policy routing (and loose rp_filter if configured)");
    app.add_flag("--undo", undo, "remove exactly what an earlier --repair recorded, then exit");
    app.add_flag("--dry-run", dry_run,
                 "with --repair/--undo: print the plan, change nothing, exit");
    app.add_flag("--no-serve", no_serve,
                 "repair (with --repair or [repair] enabled) and exit instead of serving");
    app.add_flag("--no-repair", no_repair,
                 "serve only, never repair (the unit repairs in a privileged step of its own)");
    auto* doctor = app.add_subcommand("doctor", "print the LVS-NAT checklist of this host");
    std::vector<std::string> clients;
    bool json = false;
    doctor->add_option("--client", clients,
                       "client address to probe the return route for (repeatable)");
    doctor->add_flag("--json", json, "JSON instead of text");
    doctor->add_option("-c,--config", config, "agent config file (TOML)");  // after `doctor` too
    CLI11_PARSE(app, argc, argv);

    try {
        AgentSettings s = load_agent_config(config);
        if (*doctor) return do_doctor(s, clients, json);
        if (undo) return do_undo(s, dry_run);
        if (repair && no_repair) {
            fmt::print(stderr, "ballast-agent: --repair and --no-repair contradict\n");
            return kExitError;
        }
        if (repair || (s.repair.enabled && !no_repair)) {
            int rc = do_repair(s, dry_run);
            if (dry_run || no_serve) return rc;
            if (rc != kExitOk)
                fmt::print(stderr,
                           "ballast-agent: serving anyway; the checks will say what is wrong\n");
        } else if (dry_run) {
            fmt::print(stderr, "ballast-agent: --dry-run needs --repair or --undo\n");
            return kExitError;
        } else if (no_serve) {
            fmt::print("repair: not run ([repair] enabled = false, or --no-repair)\n");
            return kExitOk;
        }
        return do_serve(s, config);
    } catch (const ConfigError& e) {
        for (const auto& line : e.errors) fmt::print(stderr, "{}\n", line);
        return kExitError;
    } catch (const std::exception& e) {
        fmt::print(stderr, "ballast-agent: {}\n", e.what());
        return kExitError;
    }
}
