#!/bin/sh
# check-man.sh PAGE... - each rendered man page is non-empty, has a .TH
# header, and (when man(1) is installed) renders without groff warnings.
set -u
fail=0
for page in "$@"; do
    if [ ! -s "$page" ]; then
        echo "FAIL $page: empty or missing"; fail=1; continue
    fi
    if ! grep -q '^\.TH ' "$page"; then
        echo "FAIL $page: no .TH header"; fail=1; continue
    fi
    if command -v man >/dev/null 2>&1; then
        warn=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
        if [ -n "$warn" ]; then
            echo "FAIL $page: $warn"; fail=1; continue
        fi
    fi
    echo "ok   $page"
done
exit $fail
