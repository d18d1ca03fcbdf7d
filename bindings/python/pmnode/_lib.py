"""Loading libpmnode.so and declaring its C prototypes.

This is the only module that knows the C ABI: the library is found once,
its version checked, and every function the package calls gets its
``argtypes`` and ``restype`` here, next to the ``ctypes`` mirrors of the
public structs of ``include/pmnode.h``.  The other modules call ``LIB``.

Where the library comes from, in order:

1. ``PMNODE_LIBRARY``: an explicit path (a build directory's
   ``libpmnode/libpmnode.so``, for example);
2. ``ctypes.util.find_library("pmnode")`` (the ldconfig cache);
3. ``libpmnode.so.0``, the soname, through the dynamic loader's own search
   (``LD_LIBRARY_PATH``, ``/usr/local/lib``...).

Every handle (context, node, backing, arena...) travels as a ``c_void_p``:
an ``int`` address or ``None`` for NULL on the Python side.
"""
import ctypes
import ctypes.util
import os
from ctypes import (POINTER, Structure, c_bool, c_char, c_char_p, c_double, c_int,
                    c_size_t, c_ssize_t, c_uint, c_uint64, c_void_p)

#: The oldest library this package was written against (major, minor): 0.2
#: gave the structs the library fills their leading struct_size.
REQUIRED_VERSION = (0, 2)

#: Returned by the C getters for "the kernel did not say" (PMN_UNKNOWN).
UNKNOWN_U64 = 2**64 - 1

#: Entries in the per-node arrays of the stats and where structs.
STATS_MAX_NODES = 64


def _load():
    explicit = os.environ.get("PMNODE_LIBRARY")
    if explicit:
        candidates = [explicit]
    else:
        candidates = [c for c in (ctypes.util.find_library("pmnode"), "libpmnode.so.0") if c]
    errors = []
    for name in candidates:
        try:
            return ctypes.CDLL(name, use_errno=True), name
        except OSError as e:
            errors.append("%s: %s" % (name, e))
    hint = ("PMNODE_LIBRARY is set but cannot be loaded" if explicit else
            "install libpmnode or set PMNODE_LIBRARY to the path of libpmnode.so")
    raise ImportError("pmnode: cannot load libpmnode (%s): %s" % (hint, "; ".join(errors)))


LIB, LIBRARY_PATH = _load()


# ---- structs (mirrors of include/pmnode.h; field order and types matter) ----
#
# Every struct crossing the interface begins with struct_size, which the
# caller sets to the size it knows (sized() does); the library fills as many
# bytes as both sides know and says how many in struct_size.

def sized(cls):
    """A zeroed ``cls`` with struct_size set, ready to pass to the library."""
    s = cls()
    s.struct_size = ctypes.sizeof(cls)
    return s


def fields(s):
    """The named fields of a struct filled by the library (struct_size left out)."""
    return [name for name, _ in s._fields_ if name != "struct_size"]


class Perf(Structure):
    _fields_ = [("struct_size", c_size_t), ("read_bandwidth", c_uint64),
                ("write_bandwidth", c_uint64), ("read_latency", c_uint64),
                ("write_latency", c_uint64)]


class HugePool(Structure):
    _fields_ = [("struct_size", c_size_t), ("page_size", c_uint64), ("total", c_uint64),
                ("free", c_uint64), ("surplus", c_uint64)]


class SideCache(Structure):
    """struct pmn_side_cache (0.8)."""
    _fields_ = [("struct_size", c_size_t), ("level", ctypes.c_uint), ("indexing", c_int),
                ("size", c_uint64), ("line_size", c_uint64), ("write_policy", c_int)]


class Device(Structure):
    """struct pmn_device (0.3)."""
    _fields_ = [("struct_size", c_size_t), ("name", ctypes.c_char * 32),
                ("type", ctypes.c_char * 16), ("pci", ctypes.c_char * 24), ("node", c_int)]


