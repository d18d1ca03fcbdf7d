"""Strict placement: backings, regions, and where memory really is.

A :class:`Backing` is a source of pages with one placement rule: one node
(memory is there or the call fails), an ordered spill list (each region
lands whole on the first node that can take it, counted per node), or a
device-dax device.  :meth:`Backing.map` takes a :class:`Region` from it:
mapped, bound, populated and verified page by page, or an exception.

Memory is handed out as Python buffers: ``region.view`` is a writable
``memoryview`` (format ``"B"``) over the C memory, so ``bytes``, ``struct``,
``mmap``-style slicing, ``numpy.frombuffer`` and file ``readinto`` all work
on it directly.  Views are revocable: unmapping a region (or freeing a
block, see :mod:`pmnode.alloc`) first releases every view handed out, so
touching one afterwards raises ``ValueError`` instead of crashing.  If a
view is still *exported* (a NumPy array or another memoryview made from
it is alive), the unmap refuses with ``BufferError`` and the memory stays
mapped, as ``mmap.close()`` does.

:func:`where` counts the pages of any range per node (``move_pages``),
without faulting anything in.
"""
import contextlib
import ctypes
import errno
import sys
import threading
import weakref
from dataclasses import dataclass, field

from . import errors
from ._lib import LIB, BackingStats, RawBuffer, Where, sized, text
from ._owned import Owned

BACKING_TYPES = ("anon", "memfd", "hugetlb", "dax", "user", "provider")


class Memory:
    """Memory owned by libpmnode, exposed as revocable buffer views.

    Base of :class:`Region` and :class:`pmnode.Block`.  ``view`` gives a new
    writable ``memoryview`` each time; all of them are released when the
    memory is given back.
    """

    def _init_memory(self, addr, size, lock):
        self._addr = addr
        self._size = size
        self._lock = lock
        self._dead = None     # (code, why) once the memory is gone
        self._readonly = False  # mapped PROT_READ (an IpcMapping of a read-only fd)
        self._views = {}      # id(view) -> weakref to the memoryview
        # The ctypes array is the only exporter of this memory and is never
        # handed out; it points back at its owner, so a live view keeps the
        # owner (and its arena, backing and context) from being collected.
        arr = (ctypes.c_ubyte * size).from_address(addr)
        arr._pmn_owner = self
        self._arr = arr
        del arr
        self._arr_refs = sys.getrefcount(self._arr)

    def _check_alive(self, what):
        if self._dead is not None:
            raise self._dead_error(what)

    def _dead_error(self, what):
        code, why = self._dead
        return errors.MisuseError(code, what, why)

    @property
    def address(self):
        """Start address of the memory (an ``int``)."""
        return self._addr

    @property
    def size(self):
        """Length in bytes."""
        return self._size

    def __len__(self):
        return self._size

    @property
    def alive(self):
        """False once the memory was freed, unmapped, reset or closed."""
        return self._dead is None

    @property
    def view(self):
        """A new writable ``memoryview`` (format ``"B"``) of the memory.

        Released automatically when the memory is given back; use it as a
        context manager (``with block.view as mv:``) to release it early.
        Read-only for memory mapped read-only (an :class:`IpcMapping` whose
        ``writable`` is False): a write through it raises ``TypeError``
        instead of crashing the process.
        """
        with self._lock:
            self._check_alive("%s.view" % type(self).__name__)
            mv = memoryview(self._arr).cast("B")
            if self._readonly:
                rw, mv = mv, mv.toreadonly()
                rw.release()
            # Writable memoryviews are unhashable, so no WeakSet: a dict of
            # weak references that remove themselves.
            views, key = self._views, id(mv)
            views[key] = weakref.ref(mv, lambda _, views=views, key=key: views.pop(key, None))
            return mv

    def read(self, length=None, offset=0):
        """Copy ``length`` bytes (default: to the end) from ``offset`` as ``bytes``."""
        end = self._size if length is None else offset + length
        if offset < 0 or end > self._size or end < offset:
            raise IndexError("read of [%d, %d) outside %d bytes" % (offset, end, self._size))
        with self.view as mv:
            return mv[offset:end].tobytes()

    def write(self, data, offset=0):
        """Copy the bytes-like ``data`` in at ``offset``; returns its length."""
        with memoryview(data) as src, self.view as mv:
            n = src.nbytes
            if offset < 0 or offset + n > self._size:
                raise IndexError("write of %d bytes at %d outside %d bytes"
                                 % (n, offset, self._size))
            if src.format in ("B", "b", "c") and src.ndim == 1:
                mv[offset:offset + n] = src if src.format == "B" else src.cast("B")
            else:
                mv[offset:offset + n] = src.tobytes()
            return n

    def _revoke(self, what):
        """Release every view; raise BufferError if one is still exported.

        Called with the owner's lock held.  On BufferError the memory stays
        valid (views that could be released are released).
        """
        blocked = 0
        while True:
            try:
                refs = list(self._views.values())
                break
            except RuntimeError:  # a view died (and left) during the copy
                continue
        for ref in refs:
            mv = ref()
            if mv is None:
                continue
            try:
                mv.release()
            except BufferError:
                blocked += 1
        if blocked or sys.getrefcount(self._arr) > self._arr_refs:
            raise BufferError("%s: %d bytes at %#x are still exported (a memoryview slice, "
                              "NumPy array or similar made from a view is alive); release "
                              "it first" % (what, self._size, self._addr))

    def _kill(self, why, code=errors.E_DESTROYED):
        self._dead = (code, why)


