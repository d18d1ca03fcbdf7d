#!/bin/sh
# cli-top.sh - pmnode top (issue 18): processes' memory per node from
# numa_maps, with the arena counters a process publishes (pmn_publish(3)).
#
# usage: cli-top.sh PMNODE PYTHON3 SHIM CASE FIXTURES
# One CASE per meson test:
#   shim     a child running under the shim with "publish": pmnode top
#            --pid (JSON and table) and the all-process view see its arena
#   exits    the process exits while watched: status 0, one message
#   errors   bad usage (2), no such process (1)
#   fixture  --numa-maps on a captured file: nodes, anon and huge split
#   hostile  a symlinked publish directory and garbage files are reported
#            with a reason, never shown
# Exit 0 pass, 1 fail, 77 skip (no /proc/self/numa_maps).
set -u

pmnode=$1
python=$2
shim=$3
case_=$4
fixtures=$5

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pmnode-top.XXXXXX") || exit 1
chmod 700 "$tmp"
child=
cleanup() {
    [ -n "$child" ] && kill "$child" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
unset PMNODE_SYSFS_ROOT PMNODE_PRIVATE_NODES PMNODE_CONFIG PMNODE_LOG
export XDG_RUNTIME_DIR="$tmp/xdg"
mkdir -m 700 "$XDG_RUNTIME_DIR"

fail() { echo "cli-top.sh $case_: FAIL: $*" >&2; exit 1; }

[ -r /proc/self/numa_maps ] || { echo "no /proc/self/numa_maps (kernel without NUMA): skip"; exit 77; }

run() {
    timeout 30 "$pmnode" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    echo "\$ pmnode $* -> $rc"
    sed 's/^/  out: /' "$tmp/out"
    sed 's/^/  err: /' "$tmp/err"
}

expect_error() {
    want=$1 text=$2
    shift 2
    run "$@"
    [ "$rc" -eq "$want" ] || fail "pmnode $* exited $rc, want $want"
    grep -q "$text" "$tmp/err" || fail "pmnode $*: no '$text' on stderr"
}

# py EXPR...: a Python check on the JSON lines of $tmp/out (list 'objs')
py() {
    "$python" - "$tmp/out" "$@" <<'PYEOF' || fail "check failed: $*"
import json, sys
objs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for expr in sys.argv[2:]:
    if not eval(expr):
        print("false:", expr, file=sys.stderr)
        sys.exit(1)
PYEOF
}

# A child under the shim publishing its arena: 20000 objects of 1000
# bytes, then it waits for its stdin to close.
start_child() {
    # A sanitizer build's shim cannot be preloaded into an uninstrumented
    # python (the runtime must come first): the shim suites fail there too.
    if ldd "$shim" 2>/dev/null | grep -q -e libasan -e libtsan -e libubsan; then
        echo "the shim is built with a sanitizer runtime: skip"
        exit 77
    fi
    mkfifo "$tmp/fifo"
    LD_PRELOAD="$shim" PMNODE_PRELOAD="node=0;threshold=0;publish" "$python" -c '
import sys
import time
keep = [bytearray(1000) for i in range(20000)]
# The figures are written from allocator slow paths at most every 100 ms
# (pmn_publish(3)): one large block after more than that writes them with
# every object above counted.
time.sleep(0.3)
big = bytearray(1 << 20)
print("ready", flush=True)
sys.stdin.read()
' <"$tmp/fifo" >"$tmp/child.out" &
    child=$!
    exec 9>"$tmp/fifo"
    for i in $(seq 1 100); do
        grep -q ready "$tmp/child.out" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "the child did not start"
}

case $case_ in
shim)
    start_child
    ls -l "$XDG_RUNTIME_DIR/pmnode"
    [ -f "$XDG_RUNTIME_DIR/pmnode/$child" ] || fail "no published file for $child"
    run top --pid "$child" --json
    [ "$rc" -eq 0 ] || fail "exit $rc"
    py "len(objs) == 1" "objs[0]['processes'][0]['pid'] == $child" \
       "objs[0]['processes'][0]['total_bytes'] > 0" \
       "objs[0]['processes'][0]['published'] is not None" \
       "[e['name'] for e in objs[0]['processes'][0]['published']['entries']] == ['shim']" \
       "objs[0]['processes'][0]['published']['entries'][0]['objects'] >= 20000" \
       "objs[0]['processes'][0]['published']['entries'][0]['allocated'] >= 20000 * 1000" \
       "objs[0]['processes'][0]['published']['entries'][0]['bytes_per_node']['0'] > 0"
    run top --pid "$child" --once
    [ "$rc" -eq 0 ] || fail "exit $rc"
    grep -q "placed by libpmnode" "$tmp/out" || fail "no published section in the table"
    grep -q "^shim  *arena" "$tmp/out" || fail "no shim arena row"
    ! grep -q "$(printf '\033')" "$tmp/out" || fail "escape codes when stdout is not a terminal"
    run top --json --limit 0
    [ "$rc" -eq 0 ] || fail "exit $rc"
    py "any(p['pid'] == $child and p['published'] is not None for p in objs[0]['processes'])"
    run top --once --limit 0
    grep -q "^ *$child " "$tmp/out" || fail "all-process table lacks $child"
    exec 9>&-
    wait "$child"
    child=
    ls "$XDG_RUNTIME_DIR/pmnode" | grep -q . && fail "the file stayed after a normal exit"
    ;;