class _NodeBytes(Structure):
    _fields_ = [("node", c_int), ("bytes", c_uint64)]


class BackingStats(Structure):
    """struct pmn_backing_stats, with the field names of 0.8 (those of the
    stats JSON); the names before 0.8 stay readable as aliases."""
    _fields_ = [("struct_size", c_size_t), ("mapped_bytes", c_uint64),
                ("mapped_peak_bytes", c_uint64), ("region_maps", c_uint64),
                ("region_map_failures", c_uint64), ("spilled_bytes", c_uint64),
                ("nnodes", c_size_t), ("node", _NodeBytes * STATS_MAX_NODES)]
    peak_bytes = property(lambda self: self.mapped_peak_bytes)
    maps = property(lambda self: self.region_maps)
    failures = property(lambda self: self.region_map_failures)


class _NodePages(Structure):
    _fields_ = [("node", c_int), ("pages", c_uint64)]


class Where(Structure):
    _fields_ = [("struct_size", c_size_t), ("page_size", c_uint64), ("pages", c_uint64), ("not_present", c_uint64),
                ("unknown", c_uint64), ("other", c_uint64), ("nnodes", c_size_t),
                ("node", _NodePages * STATS_MAX_NODES)]


class ArenaOpts(Structure):
    _fields_ = [("struct_size", c_size_t), ("purge", c_int), ("retain", c_uint),
                ("cap_bytes", c_uint64), ("reserve_bytes", c_size_t),
                ("flags", c_uint), ("large_cache_bytes", c_uint64),
                ("small_cache_bytes", c_uint64)]


ARENA_POPULATE = 0x1
ARENA_LARGE_CACHE = 0x2
ARENA_SMALL_CACHE = 0x4
SLAB_CACHE = 0x1


class SlabOpts(Structure):
    _fields_ = [("struct_size", c_size_t), ("align", c_size_t), ("cap_bytes", c_uint64),
                ("cap_objects", c_uint64), ("purge", c_int), ("retain", c_uint),
                ("reserve_objects", c_size_t), ("flags", c_uint), ("cache_bytes", c_uint64)]


class AllocStats(Structure):
    _fields_ = [("struct_size", c_size_t), ("allocated", c_uint64), ("objects", c_uint64), ("active", c_uint64),
                ("resident", c_uint64), ("peak", c_uint64), ("allocs", c_uint64),
                ("frees", c_uint64), ("remote_frees", c_uint64), ("failures", c_uint64),
                ("backing", BackingStats), ("populated", c_uint64)]


class CtierOpts(Structure):
    _fields_ = [("struct_size", c_size_t), ("node", c_int), ("promote_node", c_int),
                ("capacity_bytes", c_uint64), ("min_ratio", c_double), ("reserve", c_double),
                ("on_full", c_int), ("write_control", c_int)]


class CtierStats(Structure):
    _fields_ = [("struct_size", c_size_t), ("logical_bytes", c_uint64), ("physical_bytes", c_uint64), ("ratio", c_double),
                ("capacity_bytes", c_uint64), ("demotions", c_uint64),
                ("demoted_pages", c_uint64), ("promotions", c_uint64),
                ("write_promotions", c_uint64), ("write_failures", c_uint64),
                ("refusals", c_uint64), ("returned_pages", c_uint64)]


# ---- prototypes ----

_vp, _s, _i, _u, _u64, _sz = c_void_p, c_char_p, c_int, c_uint, c_uint64, c_size_t
_P = POINTER

