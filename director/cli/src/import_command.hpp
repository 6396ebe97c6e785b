#pragma once
// ballastctl import-keepalived FILE [-o OUT] [--config-id ID]
// Exit codes: 0 everything converted, 1 error (unreadable or unparseable
// input, with file:line; bad arguments; output not writable), 2 converted
// with items not converted (listed on stderr as file:line: keyword: why).

namespace ballast::cli {

// argv[0] is "import-keepalived".
int run_import_keepalived(int argc, char** argv);

}  // namespace ballast::cli
