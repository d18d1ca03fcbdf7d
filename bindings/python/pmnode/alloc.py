"""Allocators: arenas (malloc-style) and slabs (one object size, bulk calls).

Both carve a :class:`Backing`'s memory, so every object inherits its
placement: an arena on a node-bound backing never returns memory from
another node, and when the node is full an allocation raises
:class:`OutOfMemoryError` (a ``MemoryError``)::

    with pmnode.Arena(backing) as arena:
        blk = arena.malloc(4096)
        blk.view[:5] = b"hello"
        assert pmnode.where(blk).all_on(0)
        blk.free()

An allocation is a :class:`Block`: ``blk.view`` is a writable memoryview of
exactly the size asked for.  Freeing is explicit (``blk.free()`` or
``arena.free(blk)``) and checked: freeing twice, freeing through another
arena or slab, or using a block after its arena was reset or closed raises
:class:`MisuseError` and touches nothing.  Freeing first releases the
block's views; while one is still exported elsewhere (a NumPy array over
it, a memoryview made from a view) the free raises ``BufferError`` and the
block stays allocated.  A block that is dropped without being freed stays
allocated until its arena is reset or closed, as in C.

Thread-safety: as in C, every call may be made from any thread
concurrently; ``reset()`` and ``close()`` wait for calls in progress to
finish and keep new ones out while they run (C requires that nobody uses
the arena during pmn_arena_reset/pmn_arena_destroy; this layer enforces
it).
"""
import ctypes
import errno
import weakref

from . import errors
from ._lib import (ARENA_LARGE_CACHE, ARENA_POPULATE, ARENA_SMALL_CACHE, LIB, SLAB_CACHE,
                   AllocStats, ArenaOpts, SlabOpts, sized)
from ._owned import Owned
from .memory import Memory, backing_stats_dict_0_7, pinned_range

_PURGE = ("default", "release", "keep")


def _size(v, what, name="size"):
    v = int(v)
    if v < 0:
        raise errors.InvalidArgumentError(-errno.EINVAL, what, "%s %d is negative" % (name, v))
    return v


def _stats_dict(st):
    """One vocabulary: the keys of pmn_alloc_stats_json(), in its order,
    with the same values (bytes_per_node keyed by int node id), then
    ``backing``, the nested dict of 0.2 to 0.7 kept as an alias."""
    b = st.backing
    return {
        "allocated": st.allocated, "objects": st.objects, "active": st.active,
        "resident": st.resident, "peak": st.peak, "allocs": st.allocs, "frees": st.frees,
        "remote_frees": st.remote_frees, "failures": st.failures,
        "mapped_bytes": b.mapped_bytes, "mapped_peak_bytes": b.mapped_peak_bytes,
        "region_maps": b.region_maps, "region_map_failures": b.region_map_failures,
        "spilled_bytes": b.spilled_bytes,
        "bytes_per_node": {b.node[i].node: b.node[i].bytes
                           for i in range(min(b.nnodes, len(b.node)))},
        "populated": st.populated,
        "backing": backing_stats_dict_0_7(b),
    }


def _stats_json(st):
    n = errors.check(LIB.pmn_alloc_stats_json(ctypes.byref(st), None, 0), "pmn_alloc_stats_json")
    buf = ctypes.create_string_buffer(n + 1)
    errors.check(LIB.pmn_alloc_stats_json(ctypes.byref(st), buf, n + 1), "pmn_alloc_stats_json")
    return buf.value.decode()


