"""Tiering: hot extents on a fast node, cold ones on a slow node.

A :class:`Tier` manages ranges of this process's memory between a hot and
a cold node (and, optionally, a :class:`CompressedTier` below the cold
node).  The caller drives it: each :meth:`Tier.step` scans with the tier's
tracker, then demotes the coldest extents from the hot node and promotes
the hottest from the cold node, strictly (as :func:`pmnode.migrate`),
never more than the byte budgets per step and never past the hot node's
limit.  Nothing runs between steps::

    with ctx.tier(0, 2, demote_budget=16 << 20, track_mode="soft-dirty") as t:
        t.add(region)
        for _ in range(10):
            serve_requests()
            d = t.step()                         # what this step moved
        print(t.stats(), t.stats_json())

Which signal ranks extents is the tracker's: with a write-only mode
(``"soft-dirty"``, ``"uffd-wp"``) memory that is only read looks cold.

A managed range must stay mapped: remove it before unmapping or freeing
its memory.  The tier keeps the Python objects it was given alive, its
context, and the compressed tier it uses (closing that one while the tier
is open defers the C close until the tier closes).

Thread-safety: every call may be made from any thread (the C tier
serialises them); the managed memory may be used by any thread during a
step; ``close()`` waits for calls in progress.
"""
import ctypes
import errno
from dataclasses import astuple, dataclass, fields

from . import errors
from ._lib import LIB, TierOpts, TierStatsStruct, sized
from ._owned import _TREE_LOCK, Owned
from .memory import pinned_range
from .migration import flags as _migrate_flags
from .track import list_extents
from .track import options as _track_options


@dataclass(frozen=True)
class TierStats:
    """A tier's counters: bytes now (managed_bytes, and of them hot_bytes,
    cold_bytes, compressed_bytes, other_bytes, as at the last step) and
    totals (steps, promoted_bytes cold -> hot, demoted_bytes hot -> cold,
    compressed_total cold -> compressed, decompressed_total compressed ->
    hot, failed_moves, scan_ns, move_ns, write_returned_bytes: bytes a
    write brought back from the compressed tier by itself).
    :meth:`Tier.step` returns what one step did in the same shape."""
    managed_bytes: int = 0
    hot_bytes: int = 0
    cold_bytes: int = 0
    compressed_bytes: int = 0
    other_bytes: int = 0
    steps: int = 0
    promoted_bytes: int = 0
    demoted_bytes: int = 0
    compressed_total: int = 0
    decompressed_total: int = 0
    failed_moves: int = 0
    scan_ns: int = 0
    move_ns: int = 0
    write_returned_bytes: int = 0

    @classmethod
    def _from_struct(cls, st):
        return cls(*(getattr(st, f.name) for f in fields(cls)))

    def _struct(self):
        st = sized(TierStatsStruct)
        for f, v in zip(fields(self), astuple(self)):
            setattr(st, f.name, v)
        return st

    def json(self):
        """These counters as the library's JSON object (pmn_tier_stats_json)."""
        st = self._struct()
        n = errors.check(LIB.pmn_tier_stats_json(ctypes.byref(st), None, 0),
                         "pmn_tier_stats_json")
        buf = ctypes.create_string_buffer(n + 1)
        errors.check(LIB.pmn_tier_stats_json(ctypes.byref(st), buf, n + 1),
                     "pmn_tier_stats_json")
        return buf.value.decode()

    def to_dict(self):
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _count(v, name, bits=64):
    if isinstance(v, bool) or not isinstance(v, int) or v < 0 or v >= 1 << bits:
        raise errors.InvalidArgumentError(-errno.EINVAL, "Tier", "%s %r is not an unsigned "
                                          "%d-bit int" % (name, v, bits))
    return v


