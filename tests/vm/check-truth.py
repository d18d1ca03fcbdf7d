#!/usr/bin/env python3
"""check-truth.py TRUTH.json LIST.json [--kernel SERIES] — compare `pmnode list --json`
from a guest with what the topology is known to be.

Runs on the host (the guest has no python3). TRUTH.json says only what is certain about
the topology; anything it does not mention is not checked. Keys:

  "node_ids":  [0, 1]           exactly these nodes are listed, in this order
  "node_ids_include": [0, 2]    at least these nodes are listed (others may be too)
  "nodes":     {"1": {...}}     per node: field -> expected value, where a value is
                                  a literal (compared with ==), or
                                  {"nonempty": true|false}   for strings/lists,
                                  {"min": N} / {"max": N}     for numbers,
                                  {"not": V}                  anything but V,
                                  {"in": [V, ...]}            one of these
  "dax":       {"dax0.0": {...}}  per dax device (by name): exactly these names, fields as above
  "cxl_min":   N                 at least N entries in "cxl"
  "cxl_any":   {...}             some "cxl" entry matches all these fields
  "kernels":   {"6.12": {...}}   overrides merged over the top level for that kernel series

Exit 0 when everything matches, 1 with one line per mismatch otherwise.
"""
import json
import sys


def match(exp, got):
    if isinstance(exp, dict):
        if "nonempty" in exp:
            return bool(got) == exp["nonempty"]
        if "min" in exp or "max" in exp:
            if not isinstance(got, (int, float)) or isinstance(got, bool):
                return False
            return got >= exp.get("min", got) and got <= exp.get("max", got)
        if "not" in exp:
            return got != exp["not"]
        if "in" in exp:
            return got in exp["in"]
    return exp == got


def merge(base, over):
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k in ("nodes", "dax", "cxl_any"):
            m = dict(out[k])
            for kk, vv in v.items():
                if isinstance(vv, dict) and isinstance(m.get(kk), dict) and k != "cxl_any":
                    m[kk] = {**m[kk], **vv}
                else:
                    m[kk] = vv
            out[k] = m
        else:
            out[k] = v
    return out


def main(argv):
    args = [a for a in argv[1:]]
    kernel = None
    if "--kernel" in args:
        i = args.index("--kernel")
        kernel = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    with open(args[0]) as f:
        truth = json.load(f)
    try:
        with open(args[1]) as f:
            got = json.load(f)
    except ValueError as e:
        print(f"pmnode list --json is not valid JSON: {e}")
        return 1
    if kernel and kernel in truth.get("kernels", {}):
        truth = merge(truth, truth["kernels"][kernel])

    bad = []
    nodes = {n.get("id"): n for n in got.get("nodes", [])}
    ids = [n.get("id") for n in got.get("nodes", [])]
    if "node_ids" in truth and ids != truth["node_ids"]:
        bad.append(f"node ids: expected {truth['node_ids']}, pmnode listed {ids}")
    missing = [i for i in truth.get("node_ids_include", []) if i not in ids]
    if missing:
        bad.append(f"node ids: {missing} missing, pmnode listed {ids}")
    for nid, fields in truth.get("nodes", {}).items():
        n = nodes.get(int(nid))
        if n is None:
            bad.append(f"node {nid}: missing")
            continue
        for k, v in fields.items():
            if not match(v, n.get(k)):
                bad.append(f"node {nid}: {k} expected {json.dumps(v)}, got {json.dumps(n.get(k))}")

    dax = {d.get("name"): d for d in got.get("dax", [])}
    if "dax" in truth:
        if sorted(dax) != sorted(truth["dax"]):
            bad.append(f"dax devices: expected {sorted(truth['dax'])}, got {sorted(dax)}")
        for name, fields in truth["dax"].items():
            d = dax.get(name)
            if d is None:
                continue
            for k, v in fields.items():
                if not match(v, d.get(k)):
                    bad.append(f"{name}: {k} expected {json.dumps(v)}, got {json.dumps(d.get(k))}")

    cxl = got.get("cxl", [])
    if len(cxl) < truth.get("cxl_min", 0):
        bad.append(f"cxl: expected at least {truth['cxl_min']} entries, got {len(cxl)}")
    if "cxl_any" in truth:
        want = truth["cxl_any"]
        if not any(all(match(v, c.get(k)) for k, v in want.items()) for c in cxl):
            bad.append(f"cxl: no entry matches {json.dumps(want)}; got {json.dumps(cxl)}")

    for b in bad:
        print(b)
    if not bad:
        print(f"truth: {args[0]} matches ({len(ids)} nodes, {len(dax)} dax, {len(cxl)} cxl)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
