"""Discovery: contexts, NUMA nodes, device-dax devices and CXL regions.

A :class:`Context` is a snapshot of one machine's memory topology, taken
when it is created: this machine (root ``"/"``), or a captured sysfs tree
under another root (then discovery works the same and mapping memory is
refused).  Nodes, dax devices and CXL regions are read-only views into
the snapshot::

    with pmnode.Context() as ctx:
        for n in ctx.nodes:
            print(n.id, n.kind, n.is_private, n.capacity)

Values the kernel did not report are ``None``, never 0.

Thread-safety: a context is immutable after creation; every getter may be
called from any number of threads at once (as in C).
"""
import ctypes
import errno
from collections import namedtuple

from . import errors
from ._lib import (LIB, Device as _Device, HugePool as _HugePool, Perf as _Perf,
                   SideCache as _SideCache, arg, id_or_none, sized, text, u64_or_none)
from ._owned import Owned

#: Node kinds, in the order of enum pmn_kind.
KINDS = ("unknown", "dram", "hbm", "nvm", "spm", "cxl", "gpu", "compressed")

#: Flags of pmn_ctx_params_set_flags().
_IGNORE_ENV, _NO_HWLOC, _NO_CONFIG = 1, 2, 4

#: Kernel ABI generations (enum pmn_abi), by bit.
ABI_NAMES = ("mainline", "private_memory", "common_memory", "user_memory", "mem_features",
             "dax_private", "cramdax", "memory_tiering")

_DAX_MODE_CLASSES = ("unbound", "devdax", "system-ram", "other")

_RANKS = ("capacity", "bandwidth", "latency")

Perf = namedtuple("Perf", "read_bandwidth write_bandwidth read_latency write_latency")
Perf.__doc__ = """Access performance from the best initiator (nodeN/access0):
bandwidths in MB/s, latencies in ns; None where unknown."""

HugePagePool = namedtuple("HugePagePool", "page_size total free surplus")
HugePagePool.__doc__ = """One huge page pool of a node: page size in bytes, and
nr/free/surplus page counts (None where unknown)."""

SideCache = namedtuple("SideCache", "level size line_size indexing write_policy")
SideCache.__doc__ = """One memory-side cache of a node (Node.side_caches, since 0.8):
level (1 nearest the memory), size and line size in bytes, indexing
("direct-mapped", "indexed", "other") and write policy ("write-back",
"write-through", "other"); None where unknown.  The names are those of
``pmnode list --json``."""

_INDEXINGS = ("direct-mapped", "indexed")
_WRITE_POLICIES = ("write-back", "write-through")


def _cache_name(v, names):
    if v < 0:
        return None
    return names[v] if v < len(names) else "other"


Device = namedtuple("Device", "name type pci node")
Device.__doc__ = """A device near a node (Context.devices, since 0.3): name ("eth0", or
the PCI address), type ("net", "gpu", "nvme", "accel", "cxl"), PCI address
of the device or its nearest PCI ancestor (None when none), node (None when
unknown)."""


def kind_value(kind):
    """The enum pmn_kind value of a kind name (case-insensitive)."""
    if isinstance(kind, int):
        if not 0 <= kind < len(KINDS):
            raise errors.InvalidArgumentError(-errno.EINVAL, "kind", "%d is not a kind" % kind)
        return kind
    out = ctypes.c_int()
    rc = LIB.pmn_kind_parse(arg(kind), ctypes.byref(out))
    if rc < 0:
        raise errors.InvalidArgumentError(rc, "pmn_kind_parse", "%r is not one of %s"
                                          % (kind, ", ".join(KINDS)))
    return out.value


def _kind_name(value):
    return text(LIB.pmn_kind_name(value))


