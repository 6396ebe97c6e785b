// Every keyword the importer converts, and every refusal with its file:line.
// Each output is loaded with ballast's own validator (import_testing.hpp).
#include <gtest/gtest.h>

#include "import_testing.hpp"

namespace ballast::import {
namespace {

using namespace testing;
using model::CheckType;
using model::ForwardMethod;
using model::Millis;

// A TCP NAT virtual server with one real server; the extras go into the blocks.
std::string tcp_vs(const std::string& vs_extra, const std::string& rs_extra = "",
                   const std::string& head = "virtual_server 192.0.2.1 80") {
    return head + " {\n  protocol TCP\n  lb_kind NAT\n" + vs_extra +
           "\n  real_server 10.0.0.11 8080 {\n" + rs_extra + "\n  }\n}\n";
}

const model::ServiceConfig& only_service(const Imported& i) {
    static const model::ServiceConfig none;
    if (!i.config || i.config->services.size() != 1) {
        ADD_FAILURE() << "expected one service\n" << i.result.toml << all_listed(i.result);
        return none;
    }
    return i.config->services.front();
}

// ---------------------------------------------------------------- identity

TEST(ImportVirtualServer, AddressPortAndProtocol) {
    for (auto [kw, proto] : {std::pair{"TCP", model::Protocol::tcp},
                             {"udp", model::Protocol::udp},
                             {"SCTP", model::Protocol::sctp}}) {
        auto i = run("virtual_server 192.0.2.1 53 {\n protocol " + std::string(kw) +
                     "\n real_server 10.0.0.1 53 {\n }\n}\n");
        const auto& s = only_service(i);
        EXPECT_EQ(s.key, model::ServiceKey::inet(proto, *model::IpAddress::parse("192.0.2.1"), 53));
        EXPECT_EQ(s.name, "" + std::string(model::to_string(proto)) + "-192.0.2.1-53");
        EXPECT_EQ(i.result.exit_code(), 0) << all_listed(i.result);
    }
}

TEST(ImportVirtualServer, MissingProtocolIsUdpAsInKeepalived227WithAComment) {
    auto i = run("virtual_server 192.0.2.1 53 {\n real_server 10.0.0.1 53 {\n }\n}\n");
    EXPECT_EQ(only_service(i).key.protocol, model::Protocol::udp);
    EXPECT_NE(i.result.toml.find("uses UDP when 'protocol' is missing"), std::string::npos);
}

TEST(ImportVirtualServer, IPv6) {
    auto i =
        run("virtual_server 2001:db8::10 443 {\n protocol TCP\n persistence_timeout 60\n"
            " persistence_granularity 64\n real_server 2001:db8:1::11 8443 {\n }\n}\n");
    const auto& s = only_service(i);
    EXPECT_EQ(s.key.addr, *model::IpAddress::parse("2001:db8::10"));
    EXPECT_EQ(s.name, "tcp-2001_db8__10-443");
    EXPECT_EQ(s.spec.netmask, 64u);
    EXPECT_EQ(s.reals.at(0).key, real_key("[2001:db8:1::11]:8443"));
}

TEST(ImportVirtualServer, FwmarkWithFamilyFromIpFamilyOrRealServers) {
    auto i =
        run("virtual_server fwmark 7 {\n persistence_timeout 900\n lb_kind DR\n"
            " real_server 10.0.0.1 {\n  TCP_CHECK {\n   connect_port 80\n  }\n }\n}\n"
            "virtual_server fwmark 8 {\n ip_family inet6\n"
            " real_server 2001:db8::1 80 {\n }\n}\n");
    ASSERT_TRUE(i.config);
    auto* s7 = service(i, "fwmark-7");
    ASSERT_TRUE(s7) << i.result.toml;
    EXPECT_EQ(s7->key, model::ServiceKey::mark(7, AF_INET));
    EXPECT_EQ(s7->spec.persistence, 900u);
    EXPECT_EQ(s7->reals.at(0).key, real_key("10.0.0.1"));  // no port: the packet's
    EXPECT_EQ(s7->reals.at(0).spec.forward, ForwardMethod::route);
    EXPECT_EQ(s7->check->port, 80);
    auto* s8 = service(i, "fwmark-8-ipv6");
    ASSERT_TRUE(s8);
    EXPECT_EQ(s8->key, model::ServiceKey::mark(8, AF_INET6));
}

TEST(ImportVirtualServer, PortZeroBecomesAOneMemberGroupWithPersistence) {
    auto i =
        run("virtual_server 192.0.2.1 0 {\n protocol TCP\n"
            " real_server 10.0.0.1 {\n }\n}\n");
    const auto& s = only_service(i);
    ASSERT_EQ(s.group.size(), 1u);
    EXPECT_EQ(s.group[0], (model::GroupMatch{6, 0, 0}));
    EXPECT_EQ(s.spec.persistence, 360u);
    EXPECT_EQ(s.name, "tcp-192.0.2.1-all");
}

TEST(ImportVirtualServer, InvalidAddressIsListedAtItsLine) {
    std::string text = "virtual_server 192.0.2.300 80 {\n real_server 10.0.0.1 80 {\n }\n}\n";
    auto i = run(text);
    EXPECT_TRUE(i.config->services.empty());
    EXPECT_TRUE(listed(i.result, 1, "virtual_server")) << all_listed(i.result);
    EXPECT_EQ(i.result.exit_code(), 2);
}

TEST(ImportVirtualServer, WithoutRealServersIsListed) {
    auto i = run("virtual_server 192.0.2.1 80 {\n protocol TCP\n}\n");
    EXPECT_TRUE(i.config->services.empty());
    auto* n = listed(i.result, 1, "virtual_server");
    ASSERT_TRUE(n);
    EXPECT_NE(n->why.find("no real_server"), std::string::npos);
}

TEST(ImportVirtualServer, TheSameServiceTwiceIsListed) {
    std::string text = tcp_vs("") + tcp_vs("");
    auto i = run(text);
    EXPECT_EQ(i.config->services.size(), 1u);
    EXPECT_TRUE(listed(i.result, line_of(text, "virtual_server", 1), "virtual_server"));
}

// ---------------------------------------------------------------- scheduler and flags

TEST(ImportScheduler, EveryKeepalivedSchedulerMaps) {
    for (const char* sched : {"rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf",
                              "lblcr", "sed", "nq", "twos"}) {
        auto i = run(tcp_vs(std::string("  lb_algo ") + sched));
        EXPECT_EQ(only_service(i).spec.scheduler, sched);
        EXPECT_EQ(i.result.exit_code(), 0) << sched;
    }
    auto alias = run(tcp_vs("  lvs_sched sed"));
    EXPECT_EQ(only_service(alias).spec.scheduler, "sed");
    auto none = run(tcp_vs(""));
    EXPECT_EQ(only_service(none).spec.scheduler, "wlc");
}

TEST(ImportScheduler, UnknownSchedulerIsListed) {
    std::string text = tcp_vs("  lb_algo roundrobin");
    auto i = run(text);
    EXPECT_EQ(only_service(i).spec.scheduler, "wlc");
    EXPECT_TRUE(listed(i.result, line_of(text, "lb_algo"), "lb_algo"));
}

TEST(ImportScheduler, ShAndMhFlags) {
    auto sh = run(tcp_vs("  lb_algo sh\n  sh-port\n  sh-fallback"));
    EXPECT_TRUE(only_service(sh).spec.flags.sched_flag1);
    EXPECT_TRUE(only_service(sh).spec.flags.sched_flag2);
    auto mh = run(tcp_vs("  lb_algo mh\n  flag-1\n  flag-2"));
    EXPECT_TRUE(only_service(mh).spec.flags.sched_flag1);
    EXPECT_TRUE(only_service(mh).spec.flags.sched_flag2);
    EXPECT_EQ(mh.result.exit_code(), 0);

    std::string text =
        tcp_vs("  lb_algo rr\n  sh-port\n  mh-fallback\n  flag-1\n  flag-3\n  hashed");
    auto bad = run(text);
    EXPECT_FALSE(only_service(bad).spec.flags.sched_flag1);
    for (auto kw : {"sh-port", "mh-fallback", "flag-1", "flag-3", "hashed"})
        EXPECT_TRUE(listed(bad.result, line_of(text, std::string("  ") + kw), kw)) << kw;
}

TEST(ImportScheduler, OpsOnUdpOnly) {
    auto udp =
        run("virtual_server 192.0.2.1 53 {\n protocol UDP\n ops\n"
            " real_server 10.0.0.1 53 {\n }\n}\n");
    EXPECT_TRUE(only_service(udp).spec.flags.one_packet);
    std::string text = tcp_vs("  ops");
    auto tcp = run(text);
    EXPECT_FALSE(only_service(tcp).spec.flags.one_packet);
    EXPECT_TRUE(listed(tcp.result, line_of(text, "ops"), "ops"));
    std::string fw = "virtual_server fwmark 3 {\n ops\n real_server 10.0.0.1 {\n }\n}\n";
    EXPECT_TRUE(listed(run(fw).result, 2, "ops"));
}

// ---------------------------------------------------------------- forwarding

TEST(ImportForwarding, LbKindAndLvsMethod) {
    auto dr = run(tcp_vs("  lb_kind DR", "", "virtual_server 192.0.2.1 8080"));
    EXPECT_EQ(only_service(dr).reals.at(0).spec.forward, ForwardMethod::route);
    auto tun = run(tcp_vs("  lvs_method TUN", "", "virtual_server 192.0.2.1 8080"));
    EXPECT_EQ(only_service(tun).reals.at(0).spec.forward, ForwardMethod::tunnel);
    auto per_real = run(tcp_vs("  lb_kind DR", "    lvs_method NAT"));
    EXPECT_EQ(only_service(per_real).reals.at(0).spec.forward, ForwardMethod::masquerade);
    EXPECT_EQ(only_service(per_real).reals.at(0).key, real_key("10.0.0.11:8080"));
}

TEST(ImportForwarding, DirectRoutingKeepsTheServicePortWithAComment) {
    // keepalived resets a DR real server's port to the service's.
    auto i = run(tcp_vs("  lb_kind DR"));
    EXPECT_EQ(only_service(i).reals.at(0).key, real_key("10.0.0.11:80"));
    EXPECT_NE(i.result.toml.find("keepalived ignores port 8080 with DR"), std::string::npos);
}

TEST(ImportForwarding, MissingLbKindIsNatWithAComment) {
    auto i =
        run("virtual_server 192.0.2.1 80 {\n protocol TCP\n real_server 10.0.0.1 80 {\n }\n}\n");
    EXPECT_EQ(only_service(i).reals.at(0).spec.forward, ForwardMethod::masquerade);
    EXPECT_NE(i.result.toml.find("no lb_kind"), std::string::npos);
}

TEST(ImportForwarding, TunnelOptionsAndUnknownMethodsAreListed) {
    std::string text = tcp_vs("  lb_kind TUN type gue port 6080", "    lvs_method FNAT",
                              "virtual_server 192.0.2.1 8080");
    auto i = run(text);
    EXPECT_TRUE(listed(i.result, line_of(text, "lb_kind TUN"), "lb_kind"));
    EXPECT_TRUE(listed(i.result, line_of(text, "FNAT"), "lvs_method"));
    EXPECT_EQ(only_service(i).reals.at(0).spec.forward, ForwardMethod::tunnel);
}

// ---------------------------------------------------------------- persistence

TEST(ImportPersistence, TimeoutGranularityAndEngine) {
    auto plain = run(tcp_vs("  persistence_timeout 50"));
    EXPECT_EQ(only_service(plain).spec.persistence, 50u);
    EXPECT_EQ(only_service(plain).spec.netmask, 0xffffffffu);
    auto bare = run(tcp_vs("  persistence_timeout"));
    EXPECT_EQ(only_service(bare).spec.persistence, 360u);
    auto zero = run(tcp_vs("  persistence_timeout 0"));
    EXPECT_FALSE(only_service(zero).spec.persistence);
    EXPECT_EQ(zero.result.exit_code(), 0);
    auto mask = run(tcp_vs("  persistence_timeout 600\n  persistence_granularity 255.255.255.0"));
    EXPECT_EQ(only_service(mask).spec.netmask, 0xffffff00u);
    auto mask_only = run(tcp_vs("  persistence_granularity 255.255.0.0"));
    EXPECT_EQ(only_service(mask_only).spec.persistence, 360u);
    auto sip =
        run("virtual_server 192.0.2.1 5060 {\n protocol UDP\n persistence_timeout 1800\n"
            " persistence_engine sip\n real_server 10.0.0.1 5060 {\n }\n}\n");
    EXPECT_EQ(only_service(sip).spec.pe_name, "sip");
}

TEST(ImportPersistence, RefusalsAreListed) {
    std::string text = tcp_vs(
        "  persistence_timeout 600\n  persistence_granularity 255.0.255.0\n"
        "  persistence_engine sip\n  persistence_timeout 99999999");
    auto i = run(text);
    EXPECT_EQ(only_service(i).spec.netmask, 0xffffffffu);
    EXPECT_EQ(only_service(i).spec.pe_name, "");
    EXPECT_TRUE(listed(i.result, line_of(text, "granularity"), "persistence_granularity"));
    EXPECT_TRUE(listed(i.result, line_of(text, "engine"), "persistence_engine"));
    EXPECT_TRUE(listed(i.result, line_of(text, "99999999"), "persistence_timeout"));
    std::string month = tcp_vs("  persistence_timeout 2678400");  // keepalived's maximum, 31 days
    auto m = run(month);
    EXPECT_EQ(only_service(m).spec.persistence, 720u * 3600);
    EXPECT_TRUE(listed(m.result, line_of(month, "2678400"), "persistence_timeout"));
}

// ---------------------------------------------------------------- failure handling

TEST(ImportOnFailure, InhibitOnFailureQuiescesItsAbsenceRemoves) {
    auto inhibit = run(tcp_vs("  inhibit_on_failure"));
    EXPECT_EQ(only_service(inhibit).on_failure, model::OnFailure::quiesce);
    auto per_real = run(tcp_vs("", "    inhibit_on_failure"));
    EXPECT_EQ(only_service(per_real).on_failure, model::OnFailure::quiesce);
    auto absent = run(tcp_vs(""));
    EXPECT_EQ(only_service(absent).on_failure, model::OnFailure::remove);
    EXPECT_NE(absent.result.toml.find("removes a failed real server"), std::string::npos);
}

TEST(ImportOnFailure, MixedInhibitIsListedAtTheOddRealServer) {
    std::string text =
        "virtual_server 192.0.2.1 80 {\n protocol TCP\n inhibit_on_failure\n"
        " real_server 10.0.0.1 80 {\n }\n"
        " real_server 10.0.0.2 80 {\n  inhibit_on_failure off\n }\n}\n";
    auto i = run(text);
    EXPECT_EQ(only_service(i).on_failure, model::OnFailure::quiesce);
    EXPECT_TRUE(listed(i.result, line_of(text, "inhibit_on_failure off"), "inhibit_on_failure"));
}

TEST(ImportSorryServer, AddressWithAndWithoutPort) {
    auto with = run(tcp_vs("  sorry_server 10.0.0.99 8081"));
    EXPECT_EQ(only_service(with).sorry_server, real_key("10.0.0.99:8081"));
    auto without = run(tcp_vs("  sorry_server 10.0.0.99"));
    EXPECT_EQ(only_service(without).sorry_server, real_key("10.0.0.99:80"));
    EXPECT_EQ(without.result.exit_code(), 0);
}

TEST(ImportSorryServer, RefusalsAreListed) {
    std::string text = tcp_vs(
        "  sorry_server 10.0.0.99 8081\n  sorry_server_inhibit\n"
        "  sorry_server_lvs_method DR");
    auto i = run(text);
    EXPECT_TRUE(listed(i.result, line_of(text, "sorry_server_inhibit"), "sorry_server_inhibit"));
    EXPECT_TRUE(listed(i.result, line_of(text, "sorry_server_lvs_method"), "sorry_server"));
    std::string v6 = tcp_vs("  sorry_server 2001:db8::9 80");
    auto family = run(v6);
    EXPECT_FALSE(only_service(family).sorry_server);
    EXPECT_TRUE(listed(family.result, line_of(v6, "sorry_server"), "sorry_server"));
    std::string same = tcp_vs("  sorry_server 10.0.0.11 8080");
    auto twice = run(same);
    EXPECT_FALSE(only_service(twice).sorry_server);
    EXPECT_TRUE(listed(twice.result, line_of(same, "sorry_server"), "sorry_server"));
}

// ---------------------------------------------------------------- real servers

TEST(ImportRealServer, WeightsAndThresholds) {
    auto i = run(tcp_vs("  weight 5", "    uthreshold 1000\n    lthreshold 800") +
                 tcp_vs("", "    weight 0", "virtual_server 192.0.2.2 80"));
    auto* a = service(i, "tcp-192.0.2.1-80");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->reals.at(0).spec.weight, 5u);  // the virtual_server's weight
    EXPECT_EQ(a->reals.at(0).spec.upper_threshold, 1000u);
    EXPECT_EQ(a->reals.at(0).spec.lower_threshold, 800u);
    EXPECT_EQ(service(i, "tcp-192.0.2.2-80")->reals.at(0).spec.weight, 0u);
}

TEST(ImportRealServer, RefusalsAreListed) {
    std::string text = tcp_vs("",
                              "    weight 70000\n    lthreshold 10\n    notify_up /bin/up\n"
                              "    notify_down /bin/down\n    smtp_alert\n    snmp_name x\n"
                              "    track_me 1");
    auto i = run(text);
    EXPECT_EQ(only_service(i).reals.at(0).spec.weight, 65535u);
    EXPECT_EQ(only_service(i).reals.at(0).spec.lower_threshold, 0u);
    for (auto kw : {"weight", "lthreshold", "notify_up", "notify_down", "smtp_alert", "snmp_name",
                    "track_me"})
        EXPECT_TRUE(listed(i.result, line_of(text, std::string("    ") + kw), kw)) << kw;
}

TEST(ImportRealServer, DuplicateAndWrongFamilyAreListed) {
    std::string text =
        "virtual_server 192.0.2.1 80 {\n protocol TCP\n"
        " real_server 10.0.0.1 80 {\n }\n real_server 10.0.0.1 80 {\n }\n"
        " real_server 2001:db8::1 80 {\n }\n real_server 10.0.0.1-3 80 {\n }\n}\n";
    auto i = run(text);
    EXPECT_EQ(only_service(i).reals.size(), 1u);
    EXPECT_TRUE(listed(i.result, 5, "real_server"));
    EXPECT_TRUE(listed(i.result, 7, "real_server"));
    EXPECT_TRUE(listed(i.result, 9, "real_server"));
}

TEST(ImportRealServer, ARealServerThatIsAVipIsLeftOutWithTheValidatorsReason) {
    std::string text = tcp_vs("") +
                       "virtual_server 10.0.0.50 80 {\n protocol TCP\n"
                       " real_server 192.0.2.1 80 {\n }\n real_server 10.0.0.51 80 {\n }\n}\n";
    auto i = run(text);
    auto* s = service(i, "tcp-10.0.0.50-80");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->reals.size(), 1u);
    auto* n = listed(i.result, line_of(text, "real_server 192.0.2.1"), "real_server");
    ASSERT_TRUE(n) << all_listed(i.result);
    EXPECT_NE(n->why.find("ballast rejects it"), std::string::npos);
    EXPECT_NE(n->why.find("is the VIP of service"), std::string::npos);
}