exits)
    sleep 1 &
    child=$!
    run top --pid "$child" --interval 0.1 --count 200
    [ "$rc" -eq 0 ] || fail "exit $rc when the process exits while watched"
    grep -q "exited after" "$tmp/err" || fail "no message that it exited"
    child=
    ;;
errors)
    expect_error 2 "pid 'abc'" top --pid abc
    expect_error 2 "want a process id" top --pid 0
    expect_error 2 "count" top --count 0
    expect_error 2 "interval" top --interval 0
    expect_error 2 "needs --pid" top --numa-maps "$fixtures/two-nodes-huge"
    expect_error 2 "unexpected argument" top 123
    expect_error 1 "no such process" top --pid 4194304
    ;;
fixture)
    run top --pid $$ --numa-maps "$fixtures/two-nodes-huge" --json
    [ "$rc" -eq 0 ] || fail "exit $rc"
    py "objs[0]['processes'][0]['nodes'] == {'0': 2142208, '1': 4210688}" \
       "objs[0]['processes'][0]['huge'] == {'0': 2097152, '1': 4194304}" \
       "objs[0]['processes'][0]['anon'] == {'0': 2109440, '1': 4194304}" \
       "objs[0]['processes'][0]['bad_lines'] == 6"
    run top --pid $$ --numa-maps "$fixtures/two-nodes-huge" --once
    grep -q "^   1 " "$tmp/out" || fail "no row for node 1"
    grep -q "########################" "$tmp/out" || fail "no full ASCII bar for the largest node"
    ;;
hostile)
    mkdir -m 700 "$tmp/real"
    ln -s "$tmp/real" "$tmp/link"
    run top --pid $$ --publish-dir "$tmp/link" --json
    [ "$rc" -eq 0 ] || fail "exit $rc"
    py "objs[0]['processes'][0]['published'] is None" \
       "'symbolic link' in objs[0]['processes'][0]['publish_error']"
    head -c 26752 /dev/urandom >"$tmp/real/$$"
    run top --pid $$ --publish-dir "$tmp/real" --json
    py "objs[0]['processes'][0]['published'] is None" \
       "'bad magic' in objs[0]['processes'][0]['publish_error']"
    head -c 100 /dev/zero >"$tmp/real/$$"
    run top --pid $$ --publish-dir "$tmp/real" --once
    grep -q "published stats refused: .*truncated" "$tmp/out" || fail "no reason for a truncated file"
    head -c 10000000 /dev/zero >"$tmp/real/$$"
    run top --pid $$ --publish-dir "$tmp/real" --json
    py "'larger than the format' in objs[0]['processes'][0]['publish_error']"
    # Audit 3: counters at 2^64 - 1 (anyone may publish them) print as a
    # saturated size, never as stack bytes.
    "$python" - $$ "$tmp/real/$$" <<'PYEOF' || fail "cannot write the published file"
import os, struct, sys, time
pid, path = int(sys.argv[1]), sys.argv[2]
hdr = struct.pack("<8sIIIIQiIQQQQII48s", b"PMNPUBL\0", 1, 128, 416, 64, 128 + 64 * 416, pid,
                  os.geteuid(), 0, 0, time.time_ns(), 1, 2, 100, b"\0" * 48)
def ent(name, v):
    e = struct.pack("<32sII", name, 1, 0) + struct.pack("<15Q", v, 1, v, v, 0, 0, 0, 0, 0, 0, 0,
                                                         0, 0, 0, v)
    return e + b"\0" * (416 - len(e))
body = ent(b"first", 2**64 - 1) + ent(b"second", 2**64 - 1) + b"\0" * (416 * 62)
with open(path, "wb") as f:
    f.write(hdr + body)
os.chmod(path, 0o600)
PYEOF
    run top --pid $$ --publish-dir "$tmp/real" --once
    [ "$rc" -eq 0 ] || fail "saturated counters: exit $rc"
    ! LC_ALL=C grep -q '[^[:print:][:space:]]' "$tmp/out" || fail "unprintable bytes in the output"
    grep -q '^first  *[a-z]*  *>=16.0 EiB  *1  *>=16.0 EiB  *>=16.0 EiB ' "$tmp/out" ||
        fail "saturated counters of 'first' not shown as >=16.0 EiB"
    ;;
*)
    echo "unknown case $case_" >&2
    exit 2
    ;;
esac
echo "cli-top.sh $case_: ok"
