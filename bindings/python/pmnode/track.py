"""Access tracking: which parts of a range were touched since the last look.

A :class:`Tracker` watches ranges of this process's memory in extents of a
granule (2 MiB by default).  Nothing runs in the background: each
:meth:`Tracker.scan` examines up to a page budget of pages, resuming where
the last scan stopped, and turns what it read into per-extent counts and a
decayed heat (0-255)::

    with ctx.tracker(mode="soft-dirty", page_budget=65536) as t:
        t.add(region)
        t.scan()                                 # the first look starts the period
        region.view[4096] = 1
        t.scan()
        hot = [e for e in t.extents() if e.pages_touched]

Modes (what each sees is in ``pmn_track(3)`` and the header): ``"auto"``
(the most this process may see), ``"soft-dirty"`` (writes, pagemap
soft-dirty bits; clearing them is process-wide), ``"uffd-wp"`` (writes,
userfaultfd write-protection; private anonymous memory only) and
``"idle"`` (reads and writes, idle-page tracking: CAP_SYS_ADMIN).  Modes
that see only writes miss memory that is only read.

A watched range must stay mapped: remove it before unmapping or freeing
its memory.  The tracker keeps the Python objects it was given alive (not
their memory mapped: an explicit ``unmap()`` still unmaps).

Thread-safety: every call may be made from any thread (the C tracker
serialises them); ``close()`` waits for calls in progress.
"""
import ctypes
import errno
from dataclasses import dataclass

from . import errors
from ._lib import LIB, TrackExtentStruct, TrackOpts, TrackReportStruct, sized, text
from ._owned import Owned
from .memory import pinned_range

#: Modes, in the order of enum pmn_track_mode.
MODES = ("auto", "soft-dirty", "uffd-wp", "idle")


def mode_name(mode):
    """The library's name for a mode number (``"unknown"`` for others)."""
    return text(LIB.pmn_track_mode_name(int(mode)))


