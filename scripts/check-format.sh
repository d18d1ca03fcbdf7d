#!/bin/sh
# Check that every C/C++ source the project writes is formatted as
# .clang-format says (the style the code was written in).  Prints the files
# that differ and exits 1; exits 77 when clang-format is not installed.
#   sh scripts/check-format.sh        check
#   sh scripts/check-format.sh --fix  reformat in place
set -u
cd "$(dirname "$0")/.."
cf=$(command -v clang-format || command -v clang-format-14) ||
    { echo "check-format: clang-format not installed (apt-get install clang-format)"; exit 77; }
fix=false
[ "${1:-}" = --fix ] && fix=true
bad=0
files=$(git ls-files '*.c' '*.h' '*.cpp' '*.hpp' 2>/dev/null | grep -v '^tests/fixtures/') ||
    files=$(find libpmnode tools include tests bench examples bindings -name '*.[ch]' -o -name '*.[ch]pp')
for f in $files; do
    if $fix; then
        "$cf" -i "$f"
    elif ! "$cf" "$f" | cmp -s - "$f"; then
        echo "check-format: $f differs from .clang-format (sh scripts/check-format.sh --fix)"
        bad=$((bad + 1))
    fi
done
$fix && exit 0
n=$(echo "$files" | wc -w)
echo "check-format: $n files, $bad not formatted"
[ "$bad" -eq 0 ]
