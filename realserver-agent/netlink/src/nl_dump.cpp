#include "ballast/agent/nl_dump.hpp"

#include <netlink/netlink.h>

#include <cerrno>

namespace ballast::agent {

int errno_of_nl(int nl_err) {
    switch (-nl_err) {
        case NLE_DUMP_INTR:
        case NLE_INTR:
            return EINTR;
        case NLE_AGAIN:
            return EAGAIN;
        case NLE_NOMEM:
            return ENOMEM;
        case NLE_BAD_SOCK:
            return EBADF;
        case NLE_PERM:
            return EPERM;
        case NLE_NOACCESS:
            return EACCES;
        case NLE_MSG_TRUNC:
        case NLE_MSG_OVERFLOW:
        case NLE_PARSE_ERR:
            return EBADMSG;
        default:
            return EIO;
    }
}

Error nl_error(int nl_err, const std::string& op) {
    return make_error(errno_of_nl(nl_err), op, {}, std::string(nl_geterror(nl_err)));
}

}  // namespace ballast::agent
