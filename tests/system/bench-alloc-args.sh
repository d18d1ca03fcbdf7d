#!/bin/sh
# bench-alloc-args.sh - bench/alloc's command line: every bad argument is
# refused with exit 2 and a last line that names it (it said "bad usage"
# alone, and an unknown --workload ran nothing and printed an empty
# table), --bulk-size reaches the JSON, and fill-64 runs only when named.  No timing is judged: the one
# run is a millisecond cell, checked for its shape only.
#
# usage: bench-alloc-args.sh ALLOC PYTHON3
# Exit 0 pass, 1 fail.  Prints "N passed, N failed" last.
set -u

alloc=$1
python=$2
pass=0 failn=0

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pmnode-bench-alloc.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { failn=$((failn + 1)); echo "FAIL: $*"; }

# refused WANT-TEXT ARG...: exit 2, WANT-TEXT on the last line of stderr.
refused() {
    want=$1
    shift
    timeout 30 "$alloc" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    last=$(tail -n 1 "$tmp/err")
    if [ "$rc" -ne 2 ]; then
        bad "alloc $* exited $rc, want 2"
    elif [ -s "$tmp/out" ]; then
        bad "alloc $* printed on stdout: $(head -n 1 "$tmp/out")"
    else
        case $last in
        *"$want"*) ok "alloc $* -> 2: $last" ;;
        *) bad "alloc $*: last line '$last', want '$want'" ;;
        esac
    fi
}

refused "--bulk-size 300000: not a whole number from 16 to 262144" --bulk-size 300000
refused "--bulk-size 8: not a whole number from 16 to 262144" --bulk-size 8
refused "--bulk-size 2k: not a whole number" --bulk-size 2k
refused "--bulk-size 99999999999999999999: not a whole number" --bulk-size 99999999999999999999
refused "--reps 0: not a whole number from 1 to" --reps 0
refused "--cell-ms -1: not a whole number from 1 to 60000" --cell-ms -1
refused "--node x: not a whole number" --node x
refused "--fill-size 1000: not a whole number from 1048576 to" --fill-size 1000
refused "--workload: no workload 'foo'" --workload foo
refused "--workload: no workload 'bulk'" --workload fixed-64,bulk
refused "--impl: no implementation 'pmn'" --impl pmn
refused "extra: no such option" extra
refused "--no-such-option: not an option of those above" --no-such-option
refused "--bulk-size: not an option of those above, or without its value" --bulk-size

# shape WANT-BULK-SIZE ARG...: a millisecond run of the slab's bulk rows;
# the JSON is whole, says the object size, and has both thread counts.
shape() {
    want=$1
    shift
    if ! timeout 60 "$alloc" --reps 1 --cell-ms 1 --impl pmn-slab --workload bulk-2k --json \
        "$@" >"$tmp/json" 2>"$tmp/err"; then
        bad "alloc $* --json failed: $(tail -n 1 "$tmp/err")"
        return
    fi
    if "$python" - "$tmp/json" "$want" <<'PYEOF'; then
import json, sys
d = json.load(open(sys.argv[1]))
assert d["bulk_size"] == int(sys.argv[2]), d["bulk_size"]
rows = [r for r in d["results"] if r["workload"] == "bulk-2k" and r["impl"] == "pmn-slab"]
assert sorted(r["threads"] for r in rows) == [1, 2], rows
assert all(r["ops"] > 0 and r["ns_per_op"] > 0 for r in rows), rows
PYEOF
        ok "alloc $* --json: bulk_size $want, both rows"
    else
        bad "alloc $* --json: not the JSON wanted (bulk_size $want)"
    fi
}

shape 2048
shape 4096 --bulk-size 4096
shape 16 --bulk-size 16

# fill-64 runs only when named, then with --fill-size: 2 MiB of 64-byte
# objects is 32768 of them; it judges no goal of issues 5 and 17.
if timeout 60 "$alloc" --reps 1 --impl pmn-arena --workload fill-64 --fill-size 2097152 --json \
    >"$tmp/json" 2>"$tmp/err" && "$python" - "$tmp/json" <<'PYEOF'; then
import json, sys
d = json.load(open(sys.argv[1]))
assert d["fill_size"] == 2097152, d["fill_size"]
rows = [r for r in d["results"] if r["workload"] == "fill-64"]
assert len(rows) == 1 and rows[0]["impl"] == "pmn-arena" and rows[0]["threads"] == 1, rows
assert rows[0]["ops"] == 2097152 // 64 and rows[0]["ns_per_op"] > 0, rows
assert not [g for g in d["goals"] if g["workload"] == "fill-64"], d["goals"]
PYEOF
    ok "alloc --workload fill-64 --fill-size 2097152: one row of 32768 objects, no goal"
else
    bad "alloc --workload fill-64 --fill-size 2097152: not the JSON wanted ($(tail -n 1 "$tmp/err"))"
fi
if timeout 60 "$alloc" --reps 1 --cell-ms 1 --impl pmn-arena --json >"$tmp/json" 2>"$tmp/err" &&
    ! grep -q '"fill-64"' "$tmp/json"; then
    ok "alloc without --workload: no fill-64 row"
else
    bad "alloc without --workload ran fill-64, or failed ($(tail -n 1 "$tmp/err"))"
fi

echo "$pass passed, $failn failed"
[ "$failn" -eq 0 ]
