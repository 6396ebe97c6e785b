// Whole keepalived configurations in the shapes found in keepalived's samples
// and its issue tracker (written for these tests): import -> the validator
// loads the output -> the services, real servers and checks expected.
#include <gtest/gtest.h>

#include "import_testing.hpp"

namespace ballast::import {
namespace {

using namespace testing;
using model::CheckType;
using model::ForwardMethod;
using model::Millis;

// Two directors in VRRP, a web farm behind LVS-NAT on one VIP.
const std::string kHaWebFarm = R"(! Configuration File for keepalived
global_defs {
   notification_email {
     ops@example.com
   }
   notification_email_from lvs@example.com
   smtp_server 192.0.2.25
   smtp_connect_timeout 30
   router_id LVS_MAIN
}

vrrp_script chk_haproxy {
    script "/usr/bin/killall -0 ipvs_sync"
    interval 2
    weight 2
}

vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass s3cret
    }
    virtual_ipaddress {
        203.0.113.10/24 dev eth0
    }
    track_script {
        chk_haproxy
    }
}

virtual_server 203.0.113.10 80 {
    delay_loop 5
    lb_algo wlc
    lb_kind NAT
    persistence_timeout 300
    protocol TCP
    sorry_server 10.1.0.99 8080

    real_server 10.1.0.11 8080 {
        weight 100
        inhibit_on_failure
        HTTP_GET {
            url {
              path /healthz
              status_code 200
            }
            connect_timeout 2
            retry 3
            delay_before_retry 2
        }
    }
    real_server 10.1.0.12 8080 {
        weight 100
        inhibit_on_failure
        HTTP_GET {
            url {
              path /healthz
              status_code 200
            }
            connect_timeout 2
            retry 3
            delay_before_retry 2
        }
    }
}

virtual_server 203.0.113.10 443 {
    delay_loop 5
    lb_algo sh
    sh-port
    lb_kind NAT
    protocol TCP

    real_server 10.1.0.11 8443 {
        weight 1
        SSL_GET {
            url {
              path /
              digest ff20ad2481f97b1754ef3e12ecd3a9cc
            }
            connect_timeout 3
            nb_get_retry 3
            delay_before_retry 3
        }
    }
    real_server 10.1.0.12 8443 {
        weight 1
        SSL_GET {
            url {
              path /
              digest ff20ad2481f97b1754ef3e12ecd3a9cc
            }
            connect_timeout 3
            nb_get_retry 3
            delay_before_retry 3
        }
    }
}
)";

TEST(ImportRealistic, HaWebFarm) {
    auto i = run(kHaWebFarm);
    ASSERT_TRUE(i.config);
    ASSERT_EQ(i.config->services.size(), 2u);
    auto* web = service(i, "tcp-203.0.113.10-80");
    ASSERT_TRUE(web);
    EXPECT_EQ(web->spec.scheduler, "wlc");
    EXPECT_EQ(web->spec.persistence, 300u);
    EXPECT_EQ(web->on_failure, model::OnFailure::quiesce);
    EXPECT_EQ(web->sorry_server, real_key("10.1.0.99:8080"));
    ASSERT_EQ(web->reals.size(), 2u);
    EXPECT_EQ(web->reals[1].key, real_key("10.1.0.12:8080"));
    EXPECT_EQ(web->reals[1].spec.weight, 100u);
    ASSERT_TRUE(web->check);
    EXPECT_EQ(web->check->type, CheckType::http);
    EXPECT_EQ(web->check->path, "/healthz");
    EXPECT_EQ(web->check->expect_status, std::vector<uint16_t>{200});
    EXPECT_EQ(web->check->interval, Millis(5000));
    EXPECT_EQ(web->check->timeout, Millis(2000));
    EXPECT_EQ(web->check->fall, 4u);
    EXPECT_EQ(web->check->down_interval, Millis(0));  // 2s is not longer than the timeout

    auto* tls = service(i, "tcp-203.0.113.10-443");
    ASSERT_TRUE(tls);
    EXPECT_EQ(tls->spec.scheduler, "sh");
    EXPECT_TRUE(tls->spec.flags.sched_flag2);
    EXPECT_EQ(tls->on_failure, model::OnFailure::remove);
    EXPECT_EQ(tls->check->type, CheckType::https);
    EXPECT_EQ(tls->check->fall, 4u);

    // global_defs, vrrp_script, vrrp_instance, and each real server's digest.
    EXPECT_EQ(i.result.not_converted.size(), 5u) << all_listed(i.result);
    EXPECT_TRUE(listed(i.result, line_of(kHaWebFarm, "vrrp_instance"), "vrrp_instance"));
    EXPECT_TRUE(listed(i.result, line_of(kHaWebFarm, "digest", 1), "digest"));
    EXPECT_EQ(i.result.exit_code(), 2);
    EXPECT_EQ(i.result.services, 2u);
    EXPECT_EQ(i.result.reals, 4u);
}