class Context(Owned):
    """A snapshot of one machine's memory topology.

    Arguments (all optional):

    * ``root``: directory holding the ``sys/`` (and ``proc/``) of the
      machine to describe; default ``PMNODE_SYSFS_ROOT`` or ``"/"``.
    * ``private_nodes``: node list an administrator marks private
      (``"2-3,8"`` or an iterable of ids); overrides PMNODE_PRIVATE_NODES.
    * ``node_kinds``: ``{node: kind}`` declaring kinds (``"compressed"``,
      ``"cxl"``...), overriding every discovered signal.
    * ``config``: configuration file to read instead of PMNODE_CONFIG or
      ``ROOT/etc/pmnode.conf``.
    * ``ignore_env``: read no PMNODE_* variable; ``no_hwloc``: sysfs only;
      ``no_config``: read no configuration file.

    Raises :class:`NotFoundError` for a root that is not a directory
    (ENOENT, ENOTDIR) or has no ``sys/devices/system/node``
    (PMN_E_NO_NUMA), :class:`InvalidArgumentError` for a malformed node
    list, kind or PMNODE_* variable (PMN_E_CONFIG).

    A context is a context manager; it stays alive while a backing or tier
    made on it is open, whatever the order of ``close()`` calls.
    Thread-safe, immutable.
    """

    _kind = "context"

    def __init__(self, root=None, *, private_nodes=None, node_kinds=None, config=None,
                 ignore_env=False, no_hwloc=False, no_config=False):
        self._attach(None)
        handle = ctypes.c_void_p()
        try:
            simple = (private_nodes is None and not node_kinds and config is None and
                      not (ignore_env or no_hwloc or no_config))
            if simple and root is None:
                errors.check(LIB.pmn_ctx_new(ctypes.byref(handle)), "pmn_ctx_new")
            elif simple:
                errors.check(LIB.pmn_ctx_new_at(ctypes.byref(handle), arg(root)),
                             "pmn_ctx_new_at(%s)" % (root,))
            else:
                self._new_params(handle, root, private_nodes, node_kinds, config,
                                 (_IGNORE_ENV if ignore_env else 0) |
                                 (_NO_HWLOC if no_hwloc else 0) |
                                 (_NO_CONFIG if no_config else 0))
        except BaseException:
            self._detach_failed()
            raise
        self._handle = handle.value

    @staticmethod
    def _new_params(handle, root, private_nodes, node_kinds, config, flags):
        params = ctypes.c_void_p()
        errors.check(LIB.pmn_ctx_params_new(ctypes.byref(params)), "pmn_ctx_params_new")
        p = params.value
        try:
            if root is not None:
                errors.check(LIB.pmn_ctx_params_set_root(p, arg(root)),
                             "pmn_ctx_params_set_root")
            if private_nodes is not None:
                if not isinstance(private_nodes, str):
                    private_nodes = ",".join(str(int(n)) for n in private_nodes)
                rc = LIB.pmn_ctx_params_set_private_nodes(p, arg(private_nodes))
                if rc < 0:
                    raise errors.make_error(rc, "pmn_ctx_params_set_private_nodes",
                                            "bad node list %r" % private_nodes)
            for node, kind in (node_kinds or {}).items():
                errors.check(LIB.pmn_ctx_params_set_node_kind(p, int(node), kind_value(kind)),
                             "pmn_ctx_params_set_node_kind(%s)" % node)
            if config is not None:
                errors.check(LIB.pmn_ctx_params_set_config(p, arg(config)),
                             "pmn_ctx_params_set_config")
            errors.check(LIB.pmn_ctx_params_set_flags(p, flags), "pmn_ctx_params_set_flags")
            why = ctypes.create_string_buffer(512)
            errors.check(LIB.pmn_ctx_params_set_error_buffer(p, why, len(why)),
                         "pmn_ctx_params_set_error_buffer")
            rc = LIB.pmn_ctx_new_params(ctypes.byref(handle), p)
            if rc < 0:
                # The library's own words for a configuration problem
                # (file and line, or the variable), when it has them.
                raise errors.make_error(
                    rc, "pmn_ctx_new_params(%s)" % (root if root is not None else "default",),
                    why.value.decode(errors="replace") or None)
        finally:
            LIB.pmn_ctx_params_free(p)

    def _release_handle(self, handle):
        LIB.pmn_ctx_unref(handle)

    def _call(self, what, fn, *args):
        with self._use(what) as h:
            return fn(h, *args)

    def _walk(self, what, first, nxt, wrap):
        with self._use(what) as h:
            out = []
            p = first(h)
            while p:
                out.append(wrap(self, p))
                p = nxt(p)
            return tuple(out)

    # ---- the machine ----

    @property
    def root(self):
        """The root the context describes (``"/"`` for this machine)."""
        return text(self._call("Context.root", LIB.pmn_ctx_root))

    @property
    def is_local(self):
        """True when the context describes this machine (mapping allowed)."""
        return bool(self._call("Context.is_local", LIB.pmn_ctx_is_local))

    @property
    def abi(self):
        """Kernel private-node ABI generations seen, as a frozenset of
        names from :data:`ABI_NAMES` (``"mainline"``, ``"cramdax"``...)."""
        bits = self._call("Context.abi", LIB.pmn_ctx_abi)
        return frozenset(n for i, n in enumerate(ABI_NAMES) if bits & (1 << i))

    @property
    def problems(self):
        """Problems met during discovery (a malformed or missing attribute
        that made a field unknown), as a list of lines."""
        with self._use("Context.problems") as h:
            n = LIB.pmn_ctx_problems(h, None, 0)
            lines = (ctypes.c_char_p * max(n, 1))()
            n = min(n, LIB.pmn_ctx_problems(h, lines, n))
            return [text(lines[i]) for i in range(n)]

    # ---- nodes ----

    @property
    def nodes(self):
        """Every online node, by ascending id (ids may be sparse), as a tuple
        of :class:`Node`."""
        return self._walk("Context.nodes", LIB.pmn_node_first, LIB.pmn_node_next, Node)

    @property
    def node_count(self):
        """Number of online nodes."""
        return self._call("Context.node_count", LIB.pmn_node_count)

    def node(self, node_id):
        """The :class:`Node` with this id; :class:`NotFoundError`
        (PMN_E_NO_NODE) when there is none."""
        p = self._call("Context.node", LIB.pmn_node_get, int(node_id))
        if not p:
            raise errors.NotFoundError(errors.E_NO_NODE, "Context.node", "node %s" % node_id)
        return Node(self, p)

    def __contains__(self, node_id):
        return bool(self._call("Context", LIB.pmn_node_get, int(node_id)))

    def read_free(self, node_id):
        """A node's free memory now, in bytes (not the snapshot); None when
        the kernel does not report it.  NotFoundError for no such node."""
        out = ctypes.c_uint64()
        rc = self._call("Context.read_free", LIB.pmn_node_read_free, int(node_id),
                        ctypes.byref(out))
        if rc == errors.E_UNKNOWN:
            return None
        errors.check(rc, "pmn_node_read_free(%s)" % node_id)
        return out.value

    def read_available(self, node_id):
        """How much memory a node can give now, in bytes: the figure the
        free-memory check compares with a request plus headroom (MemFree less
        what the zones keep back, plus what the kernel can reclaim; MemFree
        when the root has no /proc/zoneinfo).  None when the kernel does not
        report it.  NotFoundError for no such node."""
        out = ctypes.c_uint64()
        rc = self._call("Context.read_available", LIB.pmn_node_read_available, int(node_id),
                        ctypes.byref(out))
        if rc == errors.E_UNKNOWN:
            return None
        errors.check(rc, "pmn_node_read_available(%s)" % node_id)
        return out.value

    # ---- devices ----

    @property
    def dax_devices(self):
        """Every device-dax device, as a tuple of :class:`DaxDevice`."""
        return self._walk("Context.dax_devices", LIB.pmn_dax_first, LIB.pmn_dax_next, DaxDevice)

    def dax(self, name):
        """The dax device by name (``"dax0.0"``); NotFoundError
        (PMN_E_NO_DEVICE) when there is none."""
        p = self._call("Context.dax", LIB.pmn_dax_get, arg(name))
        if not p:
            raise errors.NotFoundError(errors.E_NO_DEVICE, "Context.dax", name)
        return DaxDevice(self, p)

    @property
    def cxl_regions(self):
        """Every CXL region, as a tuple of :class:`CxlRegion`."""
        return self._walk("Context.cxl_regions", LIB.pmn_cxl_first, LIB.pmn_cxl_next,
                          CxlRegion)

    # ---- selection helpers ----

    def nodes_of_kind(self, kind):
        """Ids of the nodes of ``kind`` (a name such as ``"cxl"``), ascending.
        InvalidArgumentError for a name that is not a kind."""
        k = kind_value(kind)
        with self._use("Context.nodes_of_kind") as h:
            cap = max(LIB.pmn_node_count(h), 1)
            ids = (ctypes.c_int * cap)()
            n = LIB.pmn_nodes_of_kind(h, k, ids, cap)
        return [ids[i] for i in range(min(n, cap))]

    def nearest_private_node(self, from_node=0):
        """The private node nearest node ``from_node`` by kernel distance
        (lowest id wins ties).  NotFoundError (PMN_E_NO_MATCH) when no node
        is private, (PMN_E_NO_NODE) when ``from_node`` does not exist;
        UnknownValueError when there are no distances to rank by."""
        out = ctypes.c_int()
        errors.check(self._call("Context.nearest_private_node", LIB.pmn_nearest_private_node,
                                                  int(from_node), ctypes.byref(out)),
                     "pmn_nearest_private_node(%s)" % from_node)
        return out.value

    def nearest_private_to_cpu(self, cpu):
        """The private node nearest CPU ``cpu`` (through the CPU's node);
        errors as :meth:`nearest_private_node`."""
        out = ctypes.c_int()
        errors.check(self._call("Context.nearest_private_to_cpu", LIB.pmn_nearest_private_to_cpu,
                                                    int(cpu), ctypes.byref(out)),
                     "pmn_nearest_private_to_cpu(%s)" % cpu)
        return out.value

    # ---- spill lists and device locality (0.3) ----

    def spill_list(self, from_node, *, kinds=None, private=False):
        """A spill list for :class:`Backing`: the node ids with memory, nearest
        ``from_node`` first by kernel distance (ties by id), restricted to
        ``kinds`` (an iterable of kind names) and to private nodes with
        ``private=True``.  Never a node without memory.

        NotFoundError (PMN_E_NO_NODE) for an unknown ``from_node``,
        (PMN_E_NO_MATCH) when no node qualifies; UnknownValueError when the
        kernel gives no distance to a node that qualifies.
        """
        mask = 0
        for k in kinds or ():
            mask |= 1 << kind_value(k)
        ids = (ctypes.c_int * 64)()
        n = self._call("Context.spill_list", LIB.pmn_spill_list, int(from_node), mask,
                       1 if private else 0, ids, 64)
        errors.check(n, "pmn_spill_list(%s)" % from_node)
        return [ids[i] for i in range(n)]

    def device_node(self, dev):
        """The node device ``dev`` sits on: a PCI address (``"0000:3b:00.0"``
        or ``"3b:00.0"``), a network interface (``"eth0"``) or a device
        directory under the root (``"/sys/devices/..."``).

        InvalidArgumentError for a malformed name (or a path leaving the
        root), NotFoundError (PMN_E_NO_DEVICE) for no such device,
        UnknownValueError when neither the kernel nor hwloc says.
        """
        out = ctypes.c_int()
        errors.check(self._call("Context.device_node", LIB.pmn_device_node, arg(dev),
                                ctypes.byref(out)), "pmn_device_node(%r)" % (dev,))
        return out.value

    def nearest_node_to_device(self, dev):
        """The node with memory nearest device ``dev``: its own when it has
        memory, else the nearest by distance; errors as :meth:`device_node`."""
        out = ctypes.c_int()
        errors.check(self._call("Context.nearest_node_to_device",
                                LIB.pmn_nearest_node_to_device, arg(dev), ctypes.byref(out)),
                     "pmn_nearest_node_to_device(%r)" % (dev,))
        return out.value

    def nearest_private_to_device(self, dev):
        """The private node nearest device ``dev``; errors as
        :meth:`device_node` and :meth:`nearest_private_node`."""
        out = ctypes.c_int()
        errors.check(self._call("Context.nearest_private_to_device",
                                LIB.pmn_nearest_private_to_device, arg(dev), ctypes.byref(out)),
                     "pmn_nearest_private_to_device(%r)" % (dev,))
        return out.value

    @property
    def devices(self):
        """The network interfaces and PCI devices (GPUs, NVMe, accelerators,
        CXL memory devices) of the machine, read now, as a tuple of
        :class:`Device` (``node`` None when unknown)."""
        with self._use("Context.devices") as h:
            n = LIB.pmn_devices(h, None, 0)
            errors.check(n, "pmn_devices")
            arr = (_Device * (n + 8))()
            arr[0].struct_size = ctypes.sizeof(_Device)
            got = LIB.pmn_devices(h, arr, n + 8)
            errors.check(got, "pmn_devices")
        return tuple(Device(text(d.name), text(d.type), text(d.pci) or None,
                            id_or_none(d.node)) for d in arr[:min(got, n + 8)])

    def best_node(self, rank="capacity", *, private=False, kind=None):
        """The best node by ``rank``: ``"capacity"`` (highest MemTotal),
        ``"bandwidth"`` (highest read bandwidth) or ``"latency"`` (lowest
        read latency), among private nodes only with ``private=True`` and
        nodes of ``kind`` only when given.

        NotFoundError (PMN_E_NO_MATCH) when no node qualifies,
        UnknownValueError (PMN_E_UNKNOWN) when nodes qualify but the kernel
        gives nothing to rank them by: never a guess.
        """
        if rank not in _RANKS:
            raise errors.InvalidArgumentError(-errno.EINVAL, "Context.best_node",
                                              "rank %r is not one of %s"
                                              % (rank, ", ".join(_RANKS)))
        flags = (1 if private else 0) | (2 if kind is not None else 0)
        k = kind_value(kind) if kind is not None else 0
        out = ctypes.c_int()
        errors.check(self._call("Context.best_node", LIB.pmn_best_node, _RANKS.index(rank),
                                       flags, k, ctypes.byref(out)),
                     "pmn_best_node(%s)" % rank)
        return out.value

    # ---- what can be made on a context ----

    def backing(self, node=None, **kwargs):
        """A :class:`Backing` on this context (see its arguments)."""
        from .memory import Backing
        return Backing(self, node, **kwargs)

    def compressed_tier(self, **kwargs):
        """A :class:`CompressedTier` on this context (see its arguments)."""
        from .ctier import CompressedTier
        return CompressedTier(self, **kwargs)

    def migrate(self, obj, node, length=None, *, rollback=False, no_headroom=False):
        """Move a range's pages to ``node`` strictly: :func:`pmnode.migrate`
        on this context (since 0.6)."""
        from .migration import migrate
        return migrate(self, obj, node, length, rollback=rollback, no_headroom=no_headroom)

    def tracker(self, **kwargs):
        """A :class:`Tracker` on this context (see its arguments; since 0.6)."""
        from .track import Tracker
        return Tracker(self, **kwargs)

    def tier(self, hot_node, cold_node, **kwargs):
        """A :class:`Tier` on this context (see its arguments; since 0.6)."""
        from .tier import Tier
        return Tier(self, hot_node, cold_node, **kwargs)

    def to_dict(self):
        """The topology in the shape of ``pmnode list --json`` (the CLI
        contract of DESIGN.md): ``{"root", "nodes", "dax", "cxl"}``."""
        nodes = self.nodes
        ids = [n.id for n in nodes]

        devices = self.devices

        def node_dict(n):
            row = [n.distance(i) for i in ids]
            dax = n.dax
            return {"id": n.id, "kind": n.kind, "private": n.is_private,
                    "isolation": n.isolation, "cpus": n.cpulist,
                    "capacity_bytes": n.capacity, "free_bytes": n.free, "tier": n.tier,
                    "distance": None if None in row else row,
                    "dax": dax.name if dax is not None else None,
                    # added in 0.3, after the contract's own keys
                    "available_bytes": self.read_available(n.id),
                    "devices": [{"name": d.name, "type": d.type, "pci": d.pci}
                                for d in devices if d.node == n.id],
                    # added in 0.8: what the memory is, units in the names
                    **_node_extras(n)}

        def dax_dict(d):
            return {"name": d.name, "path": d.path, "size_bytes": d.size,
                    "align_bytes": d.align, "mode": d.mode, "target_node": d.target_node,
                    "numa_node": d.numa_node, "type": d.type}

        def cxl_dict(r):
            dax = r.dax
            return {"name": r.name, "mode": r.mode, "size_bytes": r.size,
                    "targets": r.targets, "dax": dax.name if dax is not None else None,
                    "node": r.node}

        return {"root": self.root, "nodes": [node_dict(n) for n in nodes],
                "dax": [dax_dict(d) for d in self.dax_devices],
                "cxl": [cxl_dict(r) for r in self.cxl_regions]}

    def __repr__(self):
        if self._closed:
            return "<pmnode.Context closed>"
        return "<pmnode.Context root=%r, %d nodes>" % (self.root, self.node_count)


