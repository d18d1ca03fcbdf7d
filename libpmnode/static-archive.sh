#!/bin/sh
# static-archive.sh - make the installed libpmnode.a from the objects of
# libpmnode-internal.a, so that a program linked statically sees only the
# public interface.
#
# The objects are linked into one relocatable object (cc -r), then every
# hidden symbol (the pmn__ functions shared between the library's files,
# -fvisibility=hidden) and every pmn__* name (the 0.1 compatibility entry
# points, exported from the shared library by .symver only) is made local.
# A consumer can then define any name of its own, pmn__ ones included,
# without a clash; only the pmn_ functions of pmnode.h stay global.
#
# Symbol versions: each function whose interface changed is defined twice,
# NAME@@PMNODE_x.y (the default) and NAME@PMNODE_0.1 (compat-0.1.c).  A
# static link binds a plain reference NAME to the default one, exactly as a
# program built against libpmnode.so today does; the 0.1 entry points are
# made local here, so nothing can bind to them.
#
# usage: static-archive.sh OUT.a IN.a OBJCOPY AR CC [CC ARGS...]
set -eu
out=$1 in=$2 objcopy=$3 ar=$4
shift 4
tmp=$out.tmp.o
trap 'rm -f "$tmp"' EXIT
rm -f "$out"
"$@" -r -nostdlib -Wl,--whole-archive "$in" -Wl,--no-whole-archive -o "$tmp"
"$objcopy" --localize-hidden --wildcard --localize-symbol='pmn__*' \
    --localize-symbol='*@PMNODE_0.1' "$tmp"
"$ar" rcs "$out" "$tmp"