// ---------------------------------------------------------------- check timing

TEST(ImportCheckTiming, DelayLoopTimeoutRetryAndDelayBeforeRetry) {
    auto i = run(tcp_vs("  delay_loop 10",
                        "    TCP_CHECK {\n      connect_timeout 3\n      retry 2\n"
                        "      delay_before_retry 5\n    }"));
    const auto& c = *only_service(i).check;
    EXPECT_EQ(c.type, CheckType::tcp);
    EXPECT_EQ(c.interval, Millis(10000));
    EXPECT_EQ(c.timeout, Millis(3000));
    EXPECT_EQ(c.fall, 3u);
    EXPECT_EQ(c.rise, 1u);
    EXPECT_EQ(c.down_interval, Millis(5000));
    EXPECT_FALSE(c.port);  // connects to the real server's own port
    EXPECT_EQ(i.result.exit_code(), 0) << all_listed(i.result);
    EXPECT_NE(i.result.toml.find("down_interval (delay_before_retry)"), std::string::npos);
}

TEST(ImportCheckTiming, KeepalivedDefaultsAndTheCascade) {
    // No timing at all: delay_loop 60s, connect_timeout 5s, retry 1, delay_before_retry 1s.
    auto defaults = run(tcp_vs("", "    TCP_CHECK {\n    }"));
    const auto& d = *only_service(defaults).check;
    EXPECT_EQ(d.interval, Millis(60000));
    EXPECT_EQ(d.timeout, Millis(5000));
    EXPECT_EQ(d.fall, 2u);
    EXPECT_EQ(d.down_interval, Millis(0));  // 1s is not longer than the 5s timeout
    // real_server values override the virtual_server's; the checker's override both.
    auto cascade =
        run(tcp_vs("  delay_loop 20\n  retry 4\n  connect_timeout 2",
                   "    delay_loop 15\n    TCP_CHECK {\n      connect_timeout 1.5\n    }"));
    const auto& c = *only_service(cascade).check;
    EXPECT_EQ(c.interval, Millis(15000));
    EXPECT_EQ(c.timeout, Millis(1500));
    EXPECT_EQ(c.fall, 5u);
}

