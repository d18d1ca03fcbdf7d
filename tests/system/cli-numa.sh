#!/bin/sh
# cli-numa.sh - pmnode numa: a running process's bytes per node from
# /proc/PID/numa_maps (issue 16).
#
# usage: cli-numa.sh PMNODE PYTHON3 CASE FIXTURES
# One CASE per meson test.  FIXTURES is tests/system/numa-maps (captured
# or hand-made numa_maps files for --numa-maps).
# Exit 0 pass, 1 fail, 77 skip (no /proc/self/numa_maps: a kernel without
# CONFIG_NUMA).
set -u

pmnode=$1
python=$2
case_=$3
fixtures=$4

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pmnode-numa.XXXXXX") || exit 1
child=
cleanup() {
    [ -n "$child" ] && kill "$child" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
unset PMNODE_SYSFS_ROOT PMNODE_PRIVATE_NODES PMNODE_CONFIG PMNODE_LOG

fail() { echo "cli-numa.sh $case_: FAIL: $*" >&2; exit 1; }

need_numa_maps() {
    [ -r /proc/self/numa_maps ] || { echo "no /proc/self/numa_maps (kernel without NUMA): skip"; exit 77; }
}

# run ARGS...: status in $rc, output in $tmp/out and $tmp/err (killed
# after 30 s: a watch must end on its own)
run() {
    timeout 30 "$pmnode" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    echo "\$ pmnode $* -> $rc"
    sed 's/^/  out: /' "$tmp/out"
    sed 's/^/  err: /' "$tmp/err"
}

# expect_error STATUS TEXT ARGS...: that status, nothing on stdout, one
# "pmnode: " line on stderr containing TEXT
expect_error() {
    want=$1 text=$2
    shift 2
    run "$@"
    [ "$rc" -eq "$want" ] || fail "pmnode $* exited $rc, want $want"
    [ ! -s "$tmp/out" ] || fail "pmnode $* wrote to stdout"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "pmnode $* wrote not exactly one line to stderr"
    grep -q '^pmnode: numa: ' "$tmp/err" || fail "pmnode $*: message does not start with 'pmnode: numa: '"
    grep -qF -- "$text" "$tmp/err" || fail "pmnode $*: message does not say \"$text\""
}

# json_get EXPR: evaluate EXPR on the JSON lines of $tmp/out (a list s of
# the objects), print the result
json_get() {
    "$python" -c '
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(eval(sys.argv[2]))' "$tmp/out" "$1" || fail "output is not one JSON object per line"
}

case $case_ in
grow)
    # A child that allocates and touches 64 MiB when told to: node 0
    # (every page of this one-node host) grows by at least that much
    # between a sample before and a sample after.
    need_numa_maps
    mkfifo "$tmp/go" || fail "mkfifo"
    "$python" -c '
import sys, time
sys.stdin.readline()
b = bytearray(b"\x01") * (64 << 20)
open(sys.argv[1], "w").write("ok")
time.sleep(60)' "$tmp/done" <"$tmp/go" &
    child=$!
    exec 3>"$tmp/go"
    run numa --json "$child"
    [ "$rc" -eq 0 ] || fail "first sample exited $rc"
    before=$(json_get 's[0]["nodes"].get("0", 0)')
    before_total=$(json_get 's[0]["total_bytes"]')
    [ "$(json_get 's[0]["pid"]')" -eq "$child" ] || fail "pid is not the child's"
    echo go >&3
    i=0
    while [ ! -s "$tmp/done" ]; do
        i=$((i + 1))
        [ $i -le 300 ] || fail "the child did not allocate in 30 s"
        sleep 0.1
    done
    run numa --json "$child"
    [ "$rc" -eq 0 ] || fail "second sample exited $rc"
    after=$(json_get 's[0]["nodes"].get("0", 0)')
    anon=$(json_get 's[0]["anon"].get("0", 0)')
    echo "node 0: $before -> $after bytes (anon $anon)"
    total=$(json_get 's[0]["total_bytes"]')
    [ "$total" -ge $((after + 0)) ] || fail "total $total below node 0's $after"
    if [ "$(ls -d /sys/devices/system/node/node[0-9]* 2>/dev/null | wc -l)" -le 1 ]; then
        [ $((after - before)) -ge $((64 << 20)) ] || fail "node 0 grew by $((after - before)) bytes, want >= 64 MiB"
        [ "$anon" -ge $((64 << 20)) ] || fail "anon on node 0 is $anon, want >= 64 MiB"
    else
        echo "several nodes here: the 64 MiB may land elsewhere; checking the total"
        [ $((total - before_total)) -ge $((64 << 20)) ] || fail "total grew by $((total - before_total)) bytes, want >= 64 MiB"
    fi
    # the human table says the same
    run numa "$child"
    [ "$rc" -eq 0 ] || fail "table exited $rc"
    grep -q '^0  ' "$tmp/out" || fail "no row for node 0"
    grep -q '100.0%' "$tmp/out" || fail "node 0 does not hold 100.0%"
    ;;
