#!/bin/sh
# check-symbols.sh - the shared library exports exactly what its version
# script lists.
#
#   check-symbols.sh LIBRARY.so VERSION.map
#
# The expected list is every name under "global:" in the map's version
# nodes, as NAME@@NODE; a name listed in several nodes is NAME@@NODE in the
# last of them (its default version) and NAME@NODE in the others (kept for
# programs linked against the older release); the actual list is `nm -D --defined-only` of the
# library (minus the version nodes' own absolute symbols), so an
# unversioned library fails.  When nm prints no versions for a versioned
# library (binutils before 2.35) names alone are compared.  Prints a
# unified diff (- expected, + exported) and exits 1 on any difference, 2 on
# bad usage or an unreadable map (wildcards in global: are refused: the
# list must be explicit to be checked).
set -eu

if [ $# -ne 2 ]; then
    echo "usage: $0 LIBRARY.so VERSION.map" >&2
    exit 2
fi
lib=$1
map=$2
NM=${NM:-nm}
for f in "$lib" "$map"; do
    [ -r "$f" ] || { echo "check-symbols: cannot read $f" >&2; exit 2; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# Version nodes and their global names, one "NAME@@NODE" per line; the
# node names go to $tmp/nodes.  Comments: /* ... */ and # to end of line.
awk -v nodes="$tmp/nodes" '
    { sub(/#.*/, ""); text = text $0 "\n" }
    END {
        while ((i = index(text, "/*")) > 0) {
            rest = substr(text, i + 2)
            j = index(rest, "*/")
            if (j == 0) { print "check-symbols: unterminated comment" > "/dev/stderr"; exit 2 }
            text = substr(text, 1, i - 1) " " substr(rest, j + 2)
        }
        gsub(/[{};]/, " & ", text)
        n = split(text, tok, /[ \t\n]+/)
        node = ""; mode = ""; prev = ""
        for (k = 1; k <= n; k++) {
            t = tok[k]
            if (t == "") continue
            if (t == "{") { node = prev; mode = ""; print node > nodes }
            else if (t == "}") { node = ""; mode = "" }
            else if (t == "global:") mode = "g"
            else if (t == "local:") mode = "l"
            else if (t != ";" && node != "" && mode == "g") {
                if (t ~ /[*?\[]/) {
                    print "check-symbols: wildcard \"" t "\" in global:" > "/dev/stderr"
                    exit 2
                }
                seen[++nseen] = t SUBSEP node
                last[t] = node
            }
            prev = t
        }
        # a name in several nodes: the last is its default version, the
        # earlier ones are kept for old programs (NAME@NODE)
        for (k = 1; k <= nseen; k++) {
            split(seen[k], p, SUBSEP)
            print p[1] (last[p[1]] == p[2] ? "@@" : "@") p[2]
        }
    }' "$map" | LC_ALL=C sort -u >"$tmp/expected"
[ -s "$tmp/expected" ] || { echo "check-symbols: no global symbols in $map" >&2; exit 2; }

"$NM" -D --defined-only "$lib" >"$tmp/nm"
awk -v nodes="$tmp/nodes" '
    BEGIN { while ((getline n < nodes) > 0) isnode[n] = 1 }
    NF >= 2 {
        name = $NF; type = $(NF - 1)
        base = name; sub(/@.*/, "", base)
        if (type == "A" && isnode[base]) next
        print name
    }' "$tmp/nm" | LC_ALL=C sort -u >"$tmp/exported"

if ! grep -q '@' "$tmp/exported" &&
    awk '$(NF - 1) == "A"' "$tmp/nm" | grep -q .; then
    # the library has version nodes but nm prints no versions (old
    # binutils): compare bare names
    sed 's/@.*//' "$tmp/expected" | LC_ALL=C sort -u >"$tmp/e2"
    mv "$tmp/e2" "$tmp/expected"
fi

if diff -u "$tmp/expected" "$tmp/exported" >"$tmp/diff"; then
    echo "check-symbols: $(wc -l <"$tmp/exported") symbols match $map"
    exit 0
fi
echo "check-symbols: $lib does not export exactly what $map lists"
echo "(- listed in the map but not exported, + exported but not listed)"
tail -n +3 "$tmp/diff"
exit 1