TEST(ImportCheckTiming, TimeoutNotShorterThanTheIntervalIsShortenedWithAComment) {
    auto i = run(tcp_vs("  delay_loop 3", "    TCP_CHECK {\n    }"));
    EXPECT_EQ(only_service(i).check->timeout, Millis(2000));
    EXPECT_NE(i.result.toml.find("ballast needs a timeout shorter than the interval"),
              std::string::npos);
    EXPECT_EQ(i.result.exit_code(), 0);
}

TEST(ImportCheckTiming, AlphaStartsDownWarmupIsListed) {
    std::string text = tcp_vs("  alpha", "    TCP_CHECK {\n      warmup 5\n    }");
    auto i = run(text);
    EXPECT_TRUE(only_service(i).check->start_down);
    EXPECT_TRUE(listed(i.result, line_of(text, "warmup"), "warmup"));
}

TEST(ImportCheckTiming, InvalidValuesAreListed) {
    std::string text = tcp_vs("  delay_loop soon", "    TCP_CHECK {\n      retry -1\n    }");
    auto i = run(text);
    EXPECT_TRUE(listed(i.result, line_of(text, "delay_loop"), "delay_loop"));
    EXPECT_TRUE(listed(i.result, line_of(text, "retry"), "retry"));
    EXPECT_EQ(only_service(i).check->interval, Millis(60000));
}

