#!/usr/bin/env bash
# completion_test.sh COMPLETION_FILE: ballastctl's bash completion, driven as bash would drive it
# (with bash-completion's own helpers), completes commands, options and their values.
set -uo pipefail
framework=/usr/share/bash-completion/bash_completion
[[ -r $framework ]] || { echo "completion_test: $framework missing (Debian bash-completion)" >&2; exit 1; }
# shellcheck disable=SC1090
source "$framework"
# shellcheck disable=SC1090
source "$1"
complete -p ballastctl >/dev/null || { echo "completion_test: nothing registered for ballastctl" >&2; exit 1; }

fail=0
expect() {  # expect "WORDS..." WORD-THAT-MUST-BE-OFFERED
    local line=$1 want=$2
    read -ra COMP_WORDS <<<"$line"
    [[ $line == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE=$line COMP_POINT=${#line}
    COMPREPLY=()
    _ballastctl ballastctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    local w
    for w in "${COMPREPLY[@]}"; do [[ $w == "$want" ]] && return; done
    echo "completion_test: '$line' does not offer '$want' (got: ${COMPREPLY[*]})" >&2
    fail=1
}
expect "ballastctl -" "-A"
expect "ballastctl --li" "--list"
expect "ballastctl d" "doctor"
expect "ballastctl i" "import-keepalived"
expect "ballastctl -A -t 10.0.0.1:80 -s " "wlc"
expect "ballastctl -A -t 10.0.0.1:80 -s s" "sh"
expect "ballastctl -A -t 10.0.0.1:80 -s sh -b " "sh-port"
expect "ballastctl --start-daemon " "backup"
expect "ballastctl -L -o " "json"
expect "ballastctl -L --st" "--stats"
expect "ballastctl -L --js" "--json"
expect "ballastctl -a -t 10.0.0.1:80 -r 10.0.0.2 --ma" "--masquerading"
expect "ballastctl doctor --" "--json"
expect "ballastctl st" "status"
expect "ballastctl dr" "drain"
expect "ballastctl status -o " "json"
expect "ballastctl drain 10.0.0.2:80 --se" "--service"
expect "ballastctl top -" "--interval"
expect "ballastctl events --" "--backlog"
exit $fail