_PROTOTYPES = {
    # version and errors
    "pmn_version": (_s, []),
    "pmn_strerror": (_s, [_i]),
    "pmn_err_name": (_s, [_i]),
    # kinds and isolation
    "pmn_kind_name": (_s, [_i]),
    "pmn_kind_parse": (_i, [_s, _P(_i)]),
    "pmn_isolation_name": (_s, [_i]),
    # contexts
    "pmn_ctx_new": (_i, [_P(_vp)]),
    "pmn_ctx_new_at": (_i, [_P(_vp), _s]),
    "pmn_ctx_unref": (None, [_vp]),
    "pmn_ctx_params_new": (_i, [_P(_vp)]),
    "pmn_ctx_params_free": (None, [_vp]),
    "pmn_ctx_params_set_root": (_i, [_vp, _s]),
    "pmn_ctx_params_set_private_nodes": (_i, [_vp, _s]),
    "pmn_ctx_params_set_node_kind": (_i, [_vp, _i, _i]),
    "pmn_ctx_params_set_config": (_i, [_vp, _s]),
    "pmn_ctx_params_set_error_buffer": (_i, [_vp, ctypes.c_char_p, _sz]),
    "pmn_ctx_params_set_flags": (_i, [_vp, _u]),
    "pmn_ctx_new_params": (_i, [_P(_vp), _vp]),
    "pmn_ctx_root": (_s, [_vp]),
    "pmn_ctx_is_local": (c_bool, [_vp]),
    "pmn_ctx_abi": (_u, [_vp]),
    "pmn_ctx_problems": (_sz, [_vp, _P(_s), _sz]),
    # nodes
    "pmn_node_count": (_sz, [_vp]),
    "pmn_node_first": (_vp, [_vp]),
    "pmn_node_next": (_vp, [_vp]),
    "pmn_node_get": (_vp, [_vp, _i]),
    "pmn_node_id": (_i, [_vp]),
    "pmn_node_kind": (_i, [_vp]),
    "pmn_node_is_private": (c_bool, [_vp]),
    "pmn_node_isolation": (_i, [_vp]),
    "pmn_node_cpulist": (_s, [_vp]),
    "pmn_node_cpu_count": (_u, [_vp]),
    "pmn_node_capacity": (_u64, [_vp]),
    "pmn_node_free": (_u64, [_vp]),
    "pmn_node_tier": (_i, [_vp]),
    "pmn_node_distance": (_i, [_vp, _i]),
    "pmn_node_hwloc_subtype": (_s, [_vp]),
    "pmn_node_mem_features": (_i, [_vp, _P(_u64)]),
    "pmn_node_user_allowed": (_i, [_vp]),
    "pmn_node_zratio": (c_double, [_vp]),
    "pmn_node_perf": (_i, [_vp, _P(Perf)]),
    "pmn_node_hugepools": (_i, [_vp, _P(HugePool), _sz]),
    "pmn_node_side_caches": (_i, [_vp, _P(SideCache), _sz]),
    "pmn_node_dax": (_vp, [_vp]),
    "pmn_node_read_free": (_i, [_vp, _i, _P(_u64)]),
    "pmn_node_read_available": (_i, [_vp, _i, _P(_u64)]),
    # device-dax
    "pmn_dax_count": (_sz, [_vp]),
    "pmn_dax_first": (_vp, [_vp]),
    "pmn_dax_next": (_vp, [_vp]),
    "pmn_dax_get": (_vp, [_vp, _s]),
    "pmn_dax_name": (_s, [_vp]),
    "pmn_dax_path": (_s, [_vp]),
    "pmn_dax_size": (_u64, [_vp]),
    "pmn_dax_align": (_u64, [_vp]),
    "pmn_dax_mode": (_i, [_vp]),
    "pmn_dax_mode_name": (_s, [_vp]),
    "pmn_dax_target_node": (_i, [_vp]),
    "pmn_dax_numa_node": (_i, [_vp]),
    "pmn_dax_node": (_i, [_vp]),
    "pmn_dax_type": (_s, [_vp]),
    "pmn_dax_is_private": (c_bool, [_vp]),
    "pmn_dax_cxl_region": (_s, [_vp]),
    # CXL regions
    "pmn_cxl_count": (_sz, [_vp]),
    "pmn_cxl_first": (_vp, [_vp]),
    "pmn_cxl_next": (_vp, [_vp]),
    "pmn_cxl_name": (_s, [_vp]),
    "pmn_cxl_mode": (_s, [_vp]),
    "pmn_cxl_size": (_u64, [_vp]),
    "pmn_cxl_target_count": (_sz, [_vp]),
    "pmn_cxl_target": (_s, [_vp, _sz]),
    "pmn_cxl_dax": (_vp, [_vp]),
    "pmn_cxl_node": (_i, [_vp]),
    # selection helpers
    "pmn_nodes_of_kind": (_sz, [_vp, _i, _P(_i), _sz]),
    "pmn_nearest_private_node": (_i, [_vp, _i, _P(_i)]),
    "pmn_nearest_private_to_cpu": (_i, [_vp, _i, _P(_i)]),
    "pmn_best_node": (_i, [_vp, _i, _u, _i, _P(_i)]),
    # spill lists and device locality (0.3)
    "pmn_spill_list": (_i, [_vp, _i, _u, _u, _P(_i), _sz]),
    "pmn_device_node": (_i, [_vp, _s, _P(_i)]),
    "pmn_nearest_node_to_device": (_i, [_vp, _s, _P(_i)]),
    "pmn_nearest_private_to_device": (_i, [_vp, _s, _P(_i)]),
    "pmn_devices": (_i, [_vp, _P(Device), _sz]),
    # backings and regions
    "pmn_backing_type_name": (_s, [_i]),
    "pmn_backing_params_new": (_i, [_P(_vp)]),
    "pmn_backing_params_free": (None, [_vp]),
    "pmn_backing_params_set_type": (_i, [_vp, _i]),
    "pmn_backing_params_set_node": (_i, [_vp, _i]),
    "pmn_backing_params_set_spill": (_i, [_vp, _P(_i), _sz]),
    "pmn_backing_params_set_dax": (_i, [_vp, _s]),
    "pmn_backing_params_set_page_size": (_i, [_vp, _sz]),
    "pmn_backing_params_set_thp": (_i, [_vp, c_bool]),
    "pmn_backing_params_set_headroom": (_i, [_vp, _u64]),
    "pmn_backing_params_set_verify": (_i, [_vp, c_bool]),
    "pmn_backing_new": (_i, [_vp, _vp, _P(_vp)]),
    "pmn_backing_free": (None, [_vp]),
    "pmn_backing_type": (_i, [_vp]),
    "pmn_backing_granule": (_sz, [_vp]),
    "pmn_backing_stats": (_i, [_vp, _P(BackingStats)]),
    # user-supplied memory (0.4)
    "pmn_backing_params_set_user": (_i, [_vp, _vp, _sz, _i, _u64, _u]),
    "pmn_backing_verified": (c_bool, [_vp]),
    "pmn_region_map": (_i, [_vp, _sz, _P(_vp)]),
    "pmn_region_map_at": (_i, [_vp, _u64, _sz, _P(_vp)]),
    "pmn_region_unmap": (_i, [_vp]),
    "pmn_region_addr": (_vp, [_vp]),
    "pmn_region_size": (_sz, [_vp]),
    "pmn_region_node": (_i, [_vp]),
    "pmn_region_fd": (_i, [_vp]),
    "pmn_region_populate_ns": (_u64, [_vp]),
    "pmn_region_verify_ns": (_u64, [_vp]),
    "pmn_where": (_i, [_vp, _sz, _P(Where)]),
    "pmn_where_pages_on": (_u64, [_P(Where), _i]),
    # allocators
    "pmn_arena_new": (_i, [_vp, _P(ArenaOpts), _P(_vp)]),
    "pmn_arena_destroy": (None, [_vp]),
    "pmn_arena_reset": (None, [_vp]),
    "pmn_arena_malloc": (_vp, [_vp, _sz]),
    "pmn_arena_calloc": (_vp, [_vp, _sz, _sz]),
    "pmn_arena_realloc": (_vp, [_vp, _vp, _sz]),
    "pmn_arena_aligned_alloc": (_vp, [_vp, _sz, _sz]),
    "pmn_free": (_i, [_vp]),
    "pmn_usable_size": (_sz, [_vp]),
    "pmn_arena_of": (_vp, [_vp]),
    "pmn_arena_stats": (_i, [_vp, _P(AllocStats)]),
    "pmn_alloc_stats_json": (_i, [_P(AllocStats), _P(c_char), _sz]),
    "pmn_slab_new": (_i, [_vp, _sz, _sz, _u64, _P(_vp)]),
    "pmn_slab_destroy": (None, [_vp]),
    "pmn_slab_alloc": (_vp, [_vp]),
    "pmn_slab_free": (_i, [_vp, _vp]),
    "pmn_slab_alloc_bulk": (_sz, [_vp, _P(_vp), _sz]),
    "pmn_slab_free_bulk": (_i, [_vp, _P(_vp), _sz]),
    "pmn_slab_obj_size": (_sz, [_vp]),
    "pmn_slab_stats": (_i, [_vp, _P(AllocStats)]),
    "pmn_slab_new_opts": (_i, [_vp, _sz, _P(SlabOpts), _P(_vp)]),
    "pmn_slab_reserve": (_i, [_vp, _sz]),
    "pmn_arena_reserve": (_i, [_vp, _sz]),
    # giving back what is kept for reuse (0.9)
    "pmn_arena_trim": (_i, [_vp, _P(_u64)]),
    "pmn_slab_trim": (_i, [_vp, _P(_u64)]),
    "pmn_last_error": (_i, []),
    # compressed tier
    "pmn_ctier_open": (_i, [_vp, _P(CtierOpts), _P(_vp)]),
    "pmn_ctier_close": (None, [_vp]),
    "pmn_ctier_node": (_i, [_vp]),
    "pmn_ctier_write_control": (_s, [_vp]),
    "pmn_ctier_demote": (_i, [_vp, _vp, _sz]),
    "pmn_ctier_promote": (_i, [_vp, _vp, _sz, _i]),
    "pmn_ctier_estimate": (c_double, [_vp, _sz, _u]),
    "pmn_ctier_stats": (_i, [_vp, _P(CtierStats)]),
    "pmn_ctier_stats_json": (_i, [_P(CtierStats), _P(c_char), _sz]),
}

