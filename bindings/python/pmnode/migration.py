"""Moving live data: strict migration of memory that already holds data.

Every page moves to the node asked for, or the call raises and says how
far it got.  Each move returns a :class:`MigrateReport` (every page of the
range in exactly one class), and each failure raises a
:class:`MigrateError` that carries it::

    r = backing.map(64 << 20)                    # backing spill=[0, 2]
    rep = r.migrate(2)                           # the whole region, to node 2
    print(rep.moved, rep.already_there)

    try:
        pmnode.migrate(ctx, buf, 2)              # any page-aligned buffer
    except pmnode.MigrateError as e:             # also OutOfMemoryError, BusyError...
        print(e.name, e.report.target_full, e.report.first_failed)

The calls: :func:`migrate` (a range: a :class:`Region`, :class:`Block`,
buffer or ``int`` address with a length), :meth:`Region.migrate`,
:meth:`Arena.migrate` and :meth:`Slab.migrate` (their extents; objects keep
their addresses), :meth:`Block.migrate` (the extent holding one object).
``rollback=True`` moves the pages back when the call fails (what came
back is in ``report.rolled_back``); ``no_headroom=True`` checks the target
for exactly the pages to move, without placement's headroom.

A :class:`MigrateError` is also an instance of the category its code
belongs to (:class:`OutOfMemoryError` for PMN_E_NODE_FULL,
:class:`BusyError` for EBUSY, :class:`PermissionDeniedError` for EACCES,
:class:`InvalidArgumentError` for EINVAL and PMN_E_NOT_ON_LIST...), so
either ``except`` works.  Its ``report`` is None when the call failed
before looking at any page (bad arguments, unknown node).

Thread-safety: as in C, moves of distinct ranges may run concurrently, and
the memory may be read and written during a move; the Python objects are
held open (not freed, unmapped or reset) for the duration of the call.
"""
import ctypes
import errno
from dataclasses import dataclass

from . import errors
from ._lib import LIB, MigrateReportStruct, sized
from .memory import pinned_range

#: pmn_migrate_flags
ROLLBACK = 1 << 0
NO_HEADROOM = 1 << 1


@dataclass(frozen=True)
class MigrateReport:
    """What a move did, page by page (base pages).

    ``pages`` = ``moved`` + ``already_there`` + ``target_full`` +
    ``busy_or_pinned`` + ``shared`` + ``not_present`` + ``other``;
    ``first_failed`` is the lowest address of a page not moved (an ``int``)
    or None; ``rolled_back`` counts pages moved and then moved back (they
    are in ``moved`` too).
    """
    pages: int
    moved: int
    already_there: int
    target_full: int
    busy_or_pinned: int
    shared: int
    not_present: int
    other: int
    first_failed: object
    rolled_back: int

    @property
    def not_moved(self):
        """Pages that could not move (target_full + busy_or_pinned + shared + other)."""
        return self.target_full + self.busy_or_pinned + self.shared + self.other

    @classmethod
    def _from_struct(cls, st):
        return cls(st.pages, st.moved, st.already_there, st.target_full, st.busy_or_pinned,
                   st.shared, st.not_present, st.other, st.first_failed or None, st.rolled_back)

    def __str__(self):
        parts = ["%d pages" % self.pages]
        for name in ("moved", "already_there", "target_full", "busy_or_pinned", "shared",
                     "not_present", "other", "rolled_back"):
            v = getattr(self, name)
            if v:
                parts.append("%s %d" % (name.replace("_", " "), v))
        if self.first_failed is not None:
            parts.append("first failed at %#x" % self.first_failed)
        return ", ".join(parts)


class MigrateError(errors.Error):
    """A move failed.  ``report`` is the :class:`MigrateReport` of how far
    it got (None when it failed before looking at any page).  Raised as a
    subclass that is also the code's category (``OutOfMemoryError``...)."""

    report = None


_CLASSES = {}


def _error_class(code):
    base = errors.error_class(code)
    if base is errors.Error:
        return MigrateError
    cls = _CLASSES.get(base)
    if cls is None:
        cls = type("MigrateError", (MigrateError, base),
                   {"__module__": __name__,
                    "__qualname__": "MigrateError(%s)" % base.__name__,
                    "__doc__": "A MigrateError that is also a %s." % base.__name__})
        _CLASSES[base] = cls
    return cls


def migrate_error(code, what, report):
    """The :class:`MigrateError` instance for ``code`` (not raised)."""
    e = _error_class(code)(code, what, None if report is None else str(report))
    e.report = report
    return e


def flags(rollback=False, no_headroom=False):
    """The pmn_migrate() flags for the keyword arguments."""
    return (ROLLBACK if rollback else 0) | (NO_HEADROOM if no_headroom else 0)


def call(what, fn):
    """Run ``fn(report_pointer)`` (a C migrate call) and return its
    :class:`MigrateReport`, or raise the :class:`MigrateError`."""
    st = sized(MigrateReportStruct)
    rc = fn(ctypes.byref(st))
    # The library fills the report on every return past its argument
    # checks, and every range it looks at has pages.
    rep = MigrateReport._from_struct(st) if st.pages else None
    if rc < 0:
        raise migrate_error(rc, what, rep)
    return rep if rep is not None else MigrateReport._from_struct(st)


def _node(node, what):
    if isinstance(node, bool) or not isinstance(node, int):
        raise TypeError("%s: node must be an int, got %s" % (what, type(node).__name__))
    if node < 0:
        raise migrate_error(-errno.EINVAL, what, None)
    return node


def migrate(context, obj, node, length=None, *, rollback=False, no_headroom=False):
    """Move every present page of a range to ``node``, strictly
    (pmn_migrate): all of them, then the range is bound to ``node`` and
    verified, or :class:`MigrateError` with the report.

    ``obj`` is a :class:`Region`, :class:`Block`, any contiguous buffer
    (page-aligned: an ``mmap.mmap`` for example) or an ``int`` address with
    ``length``.  Checked before anything moves: alignment and length
    (InvalidArgumentError), the node (NotFoundError, NotSupportedError,
    PermissionDeniedError for PMN_E_NOT_ALLOWED), room on it
    (OutOfMemoryError, PMN_E_NODE_FULL).  Pages that moved stay moved
    unless ``rollback``.  Thread-safe for distinct ranges.
    """
    what = "pmnode.migrate"
    node = _node(node, what)
    fl = flags(rollback, no_headroom)
    with context._use(what) as ch, pinned_range(obj, length, what) as (addr, n):
        return call("pmn_migrate", lambda rep: LIB.pmn_migrate(ch, addr, n, node, fl, rep))
