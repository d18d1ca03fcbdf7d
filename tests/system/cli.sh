#!/bin/sh
# cli.sh - the pmnode CLI contract (DESIGN.md) on this host.
#
# usage: cli.sh PMNODE PYTHON3 CASE [FIXTURES]
# One CASE per meson test, so a failure names what broke.  FIXTURES is
# tests/fixtures, for the cases that describe a captured tree (--root)
# instead of this host.
# Exit 0 pass, 1 fail, 77 skip (this host has no NUMA sysfs).
set -u

pmnode=$1
python=$2
case_=$3
fixtures=${4:-}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pmnode-cli.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
unset PMNODE_SYSFS_ROOT PMNODE_PRIVATE_NODES PMNODE_CONFIG PMNODE_LOG

fail() { echo "cli.sh $case_: FAIL: $*" >&2; exit 1; }

need_numa() {
    [ -d /sys/devices/system/node ] || { echo "no NUMA sysfs on this host: skip"; exit 77; }
}

# run ARGS...: status in $rc, output in $tmp/out and $tmp/err; with $limit
# set, killed after that many seconds (status 124)
limit=
run() {
    if [ -n "$limit" ]; then
        timeout "$limit" "$pmnode" "$@" >"$tmp/out" 2>"$tmp/err"
    else
        "$pmnode" "$@" >"$tmp/out" 2>"$tmp/err"
    fi
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

# expect_says TEXT: the one line on stderr contains TEXT (fixed string)
expect_says() {
    grep -qF -- "$1" "$tmp/err" || fail "message does not say \"$1\""
    ! grep -q 'invalid configuration value' "$tmp/err" || fail "message says only 'invalid configuration value'"
}

# A copy of the one-node-dram fixture's root in $tmp/root, with an etc/.
fixture_root() {
    [ -d "$fixtures/one-node-dram/root/sys" ] || fail "no fixtures at '$fixtures'"
    cp -R "$fixtures/one-node-dram/root" "$tmp/root" || fail "cannot copy the fixture"
    mkdir -p "$tmp/root/etc"
}

case $case_ in
config-errors)
    # Issue 13: a configuration problem names the file, the line and what
    # is wrong, or the variable, without PMNODE_LOG.
    fixture_root
    conf=$tmp/pmnode.conf
    printf '# pmnode.conf\nprivat 2\n' >"$conf"
    export PMNODE_CONFIG=$conf
    expect_usage_error list --root "$tmp/root"
    unset PMNODE_CONFIG
    expect_says "pmnode: list: $conf:2: unknown key 'privat'"
    printf 'private 0\n\nprivate 1 2\n' >"$conf"
    export PMNODE_CONFIG=$conf
    expect_usage_error list --root "$tmp/root"
    unset PMNODE_CONFIG
    expect_says "$conf:3: 'private' takes one node list"
    printf 'private 0-\n' >"$conf"
    export PMNODE_CONFIG=$conf
    expect_usage_error list --root "$tmp/root"
    unset PMNODE_CONFIG
    expect_says "$conf:1: '0-' is not a node list"
    printf 'kind 0 tofu\n' >"$conf"
    export PMNODE_CONFIG=$conf
    expect_usage_error list --json --root "$tmp/root"
    unset PMNODE_CONFIG
    expect_says "$conf:1: unknown kind 'tofu'"
    export PMNODE_CONFIG=$tmp/missing.conf
    expect_usage_error list --root "$tmp/root"
    unset PMNODE_CONFIG
    expect_says "$tmp/missing.conf (named by PMNODE_CONFIG): no such file"
    export PMNODE_PRIVATE_NODES=2-x
    expect_usage_error list --root "$tmp/root"
    unset PMNODE_PRIVATE_NODES
    expect_says "PMNODE_PRIVATE_NODES: '2-x' is not a node list"
    export PMNODE_PRIVATE_NODES=70000
    expect_usage_error list --root "$tmp/root"
    unset PMNODE_PRIVATE_NODES
    expect_says "PMNODE_PRIVATE_NODES: '70000' names a node above 65535"
    export PMNODE_LOG=loud
    expect_usage_error list --root "$tmp/root"
    unset PMNODE_LOG
    expect_says "PMNODE_LOG: 'loud' is not a log level"
    # The default file lives in the root, and is named with it.
    printf 'kind 0 dram\nkind 0 cxl\n' >"$tmp/root/etc/pmnode.conf"
    expect_usage_error list --root "$tmp/root"
    expect_says "$tmp/root/etc/pmnode.conf:2: a second kind for node 0"
    # verify, run and ctier say the same (before touching memory).
    export PMNODE_SYSFS_ROOT=$tmp/root
    expect_usage_error verify --node 0 --size 1M
    expect_says "pmnode: verify: $tmp/root/etc/pmnode.conf:2: a second kind for node 0"
    expect_usage_error run --node 0 -- true
    expect_says "pmnode: run: $tmp/root/etc/pmnode.conf:2: a second kind for node 0"
    expect_usage_error ctier --stand-in
    expect_says "pmnode: ctier: $tmp/root/etc/pmnode.conf:2: a second kind for node 0"
    unset PMNODE_SYSFS_ROOT
    # A good file still works.
    printf 'kind 0 cxl\n' >"$tmp/root/etc/pmnode.conf"
    run list --json --root "$tmp/root"
    [ "$rc" -eq 0 ] || fail "a good configuration file: exit $rc"
    grep -q '"kind": "cxl"' "$tmp/out" || fail "the good configuration file was not applied"
    ;;
