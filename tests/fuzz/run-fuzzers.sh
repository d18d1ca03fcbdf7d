#!/bin/sh
# run-fuzzers.sh - build the libFuzzer harnesses with clang and run them.
#
#   tests/fuzz/run-fuzzers.sh [SECONDS [TARGET...]]
#
# SECONDS (default 60) is the run time of each target; TARGET is any of
# list numbers meminfo config env preload numamaps (default all).  Environment:
#   CC        clang to use (default clang)
#   JOBS      targets run at once (default 2)
#   FUZZ_DIR  build and work directory (default build-fuzz at the repo top)
#
# Each harness is compiled straight from the sources (harness, parse.c,
# bitmap.c, errors.c, discover/config.c, preload/config.c, and pmnode's
# tools/pmnode/numamaps.c) with
# -fsanitize=fuzzer,address,undefined, run for SECONDS on a
# scratch copy of tests/fuzz/corpus/TARGET, and the result is minimised
# with -merge=1 back into tests/fuzz/corpus/TARGET.  Crash inputs are left
# in FUZZ_DIR/artifacts; the script exits 1 if any target found one.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-list numbers meminfo config env preload numamaps}
CC=${CC:-clang}
JOBS=${JOBS:-2}
out=${FUZZ_DIR:-$top/build-fuzz}

mkdir -p "$out/bin" "$out/work" "$out/logs" "$out/artifacts"
# errors.c wants the configured header; the version does not matter here.
printf '#define PMN_VERSION "fuzz"\n#define PMN_HAVE_DAXCTL 0\n#define PMN_HAVE_CXL 0\n' \
    >"$out/pmn-config.h"

flags="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -Wall -Wextra -I$top/include -I$top/libpmnode -I$out"

for t in $targets; do
    [ -f "$here/fuzz-$t.c" ] || { echo "run-fuzzers: no target '$t'" >&2; exit 2; }
    echo "build fuzz-$t"
    # shellcheck disable=SC2086
    "$CC" $flags "$here/fuzz-$t.c" "$top/libpmnode/core/parse.c" "$top/libpmnode/core/bitmap.c" "$top/libpmnode/core/errors.c" "$top/libpmnode/discover/config.c" \
        "$top/libpmnode/preload/config.c" "$top/tools/pmnode/numamaps.c" -I"$top/tools/pmnode" \
        -o "$out/bin/fuzz-$t"
done

run_one() {
    t=$1
    corpus=$here/corpus/$t
    work=$out/work/$t
    log=$out/logs/$t.log
    rm -rf "$work" "$work.merged"
    mkdir -p "$corpus" "$work" "$work.merged"
    cp -R "$corpus"/. "$work"/
    rc=0
    "$out/bin/fuzz-$t" -max_total_time="$secs" -print_final_stats=1 -max_len=4096 \
        -timeout=10 -artifact_prefix="$out/artifacts/$t-" "$work" >"$log" 2>&1 || rc=$?
    # minimise: keep the smallest set of inputs with the same coverage
    "$out/bin/fuzz-$t" -merge=1 "$work.merged" "$work" >>"$log" 2>&1
    if [ "$(ls -A "$work.merged")" ]; then
        find "$corpus" -type f -delete
        cp "$work.merged"/* "$corpus"/
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    # the fuzzing run's last status line (the merge prints its own later)
    cov=$(grep -m 1 -E '^#[0-9]+[[:space:]]+DONE' "$log" |
        sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*/cov \1 ft \2/p')
    files=$(find "$corpus" -type f | wc -l)
    status=ok
    [ "$rc" -eq 0 ] || status="FAILED (rc $rc, see $log)"
    echo "fuzz-$t: ${secs}s execs ${execs:-?} (${rate:-?}/s) $cov corpus $files files: $status"
    return "$rc"
}

fail=0
pids=""
running=0
for t in $targets; do
    run_one "$t" >"$out/logs/$t.summary" 2>&1 &
    pids="$pids $!"
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
        # wait for the oldest run; simple and POSIX
        # shellcheck disable=SC2086 # word splitting of the pid list is intended
        set -- $pids
        wait "$1" || fail=1
        shift
        pids="$*"
        running=$((running - 1))
    fi
done
for p in $pids; do
    wait "$p" || fail=1
done
for t in $targets; do
    cat "$out/logs/$t.summary"
done
exit "$fail"
