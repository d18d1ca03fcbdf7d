#!/bin/sh
# check-static.sh - install libpmnode into a scratch DESTDIR and link a
# program with libpmnode.a, the flags coming from `pkg-config --static`
# (Requires.private and Libs.private must name everything libpmnode
# links).  The program (static-clash.c) defines pmn__ names of its own
# (libpmnode.a keeps its internal ones local) and checks that it gets the
# current symbol version of a call that has two.  It must not load
# libpmnode.so, and must run.  Then examples/list_nodes.c is linked the same
# way and run.
#
# usage: check-static.sh BUILD_DIR SRCDIR [MESON]
# Exit 0 pass, 1 fail, 77 skip (no C compiler or pkg-config on this host).
set -eu

build=$1
src=$2
meson=${3:-meson}
cc=${CC:-cc}

# shellcheck disable=SC2034 # common.sh reads NAME
NAME=check-static
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

command -v "$cc" >/dev/null 2>&1 || { say "no C compiler ($cc): skip"; exit 77; }
command -v pkg-config >/dev/null 2>&1 || { say "no pkg-config: skip"; exit 77; }

scratch static
install_dest "$build" "$meson"
pc=$(find "$dest" -path '*/pkgconfig/pmnode.pc' | head -n 1)
[ -n "$pc" ] || fail "pmnode.pc was not installed"
archive=$(find "$dest" -name libpmnode.a | head -n 1)
[ -n "$archive" ] || fail "libpmnode.a was not installed"
[ "$(dirname "$archive")" = "$(dirname "$(find "$dest" -name 'libpmnode.so' | head -n 1)")" ] ||
    fail "libpmnode.a is not beside libpmnode.so"
say "found ${archive#"$dest"}"

# Only the public interface is global in the archive.
if command -v nm >/dev/null 2>&1; then
    extra=$(nm -g --defined-only "$archive" | awk 'NF == 3 && $3 !~ /^pmn_[a-z]/ { print $3 }')
    [ -z "$extra" ] || fail "libpmnode.a exports names outside pmnode.h: $(echo "$extra" | head -n 5)"
fi

PKG_CONFIG_PATH=$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
PKG_CONFIG_SYSROOT_DIR=$dest
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
libs=$(pkg-config --static --libs pmnode) || fail "pkg-config --static --libs pmnode failed"
cflags=$(pkg-config --cflags pmnode) || fail "pkg-config --cflags pmnode failed"
say "pkg-config --static --libs: $libs"
# Everything libpmnode.so needs (readelf -d) must be in the static flags.
if command -v readelf >/dev/null 2>&1; then
    so=$(find "$dest" -name 'libpmnode.so.[0-9]*' | head -n 1)
    for need in $(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[lib\([^].]*\)\.so.*/\1/p'); do
        # libc and the sanitizer runtimes (a -Db_sanitize build) come with the compiler.
        case $need in c | pthread | dl | m | rt | asan | ubsan | tsan | lsan | gcc_s | stdc++) continue ;; esac
        case " $libs " in
        *" -l$need "*) ;;
        *) fail "libpmnode.so links lib$need, pkg-config --static does not name -l$need" ;;
        esac
    done
fi
# The archive, by its file name: -lpmnode would take libpmnode.so.
static_libs=$(printf '%s\n' "$libs" | sed 's/\(^\| \)-lpmnode\( \|$\)/\1-l:libpmnode.a\2/')
case $static_libs in *-l:libpmnode.a*) ;; *) fail "no -lpmnode in: $libs" ;; esac

sanitizer_of "$(find "$dest" -name 'libpmnode.so.[0-9]*' | head -n 1)"

for prog in static-clash:"$src/tests/system/install/static-clash.c" list_nodes:"$src/examples/list_nodes.c"; do
    name=${prog%%:*}
    file=${prog#*:}
    # shellcheck disable=SC2086
    "$cc" -std=c11 -Wall -Wextra -Werror ${san:+-fsanitize=$san} -o "$tmp/$name" "$file" $cflags \
        $static_libs || fail "linking $file with libpmnode.a failed"
    if command -v ldd >/dev/null 2>&1; then
        ! ldd "$tmp/$name" | grep 'libpmnode' || fail "$name loads libpmnode.so"
    fi
done

if [ ! -d /sys/devices/system/node ]; then
    say "built fine, but this host has no NUMA sysfs to run it on: skip"
    exit 77
fi
unset PMNODE_SYSFS_ROOT PMNODE_PRIVATE_NODES PMNODE_CONFIG PMNODE_LOG
out=$("$tmp/static-clash") || fail "static-clash exited with status $?"
printf '%s\n' "$out"
printf '%s\n' "$out" | grep -q '^static: own pmn__ names kept$' || fail "static-clash did not finish"
out=$("$tmp/list_nodes") || fail "list_nodes exited with status $?"
printf '%s\n' "$out"
printf '%s\n' "$out" | grep -q '^node [0-9]*: ' || fail "list_nodes listed no node"
say "ok"