def _node_extras(n):
    """The members ``pmnode list --json`` added in 0.8 for node @n."""
    p = n.perf
    z = n.zratio
    return {
        "read_bandwidth_mbps": p.read_bandwidth, "write_bandwidth_mbps": p.write_bandwidth,
        "read_latency_ns": p.read_latency, "write_latency_ns": p.write_latency,
        "hugepages": [{"page_size_bytes": h.page_size, "total": h.total, "free": h.free,
                       "surplus": h.surplus} for h in n.hugepools],
        # the CLI prints three decimals
        "zratio": None if z is None else round(z, 3),
        "memory_side_caches": [{"level": c.level, "size_bytes": c.size,
                                "line_size_bytes": c.line_size, "indexing": c.indexing,
                                "write_policy": c.write_policy} for c in n.side_caches],
    }


class _Part:
    """A node, dax device or CXL region: a pointer into its context."""

    __slots__ = ("_ctx", "_p")

    def __init__(self, ctx, p):
        self._ctx = ctx
        self._p = p

    def _use(self, what):
        return self._ctx._gate.use(what, self._p)

    def _call(self, what, fn, *args):
        with self._ctx._gate.use(what):
            return fn(self._p, *args)

    @property
    def context(self):
        """The :class:`Context` this belongs to."""
        return self._ctx

    def __eq__(self, other):
        return type(other) is type(self) and other._p == self._p

    def __hash__(self):
        return hash((type(self), self._p))