# ---- registration (issue 14): extents and map/unmap hooks ----

class Extent(Structure):
    _fields_ = [("struct_size", c_size_t), ("addr", c_void_p), ("len", c_size_t),
                ("node", c_int), ("fd", c_int), ("offset", c_uint64)]


#: int (*)(const struct pmn_extent *, void *): extent walks and on_map.
EXTENT_FN = ctypes.CFUNCTYPE(c_int, POINTER(Extent), c_void_p)
#: void (*)(const struct pmn_extent *, void *): on_unmap.
EXTENT_UNMAP_FN = ctypes.CFUNCTYPE(None, POINTER(Extent), c_void_p)


class ExtentHooks(Structure):
    _fields_ = [("struct_size", c_size_t), ("on_map", EXTENT_FN),
                ("on_unmap", EXTENT_UNMAP_FN), ("arg", c_void_p)]


_PROTOTYPES.update({
    "pmn_backing_set_hooks": (_i, [_vp, _P(ExtentHooks)]),
    "pmn_backing_extents": (_i, [_vp, EXTENT_FN, _vp]),
    "pmn_arena_extents": (_i, [_vp, EXTENT_FN, _vp]),
    "pmn_slab_extents": (_i, [_vp, EXTENT_FN, _vp]),
})

# ---- sharing with other processes (issue 15, 0.4) ----

