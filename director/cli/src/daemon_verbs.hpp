#pragma once
// ballastctl's daemon verbs: status, drain, enable, weight, reload, plan, check-config, top,
// events -- requests to a running ballastd over its control socket.
#include <string_view>

namespace ballast::cli {

bool is_daemon_verb(std::string_view word);
// argv[0] is the verb. Exit status: 0 done, 1 the daemon refused or failed (or the file is
// invalid), 2 the daemon cannot be reached (not running, permission, protocol version).
int run_daemon_verb(int argc, char** argv);

}  // namespace ballast::cli