root-escape)
    # Audit 1: nothing a tree under --root holds makes pmnode read outside
    # it.  Links to a file beside the root, absolute or by "..", resolve
    # inside the root (so find nothing), and the file's bytes never reach a
    # message; links inside the tree still resolve, an absolute one from
    # the root, as in a chroot.
    fixture_root
    printf 'SECRET-HOST-BYTES\n' >"$tmp/secret"
    node0=$tmp/root/sys/devices/system/node/node0
    cp "$node0/cpulist" "$tmp/cpulist" || fail "the fixture has no node0/cpulist"
    no_secret() {
        ! grep -q SECRET "$tmp/out" "$tmp/err" || fail "host file bytes in the output ($1)"
    }
    for target in "$tmp/secret" ../../secret ../../../../../../../../secret; do
        ln -sfn "$target" "$tmp/root/etc/pmnode.conf"
        run list --root "$tmp/root"
        no_secret "etc/pmnode.conf -> $target"
        run list --json --root "$tmp/root"
        no_secret "etc/pmnode.conf -> $target, --json"
    done
    rm -f "$tmp/root/etc/pmnode.conf"
    for target in "$tmp/secret" ../../../../../../secret; do
        rm -f "$node0/cpulist"
        ln -s "$target" "$node0/cpulist"
        run list --root "$tmp/root"
        no_secret "node0/cpulist -> $target"
    done
    # A directory linked out of the root is not listed either.
    mkdir -p "$tmp/outside/node7"
    printf 'SECRET-HOST-BYTES\n' >"$tmp/outside/node7/cpulist"
    rm -f "$node0/cpulist"
    mv "$tmp/root/sys/devices/system/node" "$tmp/root/sys/devices/system/node.real"
    ln -s "$tmp/outside" "$tmp/root/sys/devices/system/node"
    run list --json --root "$tmp/root"
    no_secret "sys/devices/system/node -> $tmp/outside"
    ! grep -q '"id": 7' "$tmp/out" || fail "node7 of a directory outside the root listed"
    rm "$tmp/root/sys/devices/system/node"
    mv "$tmp/root/sys/devices/system/node.real" "$tmp/root/sys/devices/system/node"
    cp "$tmp/cpulist" "$node0/cpulist"
    # Links inside the tree resolve, relative or absolute (from the root).
    mkdir -p "$tmp/root/etc/conf.d"
    printf 'kind 0 cxl\n' >"$tmp/root/etc/conf.d/real.conf"
    for target in conf.d/real.conf ../etc/conf.d/real.conf /etc/conf.d/real.conf; do
        ln -sfn "$target" "$tmp/root/etc/pmnode.conf"
        run list --json --root "$tmp/root"
        [ "$rc" -eq 0 ] || fail "etc/pmnode.conf -> $target (inside the root): exit $rc"
        grep -q '"kind": "cxl"' "$tmp/out" || fail "etc/pmnode.conf -> $target not read"
        [ ! -s "$tmp/err" ] || fail "etc/pmnode.conf -> $target: warnings"
    done
    ;;
no-such-node)
    # Audit 7: the node list in "no such node" is cut between groups, never
    # inside a number, and says ",..." when some are left out.
    fixture_root
    ids=$("$python" -c 'print(",".join(str(i) for i in range(0, 600, 2)))')
    echo "$ids" >"$tmp/root/sys/devices/system/node/online"
    echo "$ids" >"$tmp/root/sys/devices/system/node/possible"
    export PMNODE_SYSFS_ROOT=$tmp/root
    expect_usage_error verify --node 1 --size 1M
    unset PMNODE_SYSFS_ROOT
    expect_says "--node 1: no such NUMA node (this machine has nodes 0,2,4,"
    "$python" - "$tmp/err" <<'PY' || fail "the node list is cut inside a number"
import re, sys
line = open(sys.argv[1]).read().strip()
have = re.search(r"this machine has nodes (.*)\)$", line).group(1)
if not have.endswith(",..."):
    sys.exit("no ',...' at the end: %r" % have)
