#!/bin/bash
# run-vm.sh — boot one topology on one Debian kernel under QEMU (TCG) and run tests inside.
#
# Usage: tests/vm/run-vm.sh TOPOLOGY KERNEL [-- TEST...]
#   TOPOLOGY  a file tests/vm/topologies/TOPOLOGY.sh (QEMU command line + guest setup)
#   KERNEL    6.1 or 6.12 (prepared by prepare.sh into tests/vm/cache/KERNEL)
#   TEST      one of
#               list-json       run `pmnode list --json` in the guest; the host checks the
#                               JSON against tests/vm/truth/TOPOLOGY.json (check-truth.py)
#               capture-sysfs   pack the sysfs/proc files discovery reads and stream them to
#                               the host (unpacked into the run's work dir; copied into
#                               tests/fixtures/real-TOPOLOGY-KERNEL/root when PMNODE_VM_CAPTURE=1)
#               NAME=SHELLCMD   run SHELLCMD with the guest's busybox sh; PATH has pmnode
#               /path/to/prog   an executable (e.g. a built test program): copied into the
#                               initramfs with its shared libraries and run without arguments
#             Default when none is given: list-json.
#
# Environment:
#   PMNODE_VM_BUILD      meson build dir (default: <repo>/build)
#   PMNODE_VM_PMNODE     the pmnode executable (default: $PMNODE_VM_BUILD/tools/pmnode)
#   PMNODE_VM_LIB        libpmnode.so (default: $PMNODE_VM_BUILD/libpmnode/libpmnode.so)
#   PMNODE_VM_TIMEOUT    seconds before the guest is declared hung (default 420)
#   PMNODE_VM_CAPTURE=1  write the captured sysfs into tests/fixtures/real-TOPOLOGY-KERNEL/
#   PMNODE_VM_KEEP=1     keep the run's work dir (console.log, data.log, initrd)
#   PMNODE_VM_FILES      colon-separated extra files (test helpers) to carry into the guest
#   PMNODE_VM_SHOW=1     print each guest test's output (without the kernel console)
#   PMNODE_VM_TREE       a directory carried into the guest as /pmnode/tree (the fixtures)
#   PMNODE_VM_BENCH=full the guest benchmarks at their measuring sizes (bench-migrate:
#                        64M,256M, 5 reps); by default small (64M), as a smoke test
#
# Each in-guest test prints `PMNODE-TEST name PASS|FAIL|SKIP`; the guest ends with
# `PMNODE-VM-DONE`. The host adds its own lines (boot, truth) and exits with meson's codes:
# 0 every test passed or skipped, 1 any failed / the guest hung / no DONE marker (console tail
# shown), 77 only when QEMU cannot start at all or an optional kernel (6.12) is unavailable.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${PMNODE_VM_CACHE:-$here/cache}

die_fail() { echo "run-vm: $*" >&2; echo "PMNODE-TEST setup FAIL"; exit 1; }
skip() { echo "run-vm: SKIP: $*"; echo "PMNODE-TEST boot SKIP"; exit 77; }

