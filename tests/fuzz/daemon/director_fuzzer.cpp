// The daemon's decision core under random sequences of verdicts, reloads, drift, overrides,
// failed writes, connection counts and time, on the recording fakes. After every step:
//   - a service ballast does not own is never written to;
//   - every service in the kernel that is not foreign is in the ownership record;
// and after every resync that wrote without failures, the kernel holds exactly what the
// director believes it programmed (for every service it owns or configures).
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "ballast/config/config.hpp"
#include "ballast/daemon/director.hpp"
#include "ballast/fakes/fake_ipvs.hpp"
#include "ballast/fakes/fake_nft.hpp"
#include "ballast/fakes/fake_sysctl.hpp"
#include "ballast/health/check_plan.hpp"

using namespace ballast;

namespace {

// Three configs over the same addresses: reloads add, remove and change services and reals.
const char* const kConfigs[] = {
    R"(
[[service]]
name = "web"
vip = "192.0.2.1"
port = 80
scheduler = "wrr"
check = { type = "tcp", slow_start = "4s" }
[[service.real]]
address = "10.0.0.1:80"
weight = 3
[[service.real]]
address = "10.0.0.2:80"
weight = 2
agent_port = 5555
[[service]]
name = "dns"
vip = "192.0.2.1"
port = 53
protocol = "udp"
on_failure = "remove"
check = { type = "udp", send = "x" }
[[service.real]]
address = "10.0.0.1:53"
[[service.real]]
address = "10.0.0.3:53"
)",
    R"(
[[service]]
name = "web"
vip = "192.0.2.1"
port = 80
scheduler = "rr"
on_failure = "remove"
sorry_server = "10.0.0.9:80"
check = { type = "tcp" }
[[service.real]]
address = "10.0.0.1:80"
weight = 5
[[service.real]]
address = "10.0.0.3:80"
)",
    R"(
[[service]]
name = "api"
vip = "192.0.2.2"
port = 443
panic_threshold = 60
check = { type = "tcp", interval = "3s" }
[[service.real]]
address = "10.0.0.2:443"
[[service.real]]
address = "10.0.0.3:443"
[[service]]
name = "web"
vip = "192.0.2.1"
port = 80
check = { type = "tcp" }
[[service.real]]
address = "10.0.0.1:80"
)",
};

model::DirectorConfig config_variant(size_t i) {
    auto r = config::load_string(kConfigs[i % 3], "fuzz.toml");
    if (!r.ok()) throw std::logic_error(config::format(r.diagnostics.front()));
    return *r.config;
}

struct Store : daemon::StateStore {
    std::set<model::ServiceKey> owned;
    policy::Overrides overrides;
    Result<std::set<model::ServiceKey>> load_ownership() override { return owned; }
    Status save_ownership(const std::set<model::ServiceKey>& s) override {
        owned = s;
        return {};
    }
    Result<policy::Overrides> load_overrides() override { return overrides; }
    Status save_overrides(const policy::Overrides& o) override {
        overrides = o;
        return {};
    }
};

const model::ServiceKey kForeign =
    model::ServiceKey::inet(model::Protocol::tcp, model::IpAddress::v4(0xc6336407), 25);

