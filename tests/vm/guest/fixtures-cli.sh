#!/bin/sh
# The fixture suite on a real kernel (runs in the QEMU guest, busybox sh, no
# python): pmnode list --json on every fixture tree under /pmnode/tree must
# equal its expected.json byte for byte once the root path is replaced by
# the FIXTURE/root placeholder check-fixture.py writes.  Fixtures whose
# expected exit status is not 0 (no-sysfs) must fail with exit 2 instead.
tree=${1:-/pmnode/tree}
pass=0 fail=0
for d in "$tree"/*/; do
	d=${d%/}
	name=$(basename "$d")
	[ -d "$d/root" ] || continue
	[ -f "$d/expected.json" ] || continue
	out=$(PMNODE_SYSFS_ROOT= pmnode list --json --root "$d/root" 2>/dev/null)
	rc=$?
	if grep -q '"exit_status": 2' "$d/truth.json" 2>/dev/null; then
		if [ $rc = 2 ]; then pass=$((pass + 1)); else echo "FAIL $name: exit $rc, want 2"; fail=$((fail + 1)); fi
		continue
	fi
	if [ $rc != 0 ]; then
		echo "FAIL $name: exit $rc"
		fail=$((fail + 1))
		continue
	fi
	if printf '%s\n' "$out" | sed "s|$d/root|FIXTURE/root|g" | cmp -s - "$d/expected.json"; then
		pass=$((pass + 1))
	else
		echo "FAIL $name: output differs from expected.json"
		printf '%s\n' "$out" | sed "s|$d/root|FIXTURE/root|g" | diff "$d/expected.json" - | head -20
		fail=$((fail + 1))
	fi
done
echo "fixtures on the real kernel: $pass passed, $fail failed"
[ $fail = 0 ] && [ $pass -gt 0 ]
