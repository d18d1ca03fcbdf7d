"""The compressed tier: explicit demotion of cold memory, with write control.

A compressed memory node stores pages compressed: its real capacity
depends on the data, and writes must be controlled.  A
:class:`CompressedTier` demotes cold ranges there explicitly and
write-protects them; the first write to a demoted page moves exactly that
page back to a normal node, then lets the write proceed.  Reads never move
anything::

    ctx = pmnode.Context()                     # a node discovery marks compressed
    with ctx.compressed_tier() as tier, pmnode.Backing(ctx, node=0) as b:
        r = b.map(1 << 20)
        r.write(cold_data)
        tier.demote(r)                         # refused if it would not fit or compress
        r.view[0] = 1                          # that page comes back, by itself
        print(tier.stats())

Before any page moves, a demotion is checked: the data is sampled through
LZ4 to estimate its ratio (:func:`estimate`); data below the tier's
minimum ratio is refused (:class:`IncompressibleError`), and so is a
demotion whose estimated size would overfill the device
(:class:`OutOfMemoryError` with code PMN_E_TIER_FULL).

Write control is userfaultfd write-protection (a handler thread per tier)
or, where that is unavailable, ``mprotect`` plus a SIGSEGV handler;
:attr:`CompressedTier.write_control` says which.  Under ``"mprotect"`` and
``"userfaultfd-wp-user"``, a *system call* writing into demoted memory
(``file.readinto(view)``, ``os.readv``) fails with EFAULT (``OSError``)
instead of promoting: write from Python code, or promote first.  Promote
(or close the tier) before freeing or unmapping demoted memory: under
``"mprotect"`` the tier does not notice the unmap.  A SIGSEGV handler
installed after the tier opened (``faulthandler.enable()``) would hide the
tier's own under ``"mprotect"``: enable faulthandler first.

Thread-safety: every call may be made from any thread (demote, promote and
the write handler serialise on the tier's lock); ``close()`` waits for
calls in progress and keeps new ones out.
"""
import ctypes
import errno

from . import errors
from ._lib import LIB, CtierOpts, CtierStats, fields, sized, text
from ._owned import Owned
from .memory import pinned_range

#: Write-control mechanisms to ask for (enum pmn_ctier_wc).
WRITE_CONTROLS = ("auto", "uffd", "mprotect")
#: What a write fault does when its page cannot be promoted (enum pmn_ctier_on_full).
ON_FULL = ("write-in-place", "retry")


def estimate(obj, length=None, samples=0):
    """Estimated compression ratio of memory (LZ4 over up to ``samples``
    pages, evenly spaced; 0 means 16): >= 1 means it shrinks.

    ``obj`` is a :class:`Block`, :class:`Region`, any contiguous buffer
    (``bytes`` too) or an ``int`` address with ``length``.  Reads the
    memory; thread-safe.
    """
    with pinned_range(obj, length, "estimate") as (addr, n):
        r = LIB.pmn_ctier_estimate(addr, n, int(samples))
    if r < 0:
        raise errors.make_error(int(r), "pmn_ctier_estimate")
    return r


def _stats_json(st):
    n = errors.check(LIB.pmn_ctier_stats_json(ctypes.byref(st), None, 0), "pmn_ctier_stats_json")
    buf = ctypes.create_string_buffer(n + 1)
    errors.check(LIB.pmn_ctier_stats_json(ctypes.byref(st), buf, n + 1), "pmn_ctier_stats_json")
    return buf.value.decode()


