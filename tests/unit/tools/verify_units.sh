#!/usr/bin/env bash
# systemd-analyze verify on every unit in conf/, as `cmake --install` installs it: each
# /usr/sbin/<binary> path is pointed at the binary just built, so verify checks the unit's
# syntax, its sandboxing options and that every command exists. Any output is a failure.
#   verify_units.sh SOURCE_DIR BINARY...
set -euo pipefail
src=$1
shift
command -v systemd-analyze >/dev/null || { echo "systemd-analyze is missing (package systemd)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
units=("$src"/conf/*.service)
((${#units[@]})) || { echo "no units in $src/conf"; exit 1; }
status=0
for unit in "${units[@]}"; do
    name=$(basename "$unit")
    cp "$unit" "$tmp/$name"
    for bin in "$@"; do
        sed -i "s#/usr/sbin/$(basename "$bin")\\b#$bin#g" "$tmp/$name"
    done
    if grep -q '/usr/sbin/ballast' "$tmp/$name"; then
        echo "$name: runs a ballast binary this test was not given"; status=1; continue
    fi
    out=$(systemd-analyze verify --man=no "$tmp/$name" 2>&1) || { echo "$name: verify failed"; status=1; }
    if [[ -n "$out" ]]; then echo "$name:"; echo "$out"; status=1; fi
    echo "$name: $(systemd-analyze security --offline=yes "$tmp/$name" 2>/dev/null | tail -1)"
done
exit $status