class Block(Memory):
    """One object of an :class:`Arena` or :class:`Slab`.

    ``view`` gives a writable memoryview of ``size`` bytes; ``address`` is
    the C pointer.  Free it with :meth:`free`.
    """

    def __init__(self, owner, addr, size):
        self._owner = owner
        self._init_memory(addr, size, owner._gate.cond)

    @property
    def owner(self):
        """The :class:`Arena` or :class:`Slab` the block came from."""
        return self._owner

    @property
    def usable_size(self):
        """Bytes usable at the address (at least ``size``)."""
        what = "Block.usable_size"
        with self._owner._gate.use(what):
            self._check_alive(what)
            return LIB.pmn_usable_size(self._addr)

    def free(self):
        """Give the block back to its arena or slab (see :meth:`Arena.free`)."""
        self._owner.free(self)

    def migrate(self, node, *, rollback=False, no_headroom=False):
        """Move the extent holding this object to ``node``
        (pmn_migrate_object, since 0.6): a large object (over 256 KiB) has
        an extent of its own, a small one shares its 4 MiB extent with its
        neighbours, which move with it.  Returns the
        :class:`MigrateReport`; raises :class:`MigrateError` as
        :meth:`Arena.migrate`.  The block cannot be freed meanwhile
        (BufferError in the thread trying)."""
        from . import migration as m
        what = "Block.migrate"
        node = m._node(node, what)
        fl = m.flags(rollback, no_headroom)
        with self._owner._gate.use(what):
            self._check_alive(what)
            with pinned_range(self, None, what) as (addr, _):
                return m.call("pmn_migrate_object",
                              lambda rep: LIB.pmn_migrate_object(addr, node, fl, rep))

    def __repr__(self):
        state = "" if self._dead is None else " (%s)" % self._dead[1]
        return "<pmnode.Block %d bytes at %#x%s>" % (self._size, self._addr, state)


