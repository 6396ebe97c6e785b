#pragma once
// One write to IPVS. reconcile::plan() produces these; IpvsClient::apply() executes them.
#include <string>
#include <utility>

#include "ballast/model/ipvs.hpp"

namespace ballast::model {

struct IpvsOp {
    enum class Kind : uint8_t {
        add_service,
        edit_service,
        del_service,
        add_dest,
        edit_dest,
        del_dest
    };
    Kind kind = Kind::add_service;
    ServiceKey service;
    ServiceSpec service_spec;  // add_service, edit_service
    RealKey real;              // *_dest
    RealSpec real_spec;        // add_dest, edit_dest

    static IpvsOp add_service(ServiceKey k, ServiceSpec s) {
        return {Kind::add_service, k, std::move(s), {}, {}};
    }
    static IpvsOp edit_service(ServiceKey k, ServiceSpec s) {
        return {Kind::edit_service, k, std::move(s), {}, {}};
    }
    static IpvsOp del_service(ServiceKey k) { return {Kind::del_service, k, {}, {}, {}}; }
    static IpvsOp add_dest(ServiceKey k, RealKey r, RealSpec s) {
        return {Kind::add_dest, k, {}, r, s};
    }
    static IpvsOp edit_dest(ServiceKey k, RealKey r, RealSpec s) {
        return {Kind::edit_dest, k, {}, r, s};
    }
    static IpvsOp del_dest(ServiceKey k, RealKey r) { return {Kind::del_dest, k, {}, r, {}}; }

    bool is_dest_op() const { return kind >= Kind::add_dest; }
    // The generic-netlink command this op becomes: "IPVS_CMD_NEW_DEST".
    const char* command_name() const;
    // What it concerns: "192.0.2.1:80/tcp" or "192.0.2.1:80/tcp -> 10.0.0.2:80".
    std::string key_string() const;
    // "add dest 192.0.2.1:80/tcp -> 10.0.0.2:80 weight 5"
    std::string to_string() const;
    auto operator<=>(const IpvsOp&) const = default;
};

}  // namespace ballast::model