class Node(_Part):
    """One NUMA node of a context (a read-only view of the snapshot).

    Using a node after its context was closed raises MisuseError.
    """

    __slots__ = ("id",)

    def __init__(self, ctx, p):
        super().__init__(ctx, p)
        #: The node id (ids may be sparse and above 64).
        self.id = LIB.pmn_node_id(p)

    @property
    def kind(self):
        """``"dram"``, ``"hbm"``, ``"nvm"``, ``"spm"``, ``"cxl"``, ``"gpu"``,
        ``"compressed"`` or ``"unknown"``."""
        return _kind_name(self._call("Node.kind", LIB.pmn_node_kind))

    @property
    def is_private(self):
        """True when the node is kept out of normal allocation."""
        return bool(self._call("Node.is_private", LIB.pmn_node_is_private))

    @property
    def isolation(self):
        """Who keeps it out: ``"none"``, ``"kernel"`` or ``"config"``."""
        return text(LIB.pmn_isolation_name(self._call("Node.isolation", LIB.pmn_node_isolation)))

    @property
    def cpulist(self):
        """Kernel CPU list (``"0-3,8"``), ``""`` for a CPU-less node, None
        when the kernel's cpulist could not be read."""
        return text(self._call("Node.cpulist", LIB.pmn_node_cpulist))

    @property
    def cpu_count(self):
        """Number of CPUs in the node."""
        return self._call("Node.cpu_count", LIB.pmn_node_cpu_count)

    @property
    def capacity(self):
        """MemTotal in bytes, or None."""
        return u64_or_none(self._call("Node.capacity", LIB.pmn_node_capacity))

    @property
    def free(self):
        """MemFree in bytes when the context was created, or None
        (:meth:`read_free` reads it now)."""
        return u64_or_none(self._call("Node.free", LIB.pmn_node_free))

    def read_free(self):
        """MemFree now, in bytes, or None."""
        return self._ctx.read_free(self.id)

    def read_available(self):
        """Memory the node can give now, in bytes, or None
        (:meth:`Context.read_available`)."""
        return self._ctx.read_available(self.id)

    @property
    def tier(self):
        """Memory tier (1 is the fastest the kernel lists), or None."""
        return id_or_none(self._call("Node.tier", LIB.pmn_node_tier))

    def distance(self, to):
        """Kernel distance to node ``to`` (an id or a Node), or None."""
        to_id = to.id if isinstance(to, Node) else int(to)
        return id_or_none(self._call("Node.distance", LIB.pmn_node_distance, to_id))

    @property
    def hwloc_subtype(self):
        """hwloc's subtype (``"DRAM"``, ``"GPUMemory"``...), or None."""
        return text(self._call("Node.hwloc_subtype", LIB.pmn_node_hwloc_subtype))

    @property
    def mem_features(self):
        """The nodeN/mem_features capability mask, or None when the kernel
        has no such attribute."""
        mask = ctypes.c_uint64()
        rc = self._call("Node.mem_features", LIB.pmn_node_mem_features, ctypes.byref(mask))
        if rc == errors.E_UNKNOWN:
            return None
        errors.check(rc, "pmn_node_mem_features")
        return mask.value

    @property
    def user_allowed(self):
        """Whether user mempolicy may target the node: True, False, or None
        when the kernel does not say."""
        rc = self._call("Node.user_allowed", LIB.pmn_node_user_allowed)
        if rc == errors.E_UNKNOWN:
            return None
        return bool(errors.check(rc, "pmn_node_user_allowed"))

    @property
    def zratio(self):
        """Compression ratio of a compressed node (cramdax zratio), or None
        when unknown (the C call's -1)."""
        r = self._call("Node.zratio", LIB.pmn_node_zratio)
        return None if r < 0 else r

    @property
    def perf(self):
        """A :class:`Perf` (fields None where unknown; all None without HMAT)."""
        p = sized(_Perf)
        rc = self._call("Node.perf", LIB.pmn_node_perf, ctypes.byref(p))
        if rc != errors.E_UNKNOWN:
            errors.check(rc, "pmn_node_perf")
        return Perf(u64_or_none(p.read_bandwidth), u64_or_none(p.write_bandwidth),
                    u64_or_none(p.read_latency), u64_or_none(p.write_latency))

    @property
    def hugepools(self):
        """Huge page pools by ascending page size, as :class:`HugePagePool`."""
        with self._use("Node.hugepools") as h:
            n = errors.check(LIB.pmn_node_hugepools(h, None, 0), "pmn_node_hugepools")
            arr = (_HugePool * max(n, 1))()
            arr[0].struct_size = ctypes.sizeof(_HugePool)   # the element size
            n = min(n, errors.check(LIB.pmn_node_hugepools(h, arr, n), "pmn_node_hugepools"))
        return [HugePagePool(arr[i].page_size, u64_or_none(arr[i].total),
                             u64_or_none(arr[i].free), u64_or_none(arr[i].surplus))
                for i in range(n)]

    @property
    def side_caches(self):
        """Memory-side caches by ascending level, as :class:`SideCache`
        (empty on most machines).  Since 0.8."""
        with self._use("Node.side_caches") as h:
            n = errors.check(LIB.pmn_node_side_caches(h, None, 0), "pmn_node_side_caches")
            arr = (_SideCache * max(n, 1))()
            arr[0].struct_size = ctypes.sizeof(_SideCache)   # the element size
            n = min(n, errors.check(LIB.pmn_node_side_caches(h, arr, n),
                                    "pmn_node_side_caches"))
        return [SideCache(arr[i].level, u64_or_none(arr[i].size), u64_or_none(arr[i].line_size),
                          _cache_name(arr[i].indexing, _INDEXINGS),
                          _cache_name(arr[i].write_policy, _WRITE_POLICIES))
                for i in range(n)]

    @property
    def dax(self):
        """The :class:`DaxDevice` whose memory became this node, or None."""
        p = self._call("Node.dax", LIB.pmn_node_dax)
        return DaxDevice(self._ctx, p) if p else None

    def __repr__(self):
        if self._ctx.closed:
            return "<pmnode.Node %d (context closed)>" % self.id
        return "<pmnode.Node %d %s%s>" % (self.id, self.kind,
                                          " private" if self.is_private else "")


