#!/usr/bin/env python3
"""shim-workloads.py - every bench/shim workload, once at a tiny scale, under
glibc and under libpmnode's LD_PRELOAD shim: the two runs must exit 0 and
print the same checksum.

    shim-workloads.py --preload LIB [--sanitize NAME] [--scale 1] WORKLOAD...

A correctness test, not a benchmark: nothing is timed.  Each workload checks
its own objects (tags at both ends, patterns in large blocks) and exits 1 on
corruption; its checksum depends only on what it computed, never on
addresses, so any difference between the two runs is a wrong result under
the shim (or a workload that is not deterministic, which the benchmark could
not use either).  Exit 0 pass, 1 fail, 77 skip: the shim is not built, or
the build is sanitizer-instrumented (an ASan or TSan runtime must own malloc
and refuses a preloaded one).
"""
import argparse
import os
import re
import subprocess
import sys

CHECKSUM = re.compile(r"checksum (0x[0-9a-f]+)")


def run(prog, scale, env):
    try:
        p = subprocess.run([prog, "--scale", str(scale)], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        return -1, None, str(e)
    sums = CHECKSUM.findall(p.stdout)
    return p.returncode, (sums[-1] if sums else None), p.stderr.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preload", default="")
    ap.add_argument("--sanitize", default="none")
    ap.add_argument("--scale", type=int, default=1)
    ap.add_argument("--config", default="node=0;threshold=0")
    ap.add_argument("workloads", nargs="+")
    a = ap.parse_args()

    if a.sanitize not in ("", "none"):
        print("skip: built with -Db_sanitize=%s; its runtime owns malloc, the shim cannot be "
              "preloaded" % a.sanitize)
        return 77
    if not a.preload or not os.path.exists(a.preload):
        print("skip: the shim is not built (%s)" % (a.preload or "no preload library"))
        return 77

    base = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "PMNODE_PRELOAD")}
    shim = dict(base, LD_PRELOAD=a.preload, PMNODE_PRELOAD=a.config)
    # The shim must really be in the process: it refuses a bad configuration
    # at start with exit 2, which no workload does by itself.
    rc, _, err = run(a.workloads[0], a.scale, dict(shim, PMNODE_PRELOAD="node=nonsense"))
    if rc != 2:
        print("FAILED: with PMNODE_PRELOAD=node=nonsense %s exited %d, not 2: the shim did not "
              "load (%s)" % (a.workloads[0], rc, err[:200]))
        return 1
    failed = []
    for prog in a.workloads:
        name = os.path.basename(prog)
        rc_g, sum_g, err_g = run(prog, a.scale, base)
        rc_s, sum_s, err_s = run(prog, a.scale, shim)
        verdict = "ok"
        if rc_g != 0 or sum_g is None:
            verdict = "FAILED under glibc: exit %d, checksum %s, %s" % (rc_g, sum_g, err_g[:200])
        elif rc_s != 0 or sum_s is None:
            verdict = "FAILED under the shim: exit %d, checksum %s, %s" % (rc_s, sum_s, err_s[:200])
        elif sum_s != sum_g:
            verdict = "FAILED: checksum %s under the shim, %s under glibc" % (sum_s, sum_g)
        print("%-14s glibc %s  shim %s  %s" % (name, sum_g, sum_s, verdict))
        if verdict != "ok":
            failed.append(name)
    if failed:
        print("failed: %s" % ", ".join(failed))
        return 1
    print("all %d workloads print glibc's checksum under the shim" % len(a.workloads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