void check(bool ok, const char* what) {
    if (!ok) throw std::logic_error(what);  // libFuzzer reports the uncaught exception
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fakes::FakeIpvs ipvs;
    model::IpvsTable initial;
    initial.services[kForeign] = model::IpvsService{kForeign, {}, {}};
    ipvs.load(initial);
    fakes::FakeNftClient nft;
    fakes::FakeSysctl sysctl({{"net.ipv4.ip_forward", "0"}});
    Store store;
    daemon::SteadyTime t{std::chrono::hours(1)};
    auto now = [&] { return daemon::Now{t, daemon::WallTime(t.time_since_epoch())}; };
    auto director = std::make_unique<daemon::Director>(config_variant(0),
                                                       daemon::Ports{ipvs, nft, sysctl}, store);
    (void)director->start(ipvs.dump(), now());

    size_t i = 0;
    auto next = [&]() -> uint8_t { return i < size ? data[i++] : 0; };
    while (i < size) {
        const uint8_t op = next(), arg = next();
        const auto& checks = director->checks().checks;
        switch (op % 10) {
            case 0:
            case 1:
            case 2: {  // a verdict for one of the planned checks
                if (checks.empty()) break;
                auto it = checks.begin();
                std::advance(it, arg % checks.size());
                health::HealthEvent ev{
                    it->first,   (arg & 0x80) ? health::State::up : health::State::down,
                    true,        "fuzz",
                    t,           std::nullopt,
                    std::nullopt};
                if (arg & 0x40) ev.recovered_at = t;
                if (it->first.spec->type == model::CheckType::agent && (arg & 0x20)) {
                    health::AgentReply reply;
                    reply.admin = health::AgentAdmin::drain;
                    ev.agent = reply;
                }
                director->on_health_event(ev, now());
                break;
            }
            case 3:
                director->reload(config_variant(arg), now());
                break;
            case 4: {  // drift: someone else changes an owned service
                auto table = ipvs.table();
                if (table.services.size() < 2) break;
                auto it = table.services.begin();
                std::advance(it, arg % table.services.size());
                if (it->first == kForeign) break;
                if ((arg & 3) == 0)
                    table.services.erase(it);
                else if (!it->second.reals.empty() && (arg & 3) == 1)
                    it->second.reals.erase(it->second.reals.begin());
                else if (!it->second.reals.empty())
                    it->second.reals.begin()->second.weight = arg;
                ipvs.load(table);
                break;
            }
            case 5: {  // a resync; writes may fail
                if (arg & 1) ipvs.fail_nth(1 + arg % 4, ENOMEM);
                director->begin_resync();
                auto snap = ipvs.dump();
                const auto failures = director->reconcile_status().op_failures;
                director->finish_resync(snap, now());
                ipvs.clear_failures();
                if (director->reconcile_status().op_failures == failures) {
                    // What the director believes is what the kernel holds.
                    for (const auto& [key, svc] : director->programmed().services) {
                        if (key == kForeign) continue;
                        auto it = ipvs.table().services.find(key);
                        check(it != ipvs.table().services.end(),
                              "a programmed service is missing from the kernel");
                        check(it->second.reals == svc.reals,
                              "the kernel's reals differ from the programmed ones");
                    }
                }
                break;
            }
            case 6:  // time passes (slow start, drain timeouts, retries)
                t += std::chrono::milliseconds(100 * (arg + 1));
                director->tick(now());
                break;
            case 7: {  // an override
                const auto& services = director->config().services;
                if (services.empty() || services[0].reals.empty()) break;
                const auto& svc = services[arg % services.size()];
                if (svc.reals.empty()) break;
                policy::OverrideKey key{(arg & 0x10) ? std::optional(svc.key) : std::nullopt,
                                        svc.reals[arg % svc.reals.size()].key};
                if (arg & 0x20)
                    (void)director->clear_override(key, now());
                else
                    (void)director->set_override(
                        key,
                        policy::Override{(arg & 0x40) ? policy::Override::Kind::weight
                                                      : policy::Override::Kind::drain,
                                         static_cast<model::Weight>(arg),
                                         "fuzz",
                                         {}},
                        now());
                break;
            }
            case 8: {  // connections come and go on some real
                for (const auto& [key, svc] : ipvs.table().services)
                    for (const auto& [real, spec] : svc.reals)
                        if ((real.addr.bytes[3] ^ arg) & 1)
                            ipvs.set_dest_counters(key, real, {arg & 3u, 0, 0, {}});
                break;
            }
            case 9:  // a restart: a new director over the same kernel and store
                director = std::make_unique<daemon::Director>(
                    config_variant(arg), daemon::Ports{ipvs, nft, sysctl}, store);
                (void)director->start(ipvs.dump(), now());
                break;
        }
        (void)director->take_events();
        for (const auto& rec : ipvs.records())
            check(rec.op.service != kForeign, "a foreign service was written to");
        for (const auto& [key, svc] : ipvs.table().services)
            check(key == kForeign || store.owned.count(key),
                  "a service in the kernel is missing from the ownership record");
    }
    return 0;
}
