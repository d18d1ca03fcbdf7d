#!/bin/sh
# cli-verify.sh - `pmnode verify` (DESIGN.md CLI contract) on this host.
#
# usage: cli-verify.sh PMNODE PYTHON3 CASE FIXTURE_ROOT
# One CASE per meson test, so a failure names what broke.  FIXTURE_ROOT is
# a captured sysfs tree (another machine) for the remote-root case.
# Exit 0 pass, 1 fail, 77 skip (this host has no NUMA node 0).
set -u

pmnode=$1
python=$2
case_=$3
fixture_root=$4

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pmnode-verify.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
unset PMNODE_SYSFS_ROOT PMNODE_PRIVATE_NODES PMNODE_CONFIG PMNODE_LOG

fail() { echo "cli-verify.sh $case_: FAIL: $*" >&2; exit 1; }

need_node0() {
    [ -d /sys/devices/system/node/node0 ] || { echo "no NUMA node 0 on this host: skip"; exit 77; }
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

# expect_failed_check ARGS...: exit 1, nothing on stdout, one "pmnode: " line on stderr
expect_failed_check() {
    run "$@"
    [ "$rc" -eq 1 ] || fail "pmnode $* exited $rc, want 1"
    [ ! -s "$tmp/out" ] || fail "pmnode $* wrote to stdout"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "pmnode $* wrote not exactly one line to stderr"
    grep -q '^pmnode: ' "$tmp/err" || fail "pmnode $*: message does not start with 'pmnode: '"
}

# expect_says TEXT: the message contains TEXT (fixed string)
expect_says() {
    grep -qF -- "$1" "$tmp/err" || fail "message does not say \"$1\""
}

# check_json BACKEND SIZE_BYTES: $tmp/out is the documented object, all on node 0
check_json() {
    "$python" - "$tmp/out" "$1" "$2" "$(getconf PAGESIZE)" <<'PY' || fail "JSON check failed"
import json, sys
raw = open(sys.argv[1], encoding="utf-8").read()
doc = json.loads(raw)
backend, size, page = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def check(cond, what):
    if not cond:
        sys.exit("verify --json: " + what)
keys = ["node", "backend", "size_bytes", "page_size", "pages", "pages_per_node",
        "not_present", "unknown", "misplaced", "populate_ns", "populate_gib_per_s",
        "verify_ns", "ok"]
check(list(doc) == keys, "keys %r" % list(doc))
check(doc["node"] == 0, "node %r" % doc["node"])
check(doc["backend"] == backend, "backend %r" % doc["backend"])
check(doc["size_bytes"] == size, "size_bytes %r, want %d" % (doc["size_bytes"], size))
check(doc["page_size"] == page, "page_size %r, getconf PAGESIZE says %d" % (doc["page_size"], page))
want = size // page
check(doc["pages"] == want, "pages %r, want %d" % (doc["pages"], want))
check(doc["pages_per_node"] == {"0": want}, "pages_per_node %r, want {'0': %d}"
      % (doc["pages_per_node"], want))
check(doc["not_present"] == 0 and doc["unknown"] == 0 and doc["misplaced"] == 0,
      "not_present/unknown/misplaced %r/%r/%r"
      % (doc["not_present"], doc["unknown"], doc["misplaced"]))
check(doc["ok"] is True, "ok is %r" % doc["ok"])
check(isinstance(doc["populate_ns"], int) and doc["populate_ns"] > 0, "populate_ns %r"
      % doc["populate_ns"])
check(isinstance(doc["verify_ns"], int) and doc["verify_ns"] > 0, "verify_ns %r"
      % doc["verify_ns"])
rate = size / 2**30 / (doc["populate_ns"] / 1e9)
got = doc["populate_gib_per_s"]
check(isinstance(got, float) and abs(got - rate) <= max(0.002, rate * 0.001),
      "populate_gib_per_s %r, size/populate_ns gives %.4f" % (got, rate))
# Pretty-printed like list --json (json.dumps(indent=2)), up to float spelling.
check(raw.endswith("}\n") and raw.count("\n") == len(json.dumps(doc, indent=2).split("\n")),
      "layout differs from json.dumps(indent=2)")
PY
}

size=$((64 * 1024 * 1024))

case $case_ in
anon)
    need_node0
    run verify --node 0 --size 64M
    [ "$rc" -eq 0 ] || fail "exited $rc"
    [ ! -s "$tmp/err" ] || fail "wrote to stderr"
    pages=$((size / $(getconf PAGESIZE)))
    grep -Eq "^  on node 0 +$pages\$" "$tmp/out" || fail "no line with $pages pages on node 0"
    grep -Eq "^pages +$pages\$" "$tmp/out" || fail "no 'pages $pages' line"
    grep -Eq '^not present +0$' "$tmp/out" || fail "pages not present"
    grep -Eq '^misplaced +0$' "$tmp/out" || fail "pages misplaced"
    grep -Eq '^backend +anon$' "$tmp/out" || fail "no backend line"
    # MiB/s below 1 GiB/s (a loaded host, or slow memory).
    grep -Eq '^populate +[0-9.]+ ms, [0-9.]+ [GM]iB/s$' "$tmp/out" || fail "no populate rate"
    grep -Eq '^verify +[0-9.]+ ms, [0-9.]+% of populate' "$tmp/out" || fail "no verify cost"
    grep -Eq "^verdict +ok: all $pages pages on node 0\$" "$tmp/out" || fail "no ok verdict"
    [ "$(grep -c '^  on node ' "$tmp/out")" -eq 1 ] || fail "pages on more than one node"
    ;;
