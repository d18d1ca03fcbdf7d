"""Errors: every negative code from libpmnode as a Python exception.

libpmnode returns 0 or a negative code: a negative errno (``-ENOMEM``) or a
library code ``PMN_E_*`` far outside the errno range (``-(20000 + n)``).
Each becomes an instance of :class:`Error` or one of its subclasses, chosen
by the code, so callers can catch broadly (``except pmnode.Error``), by
category (``except pmnode.NotFoundError``) or by a built-in Python type the
category also derives from (``MemoryError``, ``ValueError``,
``LookupError``)::

    try:
        pmnode.Backing(ctx, node=7)
    except pmnode.NotFoundError as e:
        print(e.code == pmnode.E_NO_NODE, e.name, e.strerror)

The same classes report misuse the Python layer catches before it could
reach C (freeing a block twice, or through the wrong arena, or after its
arena was closed): :class:`MisuseError`, with the library's own codes
``E_DOUBLE_FREE``, ``E_FOREIGN`` and ``E_DESTROYED``.
"""
import errno as _errno

from ._lib import LIB, text

#: Library codes sit at -(ERRNO_BASE + n).
ERRNO_BASE = 20000

#: The PMN_E_* names and their numbers n (code = -(ERRNO_BASE + n)), as in
#: PMN_ERROR_MAP of include/pmnode.h.
LIBRARY_ERRORS = {
    "REMOTE_ROOT": 1, "NO_NUMA": 2, "NO_NODE": 3, "NO_DEVICE": 4, "UNKNOWN": 5,
    "NO_MATCH": 6, "PARSE": 7, "CONFIG": 8, "HWLOC": 9, "MISPLACED": 10,
    "NOT_ALLOWED": 11, "NODE_FULL": 12, "NO_HUGEPAGES": 13, "NOT_MEMORY_NODE": 14,
    "FOREIGN": 15, "DOUBLE_FREE": 16, "INTERIOR": 17, "DESTROYED": 18, "TIER_FULL": 19,
    "INCOMPRESSIBLE": 20, "NO_WRITE_CONTROL": 21, "NOT_COMPRESSED": 22, "NO_CTIER": 23,
    "CAP_REACHED": 24,
    # sharing with other processes (0.4)
    "STALE_HANDLE": 25, "NOT_SHAREABLE": 26, "NODE_CHANGED": 27, "BAD_HANDLE": 28,
    "NOT_ON_LIST": 29,
}

E_REMOTE_ROOT = -(ERRNO_BASE + 1)
E_NO_NUMA = -(ERRNO_BASE + 2)
E_NO_NODE = -(ERRNO_BASE + 3)
E_NO_DEVICE = -(ERRNO_BASE + 4)
E_UNKNOWN = -(ERRNO_BASE + 5)
E_NO_MATCH = -(ERRNO_BASE + 6)
E_PARSE = -(ERRNO_BASE + 7)
E_CONFIG = -(ERRNO_BASE + 8)
E_HWLOC = -(ERRNO_BASE + 9)
E_MISPLACED = -(ERRNO_BASE + 10)
E_NOT_ALLOWED = -(ERRNO_BASE + 11)
E_NODE_FULL = -(ERRNO_BASE + 12)
E_NO_HUGEPAGES = -(ERRNO_BASE + 13)
E_NOT_MEMORY_NODE = -(ERRNO_BASE + 14)
E_FOREIGN = -(ERRNO_BASE + 15)
E_DOUBLE_FREE = -(ERRNO_BASE + 16)
E_INTERIOR = -(ERRNO_BASE + 17)
E_DESTROYED = -(ERRNO_BASE + 18)
E_TIER_FULL = -(ERRNO_BASE + 19)
E_INCOMPRESSIBLE = -(ERRNO_BASE + 20)
E_NO_WRITE_CONTROL = -(ERRNO_BASE + 21)
E_NOT_COMPRESSED = -(ERRNO_BASE + 22)
E_NO_CTIER = -(ERRNO_BASE + 23)
E_CAP_REACHED = -(ERRNO_BASE + 24)
# sharing with other processes (0.4)
E_STALE_HANDLE = -(ERRNO_BASE + 25)
E_NOT_SHAREABLE = -(ERRNO_BASE + 26)
E_NODE_CHANGED = -(ERRNO_BASE + 27)
E_BAD_HANDLE = -(ERRNO_BASE + 28)
E_NOT_ON_LIST = -(ERRNO_BASE + 29)


def strerror(code):
    """Description of a code (library code, negative or positive errno).

    Thread-safe; never fails ("unknown error" for a value that is neither).
    """
    return text(LIB.pmn_strerror(int(code)))


def last_error():
    """Why this thread's last failed allocation failed (pmn_last_error): a
    library code such as :data:`E_CAP_REACHED` or :data:`E_NODE_FULL`, a
    negative errno, or 0 before any failure.  Not cleared by a success."""
    return LIB.pmn_last_error()


def err_name(code):
    """Symbolic name of a code: ``"PMN_E_NO_NODE"``, ``"ENOMEM"``, or ``"unknown"``."""
    return text(LIB.pmn_err_name(int(code)))


class Error(Exception):
    """A libpmnode error.

    Attributes:
        code: the negative code (``-errno`` or ``pmnode.E_*``).
        name: its symbolic name from ``pmn_err_name()`` (``"PMN_E_NODE_FULL"``).
        strerror: its description from ``pmn_strerror()``.
        what: the operation that failed (``"pmn_backing_new"``,
            ``"Arena.free"``), or None.
    """

    def __init__(self, code, what=None, detail=None):
        self.code = int(code)
        self.name = err_name(self.code)
        self.strerror = strerror(self.code)
        self.what = what
        msg = self.strerror if detail is None else "%s (%s)" % (detail, self.strerror)
        if what:
            msg = "%s: %s" % (what, msg)
        super().__init__("%s [%s]" % (msg, self.name))