@contextlib.contextmanager
def pinned_range(obj, length, what):
    """Yield (address, length) of a Memory, an int address (with a length)
    or any contiguous buffer, held exported for the duration: freeing or
    unmapping the memory meanwhile, from another thread, raises
    BufferError there instead of pulling the memory from under a C call."""
    if isinstance(obj, int):
        if length is None:
            raise TypeError("%s: an address needs a length" % what)
        yield obj, length
        return
    view = obj.view if isinstance(obj, Memory) else None
    raw = RawBuffer(view if view is not None else obj)
    try:
        n = raw.length if length is None else length
        if n > raw.length or n < 0:
            raise ValueError("%s: length %d outside %d bytes" % (what, n, raw.length))
        yield raw.address, n
    finally:
        raw.release()
        if view is not None:
            view.release()


@dataclass(frozen=True)
class Placement:
    """Where a range's pages are (:func:`where`).

    ``nodes`` maps node id to pages on it; ``pages`` counts every page
    examined, ``not_present`` those never populated, ``unknown`` those
    present whose node could not be read (device memory; on Linux 6.1 to
    6.4 with NUMA balancing, a page under a hinting fault that neither its
    page frame nor ``/proc/self/numa_maps`` places, see pmn_where(3)),
    ``other`` those on nodes beyond the 64 counted.
    """
    page_size: int
    pages: int
    not_present: int
    unknown: int
    other: int
    nodes: dict = field(default_factory=dict)

    def pages_on(self, node):
        """Pages on ``node`` (0 when none)."""
        return self.nodes.get(node, 0)

    def all_on(self, node):
        """True when every page examined is present and on ``node``."""
        return self.pages > 0 and self.pages_on(node) == self.pages


def where(obj, length=None):
    """Count the pages of a range per node, without faulting anything in.

    ``obj`` is a :class:`Block`, :class:`Region`, any contiguous buffer
    (``memoryview``, ``bytes``, ``bytearray``, ``mmap``...) or an ``int``
    address (then ``length`` is required).  ``length`` defaults to the
    whole object.  The start is rounded down and the end up to the page
    size.  Returns a :class:`Placement`.  Thread-safe; a snapshot.
    """
    w = sized(Where)
    with pinned_range(obj, length, "where") as (addr, n):
        errors.check(LIB.pmn_where(addr, n, ctypes.byref(w)), "pmn_where")
    nodes = {}
    for i in range(min(w.nnodes, len(w.node))):
        node = w.node[i].node
        nodes[node] = LIB.pmn_where_pages_on(ctypes.byref(w), node)
    return Placement(w.page_size, w.pages, w.not_present, w.unknown, w.other, nodes)


