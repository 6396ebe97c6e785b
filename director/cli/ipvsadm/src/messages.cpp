#include "ballast/ipvsadm/messages.hpp"

#include <cerrno>
#include <cstring>

namespace ballast::ipvsadm {

// libipvs looks the message up by the last library function that recorded itself; the service
// list (ipvs_get_services) and flush do not over netlink, so their errors read as init's.
std::string ipvs_strerror(Call call, int err) {
    struct Entry {
        Call call;
        bool any_call;
        int err;
        const char* message;
    };
    static const Entry table[] = {
        {Call::add_service, false, EEXIST, "Service already exists"},
        {Call::add_service, false, ENOENT, "Scheduler or persistence engine not found"},
        {Call::update_service, false, ESRCH, "No such service"},
        {Call::update_service, false, ENOENT, "Scheduler or persistence engine not found"},
        {Call::del_service, false, ESRCH, "No such service"},
        {Call::zero_service, false, ESRCH, "No such service"},
        {Call::add_dest, false, ESRCH, "Service not defined"},
        {Call::add_dest, false, EEXIST, "Destination already exists"},
        {Call::update_dest, false, ESRCH, "Service not defined"},
        {Call::update_dest, false, ENOENT, "No such destination"},
        {Call::del_dest, false, ESRCH, "Service not defined"},
        {Call::del_dest, false, ENOENT, "No such destination"},
        {Call::start_daemon, false, EEXIST, "Daemon has already run"},
        {Call::stop_daemon, false, ESRCH, "No daemon is running"},
        {Call::get_dests, false, ESRCH, "No such service"},
        {Call::get_service, false, ESRCH, "No such service"},
        {Call::init, true, EPERM, "Permission denied (you must be root)"},
        {Call::init, true, EINVAL,
         "Invalid operation.  Possibly wrong module version, address not unicast, ..."},
        {Call::init, true, ENOPROTOOPT, "Protocol not available"},
        {Call::init, true, ENOMEM, "Memory allocation problem"},
        {Call::init, true, EOPNOTSUPP, "Operation not supported with IPv6"},
        {Call::init, true, EAFNOSUPPORT, "Operation not supported with specified address family"},
        {Call::init, true, EMSGSIZE, "Module is wrong version"},
    };
    for (const auto& e : table)
        if ((e.any_call || e.call == call) && e.err == err) return e.message;
    return std::strerror(err);
}

std::string init_failure(int err) {
    // Without the IPVS family ipvsadm falls back to the old socket options, which fail with
    // ENOPROTOOPT; that is what it reports.
    if (err == ENOENT) err = ENOPROTOOPT;
    return "Can't initialize ipvs: " + ipvs_strerror(Call::init, err) +
           "\nAre you sure that IP Virtual Server is built in the kernel or as module?\n";
}

}  // namespace ballast::ipvsadm