class _Allocator(Owned):
    """What arenas and slabs share: the gate, live blocks, free and stats."""

    def _setup(self, backing):
        self._backing = backing
        self._live = weakref.WeakValueDictionary()   # address -> Block

    @property
    def backing(self):
        """The :class:`Backing` the memory comes from."""
        return self._backing

    def _block(self, ptr, size, what):
        if not ptr:
            # The library's reason (cap reached, node full...) when it gave one.
            code = LIB.pmn_last_error() or -(ctypes.get_errno() or errno.ENOMEM)
            raise errors.make_error(code, what, "no %d-byte object" % size)
        b = Block(self, ptr, size)
        with self._gate.cond:
            self._live[ptr] = b
        return b

    def _own(self, block, what):
        if not isinstance(block, Block):
            raise TypeError("%s: expected a pmnode.Block, got %s" % (what, type(block).__name__))
        if block._owner is not self:
            raise errors.MisuseError(errors.E_FOREIGN, what, "the block belongs to %r, not %r"
                                     % (block._owner, self))

    def _take(self, blocks, what, why, code):
        """Revoke and kill ``blocks`` (gate lock held); all or none."""
        for b in blocks:
            if b._dead is not None:
                raise b._dead_error(what)
        for b in blocks:
            b._revoke(what)
        for b in blocks:
            b._kill(why, code)
            self._live.pop(b._addr, None)

    def free(self, block):
        """Free ``block``.

        Raises :class:`MisuseError` for a block of another arena or slab
        (PMN_E_FOREIGN), one already freed (PMN_E_DOUBLE_FREE), or when
        this allocator was reset or closed (PMN_E_DESTROYED); BufferError
        while a view of it is exported.  In every error case nothing is
        freed.  Thread-safe.
        """
        what = "%s.free" % type(self).__name__
        self._own(block, what)
        with self._gate.use(what):
            with self._gate.cond:
                self._take([block], what, "the block was freed", errors.E_DOUBLE_FREE)
            self._free_one(block._addr, what)

    def _stats_struct(self, what):
        st = sized(AllocStats)
        with self._gate.use(what):
            errors.check(self._stats_fn(self._handle, ctypes.byref(st)), what)
        return st

    def stats(self):
        """Counters as a dict, keyed as pmn_alloc_stats_json() (the same
        names as the C struct, the backing's flattened): allocated (usable
        bytes of live objects), objects, active (bytes of the pages kept by
        size classes, with or without live objects, and large objects'
        extents), resident (bytes of extents taken from the backing),
        peak (highest resident), allocs, frees, remote_frees, failures,
        mapped_bytes, mapped_peak_bytes, region_maps, region_map_failures,
        spilled_bytes, bytes_per_node ({node: bytes}), populated.  See
        pmn_arena(3) for why active stays after every object is freed.
        ``backing`` repeats the backing's counters under their names before
        0.8 (an alias, for code written then).  Thread-safe."""
        return _stats_dict(self._stats_struct("%s.stats" % type(self).__name__))

    def stats_json(self):
        """The stats as the library's own JSON text (pmn_alloc_stats_json)."""
        return _stats_json(self._stats_struct("%s.stats_json" % type(self).__name__))

    def trim(self):
        """Give back now the memory kept for reuse: the populated memory of
        emptied pages (the small-page cache), empty extents beyond
        ``retain``, for an arena the large-extent cache, and (since
        0.12.2) the calling thread's pages whose blocks other threads
        freed (pmn_arena_trim / pmn_slab_trim; nothing under
        ``purge="keep"``).  Live blocks stay.  Returns the bytes of ``populated`` given back.
        Thread-safe.  Since 0.9."""
        what = "%s.trim" % type(self).__name__
        released = ctypes.c_uint64(0)
        with self._gate.use(what):
            errors.check(self._trim_fn(self._handle, ctypes.byref(released)), what)
        return released.value

    def migrate(self, node, *, from_node=None, rollback=False, no_headroom=False):
        """Move this arena's or slab's extents to ``node``, a node of its
        backing (its node or on its spill list; else :class:`MigrateError`
        with PMN_E_NOT_ON_LIST): every extent not there yet, or with
        ``from_node`` only those on that node (bring back what spilled).
        Since 0.6.

        Objects keep their addresses and contents, and may be used (and
        allocated, freed) by other threads meanwhile.  Returns the
        :class:`MigrateReport` summed over the extents looked at; the first
        extent that fails stops the call (:class:`MigrateError`, whose
        report's ``first_failed`` says where; extents before it stay
        moved).  :meth:`stats` then shows the bytes per node as they are.
        """
        from . import migration as m
        what = "%s.migrate" % type(self).__name__
        node = m._node(node, what)
        frm = -1 if from_node is None else int(from_node)
        fl = m.flags(rollback, no_headroom)
        cfn = LIB.pmn_slab_migrate if isinstance(self, Slab) else LIB.pmn_arena_migrate
        with self._gate.use(what):
            return m.call(cfn.__name__, lambda rep: cfn(self._handle, frm, node, fl, rep))

    def extents(self):
        """The extents this arena or slab holds now (in use, kept empty,
        cached), as a list of :class:`pmnode.register.Extent`: what to
        register with a device.  A snapshot.  Thread-safe."""
        from .register import list_extents
        cfn = LIB.pmn_slab_extents if isinstance(self, Slab) else LIB.pmn_arena_extents
        with self._use(type(self).__name__ + ".extents") as h:
            return list_extents(cfn, h, cfn.__name__)

    def _before_close(self):
        g = self._gate
        with g.cond:
            if g.closed:
                return
            with g.exclusive("%s.close" % type(self).__name__):
                self._take(list(self._live.values()), "%s.close" % type(self).__name__,
                           "its %s was closed" % self._kind, errors.E_DESTROYED)
                g.closed = True

    def close(self):
        """Destroy the allocator: every block dies (its views are released
        first; BufferError, and nothing happens, while one is exported).
        Waits for calls in progress in other threads."""
        super().close()


