"""Access tracking and tiering from Python (issue 16): pmnode.Tracker,
pmnode.Tier, TierStats and its JSON.

Tracking writes works on one node (soft-dirty bits; skipped where the
kernel has none).  A tier needs two distinct nodes, so here only its
refusals and the stats' JSON are checked; tests/vm steps one
(test-cpp-migrate over the same C calls)."""
import ctypes
import errno
import json
import mmap

import pytest

import pmnode
from conftest import MiB, PAGE

GRANULE = 2 * MiB


class Aligned:
    """8 MiB of anonymous memory at a 2 MiB boundary (four extents)."""

    def __init__(self, size=8 * MiB):
        self.m = mmap.mmap(-1, size + GRANULE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self.m.madvise(mmap.MADV_NOHUGEPAGE)
        self.m.write(b"\x11" * len(self.m))
        base = ctypes.addressof(ctypes.c_char.from_buffer(self.m))
        self.off = (-base) % GRANULE
        self.addr = base + self.off
        self.size = size

    def write(self, offset, data):
        self.m[self.off + offset:self.off + offset + len(data)] = data


WRITE_MODES = ["soft-dirty", "uffd-wp"]


def tracker(ctx, mode, **kw):
    try:
        return pmnode.Tracker(ctx, mode=mode, granule=GRANULE, **kw)
    except pmnode.NotSupportedError as e:
        if e.code == -errno.EOPNOTSUPP:
            pytest.skip("no %s in this kernel (%s)" % (mode, e))
        raise


def test_some_write_mode_works(host):
    """At least one mode that sees writes is there, else the tests below
    all skip and check nothing."""
    assert host.tracker().mode in WRITE_MODES + ["idle"]


def test_tracker_refusals(host):
    with pytest.raises(pmnode.InvalidArgumentError):
        pmnode.Tracker(host, mode="reads")
    with pytest.raises(pmnode.InvalidArgumentError):
        pmnode.Tracker(host, granule=-1)
    with pytest.raises(pmnode.InvalidArgumentError) as ei:
        pmnode.Tracker(host, granule=3 * PAGE)          # not a power of two: the library's
    assert ei.value.code == -errno.EINVAL


@pytest.mark.parametrize("mode", WRITE_MODES)
def test_tracker_sees_writes(host, mode):
    mem = Aligned()
    with tracker(host, mode) as t:
        assert t.mode == mode
        t.add(mem.addr, mem.size)
        with pytest.raises(pmnode.Error) as ei:
            t.add(mem.addr + GRANULE, GRANULE)
        assert ei.value.code == -errno.EEXIST
        with pytest.raises(pmnode.InvalidArgumentError):
            t.add(mem.addr + 1, PAGE)
        with pytest.raises(pmnode.NotFoundError):
            t.remove(mem.addr, GRANULE)

        r = t.scan()                          # the first look starts every period
        assert isinstance(r, pmnode.TrackReport)
        assert r.pages_examined == mem.size // PAGE and r.extents_examined == 4 and r.passes == 1
        mem.write(GRANULE, b"\x01" * GRANULE)  # extent 1: every page
        for i in range(3):                    # extent 2: three pages
            mem.write(2 * GRANULE + i * 16 * PAGE, b"\x02")
        r = t.scan()
        assert r.extents_examined == 4 and r.extents_touched == 2
        ex = t.extents()
        assert [e.address for e in ex] == [mem.addr + i * GRANULE for i in range(4)]
        assert all(isinstance(e, pmnode.TrackExtent) and e.length == GRANULE for e in ex)
        assert [e.pages_touched for e in ex] == [0, GRANULE // PAGE, 3, 0]
        assert ex[1].heat > ex[2].heat >= ex[0].heat
        assert ex[0].idle_looks >= 1 and ex[1].idle_looks == 0
        assert t.scan().extents_touched == 0
        t.remove(mem.addr, mem.size)
        assert t.extents() == []
    with pytest.raises(pmnode.MisuseError):
        t.scan()


@pytest.mark.parametrize("mode", WRITE_MODES)
def test_tracker_page_budget_and_objects(host, backing0, mode):
    mem = Aligned()
    with tracker(host, mode, page_budget=1024) as t:
        t.add(mem.addr, mem.size)
        r = t.scan()
        assert r.pages_examined <= 1024 and r.passes == 0
        r = t.scan()
        assert r.pages_examined <= 1024 and r.passes == 1
    with host.tracker() as t:                  # whatever AUTO picks, a region goes in
        assert t.mode in ("soft-dirty", "uffd-wp", "idle")
        r = backing0.map(MiB)
        t.add(r)
        t.scan()
        assert sum(e.length for e in t.extents()) == MiB
        t.remove(r)
        r.unmap()


def test_tier_refusals(host):
    with pytest.raises(pmnode.InvalidArgumentError):
        pmnode.Tier(host, 0, 0)
    with pytest.raises(pmnode.NotFoundError) as ei:
        host.tier(0, 4095)
    assert ei.value.code == pmnode.E_NO_NODE
    with pytest.raises(TypeError):
        pmnode.Tier(host, 0, "1")
    with pytest.raises(pmnode.InvalidArgumentError):
        pmnode.Tier(host, 0, 1, demote_budget=-1)
    with pytest.raises(pmnode.InvalidArgumentError):
        pmnode.Tier(host, 0, 1, track_mode="reads")


def test_tier_stats_json():
    st = pmnode.TierStats(managed_bytes=8 * MiB, hot_bytes=2 * MiB, cold_bytes=6 * MiB,
                          steps=42, promoted_bytes=123456789, demoted_bytes=987654321,
                          failed_moves=3)
    d = json.loads(st.json())
    assert d["promoted_bytes"] == 123456789 and d["demoted_bytes"] == 987654321
    assert d["steps"] == 42 and d["managed_bytes"] == 8 * MiB and d["failed_moves"] == 3
    for k, v in st.to_dict().items():
        if k in d:
            assert d[k] == v, k


def test_tier_holds_its_compressed_tier():
    """A Tier keeps the CompressedTier it was given open in C; a refused
    Tier gives it back, and a closed one is refused before any C call."""
    try:
        ctx = pmnode.Context("/", node_kinds={0: "compressed"}, ignore_env=True,
                             no_config=True)
    except pmnode.NotFoundError:
        pytest.skip("this host has no NUMA sysfs")
    with ctx:
        try:
            ct = pmnode.CompressedTier(ctx, node=0, promote_node=0)
        except pmnode.NotSupportedError as e:
            pytest.skip("no write control here (%s)" % e)
        with pytest.raises(pmnode.NotFoundError):
            pmnode.Tier(ctx, 0, 4095, ctier=ct)
        assert ct._children == 0            # the failed Tier let go of it
        ct.close()
        assert ct._handle is None           # so closing it really closed it
        with pytest.raises(pmnode.MisuseError):
            pmnode.Tier(ctx, 0, 4095, ctier=ct)
