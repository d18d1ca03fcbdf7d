# sparse: node ids 0, 4 and 7 online out of 0-7 possible.
#
# Covers: sparse node ids (real machines report "4 nodes (4-7)"; POWER GPU nodes are
# 252-255): nodes 4 and 7 are CPU-less memory nodes, nodes 1-3 and 5-6 are possible but
# have neither CPUs nor memory, so node masks must be sized from `possible`, not from the
# count of online nodes.
#
# Why eight QEMU nodes: Linux numbers nodes in the order proximity domains first appear in
# the SRAT, not by their PXM value, so QEMU's nodeid=4 alone would become Linux node 1.
# Every node 0-7 therefore gets a (tiny) memdev so the SRAT lists PXMs 0-7 in order; the
# memory of nodes 1-3,5,6 is then hidden from the kernel with memmap=2M$<addr> (E820
# reserved), so those nodes stay offline. (QEMU wants memdev= on all nodes or none.)
#
#   qemu-system-x86_64 -accel tcg -machine pc -cpu max -smp 2 -m 1034M \
#     -object memory-backend-ram,id=m0,size=512M  -numa node,nodeid=0,memdev=m0,cpus=0-1 \
#     -object memory-backend-ram,id=m1,size=2M    -numa node,nodeid=1,memdev=m1 \
#     ... m2, m3 likewise (2M) ...
#     -object memory-backend-ram,id=m4,size=256M  -numa node,nodeid=4,memdev=m4 \
#     ... m5, m6 likewise (2M) ...
#     -object memory-backend-ram,id=m7,size=256M  -numa node,nodeid=7,memdev=m7 \
#     -numa dist,src=0,dst=4,val=20 -numa dist,src=0,dst=7,val=30 -numa dist,src=4,dst=7,val=25 \
#     -numa dist,src=I,dst=J,val=40   for every other pair I<J
#     -device pxb,id=pxb4,bus=pci.0,bus_nr=64,numa_node=4 \
#     -device virtio-net-pci,bus=pxb4,addr=0x1
#   kernel: numa_balancing=disable memmap=2M$0x20000000 memmap=2M$0x20200000
#           memmap=2M$0x20400000 memmap=2M$0x30600000 memmap=2M$0x30800000
#
# The virtio NIC sits behind a PCI expander bridge whose _PXM is node 4's: device
# locality (pmn_device_node, `pmnode list` "devices") must put it on the CPU-less node 4.

topo_qemu_args() {
	cat <<-'ARGS'
	-machine
	pc
	-cpu
	max
	-smp
	2
	-m
	1034M
	-object
	memory-backend-ram,id=m0,size=512M
	-object
	memory-backend-ram,id=m1,size=2M
	-object
	memory-backend-ram,id=m2,size=2M
	-object
	memory-backend-ram,id=m3,size=2M
	-object
	memory-backend-ram,id=m4,size=256M
	-object
	memory-backend-ram,id=m5,size=2M
	-object
	memory-backend-ram,id=m6,size=2M
	-object
	memory-backend-ram,id=m7,size=256M
	-numa
	node,nodeid=0,memdev=m0,cpus=0-1
	-numa
	node,nodeid=1,memdev=m1
	-numa
	node,nodeid=2,memdev=m2
	-numa
	node,nodeid=3,memdev=m3
	-numa
	node,nodeid=4,memdev=m4
	-numa
	node,nodeid=5,memdev=m5
	-numa
	node,nodeid=6,memdev=m6
	-numa
	node,nodeid=7,memdev=m7
	-device
	pxb,id=pxb4,bus=pci.0,bus_nr=64,numa_node=4
	-device
	virtio-net-pci,bus=pxb4,addr=0x1
	ARGS
	# QEMU wants a distance for every pair once any is given; unpopulated nodes are far (40)
	for i in 0 1 2 3 4 5 6; do
		for j in 1 2 3 4 5 6 7; do
			[ "$j" -gt "$i" ] || continue
			case $i-$j in
			0-4) v=20 ;;
			0-7) v=30 ;;
			4-7) v=25 ;;
			*) v=40 ;;
			esac
			printf -- '-numa\ndist,src=%s,dst=%s,val=%s\n' "$i" "$j" "$v"
		done
	done
}

topo_kernel_args() {
	echo 'numa_balancing=disable memmap=2M$0x20000000 memmap=2M$0x20200000 memmap=2M$0x20400000 memmap=2M$0x30600000 memmap=2M$0x30800000'
}

topo_guest_setup() {
	cd /sys/devices/system/node || return 1
	for f in possible online has_cpu has_memory; do echo "$f=$(cat $f)"; done
	for n in node*; do echo "$n cpus=$(cat $n/cpulist) distance=$(cat $n/distance)"; done
	[ "$(cat has_memory)" = "0,4,7" ]
}