class Arena(_Allocator):
    """A malloc-style allocator over a backing.

    ``purge``: what empty 4 MiB extents do: ``"default"`` (released for
    anon, memfd and hugetlb, kept for dax), ``"release"`` or ``"keep"``;
    ``retain``: empty extents kept for reuse (default 2); ``cap_bytes``:
    most bytes the arena's objects may occupy (0: no cap; resident memory
    can exceed a cap below 4 MiB by up to one extent); ``reserve_bytes``:
    small-object memory reserved at creation (see :meth:`reserve`);
    ``populate``: populate and verify each large object (over 256 KiB) at
    allocation, so a node without room fails there (default: a large object
    is bound to its node and faulted in by its first touch, pmn_arena(3)
    "Large objects"); ``large_cache_bytes``: most bytes of freed large
    objects' extents kept for reuse (None: the library's default, 64 MiB;
    0: none); ``small_cache_bytes`` (since 0.9): most bytes of populated
    memory in emptied pages kept for reuse beyond the pages in use (None:
    the library's default, 32 MiB; 0: only the 2 MiB slack; see
    :meth:`trim`).

    The arena keeps its backing (and context) alive; a context manager.
    Thread-safety: see the module notes.
    """

    _kind = "arena"
    _stats_fn = LIB.pmn_arena_stats
    _trim_fn = LIB.pmn_arena_trim

    def __init__(self, backing, *, purge="default", retain=None, cap_bytes=0, reserve_bytes=0,
                 populate=False, large_cache_bytes=None, small_cache_bytes=None):
        if purge not in _PURGE:
            raise errors.InvalidArgumentError(-errno.EINVAL, "Arena", "purge %r is not one of %s"
                                              % (purge, ", ".join(_PURGE)))
        self._setup(backing)
        opts = None
        if not isinstance(populate, bool):
            raise errors.InvalidArgumentError(-errno.EINVAL, "Arena", "populate must be a bool")
        flags = ((ARENA_POPULATE if populate else 0) |
                 (ARENA_LARGE_CACHE if large_cache_bytes is not None else 0) |
                 (ARENA_SMALL_CACHE if small_cache_bytes is not None else 0))
        if purge != "default" or retain is not None or cap_bytes or reserve_bytes or flags:
            opts = ArenaOpts(ctypes.sizeof(ArenaOpts), _PURGE.index(purge),
                             2 if retain is None else _size(retain, "Arena", "retain"),
                             _size(cap_bytes, "Arena", "cap_bytes"),
                             _size(reserve_bytes, "Arena", "reserve_bytes"), flags,
                             0 if large_cache_bytes is None
                             else _size(large_cache_bytes, "Arena", "large_cache_bytes"),
                             0 if small_cache_bytes is None
                             else _size(small_cache_bytes, "Arena", "small_cache_bytes"))
        self._attach(backing)
        handle = ctypes.c_void_p()
        try:
            with backing._use("Arena") as bh:
                errors.check(LIB.pmn_arena_new(bh, ctypes.byref(opts) if opts is not None
                                               else None, ctypes.byref(handle)), "pmn_arena_new")
        except BaseException:
            self._detach_failed()
            raise
        self._handle = handle.value

    def _release_handle(self, handle):
        LIB.pmn_arena_destroy(handle)

    def reserve(self, nbytes):
        """Populate, verify and keep ``nbytes`` of small-object pages now
        (pmn_arena_reserve), kept across :meth:`reset` until close.
        Thread-safe."""
        what = "Arena.reserve"
        with self._gate.use(what):
            errors.check(LIB.pmn_arena_reserve(self._handle, _size(nbytes, what, "nbytes")), what)

    def _free_one(self, addr, what):
        errors.check(LIB.pmn_free(addr), what)

    def malloc(self, size):
        """A :class:`Block` of ``size`` bytes (uninitialised).
        OutOfMemoryError when the backing cannot give memory.  Thread-safe."""
        what = "Arena.malloc"
        size = _size(size, what)
        with self._gate.use(what):
            ctypes.set_errno(0)
            return self._block(LIB.pmn_arena_malloc(self._handle, size), size, what)

    def calloc(self, count, size):
        """A zeroed :class:`Block` of ``count * size`` bytes."""
        what = "Arena.calloc"
        count, size = _size(count, what, "count"), _size(size, what)
        with self._gate.use(what):
            ctypes.set_errno(0)
            return self._block(LIB.pmn_arena_calloc(self._handle, count, size), count * size,
                               what)

    def aligned_alloc(self, alignment, size):
        """A :class:`Block` of ``size`` bytes whose address is a multiple of
        ``alignment`` (a power of two; InvalidArgumentError otherwise)."""
        what = "Arena.aligned_alloc"
        alignment, size = _size(alignment, what, "alignment"), _size(size, what)
        with self._gate.use(what):
            ctypes.set_errno(0)
            return self._block(LIB.pmn_arena_aligned_alloc(self._handle, alignment, size), size,
                               what)

    def realloc(self, block, size):
        """Resize ``block`` to ``size`` bytes: returns a new :class:`Block`
        holding the old contents (up to the smaller size); the old block is
        dead (its views released).  On OutOfMemoryError the old block stays
        allocated and valid (its views are released all the same).  Size 0
        frees the contents and returns a unique 0-byte block.  BufferError,
        and nothing happens, while a view of the block is exported."""
        what = "Arena.realloc"
        self._own(block, what)
        size = _size(size, what)
        with self._gate.use(what):
            with self._gate.cond:
                block._check_alive(what)
                block._revoke(what)
                ctypes.set_errno(0)
                ptr = LIB.pmn_arena_realloc(self._handle, block._addr, size)
                if not ptr:
                    err = ctypes.get_errno() or errno.ENOMEM
                    raise errors.make_error(-err, what, "cannot resize to %d bytes" % size)
                block._kill("the block was moved by realloc", errors.E_DOUBLE_FREE)
                self._live.pop(block._addr, None)
                return self._block(ptr, size, what)

    def reset(self):
        """Drop every object at once (their blocks die, views released);
        keep up to ``retain`` extents.  Waits for calls in progress;
        BufferError, and nothing happens, while a view is exported."""
        what = "Arena.reset"
        with self._gate.exclusive(what):
            self._take(list(self._live.values()), what, "its arena was reset",
                       errors.E_DESTROYED)
            LIB.pmn_arena_reset(self._handle)

    def owns(self, block):
        """True when the library reports this arena as the owner of the
        live ``block`` (pmn_arena_of)."""
        what = "Arena.owns"
        if not isinstance(block, Block) or block._dead is not None:
            return False
        with self._gate.use(what):
            return LIB.pmn_arena_of(block._addr) == self._handle

    def __repr__(self):
        return "<pmnode.Arena%s>" % (" closed" if self._closed else "")