class CompressedTier(Owned):
    """A compressed tier on a context's compressed node.

    Arguments (all optional):

    * ``node``: the compressed node; default the first node of kind
      ``"compressed"`` (discovered, or declared with
      ``Context(node_kinds={N: "compressed"})`` or the config file).
    * ``promote_node``: where written pages go; default the lowest-id node
      with CPUs and memory.
    * ``capacity_bytes``: physical capacity the guard uses; 0 = the
      device's size (cramdax), else the node's MemTotal.
    * ``min_ratio``: refuse data compressing worse than this (0 = 1.5).
    * ``reserve``: fraction of capacity kept free (0 = 0.05).
    * ``on_full``: ``"write-in-place"`` (a write whose page cannot be
      promoted lands on the compressed node, counted) or ``"retry"``
      (the writer waits and retries every millisecond).
    * ``write_control``: ``"auto"`` (userfaultfd where the kernel allows
      it, else mprotect), ``"uffd"`` or ``"mprotect"``.

    Raises NotSupportedError (PMN_E_NOT_COMPRESSED: the node is not
    compressed; PMN_E_NO_WRITE_CONTROL; PMN_E_REMOTE_ROOT), NotFoundError
    (PMN_E_NO_NODE), InvalidArgumentError.  A context manager: closing
    lifts every protection and stops the handler (pages stay where they
    are).  The tier keeps its context alive.
    """

    _kind = "compressed tier"

    def __init__(self, context, *, node=-1, promote_node=-1, capacity_bytes=0, min_ratio=0.0,
                 reserve=0.0, on_full="write-in-place", write_control="auto"):
        for name, value, allowed in (("on_full", on_full, ON_FULL),
                                     ("write_control", write_control, WRITE_CONTROLS)):
            if value not in allowed:
                raise errors.InvalidArgumentError(-errno.EINVAL, "CompressedTier",
                                                  "%s %r is not one of %s"
                                                  % (name, value, ", ".join(allowed)))
        opts = CtierOpts(ctypes.sizeof(CtierOpts), -1 if node is None else int(node),
                         -1 if promote_node is None else int(promote_node), int(capacity_bytes),
                         float(min_ratio), float(reserve), ON_FULL.index(on_full),
                         WRITE_CONTROLS.index(write_control))
        self._context = context
        self._attach(context)
        handle = ctypes.c_void_p()
        try:
            with context._use("CompressedTier") as ch:
                errors.check(LIB.pmn_ctier_open(ch, ctypes.byref(opts), ctypes.byref(handle)),
                             "pmn_ctier_open")
        except BaseException:
            self._detach_failed()
            raise
        self._handle = handle.value

    def _release_handle(self, handle):
        LIB.pmn_ctier_close(handle)

    @property
    def context(self):
        """The :class:`Context` the tier was opened on."""
        return self._context

    @property
    def node(self):
        """The compressed node's id."""
        with self._gate.use("CompressedTier.node"):
            return LIB.pmn_ctier_node(self._handle)

    @property
    def write_control(self):
        """The mechanism in use: ``"userfaultfd-wp"`` (user and kernel
        writes trap), ``"userfaultfd-wp-user"`` (user-mode writes only) or
        ``"mprotect"``."""
        with self._gate.use("CompressedTier.write_control"):
            return text(LIB.pmn_ctier_write_control(self._handle))

    def demote(self, obj, length=None):
        """Demote memory to the tier: check the estimate and capacity, then
        write-protect and move every page.

        ``obj``: a :class:`Region`, :class:`Block`, buffer or ``int``
        address (then ``length``), page-aligned anonymous private memory.
        Raises InvalidArgumentError (misaligned, not private anonymous
        memory, cutting a transparent huge page), BusyError (already
        demoted), IncompressibleError, OutOfMemoryError (PMN_E_TIER_FULL,
        ENOMEM).  Thread-safe.
        """
        self._range_call("CompressedTier.demote", obj, length,
                         lambda a, n: LIB.pmn_ctier_demote(self._handle, a, n))

    def promote(self, obj, length=None, node=None):
        """Move a demoted range back to ``node`` (default: the promote node)
        and lift its protection.  Raises with EAGAIN when the kernel could
        not migrate a page at that moment (another thread was using it): that
        page stays on the tier, protected, the others are back; call again.
        Thread-safe."""
        to = -1 if node is None else int(node)
        self._range_call("CompressedTier.promote", obj, length,
                         lambda a, n: LIB.pmn_ctier_promote(self._handle, a, n, to))

    def _range_call(self, what, obj, length, fn):
        with self._gate.use(what), pinned_range(obj, length, what) as (addr, n):
            errors.check(fn(addr, n), what)

    def _stats_struct(self, what):
        st = sized(CtierStats)
        with self._gate.use(what):
            errors.check(LIB.pmn_ctier_stats(self._handle, ctypes.byref(st)), what)
        return st

    def stats(self):
        """Counters as a dict: logical_bytes (demoted and still on the
        tier), physical_bytes (their estimated compressed size), ratio,
        capacity_bytes, demotions, demoted_pages, promotions (explicit),
        write_promotions (pages a write brought back), write_failures,
        refusals, returned_pages (pages the tier brought back on its own
        after races with other threads, since 0.11.0).  Thread-safe."""
        st = self._stats_struct("CompressedTier.stats")
        return {name: getattr(st, name) for name in fields(st)}

    def stats_json(self):
        """The stats as the library's own JSON text (pmn_ctier_stats_json)."""
        return _stats_json(self._stats_struct("CompressedTier.stats_json"))

    def __repr__(self):
        if self._closed:
            return "<pmnode.CompressedTier closed>"
        return "<pmnode.CompressedTier node %d, %s>" % (self.node, self.write_control)
