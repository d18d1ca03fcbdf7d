"""Arenas and slabs on node 0 of this host: buffers, placement, stats, and
every misuse raising instead of crashing."""
import gc
import json
import struct
import subprocess
import sys
import threading
import time

import pytest

import pmnode
from conftest import MiB


# ---- arenas ----

def test_malloc_gives_a_buffer_on_node0(arena):
    b = arena.malloc(10000)
    assert isinstance(b, pmnode.Block) and b.owner is arena and b.alive
    assert b.size == len(b) == 10000 and b.usable_size >= 10000
    mv = b.view
    assert mv.nbytes == 10000 and mv.format == "B"
    mv[:] = bytes(range(256)) * 39 + bytes(16)
    struct.pack_into("<Q", mv, 8, 0x1122334455667788)
    assert b.read(8) == bytes(range(8))
    assert struct.unpack_from("<Q", b.read(16), 8)[0] == 0x1122334455667788
    w = pmnode.where(b)
    assert w.pages >= 3 and w.all_on(0) and w.not_present == 0
    assert arena.owns(b)
    b.free()
    assert not b.alive and not arena.owns(b)


def test_large_objects_lazy_by_default_populated_on_request(backing0):
    # Default: a large object is bound, not populated; what is touched is on node 0.
    with pmnode.Arena(backing0) as lazy:
        b = lazy.malloc(8 * MiB)
        w = pmnode.where(b)
        assert w.not_present > 0 and w.other == 0
        b.view[:MiB] = b"\x5a" * MiB
        w = pmnode.where(b.address, MiB)
        assert w.not_present == 0 and w.all_on(0)
        b.free()
    # populate=True: every page present and verified at malloc.
    with pmnode.Arena(backing0, populate=True) as eager:
        b = eager.malloc(8 * MiB)
        w = pmnode.where(b)
        assert w.not_present == 0 and w.all_on(0)
        b.free()


def test_large_cache_bound_and_bad_options(backing0):
    with pmnode.Arena(backing0, large_cache_bytes=0) as a:
        a.malloc(8 * MiB).free()
        first = a.stats()["region_maps"]
        a.malloc(8 * MiB).free()
        assert a.stats()["region_maps"] == first + 1   # nothing cached: mapped again
    with pmnode.Arena(backing0, large_cache_bytes=64 * MiB) as a:
        a.malloc(8 * MiB).free()
        first = a.stats()["region_maps"]
        a.malloc(8 * MiB).free()
        assert a.stats()["region_maps"] == first       # the freed extent reused
    with pytest.raises(pmnode.InvalidArgumentError):
        pmnode.Arena(backing0, populate="yes")
    with pytest.raises((pmnode.InvalidArgumentError, ValueError, OverflowError)):
        pmnode.Arena(backing0, large_cache_bytes=-1)


def test_trim_gives_back_the_small_page_cache(backing0):
    # Emptied pages keep their memory (the 32 MiB default cache); trim()
    # gives it back and says how much; small_cache_bytes=0 keeps none.
    with pmnode.Arena(backing0) as a:
        blocks = [a.malloc(4000) for _ in range(2048)]      # 8 MiB
        for b in blocks:
            b.view[:] = b"\x11" * 4000
            b.free()
        before = a.stats()["populated"]
        released = a.trim()
        assert released >= 4 * MiB
        assert a.stats()["populated"] == before - released
        assert a.trim() == 0                                 # nothing left to give
    with pmnode.Slab(backing0, 4096, cache_bytes=0) as s:
        blocks = [s.alloc() for _ in range(64)]
        for b in blocks:
            b.free()
        before = s.stats()["populated"]
        released = s.trim()
        assert s.stats()["populated"] == before - released
    with pytest.raises((pmnode.InvalidArgumentError, ValueError, OverflowError)):
        pmnode.Arena(backing0, small_cache_bytes=-1)


def test_calloc_zeroes_and_aligned_alloc_aligns(arena):
    dirty = arena.malloc(4096)
    dirty.view[:] = b"\xff" * 4096
    dirty.free()
    z = arena.calloc(64, 64)
    assert z.size == 4096 and z.read() == bytes(4096)
    for align in (64, 4096, 1 << 16):
        a = arena.aligned_alloc(align, 9000)
        assert a.address % align == 0 and a.size == 9000
        a.write(b"x" * 9000)
        a.free()
    with pytest.raises(pmnode.InvalidArgumentError):
        arena.aligned_alloc(3, 10)
    z.free()