[ $# -ge 2 ] || { echo "usage: $0 TOPOLOGY KERNEL [-- TEST...]" >&2; exit 2; }
topo=$1 kser=$2
shift 2
[ "${1:-}" = -- ] && shift
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(list-json)

topofile=$here/topologies/$topo.sh
[ -f "$topofile" ] || die_fail "no topology $topofile"

build=${PMNODE_VM_BUILD:-$repo/build}
pmnode_bin=${PMNODE_VM_PMNODE:-$build/tools/pmnode}
pmnode_lib=${PMNODE_VM_LIB:-$build/libpmnode/libpmnode.so}
timeout_s=${PMNODE_VM_TIMEOUT:-420}

qemu=$(command -v qemu-system-x86_64) || skip "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"

# ---------------------------------------------------------------- kernel
if [ ! -e "$cache/$kser/.ready" ]; then
	mkdir -p "$cache"
	flock "$cache/.prepare.lock" "$here/prepare.sh" "$kser" >&2 || true
fi
if [ ! -e "$cache/$kser/.ready" ]; then
	if [ "$kser" = 6.12 ] && [ -f "$cache/6.12.unavailable" ]; then
		skip "kernel 6.12 (bookworm-backports) unavailable: $(cat "$cache/6.12.unavailable")"
	fi
	die_fail "kernel $kser could not be prepared (tests/vm/prepare.sh $kser)"
fi
kdir=$(cd "$cache/$kser" && pwd -P)
kver=$(ls "$kdir/lib/modules")
vmlinuz=$kdir/boot/vmlinuz-$kver

# ---------------------------------------------------------------- initramfs
# Three cpio archives concatenated into one initrd (the kernel unpacks them in order):
#   base  busybox, init, topologies, kernel modules + modules.dep, ndctl/daxctl/cxl + libs
#   proj  the project's binaries from the build dir and test programs, with their libs
#   job   which topology and which tests (tiny, written every run)
# base and proj are cached under cache/initramfs/ keyed on a hash of their inputs.
irdir=$cache/initramfs
mkdir -p "$irdir"

hash_files() { sha256sum "$@" 2>/dev/null | sha256sum | cut -c1-16; }

# copy_with_libs STAGE FILE [DEST]: FILE to STAGE/DEST (default: same path), plus the
# shared libraries ldd resolves for it, at the paths ldd prints.
copy_with_libs() {
	local stage=$1 f=$2 dest=${3:-$2} lib
	mkdir -p "$stage/$(dirname "$dest")"
	cp -L "$f" "$stage/$dest"
	for lib in $(ldd "$f" 2>/dev/null | awk '/=> \// { print $3 } /^[ \t]*\/[^ ]*ld-linux/ { print $1 }'); do
		case $lib in "$build"/*) continue ;; esac # project libs are staged separately
		[ -e "$stage/$lib" ] && continue
		mkdir -p "$stage/$(dirname "$lib")"
		cp -L "$lib" "$stage/$lib"
	done
}

modules_wanted="dax device_dax kmem dax_hmem dax_pmem dax_cxl libnvdimm nd_pmem nd_e820 nd_btt nfit cxl_core cxl_port cxl_acpi cxl_pci cxl_mem cxl_pmem"
tools_wanted="/usr/bin/ndctl /usr/bin/daxctl /usr/bin/cxl"

build_base() { # $1 = output file
	local out=$1 stage mroot m f deps d
	stage=$(mktemp -d "$irdir/stage.XXXXXX")
	mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,mnt,etc,pmnode}
	cp /bin/busybox "$stage/bin/busybox"
	for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$stage/bin/$a"; done
	cp "$here/init" "$stage/init"
	chmod 755 "$stage/init"
	cp -r "$here/topologies" "$stage/pmnode/topologies"
	cp "$here/capture-sysfs.sh" "$stage/pmnode/capture-sysfs.sh"
	for f in $tools_wanted; do copy_with_libs "$stage" "$f"; done
	# Kernel modules: the wanted ones and everything they depend on, decompressed so
	# busybox modprobe and libkmod both read them; modules.dep written by busybox depmod.
	mroot=$kdir/lib/modules/$kver
	local todo=$modules_wanted seen=" "
	while [ -n "${todo// /}" ]; do
		set -- $todo
		m=$1
		shift
		todo="$*"
		case $seen in *" $m "*) continue ;; esac
		seen="$seen$m "
		f=$(find "$mroot/kernel" \( -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" -o -name "${m//_/-}.ko" -o -name "${m//_/-}.ko.xz" \) | head -1)
		[ -n "$f" ] || continue # built in, or absent in this kernel
		d=$stage/lib/modules/$kver/${f#"$mroot"/}
		mkdir -p "$(dirname "$d")"
		case $f in
		*.xz) xz -dc "$f" >"${d%.xz}" ;;
		*.zst) zstd -qdc "$f" >"${d%.zst}" ;;
		*) cp "$f" "$d" ;;
		esac
		d=${d%.xz}
		d=${d%.zst}
		deps=$(tr '\0' '\n' <"$d" | sed -n 's/^depends=//p' | tr ',' ' ')
		todo="$todo $deps"
	done
	cp "$mroot"/modules.builtin* "$mroot/modules.order" "$stage/lib/modules/$kver/" 2>/dev/null
	/bin/busybox depmod -b "$stage" "$kver" || return 1
	(cd "$stage" && find . -mindepth 1 | cpio -o -H newc --quiet | gzip -1) >"$out.tmp" || return 1
	mv "$out.tmp" "$out"
	rm -rf "$stage"
}

# project files: pmnode + libpmnode (+ symlinked sonames) + test programs
proj_inputs=()
[ -x "$pmnode_bin" ] && proj_inputs+=("$pmnode_bin")
# the library and its soname/dev symlinks (not meson's *.p object dirs)
libbase=$(dirname "$pmnode_lib")/$(basename "$pmnode_lib" | sed 's/\.so.*/.so/')
for f in "$libbase" "$libbase".[0-9]*; do
	case $f in *.p) continue ;; esac
	[ -f "$f" ] && proj_inputs+=("$f")
done
test_progs=()
for t in "${tests[@]}"; do
	case $t in
	list-json | capture-sysfs | *=*) ;;
	*)
		[ -x "$t" ] || die_fail "test $t is neither a built-in, NAME=CMD, nor an executable"
		test_progs+=("$(cd "$(dirname "$t")" && pwd)/$(basename "$t")")
		proj_inputs+=("${test_progs[-1]}")
		;;
	esac
