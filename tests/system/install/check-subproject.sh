#!/bin/sh
# check-subproject.sh - libpmnode as a meson subproject: a scratch project
# whose subprojects/pmnode is this source tree (a symlink) and whose
# subprojects/pmnode.wrap provides the dependency `pmnode` (the wrap-ready
# layout: its URL is never fetched, --wrap-mode=nodownload; an installed
# pmnode is passed over, --force-fallback-for=pmnode), builds
# examples/list_nodes.c with dependency('pmnode') and with
# dependency('pmnode', static : true), then runs both.  No internal
# variable name is used: the subproject overrides the dependency itself.
# Only the library is built in the subproject (tests, examples and
# benchmarks off), to keep this under a minute or two.
#
# usage: check-subproject.sh SRCDIR [MESON]
# Exit 0 pass, 1 fail, 77 skip (no ninja or C compiler on this host).
set -eu

src=$(cd "$1" && pwd)
meson=${2:-meson}

say() { echo "check-subproject: $*"; }
fail() { echo "check-subproject: FAIL: $*" >&2; exit 1; }

command -v ninja >/dev/null 2>&1 || { say "no ninja: skip"; exit 77; }
command -v "${CC:-cc}" >/dev/null 2>&1 || { say "no C compiler: skip"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pmnode-subproject.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

mkdir -p "$tmp/proj/subprojects"
ln -s "$src" "$tmp/proj/subprojects/pmnode"
cp "$src/examples/list_nodes.c" "$tmp/proj/"
cat >"$tmp/proj/subprojects/pmnode.wrap" <<'WRAP'
[wrap-git]
url = https://invalid.example/libpmnode.git
revision = head
directory = pmnode

[provide]
dependency_names = pmnode
WRAP
cat >"$tmp/proj/meson.build" <<'MESON'
project('pmnode-consumer', 'c', default_options : ['c_std=c11'])
opts = ['tests=false', 'examples=false', 'bench=false']
pmnode = dependency('pmnode', version : '>= 0.1', default_options : opts)
pmnode_static = dependency('pmnode', static : true, default_options : opts)
executable('list_nodes', 'list_nodes.c', dependencies : pmnode)
executable('list_nodes_static', 'list_nodes.c', dependencies : pmnode_static)
MESON

"$meson" setup --wrap-mode=nodownload --force-fallback-for=pmnode "$tmp/build" "$tmp/proj" >"$tmp/log" 2>&1 ||
    { cat "$tmp/log"; fail "meson setup of the consumer failed"; }
grep -i 'dependency pmnode' "$tmp/log" || true
ninja -C "$tmp/build" list_nodes list_nodes_static >"$tmp/log" 2>&1 ||
    { cat "$tmp/log"; fail "building the consumer failed"; }
if command -v ldd >/dev/null 2>&1; then
    ldd "$tmp/build/list_nodes" | grep -q 'libpmnode\.so' || fail "list_nodes does not link libpmnode.so"
    ! ldd "$tmp/build/list_nodes_static" | grep libpmnode || fail "list_nodes_static loads libpmnode.so"
fi
if [ ! -d /sys/devices/system/node ]; then
    say "built fine, but this host has no NUMA sysfs to run it on: skip"
    exit 77
fi
unset PMNODE_SYSFS_ROOT PMNODE_PRIVATE_NODES PMNODE_CONFIG PMNODE_LOG
for p in list_nodes list_nodes_static; do
    out=$("$tmp/build/$p") || fail "$p exited with status $?"
    printf '%s\n' "$out"
    printf '%s\n' "$out" | grep -q '^node [0-9]*: ' || fail "$p listed no node"
done
say "ok"