def _bytes_per_node(st):
    return {st.node[i].node: st.node[i].bytes for i in range(min(st.nnodes, len(st.node)))}


def backing_stats_dict(st):
    """A BackingStats struct as a dict: the names of the C struct and of
    pmn_alloc_stats_json() (since 0.8), then the names of 0.2 to 0.7
    (peak_bytes, maps, failures) as aliases with the same values."""
    return {
        "mapped_bytes": st.mapped_bytes,
        "mapped_peak_bytes": st.mapped_peak_bytes,
        "region_maps": st.region_maps,
        "region_map_failures": st.region_map_failures,
        "spilled_bytes": st.spilled_bytes,
        "bytes_per_node": _bytes_per_node(st),
        # aliases (before 0.8)
        "peak_bytes": st.mapped_peak_bytes,
        "maps": st.region_maps,
        "failures": st.region_map_failures,
    }


def backing_stats_dict_0_7(st):
    """The nested ``backing`` dict of Arena/Slab.stats() as 0.7 gave it
    (kept as an alias of the flat keys)."""
    return {
        "mapped_bytes": st.mapped_bytes,
        "peak_bytes": st.mapped_peak_bytes,
        "maps": st.region_maps,
        "failures": st.region_map_failures,
        "spilled_bytes": st.spilled_bytes,
        "bytes_per_node": _bytes_per_node(st),
    }