// ---------------------------------------------------------------- TCP_CHECK

TEST(ImportTcpCheck, ConnectPortAndRefusedConnectionKeywords) {
    std::string text = tcp_vs("",
                              "    TCP_CHECK {\n      connect_port 9000\n"
                              "      connect_ip 10.0.0.200\n      bindto 10.0.0.254\n"
                              "      bind_port 5000\n      bind_if eth0\n      fwmark 5\n"
                              "      log_all_failures\n      frobnicate\n    }");
    auto i = run(text);
    EXPECT_EQ(only_service(i).check->port, 9000);
    for (auto kw : {"connect_ip", "bindto", "bind_port", "bind_if", "fwmark", "log_all_failures",
                    "frobnicate"})
        EXPECT_TRUE(listed(i.result, line_of(text, std::string("      ") + kw), kw)) << kw;
    auto same = run(
        tcp_vs("", "    TCP_CHECK {\n      connect_port 8080\n      connect_ip 10.0.0.11\n    }"));
    EXPECT_FALSE(only_service(same).check->port);
    EXPECT_EQ(same.result.exit_code(), 0) << all_listed(same.result);
}

// ---------------------------------------------------------------- HTTP_GET / SSL_GET

TEST(ImportHttpCheck, PathStatusCodesAndHost) {
    auto i = run(tcp_vs("  virtualhost www.example.com",
                        "    HTTP_GET {\n      url {\n        path /healthz\n"
                        "        status_code 200 204 301-302\n      }\n    }"));
    const auto& c = *only_service(i).check;
    EXPECT_EQ(c.type, CheckType::http);
    EXPECT_EQ(c.path, "/healthz");
    EXPECT_EQ(c.expect_status, (std::vector<uint16_t>{200, 204, 301, 302}));
    EXPECT_EQ(c.host, "www.example.com");
    EXPECT_EQ(c.down_interval,
              Millis(0));  // HTTP's default delay_before_retry 3s is not > 5s timeout
    EXPECT_EQ(i.result.exit_code(), 0) << all_listed(i.result);
}