done

# Extra files carried into the guest without being run (helpers that NAME=CMD tests call
# by their guest path, /pmnode/build/<path below the build dir>): PMNODE_VM_FILES=a:b:c
IFS=: read -r -a extra_files <<<"${PMNODE_VM_FILES:-}"
for f in "${extra_files[@]}"; do
	[ -n "$f" ] || continue
	[ -e "$f" ] || die_fail "PMNODE_VM_FILES: $f does not exist"
	proj_inputs+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")")
done

# guest path of a project file: files under the build dir keep their relative layout below
# /pmnode/build (so $ORIGIN rpaths work); others go to /pmnode/tests.
guest_path() {
	case $1 in
	"$build"/*) echo "/pmnode/build/${1#"$build"/}" ;;
	*) echo "/pmnode/tests/$(basename "$1")" ;;
	esac
}

build_proj() {
	local out=$1 stage f
	stage=$(mktemp -d "$irdir/stage.XXXXXX")
	for f in "${proj_inputs[@]}"; do
		if [ -L "$f" ]; then
			mkdir -p "$stage/$(dirname "$(guest_path "$f")")"
			cp -P "$f" "$stage/$(guest_path "$f")"
		else
			copy_with_libs "$stage" "$f" "$(guest_path "$f")"
		fi
	done
	if [ -n "${PMNODE_VM_TREE:-}" ]; then
		mkdir -p "$stage/pmnode/tree"
		cp -a "$PMNODE_VM_TREE"/. "$stage/pmnode/tree/"
	fi
	(cd "$stage" && find . -mindepth 1 | cpio -o -H newc --quiet | gzip -1) >"$out.tmp" || return 1
	mv "$out.tmp" "$out"
	rm -rf "$stage"
}

base_key=$(
	{
		echo "$kver $(cat "$kdir/.ready")"
		echo "$modules_wanted"
		sha256sum "$here/run-vm.sh" "$here/init" "$here/capture-sysfs.sh" "$here"/topologies/*.sh /bin/busybox $tools_wanted
		for f in $tools_wanted; do ldd "$f" | sed 's/ (0x.*//'; done
	} | sha256sum | cut -c1-16
)
base=$irdir/base-$kver-$base_key.cpio.gz
proj_key=$(
	{
		echo "$build"
		for f in "${proj_inputs[@]}"; do
			echo "$f"
			[ -L "$f" ] && readlink "$f"
			[ -L "$f" ] || sha256sum <"$f"
			ldd "$f" 2>/dev/null | sed 's/ (0x.*//'
		done
		if [ -n "${PMNODE_VM_TREE:-}" ]; then
			echo "tree $PMNODE_VM_TREE"
			(cd "$PMNODE_VM_TREE" && tar --sort=name --mtime=@0 --owner=0 --group=0 -cf - .) | sha256sum
		fi
	} | sha256sum | cut -c1-16
)
proj=$irdir/proj-$proj_key.cpio.gz
(
	flock 9
	[ -f "$base" ] || { echo "run-vm: building $(basename "$base")" >&2; build_base "$base"; } || exit 1
	[ -f "$proj" ] || { echo "run-vm: building $(basename "$proj")" >&2; build_proj "$proj"; } || exit 1
) 9>"$irdir/.lock" || die_fail "initramfs build failed"

