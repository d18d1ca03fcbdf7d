"""Moving live data from Python (issue 16): pmnode.migrate, Region/Arena/
Slab/Block.migrate, MigrateReport and MigrateError carrying it.

This host has one node, so every move here is to the node the memory is
on already (every page counted in already_there) or refused before any
page is looked at; moves between two nodes are checked by
tests/vm (test-cpp-migrate over the same C calls)."""
import errno
import mmap

import pytest

import pmnode
from pmnode import _lib, migration
from conftest import MiB, PAGE


def anon(size):
    m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    m.write(b"\x11" * size)
    return m


def sums(rep):
    return (rep.moved + rep.already_there + rep.not_moved + rep.not_present) == rep.pages


def test_issue16_calls_are_bound():
    for name in ("pmn_migrate", "pmn_region_migrate", "pmn_arena_migrate", "pmn_slab_migrate",
                 "pmn_migrate_object", "pmn_track_new", "pmn_track_scan", "pmn_track_extents",
                 "pmn_tier_new", "pmn_tier_step", "pmn_tier_stats_json", "pmn_tier_tracker"):
        assert name in _lib.BOUND and name not in _lib.UNBOUND, name


def test_report_struct_matches_the_header():
    # struct_size + 8 counters + a pointer + rolled_back: 88 bytes on LP64.
    assert _lib.ctypes.sizeof(_lib.MigrateReportStruct) == 11 * 8


def test_migrate_a_buffer_already_there(host):
    m = anon(4 * MiB)
    rep = pmnode.migrate(host, m, 0)
    assert isinstance(rep, pmnode.MigrateReport)
    assert rep.pages == 4 * MiB // PAGE and rep.already_there == rep.pages
    assert rep.moved == rep.not_moved == rep.rolled_back == 0 and rep.first_failed is None
    assert sums(rep)
    assert "already there %d" % rep.pages in str(rep)
    # a part of it, by address and length; the same through the context
    rep = host.migrate(m, 0, length=MiB)
    assert rep.pages == MiB // PAGE and rep.already_there == rep.pages
    m.close()


def test_migrate_flags(host):
    m = anon(MiB)
    rep = pmnode.migrate(host, m, 0, rollback=True)
    assert rep.already_there == rep.pages and rep.rolled_back == 0
    rep = pmnode.migrate(host, m, 0, no_headroom=True)
    assert rep.already_there == rep.pages
    m.close()


def test_migrate_refusals_carry_no_report(host):
    m = anon(MiB)
    addr = _lib.ctypes.addressof(_lib.ctypes.c_char.from_buffer(m))
    with pytest.raises(pmnode.MigrateError) as ei:
        pmnode.migrate(host, addr + 1, 0, length=PAGE)
    assert isinstance(ei.value, pmnode.InvalidArgumentError)
    assert ei.value.code == -errno.EINVAL and ei.value.report is None
    with pytest.raises(pmnode.InvalidArgumentError):
        pmnode.migrate(host, addr, 0, length=0)
    with pytest.raises(pmnode.InvalidArgumentError):
        pmnode.migrate(host, m, -1)
    with pytest.raises(TypeError):
        pmnode.migrate(host, m, True)
    with pytest.raises(pmnode.MigrateError) as ei:
        pmnode.migrate(host, m, 4095)
    assert isinstance(ei.value, pmnode.NotFoundError) and isinstance(ei.value, LookupError)
    assert ei.value.code == pmnode.E_NO_NODE and ei.value.report is None
    with pytest.raises(ValueError):                  # longer than the buffer
        pmnode.migrate(host, m, 0, length=2 * MiB)
    del addr
    m.close()


def test_migrate_error_classes():
    rep = migration.MigrateReport(8, 3, 1, 4, 0, 0, 0, 0, 0x7000, 0)
    e = migration.migrate_error(pmnode.E_NODE_FULL, "pmn_region_migrate", rep)
    assert isinstance(e, pmnode.MigrateError) and isinstance(e, pmnode.OutOfMemoryError)
    assert isinstance(e, MemoryError) and e.report is rep and rep.not_moved == 4
    assert "target full 4" in str(e) and "first failed at 0x7000" in str(e)
    assert "PMN_E_NODE_FULL" in str(e)
    for code, cls in ((-errno.EBUSY, pmnode.BusyError),
                      (-errno.EACCES, pmnode.PermissionDeniedError),
                      (pmnode.E_NOT_ON_LIST, pmnode.InvalidArgumentError),
                      (pmnode.E_MISPLACED, pmnode.PlacementError),
                      (-errno.EOPNOTSUPP, pmnode.NotSupportedError)):
        e = migration.migrate_error(code, "x", None)
        assert isinstance(e, cls) and isinstance(e, pmnode.MigrateError), code
        assert type(e) is type(migration.migrate_error(code, "y", None))   # cached
    e = migration.migrate_error(-errno.EFAULT, "x", rep)
    assert type(e) is pmnode.MigrateError


def test_migrate_on_a_closed_context():
    ctx = pmnode.Context("/", ignore_env=True, no_config=True)
    m = anon(PAGE)
    ctx.close()
    with pytest.raises(pmnode.MisuseError):
        pmnode.migrate(ctx, m, 0)
    m.close()


def test_region_migrate(backing0):
    r = backing0.map(4 * MiB)
    r.write(b"region", 100)
    rep = r.migrate(0)
    assert rep.pages == r.size // PAGE and rep.already_there == rep.pages and sums(rep)
    assert r.node == 0 and r.read(6, 100) == b"region"
    with pytest.raises(pmnode.MigrateError) as ei:
        r.migrate(1)                           # on no list of the backing, existing or not
    assert ei.value.code == pmnode.E_NOT_ON_LIST
    assert isinstance(ei.value, pmnode.InvalidArgumentError)
    assert r.node == 0
    r.unmap()
    with pytest.raises(pmnode.MisuseError):
        r.migrate(0)


def test_arena_slab_block_migrate(backing0):
    with backing0.arena() as a, backing0.slab(256) as s:
        small = a.malloc(1000)
        big = a.malloc(MiB)
        small.write(b"s" * 1000)
        big.write(b"b" * MiB)
        rep = a.migrate(0)
        assert rep.moved == 0 and sums(rep)
        rep = a.migrate(0, from_node=0)
        assert rep.moved == 0 and sums(rep)
        with pytest.raises(pmnode.MigrateError) as ei:
            a.migrate(1)
        assert ei.value.code == pmnode.E_NOT_ON_LIST
        rep = big.migrate(0)
        # The object's extent: its written MiB is here; the rest of a lazily
        # backed large extent (pmn_arena(3), "Large objects") has no page yet.
        assert rep.already_there >= MiB // PAGE
        assert rep.already_there + rep.not_present == rep.pages and sums(rep)
        rep = small.migrate(0, rollback=True)
        assert rep.moved == 0 and sums(rep)
        assert small.read() == b"s" * 1000 and big.read(10, MiB - 10) == b"b" * 10

        o = s.alloc()
        o.write(b"o" * 256)
        rep = s.migrate(0)
        assert rep.moved == 0 and sums(rep)
        assert s.migrate(0, from_node=0).moved == 0
        with pytest.raises(pmnode.MigrateError) as ei:
            s.migrate(1)
        assert ei.value.code == pmnode.E_NOT_ON_LIST
        assert o.read() == b"o" * 256
        o.free()
        with pytest.raises(pmnode.MisuseError):
            o.migrate(0)
    with pytest.raises(pmnode.MisuseError):
        a.migrate(0)
    with pytest.raises(pmnode.MisuseError):
        big.migrate(0)
