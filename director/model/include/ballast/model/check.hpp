#pragma once
// What a health check is, as configured. Shared by config (which produces it)
// and healthcheck (which runs it); holds no runtime state.
#include <chrono>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ballast::model {

using Millis = std::chrono::milliseconds;

// tcp_half_open: SYN, then SYN-ACK (up) or RST (down); the kernel resets, nothing is accepted.
enum class CheckType : uint8_t { none, tcp, http, https, udp, dns, exec, agent, tcp_half_open };
std::optional<CheckType> parse_check_type(std::string_view);
std::string_view to_string(CheckType);

struct CheckSpec {
    CheckType type = CheckType::tcp;
    Millis interval{2000};
    Millis down_interval{0};  // 0 = same as interval
    Millis timeout{1000};
    Millis jitter{0};      // each run is shifted by up to +-jitter
    Millis slow_start{0};  // weight ramps from 0 to configured over this after recovery
    uint32_t rise = 2;
    uint32_t fall = 3;
    bool start_down = false;       // no traffic until the first success
    std::optional<uint16_t> port;  // probe this port instead of the real server's

    // tcp, udp: optional payload to send and substring expected in the reply
    std::string send;
    std::string expect;
    // http, https
    std::string method = "GET";
    std::string path = "/";
    std::string host;                          // Host header; empty = target address
    std::vector<uint16_t> expect_status{200};  // any of these
    std::string expect_body;                   // substring
    std::string expect_body_regex;
    bool tls_verify = false;
    std::string sni;  // empty = host
    // dns
    std::string query_name;
    std::string query_type = "A";  // A | AAAA
    // exec: argv; "%ip" and "%port" are replaced by the target's
    std::vector<std::string> command;
    bool weight_from_output = false;
    std::string user;  // exec: run as this user (empty: as the daemon)

    Millis effective_down_interval() const {
        return down_interval.count() ? down_interval : interval;
    }
    auto operator<=>(const CheckSpec&) const = default;
};

}  // namespace ballast::model
