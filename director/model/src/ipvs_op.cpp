#include "ballast/model/ipvs_op.hpp"

namespace ballast::model {

const char* IpvsOp::command_name() const {
    switch (kind) {
        case Kind::add_service:
            return "IPVS_CMD_NEW_SERVICE";
        case Kind::edit_service:
            return "IPVS_CMD_SET_SERVICE";
        case Kind::del_service:
            return "IPVS_CMD_DEL_SERVICE";
        case Kind::add_dest:
            return "IPVS_CMD_NEW_DEST";
        case Kind::edit_dest:
            return "IPVS_CMD_SET_DEST";
        case Kind::del_dest:
            return "IPVS_CMD_DEL_DEST";
    }
    return "IPVS_CMD_UNSPEC";
}

std::string IpvsOp::key_string() const {
    std::string k = service.to_string();
    if (is_dest_op()) k += " -> " + real.to_string();
    return k;
}

std::string IpvsOp::to_string() const {
    static constexpr const char* kNames[] = {"add service", "edit service", "delete service",
                                             "add dest",    "edit dest",    "delete dest"};
    std::string s = std::string(kNames[static_cast<int>(kind)]) + " " + service.to_string();
    if (kind == Kind::add_service || kind == Kind::edit_service) {
        s += " scheduler " + service_spec.scheduler;
        if (service_spec.persistence)
            s += " persistent " + std::to_string(*service_spec.persistence);
    }
    if (is_dest_op()) s += " -> " + real.to_string();
    if (kind == Kind::add_dest || kind == Kind::edit_dest)
        s += " " + std::string(model::to_string(real_spec.forward)) + " weight " +
             std::to_string(real_spec.weight);
    return s;
}

}  // namespace ballast::model
