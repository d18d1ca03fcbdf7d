# cxl: a CXL type-3 persistent-memory expander behind a CXL host bridge, with a region.
#
# Covers: the CXL bus objects (root0, ports, decoders, mem0, region0) as the kernel shows
# them, a committed x1 pmem region created with `cxl create-region`, and what that region
# becomes: libnvdimm pmem region -> `ndctl create-namespace -m devdax` -> daxN.0 whose
# target_node is the CFMWS window's node (the kernel makes a node for each CXL fixed memory
# window), and that dax device onlined via kmem so the window's node gets memory.
#
# QEMU 7.2 emulates only persistent CXL memory (no volatile/ram regions), so the path is
# pmem region -> nvdimm -> namespace -> devdax -> kmem. A second, EMPTY cxl-rp is required:
# with a single root port kernel 6.1 creates the region but every read from it returns 0
# (the host bridge is then set up in pass-through mode, which QEMU 7.2 does not decode).
#
#   qemu-system-x86_64 -accel tcg -machine q35,cxl=on -cpu max,hypervisor=off -smp 2 \
#     -m 1G,maxmem=4G,slots=4 \
#     -object memory-backend-ram,id=m0,size=1G -numa node,nodeid=0,memdev=m0,cpus=0-1 \
#     -object memory-backend-file,id=cxl-mem0,share=on,mem-path=WORK/cxl-mem0.raw,size=256M \
#     -object memory-backend-file,id=cxl-lsa0,share=on,mem-path=WORK/cxl-lsa0.raw,size=1M \
#     -device pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1 \
#     -device cxl-rp,port=0,bus=cxl.1,id=cxl_rp0,chassis=0,slot=2 \
#     -device cxl-rp,port=1,bus=cxl.1,id=cxl_rp1,chassis=0,slot=3 \
#     -device cxl-type3,bus=cxl_rp0,memdev=cxl-mem0,lsa=cxl-lsa0,id=cxl-pmem0 \
#     -M cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G
#   kernel: numa_balancing=disable pcie_ports=compat (6.12 needs it for the CXL ports)
#   guest:  cxl create-region -t pmem -d decoder0.0 -w 1 -g 256 -m mem0
#           ndctl create-namespace -m devdax -r <the region's nvdimm region>
#           daxctl reconfigure-device --mode=system-ram <that dax device>

topo_qemu_args() {
	w=$1
	rm -f "$w/cxl-mem0.raw" "$w/cxl-lsa0.raw"
	truncate -s 256M "$w/cxl-mem0.raw"
	truncate -s 1M "$w/cxl-lsa0.raw"
	cat <<-ARGS
	-machine
	q35,cxl=on
	-cpu
	max,hypervisor=off
	-smp
	2
	-m
	1G,maxmem=4G,slots=4
	-object
	memory-backend-ram,id=m0,size=1G
	-numa
	node,nodeid=0,memdev=m0,cpus=0-1
	-object
	memory-backend-file,id=cxl-mem0,share=on,mem-path=$w/cxl-mem0.raw,size=256M
	-object
	memory-backend-file,id=cxl-lsa0,share=on,mem-path=$w/cxl-lsa0.raw,size=1M
	-device
	pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1
	-device
	cxl-rp,port=0,bus=cxl.1,id=cxl_rp0,chassis=0,slot=2
	-device
	cxl-rp,port=1,bus=cxl.1,id=cxl_rp1,chassis=0,slot=3
	-device
	cxl-type3,bus=cxl_rp0,memdev=cxl-mem0,lsa=cxl-lsa0,id=cxl-pmem0
	-M
	cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G
	ARGS
}

topo_kernel_args() {
	echo "numa_balancing=disable pcie_ports=compat"
}

topo_guest_setup() {
	# the memdev and its endpoint port appear asynchronously after cxl_pci/cxl_mem load
	i=0
	while [ $i -lt 40 ] && ! ls /sys/bus/cxl/devices/ 2>/dev/null | grep -q '^endpoint'; do
		sleep 0.25
		i=$((i + 1))
	done
	ls /sys/bus/cxl/devices/
	cxl list -M -D -P -u 2>&1 | head -60
	[ -w /sys/devices/system/memory/auto_online_blocks ] && echo offline >/sys/devices/system/memory/auto_online_blocks
	cxl create-region -t pmem -d decoder0.0 -w 1 -g 256 -m mem0 || return 1
	cxl list -R -u
	settle_nd=0
	while [ $settle_nd -lt 40 ] && ! ls /sys/bus/nd/devices/ 2>/dev/null | grep -q '^region'; do
		sleep 0.25
		settle_nd=$((settle_nd + 1))
	done
	ndctl list -R -u
	r=$(ls /sys/bus/nd/devices/ | grep '^region' | head -1)
	[ -n "$r" ] || { echo "no nvdimm region for the CXL pmem region"; return 1; }
	ndctl create-namespace -m devdax -r "$r" || return 1
	d=$(daxctl list | sed -n 's/.*"chardev":"\([^"]*\)".*/\1/p' | head -1)
	[ -n "$d" ] || { echo "no dax device from the CXL namespace"; return 1; }
	echo "cxl dax device: $d"
	# leave a pattern behind so a region that reads back zeros is caught
	daxctl reconfigure-device --mode=system-ram "$d" || return 1
	cat /sys/devices/system/node/has_memory
}