work=$(mktemp -d "${TMPDIR:-/tmp}/pmnode-vm-$topo-$kser.XXXXXX")
cleanup() {
	[ -n "${qpid:-}" ] && kill "$qpid" 2>/dev/null
	if [ "${PMNODE_VM_KEEP:-0}" = 1 ]; then
		echo "run-vm: kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# job archive
mkdir -p "$work/job/pmnode"
{
	echo "topo=$topo"
	echo "kernel=$kser"
	if [ -x "$pmnode_bin" ]; then echo "pmnode=$(guest_path "$pmnode_bin")"; else echo "pmnode="; fi
	[ -e "$pmnode_lib" ] && echo "libdir=$(dirname "$(guest_path "$pmnode_lib")")"
	echo "bench=${PMNODE_VM_BENCH:-}"
} >"$work/job/pmnode/job.env"
: >"$work/job/pmnode/tests.list"
for t in "${tests[@]}"; do
	case $t in
	list-json | capture-sysfs) printf '%s\t@%s\n' "$t" "$t" ;;
	*=*) printf '%s\t%s\n' "${t%%=*}" "${t#*=}" ;;
	*) printf '%s\t%s\n' "$(basename "$t")" "$(guest_path "$(cd "$(dirname "$t")" && pwd)/$(basename "$t")")" ;;
	esac
done >>"$work/job/pmnode/tests.list"
(cd "$work/job" && find . -mindepth 1 | cpio -o -H newc --quiet) >"$work/job.cpio"
# Each archive must start 4-byte aligned in the initrd (the kernel looks for the newc magic
# only at aligned offsets); zero padding between archives is skipped by the unpacker.
for f in "$base" "$proj" "$work/job.cpio"; do
	cat "$f"
	pad=$(((512 - $(stat -c %s "$f") % 512) % 512))
	[ "$pad" = 0 ] || head -c "$pad" /dev/zero
done >"$work/initrd"

# ---------------------------------------------------------------- boot
# shellcheck source=/dev/null
. "$topofile"
qargs=()
while IFS= read -r l; do [ -n "$l" ] && qargs+=("$l"); done < <(topo_qemu_args "$work" "$kser")
cmdline="console=ttyS0,115200 panic=-1 oops=panic loglevel=4 nokaslr rdinit=/init pmnode.topo=$topo $(topo_kernel_args "$kser")"

# One boot; sets qrc, hung and elapsed.
boot_guest() {
	: >"$work/console.log"
	: >"$work/data.log"
	start=$(date +%s.%N)
	"$qemu" -accel tcg -nodefaults -display none -no-reboot \
		-kernel "$vmlinuz" -initrd "$work/initrd" -append "$cmdline" \
		-serial "file:$work/console.log" -serial "file:$work/data.log" \
		"${qargs[@]}" >"$work/qemu.out" 2>&1 &
	qpid=$!
	echo "run-vm: $topo on $kver: qemu pid $qpid, timeout ${timeout_s}s" >&2
	printf '%q ' "$qemu" -accel tcg -nodefaults -display none -no-reboot -kernel "$vmlinuz" -initrd initrd -append "$cmdline" -serial file:console.log -serial file:data.log "${qargs[@]}" >"$work/qemu.cmd"

	hung=0
	deadline=$(($(date +%s) + timeout_s))
	while kill -0 "$qpid" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			hung=1
			kill "$qpid" 2>/dev/null
			sleep 1
			kill -9 "$qpid" 2>/dev/null
			break
		fi
		# poweroff -f normally ends qemu; do not wait on a guest that printed DONE but hangs
		if grep -q '^PMNODE-VM-DONE' "$work/console.log" 2>/dev/null; then
			sleep 3
			kill "$qpid" 2>/dev/null
			break
		fi
		sleep 0.5
	done
	wait "$qpid" 2>/dev/null
	qrc=$?
	qpid=
	elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
}

