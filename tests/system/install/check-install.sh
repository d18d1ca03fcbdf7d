#!/bin/sh
# check-install.sh - install libpmnode into a scratch DESTDIR, then build and
# run examples/list_nodes.c the way a user would: against the installed
# header and library, found only through pkg-config.  The other examples
# beside EXAMPLE_C are built the same way and run on node 0: cold_cache with
# --stand-in (node 0 plays the compressed node), netbuf_pool with --node 0,
# gpu_workspace with --spill 0, ipc_producer_consumer with --node 0 (this
# host may have no private, gpu or cxl node; the vm lane runs them on real
# ones).
#
# usage: check-install.sh BUILD_DIR EXAMPLE_C [MESON]
# Exit 0 pass, 1 fail, 77 skip (no C compiler or pkg-config on this host).
set -eu

build=$1
example=$2
meson=${3:-meson}
cc=${CC:-cc}

# shellcheck disable=SC2034 # common.sh reads NAME
NAME=check-install
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

command -v "$cc" >/dev/null 2>&1 || { say "no C compiler ($cc): skip"; exit 77; }
command -v pkg-config >/dev/null 2>&1 || { say "no pkg-config: skip"; exit 77; }

scratch install
say "meson install --destdir $dest"
install_dest "$build" "$meson"

pc=$(find "$dest" -path '*/pkgconfig/pmnode.pc' | head -n 1)
[ -n "$pc" ] || fail "pmnode.pc was not installed"
lib=$(find "$dest" -name 'libpmnode.so.[0-9]*' | head -n 1)
[ -n "$lib" ] || fail "libpmnode.so.N was not installed"
[ -n "$(find "$dest" -path '*/include/pmnode.h')" ] || fail "pmnode.h was not installed"
say "found ${pc#"$dest"} and ${lib#"$dest"}"

# Our .pc first; the system path stays reachable for any Requires.
PKG_CONFIG_PATH=$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
PKG_CONFIG_SYSROOT_DIR=$dest
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR

pkg-config --exists pmnode || fail "pkg-config cannot find pmnode"
flags=$(pkg-config --cflags --libs pmnode) || fail "pkg-config --cflags --libs pmnode failed"
say "pkg-config flags: $flags"
case $flags in
*"$dest"*) ;;
*) fail "pkg-config flags do not point into the install tree: $flags" ;;
esac

# A sanitizer build (-Db_sanitize=...) installs a library that needs its
# runtime first in the program: build the example the same way.
sanitizer_of "$lib"
[ -z "$san" ] || say "library built with -fsanitize=$san: example too"

# $flags is split into words on purpose, as $(pkg-config ...) would be.
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Wextra ${san:+-fsanitize=$san} -o "$tmp/list_nodes" "$example" $flags ||
    fail "compiling $example against the installed pmnode failed"
for name in cold_cache netbuf_pool gpu_workspace ipc_producer_consumer; do
    src=$(dirname "$example")/$name.c
    [ -f "$src" ] || fail "$src is missing"
    # shellcheck disable=SC2086
    "$cc" -std=c11 -Wall -Wextra -Werror ${san:+-fsanitize=$san} -o "$tmp/$name" "$src" $flags ||
        fail "compiling $src against the installed pmnode failed"
done

# kv_tier (issue 16): its Zipf sampler needs libm.
src=$(dirname "$example")/kv_tier.c
[ -f "$src" ] || fail "$src is missing"
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Wextra -Werror ${san:+-fsanitize=$san} -o "$tmp/kv_tier" "$src" $flags -lm ||
    fail "compiling $src against the installed pmnode failed"

# netrx (issue 14): with liburing where pkg-config finds it (the io_uring
# path), and always without it (the recv() fallback), both -Werror.
src=$(dirname "$example")/netrx.c
[ -f "$src" ] || fail "$src is missing"
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Wextra -Werror ${san:+-fsanitize=$san} -pthread -o "$tmp/netrx_plain" "$src" \
    $flags || fail "compiling $src (without liburing) against the installed pmnode failed"
if pkg-config --exists liburing; then
    # shellcheck disable=SC2046,SC2086
    "$cc" -std=c11 -Wall -Wextra -Werror ${san:+-fsanitize=$san} -pthread -DHAVE_LIBURING \
        -o "$tmp/netrx" "$src" $flags $(pkg-config --cflags --libs liburing) ||
        fail "compiling $src with liburing against the installed pmnode failed"
else
    say "no liburing (Debian: liburing-dev): netrx built with its recv() path only"
    cp "$tmp/netrx_plain" "$tmp/netrx"
fi

# The README's first C++ program, against the installed <pmnode/pmnode.hpp>.
cxx=${CXX:-c++}
if command -v "$cxx" >/dev/null 2>&1; then
    [ -n "$(find "$dest" -path '*/include/pmnode/pmnode.hpp')" ] ||
        fail "pmnode/pmnode.hpp was not installed"
    # shellcheck disable=SC2086
    "$cxx" -std=c++17 -Wall -Wextra -Werror ${san:+-fsanitize=$san} -o "$tmp/hello_private" \
        "$(dirname "$example")/hello_private.cpp" $flags ||
        fail "compiling hello_private.cpp against the installed pmnode failed"
else
    say "no C++ compiler ($cxx): hello_private.cpp not built"
fi

LD_LIBRARY_PATH=$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
if command -v ldd >/dev/null 2>&1; then
    resolved=$(ldd "$tmp/list_nodes" | grep 'libpmnode\.so') ||
        fail "list_nodes does not link libpmnode"
    case $resolved in
    *"$dest"*) ;;
    *) fail "list_nodes resolves libpmnode outside the install tree: $resolved" ;;
    esac
