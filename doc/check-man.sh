#!/bin/sh
# check-man.sh [--header H] [--env-sources DIR...] [--sources SCD...]
#              [--include DIR] [--libdir DIR] [--known FILE] [--cc CC] -- PAGE...
#
# PAGE... are the rendered pages and the one-line ".so man3/GROUP.3" pages
# that give each function its own name (doc/meson.build generates those from
# each group page's NAME line).  The checks, each a FAIL line of its own:
#
#   pages     every page is non-empty, has a .TH header and renders without
#             groff warnings; every .so page points to one of PAGE...
#   header    (--header) every function the header exports (PMN_API):
#             - is named on exactly one section 3 page's NAME line (what
#               whatis(1) and apropos(1) read, by lexgrog(1) when installed);
#             - has its own page name: "man 3 FN" resolves, in a man tree made
#               of PAGE... only, to a page whose NAME line names FN and which
#               gives FN's prototype and has a RETURN VALUE section.
#   env       (--env-sources) every PMNODE_* variable the sources name is in
#             pmnode-env(7).
#   refs      every name(N) reference in the text of a page (its examples and
#             synopsis aside) is one of PAGE...; a name outside our own
#             prefixes (pmn_, libpmnode, pmnode) may also be a system page
#             man -w finds, or one listed in --known (one name(N) a line).
#   escapes   no printf format in a rendered page lost its "\n" to scdoc
#             ("%sn"", ")n""); with --sources, no backslash in a literal block
#             of the .scd source is a single one (scdoc drops it: write \\).
#   examples  (--include) each C block of a section 3 page's EXAMPLE(S),
#             taken from the rendered text, compiles against the header: a
#             whole program (it has main) is also linked against the library
#             in --libdir; a fragment is compiled inside a function, with the
#             few variables the fragments take as given declared beforehand.
#
# Rendering needs groff (groff-base): without it the checks that read the
# rendered text are skipped, with exit status 77 when nothing else failed.
# man-db (man, lexgrog) is used when installed: without it the NAME line is
# read from the roff source, the .so links are followed by this script and a
# system page must be in --known.
set -u
fail=0
skipped=
header=
sources=
scds=
incdir=
libdir=
known=
cc=${CC:-cc}
while [ $# -gt 0 ]; do
    case $1 in
    --header) header=$2; shift 2 ;;
    --env-sources) shift; while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do sources="$sources $1"; shift; done ;;
    --sources) shift; while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do scds="$scds $1"; shift; done ;;
    --include) incdir=$2; shift 2 ;;
    --libdir) libdir=$2; shift 2 ;;
    --known) known=$2; shift 2 ;;
    --cc) cc=$2; shift 2 ;;
    --) shift; break ;;
    *) break ;;
    esac
done

tmp=$(mktemp -d) || exit 1
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT INT TERM
have() { command -v "$1" >/dev/null 2>&1; }
have_groff=0; have groff && have_groff=1
have_man=0; have man && have_man=1

all="$*"
# The man tree: $tmp/man/manN/NAME.N for every page given, rendered or .so.
# (Few processes per page: this runs on loaded 2-CPU hosts.)
mkdir -p "$tmp/man/man1" "$tmp/man/man3" "$tmp/man/man5" "$tmp/man/man7" "$tmp/man/man8"
for page in $all; do
    case $page in
    *.[1-8]) ;;
    *) echo "FAIL $page: not NAME.SECTION"; fail=1 ;;
    esac
done
for sec in 1 3 5 7 8; do
    set --
    for page in $all; do
        case $page in *.$sec) set -- "$@" "$page" ;; esac
    done
    [ $# -gt 0 ] && cp "$@" "$tmp/man/man$sec/"
done
# rendered pages: those with a line other than ".so"
# shellcheck disable=SC2086
pages=$(grep -l -v '^\.so ' $all 2>/dev/null)
pages3=
envpage=
for page in $pages; do
    case ${page##*/} in
    *.3) pages3="$pages3 $page" ;;
    pmnode-env.7) envpage=$page ;;
    esac
done
rendered=" "
for page in $pages; do rendered="$rendered${page##*/} "; done
# is_rendered NAME.N: one of the rendered pages (not a .so link)
is_rendered() { case $rendered in *" ${1##*/} "*) return 0 ;; esac; return 1; }