// The direct-routing tutorial shape: DR, TCP_CHECK with nb_get_retry,
// "persistence_timeout 0", the long-gone nat_mask, comments everywhere.
const std::string kDrTutorial = R"(global_defs {
   router_id LVS_DEVEL  # unique in the network
}
virtual_server 192.168.80.200 80 {
    delay_loop 6          # seconds between checks
    lb_algo wrr
    lb_kind DR
    nat_mask 255.255.255.0
    persistence_timeout 0
    protocol TCP
    real_server 192.168.80.102 80 {   ! first real server
        weight 3
        TCP_CHECK {
            connect_timeout 10
            nb_get_retry 3
            delay_before_retry 3
            connect_port 80
        }
    }
    real_server 192.168.80.103 80 {
        weight 3
        TCP_CHECK {
            connect_timeout 10
            nb_get_retry 3
            delay_before_retry 3
            connect_port 80
        }
    }
}
)";

TEST(ImportRealistic, DirectRoutingTutorial) {
    auto i = run(kDrTutorial);
    auto* s = service(i, "tcp-192.168.80.200-80");
    ASSERT_TRUE(s) << i.result.toml;
    EXPECT_FALSE(s->spec.persistence);
    EXPECT_EQ(s->spec.scheduler, "wrr");
    ASSERT_EQ(s->reals.size(), 2u);
    for (auto& r : s->reals) {
        EXPECT_EQ(r.spec.forward, ForwardMethod::route);
        EXPECT_EQ(r.spec.weight, 3u);
    }
    ASSERT_TRUE(s->check);
    EXPECT_EQ(s->check->type, CheckType::tcp);
    EXPECT_FALSE(s->check->port);  // connect_port 80 is the real server's port
    EXPECT_EQ(s->check->interval, Millis(6000));
    EXPECT_EQ(s->check->timeout, Millis(5000));  // connect_timeout 10 is longer than delay_loop 6
    // nb_get_retry is HTTP_GET's: TCP_CHECK does not know it (keepalived says
    // "unknown keyword"), so keepalived's default retry 1 applies.
    EXPECT_EQ(s->check->fall, 2u);
    EXPECT_TRUE(listed(i.result, line_of(kDrTutorial, "nb_get_retry"), "nb_get_retry"));
    EXPECT_TRUE(listed(i.result, line_of(kDrTutorial, "nat_mask"), "nat_mask"));
    EXPECT_TRUE(listed(i.result, 1, "global_defs"));
}

