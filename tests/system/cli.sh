#!/bin/sh
# cli.sh - the pmnode CLI contract (DESIGN.md) on this host.
#
# usage: cli.sh PMNODE PYTHON3 CASE
# One CASE per meson test, so a failure names what broke.
# Exit 0 pass, 1 fail, 77 skip (this host has no NUMA sysfs).
set -u

pmnode=$1
python=$2
case_=$3

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pmnode-cli.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
unset PMNODE_SYSFS_ROOT PMNODE_PRIVATE_NODES PMNODE_CONFIG PMNODE_LOG

fail() { echo "cli.sh $case_: FAIL: $*" >&2; exit 1; }

need_numa() {
    [ -d /sys/devices/system/node ] || { echo "no NUMA sysfs on this host: skip"; exit 77; }
}

# run ARGS...: status in $rc, output in $tmp/out and $tmp/err
run() {
    "$pmnode" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    echo "\$ pmnode $* -> $rc"
    sed 's/^/  out: /' "$tmp/out"
    sed 's/^/  err: /' "$tmp/err"
}

# expect_usage_error ARGS...: exit 2, nothing on stdout, one "pmnode: " line on stderr
expect_usage_error() {
    run "$@"
    [ "$rc" -eq 2 ] || fail "pmnode $* exited $rc, want 2"
    [ ! -s "$tmp/out" ] || fail "pmnode $* wrote to stdout"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "pmnode $* wrote not exactly one line to stderr"
    grep -q '^pmnode: ' "$tmp/err" || fail "pmnode $*: message does not start with 'pmnode: '"
}

case $case_ in
list)
    need_numa
    run list
    [ "$rc" -eq 0 ] || fail "exited $rc"
    head -n 1 "$tmp/out" | grep -q '^root /: [0-9]* nodes\{0,1\} (' || fail "no header line"
    grep -q '^node  *kind  *tier  *private  *cpus  *capacity  *free  *dax$' "$tmp/out" ||
        fail "no node table header"
    grep -q '^0  ' "$tmp/out" || fail "no row for node 0"
    grep -q '^node distances:$' "$tmp/out" || fail "no distance matrix"
    grep -q '^devices:$' "$tmp/out" || fail "no devices section"
    if [ -s "$tmp/err" ]; then
        grep -v '^pmnode: warning: ' "$tmp/err" && fail "stderr has lines that are not warnings"
    fi
    ;;
list-json)
    need_numa
    run list --json
    [ "$rc" -eq 0 ] || fail "exited $rc"
    "$python" - "$tmp/out" <<'PY' || fail "JSON does not match the DESIGN.md schema"
import json, sys
raw = open(sys.argv[1], encoding="utf-8").read()
doc = json.loads(raw)
def check(cond, what):
    if not cond:
        sys.exit("schema: " + what)
check(list(doc) == ["root", "nodes", "dax", "cxl"], "top-level keys %r" % list(doc))
check(doc["root"] == "/", "root is %r" % doc["root"])
node_keys = ["id", "kind", "private", "isolation", "cpus", "capacity_bytes",
             "free_bytes", "tier", "distance", "dax"]
kinds = {"dram", "hbm", "nvm", "spm", "cxl", "gpu", "compressed", "unknown"}
ids = [n["id"] for n in doc["nodes"]]
check(ids == sorted(ids) and len(set(ids)) == len(ids), "node ids not ascending")
for n in doc["nodes"]:
    check(list(n) == node_keys, "node keys %r" % list(n))
    check(n["kind"] in kinds, "kind %r" % n["kind"])
    check(n["isolation"] in ("none", "kernel", "config"), "isolation %r" % n["isolation"])
    check(isinstance(n["private"], bool), "private not a bool")
    check(isinstance(n["cpus"], str), "cpus not a string")
    d = n["distance"]
    check(d is None or (len(d) == len(ids) and all(isinstance(x, int) for x in d)),
          "distance %r" % d)
for d in doc["dax"]:
    check(list(d) == ["name", "path", "size_bytes", "align_bytes", "mode",
                      "target_node", "numa_node", "type"], "dax keys %r" % list(d))
for r in doc["cxl"]:
    check(list(r) == ["name", "mode", "size_bytes", "targets", "dax", "node"],
          "cxl keys %r" % list(r))
node0 = [n for n in doc["nodes"] if n["id"] == 0]
check(node0, "no node 0")
check(node0[0]["kind"] == "dram", "node 0 kind is %r" % node0[0]["kind"])
check(node0[0]["private"] is False, "node 0 is private")
# Pretty-printed exactly like json.dumps(indent=2), one trailing newline.
check(raw == json.dumps(doc, indent=2, ensure_ascii=False) + "\n", "layout differs")
PY
    if [ -s "$tmp/err" ]; then
        grep -v '^pmnode: warning: ' "$tmp/err" && fail "stderr has lines that are not warnings"
    fi
    ;;
bad-option)
    expect_usage_error list --bogus
    expect_usage_error --bogus
    expect_usage_error list stray-argument
    expect_usage_error list --root
    expect_usage_error frobnicate
    expect_usage_error verify
    expect_usage_error
    ;;
root-nonexistent)
    expect_usage_error list --root /nonexistent/pmnode-test
    expect_usage_error list --json --root=/nonexistent/pmnode-test
    PMNODE_SYSFS_ROOT=/nonexistent/pmnode-test
    export PMNODE_SYSFS_ROOT
    expect_usage_error list
    unset PMNODE_SYSFS_ROOT
    ;;
version)
    run --version
    [ "$rc" -eq 0 ] || fail "exited $rc"
    grep -Eqx 'pmnode [0-9]+\.[0-9]+\.[0-9]+.*' "$tmp/out" || fail "bad version line"
    [ "$(wc -l <"$tmp/out")" -eq 1 ] || fail "more than one line"
    ;;
help)
    for args in --help -h "list --help" "list -h"; do
        # shellcheck disable=SC2086
        run $args
        [ "$rc" -eq 0 ] || fail "pmnode $args exited $rc"
        grep -q '^usage: pmnode' "$tmp/out" || fail "pmnode $args printed no usage"
        [ ! -s "$tmp/err" ] || fail "pmnode $args wrote to stderr"
    done
    run --help
    grep -q 'list' "$tmp/out" || fail "--help does not mention list"
    ;;
*)
    fail "unknown case"
    ;;
esac
echo "cli.sh $case_: ok"