listed = have[:-4].split(",")
if listed != [str(i) for i in range(0, 2 * len(listed), 2)]:
    sys.exit("groups cut or wrong: %r" % have)
PY
    ;;
ctier)
    # Audit 5 and 6: ctier --json prints exactly one JSON object (the stats
    # first, as before, then what the text lines say); a size that does not
    # fit is the check failing (1, as verify says), not bad usage.
    need_numa
    run ctier --stand-in --size 1M --json
    [ "$rc" -eq 0 ] || fail "ctier --json exited $rc"
    "$python" - "$tmp/out" <<'PY' || fail "ctier --json is not one object of the documented shape"
import json, sys
doc = json.loads(open(sys.argv[1]).read())
stats = ["logical_bytes", "physical_bytes", "ratio", "capacity_bytes", "demotions",
         "demoted_pages", "promotions", "write_promotions", "write_failures", "refusals",
         "returned_pages"]
added = ["node", "stand_in", "promote_node", "pages", "pattern", "write_control",
         "estimated_ratio", "demote_error", "pages_on_node_after_demotion", "writes",
         "pages_back_after_writes", "ok"]
if list(doc) != stats + added:
    sys.exit("keys %r" % list(doc))
if not (doc["ok"] is True and doc["stand_in"] is True and doc["demote_error"] is None
        and doc["pages"] == 256 and doc["pages_back_after_writes"] == doc["writes"] == 8):
    sys.exit("values %r" % doc)
PY
    run ctier --stand-in --size 1M --pattern random --json
    [ "$rc" -eq 1 ] || fail "ctier --json, data that does not compress: exit $rc, want 1"
    "$python" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(d["ok"] is not False or d["demote_error"] is None)' "$tmp/out" ||
        fail "a refused demotion is not in the JSON object"
    run ctier --stand-in --size 1M
    [ "$rc" -eq 0 ] || fail "ctier exited $rc"
    grep -q '^verdict  *ok: ' "$tmp/out" || fail "the text output lost its verdict"
    run ctier --stand-in --size 1E
    [ "$rc" -eq 1 ] || fail "ctier --size 1E exited $rc, want 1 (does not fit)"
    [ ! -s "$tmp/out" ] || fail "ctier --size 1E wrote to stdout"
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "ctier --size 1E: not one line on stderr"
    ;;
dax-values)
    # Audit 8: dax size and align are decimal as the kernel writes them
    # ("0100" is 100, not octal 64), and a value that reads as 2^64 - 1
    # (which "unknown" means) is reported, not silently null.
    [ -d "$fixtures/real-devdax-6.1/root/sys" ] || fail "no fixtures at '$fixtures'"
    cp -R "$fixtures/real-devdax-6.1/root" "$tmp/root" || fail "cannot copy the fixture"
    dax=$tmp/root/sys/devices/platform/hmem.0/dax0.0
    echo 0100 >"$dax/size"
    echo 08192 >"$dax/align"
    run list --json --root "$tmp/root"
    [ "$rc" -eq 0 ] || fail "exit $rc"
    got=$("$python" -c 'import json,sys; d=json.load(open(sys.argv[1]))["dax"][0]; print(d["size_bytes"], d["align_bytes"])' "$tmp/out")
    [ "$got" = "100 8192" ] || fail "size and align read as '$got', want '100 8192'"
    echo 18446744073709551615 >"$dax/size"
    run list --json --root "$tmp/root"
    [ "$rc" -eq 0 ] || fail "exit $rc"
    got=$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["dax"][0]["size_bytes"])' "$tmp/out")
    [ "$got" = None ] || fail "size 2^64 - 1 read as '$got'"
    grep -q "^pmnode: warning: .*dax0.0/size: " "$tmp/err" || fail "size 2^64 - 1 not reported"
    ;;
list-many-nodes)
    # Audit 4: the table's distance matrix grows with the square of the
    # node count; an 8-byte "online" file names 65536 nodes.  No matrix
    # when no node has distances, none beyond 64 nodes (--json has them).
    fixture_root
    nodes=$tmp/root/sys/devices/system/node
    echo 0-65535 >"$nodes/online"
    limit=30
    run list --root "$tmp/root"
    [ "$rc" -eq 0 ] || fail "65536 nodes, no distances: exit $rc (124: killed after ${limit}s)"
    grep -q '^node distances: none reported$' "$tmp/out" || fail "no 'none reported' line"
    echo 0-99 >"$nodes/online"
    "$python" -c 'print(" ".join(["10"] + ["20"] * 99))' >"$nodes/node0/distance"
    run list --root "$tmp/root"
    [ "$rc" -eq 0 ] || fail "100 nodes: exit $rc"
    grep -q '^node distances: 100 nodes, more than 64: see --json$' "$tmp/out" ||
        fail "no 'see --json' line for 100 nodes"
    run list --json --root "$tmp/root"
    [ "$rc" -eq 0 ] || fail "100 nodes, --json: exit $rc"
    "$python" -c 'import json,sys; d=json.load(open(sys.argv[1]))["nodes"][0]["distance"]; sys.exit(len(d) != 100)' "$tmp/out" ||
        fail "--json lost node 0's distances"
    ;;
