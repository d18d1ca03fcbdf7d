# cpuless-hmat: two NUMA nodes, node 1 CPU-less memory, with HMAT and a SLIT distance.
#
# Covers: a CPU-less memory node (has_memory but not has_cpu, empty cpulist), its SLIT
# distance (20), HMAT access0 initiators (node 1's initiator is node 0), and NUMA balancing
# LEFT ON (the only topology that keeps the default, as real machines do).
#
#   qemu-system-x86_64 -accel tcg -machine pc,hmat=on -cpu max -smp 2 -m 1G \
#     -object memory-backend-ram,id=m0,size=512M -object memory-backend-ram,id=m1,size=512M \
#     -numa node,nodeid=0,memdev=m0,cpus=0-1 -numa node,nodeid=1,memdev=m1,initiator=0 \
#     -numa dist,src=0,dst=1,val=20 \
#     -numa hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-latency,latency=10 \
#     -numa hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-bandwidth,bandwidth=10G \
#     -numa hmat-lb,initiator=0,target=1,hierarchy=memory,data-type=access-latency,latency=40 \
#     -numa hmat-lb,initiator=0,target=1,hierarchy=memory,data-type=access-bandwidth,bandwidth=4G
#
# This file is sourced by run-vm.sh (bash, host: topo_qemu_args, topo_kernel_args) and by
# the guest's /init (busybox sh: topo_guest_setup).

topo_qemu_args() { # $1 = work dir, $2 = kernel series; one argument per line
	cat <<-ARGS
	-machine
	pc,hmat=on
	-cpu
	max
	-smp
	2
	-m
	1G
	-object
	memory-backend-ram,id=m0,size=512M
	-object
	memory-backend-ram,id=m1,size=512M
	-numa
	node,nodeid=0,memdev=m0,cpus=0-1
	-numa
	node,nodeid=1,memdev=m1,initiator=0
	-numa
	dist,src=0,dst=1,val=20
	-numa
	hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-latency,latency=10
	-numa
	hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-bandwidth,bandwidth=10G
	-numa
	hmat-lb,initiator=0,target=1,hierarchy=memory,data-type=access-latency,latency=40
	-numa
	hmat-lb,initiator=0,target=1,hierarchy=memory,data-type=access-bandwidth,bandwidth=4G
	ARGS
}

topo_kernel_args() { # numa_balancing stays at the kernel's default (on) here, on purpose
	echo ""
}

topo_guest_setup() {
	echo "numa_balancing=$(cat /proc/sys/kernel/numa_balancing)"
	cat /sys/devices/system/node/has_cpu /sys/devices/system/node/has_memory
	# this is the topology that must run with balancing on
	[ "$(cat /proc/sys/kernel/numa_balancing)" != 0 ]
}