def test_realloc_keeps_contents_and_kills_the_old_block(arena):
    a = arena.malloc(100)
    a.write(b"keep me")
    old_view = a.view
    b = arena.realloc(a, 1 << 20)
    assert b.size == 1 << 20 and b.read(7) == b"keep me"
    assert not a.alive
    with pytest.raises(ValueError):
        old_view[0]                     # released before the move
    with pytest.raises(pmnode.MisuseError) as ei:
        a.free()
    assert ei.value.code == pmnode.E_DOUBLE_FREE
    c = arena.realloc(b, 10)
    assert c.read(7) == b"keep me"
    c.free()


def test_stats_follow_allocations(arena, backing0):
    s0 = arena.stats()
    blocks = [arena.malloc(1000) for _ in range(50)]
    s1 = arena.stats()
    assert s1["objects"] == s0["objects"] + 50
    assert s1["allocs"] == s0["allocs"] + 50
    assert s1["allocated"] >= s0["allocated"] + 50 * 1000
    assert s1["resident"] >= s1["active"] >= s1["allocated"]
    assert s1["bytes_per_node"].get(0, 0) == s1["resident"]
    bs = backing0.stats()
    for k in ("mapped_bytes", "mapped_peak_bytes", "region_maps", "region_map_failures",
              "spilled_bytes", "bytes_per_node"):
        assert s1[k] == bs[k], k
    for b in blocks:
        b.free()
    s2 = arena.stats()
    assert s2["objects"] == s0["objects"] and s2["frees"] == s0["frees"] + 50
    j = json.loads(arena.stats_json())
    for k in ("allocated", "objects", "active", "resident", "peak", "allocs", "frees",
              "remote_frees", "failures"):
        assert j[k] == s2[k], k
    assert j["bytes_per_node"] == {str(n): v for n, v in
                                   s2["backing"]["bytes_per_node"].items()}


# The names of 0.2 to 0.7 (the Python dict's nested "backing", Backing.stats())
ALIASES_0_7 = {"peak_bytes": "mapped_peak_bytes", "maps": "region_maps",
               "failures": "region_map_failures"}


def _as_json(d):
    """A stats dict as the C JSON would print it (int node ids as strings)."""
    return json.loads(json.dumps(d))


def test_one_stats_vocabulary(arena, backing0):
    """Arena.stats() and Slab.stats() have exactly the keys of
    pmn_alloc_stats_json, in its order and with its values; the nested
    "backing" (0.7's shape) is the one documented alias.  Backing.stats()
    uses the same names, its old ones kept as aliases."""
    blocks = [arena.malloc(3000) for _ in range(7)]
    with pmnode.Slab(backing0, 512) as slab:
        objs = [slab.alloc() for _ in range(5)]
        for owner in (arena, slab):
            d = owner.stats()
            j = json.loads(owner.stats_json())
            flat = {k: v for k, v in d.items() if k != "backing"}
            assert list(flat) == list(j), (list(flat), list(j))
            assert _as_json(flat) == j
            # the alias: 0.7's nested names, the same values
            old = d["backing"]
            assert sorted(old) == sorted(["mapped_bytes", "peak_bytes", "maps", "failures",
                                          "spilled_bytes", "bytes_per_node"])
            for k, v in old.items():
                assert v == d[ALIASES_0_7.get(k, k)], k
        for o in objs:
            slab.free(o)
    for b in blocks:
        b.free()
    bs = backing0.stats()
    j = json.loads(arena.stats_json())
    for k in ("mapped_bytes", "mapped_peak_bytes", "region_maps", "region_map_failures",
              "spilled_bytes"):
        assert k in bs and k in j, k
    for old, new in ALIASES_0_7.items():
        assert bs[old] == bs[new], old


def test_tier_stats_vocabulary():
    """TierStats' fields are the keys of pmn_tier_stats_json, values too."""
    vals = {f: 1000 + i for i, f in enumerate(pmnode.TierStats.__dataclass_fields__)}
    st = pmnode.TierStats(**vals)
    j = json.loads(st.json())
    assert list(j) == list(st.to_dict()) and j == st.to_dict()


def test_exhaustion_raises_memory_error(arena):
    with pytest.raises(MemoryError) as ei:
        arena.malloc(1 << 50)
    assert isinstance(ei.value, pmnode.OutOfMemoryError)
    # the library's reason (pmn_last_error), not only errno's ENOMEM
    assert ei.value.name == "PMN_E_NODE_FULL"
    assert arena.stats()["failures"] >= 1
    with pytest.raises(pmnode.InvalidArgumentError):
        arena.malloc(-1)


def test_cap_bytes_limits_the_arena(backing0):
    with pmnode.Arena(backing0, cap_bytes=8 * MiB, purge="release", retain=0) as a:
        got = []
        with pytest.raises(pmnode.OutOfMemoryError):
            for _ in range(64):
                got.append(a.malloc(MiB))
        assert 1 <= len(got) <= 8
        assert a.stats()["allocated"] <= 8 * MiB + 4 * MiB
    with pytest.raises(pmnode.InvalidArgumentError):
        pmnode.Arena(backing0, purge="sometimes")