from ctypes import c_int32, c_uint8, c_uint16, c_uint32  # noqa: E402


class IpcHandleStruct(Structure):
    """struct pmn_ipc_handle: a fixed wire layout of 192 bytes."""
    _fields_ = [("magic", c_uint32), ("version", c_uint16), ("kind", c_uint16),
                ("backing_id", c_uint64), ("dev", c_uint64), ("ino", c_uint64),
                ("region_offset", c_uint64), ("region_len", c_uint64),
                ("object_offset", c_uint64), ("object_len", c_uint64),
                ("page_size", c_uint64), ("gen", c_uint64), ("slot", c_uint32),
                ("node", c_int32), ("owner_pid", c_int32), ("owner_fd", c_int32),
                ("table_size", c_uint32), ("pad0", c_uint32),
                # since 0.4 (PMN_IPC_KIND_DAX), from what version 1 had reserved
                ("dax_rdev", c_uint64), ("dax_name", ctypes.c_char * 32),
                ("reserved", c_uint8 * 48)]


assert ctypes.sizeof(IpcHandleStruct) == 192, "struct pmn_ipc_handle is 192 bytes"


class IpcCacheStats(Structure):
    _fields_ = [("struct_size", c_size_t), ("opens", c_uint64), ("closes", c_uint64),
                ("maps", c_uint64), ("unmaps", c_uint64), ("failures", c_uint64),
                ("fetched", c_uint64), ("backings", c_size_t), ("mapped", c_size_t)]