class Slab(_Allocator):
    """Fixed-size objects over a backing, with bulk calls.

    ``obj_size`` at most 256 KiB; ``align`` a power of two up to 64 KiB
    (0: natural alignment); ``cap_bytes``: most bytes the slab's pages may
    occupy (0: no cap).  InvalidArgumentError otherwise.

    The slab keeps its backing (and context) alive; a context manager.
    Thread-safety: see the module notes.
    """

    _kind = "slab"
    _stats_fn = LIB.pmn_slab_stats
    _trim_fn = LIB.pmn_slab_trim

    def __init__(self, backing, obj_size, *, align=0, cap_bytes=0, cap_objects=0,
                 purge="default", retain=1, reserve_objects=0, cache_bytes=None):
        self._setup(backing)
        obj_size = _size(obj_size, "Slab", "obj_size")
        if purge not in _PURGE:
            raise errors.InvalidArgumentError(-errno.EINVAL, "Slab", "purge %r is not one of %s"
                                              % (purge, ", ".join(_PURGE)))
        self._attach(backing)
        handle = ctypes.c_void_p()
        try:
            opts = SlabOpts(ctypes.sizeof(SlabOpts), _size(align, "Slab", "align"),
                            _size(cap_bytes, "Slab", "cap_bytes"),
                            _size(cap_objects, "Slab", "cap_objects"), _PURGE.index(purge),
                            _size(retain, "Slab", "retain"),
                            _size(reserve_objects, "Slab", "reserve_objects"),
                            SLAB_CACHE if cache_bytes is not None else 0,
                            0 if cache_bytes is None else _size(cache_bytes, "Slab", "cache_bytes"))
            with backing._use("Slab") as bh:
                errors.check(LIB.pmn_slab_new_opts(bh, obj_size, ctypes.byref(opts),
                                                   ctypes.byref(handle)), "pmn_slab_new_opts")
        except BaseException:
            self._detach_failed()
            raise
        self._handle = handle.value
        self._obj_size = LIB.pmn_slab_obj_size(self._handle)

    def _release_handle(self, handle):
        LIB.pmn_slab_destroy(handle)

    def _free_one(self, addr, what):
        errors.check(LIB.pmn_slab_free(self._handle, addr), what)

    def reserve(self, nobjs):
        """Populate, verify and keep the pages for ``nobjs`` objects now
        (pmn_slab_reserve): allocating them later never maps nor faults.
        OutOfMemoryError beyond the cap (E_CAP_REACHED) or when the node
        cannot hold them.  Thread-safe."""
        what = "Slab.reserve"
        with self._gate.use(what):
            errors.check(LIB.pmn_slab_reserve(self._handle, _size(nobjs, what, "nobjs")), what)

    @property
    def obj_size(self):
        """The size of every object (as the library reports it)."""
        return self._obj_size

    def alloc(self):
        """One :class:`Block` of ``obj_size`` bytes; OutOfMemoryError when
        the backing is full or the cap is reached.  Thread-safe."""
        what = "Slab.alloc"
        with self._gate.use(what):
            ctypes.set_errno(0)
            return self._block(LIB.pmn_slab_alloc(self._handle), self._obj_size, what)

    def alloc_bulk(self, count, *, partial=False):
        """``count`` blocks in one call, as a list.

        When the slab cannot give them all, raises OutOfMemoryError after
        freeing the ones it got, or with ``partial=True`` returns the
        shorter list.  Thread-safe."""
        what = "Slab.alloc_bulk"
        count = _size(count, what, "count")
        ptrs = (ctypes.c_void_p * max(count, 1))()
        with self._gate.use(what):
            ctypes.set_errno(0)
            got = LIB.pmn_slab_alloc_bulk(self._handle, ptrs, count)
            err = ctypes.get_errno() or errno.ENOMEM
            if got < count and not partial:
                errors.check(LIB.pmn_slab_free_bulk(self._handle, ptrs, got), what)
                raise errors.make_error(-err, what, "only %d of %d objects" % (got, count))
            return [self._block(ptrs[i], self._obj_size, what) for i in range(got)]

    def free_bulk(self, blocks):
        """Free many blocks of this slab in one call.  Every block is
        checked first (type, owner, not yet freed, no duplicates, views not
        exported): on any error nothing is freed."""
        what = "Slab.free_bulk"
        blocks = list(blocks)
        for b in blocks:
            self._own(b, what)
        if len({id(b) for b in blocks}) != len(blocks):
            raise errors.MisuseError(errors.E_DOUBLE_FREE, what, "a block is listed twice")
        ptrs = (ctypes.c_void_p * max(len(blocks), 1))(*[b._addr for b in blocks])
        with self._gate.use(what):
            with self._gate.cond:
                self._take(blocks, what, "the block was freed", errors.E_DOUBLE_FREE)
            errors.check(LIB.pmn_slab_free_bulk(self._handle, ptrs, len(blocks)), what)

    def __repr__(self):
        return "<pmnode.Slab %d-byte objects%s>" % (self._obj_size,
                                                     " closed" if self._closed else "")
