#!/bin/sh
# Install what libpmnode needs to build and test, from Debian 12 packages
# only.  Idempotent; run as root.  Skips apt entirely when everything is
# already installed (so repeated runs are quick and work offline).
set -eu
# cmake: the CMake consumer tests; libudev-dev: hwloc.pc's Libs.private names
# -ludev, so pkg-config --static consumers need it; debhelper, dh-python and
# lintian: the Debian packages (tests/package/check-packages.sh).
PKGS="build-essential clang clang-format meson ninja-build pkg-config python3 \
libnuma-dev libhwloc-dev libdaxctl-dev libcxl-dev libcriterion-dev \
valgrind qemu-system-x86 busybox-static cpio kmod ndctl daxctl numactl hwloc \
libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 libmemkind0 liblz4-dev liburing-dev scdoc man-db \
python3-pytest python3-venv python3-pip python3-setuptools \
cmake libudev-dev debhelper dh-python lintian"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
fi
