#!/bin/sh
# kv-tier-check.sh - the kv_tier example on a real kernel (vm lane, issue 16):
# the same workload all on the cold node, then tiered, and what tiering must
# achieve: a larger share of gets served from the hot node than all-cold,
# the hot node never holding more of the store than the limit, no wrong
# value.  With a third node (COMP, declared compressed by the caller's
# PMNODE_CONFIG) the compressed tier joins as third level.
#
#   sh kv-tier-check.sh KV_TIER HOT COLD [COMP]
set -u
kv=$1 hot=$2 cold=$3 comp=${4:-}
args="--hot $hot --cold $cold --keys 8192 --steps 10 --gets 40000 --hot-limit 8M --budget 4M"
summary() { sed -n "s/^summary: .* $2=\([0-9]*\).*/\1/p" "$1"; }

"$kv" --all-cold $args >/tmp/kv-cold || { cat /tmp/kv-cold; echo "FAIL: all-cold run"; exit 1; }
cat /tmp/kv-cold
"$kv" --tier $args ${comp:+--compressed $comp} >/tmp/kv-tier || {
	cat /tmp/kv-tier
	echo "FAIL: tier run"
	exit 1
}
cat /tmp/kv-tier
c=$(summary /tmp/kv-cold hot_permille)
t=$(summary /tmp/kv-tier hot_permille)
max=$(summary /tmp/kv-tier max_hot_bytes)
lim=$(summary /tmp/kv-tier hot_limit)
bad=$(summary /tmp/kv-tier corrupt)
[ -n "$c" ] && [ -n "$t" ] && [ -n "$max" ] && [ -n "$lim" ] || { echo "FAIL: no summary"; exit 1; }
[ "$t" -gt "$c" ] || { echo "FAIL: gets on the hot node: tier $t per mille, all-cold $c"; exit 1; }
[ "$max" -le "$lim" ] || { echo "FAIL: hot node held $max bytes, limit $lim"; exit 1; }
[ "$bad" = 0 ] || { echo "FAIL: $bad wrong values"; exit 1; }
if [ -n "$comp" ]; then
	z=$(sed -n 's/^tier: .*"compressed_total": \([0-9]*\).*/\1/p' /tmp/kv-tier)
	[ "${z:-0}" -gt 0 ] || { echo "FAIL: nothing was compressed"; exit 1; }
	echo "ok: $z bytes compressed onto node $comp"
fi
echo "ok: gets on the hot node: tier $t per mille, all-cold $c; hot node at most $max of $lim bytes"