class Backing(Owned):
    """A source of pages with one placement rule.

    Exactly one of:

    * ``node=N``: node N, strictly;
    * ``spill=[N, M, ...]``: an ordered spill list (1 to 64 distinct
      nodes); each region lands whole on the first node that can take it,
      and the bytes per node are in :meth:`stats`;
    * ``dax="dax0.0"`` (or ``"/dev/dax0.0"``): a device-dax device.

    With ``node=N``, ``user=`` runs the backing over memory the caller
    already has (type ``"user"``, since 0.4): a writable buffer (an
    ``mmap.mmap``, a ``bytearray``...; exported for the backing's whole life,
    so an mmap cannot be closed under it) or an ``(address, length)`` pair
    (the caller keeps it mapped until every arena and slab on it is gone).
    Address and length must be page-aligned.  Every page is checked at
    creation (:class:`PlacementError`, PMN_E_MISPLACED, when one is on
    another node) unless ``unverified=True``; ``fd``/``offset`` name the
    file behind it (reported in extents); ``purge=True`` lets extents given
    back be decommitted.  :attr:`verified` says whether placement is checked.

    ``type`` is ``"anon"`` (default), ``"memfd"`` (shareable through
    :attr:`Region.fd`), ``"hugetlb"`` (the node's huge page pool;
    ``page_size`` picks the size, 0 the smallest the node has) or ``"dax"``
    (implied by ``dax=``).  ``thp`` asks for transparent huge pages;
    ``headroom`` is the free memory to leave on the node beyond each
    request (default: the larger of 64 MiB and 1% of the node);
    ``verify=False`` skips the page-by-page check after populating.
    ``shareable=True`` (0.4; implied by ``"memfd"``) keeps every region in
    one memfd so that blocks and regions can be exported to other processes
    (:func:`pmnode.ipc_get`); ``pmn_backing(3)`` and ``pmn_ipc(3)`` give
    the cost.  With ``dax=`` the memory stays in the device and only the
    generation table goes in a memfd; handles then have kind
    :data:`pmnode.KIND_DAX` and importers open the device by name.

    The context must describe this machine: a context over another root
    raises :class:`NotSupportedError` (PMN_E_REMOTE_ROOT).  Unknown nodes
    raise :class:`NotFoundError`, a missing dax device ``NotFoundError``
    (ENOENT), a huge page size the node has no pool of
    :class:`InvalidArgumentError`.

    Thread-safety: a backing may be used from any number of threads
    (regions mapped and unmapped concurrently), as in C.  The backing keeps
    its context alive; arenas, slabs and regions keep the backing alive.
    """

    _kind = "backing"

    def __init__(self, context, node=None, *, spill=None, dax=None, type=None,
                 page_size=0, thp=False, headroom=None, verify=True, user=None, fd=-1,
                 offset=0, unverified=False, purge=False, shareable=False):
        given = [x is not None for x in (node, spill, dax)]
        if sum(given) != 1:
            raise TypeError("Backing: give exactly one of node=, spill= or dax=")
        if user is not None and node is None:
            raise TypeError("Backing: user= goes with node=")
        if type is None:
            type = "dax" if dax is not None else "user" if user is not None else "anon"
        if (type == "user") != (user is not None) or type == "provider":
            raise errors.InvalidArgumentError(-errno.EINVAL, "Backing",
                                              "type 'user' comes with user= and only with it; "
                                              "providers are not bound in Python")
        self._user_buf = None
        if user is not None:
            if isinstance(user, tuple):
                uaddr, ulen = int(user[0]), int(user[1])
            else:
                mv = memoryview(user)
                ulen = mv.nbytes
                mv.release()
                # Exported (pinned) while the backing lives.
                self._user_buf = (ctypes.c_char * ulen).from_buffer(user)
                uaddr = ctypes.addressof(self._user_buf)
        if type not in BACKING_TYPES:
            raise errors.InvalidArgumentError(-errno.EINVAL, "Backing", "type %r is not one of %s"
                                              % (type, ", ".join(BACKING_TYPES)))
        if (type == "dax") != (dax is not None):
            raise errors.InvalidArgumentError(-errno.EINVAL, "Backing",
                                              "dax= goes with type 'dax' and only with it")
        if spill is not None:
            spill = [int(n) for n in spill]
        self._context = context
        self._nodes = tuple(spill) if spill is not None else (() if node is None else (int(node),))
        self._lock = threading.Lock()
        self._attach(context)
        params = ctypes.c_void_p()
        handle = ctypes.c_void_p()
        try:
            errors.check(LIB.pmn_backing_params_new(ctypes.byref(params)),
                         "pmn_backing_params_new")
            p = params.value
            if user is None:
                errors.check(LIB.pmn_backing_params_set_type(p, BACKING_TYPES.index(type)),
                             "pmn_backing_params_set_type")
            else:
                flags = (0x1 if unverified else 0) | (0x2 if purge else 0)
                errors.check(LIB.pmn_backing_params_set_user(p, uaddr, ulen, int(fd), int(offset),
                                                             flags),
                             "pmn_backing_params_set_user")
            if node is not None:
                errors.check(LIB.pmn_backing_params_set_node(p, int(node)),
                             "pmn_backing_params_set_node")
            elif spill is not None:
                arr = (ctypes.c_int * max(len(spill), 1))(*spill)
                errors.check(LIB.pmn_backing_params_set_spill(p, arr, len(spill)),
                             "pmn_backing_params_set_spill")
            else:
                errors.check(LIB.pmn_backing_params_set_dax(p, str(dax).encode()),
                             "pmn_backing_params_set_dax")
            errors.check(LIB.pmn_backing_params_set_page_size(p, page_size),
                         "pmn_backing_params_set_page_size")
            errors.check(LIB.pmn_backing_params_set_thp(p, bool(thp)),
                         "pmn_backing_params_set_thp")
            if headroom is not None:
                errors.check(LIB.pmn_backing_params_set_headroom(p, headroom),
                             "pmn_backing_params_set_headroom")
            errors.check(LIB.pmn_backing_params_set_verify(p, bool(verify)),
                         "pmn_backing_params_set_verify")
            if shareable:
                errors.check(LIB.pmn_backing_params_set_shareable(p, True),
                             "pmn_backing_params_set_shareable")
            with context._use("Backing") as ctx_handle:
                errors.check(LIB.pmn_backing_new(ctx_handle, p, ctypes.byref(handle)),
                             "pmn_backing_new")
        except BaseException:
            self._detach_failed()
            raise
        finally:
            LIB.pmn_backing_params_free(params.value)
        self._handle = handle.value

    def _release_handle(self, handle):
        LIB.pmn_backing_free(handle)
        self._user_buf = None  # a user= buffer is the caller's again

    @property
    def context(self):
        """The :class:`Context` this backing was made on."""
        return self._context

    @property
    def nodes(self):
        """The node, or the spill list, as given (empty for dax)."""
        return self._nodes

    @property
    def type(self):
        """``"anon"``, ``"memfd"``, ``"hugetlb"``, ``"dax"``, ``"user"`` or ``"provider"``."""
        with self._use("Backing.type") as h:
            return text(LIB.pmn_backing_type_name(LIB.pmn_backing_type(h)))

    @property
    def verified(self):
        """False when placement is not checked page by page (a user range
        made with ``unverified=True``, ``verify=False``, device-dax).  Since
        0.4."""
        with self._use("Backing.verified") as h:
            return bool(LIB.pmn_backing_verified(h))

    @property
    def granule(self):
        """Size and alignment unit of regions: the page size, the huge page
        size, or the dax device's alignment."""
        with self._use("Backing.granule") as h:
            return LIB.pmn_backing_granule(h)

    def stats(self):
        """Counters as a dict: mapped_bytes, mapped_peak_bytes, region_maps,
        region_map_failures, spilled_bytes, bytes_per_node ({node: bytes},
        spill-list order): the names of the C struct and of the stats JSON.
        peak_bytes, maps and failures, the names before 0.8, stay as
        aliases.  Thread-safe."""
        st = sized(BackingStats)
        with self._use("Backing.stats") as h:
            errors.check(LIB.pmn_backing_stats(h, ctypes.byref(st)), "pmn_backing_stats")
        return backing_stats_dict(st)

    def map(self, size):
        """Map, bind, populate and verify ``size`` bytes (rounded up to the
        granule); returns a :class:`Region`.

        Raises :class:`OutOfMemoryError` (ENOMEM, PMN_E_NODE_FULL: the node
        lacks the size plus headroom; PMN_E_NO_HUGEPAGES),
        :class:`PermissionDeniedError` (PMN_E_NOT_ALLOWED: outside the
        cpuset), :class:`PlacementError` (a page landed elsewhere),
        :class:`InvalidArgumentError` (size 0).  Nothing stays mapped on
        failure.  Thread-safe.
        """
        return Region(self, size)

    def map_at(self, offset, size):
        """Device-dax only: map the extent at ``offset``.  Both must be
        multiples of the device alignment (else InvalidArgumentError);
        :class:`BusyError` when the extent overlaps one in use,
        :class:`NotSupportedError` for other backing types."""
        return Region(self, size, offset)

    # ---- registration (issue 14; pmnode.register) ----

    @property
    def hook_errors(self):
        """Exceptions raised by this backing's hooks (kept, not raised
        through C)."""
        if not hasattr(self, "_hook_errors"):
            self._hook_errors = []
        return self._hook_errors

    @property
    def _hook_thunks(self):
        if not hasattr(self, "_thunks"):
            self._thunks = []
        return self._thunks

    def set_hooks(self, on_map=None, on_unmap=None):
        """Call ``on_map(extent)`` for each extent mapped (after it is
        populated and verified, before any object in it is handed out; a
        nonzero int or an exception fails the map) and ``on_unmap(extent)``
        before each is unmapped; both None clears.  Only before the backing
        maps anything: :class:`BusyError` while a region, arena or slab
        object of it is mapped.  Extents are :class:`pmnode.register.Extent`
        tuples.  Hooks may run in any thread that allocates or frees; they
        must not use the same arena or slab."""
        from .register import set_hooks
        set_hooks(self, on_map, on_unmap)

    def extents(self):
        """The extents of every region of this backing mapped now (arenas,
        slabs and bare regions), as a list of
        :class:`pmnode.register.Extent`.  A snapshot.  Thread-safe."""
        from .register import list_extents
        with self._use("Backing.extents") as h:
            return list_extents(LIB.pmn_backing_extents, h, "pmn_backing_extents")

    def arena(self, **opts):
        """An :class:`Arena` over this backing (see its arguments)."""
        from .alloc import Arena
        return Arena(self, **opts)

    def slab(self, obj_size, **opts):
        """A :class:`Slab` of ``obj_size`` objects over this backing."""
        from .alloc import Slab
        return Slab(self, obj_size, **opts)

    def __repr__(self):
        state = "closed" if self._closed else "nodes=%s" % (list(self._nodes),)
        return "<pmnode.Backing %s>" % state


