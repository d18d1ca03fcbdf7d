#!/bin/sh
# check-packages.sh - build the Debian packages from a copy of the tree,
# check them with lintian, install them into a throwaway root, and build
# and run consumers against that root only (issue 18).
#
#  1. copy the tree (the files git knows, new ones included; or the whole
#     checkout without build directories) to a temporary directory;
#  2. dpkg-buildpackage -us -uc -b there (debian/rules: meson, the library,
#     the shim, the CLI, the man pages; the Python package);
#  3. lintian on the .changes: any error (E:) fails; every line is printed;
#  4. dpkg -c of each package, summarised (what it holds, by kind);
#  5. dpkg --root ROOT --install of the packages (--force-depends: ROOT
#     holds nothing else; --force-script-chrootless: the maintainer scripts
#     run here with DPKG_ROOT=ROOT, not in a chroot); python3-pmnode only
#     unpacked (its postinst byte-compiles on the running system's paths);
#  6. examples/list_nodes.c built against ROOT with pkg-config
#     (PKG_CONFIG_SYSROOT_DIR) and with CMake (find_package(pmnode CONFIG),
#     pmnode::pmnode and pmnode::pmnode_static), then run with ROOT's
#     libpmnode.so.0; the packaged pmnode CLI lists the nodes; the Python
#     package imports and lists the nodes, loading ROOT's libpmnode.so.0.
#
# usage: check-packages.sh SRCDIR [KEEP_DIR]
#   KEEP_DIR, if given, receives the .deb files and lintian's output.
# Exit 0 pass, 1 fail, 77 skip (a Debian tool is missing: scripts/setup-debian.sh
# installs them).
set -eu

src=$(cd "$1" && pwd)
keep=${2:-}

say() { echo "check-packages: $*"; }
fail() { echo "check-packages: FAIL: $*" >&2; exit 1; }

for tool in dpkg-buildpackage dh lintian dpkg-deb cc pkg-config cmake python3; do
    command -v "$tool" >/dev/null 2>&1 || { say "no $tool (sh scripts/setup-debian.sh): skip"; exit 77; }
done
[ -f "$src/debian/control" ] || fail "$src has no debian/control"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pmnode-packages.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

