"""Capped, reserved pools and the failure reason (issue 14)."""
import threading

import pytest

import pmnode
from conftest import MiB


def test_capped_slab_is_shared_between_threads(backing0):
    # 248: eight whole pages (a 64 KiB page holds 31 objects of 2 KiB)
    with pmnode.Slab(backing0, 2048, cap_objects=248, reserve_objects=248) as s:
        assert s.stats()["populated"] >= 248 * 2048
        blocks = [s.alloc() for _ in range(248)]
        with pytest.raises(pmnode.OutOfMemoryError) as e:
            s.alloc()
        assert e.value.code == pmnode.E_CAP_REACHED
        assert pmnode.last_error() == pmnode.E_CAP_REACHED
        for b in blocks:
            b.free()
        got = []
        t = threading.Thread(target=lambda: got.extend(s.alloc() for _ in range(248)))
        t.start()
        t.join()
        assert len(got) == 248   # another thread gets the whole cap back
        for b in got:
            b.free()
        with pytest.raises(pmnode.OutOfMemoryError):
            s.reserve(249)


def test_arena_reserve_and_bad_options(backing0):
    with pmnode.Arena(backing0, reserve_bytes=MiB) as a:
        assert a.stats()["populated"] >= MiB
        a.reserve(2 * MiB)
        assert a.stats()["populated"] >= 2 * MiB
        a.reset()
        assert a.stats()["populated"] >= 2 * MiB
    with pytest.raises(pmnode.InvalidArgumentError):
        pmnode.Slab(backing0, 64, purge="sometimes")
