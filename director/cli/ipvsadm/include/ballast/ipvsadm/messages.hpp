#pragma once
// ipvsadm's words for kernel errors (libipvs's ipvs_strerror): the same errno reads
// differently depending on the call ("No such service" vs "Service not defined").
#include <string>

namespace ballast::ipvsadm {

enum class Call {
    init,
    add_service,
    update_service,
    del_service,
    zero_service,
    add_dest,
    update_dest,
    del_dest,
    start_daemon,
    stop_daemon,
    get_services,
    get_dests,
    get_service,
    flush,
    set_timeout,
    get_timeout,
    get_daemon,
};

std::string ipvs_strerror(Call call, int err);

// ipvsadm's two lines when IPVS cannot be reached at all (exit status 2).
std::string init_failure(int err);

}  // namespace ballast::ipvsadm
