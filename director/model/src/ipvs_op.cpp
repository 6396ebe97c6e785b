#include "ballast/model/ipvs_op.hpp"

namespace ballast::model {

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
