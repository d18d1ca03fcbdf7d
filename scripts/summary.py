#!/usr/bin/env python3
"""Fold meson test logs into one closing line: N passed, N failed, N skipped."""
import json
import sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                res = r.get("result")
                if res in ("OK", "EXPECTEDFAIL"):
                    passed += 1
                elif res == "SKIP":
                    skipped += 1
                else:
                    failed += 1
                    print(f"FAILED: {path}: {r.get('name')} ({res})")
    except FileNotFoundError:
        print(f"missing test log: {path}")
        failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