// A configuration split over include files, as packaged setups do.
TEST(ImportRealistic, SplitOverIncludeFiles) {
    const std::string main =
        "global_defs {\n  router_id lb1\n}\n"
        "include /etc/keepalived/vrrp.conf\n"
        "include services/*.conf\n";
    auto i = run(main, {{"/etc/keepalived/vrrp.conf",
                         "vrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n"
                         "  virtual_router_id 7\n  priority 100\n  virtual_ipaddress {\n"
                         "    198.51.100.10\n    198.51.100.11\n  }\n}\n"},
                        {"/etc/keepalived/services/10-web.conf",
                         "virtual_server 198.51.100.10 80 {\n  delay_loop 3\n  lb_algo rr\n"
                         "  lb_kind NAT\n  protocol TCP\n  include ../reals/web.inc\n}\n"},
                        {"/etc/keepalived/services/20-smtp.conf",
                         "virtual_server 198.51.100.11 25 {\n  delay_loop 10\n  lb_algo lc\n"
                         "  lb_kind NAT\n  protocol TCP\n  real_server 10.2.0.21 25 {\n"
                         "    TCP_CHECK {\n      connect_timeout 4\n    }\n  }\n"
                         "  real_server 10.2.0.22 25 {\n    TCP_CHECK {\n      connect_timeout 4\n"
                         "    }\n  }\n}\n"},
                        {"/etc/keepalived/reals/web.inc",
                         "real_server 10.2.0.11 8080 {\n  weight 2\n  TCP_CHECK {\n"
                         "    connect_timeout 1\n  }\n}\n"
                         "real_server 10.2.0.12 8080 {\n  weight 2\n  TCP_CHECK {\n"
                         "    connect_timeout 1\n  }\n}\n"}});
    ASSERT_TRUE(i.config) << (i.result.error ? i.result.error->to_string() : "");
    ASSERT_EQ(i.config->services.size(), 2u);
    auto* web = service(i, "tcp-198.51.100.10-80");
    ASSERT_TRUE(web);
    ASSERT_EQ(web->reals.size(), 2u);
    EXPECT_EQ(web->reals[0].key, real_key("10.2.0.11:8080"));
    EXPECT_EQ(web->check->timeout, Millis(1000));
    EXPECT_EQ(web->check->interval, Millis(3000));
    auto* smtp = service(i, "tcp-198.51.100.11-25");
    ASSERT_TRUE(smtp);
    EXPECT_EQ(smtp->spec.scheduler, "lc");
    EXPECT_EQ(smtp->check->timeout, Millis(4000));
    // Items keep the file they came from, in reading order.
    ASSERT_EQ(i.result.not_converted.size(), 2u) << all_listed(i.result);
    EXPECT_EQ(i.result.not_converted[0].keyword, "global_defs");
    EXPECT_EQ(i.result.not_converted[1].where, (SourceRef{"/etc/keepalived/vrrp.conf", 1}));
    // Each service says where it came from.
    EXPECT_NE(i.result.toml.find("/etc/keepalived/services/20-smtp.conf:1"), std::string::npos);
    EXPECT_NE(i.result.toml.find("(/etc/keepalived/reals/web.inc:7)"), std::string::npos);
}

// DNS on udp and tcp through one group, with a DNS_CHECK, and a resolver
// farm checked by a script.
const std::string kDns = R"(virtual_server_group DNS {
    192.0.2.53 53
    192.0.2.54 53
}
virtual_server group DNS {
    delay_loop 4
    lb_algo rr
    lb_kind NAT
    protocol UDP
    ops
    real_server 10.3.0.1 53 {
        DNS_CHECK {
            type A
            name probe.example.net
            connect_timeout 2
        }
    }
    real_server 10.3.0.2 53 {
        DNS_CHECK {
            type A
            name probe.example.net
            connect_timeout 2
        }
    }
}
virtual_server group DNS {
    delay_loop 4
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.3.0.1 53 {
        TCP_CHECK {
            connect_timeout 2
        }
    }
    real_server 10.3.0.2 53 {
        TCP_CHECK {
            connect_timeout 2
        }
    }
}
)";

TEST(ImportRealistic, DnsOverUdpAndTcpThroughOneGroup) {
    auto i = run(kDns);
    ASSERT_TRUE(i.config);
    ASSERT_EQ(i.config->services.size(), 4u) << i.result.toml;
    auto* udp = service(i, "DNS-udp-192.0.2.54-53");
    ASSERT_TRUE(udp);
    EXPECT_TRUE(udp->spec.flags.one_packet);
    EXPECT_EQ(udp->check->type, CheckType::dns);
    EXPECT_EQ(udp->check->query_name, "probe.example.net");
    EXPECT_EQ(udp->check->fall, 4u);
    auto* tcp = service(i, "DNS-tcp-192.0.2.53-53");
    ASSERT_TRUE(tcp);
    EXPECT_EQ(tcp->key.protocol, model::Protocol::tcp);
    EXPECT_EQ(tcp->check->type, CheckType::tcp);
    EXPECT_EQ(i.result.exit_code(), 0) << all_listed(i.result);
}

// IPv6 and firewall marks, thresholds, a sorry server, per-server scripts.
const std::string kMixed = R"(virtual_server 2001:db8:10::1 80 {
    delay_loop 2
    lb_algo mh
    mh-fallback
    lb_kind NAT
    protocol TCP
    persistence_timeout 120
    persistence_granularity 48
    real_server 2001:db8:20::11 8080 {
        weight 10
        uthreshold 500
        lthreshold 400
        HTTP_GET {
            url {
                path /ping
                status_code 200-204
            }
            connect_timeout 1
            retry 2
            delay_before_retry 3
        }
    }
    real_server 2001:db8:20::12 8080 {
        weight 20
        uthreshold 500
        lthreshold 400
        HTTP_GET {
            url {
                path /ping
                status_code 200-204
            }
            connect_timeout 1
            retry 2
            delay_before_retry 3
        }
    }
}
virtual_server fwmark 100 {
    delay_loop 10
    lb_algo wrr
    lb_kind DR
    persistence_timeout 600
    persistence_granularity 255.255.255.0
    sorry_server 10.4.0.99
    inhibit_on_failure
    real_server 10.4.0.11 {
        weight 5
        MISC_CHECK {
            misc_path "/usr/lib/keepalived/check_app 10.4.0.11 --deep"
            misc_timeout 8
        }
    }
    real_server 10.4.0.12 {
        weight 5
        MISC_CHECK {
            misc_path "/usr/lib/keepalived/check_app 10.4.0.12 --deep"
            misc_timeout 8
        }
    }
}
)";