TEST(ImportHttpCheck, DefaultStatusIs200To299AndTheUrlHostWins) {
    auto i = run(
        tcp_vs("  virtualhost vs.example.com",
               "    virtualhost rs.example.com\n    HTTP_GET {\n      virtualhost chk.example.com\n"
               "      url {\n        path /\n        virtualhost url.example.com\n      }\n    }"));
    const auto& c = *only_service(i).check;
    EXPECT_EQ(c.expect_status.size(), 100u);
    EXPECT_EQ(c.expect_status.front(), 200);
    EXPECT_EQ(c.expect_status.back(), 299);
    EXPECT_EQ(c.host, "url.example.com");
}

TEST(ImportHttpCheck, RegexConvertsAndTheRestIsListed) {
    std::string text =
        tcp_vs("",
               "    HTTP_GET {\n      url {\n        path status\n"
               "        digest 9b3a0c85a887a256d6939da88aabd8cd\n"
               "        regex \"^OK [0-9]+\"\n        regex_no_match\n"
               "        regex_options caseless\n      }\n"
               "      url {\n        path /second\n      }\n"
               "      http_protocol 1.1\n      fast_recovery\n      nb_get_retry 4\n    }");
    auto i = run(text);
    const auto& c = *only_service(i).check;
    EXPECT_EQ(c.path, "/status");
    EXPECT_EQ(c.expect_body_regex, "^OK [0-9]+");
    EXPECT_EQ(c.fall, 5u);  // nb_get_retry is retry
    EXPECT_TRUE(listed(i.result, line_of(text, "path status"), "path"));
    for (auto kw : {"digest", "regex_no_match", "regex_options", "http_protocol", "fast_recovery"})
        EXPECT_TRUE(listed(i.result, line_of(text, kw), kw)) << kw;
    EXPECT_TRUE(listed(i.result, line_of(text, "url {", 1), "url"));
}