boot_guest
# QEMU's TCG occasionally crashes a kernel while it boots (seen: an int3 oops in
# sched_clock_cpu on 6.12 during text patching, before /init started). That says nothing
# about this project, so such a boot is tried once more. A panic before /init printed its
# first line counts; so does, at any time, a kernel-mode int3 trap: the breakpoint the
# kernel writes while it patches its own text (a static key turned, as a cgroup's removal
# does), which TCG's vCPUs can still execute after the patch is done (seen at 186 s on
# 6.12, in get_page_from_freelist, right after the cpuset test removed its cgroup).  Any
# other crash while a test runs is the test's failure.
if [ "$hung" = 0 ] && grep -aq 'Kernel panic' "$work/console.log" 2>/dev/null &&
	{ ! grep -aq '^pmnode-vm: topology' "$work/console.log" 2>/dev/null ||
		grep -aqE '(Oops: )?int3: 0000 \[#1\]' "$work/console.log" 2>/dev/null; }; then
	echo "run-vm: the kernel panicked before /init started or on a kernel-mode int3 (a TCG" \
		"crash while it patches its text): booting again" >&2
	grep -a -m1 -E 'int3: 0000|Kernel panic' "$work/console.log" | tr -d '\r' >&2
	grep -a -m1 'RIP: 0010' "$work/console.log" | tr -d '\r' >&2
	cp "$work/console.log" "$work/console-boot1.log"
	boot_guest
fi

tr -d '\r' <"$work/console.log" >"$work/console.txt"
tr -d '\r' <"$work/data.log" >"$work/data.txt"

if [ ! -s "$work/console.txt" ] && [ "$hung" = 0 ] && [ "$qrc" != 0 ]; then
	cat "$work/qemu.out" >&2
	# A topology QEMU rejects is a failure; only a QEMU that cannot start at all is a skip.
	if echo quit | timeout 60 "$qemu" -accel tcg -machine none -display none -nodefaults -monitor stdio >/dev/null 2>&1; then
		die_fail "qemu rejected the $topo command line (exit $qrc): $(head -3 "$work/qemu.out" | tr '\n' ' ')"
	fi
	skip "qemu could not start (exit $qrc): $(head -3 "$work/qemu.out" | tr '\n' ' ')"
fi

# ---------------------------------------------------------------- results
results=$(grep -a '^PMNODE-TEST ' "$work/console.txt")
done_seen=0
grep -aq '^PMNODE-VM-DONE' "$work/console.txt" && done_seen=1

# data blocks from the second serial port: PMNODE-DATA-BEGIN name / base64 / PMNODE-DATA-END name
extract() { # name outfile
	awk -v n="$1" '$0 == "PMNODE-DATA-BEGIN " n { on = 1; next } $0 == "PMNODE-DATA-END " n { on = 0 } on' "$work/data.txt" | base64 -d >"$2" 2>/dev/null
}

