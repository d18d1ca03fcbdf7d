#!/bin/sh
# The main job: set up, build, show what libpmnode sees on this machine, map
# and verify memory on node 0, and show what it sees on bundled example
# topologies (CXL, GPU, compressed, device-dax), captured or written from the
# kernel ABI.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup-debian.sh
sh scripts/build.sh >/dev/null
echo "== pmnode list (this machine)"
./build/tools/pmnode list
echo
echo "== pmnode verify --node 0 --size 256M (bind, populate, check every page)"
./build/tools/pmnode verify --node 0 --size 256M
for t in two-socket-cxl gpu-sparse cramdax devdax-kmem; do
    echo
    echo "== pmnode list --root tests/fixtures/$t/root (bundled example topology)"
    ./build/tools/pmnode list --root "tests/fixtures/$t/root"
done

echo
echo "== the same on a real kernel with a CXL memory expander: Debian's 6.1 kernel booted"
echo "== under QEMU (CXL type-3 device -> region -> dax -> node 1), first run fetches the kernel"
PMNODE_VM_SHOW=1 PMNODE_VM_BUILD="$PWD/build" tests/vm/run-vm.sh cxl 6.1 -- \
    'pmnode list=pmnode list' \
    'pmnode verify --node 1 --size 16M=pmnode verify --node 1 --size 16M' |
    sed -n '/^== guest: /,/^=== /p' | grep -v '^=== '
