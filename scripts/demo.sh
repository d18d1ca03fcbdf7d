#!/bin/sh
# The main job: set up, build, and show what libpmnode sees on this machine
# and on a bundled example topology (two sockets plus a CPU-less CXL node).
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup-debian.sh
sh scripts/build.sh >/dev/null
echo "== pmnode list (this machine)"
./build/tools/pmnode list
for t in two-socket-cxl gpu-sparse cramdax devdax-kmem; do
    echo
    echo "== pmnode list --root tests/fixtures/$t/root (bundled example topology)"
    ./build/tools/pmnode list --root "tests/fixtures/$t/root"
done
