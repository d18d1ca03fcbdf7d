#!/bin/sh
# expect.sh PATTERN CMD... : CMD must fail and print PATTERN (a memory
# checker's report) - proof that the checker sees inside arenas.
pattern=$1
shift
out=$("$@" 2>&1)
rc=$?
if [ $rc -eq 0 ]; then
    echo "FAIL: '$*' exited 0; the checker reported nothing"
    printf '%s\n' "$out" | tail -20
    exit 1
fi
if ! printf '%s\n' "$out" | grep -q -- "$pattern"; then
    echo "FAIL: '$*' exited $rc without '$pattern'"
    printf '%s\n' "$out" | tail -20
    exit 1
fi
echo "ok: '$*' reported '$pattern' (exit $rc)"