_PROTOTYPES.update({
    "pmn_backing_params_set_shareable": (_i, [_vp, c_bool]),
    "pmn_backing_params_set_ipc_table_size": (_i, [_vp, _sz]),
    "pmn_backing_shareable": (c_bool, [_vp]),
    "pmn_region_offset": (_u64, [_vp]),
    "pmn_ipc_get": (_i, [_vp, _P(IpcHandleStruct), _P(_i)]),
    "pmn_ipc_get_region": (_i, [_vp, _P(IpcHandleStruct), _P(_i)]),
    "pmn_ipc_cache_new": (_i, [_P(_vp)]),
    "pmn_ipc_cache_free": (None, [_vp]),
    "pmn_ipc_open": (_i, [_vp, _P(IpcHandleStruct), _i, _u, _P(_vp)]),
    "pmn_ipc_close": (_i, [_vp, _vp]),
    "pmn_ipc_valid": (_i, [_vp, _vp]),
    "pmn_ipc_cache_stats": (_i, [_vp, _P(IpcCacheStats)]),
    "pmn_ipc_send": (_i, [_i, _P(IpcHandleStruct), _i]),
    "pmn_ipc_recv": (_i, [_i, _P(IpcHandleStruct), _P(_i)]),
    # 0.10: read-only peers
    "pmn_ipc_fd_readonly": (_i, [_i, _P(_i)]),
    "pmn_ipc_writable": (_i, [_vp, _vp]),
})

# ---- moving live data, access tracking, tiering (issue 16, 0.6) ----

class MigrateReportStruct(Structure):
    """struct pmn_migrate_report (rolled_back since 0.6)."""
    _fields_ = [("struct_size", c_size_t), ("pages", c_uint64), ("moved", c_uint64),
                ("already_there", c_uint64), ("target_full", c_uint64),
                ("busy_or_pinned", c_uint64), ("shared", c_uint64), ("not_present", c_uint64),
                ("other", c_uint64), ("first_failed", c_void_p), ("rolled_back", c_uint64)]


class TrackOpts(Structure):
    _fields_ = [("struct_size", c_size_t), ("mode", c_int), ("granule", c_size_t),
                ("page_budget", c_uint64), ("sample_pages", c_uint)]


class TrackReportStruct(Structure):
    _fields_ = [("struct_size", c_size_t), ("pages_examined", c_uint64),
                ("extents_examined", c_uint64), ("extents_touched", c_uint64),
                ("passes", c_uint64), ("ns", c_uint64), ("pages_gone", c_uint64)]


