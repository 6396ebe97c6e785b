#!/usr/bin/env bash
# man_page_test.sh BINARY MANPAGE [SUBCOMMAND...]
# Every option that `BINARY --help` (and `BINARY SUBCOMMAND --help`) shows must appear in
# MANPAGE (roff; font escapes and \- are undone first). Fails naming each missing option.
set -euo pipefail
binary=$1 page=$2
shift 2
[[ -x $binary ]] || { echo "man_page_test: $binary is not executable" >&2; exit 1; }
[[ -r $page ]] || { echo "man_page_test: cannot read $page" >&2; exit 1; }

text=$(sed -e 's/\\f[BIRP]//g' -e 's/\\f(..//g' -e 's/\\-/-/g' -e 's/\\(em/--/g' "$page")

helps=("$("$binary" --help)")
for sub in "$@"; do helps+=("$("$binary" "$sub" --help)"); done

missing=0 checked=0
for help in "${helps[@]}"; do
    [[ -n $help ]] || { echo "man_page_test: empty --help from $binary" >&2; exit 1; }
    # Options: -x or --long-name, at the start of a word (after a blank, comma, |, [ or ().
    while read -r opt; do
        [[ -n $opt ]] || continue
        checked=$((checked + 1))
        if ! grep -qE -- "(^|[^A-Za-z0-9-])${opt}([^A-Za-z0-9-]|\$)" <<<"$text"; then
            echo "man_page_test: $opt (from $(basename "$binary") --help) is not in $page" >&2
            missing=$((missing + 1))
        fi
    done < <(grep -oE -- '(^|[ ,|[(])--?[A-Za-z0-9][A-Za-z0-9-]*' <<<"$help" | sed -E 's/^[ ,|[(]//' | sort -u)
done
((checked > 0)) || { echo "man_page_test: found no options in $binary --help" >&2; exit 1; }
((missing == 0)) || exit 1
echo "man_page_test: $checked options of $(basename "$binary") are all in $(basename "$page")"