watch)
    # --interval: one row per sample; the JSON of the second and later
    # samples carries the delta per node, the first a null delta.
    need_numa_maps
    run numa --json --interval 0.05 --count 3 $$
    [ "$rc" -eq 0 ] || fail "exited $rc"
    [ "$(json_get 'len(s)')" -eq 3 ] || fail "not 3 samples"
    [ "$(json_get 's[0]["delta"] is None and all(isinstance(x["delta"], dict) for x in s[1:])')" = True ] ||
        fail "delta: null first, then an object"
    [ "$(json_get '[x["sample"] for x in s] == [1, 2, 3]')" = True ] || fail "samples not numbered 1, 2, 3"
    run numa --interval 0.05 --count 2 $$
    [ "$rc" -eq 0 ] || fail "exited $rc"
    [ "$(wc -l <"$tmp/out")" -eq 2 ] || fail "not one row per sample"
    sed -n 2p "$tmp/out" | grep -q 'node 0 .* (' || fail "second row has no delta for node 0"
    ;;
exits)
    # The process exiting while watched: a clean end, status 0, one message.
    need_numa_maps
    sleep 30 &
    child=$!
    (sleep 0.5; kill "$child") &
    run numa --interval 0.1 "$child"
    [ "$rc" -eq 0 ] || fail "exited $rc, want 0"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "not exactly one line on stderr"
    grep -q "process $child exited after" "$tmp/err" || fail "does not say the process exited"
    [ -s "$tmp/out" ] || fail "no sample before the exit"
    ;;
errors)
    # A dead process, a missing, malformed or hostile PID, bad options:
    # one line each, never a crash.
    true &
    dead=$!
    wait "$dead"
    expect_error 1 "no such process: $dead" numa "$dead"
    expect_error 2 "missing PID" numa
    expect_error 2 "missing PID" numa --json
    for bad in abc 0 -1 12x 1.5 "" " 1" 99999999999999999999 4194305 +1 0x10; do
        expect_error 2 "" numa -- "$bad"
    done
    expect_error 2 "PID 'abc'" numa abc
    expect_error 2 "unexpected argument" numa 1 2
    expect_error 2 "--interval" numa --interval 0 1
    expect_error 2 "--interval" numa --interval nan 1
    expect_error 2 "--interval" numa --interval 1e9 1
    expect_error 2 "--count" numa --count 0 1
    expect_error 2 "--count" numa --count -3 1
    expect_error 1 "nonexistent" numa --numa-maps "$tmp/nonexistent"
    if [ "$(id -u)" -ne 0 ] && [ -e /proc/1/numa_maps ] && ! cat /proc/1/numa_maps >/dev/null 2>&1; then
        expect_error 1 "Permission denied" numa 1
    else
        echo "permission case not checkable here (root, or pid 1 readable)"
    fi
    ;;
fixture)
    # A hand-made numa_maps: a file mapping on two nodes, 2 MiB huge pages
    # on two nodes, a private file mapping with anon pages, the stack, a
    # mapping with no pages, and six malformed lines (skipped, counted).
    run numa --json --numa-maps "$fixtures/two-nodes-huge"
    [ "$rc" -eq 0 ] || fail "exited $rc"
    n0=$((6 * 4096 + 1 * 2097152 + 2 * 4096 + 3 * 4096))
    n1=$((4 * 4096 + 2 * 2097152))
    a0=$((2097152 + 3 * 4096))
    a1=$((2 * 2097152))
    got=$(json_get '(s[0]["nodes"], s[0]["anon"], s[0]["total_bytes"], s[0]["bad_lines"])')
    want="({'0': $n0, '1': $n1}, {'0': $a0, '1': $a1}, $((n0 + n1)), 6)"
    [ "$got" = "$want" ] || fail "got $got, want $want"
    [ "$(json_get 's[0]["pid"] is None')" = True ] || fail "pid is not null for --numa-maps"
    run numa --numa-maps "$fixtures/two-nodes-huge"
    [ "$rc" -eq 0 ] || fail "table exited $rc"
    grep -q "^1 *$n1 " "$tmp/out" || fail "no row '1  $n1' for node 1"
    grep -q "6 malformed lines skipped" "$tmp/out" || fail "malformed lines not reported"
    # Audit 2: a count at the saturated maximum prints as a size, not as
    # unknown and not as stack bytes.
    printf '7f00 default N3=18446744073709551615 kernelpagesize_kB=4\n' >"$tmp/sat"
    run numa --numa-maps "$tmp/sat"
    [ "$rc" -eq 0 ] || fail "saturated: exited $rc"
    ! LC_ALL=C grep -q '[^[:print:][:space:]]' "$tmp/out" || fail "unprintable bytes in the output"
    grep -q ': >=16.0 EiB resident in 1 mappings$' "$tmp/out" || fail "saturated total not >=16.0 EiB"
    grep -q '^3  *18446744073709551615  *>=16.0 EiB  ' "$tmp/out" || fail "saturated row for node 3"
    # cut anywhere, the file still parses (no crash, status 0)
    size=$(wc -c <"$fixtures/two-nodes-huge")
    i=1
    while [ $i -lt "$size" ]; do
        head -c $i "$fixtures/two-nodes-huge" >"$tmp/cut"
        "$pmnode" numa --json --numa-maps "$tmp/cut" >/dev/null 2>&1 || fail "a cut at $i bytes exited $?"
        i=$((i + 7))
    done
    ;;
*)
    fail "unknown case"
    ;;
esac
exit 0
