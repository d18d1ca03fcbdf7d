#!/bin/sh
# check-cmake.sh - install libpmnode into a scratch DESTDIR, then build
# examples/list_nodes.c with CMake in config mode, find_package(pmnode
# CONFIG), twice: against pmnode::pmnode (libpmnode.so) and
# pmnode::pmnode_static (libpmnode.a), and run both.  The installed tree is
# then moved to another directory and found again there (the package is
# relocatable: no absolute path inside).  The version file is asked for
# 0.1 (compatible), the next minor and 1.0 (both refused).
#
# usage: check-cmake.sh BUILD_DIR EXAMPLE_C [MESON]
# Exit 0 pass, 1 fail, 77 skip (no cmake or C compiler on this host).
set -eu

build=$1
example=$2
meson=${3:-meson}

# shellcheck disable=SC2034 # common.sh reads NAME
NAME=check-cmake
# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"

command -v cmake >/dev/null 2>&1 || { say "no cmake (Debian: cmake): skip"; exit 77; }
command -v "${CC:-cc}" >/dev/null 2>&1 || { say "no C compiler: skip"; exit 77; }

scratch cmake
install_dest "$build" "$meson"
config=$(find "$dest" -path '*/cmake/pmnode/pmnodeConfig.cmake' | head -n 1)
[ -n "$config" ] || fail "pmnodeConfig.cmake was not installed"
[ -f "$(dirname "$config")/pmnodeConfigVersion.cmake" ] || fail "pmnodeConfigVersion.cmake was not installed"
say "found ${config#"$dest"}"
if grep -n "$dest\|$(cd "$build" && pwd)" "$config"; then
    fail "pmnodeConfig.cmake names a build or install path"
fi
# The prefix: the directory above lib/ (libdir may have a multiarch part).
prefix=$(dirname "$config")
while [ "$(basename "$prefix")" != lib ]; do prefix=$(dirname "$prefix"); done
prefix=$(dirname "$prefix")

sanitizer_of "$(find "$dest" -name 'libpmnode.so.[0-9]*' | head -n 1)"

mkdir "$tmp/proj"
cp "$example" "$tmp/proj/list_nodes.c"
cat >"$tmp/proj/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.13)
project(pmnode_consumer C)
set(PMNODE_WANT "0.1" CACHE STRING "version asked of find_package")
find_package(pmnode ${PMNODE_WANT} CONFIG REQUIRED)
message(STATUS "pmnode ${pmnode_VERSION} from ${pmnode_DIR}")
if(PMNODE_SAN)
  add_compile_options(-fsanitize=${PMNODE_SAN})
  add_link_options(-fsanitize=${PMNODE_SAN})
endif()
add_executable(list_nodes list_nodes.c)
target_link_libraries(list_nodes PRIVATE pmnode::pmnode)
add_executable(list_nodes_static list_nodes.c)
target_link_libraries(list_nodes_static PRIVATE pmnode::pmnode_static)
CMAKE

configure() { # BUILDDIR PREFIX [ARGS...]
    b=$1 p=$2
    shift 2
    cmake -S "$tmp/proj" -B "$b" -DCMAKE_PREFIX_PATH="$p" -DPMNODE_SAN="$san" \
        -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF "$@"
}

run() { # DIR ROOT
    dir=$1 root=$2
    if command -v ldd >/dev/null 2>&1; then
        resolved=$(LD_LIBRARY_PATH=$(dirname "$(find "$root" -name 'libpmnode.so.[0-9]*' | head -n 1)") \
            ldd "$dir/list_nodes" | grep 'libpmnode\.so') || fail "list_nodes does not link libpmnode"
        case $resolved in
        *"$root"*) ;;
        *) fail "list_nodes resolves libpmnode outside $root: $resolved" ;;
        esac
        ! ldd "$dir/list_nodes_static" | grep libpmnode || fail "list_nodes_static loads libpmnode.so"
    fi
    [ -d /sys/devices/system/node ] || return 0
    for p in list_nodes list_nodes_static; do
        out=$(env -u PMNODE_SYSFS_ROOT -u PMNODE_PRIVATE_NODES -u PMNODE_CONFIG -u PMNODE_LOG \
            LD_LIBRARY_PATH="$(dirname "$(find "$root" -name 'libpmnode.so.[0-9]*' | head -n 1)")" \
            "$dir/$p") || fail "$p exited with status $?"
        printf '%s\n' "$out"
        printf '%s\n' "$out" | grep -q '^node [0-9]*: ' || fail "$p listed no node"
    done
}

configure "$tmp/b1" "$prefix" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "cmake configure failed"; }
grep 'pmnode .* from ' "$tmp/log" || true
cmake --build "$tmp/b1" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "cmake build failed"; }
run "$tmp/b1" "$dest"

# Relocated: the same tree under another name.
mv "$dest" "$tmp/moved"
prefix=$tmp/moved${prefix#"$dest"}
configure "$tmp/b2" "$prefix" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "cmake configure of the moved tree failed"; }
cmake --build "$tmp/b2" >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "cmake build against the moved tree failed"; }
run "$tmp/b2" "$tmp/moved"

# The version rule (pmnodeConfigVersion.cmake): same major, not newer.
version=$(sed -n 's/^set(PACKAGE_VERSION "\(.*\)")$/\1/p' "$(dirname "$config" | sed "s|^$dest|$tmp/moved|")/pmnodeConfigVersion.cmake")
major=${version%%.*}
rest=${version#*.}
minor=${rest%%.*}
for want in "$version" "$major.0"; do
    configure "$tmp/v" "$prefix" -DPMNODE_WANT="$want" >"$tmp/log" 2>&1 ||
        { cat "$tmp/log"; fail "find_package(pmnode $want) refused $version"; }
    rm -rf "$tmp/v"
done
for want in "$major.$((minor + 1))" "$((major + 1)).0"; do
    if configure "$tmp/v" "$prefix" -DPMNODE_WANT="$want" >"$tmp/log" 2>&1; then
        fail "find_package(pmnode $want) accepted $version"
    fi
    rm -rf "$tmp/v"
done
say "version $version: accepts $major.0 and $version, refuses $major.$((minor + 1)) and $((major + 1)).0"
say "ok"