# 1. The tree, as a release would ship it: the files git knows (and new,
# not ignored ones), symbolic links kept (the fixtures hold many).
version=$(sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' "$src/debian/changelog")
[ -n "$version" ] || fail "no version in debian/changelog"
# The packages carry the project's version: a release bumps both (dch -v).
upstream=$(sed -n "s/^ *version : '\([^']*\)',\$/\1/p" "$src/meson.build" | head -n 1)
[ "$version" = "$upstream" ] ||
    fail "debian/changelog says $version, meson.build says $upstream: add a changelog entry (dch -v $upstream)"
tree=$tmp/libpmnode-$version
mkdir "$tree"
if command -v git >/dev/null 2>&1 && git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$src" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) |
        tar -xf - -C "$tree" || fail "copying the tree failed"
else
    (cd "$src" && tar --exclude='./build*' --exclude=./.git -cf - .) | tar -xf - -C "$tree" ||
        fail "copying the tree failed"
fi

# 2. Build.
say "dpkg-buildpackage -us -uc -b in a copy of $src (version $version)"
jobs=$(nproc 2>/dev/null || echo 2)
if ! (cd "$tree" && DEB_BUILD_OPTIONS="parallel=$jobs" dpkg-buildpackage -us -uc -b) \
    >"$tmp/build.log" 2>&1; then
    tail -n 60 "$tmp/build.log"
    fail "dpkg-buildpackage failed"
fi
changes=$(ls "$tmp"/libpmnode_*.changes)
debs=$(ls "$tmp"/*.deb | grep -v -- '-dbgsym_')
for p in libpmnode0 libpmnode-dev pmnode python3-pmnode; do
    ls "$tmp/${p}_"*.deb >/dev/null 2>&1 || fail "package $p was not built"
done

# 3. lintian: no error; warnings and the rest printed.
say "lintian --pedantic $(basename "$changes")"
rc=0
lintian --pedantic --fail-on error "$changes" >"$tmp/lintian.txt" 2>&1 || rc=$?
grep -v '^running with root privileges' "$tmp/lintian.txt" || true
grep -q '^E: ' "$tmp/lintian.txt" && fail "lintian reports errors"
[ "$rc" -eq 0 ] || fail "lintian exited with status $rc"
say "lintian: $(grep -c '^E: ' "$tmp/lintian.txt") errors, $(grep -c '^W: ' "$tmp/lintian.txt") warnings"

# 4. Contents.
for deb in $debs; do
    say "$(basename "$deb"): $(dpkg-deb -f "$deb" Depends)"
    dpkg-deb -c "$deb" | awk '$1 !~ /^d/ && $6 !~ /^\.\/usr\/share\/doc\// {
        print "    " $3 "\t" substr($6, 2) ($1 ~ /^l/ ? " -> " $8 : "") }' || true
done
dpkg-deb -c "$tmp"/libpmnode0_*.deb | grep -q '/libpmnode\.so\.0 -> ' || fail "libpmnode0 lacks libpmnode.so.0"
dpkg-deb -c "$tmp"/libpmnode0_*.deb | grep -q '/libpmnode-preload\.so$' || fail "libpmnode0 lacks the shim"
for f in '/usr/include/pmnode\.h$' '/libpmnode\.so ' '/libpmnode\.a$' '/pkgconfig/pmnode\.pc$' \
    '/cmake/pmnode/pmnodeConfig\.cmake$' '/cmake/pmnode/pmnodeConfigVersion\.cmake$' \
    '/usr/include/pmnode/pmnode\.hpp$' '/man3/libpmnode\.3\.gz$'; do
    dpkg-deb -c "$tmp"/libpmnode-dev_*.deb | grep -q "$f" || fail "libpmnode-dev lacks $f"
done
for f in '/usr/bin/pmnode$' '/man1/pmnode\.1\.gz$' '/man7/pmnode-env\.7\.gz$'; do
    dpkg-deb -c "$tmp"/pmnode_*.deb | grep -q "$f" || fail "pmnode lacks $f"
done
dpkg-deb -c "$tmp"/python3-pmnode_*.deb | grep -q '/dist-packages/pmnode/__init__\.py$' ||
    fail "python3-pmnode lacks the pmnode module"

# 5. A throwaway root holding these packages and nothing else.
root=$tmp/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers"
: >"$root/var/lib/dpkg/status"
: >"$root/var/lib/dpkg/available"
# python3-pmnode is unpacked, not configured: its postinst only byte-compiles
# (py3compile), which works on the running system's paths, not DPKG_ROOT's.
arch_debs=$(printf '%s\n' $debs | grep -v '/python3-pmnode_')
# shellcheck disable=SC2086
dpkg --root="$root" --force-depends --force-script-chrootless --force-not-root \
    --log=/dev/null --install $arch_debs >"$tmp/dpkg.log" 2>&1 ||
    { cat "$tmp/dpkg.log"; fail "dpkg --install into the throwaway root failed"; }
dpkg --root="$root" --force-depends --force-script-chrootless --force-not-root \
    --log=/dev/null --unpack "$tmp"/python3-pmnode_*.deb >>"$tmp/dpkg.log" 2>&1 ||
    { cat "$tmp/dpkg.log"; fail "dpkg --unpack python3-pmnode into the throwaway root failed"; }
dpkg --root="$root" -l | grep '^[a-z][a-zA-Z] ' | awk '{ print "    " $1 " " $2 " " $3 }'
[ "$(dpkg --root="$root" -l | grep -c '^ii ')" -eq 3 ] || fail "the three arch packages are not all installed"
dpkg --root="$root" -l | grep -q '^iU  python3-pmnode' || fail "python3-pmnode is not unpacked"

# 6. Consumers against ROOT.
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
libdir=$root/usr/lib/$arch
[ -e "$libdir/libpmnode.so.0" ] || fail "no $libdir/libpmnode.so.0"
PKG_CONFIG_PATH=$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root pkg-config --exists pmnode ||
    fail "pkg-config does not find pmnode in the root"
flags=$(PKG_CONFIG_PATH=$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root pkg-config --cflags --libs pmnode)
say "pkg-config flags: $flags"
case $flags in *"$root"*) ;; *) fail "pkg-config flags do not point into the root: $flags" ;; esac
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Werror -o "$tmp/list_nodes" "$src/examples/list_nodes.c" $flags ||
    fail "building list_nodes with pkg-config against the root failed"

mkdir "$tmp/cm"
cp "$src/examples/list_nodes.c" "$tmp/cm/"
cat >"$tmp/cm/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.13)
project(pmnode_consumer C)
find_package(pmnode 0.1 CONFIG REQUIRED)
message(STATUS "pmnode ${pmnode_VERSION} from ${pmnode_DIR}")
add_executable(list_nodes_cmake list_nodes.c)
target_link_libraries(list_nodes_cmake PRIVATE pmnode::pmnode)
add_executable(list_nodes_static list_nodes.c)
target_link_libraries(list_nodes_static PRIVATE pmnode::pmnode_static)
CMAKE
(cmake -S "$tmp/cm" -B "$tmp/cm/b" -DCMAKE_PREFIX_PATH="$root/usr" \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF && cmake --build "$tmp/cm/b") >"$tmp/cmake.log" 2>&1 ||
    { cat "$tmp/cmake.log"; fail "building list_nodes with CMake against the root failed"; }
grep "pmnode .* from " "$tmp/cmake.log" | sed 's/^/    /'
grep -q "from $root/" "$tmp/cmake.log" || fail "CMake found pmnode outside the root"

LD_LIBRARY_PATH=$libdir
export LD_LIBRARY_PATH
ldd "$tmp/list_nodes" | grep -q "$libdir/libpmnode.so.0" || fail "list_nodes does not load the root's libpmnode"
ldd "$tmp/cm/b/list_nodes_cmake" | grep -q "$libdir/libpmnode.so.0" ||
    fail "list_nodes_cmake does not load the root's libpmnode"
! ldd "$tmp/cm/b/list_nodes_static" | grep -q libpmnode || fail "list_nodes_static loads libpmnode.so"

if [ ! -d /sys/devices/system/node ]; then
    say "built fine, but this host has no NUMA sysfs to run them on: skip"
    exit 77
fi
unset PMNODE_SYSFS_ROOT PMNODE_PRIVATE_NODES PMNODE_CONFIG PMNODE_LOG PMNODE_LIBRARY
for prog in "$tmp/list_nodes" "$tmp/cm/b/list_nodes_cmake" "$tmp/cm/b/list_nodes_static"; do
    out=$("$prog") || fail "$(basename "$prog") exited with status $?"
    printf '%s\n' "$out" | sed 's/^/    /'
    printf '%s\n' "$out" | grep -q '^node [0-9]*: ' || fail "$(basename "$prog") listed no node"
done
out=$("$root/usr/bin/pmnode" list --json) || fail "the packaged pmnode list --json failed"
printf '%s\n' "$out" | python3 -c 'import json, sys
sys.exit(0 if 0 in [n["id"] for n in json.load(sys.stdin)["nodes"]] else 1)' ||
    fail "pmnode list --json listed no node 0: $out"
say "pmnode list --json: ok"
# The Python package, from the root, must load the root's libpmnode.so.0.
out=$(PYTHONPATH=$root/usr/lib/python3/dist-packages python3 -c '
import os, pmnode
ctx = pmnode.Context()
print("python: pmnode", pmnode.version(), "from", os.path.dirname(pmnode.__file__))
print("python: nodes", [n.id for n in ctx.nodes])
with open("/proc/self/maps") as f:
    print("python: loaded", sorted({l.split()[-1] for l in f if "libpmnode.so" in l}))
') || fail "import pmnode from the root failed"
printf '%s\n' "$out" | sed 's/^/    /'
printf '%s\n' "$out" | grep -q "from $root/usr/lib/python3/dist-packages/pmnode" ||
    fail "python imported pmnode from outside the root"
printf '%s\n' "$out" | grep -q "loaded \['$libdir/libpmnode.so.0" ||
    fail "python did not load the root's libpmnode.so.0"
printf '%s\n' "$out" | grep -q "nodes \[0" || fail "python listed no node 0"

if [ -n "$keep" ]; then
    mkdir -p "$keep"
    cp "$tmp"/*.deb "$tmp/lintian.txt" "$keep/"
    say "packages and lintian.txt kept in $keep"
fi
say "ok"
