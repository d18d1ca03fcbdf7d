# devdax: two soft-reserved ranges -> dax_hmem -> dax0.0 kept devdax, dax1.0 onlined (kmem).
#
# Covers: device-dax from EFI-soft-reserved memory (the way HMAT-described CXL/HBM memory
# appears on real firmware): dax0.0 stays in devdax mode (a private target node that is not
# online), dax1.0 is reconfigured with `daxctl reconfigure-device --mode=system-ram` so its
# memory becomes node 2 (CPU-less, memory from kmem, in a lower memory tier). Node 1 stays
# offline with its memory behind /dev/dax0.0. Node 3 is a small plain CPU-less DRAM node: it
# sits last in the guest-physical map and absorbs the firmware's reservation at the top of low
# memory (a soft-reserved range that ends there is clipped, no longer 2 MiB-aligned, and
# dax_hmem then fails with -ENOMEM). Online memory nodes end up 0,2,3.
#
# Each soft-reserved range covers the whole of one QEMU NUMA node's memory, so the SRAT gives
# the dax device that node as target_node. The kernel argument
#   memmap=<size>%<offset>-1+0xefffffff
# turns E820 RAM (type 1) into soft-reserved (0xefffffff) at boot.
#
#   qemu-system-x86_64 -accel tcg -machine pc -cpu max -smp 2 -m 1152M \
#     -object memory-backend-ram,id=m0,size=512M -object memory-backend-ram,id=m1,size=256M \
#     -object memory-backend-ram,id=m2,size=256M -object memory-backend-ram,id=m3,size=128M \
#     -numa node,nodeid=0,memdev=m0,cpus=0-1 -numa node,nodeid=1,memdev=m1 \
#     -numa node,nodeid=2,memdev=m2 -numa node,nodeid=3,memdev=m3 \
#     -numa dist,src=0,dst=1,val=20 -numa dist,src=0,dst=2,val=30 -numa dist,src=0,dst=3,val=15 \
#     -numa dist,src=1,dst=2,val=30 -numa dist,src=1,dst=3,val=25 -numa dist,src=2,dst=3,val=35
#   kernel: numa_balancing=disable memhp_default_state=offline memmap=256M%0x20000000-1+0xefffffff \
#           memmap=256M%0x30000000-1+0xefffffff
#   guest:  daxctl reconfigure-device --mode=system-ram dax1.0
#           (6.12: kmem already took both devices at load, blocks auto-onlined; instead
#            daxctl reconfigure-device --mode=devdax --force dax0.0)

topo_qemu_args() {
	cat <<-ARGS
	-machine
	pc
	-cpu
	max
	-smp
	2
	-m
	1152M
	-object
	memory-backend-ram,id=m0,size=512M
	-object
	memory-backend-ram,id=m1,size=256M
	-object
	memory-backend-ram,id=m2,size=256M
	-object
	memory-backend-ram,id=m3,size=128M
	-numa
	node,nodeid=0,memdev=m0,cpus=0-1
	-numa
	node,nodeid=1,memdev=m1
	-numa
	node,nodeid=2,memdev=m2
	-numa
	node,nodeid=3,memdev=m3
	-numa
	dist,src=0,dst=1,val=20
	-numa
	dist,src=0,dst=2,val=30
	-numa
	dist,src=0,dst=3,val=15
	-numa
	dist,src=1,dst=2,val=30
	-numa
	dist,src=1,dst=3,val=25
	-numa
	dist,src=2,dst=3,val=35
	ARGS
}

topo_kernel_args() {
	# memhp_default_state=offline: 6.12 auto-onlines hot-added blocks into ZONE_NORMAL, where
	# kernel allocations pin them and dax0.0 can no longer be given back to devdax (EBUSY).
	echo "numa_balancing=disable memhp_default_state=offline memmap=256M%0x20000000-1+0xefffffff memmap=256M%0x30000000-1+0xefffffff"
}

topo_guest_setup() {
	ls -l /sys/bus/dax/devices/
	for d in /sys/bus/dax/devices/*; do
		echo "${d##*/}: size=$(cat $d/size) align=$(cat $d/align) target_node=$(cat $d/target_node) resource=$(cat $d/resource 2>/dev/null)"
	done
	[ -e /sys/bus/dax/devices/dax0.0 ] && [ -e /sys/bus/dax/devices/dax1.0 ] || return 1
	# Since 6.3 dax_hmem hands soft-reserved ranges to kmem by default (both devices come up
	# as system-ram once kmem is loaded, onlined because 6.12 auto-onlines hot-added blocks);
	# 6.1 binds them to device_dax. Converge on: dax0.0 devdax, dax1.0 system-ram (online).
	[ -w /sys/devices/system/memory/auto_online_blocks ] && echo offline >/sys/devices/system/memory/auto_online_blocks
	for d in dax0.0 dax1.0; do echo "$d driver: $(basename "$(readlink /sys/bus/dax/devices/$d/driver)")"; done
	if [ "$(basename "$(readlink /sys/bus/dax/devices/dax0.0/driver)")" = kmem ]; then
		daxctl reconfigure-device --mode=devdax --force dax0.0 || return 1
	fi
	if [ "$(basename "$(readlink /sys/bus/dax/devices/dax1.0/driver)")" = kmem ]; then
		daxctl online-memory dax1.0 || return 1
	else
		daxctl reconfigure-device --mode=system-ram dax1.0 || return 1
	fi
	daxctl list -u
	cat /sys/devices/system/node/has_memory
}
