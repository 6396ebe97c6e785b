#include "ballast/ipvsadm/names.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstring>
#include <vector>

namespace ballast::ipvsadm {

const char* services_protocol(uint16_t protocol) {
    switch (protocol) {
        case IPPROTO_TCP:
            return "tcp";
        case IPPROTO_UDP:
            return "udp";
        case IPPROTO_SCTP:
            return "sctp";
        default:
            return nullptr;
    }
}

namespace {
// The reentrant lookups grow their buffer until it fits (ERANGE).
template <typename Call>
bool with_buffer(Call&& call) {
    std::vector<char> buf(1024);
    for (int i = 0; i < 8; ++i) {
        int rc = call(buf);
        if (rc != ERANGE) return rc == 0;
        buf.resize(buf.size() * 4);
    }
    return false;
}
}  // namespace

std::optional<uint32_t> SystemNames::ipv4_by_name(const std::string& name) {
    hostent he{}, *result = nullptr;
    int herr = 0;
    std::optional<uint32_t> out;
    with_buffer([&](std::vector<char>& buf) {
        int rc = ::gethostbyname_r(name.c_str(), &he, buf.data(), buf.size(), &result, &herr);
        if (rc == 0 && result && result->h_addrtype == AF_INET &&
            result->h_length == sizeof(uint32_t) && result->h_addr_list[0]) {
            uint32_t a;
            std::memcpy(&a, result->h_addr_list[0], sizeof a);
            out = a;
        }
        return rc;
    });
    return out;
}

std::optional<std::string> SystemNames::host_by_addr(int af, const uint8_t* addr) {
    hostent he{}, *result = nullptr;
    int herr = 0;
    std::optional<std::string> out;
    const socklen_t len = af == AF_INET ? 4 : 16;
    with_buffer([&](std::vector<char>& buf) {
        int rc = ::gethostbyaddr_r(addr, len, af, &he, buf.data(), buf.size(), &result, &herr);
        if (rc == 0 && result && result->h_name) out = result->h_name;
        return rc;
    });
    return out;
}

std::optional<uint16_t> SystemNames::port_by_name(const std::string& name, const char* proto) {
    servent se{}, *result = nullptr;
    std::optional<uint16_t> out;
    with_buffer([&](std::vector<char>& buf) {
        int rc = ::getservbyname_r(name.c_str(), proto, &se, buf.data(), buf.size(), &result);
        if (rc == 0 && result) out = ntohs(static_cast<uint16_t>(result->s_port));
        return rc;
    });
    return out;
}

std::optional<std::string> SystemNames::service_by_port(uint16_t port, const char* proto) {
    servent se{}, *result = nullptr;
    std::optional<std::string> out;
    with_buffer([&](std::vector<char>& buf) {
        int rc = ::getservbyport_r(htons(port), proto, &se, buf.data(), buf.size(), &result);
        if (rc == 0 && result && result->s_name) out = result->s_name;
        return rc;
    });
    return out;
}

}  // namespace ballast::ipvsadm