# render PAGE: plain text, no hyphenation, long lines (a name is never split).
render() {
    groff -t -man -Tascii -rLL=250n -rHY=0 -P -cbou "$1" 2>/dev/null
}
# sections TEXT-FILE TITLE...: the lines of the named sections of rendered
# text (a title's spaces written as _); except TEXT-FILE TITLE...: the others.
pick() {
    inv=$1 f=$2; shift 2
    awk -v want=" $* " -v invert="$inv" '
        /^[A-Z][A-Z ]*$/ { s = $0; gsub(/ /, "_", s); on = (index(want, " " s " ") > 0) != invert; next }
        on' "$f"
}
sections() { pick 0 "$@"; }
except() { pick 1 "$@"; }

# --- pages ------------------------------------------------------------------
for page in $all; do
    base=${page##*/}
    if [ ! -s "$page" ]; then
        echo "FAIL $page: empty or missing"; fail=1; continue
    fi
    if ! is_rendered "$page"; then
        read -r so target <"$page"
        if [ "$so" != .so ] || [ ! -s "$tmp/man/$target" ] || ! is_rendered "$target"; then
            echo "FAIL $page: .so $target is not one of the rendered pages"; fail=1
        fi
        continue
    fi
    if ! grep -q '^\.TH ' "$page"; then
        echo "FAIL $page: no .TH header"; fail=1; continue
    fi
    if [ "$have_man" -eq 1 ]; then
        warn=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
        if [ -n "$warn" ]; then
            echo "FAIL $page: $warn"; fail=1; continue
        fi
    fi
    if [ "$have_groff" -eq 1 ]; then
        render "$page" >"$tmp/$base.txt"
        if [ ! -s "$tmp/$base.txt" ]; then
            echo "FAIL $page: groff rendered nothing"; fail=1; continue
        fi
    fi
    echo "ok   $page"
done

# --- header: one name per function --------------------------------------
# names_of PAGE: the names of its NAME line, one a line (what whatis reads).
names_of() {
    if have lexgrog; then
        lexgrog "$1" 2>/dev/null | sed -n 's/^[^:]*: "\(.*\) - .*"$/\1/p'
    else
        awk '/^\.SH /{ on = ($2 == "NAME"); next } on && !/^\./ { printf "%s ", $0 }' "$1" |
            sed 's/\\-.*//; s/ - .*//; s/\\//g' | tr ',' '\n' | tr -d ' ' | grep .
    fi
}
if [ -n "$header" ]; then
    : >"$tmp/names"
    for page in $pages3; do
        names_of "$page" | sed "s|\$| ${page##*/}|" >>"$tmp/names"
    done
    bad=0
    for dup in $(awk '{print $1}' "$tmp/names" | sort | uniq -d); do
        echo "FAIL $dup is on the NAME line of more than one page: $(awk -v n="$dup" '$1 == n {printf "%s ", $2}' "$tmp/names")"
        bad=1
    done
    fns=$(sed -n 's/^PMN_API[^(]*[ *]\(pmn_[a-z0-9_]*\)(.*/\1/p' "$header" | sort -u)
    [ -n "$fns" ] || { echo "FAIL no PMN_API function found in $header"; bad=1; }
    # links: "FN TARGET" for every page of the tree (a .so names its target)
    : >"$tmp/links"
    for f in "$tmp"/man/man3/*.3; do
        b=${f##*/}
        if is_rendered "$b"; then
            echo "${b%.3} $b" >>"$tmp/links"
        else
            read -r so target <"$f"
            echo "${b%.3} ${target#man3/}" >>"$tmp/links"
        fi
    done
    # found: "FN PAGE" as man -w resolves FN in the tree (one man for all)
    : >"$tmp/found"
    if [ "$have_man" -eq 1 ]; then
        for fn in $fns; do
            [ -s "$tmp/man/man3/$fn.3" ] && echo "$fn"
        done >"$tmp/have"
        # One man for all names (one a line out, in order); one per name if
        # any was not found, so the lines still pair up.
        # shellcheck disable=SC2046
        man -M "$tmp/man" -w 3 $(cat "$tmp/have") 2>/dev/null >"$tmp/paths"
        if [ "$(wc -l <"$tmp/paths")" -ne "$(wc -l <"$tmp/have")" ]; then
            while read -r fn; do
                man -M "$tmp/man" -w 3 "$fn" 2>/dev/null || echo none
            done <"$tmp/have" >"$tmp/paths"
        fi
        sed 's|.*/||' "$tmp/paths" | paste -d ' ' "$tmp/have" - >"$tmp/found"
    fi
    # facts: "PAGE proto FN", "PAGE name FN", "PAGE rv" from the rendered text
    if [ "$have_groff" -eq 1 ]; then
        for page in $pages3; do
            b=${page##*/}
            awk -v p="$b" '
                /^[A-Z][A-Z ]*$/ { sec = $0; if (sec == "RETURN VALUE") print p, "rv"; next }
                sec == "NAME" { t = $0; sub(/ - .*/, "", t); gsub(/,/, " ", t); n = split(t, w, " "); for (i = 1; i <= n; i++) print p, "name", w[i] }
                { while (match($0, /[a-z_0-9*] \**pmn_[a-z0-9_]+\(/)) { f = substr($0, RSTART, RLENGTH - 1); sub(/^[^p]*/, "", f); print p, "proto", f; $0 = substr($0, RSTART + RLENGTH) } }
            ' "$tmp/$b.txt"
        done >"$tmp/facts"
    else
        : >"$tmp/facts"
    fi
    # shellcheck disable=SC2086
    printf '%s\n' $fns >"$tmp/fns"
    out=$(awk -v hdr="$header" -v man="$have_man" -v groff="$have_groff" '
        FILENAME ~ /names$/ { home[$1] = $2; next }
        FILENAME ~ /links$/ { link[$1] = $2; next }
        FILENAME ~ /found$/ { found[$1] = $2; next }
        FILENAME ~ /facts$/ { if ($2 == "rv") rv[$1] = 1; else fact[$1 " " $2 " " $3] = 1; next }
        {
            fn = $1
            if (!(fn in home)) { print "FAIL " fn " (exported by " hdr ") is on no section 3 page\047s NAME line (whatis/apropos cannot find it)"; next }
            if (!(fn in link)) { print "FAIL " fn " has no page of its own name: man 3 " fn " fails (documented in " home[fn] ")"; next }
            t = link[fn]
            if (man && found[fn] != t) { print "FAIL man 3 " fn " finds \047" found[fn] "\047, not " t; next }
            if (!groff) next
            if (!((t " name " fn) in fact)) print "FAIL man 3 " fn " shows " t ", whose NAME line does not name " fn
            if (!((t " proto " fn) in fact)) print "FAIL man 3 " fn " shows " t ", without " fn "\047s prototype"
            if (!(t in rv)) print "FAIL man 3 " fn " shows " t ", which has no RETURN VALUE section"
        }' "$tmp/names" "$tmp/links" "$tmp/found" "$tmp/facts" "$tmp/fns")
    if [ -n "$out" ]; then
        printf '%s\n' "$out"; bad=1
    fi
    if [ "$bad" -eq 0 ]; then
        echo "ok   every function of $header has its own page name, on its page's NAME line, with prototype and return value"
    fi
    fail=$((fail | bad))
fi

# --- env --------------------------------------------------------------------
if [ -n "$sources" ] && [ -n "$envpage" ]; then
    missing=0
    # shellcheck disable=SC2086
    for var in $(grep -rhoE '"PMNODE_[A-Z_]+"' $sources | tr -d '"' | sort -u); do
        grep -q "$var" "$envpage" || { echo "FAIL $var (read by the sources) is not in $envpage"; missing=1; }
    done
    [ "$missing" -eq 0 ] && echo "ok   every PMNODE_* variable the sources read is in $envpage"
    fail=$((fail | missing))
fi

# --- escapes in the sources -------------------------------------------------
if [ -n "$scds" ]; then
    bad=0
    for scd in $scds; do
        # In a ``` block scdoc drops a backslash that is not doubled.
        out=$(awk '/^```/ { lit = !lit; next }
            lit { s = $0; gsub(/\\\\/, "", s); if (index(s, "\\")) printf "%s:%d: %s\n", FILENAME, FNR, $0 }' "$scd")
        if [ -n "$out" ]; then
            printf '%s\n' "$out" | sed 's/^/FAIL single backslash in a literal block (scdoc drops it; write \\\\): /'
            bad=1
        fi
    done
    [ "$bad" -eq 0 ] && echo "ok   no single backslash in a literal block of the sources"
    fail=$((fail | bad))
fi

if [ "$have_groff" -eq 0 ]; then
    skipped="groff is not installed (apt-get install groff-base): references, rendered escapes and examples not checked"
else
    # --- references ---------------------------------------------------------
    bad=0
    for page in $pages; do
        base=${page##*/}
        refs=$(except "$tmp/$base.txt" SYNOPSIS EXAMPLE EXAMPLES |
               grep -oE '(^|[^A-Za-z0-9_.-])[a-z_][a-z0-9_.+-]*\([1-8][a-z]*\)' |
               sed 's/^[^a-z_]//' | sort -u)
        for ref in $refs; do
            name=${ref%%(*}; sec=${ref#*(}; sec=${sec%)}
            [ -s "$tmp/man/man${sec%%[a-z]*}/$name.${sec%%[a-z]*}" ] && continue
            case $name in
            pmn_* | libpmnode* | pmnode*) ;;
            *)
                [ -n "$known" ] && grep -qxF "$ref" "$known" && continue
                [ "$have_man" -eq 1 ] && man -w "$sec" "$name" >/dev/null 2>&1 && continue
                ;;
            esac
            echo "FAIL $base refers to $ref, which is none of our pages nor a known system page"
            bad=1
        done
    done
    [ "$bad" -eq 0 ] && echo "ok   every name(N) reference resolves"
    fail=$((fail | bad))

    # --- escapes in the rendered text ---------------------------------------
    bad=0
    for page in $pages; do
        base=${page##*/}
        # A conversion or a closing bracket right before n" is a "\n" scdoc ate.
        out=$(grep -nE '%[-+ #0-9.*]*(hh|h|ll|l|j|z|t|L)?[diouxXeEfFgGaAcsp]n"|[])}:.,;!?]n"' "$tmp/$base.txt")
        if [ -n "$out" ]; then
            printf '%s\n' "$out" | sed "s/^/FAIL $base: a format lost its \\\\n (scdoc escaping): line /"
            bad=1
        fi
    done
    [ "$bad" -eq 0 ] && printf '%s\n' 'ok   no printf format lost its \n'
    fail=$((fail | bad))

    # --- examples -----------------------------------------------------------
    if [ -n "$incdir" ]; then
        # What the fragments take as given: a context, a backing, a socket...
        cat >"$tmp/given.h" <<'EOF'
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pmnode.h>
extern struct pmn_ctx *ctx;
extern struct pmn_backing *b;
extern struct pmn_arena *arena;
extern int node, cold_node, sock, err;
extern void *buf, *cold, *table;
extern size_t len;
EOF
        bad=0
        n=0
        for page in $pages3; do
            base=${page##*/}
            # Code lines are indented past the prose (7 columns); a prose line
            # between them ends a block.
            sections "$tmp/$base.txt" EXAMPLE EXAMPLES |
                awk -v dir="$tmp" -v base="$base" '
                    /^        / { if (!open) { nb++; f = dir "/ex-" base "-" nb ".c"; open = 1 }
                                  print substr($0, 12) > f; next }
                    /^ *$/ { if (open) print "" > f; next }
                    { if (open) close(f); open = 0 }'
            for ex in "$tmp"/ex-"$base"-*.c; do
                [ -e "$ex" ] || continue
                n=$((n + 1))
                flags="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-variable -Wno-unused-but-set-variable -Wno-empty-body -I$incdir"
                st=0
                if grep -q 'main(' "$ex"; then
                    if [ -n "$libdir" ]; then
                        # shellcheck disable=SC2086
                        # (the linker may warn about the library's own
                        # dependencies, libasan's tmpnam: the status decides)
                        msg=$($cc $flags "$ex" -o "$tmp/a.out" -L"$libdir" -lpmnode 2>&1) || st=1
                    else
                        # shellcheck disable=SC2086
                        msg=$($cc $flags -fsyntax-only "$ex" 2>&1) || st=1
                    fi
                else
                    { echo '#include "given.h"'; echo 'int example(void);'; echo 'int example(void)'; echo '{'
                      cat "$ex"; echo 'return 0;'; echo '}'; } >"$tmp/frag.c"
                    # shellcheck disable=SC2086
                    msg=$($cc $flags -fsyntax-only "$tmp/frag.c" 2>&1) || st=1
                fi
                if [ "$st" -ne 0 ]; then
                    echo "FAIL $base: example $(basename "$ex" .c | sed 's/.*-//') does not compile:"
                    printf '%s\n' "$msg" | sed 's/^/    /' | head -n 20
                    bad=1
                fi
            done
        done
        [ "$bad" -eq 0 ] && echo "ok   the $n C examples of the section 3 pages compile"
        fail=$((fail | bad))
    fi
fi
if [ "$have_man" -eq 0 ]; then
    echo "note man-db is not installed: names resolved by reading the .so links, not by man -w; system pages only from --known"
fi
if [ "$fail" -eq 0 ] && [ -n "$skipped" ]; then
    echo "SKIP $skipped"
    exit 77
fi
exit $fail