fi

if [ ! -d /sys/devices/system/node ]; then
    say "built fine, but this host has no NUMA sysfs to run it on: skip"
    exit 77
fi
unset PMNODE_SYSFS_ROOT PMNODE_PRIVATE_NODES PMNODE_CONFIG PMNODE_LOG
out=$("$tmp/list_nodes") || fail "list_nodes exited with status $?"
printf '%s\n' "$out"
printf '%s\n' "$out" | grep -q '^node [0-9]*: ' || fail "list_nodes listed no node"

# cold_cache needs userfaultfd write-protection (Linux 5.7+): without it the
# tier cannot open, which is this host's limit, not the install's.
rc=0
out=$("$tmp/cold_cache" --stand-in --entries 64 --ticks 8 2>&1) || rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne 0 ]; then
    case $out in
    *PMN_E_NO_WRITE_CONTROL*) say "cold_cache built; no write control on this host to run it" ;;
    *PMN_E_NO_CTIER*) say "cold_cache built; this libpmnode has no compressed tier (-Dctier=false)" ;;
    *) fail "cold_cache --stand-in exited with status $rc" ;;
    esac
else
    printf '%s\n' "$out" | grep -q '^tier: .* demotions' || fail "cold_cache printed no tier stats"
    printf '%s\n' "$out" | grep -q '^{"logical_bytes": ' || fail "cold_cache printed no stats JSON"
fi
out=$("$tmp/netbuf_pool" --node 0 --packets 20000) || fail "netbuf_pool --node 0 exited with status $?"
printf '%s\n' "$out"
printf '%s\n' "$out" | grep -q '^20000 packets: 20000 delivered, 0 dropped' ||
    fail "netbuf_pool did not deliver every packet"
printf '%s\n' "$out" | grep -q ' 0 elsewhere, ' || fail "netbuf_pool found buffers off node 0"
# A 1 MiB cap with transmit held back 100 bursts: the pool runs dry and the
# ring drops packets instead of taking memory anywhere else.
out=$("$tmp/netbuf_pool" --node 0 --cap 1 --delay 100 --packets 20000) ||
    fail "netbuf_pool --cap 1 exited with status $?"
printf '%s\n' "$out" | grep -q ' [1-9][0-9]* dropped' || fail "netbuf_pool with a full pool dropped nothing"
# ipc_producer_consumer (issue 15): a consumer process reads every buffer
# through handles, on the producer's node, and refuses a freed one's.
out=$("$tmp/ipc_producer_consumer" --node 0 --buffers 300) ||
    fail "ipc_producer_consumer --node 0 exited with status $?"
printf '%s\n' "$out"
printf '%s\n' "$out" | grep -q '^consumer: pages on node 0: [0-9]* of [0-9]*, 0 elsewhere$' ||
    fail "ipc_producer_consumer's consumer found pages off node 0"
printf '%s\n' "$out" | grep -q '^ok: ' || fail "ipc_producer_consumer did not finish"
out=$("$tmp/gpu_workspace" --spill 0 --mib 32 --steps 2) ||
    fail "gpu_workspace --spill 0 exited with status $?"
printf '%s\n' "$out"
printf '%s\n' "$out" | grep -q '^step 2: node 0: [0-9]* pages; 0 pages off the list' ||
    fail "gpu_workspace did not place step 2 on node 0"
printf '%s\n' "$out" | grep -q '^step 2: 0 extents mapped, 0 MiB populated (memory kept' ||
    fail "gpu_workspace did not keep its memory across steps"
printf '%s\n' "$out" | grep -q '^{"allocated": ' || fail "gpu_workspace printed no stats JSON"
if [ -x "$tmp/hello_private" ]; then
    # No private node here: the administrator's word makes node 0 one.
    rc=0
    out=$("$tmp/hello_private") || rc=$?
    [ "$rc" -eq 2 ] || [ "$rc" -eq 0 ] || fail "hello_private exited with status $rc"
    out=$(PMNODE_PRIVATE_NODES=0 "$tmp/hello_private") ||
        fail "PMNODE_PRIVATE_NODES=0 hello_private exited with status $?"
    printf '%s\n' "$out"
    printf '%s\n' "$out" | grep -q '^node 0: 1000000 doubles in \([0-9]*\) pages, \1 of them on node 0$' ||
        fail "hello_private's vector is not all on node 0"
fi
# netrx: every packet received, checked and freed by another thread, with
# the path it took named; the fallback build runs too.
for prog in netrx netrx_plain; do
    for mode in "" --tcp; do
        # shellcheck disable=SC2086
        out=$("$tmp/$prog" --node 0 --packets 20000 $mode) ||
            fail "$prog --node 0 $mode exited with status $?"
        printf '%s\n' "$out"
        printf '%s\n' "$out" | grep -q '^path: ' || fail "$prog did not say which path ran"
        printf '%s\n' "$out" | grep -q '^packets: 20000 of 20000' || fail "$prog lost packets"
        printf '%s\n' "$out" | grep -q '^checked: 20000 packets, 0 corrupt, 0 misplaced, 0 outside' ||
            fail "$prog found corrupt or misplaced packets"
    done
done
"$tmp/netrx_plain" --node 0 --packets 10 | grep -q '^path: recv .*built without liburing' ||
    fail "netrx_plain did not say it runs without liburing"
rc=0
"$tmp/gpu_workspace" --spill 0,0 >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "gpu_workspace took a list naming node 0 twice (status $rc)"
say "ok"
