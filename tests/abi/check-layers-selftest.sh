#!/bin/sh
# check-layers-selftest.sh CHECK - check-layers.sh finds what it must on a
# small made-up tree: calls outside libpmnode/os/ (in libpmnode/ and tools/,
# spelled with a space before the parenthesis, after a comment closes on
# the same line), and nothing in os/, in comments, in string literals, in
# member calls or in pmn_prim_ names; the shim has no exception any more.
set -u
check=$1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() { echo "check-layers-selftest: FAIL: $*"; exit 1; }

mkdir -p "$tmp/libpmnode/os" "$tmp/libpmnode/place" "$tmp/libpmnode/preload" "$tmp/tools"
cat > "$tmp/libpmnode/os/prim-linux.c" <<'EOF'
void *p = mmap(NULL, 1, 0, 0, -1, 0);
int fd = open("/dev/x", 0);
EOF
cat > "$tmp/libpmnode/place/bad.c" <<'EOF'
/* mmap( in a comment */
// ioctl(fd) in a line comment
static const char *s = "open(path) in a string", c = '(';
int f(void) { return open("/dev/x", 0); }
    ops->open(x); b.mprotect(y);
    pmn_prim_open_dir(p, &fd); my_madvise(p);
 /* a comment that goes on:
    munmap(p, 1);
  */ x = syscall (SYS_gettid);
EOF
cat > "$tmp/libpmnode/preload/preload.c" <<'EOF'
    fd = open(path,
              O_WRONLY, 0644);
EOF
cat > "$tmp/tools/pmnode.c" <<'EOF'
    FILE *f = fopen(p, "r"); /* open( */
EOF

out=$(sh "$check" "$tmp" 2>/dev/null)
rc=$?
expect='libpmnode/place/bad.c:4: int f(void) { return open("/dev/x", 0); }
libpmnode/place/bad.c:9: */ x = syscall (SYS_gettid);
libpmnode/preload/preload.c:1: fd = open(path,
tools/pmnode.c:1: FILE *f = fopen(p, "r"); /* open( */'
[ $rc -eq 1 ] || fail "exit $rc on a tree with calls outside os/, expected 1"
[ "$out" = "$expect" ] || fail "reported
$out
expected
$expect"

# Without the offending files the tree is clean.
rm "$tmp/libpmnode/place/bad.c" "$tmp/libpmnode/preload/preload.c" "$tmp/tools/pmnode.c"
out=$(sh "$check" "$tmp" 2>&1) || fail "exit $? on a clean tree: $out"

# Bad usage.
sh "$check" "$tmp/nonexistent" > /dev/null 2>&1
[ $? -eq 2 ] || fail "a root without libpmnode/ is not a usage error"
echo "check-layers-selftest: ok"
