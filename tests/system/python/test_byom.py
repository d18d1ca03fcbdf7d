"""User-supplied memory (issue 15): arenas and slabs over an mmap the test
owns; creation checks; what a provider would be (not bound in Python)."""
import ctypes
import gc
import mmap

import pytest

import pmnode
from conftest import MiB, PAGE

LEN = 32 * MiB


def _inside(block, base, length):
    return base <= block.address and block.address + block.size <= base + length


def test_user_mmap_runs_an_arena_and_a_slab(host):
    mm = mmap.mmap(-1, LEN)
    base = ctypes.addressof(ctypes.c_char.from_buffer(mm))
    gc.collect()  # the temporary export above is gone
    b = pmnode.Backing(host, node=0, user=mm)
    assert b.type == "user" and b.verified and b.nodes == (0,)
    assert pmnode.where(base, LEN).all_on(0)  # populated and checked at creation
    with pmnode.Arena(b) as a, pmnode.Slab(b, 128) as s:
        blocks = [a.malloc(100 + 37 * i) for i in range(300)]
        objs = [s.alloc() for _ in range(300)]
        for x in blocks + objs:
            assert _inside(x, base, LEN), x
        st = b.stats()
        assert st["bytes_per_node"][0] == st["mapped_bytes"] > 0
    assert b.stats()["mapped_bytes"] == 0
    with pytest.raises(BufferError):  # the backing holds the buffer
        mm.close()
    del a, s, blocks, objs
    b.close()
    mm.close()


def test_user_address_pair_unverified_and_errors(host):
    mm = mmap.mmap(-1, 8 * MiB)
    buf = (ctypes.c_char * (8 * MiB)).from_buffer(mm)
    addr = ctypes.addressof(buf)
    with pmnode.Backing(host, node=0, user=(addr, 8 * MiB), unverified=True) as b:
        assert not b.verified
        assert pmnode.where(addr, 8 * MiB).not_present == 8 * MiB // PAGE  # untouched
    with pytest.raises(pmnode.InvalidArgumentError):
        pmnode.Backing(host, node=0, user=(addr + 1, MiB))
    with pytest.raises(TypeError):
        pmnode.Backing(host, spill=[0], user=(addr, MiB))
    with pytest.raises(pmnode.InvalidArgumentError):
        pmnode.Backing(host, node=0, type="provider")
    del buf
    gc.collect()
    mm.close()


def test_user_range_full_is_out_of_memory(host):
    mm = mmap.mmap(-1, 4 * MiB + PAGE)
    with pmnode.Backing(host, node=0, user=mm) as b:
        with pytest.raises(pmnode.OutOfMemoryError):
            b.map(8 * MiB)
    gc.collect()
    mm.close()
