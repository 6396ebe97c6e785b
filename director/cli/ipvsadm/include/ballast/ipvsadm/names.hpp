#pragma once
// The name lookups ipvsadm makes through libc (hosts and services, /etc/hosts, DNS,
// /etc/services), behind an interface so parsing and formatting are tested without them.
#include <cstdint>
#include <optional>
#include <string>

namespace ballast::ipvsadm {

// The protocol word of /etc/services for an IPPROTO_* ("tcp", "udp", "sctp"); null for any
// other (ipvsadm looks no name up then).
const char* services_protocol(uint16_t protocol);

class Names {
public:
    virtual ~Names() = default;
    // gethostbyname(name) when it yields an IPv4 address: the address in network byte order.
    virtual std::optional<uint32_t> ipv4_by_name(const std::string& name) = 0;
    // gethostbyaddr(addr): the host's official name. af is AF_INET (4 bytes) or AF_INET6 (16).
    virtual std::optional<std::string> host_by_addr(int af, const uint8_t* addr) = 0;
    // getservbyname(name, proto) with proto "tcp", "udp" or "sctp": the port, host order.
    virtual std::optional<uint16_t> port_by_name(const std::string& name, const char* proto) = 0;
    // getservbyport(port, proto): the service's name.
    virtual std::optional<std::string> service_by_port(uint16_t port, const char* proto) = 0;
};

// libc's resolver: what ipvsadm itself asks.
class SystemNames final : public Names {
public:
    std::optional<uint32_t> ipv4_by_name(const std::string& name) override;
    std::optional<std::string> host_by_addr(int af, const uint8_t* addr) override;
    std::optional<uint16_t> port_by_name(const std::string& name, const char* proto) override;
    std::optional<std::string> service_by_port(uint16_t port, const char* proto) override;
};

// Nothing resolves: every name is unknown (unit tests, and numeric output).
class NoNames final : public Names {
public:
    std::optional<uint32_t> ipv4_by_name(const std::string&) override { return std::nullopt; }
    std::optional<std::string> host_by_addr(int, const uint8_t*) override { return std::nullopt; }
    std::optional<uint16_t> port_by_name(const std::string&, const char*) override {
        return std::nullopt;
    }
    std::optional<std::string> service_by_port(uint16_t, const char*) override {
        return std::nullopt;
    }
};

}  // namespace ballast::ipvsadm
