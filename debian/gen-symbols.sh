#!/bin/sh
# gen-symbols.sh - write debian/libpmnode0.symbols from libpmnode/libpmnode.map:
# every name of version node PMNODE_x.y, as NAME@PMNODE_x.y, with x.y as
# the upstream version that introduced it (the node's own name).  Run it
# after adding a version node to the map; the package build checks the
# result against the built library (dpkg-gensymbols -c4 in debian/rules:
# a symbol missing from this file, or one the library lacks, fails it).
#
# usage: sh debian/gen-symbols.sh [MAP] > debian/libpmnode0.symbols
set -eu
map=${1:-$(dirname "$0")/../libpmnode/libpmnode.map}
echo 'libpmnode.so.0 libpmnode0 #MINVER#'
echo '* Build-Depends-Package: libpmnode-dev'
# Strip comments, then walk the nodes: NODE { global: names; local: *; } PREV;
sed -e 's|/\*.*\*/||' "$map" | awk '
    /\/\*/ { incomment = 1 }
    incomment { if ($0 ~ /\*\//) incomment = 0; next }
    /^[A-Za-z0-9_.]+[ \t]*\{/ { node = $1; sub(/\{.*/, "", node); inlocal = 0
        ver = node; sub(/^PMNODE_/, "", ver)
        printf " %s@%s %s\n", node, node, ver; next }
    /local:/ { inlocal = 1; next }
    /global:/ { inlocal = 0; next }
    /^}/ { node = ""; next }
    node != "" && !inlocal {
        line = $0; gsub(/[ \t;]/, "", line)
        if (line != "") printf " %s@%s %s\n", line, node, ver
    }' | sort -t@ -k2,2V -k1,1
