"""Backings and regions on node 0 of this host, where(), and lifetimes."""
import errno
import gc
import mmap
import os

import pytest

import pmnode
from conftest import MiB, PAGE, fixture_root


def test_anon_region_is_on_node0_and_usable(backing0):
    assert backing0.type == "anon" and backing0.granule == PAGE and backing0.nodes == (0,)
    with backing0.map(MiB + 1) as r:                # rounded up to the granule
        assert r.size == MiB + PAGE and len(r) == r.size
        assert r.node == 0 and r.fd is None and r.backing is backing0
        assert r.populate_ns > 0
        mv = r.view
        assert mv.format == "B" and mv.nbytes == r.size and not mv.readonly
        mv[:5] = b"hello"
        mv[-1] = 0x7f
        assert r.read(5) == b"hello" and r.read(1, r.size - 1) == b"\x7f"
        assert r.write(b"xyz", 10) == 3 and bytes(mv[10:13]) == b"xyz"
        w = pmnode.where(r)
        assert (w.page_size, w.pages, w.not_present, w.unknown, w.other) == \
            (PAGE, r.size // PAGE, 0, 0, 0)
        assert w.nodes == {0: r.size // PAGE} and w.all_on(0)
        assert pmnode.where(mv[PAGE:3 * PAGE]).pages == 2
        assert pmnode.where(r.address, PAGE).pages_on(0) == 1
        st = backing0.stats()
        assert st["mapped_bytes"] == r.size and st["maps"] == 1
        assert st["bytes_per_node"] == {0: r.size} and st["spilled_bytes"] == 0
    st = backing0.stats()
    assert st["mapped_bytes"] == 0 and st["peak_bytes"] == MiB + PAGE
    with pytest.raises(ValueError):                 # the view was released by the unmap
        mv[0]


def test_memfd_region_shares_its_pages(host):
    with pmnode.Backing(host, node=0, type="memfd") as b, b.map(4 * PAGE) as r:
        assert b.type == "memfd" and r.fd is not None and r.fd >= 0
        r.write(b"shared through the fd")
        # another mapping of the same pages: the region is a range of the
        # backing's one file (0.4), at r.offset past the generation table
        assert r.offset > 0 and r.offset % PAGE == 0
        with mmap.mmap(r.fd, r.size, offset=r.offset) as m:
            assert m[:21] == b"shared through the fd"
            m[0:6] = b"SHARED"
        assert r.read(6) == b"SHARED"
        assert pmnode.where(r).all_on(0)


def test_hugetlb_needs_a_pool(host):
    pools = host.node(0).hugepools
    if not pools:
        pytest.skip("node 0 reports no huge page pools")
    with pmnode.Backing(host, node=0, type="hugetlb") as b:
        assert b.granule == pools[0].page_size
        if pools[0].free:
            with b.map(b.granule) as r:
                assert pmnode.where(r).pages_on(0) > 0
        else:
            with pytest.raises(pmnode.OutOfMemoryError) as ei:
                b.map(b.granule)
            assert ei.value.code == pmnode.E_NO_HUGEPAGES
    with pytest.raises(pmnode.InvalidArgumentError):
        pmnode.Backing(host, node=0, type="hugetlb", page_size=3 * PAGE)


def test_spill_list_counts_bytes_per_node(host):
    with pmnode.Backing(host, spill=[0]) as b:
        with b.map(2 * MiB) as r:
            st = b.stats()
            assert st["bytes_per_node"] == {0: 2 * MiB} and st["spilled_bytes"] == 0
            assert pmnode.where(r).all_on(0)
    with pytest.raises(pmnode.InvalidArgumentError):
        pmnode.Backing(host, spill=[0, 0])
    with pytest.raises(pmnode.InvalidArgumentError):
        pmnode.Backing(host, spill=[])
    with pytest.raises(pmnode.NotFoundError) as ei:
        pmnode.Backing(host, spill=[0, 9999])
    assert ei.value.code == pmnode.E_NO_NODE


def test_verify_off_and_thp_still_bind(host):
    with pmnode.Backing(host, node=0, verify=False, thp=True) as b, b.map(4 * MiB) as r:
        assert r.verify_ns == 0
        assert pmnode.where(r).all_on(0)


def test_placement_errors(host, backing0):
    with pytest.raises(pmnode.NotFoundError) as ei:
        pmnode.Backing(host, node=9999)
    assert ei.value.code == pmnode.E_NO_NODE
    with pytest.raises(pmnode.NotFoundError) as ei:
        pmnode.Backing(host, dax="dax99.9")
    assert ei.value.code == -errno.ENOENT
    with pytest.raises(pmnode.InvalidArgumentError) as ei:
        backing0.map(0)
    assert ei.value.code == -errno.EINVAL
    with pytest.raises(pmnode.NotSupportedError) as ei:
        backing0.map_at(0, PAGE)                    # not a dax backing
    assert ei.value.code == -errno.EOPNOTSUPP
    with pytest.raises(TypeError):
        pmnode.Backing(host)
    with pytest.raises(TypeError):
        pmnode.Backing(host, node=0, spill=[0])
    with pytest.raises(pmnode.InvalidArgumentError):
        pmnode.Backing(host, node=0, type="dax")
    with pytest.raises(pmnode.InvalidArgumentError):
        pmnode.Backing(host, node=0, type="shm")


def test_node_full_is_an_error_not_an_oom(host):
    cap = host.node(0).capacity
    with pmnode.Backing(host, node=0, headroom=cap) as b:
        with pytest.raises(MemoryError) as ei:      # pmnode.OutOfMemoryError is one
            b.map(MiB)
        assert isinstance(ei.value, pmnode.OutOfMemoryError)
        assert ei.value.code == pmnode.E_NODE_FULL
        assert b.stats()["failures"] == 1 and b.stats()["mapped_bytes"] == 0


def test_remote_root_refuses_mapping():
    with pmnode.Context(fixture_root("one-node-dram"), ignore_env=True) as ctx:
        with pytest.raises(pmnode.NotSupportedError) as ei:
            pmnode.Backing(ctx, node=0)
        assert ei.value.code == pmnode.E_REMOTE_ROOT


def test_where_on_plain_memory():
    with mmap.mmap(-1, 8 * PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS) as m:
        w = pmnode.where(m)
        assert w.pages == 8 and w.not_present == 8 and w.nodes == {}
        for i in range(0, 8 * PAGE, PAGE):
            m[i] = 1
        w = pmnode.where(m)
        assert w.not_present == 0 and sum(w.nodes.values()) == 8
    assert pmnode.where(b"x" * 100).pages >= 1             # read-only buffers too
    with pytest.raises(TypeError):
        pmnode.where(12345)                                 # an address needs a length
    with pytest.raises(ValueError):
        pmnode.where(bytearray(10), 11)


def test_unmap_refuses_while_a_view_is_exported(backing0):
    r = backing0.map(PAGE)
    mv = r.view
    piece = mv[0:8]                    # a second memoryview on the same memory
    with pytest.raises(BufferError):
        r.unmap()
    assert r.alive and not r.closed
    piece[0] = 42                      # still mapped, still usable
    assert r.read(1) == b"\x2a"
    piece.release()
    r.unmap()
    r.unmap()                          # twice is harmless
    assert not r.alive and r.closed
    with pytest.raises(ValueError):
        mv[0]
    with pytest.raises(pmnode.MisuseError) as ei:
        r.view
    assert ei.value.code == pmnode.E_DESTROYED
    with pytest.raises(pmnode.MisuseError):
        pmnode.where(r)


def test_backing_keeps_its_context_and_regions_keep_the_backing():
    ctx = pmnode.Context("/", ignore_env=True, no_config=True)
    b = pmnode.Backing(ctx, node=0)
    ctx.close()
    assert ctx._handle is not None            # the backing still needs it
    r = b.map(PAGE)                           # the backing still works
    b.close()
    assert b._handle is not None and ctx._handle is not None
    with pytest.raises(pmnode.MisuseError):
        b.map(PAGE)                           # but takes no new work
    r.write(b"still here")
    r.unmap()                                 # the last user: everything is freed now
    assert b._handle is None and ctx._handle is None


def test_dropped_objects_stay_alive_while_a_view_lives():
    ctx = pmnode.Context("/", ignore_env=True, no_config=True)
    r = pmnode.Backing(ctx, node=0).map(PAGE)
    mv = r.view
    mv[:4] = b"live"
    del ctx, r
    gc.collect()
    assert bytes(mv[:4]) == b"live"           # the view keeps region, backing, context
    del mv
    gc.collect()


def test_region_fd_is_the_backings_file(host):
    with pmnode.Backing(host, node=0, type="memfd") as b:
        r = b.map(PAGE)
        r2 = b.map(PAGE)
        assert r.fd == r2.fd                  # one file per backing since 0.4
        fd = os.dup(r.fd)
        r.unmap()
        os.fstat(fd)                          # our dup survives the unmap
        os.fstat(r2.fd)                       # and so does the backing's file
        r2.unmap()
        os.close(fd)