def test_double_free_and_foreign_free_raise(backing0):
    with pmnode.Arena(backing0) as a1, pmnode.Arena(backing0) as a2:
        b = a1.malloc(64)
        with pytest.raises(pmnode.MisuseError) as ei:
            a2.free(b)
        assert ei.value.code == pmnode.E_FOREIGN
        assert b.alive                  # nothing happened
        a1.free(b)
        with pytest.raises(pmnode.MisuseError) as ei:
            b.free()
        assert ei.value.code == pmnode.E_DOUBLE_FREE
        with pytest.raises(TypeError):
            a1.free(bytearray(64))
        with pytest.raises(pmnode.MisuseError):
            b.view
        assert a1.stats()["frees"] == 1


def test_use_after_close_raises(backing0):
    a = pmnode.Arena(backing0)
    b = a.malloc(128)
    mv = b.view
    mv[0] = 1
    a.close()
    with pytest.raises(ValueError):
        mv[0]                           # the view was released, not left dangling
    for use in (b.free, lambda: b.view, lambda: b.usable_size, lambda: a.malloc(1),
                a.stats, a.reset):
        with pytest.raises(pmnode.MisuseError) as ei:
            use()
        assert ei.value.code == pmnode.E_DESTROYED
    a.close()                           # twice is harmless


def test_close_refuses_while_a_view_is_exported(backing0):
    a = pmnode.Arena(backing0)
    b = a.malloc(64)
    piece = b.view[8:16]
    with pytest.raises(BufferError):
        a.close()
    assert not a.closed and b.alive
    piece[0] = 7                        # memory still valid
    with pytest.raises(BufferError):
        b.free()
    piece.release()
    a.close()
    assert a.closed and not b.alive


def test_reset_kills_every_block(arena):
    blocks = [arena.malloc(256) for _ in range(10)]
    arena.reset()
    assert arena.stats()["objects"] == 0
    for b in blocks:
        with pytest.raises(pmnode.MisuseError) as ei:
            b.free()
        assert ei.value.code == pmnode.E_DESTROYED
    assert arena.malloc(256).alive      # the arena itself goes on


def test_context_managers_close_in_the_right_order(host):
    with pmnode.Backing(host, node=0) as b:
        with b.arena() as a:
            blk = a.malloc(10)
        assert a.closed and not blk.alive and not b.closed
        with b.slab(64) as s:
            s.alloc()
    assert b.closed and b._handle is None


def test_backing_closed_before_its_arena(host):
    b = pmnode.Backing(host, node=0)
    a = pmnode.Arena(b)
    b.close()                            # allowed: the arena keeps it alive
    blk = a.malloc(100)
    blk.write(b"ok")
    assert b._handle is not None
    with pytest.raises(pmnode.MisuseError):
        pmnode.Arena(b)                  # no new children for a closed backing
    a.close()
    assert b._handle is None             # freed after the arena, as C requires


def test_garbage_collection_in_any_order(host):
    for _ in range(3):
        b = pmnode.Backing(host, node=0)
        a = pmnode.Arena(b)
        blk = a.malloc(64)
        blk.cycle = [blk, a, b]          # a reference cycle through everything
        del b, a, blk
        gc.collect()


def test_threads_allocate_and_free_concurrently(arena):
    errors, handoff = [], []

    def work(seed):
        try:
            mine = []
            for i in range(500):
                blk = arena.malloc(16 + (seed * 31 + i) % 2000)
                blk.view[0] = seed
                mine.append(blk)
            handoff.extend(mine[::2])                # freed by another thread
            for blk in mine[1::2]:
                assert blk.read(1) == bytes([seed])
                blk.free()
        except Exception as e:                       # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for blk in handoff:
        blk.free()
    st = arena.stats()
    assert st["objects"] == 0 and st["allocs"] == st["frees"] == 2000
    assert st["remote_frees"] > 0


# ---- slabs ----