TEST(ImportHttpCheck, UrlWithoutPathDropsTheChecker) {
    std::string text =
        tcp_vs("", "    HTTP_GET {\n      url {\n        status_code 200\n      }\n    }");
    auto i = run(text);
    EXPECT_FALSE(only_service(i).check);
    EXPECT_TRUE(listed(i.result, line_of(text, "HTTP_GET"), "HTTP_GET"));
}

TEST(ImportHttpCheck, SslGetIsHttps) {
    auto i = run(tcp_vs("",
                        "    SSL_GET {\n      enable_sni\n      virtualhost secure.example.com\n"
                        "      url {\n        path /\n        status_code 200\n      }\n    }",
                        "virtual_server 192.0.2.1 443"));
    const auto& c = *only_service(i).check;
    EXPECT_EQ(c.type, CheckType::https);
    EXPECT_EQ(c.host, "secure.example.com");
    EXPECT_FALSE(c.tls_verify);
    EXPECT_EQ(i.result.exit_code(), 0) << all_listed(i.result);
}

// ---------------------------------------------------------------- MISC_CHECK

TEST(ImportMiscCheck, CommandTimeoutAndRefusals) {
    std::string text =
        tcp_vs("  delay_loop 10",
               "    MISC_CHECK {\n      misc_path \"/usr/local/bin/check.sh -p 'a b'\"\n"
               "      misc_timeout 4\n      misc_dynamic\n      user nobody\n    }");
    auto i = run(text);
    const auto& c = *only_service(i).check;
    EXPECT_EQ(c.type, CheckType::exec);
    EXPECT_EQ(c.command, (std::vector<std::string>{"/usr/local/bin/check.sh", "-p", "a b"}));
    EXPECT_EQ(c.timeout, Millis(4000));
    EXPECT_EQ(c.fall, 1u);  // MISC_CHECK's default retry is 0
    EXPECT_FALSE(c.weight_from_output);
    EXPECT_TRUE(listed(i.result, line_of(text, "misc_dynamic"), "misc_dynamic"));
    EXPECT_TRUE(listed(i.result, line_of(text, "user"), "user"));
}

TEST(ImportMiscCheck, UnquotedExtraWordsAreListedAsKeepalivedIgnoresThem) {
    std::string text = tcp_vs("", "    MISC_CHECK {\n      misc_path /bin/check 10.0.0.11\n    }");
    auto i = run(text);
    EXPECT_EQ(only_service(i).check->command, (std::vector<std::string>{"/bin/check"}));
    EXPECT_TRUE(listed(i.result, line_of(text, "misc_path"), "misc_path"));
}

TEST(ImportMiscCheck, PerServerAddressesBecomePercentIp) {
    std::string text =
        "virtual_server 192.0.2.53 53 {\n protocol UDP\n"
        " real_server 10.0.0.3 53 {\n  MISC_CHECK {\n"
        "   misc_path \"/usr/bin/nslookup example.cn 10.0.0.3\"\n  }\n }\n"
        " real_server 10.0.0.4 53 {\n  MISC_CHECK {\n"
        "   misc_path \"/usr/bin/nslookup example.cn 10.0.0.4\"\n  }\n }\n}\n";
    auto i = run(text);
    EXPECT_EQ(only_service(i).check->command,
              (std::vector<std::string>{"/usr/bin/nslookup", "example.cn", "%ip"}));
    EXPECT_EQ(i.result.exit_code(), 0) << all_listed(i.result);
}

// ---------------------------------------------------------------- DNS_CHECK

TEST(ImportDnsCheck, TypeAndName) {
    auto i =
        run("virtual_server 192.0.2.53 53 {\n protocol UDP\n real_server 10.0.0.1 53 {\n"
            "  DNS_CHECK {\n   type aaaa\n   name health.example.com\n  }\n }\n}\n");
    const auto& c = *only_service(i).check;
    EXPECT_EQ(c.type, CheckType::dns);
    EXPECT_EQ(c.query_type, "AAAA");
    EXPECT_EQ(c.query_name, "health.example.com");
    EXPECT_EQ(c.fall, 4u);  // DNS_CHECK's default retry is 3
}

TEST(ImportDnsCheck, SoaDefaultAndMissingNameAreListed) {
    std::string dflt =
        "virtual_server 192.0.2.53 53 {\n protocol UDP\n real_server 10.0.0.1 53 {\n"
        "  DNS_CHECK {\n   name example.com\n  }\n }\n}\n";
    auto soa = run(dflt);
    EXPECT_FALSE(only_service(soa).check);
    EXPECT_TRUE(listed(soa.result, 4, "DNS_CHECK"));
    std::string noname =
        "virtual_server 192.0.2.53 53 {\n protocol UDP\n real_server 10.0.0.1 53 {\n"
        "  DNS_CHECK {\n   type A\n  }\n }\n}\n";
    EXPECT_TRUE(listed(run(noname).result, 4, "DNS_CHECK"));
}

// ---------------------------------------------------------------- UDP_CHECK