class DaxDevice(_Part):
    """One device-dax device of a context."""

    __slots__ = ()

    @property
    def name(self):
        """``"dax0.0"``."""
        return text(self._call("DaxDevice.name", LIB.pmn_dax_name))

    @property
    def path(self):
        """Character device path (``"/dev/dax0.0"``) on the machine described."""
        return text(self._call("DaxDevice.path", LIB.pmn_dax_path))

    @property
    def size(self):
        """Size in bytes, or None."""
        return u64_or_none(self._call("DaxDevice.size", LIB.pmn_dax_size))

    @property
    def align(self):
        """Mapping alignment in bytes, or None."""
        return u64_or_none(self._call("DaxDevice.align", LIB.pmn_dax_align))

    @property
    def mode(self):
        """``"devdax"``, ``"system-ram"``, ``"unbound"`` or the bound driver's
        name (``"cramdax"``), as in ``pmnode list --json``."""
        return text(self._call("DaxDevice.mode", LIB.pmn_dax_mode_name))

    @property
    def mode_class(self):
        """The mode as one of ``"unbound"``, ``"devdax"``, ``"system-ram"``,
        ``"other"`` (another driver)."""
        m = self._call("DaxDevice.mode_class", LIB.pmn_dax_mode)
        return _DAX_MODE_CLASSES[m] if 0 <= m < len(_DAX_MODE_CLASSES) else "other"

    @property
    def target_node(self):
        """Node the memory becomes when onlined, or None."""
        return id_or_none(self._call("DaxDevice.target_node", LIB.pmn_dax_target_node))

    @property
    def numa_node(self):
        """Node of the device itself, or None."""
        return id_or_none(self._call("DaxDevice.numa_node", LIB.pmn_dax_numa_node))

    @property
    def node(self):
        """Node the memory is online as now (kmem and friends), or None."""
        return id_or_none(self._call("DaxDevice.node", LIB.pmn_dax_node))

    @property
    def type(self):
        """``"spm"``, ``"nvm"``, ``"cxl"``, or None when unknown."""
        return text(self._call("DaxDevice.type", LIB.pmn_dax_type))

    @property
    def is_private(self):
        """True in devdax mode, or when the kernel marks the device private."""
        return bool(self._call("DaxDevice.is_private", LIB.pmn_dax_is_private))

    @property
    def cxl_region(self):
        """Name of the CXL region the device belongs to, or None."""
        return text(self._call("DaxDevice.cxl_region", LIB.pmn_dax_cxl_region))

    def __repr__(self):
        if self._ctx.closed:
            return "<pmnode.DaxDevice (context closed)>"
        return "<pmnode.DaxDevice %s %s>" % (self.name, self.mode)