class Tier(Owned):
    """A tier between ``hot_node`` and ``cold_node`` on a context.

    Options (all optional): ``ctier`` (a :class:`CompressedTier`: the
    third level, below the cold node), ``hot_limit`` (most managed bytes
    kept on the hot node; 0 = no limit), ``promote_budget`` and
    ``demote_budget`` (most bytes moved up or down per step; 0 = 64 MiB),
    ``cold_looks`` (idle looks before an extent may leave the hot node;
    0 = 2), ``compress_looks`` (idle looks before a cold extent is
    compressed; 0 = 8), ``rollback`` and ``no_headroom`` (the flags of
    every move, see :func:`pmnode.migrate`), and the tracker's:
    ``track_mode``, ``granule``, ``page_budget``, ``sample_pages`` (see
    :class:`Tracker`).

    Raises InvalidArgumentError (hot_node == cold_node, bad options),
    NotFoundError (PMN_E_NO_NODE), NotSupportedError
    (PMN_E_NOT_MEMORY_NODE, PMN_E_REMOTE_ROOT, the tracker's EOPNOTSUPP),
    PermissionDeniedError (PMN_E_NOT_ALLOWED).  A context manager:
    closing stops managing (memory stays where it is).
    """

    _kind = "tier"
    _ctier = None

    def __init__(self, context, hot_node, cold_node, *, ctier=None, hot_limit=0,
                 promote_budget=0, demote_budget=0, cold_looks=0, compress_looks=0,
                 rollback=False, no_headroom=False, track_mode="auto", granule=0,
                 page_budget=0, sample_pages=0):
        for name, v in (("hot_node", hot_node), ("cold_node", cold_node)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError("Tier: %s must be an int, got %s" % (name, type(v).__name__))
        topts = _track_options("Tier", track_mode, granule, page_budget, sample_pages)
        opts = TierOpts()
        opts.struct_size = ctypes.sizeof(TierOpts)
        opts.hot_node = hot_node
        opts.cold_node = cold_node
        opts.hot_limit = _count(hot_limit, "hot_limit")
        opts.promote_budget = _count(promote_budget, "promote_budget")
        opts.demote_budget = _count(demote_budget, "demote_budget")
        opts.cold_looks = _count(cold_looks, "cold_looks", 32)
        opts.compress_looks = _count(compress_looks, "compress_looks", 32)
        opts.flags = _migrate_flags(rollback, no_headroom)
        opts.track = topts
        self._context = context
        self._ranges = {}
        self._attach(context)
        handle = ctypes.c_void_p()
        try:
            if ctier is not None:
                self._hold_ctier(ctier)
            with context._use("Tier") as ch:
                if ctier is not None:
                    with ctier._use("Tier") as th:
                        opts.ctier = th
                        rc = LIB.pmn_tier_new(ch, ctypes.byref(opts), ctypes.byref(handle))
                else:
                    rc = LIB.pmn_tier_new(ch, ctypes.byref(opts), ctypes.byref(handle))
                errors.check(rc, "pmn_tier_new")
        except BaseException:
            self._drop_ctier()
            self._detach_failed()
            raise
        self._handle = handle.value

    def _hold_ctier(self, ctier):
        # The C tier uses the C compressed tier until pmn_tier_free: count
        # as its child, so closing it defers pmn_ctier_close until then.
        with _TREE_LOCK:
            if ctier._closed:
                raise errors.closed("Tier()", "the compressed tier is closed")
            ctier._children += 1
            self._ctier = ctier

    def _drop_ctier(self):
        with _TREE_LOCK:
            ctier, self._ctier = self._ctier, None
            if ctier is not None:
                ctier._children -= 1
        if ctier is not None:
            ctier._release_if_done()

    def _release_handle(self, handle):
        try:
            LIB.pmn_tier_free(handle)
        finally:
            self._ranges = {}
            self._drop_ctier()

    @property
    def context(self):
        return self._context

    @property
    def compressed_tier(self):
        """The :class:`CompressedTier` given, or None."""
        return self._ctier

    @property
    def track_mode(self):
        """The mode of the tier's tracker (``"soft-dirty"``...)."""
        from .track import mode_name
        with self._use("Tier.track_mode") as h:
            return mode_name(LIB.pmn_track_mode(self._tracker(h, "Tier.track_mode")))

    @staticmethod
    def _tracker(h, what):
        th = LIB.pmn_tier_tracker(h)
        if not th:
            raise errors.InvalidArgumentError(-errno.EINVAL, what, "the tier has no tracker")
        return th

    def add(self, obj, length=None):
        """Manage a range: a :class:`Region`, :class:`Block`, page-aligned
        buffer or ``int`` address with ``length`` (private anonymous or
        memfd memory of this process).  Nothing moves until a step."""
        what = "Tier.add"
        with self._use(what) as h, pinned_range(obj, length, what) as (addr, n):
            errors.check(LIB.pmn_tier_add(h, addr, n), "pmn_tier_add")
            self._ranges[(addr, n)] = obj

    def remove(self, obj, length=None):
        """Stop managing a range given to :meth:`add`; its pages stay where
        they are.  NotFoundError for a range not managed."""
        what = "Tier.remove"
        with self._use(what) as h, pinned_range(obj, length, what) as (addr, n):
            errors.check(LIB.pmn_tier_remove(h, addr, n), "pmn_tier_remove")
            self._ranges.pop((addr, n), None)

    def step(self):
        """One period: scan, then move within the budgets.  Returns what
        this step did as :class:`TierStats` (the byte-now fields as after
        it).  A move that failed for want of room is counted in
        failed_moves, not raised."""
        d = sized(TierStatsStruct)
        with self._use("Tier.step") as h:
            errors.check(LIB.pmn_tier_step(h, ctypes.byref(d)), "pmn_tier_step")
        return TierStats._from_struct(d)

    def stats(self):
        """The counters since creation (:class:`TierStats`)."""
        st = sized(TierStatsStruct)
        with self._use("Tier.stats") as h:
            errors.check(LIB.pmn_tier_stats(h, ctypes.byref(st)), "pmn_tier_stats")
        return TierStats._from_struct(st)

    def stats_json(self):
        """The counters as the library's JSON object."""
        return self.stats().json()

    def extents(self):
        """The tracker's extents (:class:`TrackExtent`), whose heat ranks
        what moves."""
        with self._use("Tier.extents") as h:
            return list_extents(self._tracker(h, "Tier.extents"), "pmn_track_extents")

    def __repr__(self):
        if self._closed:
            return "<pmnode.Tier closed>"
        return "<pmnode.Tier %d ranges>" % len(self._ranges)