class TrackExtentStruct(Structure):
    """struct pmn_track_extent: no struct_size, it never grows."""
    _fields_ = [("addr", c_void_p), ("len", c_size_t), ("pages_examined", ctypes.c_uint32),
                ("pages_touched", ctypes.c_uint32), ("idle_looks", ctypes.c_uint32),
                ("heat", ctypes.c_uint32)]


class TierOpts(Structure):
    _fields_ = [("struct_size", c_size_t), ("hot_node", c_int), ("cold_node", c_int),
                ("ctier", c_void_p), ("hot_limit", c_uint64), ("promote_budget", c_uint64),
                ("demote_budget", c_uint64), ("cold_looks", c_uint), ("compress_looks", c_uint),
                ("flags", c_uint), ("track", TrackOpts)]


class TierStatsStruct(Structure):
    _fields_ = [("struct_size", c_size_t), ("managed_bytes", c_uint64), ("hot_bytes", c_uint64),
                ("cold_bytes", c_uint64), ("compressed_bytes", c_uint64),
                ("other_bytes", c_uint64), ("steps", c_uint64), ("promoted_bytes", c_uint64),
                ("demoted_bytes", c_uint64), ("compressed_total", c_uint64),
                ("decompressed_total", c_uint64), ("failed_moves", c_uint64),
                ("scan_ns", c_uint64), ("move_ns", c_uint64),
                ("write_returned_bytes", c_uint64)]


_PROTOTYPES.update({
    "pmn_migrate": (_i, [_vp, _vp, _sz, _i, _u, _P(MigrateReportStruct)]),
    "pmn_region_migrate": (_i, [_vp, _i, _u, _P(MigrateReportStruct)]),
    "pmn_arena_migrate": (_i, [_vp, _i, _i, _u, _P(MigrateReportStruct)]),
    "pmn_slab_migrate": (_i, [_vp, _i, _i, _u, _P(MigrateReportStruct)]),
    "pmn_migrate_object": (_i, [_vp, _i, _u, _P(MigrateReportStruct)]),
    "pmn_track_new": (_i, [_vp, _P(TrackOpts), _P(_vp)]),
    "pmn_track_free": (None, [_vp]),
    "pmn_track_mode": (_i, [_vp]),
    "pmn_track_mode_name": (_s, [_i]),
    "pmn_track_add": (_i, [_vp, _vp, _sz]),
    "pmn_track_remove": (_i, [_vp, _vp, _sz]),
    "pmn_track_scan": (_i, [_vp, _P(TrackReportStruct)]),
    "pmn_track_extents": (ctypes.c_long, [_vp, _P(TrackExtentStruct), _sz]),
    "pmn_tier_new": (_i, [_vp, _P(TierOpts), _P(_vp)]),
    "pmn_tier_free": (None, [_vp]),
    "pmn_tier_add": (_i, [_vp, _vp, _sz]),
    "pmn_tier_remove": (_i, [_vp, _vp, _sz]),
    "pmn_tier_step": (_i, [_vp, _P(TierStatsStruct)]),
    "pmn_tier_stats": (_i, [_vp, _P(TierStatsStruct)]),
    "pmn_tier_stats_json": (_i, [_P(TierStatsStruct), _P(c_char), _sz]),
    "pmn_tier_tracker": (_vp, [_vp]),
    # 0.8 (issue 18): publishing stats for pmnode top (pmn_publish(3));
    # bound for ctypes callers, no wrapper class yet.
    "pmn_publish_start": (_i, [_u]),
    "pmn_publish_stop": (_i, []),
    "pmn_publish_arena": (_i, [_vp, _s]),
    "pmn_publish_slab": (_i, [_vp, _s]),
    "pmn_publish_update": (_i, []),
    "pmn_publish_path": (_i, [_P(c_char), _sz]),
})

