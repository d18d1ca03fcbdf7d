"""heavy.py - a dict-and-list-heavy Python workload with deterministic output.

shim-test.py runs it with and without the shim and compares stdout.  It
builds a 200k-entry dict of lists and tuples, sorts, groups, serialises to
JSON and back, uses re, collections and hashlib (C extension modules loaded
with dlopen) and prints digests of what it built.
"""
import collections
import hashlib
import json
import random
import re
import sys

N = 200_000
rng = random.Random(1234)

# a big dict of small objects
d = {}
for i in range(N):
    key = "k%06d-%s" % (rng.randrange(10 * N), "".join(rng.choice("abcdef") for _ in range(4)))
    d[key] = [i, rng.random(), (i % 7, str(i * 31)), {"n": i % 13}]
print("dict", len(d))

# sort, group, count
items = sorted(d.items(), key=lambda kv: (kv[1][2][0], kv[0]))
groups = collections.defaultdict(list)
for k, v in items:
    groups[v[2][0]].append(k)
counts = collections.Counter(k[-4:] for k in d)
print("groups", [(g, len(ks)) for g, ks in sorted(groups.items())])
print("most common", counts.most_common(3))

# strings and regular expressions
text = " ".join(k for k, _ in items[:50000])
words = re.findall(r"k(\d+)-([a-f]+)", text)
print("regex matches", len(words))

# JSON round trip and a digest of the output
blob = json.dumps(d, sort_keys=True)
back = json.loads(blob)
assert back.keys() == d.keys()
print("json bytes", len(blob))
print("json sha256", hashlib.sha256(blob.encode()).hexdigest())

# list churn: build, slice, delete, rebuild
lst = [list(range(i % 50)) for i in range(N)]
del lst[::3]
lst.sort(key=len, reverse=True)
flat = [x for sub in lst[:20000] for x in sub]
print("list", len(lst), sum(flat))

# free most of it and allocate again
del d, items, groups, back, blob
sets = [set(range(i, i + 100)) for i in range(0, 20000)]
u = set().union(*sets[:1000])
print("sets", len(sets), len(u))
h = hashlib.sha256()
for s in sets[::97]:
    h.update(repr(sorted(s)).encode())
print("sets sha256", h.hexdigest())
sys.stdout.flush()