TEST(ImportUdpCheck, PayloadAndReply) {
    auto i =
        run("virtual_server 192.0.2.1 5060 {\n protocol UDP\n real_server 10.0.0.1 5060 {\n"
            "  UDP_CHECK {\n   payload 4f 50 54 0d 0a\n   require_reply 53 49 50\n  }\n }\n}\n");
    const auto& c = *only_service(i).check;
    EXPECT_EQ(c.type, CheckType::udp);
    EXPECT_EQ(c.send, "OPT\r\n");
    EXPECT_EQ(c.expect, "SIP");
    EXPECT_EQ(i.result.exit_code(), 0) << all_listed(i.result);
}

TEST(ImportUdpCheck, WithoutRequireReplyOrPayloadItIsListed) {
    std::string text =
        "virtual_server 192.0.2.1 5060 {\n protocol UDP\n real_server 10.0.0.1 5060 {\n"
        "  UDP_CHECK {\n   connect_timeout 3\n   min_reply_length 2\n  }\n }\n}\n";
    auto i = run(text);
    EXPECT_FALSE(only_service(i).check);
    auto* n = listed(i.result, 4, "UDP_CHECK");
    ASSERT_TRUE(n);
    EXPECT_NE(n->why.find("require_reply"), std::string::npos);
    EXPECT_TRUE(listed(i.result, 6, "min_reply_length"));
    std::string nopayload =
        "virtual_server 192.0.2.1 5060 {\n protocol UDP\n real_server 10.0.0.1 5060 {\n"
        "  UDP_CHECK {\n   require_reply\n  }\n }\n}\n";
    auto np = run(nopayload);
    ASSERT_TRUE(listed(np.result, 4, "UDP_CHECK"));
    EXPECT_NE(listed(np.result, 4, "UDP_CHECK")->why.find("payload"), std::string::npos);
}

// ---------------------------------------------------------------- one check per service

TEST(ImportChecks, UnsupportedCheckersAreListed) {
    for (auto kw : {"SMTP_CHECK", "PING_CHECK", "FILE_CHECK", "BFD_CHECK"}) {
        std::string text = tcp_vs("", std::string("    ") + kw + " {\n    }");
        auto i = run(text);
        EXPECT_FALSE(only_service(i).check);
        EXPECT_TRUE(listed(i.result, line_of(text, kw), kw)) << kw;
    }
}

TEST(ImportChecks, ASecondCheckerIsListed) {
    std::string text = tcp_vs("",
                              "    TCP_CHECK {\n    }\n    HTTP_GET {\n      url {\n"
                              "        path /\n      }\n    }");
    auto i = run(text);
    EXPECT_EQ(only_service(i).check->type, CheckType::tcp);
    EXPECT_TRUE(listed(i.result, line_of(text, "HTTP_GET"), "HTTP_GET"));
}

TEST(ImportChecks, DifferingCheckersAndUncheckedRealServersAreListed) {
    std::string text =
        "virtual_server 192.0.2.1 80 {\n protocol TCP\n"
        " real_server 10.0.0.1 80 {\n  TCP_CHECK {\n   connect_timeout 2\n  }\n }\n"
        " real_server 10.0.0.2 80 {\n  TCP_CHECK {\n   connect_timeout 3\n  }\n }\n"
        " real_server 10.0.0.3 80 {\n }\n}\n";
    auto i = run(text);
    EXPECT_EQ(only_service(i).check->timeout, Millis(2000));
    auto* differs = listed(i.result, 9, "TCP_CHECK");
    ASSERT_TRUE(differs) << all_listed(i.result);
    EXPECT_NE(differs->why.find("timeout"), std::string::npos);
    EXPECT_TRUE(listed(i.result, 13, "real_server"));
}

TEST(ImportChecks, NoCheckerMeansTypeNone) {
    auto i = run(tcp_vs(""));
    EXPECT_FALSE(only_service(i).check);
    EXPECT_NE(i.result.toml.find("type = \"none\""), std::string::npos);
    EXPECT_EQ(i.result.exit_code(), 0);
}

TEST(ImportChecks, FwmarkRealServerWithoutAnyPortToProbeIsListed) {
    std::string text =
        "virtual_server fwmark 4 {\n real_server 10.0.0.1 {\n  TCP_CHECK {\n  }\n }\n}\n";
    auto i = run(text);
    EXPECT_FALSE(only_service(i).check);
    EXPECT_TRUE(listed(i.result, 3, "TCP_CHECK"));
}

// ---------------------------------------------------------------- virtual_server_group

TEST(ImportGroup, OneServicePerMemberWithRangesAndFwmarks) {
    std::string text =
        "virtual_server_group VSG_1 {\n"
        "  10.0.0.1 8080\n"
        "  192.168.200.3-5 80\n"
        "  192.168.201.0/30 443\n"
        "  192.168.202.1-192.168.202.2 25\n"
        "  fwmark 1\n"
        "}\n"
        "virtual_server group VSG_1 {\n  protocol TCP\n  lb_algo rr\n"
        "  persistence_timeout 50\n"
        "  real_server 192.168.100.1 1358 {\n    TCP_CHECK {\n    }\n  }\n}\n";
    auto i = run(text);
    ASSERT_TRUE(i.config);
    EXPECT_EQ(i.config->services.size(), 1u + 3 + 4 + 2 + 1) << i.result.toml;
    for (auto& s : i.config->services) {
        EXPECT_EQ(s.spec.scheduler, "rr");
        EXPECT_EQ(s.spec.persistence, 50u);
        EXPECT_EQ(s.reals.size(), 1u);
        EXPECT_TRUE(s.check);
    }
    EXPECT_TRUE(service(i, "VSG_1-tcp-10.0.0.1-8080"));
    EXPECT_TRUE(service(i, "VSG_1-tcp-192.168.200.5-80"));
    EXPECT_TRUE(service(i, "VSG_1-tcp-192.168.201.3-443"));
    EXPECT_TRUE(service(i, "VSG_1-tcp-192.168.202.2-25"));
    auto* fw = service(i, "VSG_1-fwmark-1");
    ASSERT_TRUE(fw);
    EXPECT_EQ(fw->key, model::ServiceKey::mark(1, AF_INET));
    EXPECT_EQ(fw->reals.at(0).key, real_key("192.168.100.1:1358"));  // NAT keeps the port
    EXPECT_FALSE(fw->check->port);
    EXPECT_EQ(i.result.exit_code(), 0) << all_listed(i.result);
    EXPECT_NE(i.result.toml.find("'192.168.200.3-5 80'"), std::string::npos);
}