def test_slab_bulk_gives_distinct_buffers(backing0):
    with pmnode.Slab(backing0, 2048) as s:
        assert s.obj_size == 2048 and s.backing is backing0
        blocks = s.alloc_bulk(32)
        assert len(blocks) == 32
        assert len({b.address for b in blocks}) == 32
        assert all(b.size == 2048 and b.view.nbytes == 2048 for b in blocks)
        spans = sorted((b.address, b.address + b.size) for b in blocks)
        assert all(e <= s2 for (_, e), (s2, _) in zip(spans, spans[1:]))   # no overlap
        for i, b in enumerate(blocks):
            b.view[:] = bytes([i]) * 2048
        assert all(b.read() == bytes([i]) * 2048 for i, b in enumerate(blocks))
        assert all(pmnode.where(b).all_on(0) for b in blocks)
        st = s.stats()
        # a 2 KiB object takes a block a cache line longer (spread over the L1's sets)
        assert st["objects"] == 32 and st["allocated"] == 32 * 2112
        one = s.alloc()
        assert s.stats()["objects"] == 33
        s.free(one)
        s.free_bulk(blocks)
        st = s.stats()
        assert st["objects"] == 0 and st["frees"] == 33
        assert json.loads(s.stats_json())["objects"] == 0
        assert not any(b.alive for b in blocks)


def test_slab_misuse_raises(backing0):
    with pmnode.Slab(backing0, 64) as s1, pmnode.Slab(backing0, 64) as s2, \
            pmnode.Arena(backing0) as a:
        x, y = s1.alloc(), s1.alloc()
        with pytest.raises(pmnode.MisuseError) as ei:
            s1.free_bulk([x, y, x])
        assert ei.value.code == pmnode.E_DOUBLE_FREE and x.alive and y.alive
        with pytest.raises(pmnode.MisuseError) as ei:
            s2.free_bulk([x])
        assert ei.value.code == pmnode.E_FOREIGN
        with pytest.raises(pmnode.MisuseError) as ei:
            a.free(x)
        assert ei.value.code == pmnode.E_FOREIGN
        z = a.malloc(64)
        with pytest.raises(pmnode.MisuseError):
            s1.free(z)
        s1.free(x)
        with pytest.raises(pmnode.MisuseError) as ei:
            s1.free_bulk([y, x])         # x is already free: nothing is freed
        assert ei.value.code == pmnode.E_DOUBLE_FREE and y.alive
        assert s1.stats()["objects"] == 1
    with pytest.raises(pmnode.InvalidArgumentError):
        pmnode.Slab(backing0, 1 << 20)   # above 256 KiB
    with pytest.raises(pmnode.InvalidArgumentError):
        pmnode.Slab(backing0, 64, align=48)


def test_slab_cap_and_partial_bulk(backing0):
    with pmnode.Slab(backing0, 64 << 10, cap_bytes=4 * MiB) as s:
        with pytest.raises(pmnode.OutOfMemoryError):
            s.alloc_bulk(1000)
        assert s.stats()["objects"] == 0            # the partial batch was given back
        got = s.alloc_bulk(1000, partial=True)
        assert 0 < len(got) < 1000
        with pytest.raises(MemoryError):
            s.alloc()
        s.free_bulk(got)


def test_zero_size_and_failed_realloc(arena):
    z = arena.malloc(0)
    assert z.size == 0 and z.view.nbytes == 0 and z.read() == b""
    z.free()
    b = arena.malloc(64)
    b.write(b"survives")
    with pytest.raises(pmnode.OutOfMemoryError):
        arena.realloc(b, 1 << 50)
    assert b.alive and b.read(8) == b"survives"    # C realloc semantics: untouched
    b.free()


def test_exit_without_closing_anything_is_clean(host):
    code = """if 1:
        import pmnode
        ctx = pmnode.Context("/", ignore_env=True, no_config=True)
        b = pmnode.Backing(ctx, node=0)
        a = pmnode.Arena(b)
        s = pmnode.Slab(b, 128)
        blocks = [a.malloc(100) for _ in range(10)] + s.alloc_bulk(10)
        views = [blk.view for blk in blocks]
        r = b.map(1 << 20)
        rv = r.view
        rv[0] = 1
        ctx.close()            # the parent first, on purpose
    """
    p = subprocess.run([sys.executable, "-X", "dev", "-c", code], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0 and p.stderr == "", p.stderr


def test_close_waits_for_calls_in_other_threads(backing0):
    """close() while other threads allocate: each of them ends with the
    closed-arena MisuseError, nobody crashes, nothing leaks past close."""
    a = pmnode.Arena(backing0)
    outcomes, started = [], threading.Barrier(5)

    def worker():
        done = 0
        started.wait()
        try:
            while True:
                b = a.malloc(100 + done % 5000)
                assert b.usable_size >= b.size
                a.stats()
                b.free()
                done += 1
        except pmnode.MisuseError as e:
            outcomes.append((e.code, done))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    started.wait()
    while a.stats()["allocs"] < 400:           # let them get going
        time.sleep(0.001)
    a.close()
    for t in threads:
        t.join(timeout=60)
    assert len(outcomes) == 4
    assert all(code == pmnode.E_DESTROYED for code, _ in outcomes)
    assert backing0.stats()["mapped_bytes"] == 0       # the arena gave everything back