host_results=""
for t in "${tests[@]}"; do
	case $t in
	list-json)
		extract list-json "$work/list.json"
		if [ ! -s "$work/list.json" ]; then
			host_results+="PMNODE-TEST list-json-truth FAIL (no JSON came back)"$'\n'
		elif python3 "$here/check-truth.py" "$here/truth/$topo.json" "$work/list.json" --kernel "$kser" >"$work/truth.out" 2>&1; then
			host_results+="PMNODE-TEST list-json-truth PASS"$'\n'
		else
			host_results+="PMNODE-TEST list-json-truth FAIL"$'\n'
		fi
		;;
	capture-sysfs)
		extract capture-sysfs "$work/capture.tar.gz"
		if [ -s "$work/capture.tar.gz" ] && mkdir -p "$work/capture" && tar -xzf "$work/capture.tar.gz" -C "$work/capture"; then
			host_results+="PMNODE-TEST capture-sysfs-unpack PASS"$'\n'
			if [ "${PMNODE_VM_CAPTURE:-0}" = 1 ]; then
				fx=$repo/tests/fixtures/real-$topo-$kser
				rm -rf "$fx/root"
				mkdir -p "$fx"
				mv "$work/capture/root" "$fx/root"
				{
					echo "# real-$topo-$kser: sysfs captured from a real kernel under QEMU"
					echo
					echo "Captured by \`PMNODE_VM_CAPTURE=1 tests/vm/run-vm.sh $topo $kser -- capture-sysfs\`"
					echo "(tests/vm/capture-sysfs.sh in the guest, after the topology's devices were configured)."
					echo
					echo "- kernel: Debian $(cat "$kdir/.ready") ($kver)"
					echo "- qemu: $("$qemu" --version | head -1), TCG"
					echo "- topology: tests/vm/topologies/$topo.sh"
					echo "- kernel command line: \`$cmdline\`"
					echo
					echo "QEMU command line (initrd and serial files were in a temporary dir):"
					echo
					echo '```'
					cat "$work/qemu.cmd"
					echo
					echo '```'
					echo
					echo "Regular files are their content at capture time; symlinks are kept as the"
					echo "relative links the kernel shows. Only the files discovery reads are captured."
					echo "expected.json: \`PMNODE_REGEN=1 python3 tests/fixtures/check-fixture.py DIR build/tools/pmnode\`;"
					echo "truth.json is written by hand from the topology."
				} >"$fx/README.md"
				echo "run-vm: captured into $fx/root" >&2
			fi
		else
			host_results+="PMNODE-TEST capture-sysfs-unpack FAIL"$'\n'
		fi
		;;
	esac
done

# PMNODE_VM_SHOW=1: each guest test's own output, without the kernel's console around it.
if [ "${PMNODE_VM_SHOW:-0}" = 1 ]; then
	awk '/^pmnode-vm: --- /{ on = 1; print "== guest: " substr($0, 16); next } /^PMNODE-TEST /{ on = 0 } on' "$work/console.txt"
fi
echo "=== $topo on kernel $kver: ${elapsed}s, qemu exit $qrc$([ $hung = 1 ] && echo ", HUNG after ${timeout_s}s")"
echo "--- qemu: $(cat "$work/qemu.cmd")"
all="$results"$'\n'"$host_results"
printf '%s\n' "$all" | grep -a '^PMNODE-TEST' || true
[ -s "$work/truth.out" ] && { echo "--- truth check:"; cat "$work/truth.out"; }

rc=0
if [ "$done_seen" = 0 ] || [ "$hung" = 1 ]; then
	echo "PMNODE-TEST boot FAIL ($([ $hung = 1 ] && echo "hung" || echo "no PMNODE-VM-DONE marker"))"
	rc=1
elif printf '%s\n' "$all" | grep -aq '^PMNODE-TEST [^ ]* FAIL'; then
	rc=1
fi
if [ $rc != 0 ] && [ "${PMNODE_VM_SHOW:-0}" != 1 ]; then
	# Each failed guest test's own output, so that a failure in CI can be read.
	awk '/^pmnode-vm: --- /{ name = substr($0, 16); out = ""; on = 1; next }
		/^PMNODE-TEST / { if (on && $3 == "FAIL") printf "== guest (failed): %s\n%s", name, out; on = 0; next }
		on { out = out $0 "\n" }' "$work/console.txt"
fi
if [ $rc != 0 ] || [ "${PMNODE_VM_VERBOSE:-0}" = 1 ]; then
	echo "--- console tail:"
	tail -n 60 "$work/console.txt"
fi
echo "=== result: $([ $rc = 0 ] && echo PASS || echo FAIL)"
exit $rc