class InvalidArgumentError(Error, ValueError):
    """A bad argument or configuration value (EINVAL, ERANGE, PMN_E_CONFIG)."""


class OutOfMemoryError(Error, MemoryError):
    """No memory where it was asked for: ENOMEM, PMN_E_NODE_FULL,
    PMN_E_NO_HUGEPAGES, PMN_E_TIER_FULL.  Also a ``MemoryError``."""


class NotFoundError(Error, LookupError):
    """No such node, device, root or match: PMN_E_NO_NODE, PMN_E_NO_DEVICE,
    PMN_E_NO_MATCH, PMN_E_NO_NUMA, ENOENT, ENODEV, ENOTDIR."""


class PermissionDeniedError(Error):
    """Not allowed: EACCES, EPERM, PMN_E_NOT_ALLOWED (outside the cpuset)."""


class BusyError(Error):
    """The object is in use (EBUSY): a dax extent, an already demoted range."""


class NotSupportedError(Error):
    """The request cannot be served here: PMN_E_REMOTE_ROOT (a context over
    another machine's tree), PMN_E_NOT_MEMORY_NODE, PMN_E_NOT_COMPRESSED,
    PMN_E_NO_WRITE_CONTROL, PMN_E_NO_CTIER (a build without the compressed
    tier), EOPNOTSUPP, ENOSYS."""


class UnknownValueError(Error):
    """The kernel does not report the value (PMN_E_UNKNOWN), for example a
    ranking by bandwidth without HMAT data."""


class DiscoveryError(Error):
    """Malformed kernel or configuration data (PMN_E_PARSE) or a failure of
    hwloc (PMN_E_HWLOC)."""


class PlacementError(Error):
    """Memory was found on another node than the one asked for (PMN_E_MISPLACED)."""


class IncompressibleError(Error):
    """The compressed tier refused data that compresses too little."""


class MisuseError(Error, ValueError):
    """The allocator was misused: a double free (PMN_E_DOUBLE_FREE), a block
    of another arena or slab (PMN_E_FOREIGN), an interior pointer
    (PMN_E_INTERIOR), or an object whose arena, slab, backing, context or
    tier was closed (PMN_E_DESTROYED)."""


class StaleHandleError(Error):
    """An IPC handle to memory its owner freed (PMN_E_STALE_HANDLE): the
    object is gone, whatever the memory holds now is not it."""


_BY_LIBRARY_CODE = {
    E_CONFIG: InvalidArgumentError,
    E_NODE_FULL: OutOfMemoryError, E_NO_HUGEPAGES: OutOfMemoryError,
    E_TIER_FULL: OutOfMemoryError, E_CAP_REACHED: OutOfMemoryError,
    E_NO_NUMA: NotFoundError, E_NO_NODE: NotFoundError, E_NO_DEVICE: NotFoundError,
    E_NO_MATCH: NotFoundError,
    E_NOT_ALLOWED: PermissionDeniedError,
    E_REMOTE_ROOT: NotSupportedError, E_NOT_MEMORY_NODE: NotSupportedError,
    E_NOT_COMPRESSED: NotSupportedError, E_NO_WRITE_CONTROL: NotSupportedError,
    E_NO_CTIER: NotSupportedError,
    E_UNKNOWN: UnknownValueError,
    E_PARSE: DiscoveryError, E_HWLOC: DiscoveryError,
    E_MISPLACED: PlacementError,
    E_INCOMPRESSIBLE: IncompressibleError,
    E_FOREIGN: MisuseError, E_DOUBLE_FREE: MisuseError, E_INTERIOR: MisuseError,
    E_DESTROYED: MisuseError,
    E_STALE_HANDLE: StaleHandleError, E_NOT_SHAREABLE: NotSupportedError,
    E_NODE_CHANGED: PlacementError, E_BAD_HANDLE: InvalidArgumentError,
    E_NOT_ON_LIST: InvalidArgumentError,
}

_BY_ERRNO = {
    _errno.EINVAL: InvalidArgumentError, _errno.ERANGE: InvalidArgumentError,
    _errno.EOVERFLOW: InvalidArgumentError, _errno.E2BIG: InvalidArgumentError,
    _errno.ENOMEM: OutOfMemoryError,
    _errno.ENOENT: NotFoundError, _errno.ENODEV: NotFoundError, _errno.ENXIO: NotFoundError,
    _errno.ENOTDIR: NotFoundError,
    _errno.EACCES: PermissionDeniedError, _errno.EPERM: PermissionDeniedError,
    _errno.EBUSY: BusyError,
    _errno.EOPNOTSUPP: NotSupportedError, _errno.ENOSYS: NotSupportedError,
}


def error_class(code):
    """The exception class for a (negative) code."""
    code = int(code)
    if code <= -ERRNO_BASE:
        return _BY_LIBRARY_CODE.get(code, Error)
    return _BY_ERRNO.get(-code, Error)


def make_error(code, what=None, detail=None):
    """An exception instance for a negative code (not raised)."""
    return error_class(code)(code, what, detail)


def check(rc, what):
    """Return ``rc`` when it is >= 0; raise the matching error otherwise."""
    if rc < 0:
        raise make_error(rc, what)
    return rc


def closed(what, detail):
    """The MisuseError for an object used after close()."""
    return MisuseError(E_DESTROYED, what, detail)