def options(what, mode="auto", granule=0, page_budget=0, sample_pages=0):
    """A filled struct pmn_track_opts (checked on the Python side first)."""
    if mode not in MODES:
        raise errors.InvalidArgumentError(-errno.EINVAL, what, "mode %r is not one of %s"
                                          % (mode, ", ".join(MODES)))
    for name, v in (("granule", granule), ("page_budget", page_budget),
                    ("sample_pages", sample_pages)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise errors.InvalidArgumentError(-errno.EINVAL, what,
                                              "%s %r is not a non-negative int" % (name, v))
    if sample_pages >= 1 << 32 or page_budget >= 1 << 64 or granule >= 1 << 64:
        raise errors.InvalidArgumentError(-errno.EINVAL, what, "a value is out of range")
    return TrackOpts(ctypes.sizeof(TrackOpts), MODES.index(mode), granule, page_budget,
                     sample_pages)


@dataclass(frozen=True)
class TrackReport:
    """What one :meth:`Tracker.scan` did: pages read (at most the budget),
    extents finished, of them touched since their previous look, passes
    over every watched extent completed, the time it took (ns), and of the
    pages read those no mapping covers any more (``pages_gone``: unmapped
    after :meth:`Tracker.add`, read as untouched)."""
    pages_examined: int
    extents_examined: int
    extents_touched: int
    passes: int
    ns: int
    pages_gone: int = 0


@dataclass(frozen=True)
class TrackExtent:
    """One extent as the tracker last saw it: ``address`` and ``length``,
    ``pages_examined`` at its last look (0: not looked at yet),
    ``pages_touched`` of those since the look before, ``idle_looks`` in a
    row that found it untouched, ``heat`` 0-255."""
    address: int
    length: int
    pages_examined: int
    pages_touched: int
    idle_looks: int
    heat: int


def list_extents(handle, what):
    """Every extent of the C tracker ``handle``, in address order."""
    n = 64
    while True:
        arr = (TrackExtentStruct * n)()
        total = LIB.pmn_track_extents(handle, arr, n)
        if total < 0:
            raise errors.make_error(int(total), what)
        if total <= n:
            return [TrackExtent(e.addr or 0, e.len, e.pages_examined, e.pages_touched,
                                e.idle_looks, e.heat) for e in arr[:total]]
        n = total          # more than room: ask again


class Tracker(Owned):
    """An access tracker on a context.

    Arguments (all optional): ``mode`` (see the module notes; default
    ``"auto"``), ``granule`` (bytes per extent: a power of two, at least a
    page; 0 = 2 MiB), ``page_budget`` (most pages one scan examines; 0 =
    no limit), ``sample_pages`` (pages examined per extent, evenly spaced;
    0 = every page).

    Raises InvalidArgumentError (bad granule or mode), NotSupportedError
    (PMN_E_REMOTE_ROOT; EOPNOTSUPP: the mode's kernel support is missing),
    PermissionDeniedError (``"idle"`` without CAP_SYS_ADMIN).  A context
    manager: closing stops tracking, lifting any write protection.  The
    tracker keeps its context alive.
    """

    _kind = "tracker"

    def __init__(self, context, *, mode="auto", granule=0, page_budget=0, sample_pages=0):
        opts = options("Tracker", mode, granule, page_budget, sample_pages)
        self._context = context
        self._ranges = {}        # (address, length) -> the object given (kept alive)
        self._attach(context)
        handle = ctypes.c_void_p()
        try:
            with context._use("Tracker") as ch:
                errors.check(LIB.pmn_track_new(ch, ctypes.byref(opts), ctypes.byref(handle)),
                             "pmn_track_new")
        except BaseException:
            self._detach_failed()
            raise
        self._handle = handle.value

    def _release_handle(self, handle):
        LIB.pmn_track_free(handle)
        self._ranges = {}

    @property
    def context(self):
        """The :class:`Context` the tracker was made on."""
        return self._context

    @property
    def mode(self):
        """The mode in use (never ``"auto"``)."""
        with self._use("Tracker.mode") as h:
            return mode_name(LIB.pmn_track_mode(h))

    def add(self, obj, length=None):
        """Watch a range: a :class:`Region`, :class:`Block`, page-aligned
        buffer, or ``int`` address with ``length`` (page-aligned, mapped,
        readable).  InvalidArgumentError, or the library's error for a
        range overlapping one watched already (EEXIST)."""
        what = "Tracker.add"
        with self._use(what) as h, pinned_range(obj, length, what) as (addr, n):
            errors.check(LIB.pmn_track_add(h, addr, n), "pmn_track_add")
            self._ranges[(addr, n)] = obj

    def remove(self, obj, length=None):
        """Stop watching a range given to :meth:`add` (exactly it;
        NotFoundError otherwise)."""
        what = "Tracker.remove"
        with self._use(what) as h, pinned_range(obj, length, what) as (addr, n):
            errors.check(LIB.pmn_track_remove(h, addr, n), "pmn_track_remove")
            self._ranges.pop((addr, n), None)

    def scan(self):
        """Look at the next extents, up to the page budget: returns a
        :class:`TrackReport`."""
        rep = sized(TrackReportStruct)
        with self._use("Tracker.scan") as h:
            errors.check(LIB.pmn_track_scan(h, ctypes.byref(rep)), "pmn_track_scan")
        return TrackReport(rep.pages_examined, rep.extents_examined, rep.extents_touched,
                           rep.passes, rep.ns, rep.pages_gone)

    def extents(self):
        """Every watched extent as last seen, in address order (a list of
        :class:`TrackExtent`)."""
        with self._use("Tracker.extents") as h:
            return list_extents(h, "pmn_track_extents")

    def __repr__(self):
        if self._closed:
            return "<pmnode.Tracker closed>"
        return "<pmnode.Tracker %s, %d ranges>" % (self.mode, len(self._ranges))