#: Exported C functions this package deliberately does not call, and why.
UNBOUND = {
    "pmn_backing_new_provider": "a provider's ops would be ctypes callbacks run from any thread "
                                "under an arena's lock, where an exception cannot travel through C "
                                "and the GIL adds lock-order hazards; Backing(user=...) covers memory "
                                "Python already holds",
    "pmn_ctx_ref": "Python references keep a Context alive; children hold the parent object",
    "pmn_realloc": "Arena.realloc() names the arena and checks the block belongs to it",
}

for _name, (_res, _args) in _PROTOTYPES.items():
    _fn = getattr(LIB, _name)
    _fn.restype = _res
    _fn.argtypes = _args
del _name, _res, _args, _fn

BOUND = frozenset(_PROTOTYPES)


def text(b):
    """A C string from the library as ``str`` (None for NULL)."""
    return None if b is None else b.decode("utf-8", "surrogateescape")


def arg(s):
    """A ``str`` (or ``os.PathLike``) argument as a C string."""
    if s is None:
        return None
    return os.fsencode(s)


def u64_or_none(v):
    """A C uint64_t getter's value, with PMN_UNKNOWN as None."""
    return None if v == UNKNOWN_U64 else v


def id_or_none(v):
    """A C id/tier/distance getter's value, with -1 as None."""
    return None if v < 0 else v


def version():
    """Version string of the loaded libpmnode, "MAJOR.MINOR.PATCH"."""
    return text(LIB.pmn_version())


def _check_version():
    v = version()
    try:
        major, minor = (int(x) for x in v.split(".")[:2])
    except ValueError:
        raise ImportError("pmnode: %s reports a malformed version %r" % (LIBRARY_PATH, v))
    if major != REQUIRED_VERSION[0] or minor < REQUIRED_VERSION[1]:
        raise ImportError("pmnode: %s is libpmnode %s; this package needs %d.%d or a later "
                          "%d.x" % (LIBRARY_PATH, v, REQUIRED_VERSION[0], REQUIRED_VERSION[1],
                                    REQUIRED_VERSION[0]))


_check_version()


# ---- raw access to any Python buffer (bytes, memoryview, mmap, bytearray) ----

class _PyBuffer(Structure):
    # Py_buffer from Include/pybuffer.h (stable since Python 3.3).
    _fields_ = [("buf", c_void_p), ("obj", c_void_p), ("len", c_ssize_t),
                ("itemsize", c_ssize_t), ("readonly", c_int), ("ndim", c_int),
                ("format", c_char_p), ("shape", c_void_p), ("strides", c_void_p),
                ("suboffsets", c_void_p), ("internal", c_void_p)]


_PyObject_GetBuffer = ctypes.pythonapi.PyObject_GetBuffer
_PyObject_GetBuffer.argtypes = [ctypes.py_object, POINTER(_PyBuffer), c_int]
_PyObject_GetBuffer.restype = c_int
_PyBuffer_Release = ctypes.pythonapi.PyBuffer_Release
_PyBuffer_Release.argtypes = [POINTER(_PyBuffer)]
_PyBuffer_Release.restype = None


class RawBuffer:
    """The address and length of a contiguous Python buffer, held exported.

    Use as a context manager: while inside, the exporter cannot resize or
    free the memory (a pmnode block refuses to be freed, a bytearray to be
    resized), so a C call may use the address.
    """

    def __init__(self, obj):
        self._view = _PyBuffer()
        # PyBUF_SIMPLE (0): contiguous bytes, read-only allowed; raises
        # BufferError or TypeError for anything else.
        _PyObject_GetBuffer(obj, ctypes.byref(self._view), 0)
        self.address = self._view.buf or 0
        self.length = self._view.len
        self.readonly = bool(self._view.readonly)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()

    def release(self):
        if self._view is not None:
            _PyBuffer_Release(ctypes.byref(self._view))
            self._view = None