TEST(ImportGroup, RefusalsAreListed) {
    std::string text =
        "virtual_server_group G {\n  10.0.0.0/16 80\n  10.0.1.9-3 80\n  bogus 80\n"
        "  fwmark x\n  10.0.2.1 80\n}\n"
        "virtual_server group G {\n  protocol TCP\n  real_server 10.1.0.1 80 {\n  }\n}\n"
        "virtual_server group NOPE {\n  real_server 10.1.0.1 80 {\n  }\n}\n";
    auto i = run(text);
    EXPECT_EQ(i.config->services.size(), 1u);
    for (uint32_t line : {2u, 3u, 4u, 5u})
        EXPECT_TRUE(std::any_of(i.result.not_converted.begin(), i.result.not_converted.end(),
                                [&](const NotConverted& n) { return n.where.line == line; }))
            << line << "\n"
            << all_listed(i.result);
    EXPECT_TRUE(listed(i.result, line_of(text, "group NOPE"), "virtual_server"));
}

// ---------------------------------------------------------------- outside the scope

TEST(ImportScope, OtherTopLevelBlocksAreListedOncePerBlock) {
    std::string text =
        "global_defs {\n  router_id LVS_DEVEL\n  lvs_timeouts tcp 7200\n}\n"
        "vrrp_script chk {\n  script \"/bin/true\"\n}\n"
        "vrrp_instance VI_1 {\n  state MASTER\n  virtual_ipaddress {\n    192.0.2.1\n  }\n}\n"
        "vrrp_sync_group G {\n  group {\n    VI_1\n  }\n}\n"
        "static_ipaddress {\n  192.0.2.9/24 dev eth0\n}\n"
        "SSL {\n  ca /etc/ca.pem\n}\n"
        "net_namespace blue\n"
        "local_address_group laddr {\n  10.0.0.1 eth0\n}\n";
    auto i = run(text);
    EXPECT_EQ(i.result.not_converted.size(), 8u) << all_listed(i.result);
    auto* vrrp = listed(i.result, line_of(text, "vrrp_instance"), "vrrp_instance");
    ASSERT_TRUE(vrrp);
    EXPECT_NE(vrrp->why.find("later director-HA feature"), std::string::npos);
    EXPECT_TRUE(listed(i.result, 1, "global_defs"));
    EXPECT_TRUE(listed(i.result, line_of(text, "SSL"), "SSL"));
    EXPECT_TRUE(listed(i.result, line_of(text, "local_address_group"), "local_address_group"));
    EXPECT_EQ(i.result.exit_code(), 2);
}

TEST(ImportScope, AnEmptyQuotedKeywordIsListedAsQuotes) {
    auto i = run("\"\" 1\nvirtual_server 192.0.2.1 80 {\n  \"\"\n}\n");
    EXPECT_TRUE(listed(i.result, 1, "\"\""));
    EXPECT_TRUE(listed(i.result, 3, "\"\""));
}

TEST(ImportScope, VirtualServerKeywordsWithoutAnEquivalentAreListed) {
    std::string text = tcp_vs(
        "  ha_suspend\n  smtp_alert\n  snmp_name web\n  omega\n  quorum 2\n"
        "  quorum_up /bin/up\n  quorum_down /bin/down\n  hysteresis 1\n"
        "  nat_mask 255.255.255.0");
    auto i = run(text);
    for (auto kw : {"ha_suspend", "smtp_alert", "snmp_name", "omega", "quorum", "quorum_up",
                    "quorum_down", "hysteresis", "nat_mask"})
        EXPECT_TRUE(listed(i.result, line_of(text, std::string("  ") + kw), kw)) << kw;
    // quorum 1 and hysteresis 0 are keepalived's defaults: ballast behaves so.
    auto defaults = run(tcp_vs("  quorum 1\n  hysteresis 0"));
    EXPECT_EQ(defaults.result.exit_code(), 0) << all_listed(defaults.result);
}

TEST(ImportScope, OutputListsTheItemsAtTheEnd) {
    std::string text = tcp_vs("  omega");
    auto i = run(text);
    EXPECT_NE(i.result.toml.find("# Not converted (1 item, also printed on stderr):"),
              std::string::npos);
    EXPECT_NE(i.result.toml.find(kMain + ":" + std::to_string(line_of(text, "omega")) + ": omega:"),
              std::string::npos);
    auto clean = run(tcp_vs(""));
    EXPECT_NE(clean.result.toml.find("# Everything was converted."), std::string::npos);
}

}  // namespace
}  // namespace ballast::import
