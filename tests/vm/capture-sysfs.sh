#!/bin/sh
# capture-sysfs.sh DEST — copy the sysfs/proc files that discovery reads into DEST/root/.
#
# Runs in the guest (busybox sh) after the topology's devices are configured. Regular files
# are copied as their content at capture time (sysfs reports 4096-byte sizes, so tar cannot
# read them directly), directories are created, and symlinks are recreated as the relative
# links the kernel shows. Only the paths listed here are taken, never all of /sys, so the
# fixtures stay small. Unreadable attributes (write-only, EIO) are left out.
set -u
dest=${1:?usage: capture-sysfs.sh DEST}/root
rm -rf "$dest"
mkdir -p "$dest"

# file PATH...: copy regular files (content), ignoring ones that cannot be read
file() {
	for p in "$@"; do
		[ -f "$p" ] && [ -r "$p" ] || continue
		mkdir -p "$dest$(dirname "$p")"
		cat "$p" >"$dest$p" 2>/dev/null || rm -f "$dest$p"
	done
}

# link PATH...: recreate symlinks as they are
link() {
	for p in "$@"; do
		[ -L "$p" ] || continue
		mkdir -p "$dest$(dirname "$p")"
		ln -sfn "$(readlink "$p")" "$dest$p"
	done
}

# dir PATH...: just the directory
dir() {
	for p in "$@"; do [ -d "$p" ] && mkdir -p "$dest$p"; done
}

# attrs DIR: the plain (regular, readable) attributes of one device dir, plus its driver
# link; not recursive
attrs() {
	for a in "$1"/*; do
		case ${a##*/} in uevent | remove | delete* | create* | *_store | new_id | bind | unbind | probe) continue ;; esac
		if [ -L "$a" ]; then
			case ${a##*/} in driver | subsystem) link "$a" ;; esac
		elif [ -f "$a" ]; then
			file "$a"
		fi
	done
}

# ---- nodes
N=/sys/devices/system/node
file $N/possible $N/online $N/has_*
for n in $N/node[0-9]*; do
	[ -d "$n" ] || continue
	file "$n/cpulist" "$n/cpumap" "$n/meminfo" "$n/distance" "$n/mem_features"
	for i in "$n"/access0/initiators/*; do
		if [ -L "$i" ]; then link "$i"; else file "$i"; fi
	done
	for h in "$n"/hugepages/*; do
		file "$h/nr_hugepages" "$h/free_hugepages" "$h/surplus_hugepages"
	done
done

# ---- cpus
C=/sys/devices/system/cpu
file $C/possible $C/online $C/present
for c in $C/cpu[0-9]*; do
	[ -d "$c/topology" ] && file "$c"/topology/*
done

# ---- memory tiers and demotion
if [ -d /sys/devices/virtual/memory_tiering ]; then
	find /sys/devices/virtual/memory_tiering | while read -r p; do
		case ${p##*/} in uevent | power | subsystem | autosuspend* | control | runtime_*) continue ;; esac
		if [ -L "$p" ]; then
			case ${p##*/} in subsystem) ;; *) link "$p" ;; esac
		elif [ -d "$p" ]; then dir "$p"
		else file "$p"
		fi
	done
fi
file /sys/kernel/mm/numa/demotion_enabled

# ---- device-dax
if [ -d /sys/bus/dax ]; then
	dir /sys/bus/dax/devices /sys/bus/dax/drivers
	for d in /sys/bus/dax/drivers/*; do dir "$d"; done
	for l in /sys/bus/dax/devices/*; do
		[ -L "$l" ] || continue
		link "$l"
		t=$(cd "$l" && pwd -P)
		attrs "$t"
		r=$(dirname "$t")/dax_region
		file "$r/id" "$r/size" "$r/align" "$r/available_size"
	done
fi

# ---- CXL
if [ -d /sys/bus/cxl ]; then
	dir /sys/bus/cxl/devices
	for l in /sys/bus/cxl/devices/*; do
		[ -L "$l" ] || continue
		link "$l"
		t=$(cd "$l" && pwd -P)
		attrs "$t"
		# memdev partitions
		for s in pmem ram; do [ -d "$t/$s" ] && file "$t/$s/size"; done
	done
fi

# ---- proc
file /proc/cpuinfo /proc/meminfo
exit 0