config-not-regular)
    # Issue 13: a FIFO, a device or a directory as the configuration file is
    # refused, never read as an empty file (which would mean "nothing
    # configured").  `timeout` ends a run that blocks on the FIFO.
    fixture_root
    limit=10
    mkfifo "$tmp/fifo" || fail "mkfifo"
    for conf in "$tmp/fifo" /dev/null "$tmp"; do
        export PMNODE_CONFIG=$conf
        expect_usage_error list --root "$tmp/root"
        unset PMNODE_CONFIG
        expect_says "$conf (named by PMNODE_CONFIG): "
    done
    export PMNODE_CONFIG=$tmp/fifo
    expect_usage_error list --root "$tmp/root"
    unset PMNODE_CONFIG
    expect_says "not a regular file"
    export PMNODE_CONFIG=$tmp
    expect_usage_error list --root "$tmp/root"
    unset PMNODE_CONFIG
    expect_says "a directory"
    # A writer that holds the FIFO open and never writes.
    exec 3<>"$tmp/fifo"
    export PMNODE_CONFIG=$tmp/fifo
    expect_usage_error list --root "$tmp/root"
    unset PMNODE_CONFIG
    expect_says "not a regular file"
    # The default file in the root, as a FIFO.
    mkfifo "$tmp/root/etc/pmnode.conf" || fail "mkfifo"
    expect_usage_error list --root "$tmp/root"
    expect_says "$tmp/root/etc/pmnode.conf: not a regular file"
    exec 3>&-
    ;;
extra-operands)
    # Issue 13: an operand where none is taken is bad usage, whatever else
    # the line asks for.
    expect_usage_error --version extra
    expect_says "--version takes no operand, not 'extra'"
    expect_usage_error --help extra
    expect_usage_error -h list
    expect_says "try 'pmnode list --help'"
    expect_usage_error list --help extra
    expect_says "unexpected argument 'extra'"
    expect_usage_error list extra --help
    expect_usage_error verify --node 0 --size 1M --help extra
    expect_usage_error ctier --help extra
    expect_usage_error run --help extra
    # --help still wins over a line that is otherwise fine.
    for args in "list --help" "verify --node 0 --help" "run --help" "run --node 0 --help -- true"; do
        # shellcheck disable=SC2086
        run $args
        [ "$rc" -eq 0 ] || fail "pmnode $args exited $rc"
        grep -q '^usage: pmnode' "$tmp/out" || fail "pmnode $args printed no usage"
    done
    ;;
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
             "free_bytes", "tier", "distance", "dax",
             "available_bytes", "devices",  # added in 0.3
             "read_bandwidth_mbps", "write_bandwidth_mbps", "read_latency_ns",
             "write_latency_ns", "hugepages", "zratio", "memory_side_caches"]  # 0.8
kinds = {"dram", "hbm", "nvm", "spm", "cxl", "gpu", "compressed", "unknown"}
ids = [n["id"] for n in doc["nodes"]]
check(ids == sorted(ids) and len(set(ids)) == len(ids), "node ids not ascending")
for n in doc["nodes"]:
    check(list(n) == node_keys, "node keys %r" % list(n))
    check(n["kind"] in kinds, "kind %r" % n["kind"])
    check(n["isolation"] in ("none", "kernel", "config"), "isolation %r" % n["isolation"])
    check(isinstance(n["private"], bool), "private not a bool")
    check(isinstance(n["cpus"], str), "cpus not a string")
    check(isinstance(n["hugepages"], list) and isinstance(n["memory_side_caches"], list),
          "hugepages or memory_side_caches not a list")
    check(all(list(p) == ["page_size_bytes", "total", "free", "surplus"]
              for p in n["hugepages"]), "hugepages keys")
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
terminal-controls)
    # Nothing from the command line (or sysfs) reaches the terminal as a
    # control: C0 (ESC), DEL, C1 (U+009B is CSI: "ESC [" in one character)
    # and bytes that are not UTF-8 are '?' in the message.
    expect_usage_error verify --node "$(printf '1\302\2332J\033[31m\377\177')" --size 4k
    expect_says "'1??2J?[31m??'"
    ! LC_ALL=C grep -q "$(printf '[\033\177\377]')" "$tmp/err" || fail "a control byte reached stderr"
    ! LC_ALL=C grep -q "$(printf '\302[\200-\237]')" "$tmp/err" || fail "a C1 control reached stderr"
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