json)
    need_node0
    run verify --node 0 --size 64M --json
    [ "$rc" -eq 0 ] || fail "exited $rc"
    [ ! -s "$tmp/err" ] || fail "wrote to stderr"
    check_json anon "$size"
    # Plain bytes and the --opt=VALUE form mean the same.
    run verify --json --node=0 --size="$size"
    [ "$rc" -eq 0 ] || fail "exited $rc"
    check_json anon "$size"
    # Hex sizes, as the library and the shim read them.
    run verify --node 0 --size 0x4000000 --json
    [ "$rc" -eq 0 ] || fail "exited $rc"
    check_json anon "$size"
    # A size that is not a page multiple is rounded up to the granule.
    run verify --node 0 --size 1 --json
    [ "$rc" -eq 0 ] || fail "exited $rc"
    check_json anon "$(getconf PAGESIZE)"
    ;;
memfd)
    need_node0
    run verify --node 0 --size 64M --backend memfd
    [ "$rc" -eq 0 ] || fail "exited $rc"
    grep -Eq '^backend +memfd$' "$tmp/out" || fail "backend is not memfd"
    grep -Eq '^verdict +ok: ' "$tmp/out" || fail "no ok verdict"
    run verify --node 0 --size 64M --backend memfd --json
    [ "$rc" -eq 0 ] || fail "exited $rc"
    check_json memfd "$size"
    ;;
no-node)
    need_node0
    # Issue 13: every node that is not there says the same thing, whether
    # the id is absent here or beyond any id (65535).
    absent=$(( $(ls -d /sys/devices/system/node/node[0-9]* | sed 's/.*node//' | sort -n | tail -n 1) + 1 ))
    for n in 999 $absent 65535 65536 99999999999; do
        expect_usage_error verify --node $n --size 64M
        expect_says "pmnode: verify: --node $n: no such NUMA node ("
        expect_usage_error verify --node $n --size 64M --json
        expect_says "pmnode: verify: --node $n: no such NUMA node ("
    done
    expect_says "(node ids are 0 to 65535)"
    expect_usage_error verify --node $absent --size 64M
    expect_says "(this machine has node"
    expect_usage_error ctier --node $absent
    expect_says "pmnode: ctier: --node $absent: no such NUMA node ("
    expect_usage_error ctier --promote-node 65536
    expect_says "pmnode: ctier: --promote-node 65536: no such NUMA node ("
    expect_usage_error verify --node -1 --size 64M
    expect_usage_error verify --node 0x1 --size 64M
    expect_says "is not a node id"
    ;;
