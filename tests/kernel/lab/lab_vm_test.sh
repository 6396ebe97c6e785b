#!/usr/bin/env bash
# lab-vm's contract, from the host: exit statuses come back, arguments and
# environment arrive intact in the caller's directory, the guest's /tmp and
# /run are its own, and a lab failure is a loud non-zero exit, not a pass.
set -uo pipefail
lab_vm=$(realpath "${1:?usage: lab_vm_test.sh path/to/lab-vm}")
failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

"$lab_vm" false
rc=$?
((rc == 1)) || fail "lab-vm false returned $rc, want 1"

"$lab_vm" sh -c 'exit 7'
rc=$?
((rc == 7)) || fail "lab-vm sh -c 'exit 7' returned $rc, want 7"

# Arguments with spaces, quotes, \$ and empty strings; env passthrough; cwd;
# fresh /tmp (the host's probe file is invisible) and /run (nothing leaks back).
probe=ballast-lab-probe-$$
touch "/tmp/$probe"
cd "$(dirname "$lab_vm")" || exit 1
want="[$PWD][x'y z][a b][c'd][\$HOME][][no-host-tmp]"
got=$(BALLAST_PROBE="x'y z" "$lab_vm" sh -c '
    printf "[%s]" "$PWD" "$BALLAST_PROBE" "$@"
    [ -e /tmp/'"$probe"' ] || printf "[no-host-tmp]"
    touch /run/'"$probe"'' argv0 "a b" "c'd" '$HOME' '')
rc=$?
((rc == 0)) || fail "argument probe returned $rc"
[[ $got == "$want" ]] || fail "argument probe printed '$got', want '$want'"
[[ ! -e /run/$probe ]] || fail "the guest wrote into the host's /run"
rm -f "/tmp/$probe" "/run/$probe"

# A caller working under /tmp (a CI clone there, say) still sees its own
# directory in the guest, and nothing else of the host's /tmp.
work=$(mktemp -d /tmp/ballast-lab-cwd.XXXXXX)
echo visible >"$work/marker"
touch "/tmp/$probe"
got=$(cd "$work" && "$lab_vm" sh -c 'cat marker; [ -e /tmp/'"$probe"' ] || echo no-host-tmp; echo guest >written')
rc=$?
((rc == 0)) || fail "lab-vm from a /tmp working directory returned $rc"
[[ $got == $'visible\nno-host-tmp' ]] || fail "lab-vm from $work printed '$got', want the marker and no host /tmp"
[[ $(cat "$work/written" 2>/dev/null) == guest ]] || fail "the guest's write into $work did not reach the host"
rm -rf "$work" "/tmp/$probe"

# The lab itself failing must be an error (125) with a message, never a pass.
err=$(BALLAST_LAB_TIMEOUT=1 "$lab_vm" true 2>&1 >/dev/null)
rc=$?
((rc == 125)) || fail "timed-out lab-vm returned $rc, want 125"
[[ $err == *"timed out"* ]] || fail "timed-out lab-vm said '$err', want a timeout message"

((failures == 0)) && echo "lab-vm contract: all checks passed"
((failures == 0))
