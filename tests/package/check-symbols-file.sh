#!/bin/sh
# check-symbols-file.sh SRCDIR - debian/libpmnode0.symbols names exactly the
# symbols of libpmnode/libpmnode.map (as debian/gen-symbols.sh writes them),
# so a version node added to the map without the symbols file fails here in
# a second, not only in the package build (dpkg-gensymbols -c4).
# Exit 0 same, 1 different (the diff is printed).
set -eu
src=$1
if sh "$src/debian/gen-symbols.sh" "$src/libpmnode/libpmnode.map" | diff -u "$src/debian/libpmnode0.symbols" -; then
    echo "check-symbols-file: ok"
else
    echo "check-symbols-file: FAIL: run sh debian/gen-symbols.sh > debian/libpmnode0.symbols" >&2
    exit 1
fi
