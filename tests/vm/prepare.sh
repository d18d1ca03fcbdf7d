#!/bin/bash
# prepare.sh — fetch and unpack the Debian kernels the vm lane boots.
#
# Usage: tests/vm/prepare.sh [6.1|6.12|all]      (default: all)
#
# Kernels come from Debian's own archive, never installed on the host: `apt-get download`
# of the signed linux-image package, `dpkg -x` into tests/vm/cache/kernel-<pkg>_<version>/,
# and a symlink tests/vm/cache/<series> (6.1, 6.12) pointing at the current one. The cache is
# keyed on the package version, so a new Debian kernel is fetched once and old ones stay
# until deleted. 6.1 comes from bookworm (or bookworm-security), 6.12 from bookworm-backports;
# the backports suite is added to /etc/apt/sources.list.d/ when no apt source names it.
#
# Exit: 0 all requested kernels ready; 1 a required kernel (6.1) could not be prepared.
# A missing 6.12 is not fatal: run-vm.sh then skips its tests with the reason written in
# tests/vm/cache/6.12.unavailable.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cache=${PMNODE_VM_CACHE:-$here/cache}
mkdir -p "$cache"
want=${1:-all}

log() { printf 'prepare: %s\n' "$*" >&2; }

backports_line='deb http://deb.debian.org/debian bookworm-backports main'
backports_file=/etc/apt/sources.list.d/pmnode-bookworm-backports.list

apt_updated=0
apt_update() {
	[ "$apt_updated" = 1 ] && return 0
	log "apt-get update"
	apt-get update -qq >"$cache/apt-update.log" 2>&1 || log "apt-get update had errors (see $cache/apt-update.log)"
	apt_updated=1
}

ensure_backports_source() {
	if grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null; then
		return 0
	fi
	if [ "$(id -u)" != 0 ]; then
		log "not root: cannot add $backports_file"
		return 1
	fi
	log "adding $backports_file"
	printf '%s\n' "$backports_line" >"$backports_file"
	apt_updated=0
}

# meta_dep META_SPEC -> prints the linux-image-<abi>-amd64 package the metapackage depends on
meta_dep() {
	apt-cache show "$1" 2>/dev/null | awk '/^Depends:/ { for (i = 2; i <= NF; i++) if ($i ~ /^linux-image-[0-9]/) { sub(/,$/, "", $i); print $i; exit } }'
}

# fetch SERIES META_SPEC
fetch() {
	local series=$1 spec=$2 pkg ver dir tmp deb
	pkg=$(meta_dep "$spec")
	if [ -z "$pkg" ]; then
		apt_update
		pkg=$(meta_dep "$spec")
	fi
	if [ -z "$pkg" ]; then
		log "$series: apt knows no $spec"
		return 1
	fi
	ver=$(apt-cache show "$spec" | awk '/^Version:/ { print $2; exit }')
	dir=$cache/kernel-${pkg}_$ver
	if [ -f "$dir/.ready" ]; then
		ln -sfn "$(basename "$dir")" "$cache/$series"
		log "$series: cached $pkg $ver"
		return 0
	fi
	tmp=$(mktemp -d "$cache/dl.XXXXXX")
	log "$series: downloading $pkg=$ver"
	if ! (cd "$tmp" && apt-get download -qq "$pkg=$ver" >/dev/null 2>"$tmp/err"); then
		apt_update
		if ! (cd "$tmp" && apt-get download -qq "$pkg=$ver" >/dev/null 2>"$tmp/err"); then
			log "$series: apt-get download failed: $(tail -1 "$tmp/err")"
			rm -rf "$tmp"
			return 1
		fi
	fi
	deb=$(ls "$tmp"/*.deb)
	rm -rf "$dir"
	mkdir -p "$dir"
	dpkg -x "$deb" "$dir" || { rm -rf "$tmp" "$dir"; return 1; }
	rm -rf "$tmp"
	# Only the kernel image and the module tree are used; keep the cache lean.
	rm -rf "$dir/usr/share" "$dir/boot/System.map-"* 2>/dev/null
	printf '%s %s\n' "$pkg" "$ver" >"$dir/.ready"
	ln -sfn "$(basename "$dir")" "$cache/$series"
	log "$series: unpacked into $dir"
}

rc=0
case $want in
6.1 | all)
	# the candidate (bookworm or bookworm-security; backports has a lower pin priority)
	cand=$(apt-cache policy linux-image-amd64 | awk '/Candidate:/ { print $2 }')
	case $cand in 6.1.*) ;; *) apt_update; cand=$(apt-cache policy linux-image-amd64 | awk '/Candidate:/ { print $2 }') ;; esac
	if fetch 6.1 "linux-image-amd64=$cand"; then :; else
		log "6.1 (required) could not be prepared"
		rc=1
	fi
	;;
esac
case $want in
6.12 | all)
	rm -f "$cache/6.12.unavailable"
	if ! ensure_backports_source; then
		echo "bookworm-backports source missing and cannot be added (not root)" >"$cache/6.12.unavailable"
	elif ! fetch 6.12 linux-image-amd64/bookworm-backports; then
		if ls /var/lib/apt/lists/*bookworm-backports*Packages* >/dev/null 2>&1; then
			echo "linux-image-amd64/bookworm-backports could not be downloaded" >"$cache/6.12.unavailable"
		else
			echo "bookworm-backports is unreachable: apt-get update got no package list for it (see $cache/apt-update.log)" >"$cache/6.12.unavailable"
		fi
	fi
	if [ -f "$cache/6.12.unavailable" ]; then
		log "6.12 unavailable: $(cat "$cache/6.12.unavailable")"
	fi
	;;
esac
exit $rc
