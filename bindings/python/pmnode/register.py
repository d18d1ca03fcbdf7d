"""Registration: the extents behind a backing, arena or slab, and the
backing's map/unmap hooks (pmn_backing(3), Registration).

A device (io_uring, RDMA, a GPU) must be told about memory before it
touches it.  :meth:`Backing.extents`, :meth:`Arena.extents` and
:meth:`Slab.extents` list the memory as :class:`Extent` tuples;
:meth:`Backing.set_hooks` has the library call Python for each extent
mapped (before any object in it is handed out) and before each is unmapped.

Callback lifetime: the ctypes thunks and the hooks struct are kept on the
:class:`Backing` object for as long as it exists, and arenas, slabs and
regions keep their Backing object alive, so the C library never calls a
freed thunk while memory of the backing is mapped.  A callback that raises
is not allowed to unwind through C: for ``on_map`` the map fails (the
allocation raises ``OutOfMemoryError``, a bare map the hook's code
``-ECANCELED``) and the exception is kept in :attr:`Backing.hook_errors`;
for ``on_unmap`` it is kept there too.
"""
import ctypes
import errno
from collections import namedtuple

from . import errors
from ._lib import EXTENT_FN, EXTENT_UNMAP_FN, LIB, ExtentHooks, sized

#: One extent: ``addr`` (int), ``len`` (bytes), ``node`` (-1 unknown),
#: ``fd`` (memfd or dax device, owned by the library; -1 none) and
#: ``offset`` (of addr in fd's file; 0 without fd).
Extent = namedtuple("Extent", "addr len node fd offset")


def _extent(p):
    e = p.contents
    return Extent(e.addr or 0, e.len, e.node, e.fd, e.offset)


def list_extents(cfn, handle, what):
    """The extents ``cfn`` (pmn_*_extents) reports for ``handle``."""
    out = []

    def collect(p, _arg):
        out.append(_extent(p))
        return 0

    thunk = EXTENT_FN(collect)  # lives until the call returns
    errors.check(cfn(handle, thunk, None), what)
    return out


def make_hooks(on_map, on_unmap, errors_out):
    """A hooks struct for the callables (either may be None) and the
    thunks that must outlive it."""
    def map_cb(p, _arg):
        try:
            rc = on_map(_extent(p))
        except BaseException as e:  # never unwind through C
            errors_out.append(e)
            return -errno.ECANCELED
        return int(rc or 0)

    def unmap_cb(p, _arg):
        try:
            on_unmap(_extent(p))
        except BaseException as e:
            errors_out.append(e)

    h = sized(ExtentHooks)
    keep = []
    if on_map is not None:
        keep.append(EXTENT_FN(map_cb))
        h.on_map = keep[-1]
    if on_unmap is not None:
        keep.append(EXTENT_UNMAP_FN(unmap_cb))
        h.on_unmap = keep[-1]
    keep.append(h)
    return h, keep


def set_hooks(backing, on_map, on_unmap):
    """Backing.set_hooks: see its docstring."""
    with backing._use("Backing.set_hooks") as h:
        if on_map is None and on_unmap is None:
            errors.check(LIB.pmn_backing_set_hooks(h, None), "pmn_backing_set_hooks")
            return
        hooks, keep = make_hooks(on_map, on_unmap, backing.hook_errors)
        errors.check(LIB.pmn_backing_set_hooks(h, ctypes.byref(hooks)), "pmn_backing_set_hooks")
        backing._hook_thunks.append(keep)  # never dropped: see the module's docstring