TEST(ImportRealistic, Ipv6FwmarkThresholdsSorryServerAndScripts) {
    auto i = run(kMixed);
    ASSERT_TRUE(i.config);
    auto* v6 = service(i, "tcp-2001_db8_10__1-80");
    ASSERT_TRUE(v6) << i.result.toml;
    EXPECT_EQ(v6->spec.netmask, 48u);
    EXPECT_TRUE(v6->spec.flags.sched_flag1);
    EXPECT_EQ(v6->reals[1].spec.weight, 20u);
    EXPECT_EQ(v6->reals[0].spec.upper_threshold, 500u);
    EXPECT_EQ(v6->reals[0].spec.lower_threshold, 400u);
    EXPECT_EQ(v6->check->expect_status, (std::vector<uint16_t>{200, 201, 202, 203, 204}));
    EXPECT_EQ(v6->check->down_interval, Millis(3000));
    EXPECT_EQ(v6->check->fall, 3u);

    auto* fw = service(i, "fwmark-100");
    ASSERT_TRUE(fw);
    EXPECT_EQ(fw->spec.netmask, 0xffffff00u);
    EXPECT_EQ(fw->sorry_server, real_key("10.4.0.99"));
    EXPECT_EQ(fw->on_failure, model::OnFailure::quiesce);
    EXPECT_EQ(fw->reals[0].spec.forward, ForwardMethod::route);
    EXPECT_EQ(fw->check->type, CheckType::exec);
    EXPECT_EQ(fw->check->command,
              (std::vector<std::string>{"/usr/lib/keepalived/check_app", "%ip", "--deep"}));
    EXPECT_EQ(fw->check->timeout, Millis(8000));
    // The sorry server inherits DR from lb_kind; ballast has no setting for that.
    ASSERT_EQ(i.result.not_converted.size(), 1u) << all_listed(i.result);
    EXPECT_TRUE(listed(i.result, line_of(kMixed, "sorry_server"), "sorry_server"));
}

// keepalived's conditional configuration with definitions: one file for two
// directors, chosen by the config id.
const std::string kConditional = R"($VIP=192.0.2.80
$CHECK=TCP_CHECK { \
    connect_timeout 2 \
}
virtual_server $VIP 80 {
    protocol TCP
    lb_kind NAT
@high    delay_loop 3
@low     delay_loop 9
    real_server 10.5.0.1 80 {
        $CHECK
    }
@^low    real_server 10.5.0.2 80 {
@^low        $CHECK
@^low    }
}
)";

TEST(ImportRealistic, ConditionalLinesAndDefinitions) {
    ImportOptions high;
    high.reader.config_id = "high";
    auto h = run(kConditional, {}, high);
    auto* s = service(h, "tcp-192.0.2.80-80");
    ASSERT_TRUE(s) << h.result.toml << all_listed(h.result);
    EXPECT_EQ(s->check->interval, Millis(3000));
    EXPECT_EQ(s->check->timeout, Millis(2000));
    EXPECT_EQ(s->reals.size(), 2u);
    EXPECT_EQ(h.result.exit_code(), 0) << all_listed(h.result);

    ImportOptions low;
    low.reader.config_id = "low";
    auto l = run(kConditional, {}, low);
    auto* sl = service(l, "tcp-192.0.2.80-80");
    ASSERT_TRUE(sl);
    EXPECT_EQ(sl->check->interval, Millis(9000));
    EXPECT_EQ(sl->reals.size(), 1u);

    auto none = run(kConditional);
    EXPECT_EQ(none.result.exit_code(), 2);
    EXPECT_TRUE(listed(none.result, line_of(kConditional, "@high"), "@high"));
}

}  // namespace
}  // namespace ballast::import