class Region(Owned, Memory):
    """One mapping from a backing (:meth:`Backing.map`), as buffer views.

    ``view`` is a writable memoryview; ``unmap()`` (or ``close()``, or
    leaving a ``with`` block) releases every view and unmaps.  A region
    belongs to whoever mapped it: unmap it from one thread.
    """

    _kind = "region"

    def __init__(self, backing, size, offset=None):
        self._backing = backing
        self._attach(backing)
        handle = ctypes.c_void_p()
        try:
            with backing._use("Backing.map") as bh:
                if offset is None:
                    errors.check(LIB.pmn_region_map(bh, size, ctypes.byref(handle)),
                                 "pmn_region_map")
                else:
                    errors.check(LIB.pmn_region_map_at(bh, offset, size, ctypes.byref(handle)),
                                 "pmn_region_map_at")
        except BaseException:
            self._detach_failed()
            raise
        h = handle.value
        self._handle = h
        self._node = LIB.pmn_region_node(h)
        self._fd = LIB.pmn_region_fd(h)
        self._offset = LIB.pmn_region_offset(h)
        self._populate_ns = LIB.pmn_region_populate_ns(h)
        self._verify_ns = LIB.pmn_region_verify_ns(h)
        self._init_memory(LIB.pmn_region_addr(h), LIB.pmn_region_size(h), threading.RLock())

    @property
    def backing(self):
        """The :class:`Backing` the region came from."""
        return self._backing

    @property
    def node(self):
        """Node the pages are on (for dax: the device's node), or None."""
        return None if self._node < 0 else self._node

    @property
    def offset(self):
        """Offset of the region in the file :attr:`fd` names (0.4; 0 without a file)."""
        return self._offset

    @property
    def fd(self):
        """The memfd of a ``"memfd"`` region (owned by the region: ``os.dup``
        it to keep it past unmap), else None."""
        self._check_alive("Region.fd")
        return None if self._fd < 0 else self._fd

    @property
    def populate_ns(self):
        """Nanoseconds spent populating."""
        return self._populate_ns

    @property
    def verify_ns(self):
        """Nanoseconds spent verifying placement."""
        return self._verify_ns

    def migrate(self, node, *, rollback=False, no_headroom=False):
        """Move the whole region to ``node`` (pmn_region_migrate, since 0.6)
        and keep its books: :attr:`node` and the backing's bytes per node
        follow, and pages populated later land on ``node``.

        ``node`` must be the backing's node or on its spill list
        (:class:`MigrateError`, also an InvalidArgumentError, with code
        PMN_E_NOT_ON_LIST); dax, user and provider memory cannot move
        (NotSupportedError); otherwise the codes and report of
        :func:`pmnode.migrate`.  Returns the :class:`MigrateReport`.  The
        region's memory may be used by other threads meanwhile; no other
        migrate of it may run.
        """
        from . import migration as m
        what = "Region.migrate"
        node = m._node(node, what)
        fl = m.flags(rollback, no_headroom)
        with self._use(what) as h:
            self._check_alive(what)
            try:
                return m.call("pmn_region_migrate",
                              lambda rep: LIB.pmn_region_migrate(h, node, fl, rep))
            finally:
                self._node = LIB.pmn_region_node(h)

    def _before_close(self):
        with self._lock:
            if self._dead is None:
                self._revoke("Region.unmap")
                self._kill("the region was unmapped")
        super()._before_close()

    def _release_handle(self, handle):
        errors.check(LIB.pmn_region_unmap(handle), "pmn_region_unmap")

    def unmap(self):
        """Release every view and unmap (same as close()).  Raises
        BufferError, leaving the region mapped, while a view is exported."""
        self.close()

    def __repr__(self):
        if self._dead is not None:
            return "<pmnode.Region unmapped>"
        return "<pmnode.Region %d bytes at %#x on node %s>" % (self._size, self._addr, self.node)
