#!/bin/sh
# check-layers.sh SRCROOT - the OS boundary holds: outside libpmnode/os/, no
# code in libpmnode/ or tools/ calls the kernel's memory and file-opening
# interfaces itself (DESIGN.md: os/ is the only code that calls the kernel;
# os/prim.h is the contract the others call instead).
#
# Each C source and header is read with its comments and string and
# character literals blanked out (line numbers kept), then searched for a
# call to one of the names below.  Every hit is printed as FILE:LINE: code
# and the check exits 1; it exits 0 when there is none, 2 on bad usage.
# There are no exceptions: the shim's stats file, the last one, goes
# through pmn_prim_write_report now.
set -u

if [ $# -ne 1 ] || [ ! -d "$1/libpmnode" ]; then
    echo "usage: $0 SRCROOT (the directory holding libpmnode/ and tools/)" >&2
    exit 2
fi
root=$1

# System calls and their libc wrappers that belong to os/ only.
CALLS='mmap|mmap64|munmap|mremap|mbind|madvise|mprotect|mincore|mlock|mlock2|munlock|mlockall|set_mempolicy|get_mempolicy|migrate_pages|move_pages|memfd_create|userfaultfd|syscall|ioctl|open|open64|openat|openat2|creat|fopen|opendir|fdopendir'
PATTERN="(^|[^A-Za-z0-9_.>])($CALLS)[[:space:]]*[(]"

tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

# Blank comments and literals, keeping one output line per input line:
# FILE<TAB>LINE<TAB>code.
strip() {
    awk -v file="$1" '
    BEGIN { incomment = 0 }
    {
        line = $0; out = ""; i = 1; n = length(line)
        while (i <= n) {
            c = substr(line, i, 1); c2 = substr(line, i, 2)
            if (incomment) {
                if (c2 == "*/") { incomment = 0; i += 2; out = out "  " } else { i++; out = out " " }
                continue
            }
            if (c2 == "/*") { incomment = 1; i += 2; out = out "  "; continue }
            if (c2 == "//") break
            if (c == "\"" || c == "'\''") {
                q = c; out = out q; i++
                while (i <= n) {
                    c = substr(line, i, 1)
                    if (c == "\\") { i += 2; out = out "  "; continue }
                    i++
                    if (c == q) break
                    out = out " "
                }
                out = out q
                continue
            }
            out = out c; i++
        }
        printf "%s\t%d\t%s\n", file, FNR, out
    }' "$root/$1"
}

: > "$tmp/hits"
(cd "$root" && find libpmnode tools -type f \( -name '*.c' -o -name '*.h' -o -name '*.cpp' \) \
    ! -path 'libpmnode/os/*' | LC_ALL=C sort) > "$tmp/files"
while IFS= read -r f; do
    strip "$f" | awk -F '\t' -v pat="$PATTERN" '$3 ~ pat' >> "$tmp/hits"
done < "$tmp/files"

status=0
while IFS="$(printf '\t')" read -r file line code; do
    # the original line, as written
    echo "$file:$line: $(sed -n "${line}p" "$root/$file" | sed 's/^[[:space:]]*//')"
    status=1
done < "$tmp/hits"

if [ $status -ne 0 ]; then
    echo "check-layers: the calls above belong in libpmnode/os/ (DESIGN.md); call a pmn_prim_ primitive (os/prim.h) instead" >&2
else
    echo "check-layers: libpmnode/ and tools/ call the kernel only through libpmnode/os/"
fi
exit $status
