#!/bin/sh
# check-man.sh [--header H] [--env-sources DIR...] -- PAGE...
# Each rendered man page is non-empty, has a .TH header, and (when man(1)
# is installed) renders without groff warnings.  With --header, every
# function the header exports (PMN_API) is documented in a section 3 page;
# with --env-sources, every PMNODE_* variable the sources name is in
# pmnode-env(7).
set -u
fail=0
header=
sources=
while [ $# -gt 0 ]; do
    case $1 in
    --header) header=$2; shift 2 ;;
    --env-sources) shift; while [ $# -gt 0 ] && [ "$1" != -- ]; do sources="$sources $1"; shift; done ;;
    --) shift; break ;;
    *) break ;;
    esac
done
pages3=
envpage=
for page in "$@"; do
    case $page in
    *.3) pages3="$pages3 $page" ;;
    *pmnode-env.7) envpage=$page ;;
    esac
done
if [ -n "$header" ]; then
    missing=0
    for fn in $(sed -n 's/^PMN_API[^(]*[ *]\(pmn_[a-z0-9_]*\)(.*/\1/p' "$header" | sort -u); do
        # shellcheck disable=SC2086
        grep -q "$fn" $pages3 || { echo "FAIL $fn (exported by $header) is in no section 3 page"; missing=1; }
    done
    [ "$missing" -eq 0 ] && echo "ok   every function of $header is documented"
    fail=$((fail | missing))
fi
if [ -n "$sources" ] && [ -n "$envpage" ]; then
    missing=0
    # shellcheck disable=SC2086
    for var in $(grep -rhoE '"PMNODE_[A-Z_]+"' $sources | tr -d '"' | sort -u); do
        grep -q "$var" "$envpage" || { echo "FAIL $var (read by the sources) is not in $envpage"; missing=1; }
    done
    [ "$missing" -eq 0 ] && echo "ok   every PMNODE_* variable the sources read is in $envpage"
    fail=$((fail | missing))
fi
for page in "$@"; do
    if [ ! -s "$page" ]; then
        echo "FAIL $page: empty or missing"; fail=1; continue
    fi
    if ! grep -q '^\.TH ' "$page"; then
        echo "FAIL $page: no .TH header"; fail=1; continue
    fi
    if command -v man >/dev/null 2>&1; then
        warn=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
        if [ -n "$warn" ]; then
            echo "FAIL $page: $warn"; fail=1; continue
        fi
    fi
    echo "ok   $page"
done
exit $fail