bad-size)
    need_node0
    # Malformed: bad usage (2).
    for s in 0 12Q -1 1.5G "" 64MB " 64M" 0x 0x1000k 0x0 k 1T1 18446744073709551615x; do
        expect_usage_error verify --node 0 --size "$s"
    done
    expect_usage_error verify --node 0 --size
    # Issue 13: well-formed but more than the node has, or than any address
    # space: a failed check (1), whatever the number, refused before
    # touching memory, saying what the node has.  The library's size
    # grammar (P and E units) parses: the node refuses it.
    for s in 1024T 1E 18446744073709551615 0xffffffffffffffff 18446744073709551616 \
             99999999999999999999 16777216T; do
        expect_failed_check verify --node 0 --size "$s"
        expect_says "pmnode: verify: --size $s does not fit on node 0 ("
        grep -Eq '\([0-9]+ bytes available\)$' "$tmp/err" ||
            fail "message does not say what is available"
        expect_failed_check verify --node 0 --size "$s" --json
    done
    expect_usage_error verify --node 0 --size 64M --headroom 12Q
    expect_usage_error verify --node 0 --size 64M --backend hugetlb:3M
    expect_usage_error verify --node 0 --size 64M --backend bogus
    expect_usage_error verify --node 0 --size 64M --backend hugetlb --thp
    ;;
missing-node)
    expect_usage_error verify --size 64M
    grep -q -- '--node' "$tmp/err" || fail "message does not name --node"
    expect_usage_error verify --size 64M --node
    expect_usage_error verify
    expect_usage_error verify --node 0
    grep -q -- '--size' "$tmp/err" || fail "message does not name --size"
    expect_usage_error verify --node 0 --size 64M stray
    expect_usage_error verify --node 0 --size 64M --bogus
    ;;
dax-missing)
    need_node0
    [ ! -e /dev/nonexistent ] || fail "/dev/nonexistent exists"
    expect_usage_error verify --node 0 --size 64M --backend dax:/dev/nonexistent
    expect_usage_error verify --size 64M --backend dax:/dev/nonexistent
    expect_says "No such file or directory"
    expect_usage_error verify --node 0 --size 64M --backend dax:
    # Issue 13: a file that is there but is not a device-dax device says so.
    for f in /etc/passwd /dev/null /; do
        expect_usage_error verify --size 64M --backend "dax:$f"
        expect_says "pmnode: verify: '$f' is not a device-dax device"
    done
    ;;
remote-root)
    [ -d "$fixture_root/sys/devices/system/node" ] || fail "no fixture at $fixture_root"
    PMNODE_SYSFS_ROOT=$fixture_root
    export PMNODE_SYSFS_ROOT
    expect_usage_error verify --node 0 --size 64M
    grep -q 'another machine' "$tmp/err" || fail "message does not mention another machine"
    expect_usage_error verify --node 0 --size 64M --backend memfd --json
    grep -q 'another machine' "$tmp/err" || fail "message does not mention another machine"
    unset PMNODE_SYSFS_ROOT
    ;;
help)
    run --help
    [ "$rc" -eq 0 ] || fail "pmnode --help exited $rc"
    grep -q '^  verify --node N --size BYTES' "$tmp/out" || fail "--help does not list verify"
    for args in "verify --help" "verify -h" "verify --node 0 --help"; do
        # shellcheck disable=SC2086
        run $args
        [ "$rc" -eq 0 ] || fail "pmnode $args exited $rc"
        grep -q '^usage: pmnode verify' "$tmp/out" || fail "pmnode $args printed no usage"
        grep -q 'pages_per_node' "$tmp/out" || fail "pmnode $args does not document --json"
        [ ! -s "$tmp/err" ] || fail "pmnode $args wrote to stderr"
    done
    ;;
*)
    fail "unknown case"
    ;;
esac
echo "cli-verify.sh $case_: ok"
