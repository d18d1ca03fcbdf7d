"""Registration (issue 14): extents behind a backing, arena or slab, and the
backing's map/unmap hooks, through ctypes callbacks."""
import gc
import threading

import pytest

import pmnode
from conftest import MiB


def _inside(extents, addr, size):
    return any(e.addr <= addr and addr + size <= e.addr + e.len for e in extents)


def test_slab_objects_lie_in_extents_on_map_saw(backing0):
    seen, gone = [], []
    backing0.set_hooks(on_map=lambda e: seen.append(e), on_unmap=lambda e: gone.append(e))
    gc.collect()  # the thunks must survive a collection: the backing keeps them
    slab = pmnode.Slab(backing0, 2048)
    blocks = [slab.alloc() for _ in range(3000)]
    assert seen and all(_inside(seen, b.address, 2048) for b in blocks)
    assert all(e.node == 0 and e.fd == -1 and e.offset == 0 for e in seen)
    listed = slab.extents()
    assert sorted(listed) == sorted(seen)
    assert sum(e.len for e in listed) == slab.stats()["resident"]
    assert sorted(backing0.extents()) == sorted(seen)
    # Every page of every extent is there (no lazily populated holes).
    assert all(pmnode.where(e.addr, e.len).not_present == 0 for e in seen)
    slab.free_bulk(blocks)
    slab.close()
    assert sorted(gone) == sorted(seen), "on_unmap once per on_map"
    assert backing0.hook_errors == []


def test_hooks_fixed_while_mapped_and_refusal(backing0):
    region = backing0.map(MiB)
    with pytest.raises(pmnode.BusyError):
        backing0.set_hooks(on_map=lambda e: 0)
    region.close()

    def refuse(e):
        raise RuntimeError("device said no")

    backing0.set_hooks(on_map=refuse)
    arena = pmnode.Arena(backing0)
    # The allocation fails with the refusal's reason (a hook returning
    # nonzero: ECANCELED), not a bare out-of-memory.
    with pytest.raises(pmnode.Error) as refused:
        arena.malloc(100)
    assert refused.value.name == "ECANCELED"
    assert pmnode.last_error() == refused.value.code
    assert arena.extents() == [] and backing0.stats()["mapped_bytes"] == 0
    assert len(backing0.hook_errors) == 1
    assert isinstance(backing0.hook_errors[0], RuntimeError)
    arena.close()
    backing0.set_hooks()  # clear: nothing is mapped now
    with pmnode.Arena(backing0) as a:
        b = a.malloc(100)
        assert _inside(a.extents(), b.address, 100)
        b.free()


def test_hooks_from_other_threads(backing0):
    seen, lock = [], threading.Lock()

    def on_map(e):
        with lock:
            seen.append(e)

    backing0.set_hooks(on_map=on_map, on_unmap=lambda e: None)
    arena = pmnode.Arena(backing0)
    bad = []

    def work():
        for i in range(200):
            b = arena.malloc(4096 + i * 1024)
            with lock:
                if not _inside(seen, b.address, b.size):
                    bad.append(b.address)
            b.free()

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    arena.close()
    assert bad == [] and seen and backing0.hook_errors == []