class CxlRegion(_Part):
    """One CXL region of a context."""

    __slots__ = ()

    @property
    def name(self):
        """``"region0"``."""
        return text(self._call("CxlRegion.name", LIB.pmn_cxl_name))

    @property
    def mode(self):
        """``"ram"``, ``"pmem"``, or None."""
        return text(self._call("CxlRegion.mode", LIB.pmn_cxl_mode))

    @property
    def size(self):
        """Size in bytes, or None."""
        return u64_or_none(self._call("CxlRegion.size", LIB.pmn_cxl_size))

    @property
    def targets(self):
        """Names of the interleave targets (endpoint decoders), in order."""
        with self._use("CxlRegion.targets") as h:
            names = [LIB.pmn_cxl_target(h, i) for i in range(LIB.pmn_cxl_target_count(h))]
        return [text(t) for t in names if t is not None]

    @property
    def dax(self):
        """The :class:`DaxDevice` over the region, or None."""
        p = self._call("CxlRegion.dax", LIB.pmn_cxl_dax)
        return DaxDevice(self._ctx, p) if p else None

    @property
    def node(self):
        """The node the region's memory is online as, or None."""
        return id_or_none(self._call("CxlRegion.node", LIB.pmn_cxl_node))

    def __repr__(self):
        if self._ctx.closed:
            return "<pmnode.CxlRegion (context closed)>"
        return "<pmnode.CxlRegion %s %s>" % (self.name, self.mode)
