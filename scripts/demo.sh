#!/bin/sh
# The main job: set up, build, show what libpmnode sees on this machine, map
# and verify memory on node 0, and show what it sees on bundled example
# topologies (CXL, GPU, compressed, device-dax), captured or written from the
# kernel ABI; then boot a real kernel with a CXL expander under QEMU and do
# the same there, plus the gpu_workspace example on the CXL node.
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
echo "== (then examples/gpu_workspace: a workspace arena on the CXL node alone, which fails"
echo "== clearly when the node is full, and with DRAM named after it, which spills there)"
PMNODE_VM_SHOW=1 PMNODE_VM_BUILD="$PWD/build" PMNODE_VM_FILES="$PWD/build/examples/gpu_workspace" \
    tests/vm/run-vm.sh cxl 6.1 -- \
    'pmnode list=pmnode list' \
    'pmnode verify --node 1 --size 16M=pmnode verify --node 1 --size 16M' \
    'gpu_workspace --headroom 96 --mib 40=/pmnode/build/examples/gpu_workspace --headroom 96 --mib 40 --steps 1; true' \
    'gpu_workspace --spill 1,0 --headroom 96 --mib 40=/pmnode/build/examples/gpu_workspace --spill 1,0 --headroom 96 --mib 40 --steps 1' |
    sed -n '/^== guest: /,/^=== /p' | grep -v '^=== '
