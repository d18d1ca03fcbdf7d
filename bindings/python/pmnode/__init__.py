"""pmnode: Python bindings for libpmnode, strict access to private memory.

libpmnode finds NUMA nodes the kernel keeps out of normal allocation (CXL
expanders, device-dax, GPU memory, compressed RAM), maps memory on exactly
the node asked for or fails with a clear error, carves it with arenas and
slabs, and demotes cold data to a compressed tier with write control.
This package is a thin ``ctypes`` layer over ``libpmnode.so``::

    import pmnode

    with pmnode.Context() as ctx:
        node = ctx.nearest_private_node(0)        # NotFoundError if none is private
        with pmnode.Backing(ctx, node=node) as b, pmnode.Arena(b) as arena:
            blk = arena.malloc(1 << 20)           # MemoryError when the node is full
            blk.view[:4] = b"data"                # a writable memoryview
            assert pmnode.where(blk).all_on(node)
            print(arena.stats())
            blk.free()

Modules, one per area: :mod:`pmnode.context` (discovery),
:mod:`pmnode.memory` (backings, regions, :func:`where`),
:mod:`pmnode.alloc` (arenas, slabs, blocks), :mod:`pmnode.ctier` (the
compressed tier), :mod:`pmnode.migration` (moving live data: strict moves
with a report), :mod:`pmnode.track` (access tracking),
:mod:`pmnode.tier` (caller-driven tiering), :mod:`pmnode.errors`
(exceptions and codes).

The library is loaded from ``PMNODE_LIBRARY`` (a path) if set, else
``ctypes.util.find_library("pmnode")``, else ``libpmnode.so.0``; its
version must be 0.2 or a later 0.x.  Environment variables of the library
(``PMNODE_SYSFS_ROOT``, ``PMNODE_PRIVATE_NODES``, ``PMNODE_CONFIG``,
``PMNODE_LOG``) apply as in C.
"""
from ._lib import LIBRARY_PATH, version
from .alloc import Arena, Block, Slab
from .context import (ABI_NAMES, KINDS, Context, CxlRegion, DaxDevice, Device, HugePagePool,
                      Node, Perf, SideCache)
from .ctier import CompressedTier, estimate
from .errors import (E_CONFIG, E_DESTROYED, E_DOUBLE_FREE, E_FOREIGN, E_HWLOC,
                     E_INCOMPRESSIBLE, E_INTERIOR, E_MISPLACED, E_NO_DEVICE, E_NO_HUGEPAGES,
                     E_NO_CTIER, E_CAP_REACHED, E_NO_MATCH, E_NO_NODE, E_NO_NUMA, E_NO_WRITE_CONTROL,
                     E_NODE_FULL,
                     E_NOT_ALLOWED, E_NOT_COMPRESSED, E_NOT_MEMORY_NODE, E_PARSE,
                     E_REMOTE_ROOT, E_TIER_FULL, E_UNKNOWN, BusyError, DiscoveryError, Error,
                     IncompressibleError, InvalidArgumentError, MisuseError, NotFoundError,
                     NotSupportedError, OutOfMemoryError, PermissionDeniedError,
                     PlacementError, UnknownValueError, err_name, last_error, strerror)
from .memory import Backing, Placement, Region, where
# sharing with other processes (0.4)
from .errors import (E_BAD_HANDLE, E_NODE_CHANGED, E_NOT_SHAREABLE, E_STALE_HANDLE,
                     StaleHandleError)
# moving live data, access tracking, tiering (0.6)
from .errors import E_NOT_ON_LIST
from .migration import MigrateError, MigrateReport, migrate
from .tier import Tier, TierStats
from .track import TrackExtent, Tracker, TrackReport
from .ipc import (FETCH_FD, KIND_DAX, KIND_MEMFD, IpcCache, IpcHandle, IpcMapping,
                  ipc_fd_readonly, ipc_get, ipc_recv, ipc_send)

__version__ = "0.12.7"

__all__ = [
    "version", "LIBRARY_PATH", "__version__",
    "Context", "Node", "DaxDevice", "CxlRegion", "Perf", "HugePagePool", "KINDS", "ABI_NAMES",
    "Device", "SideCache",
    "Backing", "Region", "Placement", "where",
    "Arena", "Slab", "Block",
    "CompressedTier", "estimate",
    "Error", "InvalidArgumentError", "OutOfMemoryError", "NotFoundError",
    "PermissionDeniedError", "BusyError", "NotSupportedError", "UnknownValueError",
    "DiscoveryError", "PlacementError", "IncompressibleError", "MisuseError",
    "strerror", "err_name", "last_error",
    "E_REMOTE_ROOT", "E_NO_NUMA", "E_NO_NODE", "E_NO_DEVICE", "E_UNKNOWN", "E_NO_MATCH",
    "E_PARSE", "E_CONFIG", "E_HWLOC", "E_MISPLACED", "E_NOT_ALLOWED", "E_NODE_FULL",
    "E_NO_HUGEPAGES", "E_NOT_MEMORY_NODE", "E_FOREIGN", "E_DOUBLE_FREE", "E_INTERIOR",
    "E_DESTROYED", "E_TIER_FULL", "E_INCOMPRESSIBLE", "E_NO_WRITE_CONTROL",
    "E_NOT_COMPRESSED", "E_NO_CTIER", "E_CAP_REACHED",
    # sharing with other processes (0.4)
    "IpcHandle", "IpcCache", "IpcMapping", "ipc_get", "ipc_send", "ipc_recv", "FETCH_FD",
    "KIND_MEMFD", "KIND_DAX", "ipc_fd_readonly",
    "StaleHandleError", "E_STALE_HANDLE", "E_NOT_SHAREABLE", "E_NODE_CHANGED", "E_BAD_HANDLE",
    # moving live data, access tracking, tiering (0.6)
    "E_NOT_ON_LIST", "migrate", "MigrateReport", "MigrateError",
    "Tracker", "TrackReport", "TrackExtent", "Tier", "TierStats",
]
