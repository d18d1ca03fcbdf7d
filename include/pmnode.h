/*
 * pmnode.h - the one public header of libpmnode.
 *
 * libpmnode gives applications strict access to private memory: NUMA nodes
 * that the kernel keeps out of normal allocation fallback (CXL expanders,
 * device-dax, GPU memory on coherent links, compressed RAM).  This header
 * is the whole library, in four groups (one man page each):
 *  - discovery, pmn_ctx(3): a context describes one machine (this one, or
 *    a captured sysfs tree under another root), its NUMA nodes, device-dax
 *    devices and CXL regions, with node selection helpers;
 *  - strict placement, pmn_backing(3): backings, the regions mapped,
 *    populated and verified on them, and pmn_where();
 *  - allocators, pmn_arena(3): arenas and slabs carving a backing;
 *  - the compressed tier, pmn_ctier(3).
 *
 * Conventions
 *  - Calls returning int return 0 on success or a negative error code: a
 *    negative errno (-ENOMEM, -EINVAL, ...) or a library code PMN_E_* whose
 *    value lies outside the errno range.  pmn_strerror() names both.
 *    Allocation calls keep the malloc contract: NULL with errno set.
 *  - No call prints anything unless logging is enabled (PMNODE_LOG), and
 *    none calls exit() or abort().
 *  - State lives in the objects the caller holds (context, backing, arena,
 *    slab, tier), with three exceptions, process-wide because the call
 *    that needs them has nothing but an address to go on:
 *      - the segment map (alloc/segmap.c): two bits per 4 MiB of address
 *        space marking where libpmnode's heap segments are, so that
 *        pmn_free(), pmn_realloc(), pmn_usable_size() and pmn_arena_of()
 *        find an object's arena from the pointer alone, and refuse a
 *        pointer that is not ours without touching it;
 *      - the thread caches (alloc/heap.c): each thread's small table of
 *        the arenas and slabs it uses with its own pages in each, and one
 *        pthread key whose destructor hands an exiting thread's pages on
 *        to the next thread that uses the arena;
 *      - the compressed tier's mprotect fallback (ctier/ctier.c): the
 *        list of open tiers using it and the SIGSEGV handler it installs,
 *        which has only the faulting address.
 *    All three are thread-safe (atomics, or a lock).  A program that does
 *    not use them pays only address space (the segment map is 8 MiB of
 *    .bss, touched where segments are) and 128 bytes of TLS per thread.
 *    Besides, each thread has one int of its own: the reason of its last
 *    failed allocation (pmn_last_error(), since 0.3), written only when an
 *    allocation fails, like errno.
 *    The LD_PRELOAD shim is a separate library with state of its own.
 *  - Objects returned as const pointers (nodes, dax devices, CXL regions)
 *    belong to their context and stay valid until its last reference is
 *    dropped.  A context is immutable after creation: every getter may be
 *    called from any number of threads at once without locking.
 *  - Thread-safety is stated for each function, or for a whole group at
 *    its head; where a function needs the caller to keep other threads
 *    off an object, its comment says so.
 *  - Unknown is never reported as zero: numeric getters return
 *    PMN_UNKNOWN (for uint64_t) or -1 (for ids, tiers, distances, and the
 *    ratio of pmn_node_zratio()) when the kernel did not say.
 *  - Structs that cross the interface are versioned by size: each begins
 *    with struct_size, which the caller sets to sizeof the struct it was
 *    compiled with (zero-initialise, set struct_size, then what you
 *    need), and fields are only ever added at the end.  Options the caller
 *    passes in (pmn_arena_opts, pmn_ctier_opts) are read up to that size.
 *    A struct the library fills for the caller (pmn_perf, pmn_hugepool,
 *    pmn_side_cache, pmn_backing_stats, pmn_where, pmn_alloc_stats,
 *    pmn_ctier_stats) gets
 *    as many bytes as both sides know, the smaller of struct_size and the
 *    library's own size, and struct_size is set to that count, so a caller
 *    built against a newer header learns which fields an older library
 *    filled.  A struct_size smaller than the struct's first version (the
 *    size in libpmnode 0.2) is -EINVAL, and nothing is written.  Calls
 *    that read such a struct back (pmn_where_pages_on(),
 *    pmn_alloc_stats_json(), pmn_ctier_stats_json()) read only
 *    struct_size bytes of it.
 *  - Allocation functions carry compiler attributes (see PMN_MALLOC).
 *
 * ABI: the soname is libpmnode.so.0 while the version is 0.x; symbols are
 * versioned (libpmnode.map) and a function whose binary interface changes
 * keeps its old version for programs linked against the older library.
 * Static linking (libpmnode.a, pkg-config --static, CMake's
 * pmnode::pmnode_static) binds each call to its current version; the
 * archive keeps every internal name (the pmn__ prefix) local, so only the
 * pmn_ names of this header are global in the program.  Names starting
 * pmnode_test_ and pmnode_preload_ are the library's test hooks: a
 * program that defines one (tests/system/shim does) changes the library's
 * behaviour; define none.
 *
 * C11; usable from C++.
 */
#ifndef PMNODE_H
#define PMNODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(PMNODE_BUILDING_LIBRARY)
#define PMN_API __attribute__((visibility("default")))
#else
#define PMN_API
#endif

/** @name Compiler attributes
 *
 * The allocation functions carry these where the compiler has them
 * (__has_attribute; each expands to nothing otherwise):
 *  - PMN_MALLOC: the pointer returned aliases no other (malloc-like);
 *  - PMN_ALLOC_SIZE(i), PMN_ALLOC_SIZE2(i, j): the object has the size of
 *    argument i (or i * j).  __builtin_object_size() and _FORTIFY_SOURCE
 *    check accesses against that size, so write only the size asked for,
 *    even where pmn_usable_size() reports more (as with glibc's
 *    malloc_usable_size());
 *  - PMN_ALLOC_ALIGN(i): the pointer is aligned to argument i;
 *  - PMN_NODISCARD: ignoring the result (the only handle on new memory) is
 *    warned about.  GCC warns even through a (void) cast.
 */
/**@{*/
#if defined(__has_attribute)
#define PMN__HAS_ATTRIBUTE(x) __has_attribute(x)
#else
#define PMN__HAS_ATTRIBUTE(x) 0
#endif
#if PMN__HAS_ATTRIBUTE(malloc)
#define PMN_MALLOC __attribute__((__malloc__))
#else
#define PMN_MALLOC
#endif
#if PMN__HAS_ATTRIBUTE(alloc_size)
#define PMN_ALLOC_SIZE(i) __attribute__((__alloc_size__(i)))
#define PMN_ALLOC_SIZE2(i, j) __attribute__((__alloc_size__(i, j)))
#else
#define PMN_ALLOC_SIZE(i)
#define PMN_ALLOC_SIZE2(i, j)
#endif
#if PMN__HAS_ATTRIBUTE(alloc_align)
#define PMN_ALLOC_ALIGN(i) __attribute__((__alloc_align__(i)))
#else
#define PMN_ALLOC_ALIGN(i)
#endif
#if PMN__HAS_ATTRIBUTE(warn_unused_result)
#define PMN_NODISCARD __attribute__((__warn_unused_result__))
#else
#define PMN_NODISCARD
#endif
/**@}*/

/** @name Version */
/**@{*/
#define PMN_VERSION_MAJOR 0
#define PMN_VERSION_MINOR 12
#define PMN_VERSION_PATCH 7
#define PMN_VERSION_STRING "0.12.7"

/** Version of the loaded library, "MAJOR.MINOR.PATCH".  Thread-safe. */
PMN_API const char *pmn_version(void);
/**@}*/

/** @name Errors
 *
 * Library codes sit at -(PMN_ERRNO_BASE + n), far outside the errno range,
 * so one int carries both domains.  The list is written once, here, and
 * expanded into the enum and into pmn_strerror()/pmn_err_name().
 */
/**@{*/
#define PMN_ERRNO_BASE 20000

#define PMN_ERROR_MAP(X)                                                                      \
    X(REMOTE_ROOT, 1, "context describes another machine (root is not /): mapping refused")   \
    X(NO_NUMA, 2, "no NUMA information under the root (sys/devices/system/node missing)")     \
    X(NO_NODE, 3, "no such NUMA node")                                                        \
    X(NO_DEVICE, 4, "no such device")                                                         \
    X(UNKNOWN, 5, "the kernel does not report this value")                                    \
    X(NO_MATCH, 6, "no node matches the request")                                             \
    X(PARSE, 7, "malformed kernel or configuration data")                                     \
    X(CONFIG, 8, "invalid configuration value")                                               \
    X(HWLOC, 9, "hwloc topology discovery failed")                                            \
    X(MISPLACED, 10, "memory found on a node other than the one requested")                   \
    X(NOT_ALLOWED, 11, "node not allowed by the caller's cpuset (Mems_allowed)")              \
    X(NODE_FULL, 12, "node lacks the free memory asked for plus headroom")                    \
    X(NO_HUGEPAGES, 13, "node's huge page pool lacks free pages of that size")                \
    X(NOT_MEMORY_NODE, 14, "node has no memory to bind to")                                   \
    X(FOREIGN, 15, "pointer was not allocated by libpmnode")                                  \
    X(DOUBLE_FREE, 16, "object freed twice")                                                  \
    X(INTERIOR, 17, "pointer is inside an object, not its start")                             \
    X(DESTROYED, 18, "the arena or slab was destroyed")                                       \
    X(TIER_FULL, 19, "the compressed tier would overfill")                                    \
    X(INCOMPRESSIBLE, 20, "the data does not compress well enough for the compressed tier")   \
    X(NO_WRITE_CONTROL, 21, "no write-protection mechanism (userfaultfd write-protect) here") \
    X(NOT_COMPRESSED, 22, "node is not a compressed node")                                    \
    X(NO_CTIER, 23, "this libpmnode was built without the compressed tier (-Dctier=false)")   \
    X(CAP_REACHED, 24, "the arena's or slab's cap is reached")                                \
    X(STALE_HANDLE, 25, "IPC handle is stale: its object was freed (and may be reused)")      \
    X(NOT_SHAREABLE, 26, "memory is not from a shareable backing")                            \
    X(NODE_CHANGED, 27, "IPC handle's memory is no longer (all) on the node it records")      \
    X(BAD_HANDLE, 28, "IPC handle is malformed, or the fd is not its backing's file")         \
    X(NOT_ON_LIST, 29, "node is not the backing's node or on its spill list")

enum pmn_error {
#define PMN__ERR_ENUM(name, n, msg) PMN_E_##name = -(PMN_ERRNO_BASE + (n)),
    PMN_ERROR_MAP(PMN__ERR_ENUM)
#undef PMN__ERR_ENUM
};

/**
 * Describe an error code: a library code, a negative errno, or a positive
 * errno.  Returns a static string; never NULL, never allocates.
 * Thread-safe, async-signal-safe.
 */
PMN_API const char *pmn_strerror(int err);

/**
 * Symbolic name of an error code ("PMN_E_NO_NODE", "ENOMEM"), or
 * "unknown" for a value that is neither.  Static string.  Thread-safe.
 */
PMN_API const char *pmn_err_name(int err);

/**
 * Why the calling thread's last failed allocation failed: the library code
 * behind its NULL/ENOMEM (or a failed reserve), e.g. PMN_E_CAP_REACHED (the
 * arena's or slab's cap), PMN_E_NODE_FULL, PMN_E_NOT_ALLOWED,
 * PMN_E_MISPLACED, PMN_E_NO_HUGEPAGES, PMN_E_DESTROYED, -ENOMEM, -EINVAL.
 * Set by every failing allocation of an arena, slab or backing
 * (pmn_arena_malloc and friends, pmn_slab_alloc, pmn_slab_alloc_bulk when
 * short, pmn_*_reserve, pmn_region_map*); never cleared by a success, so
 * read it right after the failure, as errno.  0 before any failure on
 * this thread.  Per thread, a plain thread-local read: cheap, thread-safe.
 */
PMN_API int pmn_last_error(void);
/**@}*/

/** Returned by uint64_t getters whose value the kernel did not report. */
#define PMN_UNKNOWN UINT64_MAX

/** @name Kinds and isolation */
/**@{*/
/** What a node's memory is.  Names are lower case: pmn_kind_name(). */
enum pmn_kind {
    PMN_KIND_UNKNOWN = 0,
    PMN_KIND_DRAM,
    PMN_KIND_HBM,
    PMN_KIND_NVM,
    PMN_KIND_SPM,
    PMN_KIND_CXL,
    PMN_KIND_GPU,
    PMN_KIND_COMPRESSED,
    PMN_KIND__COUNT
};

/**
 * "dram", "hbm", ... "unknown"; "unknown" for out-of-range values too.
 * Static string.  Thread-safe.
 */
PMN_API const char *pmn_kind_name(enum pmn_kind kind);
/**
 * Parse a kind name (case-insensitive).  Returns 0, or -EINVAL for a name
 * that is not a kind.  Thread-safe.
 */
PMN_API int pmn_kind_parse(const char *name, enum pmn_kind *out);

/** Who keeps a node out of normal allocation. */
enum pmn_isolation {
    PMN_ISOLATION_NONE = 0, /**< nobody: ordinary memory */
    PMN_ISOLATION_KERNEL,   /**< the kernel marks the node private */
    PMN_ISOLATION_CONFIG,   /**< an administrator or application said so */
};

/** "none", "kernel" or "config".  Static string.  Thread-safe. */
PMN_API const char *pmn_isolation_name(enum pmn_isolation iso);

/** Private-node kernel ABI generations seen on a context (bit mask). */
enum pmn_abi {
    PMN_ABI_MAINLINE = 1u << 0,       /**< has_memory/has_cpu present */
    PMN_ABI_PRIVATE_MEMORY = 1u << 1, /**< v3/v4 RFC: has_private_memory */
    PMN_ABI_COMMON_MEMORY = 1u << 2,  /**< later drafts: has_common_memory */
    PMN_ABI_USER_MEMORY = 1u << 3,    /**< later drafts: has_user_memory */
    PMN_ABI_MEM_FEATURES = 1u << 4,   /**< nodeN/mem_features */
    PMN_ABI_DAX_PRIVATE = 1u << 5,    /**< daxX.Y/private and friends */
    PMN_ABI_CRAMDAX = 1u << 6,        /**< a device bound to cramdax */
    PMN_ABI_MEMORY_TIERING = 1u << 7, /**< memory_tiering tiers */
};
/**@}*/

/** @name Contexts
 *
 * A context is a snapshot of one machine's memory topology, taken when it
 * is created.  Its root is a directory holding sys/ (and proc/) of the
 * machine it describes: "/" for this machine, a captured tree otherwise.  A
 * context whose root is not "/" describes another machine: discovery works
 * the same, mapping is refused with PMN_E_REMOTE_ROOT.
 *
 * Environment read at creation (unless PMN_CTX_IGNORE_ENV):
 *  - PMNODE_SYSFS_ROOT    root directory (pmn_ctx_new only), default "/"
 *  - PMNODE_PRIVATE_NODES node list an administrator marks private ("2-3,8")
 *  - PMNODE_CONFIG        configuration file, default ROOT/etc/pmnode.conf
 *  - PMNODE_LOG           error|warn|info|debug: messages on stderr
 *
 * Thread-safety: creating a context is thread-safe, and so is every
 * getter of a context, its nodes, dax devices and CXL regions (a context
 * never changes after creation); references are counted atomically.  A
 * params object belongs to the thread that set it up.
 */
/**@{*/
struct pmn_ctx;
struct pmn_ctx_params;

/** Flags for pmn_ctx_params_set_flags(). */
enum pmn_ctx_flags {
    PMN_CTX_IGNORE_ENV = 1u << 0, /**< read no PMNODE_* variable */
    PMN_CTX_NO_HWLOC = 1u << 1,   /**< do not consult hwloc (sysfs only) */
    PMN_CTX_NO_CONFIG = 1u << 2,  /**< read no configuration file */
};

/**
 * Create a context for the machine under PMNODE_SYSFS_ROOT, or "/".
 * Returns 0, -ENOMEM, -ENOENT/-ENOTDIR for a root that is not a directory,
 * PMN_E_NO_NUMA when the root has no sys/devices/system/node, or
 * PMN_E_CONFIG for a malformed PMNODE_* variable.  Thread-safe.
 */
PMN_API int pmn_ctx_new(struct pmn_ctx **out);

/** As pmn_ctx_new(), with an explicit root (NULL means "/").  Thread-safe. */
PMN_API int pmn_ctx_new_at(struct pmn_ctx **out, const char *root);

/**
 * Take one more reference; returns @p ctx.  Thread-safe (atomic).
 * NULL is passed through.
 */
PMN_API struct pmn_ctx *pmn_ctx_ref(struct pmn_ctx *ctx);

/**
 * Drop a reference; the last one frees the context.  NULL is ignored.
 * Thread-safe (atomic); the caller's reference, and any node, dax device
 * or CXL region reached only through it, must not be used afterwards.
 */
PMN_API void pmn_ctx_unref(struct pmn_ctx *ctx);

/**
 * Creation parameters.  A params object is not shared: use it from one
 * thread, then free it (the context keeps copies of what it needs).
 */
PMN_API int pmn_ctx_params_new(struct pmn_ctx_params **out);
PMN_API void pmn_ctx_params_free(struct pmn_ctx_params *params);
/** Root directory; NULL means PMNODE_SYSFS_ROOT, else "/". */
PMN_API int pmn_ctx_params_set_root(struct pmn_ctx_params *params, const char *root);
/**
 * Node list ("2-3,7") an administrator marks private; overrides
 * PMNODE_PRIVATE_NODES.  -EINVAL for a malformed list.
 */
PMN_API int pmn_ctx_params_set_private_nodes(struct pmn_ctx_params *params, const char *nodelist);
/**
 * Declare the kind of a node (for example a compressed node the kernel
 * does not describe).  Overrides every discovered signal.
 * -EINVAL for a negative node or an out-of-range kind.
 */
PMN_API int pmn_ctx_params_set_node_kind(struct pmn_ctx_params *params, int node,
                                         enum pmn_kind kind);
/** Configuration file to read; NULL means PMNODE_CONFIG or the default. */
PMN_API int pmn_ctx_params_set_config(struct pmn_ctx_params *params, const char *path);
/** Flags from enum pmn_ctx_flags. -EINVAL for unknown bits. */
PMN_API int pmn_ctx_params_set_flags(struct pmn_ctx_params *params, unsigned flags);
/**
 * Create a context from parameters (NULL params = pmn_ctx_new()).
 * Thread-safe, provided no thread changes @p params during the call.
 */
PMN_API int pmn_ctx_new_params(struct pmn_ctx **out, const struct pmn_ctx_params *params);

/** The root the context describes ("/" for this machine). */
PMN_API const char *pmn_ctx_root(const struct pmn_ctx *ctx);
/** True when the root is "/" (this machine; mapping allowed). */
PMN_API bool pmn_ctx_is_local(const struct pmn_ctx *ctx);
/** Kernel ABI generations seen (enum pmn_abi bits). */
PMN_API unsigned pmn_ctx_abi(const struct pmn_ctx *ctx);
/**
 * Problems met during discovery (a malformed or missing attribute that made
 * a field unknown), as human-readable lines.  Returns the count; fills at
 * most @p max pointers into @p lines (static to the context).
 */
PMN_API size_t pmn_ctx_problems(const struct pmn_ctx *ctx, const char **lines, size_t max);

/**
 * Ask pmn_ctx_new_params() to say why it failed: on failure it writes one
 * line into @p buf (NUL-terminated, cut to @p len bytes, no newline)
 * naming the file or variable at fault and what is wrong with it, for
 * example "/etc/pmnode.conf:3: unknown key 'privat' (the keys are 'private'
 * and 'kind')" or "PMNODE_PRIVATE_NODES: '2-x' is not a node list (...)";
 * on success it writes "".  The library prints nothing itself (unless
 * PMNODE_LOG asks), so this is how a program shows the reason behind
 * PMN_E_CONFIG.  @p buf is the caller's and must stay valid while these
 * params are used; NULL (with @p len 0) stops it.  512 bytes always hold
 * the whole line.  -EINVAL for a NULL buffer with a non-zero length.  Since 0.2.
 */
PMN_API int pmn_ctx_params_set_error_buffer(struct pmn_ctx_params *params, char *buf, size_t len);
/**@}*/

/** @name Nodes
 *
 * Nodes are listed by id, ascending; ids may be sparse and large.  Every
 * call of this group is thread-safe (see Contexts).
 */
/**@{*/
struct pmn_node;

/** Number of online NUMA nodes. */
PMN_API size_t pmn_node_count(const struct pmn_ctx *ctx);
/** Node with the lowest id, or NULL. */
PMN_API const struct pmn_node *pmn_node_first(const struct pmn_ctx *ctx);
/** Next node by id, or NULL after the last. */
PMN_API const struct pmn_node *pmn_node_next(const struct pmn_node *node);
/** Node with this id, or NULL. */
PMN_API const struct pmn_node *pmn_node_get(const struct pmn_ctx *ctx, int id);
/** Iterate the nodes of a context in id order. */
#define pmn_node_foreach(ctx, node) \
    for ((node) = pmn_node_first(ctx); (node) != NULL; (node) = pmn_node_next(node))

PMN_API int pmn_node_id(const struct pmn_node *node);
PMN_API enum pmn_kind pmn_node_kind(const struct pmn_node *node);
/** True when the node is kept out of normal allocation (by kernel or config). */
PMN_API bool pmn_node_is_private(const struct pmn_node *node);
PMN_API enum pmn_isolation pmn_node_isolation(const struct pmn_node *node);
/**
 * Kernel CPU list of the node ("0-3,8"), "" for a CPU-less node, NULL when
 * the kernel's cpulist could not be read or parsed.
 */
PMN_API const char *pmn_node_cpulist(const struct pmn_node *node);
/** Number of CPUs in the node. */
PMN_API unsigned pmn_node_cpu_count(const struct pmn_node *node);
/** MemTotal in bytes, or PMN_UNKNOWN. */
PMN_API uint64_t pmn_node_capacity(const struct pmn_node *node);
/** MemFree in bytes when the context was created, or PMN_UNKNOWN. */
PMN_API uint64_t pmn_node_free(const struct pmn_node *node);
/**
 * Memory tier: 1 for the fastest tier the kernel lists, 2 for the next...
 * -1 when the kernel has no memory_tiering.
 */
PMN_API int pmn_node_tier(const struct pmn_node *node);
/** Kernel distance from @p node to node @p to_id, or -1 when unknown. */
PMN_API int pmn_node_distance(const struct pmn_node *node, int to_id);
/** hwloc's subtype for the node ("DRAM", "GPUMemory", ...) or NULL. */
PMN_API const char *pmn_node_hwloc_subtype(const struct pmn_node *node);
/**
 * nodeN/mem_features capability mask.  0 or PMN_E_UNKNOWN when the kernel
 * has no such attribute.
 */
PMN_API int pmn_node_mem_features(const struct pmn_node *node, uint64_t *mask);
/**
 * Whether user mempolicy may target the node: 1 yes, 0 no (a private node
 * outside has_user_memory), PMN_E_UNKNOWN when the kernel does not say.
 */
PMN_API int pmn_node_user_allowed(const struct pmn_node *node);
/**
 * Compression ratio of a compressed node (cramdax zratio: 2.5 means the
 * data takes 1/2.5 of its size), or -1.0 when unknown (not a compressed
 * node, or the kernel does not say).  Before 0.2 this returned 0 for
 * unknown.
 */
PMN_API double pmn_node_zratio(const struct pmn_node *node);

/**
 * Access performance from the best initiator (nodeN/access0).  Set
 * struct_size (see Conventions at the top).
 */
struct pmn_perf {
    size_t struct_size;       /**< sizeof(struct pmn_perf), set by the caller */
    uint64_t read_bandwidth;  /**< MB/s, or PMN_UNKNOWN */
    uint64_t write_bandwidth; /**< MB/s, or PMN_UNKNOWN */
    uint64_t read_latency;    /**< ns, or PMN_UNKNOWN */
    uint64_t write_latency;   /**< ns, or PMN_UNKNOWN */
};
/**
 * Fill @p out; PMN_E_UNKNOWN (and every field unknown) without HMAT data,
 * -EINVAL for a NULL node or a struct_size below the first version.
 */
PMN_API int pmn_node_perf(const struct pmn_node *node, struct pmn_perf *out);

/** One huge page pool of a node.  Set struct_size (see Conventions). */
struct pmn_hugepool {
    size_t struct_size; /**< sizeof(struct pmn_hugepool), set by the caller */
    uint64_t page_size; /**< bytes */
    uint64_t total;     /**< nr_hugepages, or PMN_UNKNOWN */
    uint64_t free;      /**< free_hugepages, or PMN_UNKNOWN */
    uint64_t surplus;   /**< surplus_hugepages, or PMN_UNKNOWN */
};
/**
 * Copy up to @p max pools (ascending page size) into the array @p out;
 * returns the number of pools the node has (more than @p max when the
 * array is short).  The caller sets out[0].struct_size to
 * sizeof(struct pmn_hugepool): it is the array's element size, and every
 * element filled gets it as for any output struct.  @p out may be NULL
 * when @p max is 0 (to count).  -EINVAL for a NULL node, or an element
 * size below the first version (nothing is written).  Before 0.2 this
 * returned size_t and took no element size.
 */
PMN_API int pmn_node_hugepools(const struct pmn_node *node, struct pmn_hugepool *out, size_t max);

/** pmn_side_cache.indexing: how a memory-side cache maps addresses to lines
 * (the kernel's values; since 0.8). */
#define PMN_CACHE_DIRECT_MAPPED 0  /**< one line per address */
#define PMN_CACHE_INDEXED 1        /**< set-associative (any other indexing) */
#define PMN_CACHE_INDEXING_OTHER 2 /**< neither, as the platform reports it */
/** pmn_side_cache.write_policy (the kernel's values; since 0.8). */
#define PMN_CACHE_WRITE_BACK 0
#define PMN_CACHE_WRITE_THROUGH 1
#define PMN_CACHE_WRITE_OTHER 2

/**
 * One memory-side cache of a node (since 0.8): a cache in front of the
 * node's memory, on the memory's side of the interconnect (HBM caching
 * DRAM, DRAM caching CXL or persistent memory), which every initiator
 * shares.  What the kernel lists in nodeN/memory_side_cache/indexY.  Set
 * struct_size (see Conventions).
 */
struct pmn_side_cache {
    size_t struct_size; /**< sizeof(struct pmn_side_cache), set by the caller */
    unsigned level;     /**< cache level Y of indexY (1 is nearest the memory) */
    int indexing;       /**< PMN_CACHE_DIRECT_MAPPED, _INDEXED, _INDEXING_OTHER; -1 unknown */
    uint64_t size;      /**< bytes, or PMN_UNKNOWN */
    uint64_t line_size; /**< bytes fetched from the next level on a miss, or PMN_UNKNOWN */
    int write_policy;   /**< PMN_CACHE_WRITE_BACK, _THROUGH, _OTHER; -1 unknown */
};
/**
 * Copy up to @p max memory-side caches of @p node (ascending level) into
 * the array @p out; returns how many the node has (more than @p max when
 * the array is short; 0 when the kernel lists none, which is the case on
 * most machines and on kernels before 5.1).  The array convention of
 * pmn_node_hugepools(): out[0].struct_size is the element size, every
 * element filled gets it; @p out may be NULL when @p max is 0.  -EINVAL
 * for a NULL node or an element size below the first version.
 * Thread-safe.  Since 0.8.
 */
PMN_API int pmn_node_side_caches(const struct pmn_node *node, struct pmn_side_cache *out,
                                 size_t max);

struct pmn_dax;
/** The dax device whose memory became this node (kmem/cramdax), or NULL. */
PMN_API const struct pmn_dax *pmn_node_dax(const struct pmn_node *node);

/**
 * Read a node's free memory now (not the snapshot).  0, PMN_E_NO_NODE,
 * PMN_E_UNKNOWN or PMN_E_PARSE.  Thread-safe.
 */
PMN_API int pmn_node_read_free(const struct pmn_ctx *ctx, int id, uint64_t *bytes);
/**
 * Read how much memory a node can give now, the figure the free-memory
 * check of pmn_region_map() and the allocators compares with a request
 * plus headroom: an estimate in the spirit of the kernel's MemAvailable,
 * per node.  MemFree, less what the node's zones keep back (high
 * watermark and lowmem protection, from /proc/zoneinfo), plus the page
 * cache and reclaimable kernel memory the kernel can free (each less the
 * smaller of its half and the node's low watermarks); never below 0.
 * Without /proc/zoneinfo under the context's root, or the node in it,
 * this is MemFree.  Free pages on the kernel's per-CPU lists are not
 * counted (MemFree leaves them out too): a populate cannot take them while
 * MemFree is below the watermarks.  The kernel returns them to MemFree on
 * its own clock, so the figure can rise by tens of MiB while nothing is
 * freed (64 MiB from one CPU's lists on a 512 MiB node, Linux 6.12).  0,
 * PMN_E_NO_NODE, PMN_E_UNKNOWN or PMN_E_PARSE (as pmn_node_read_free()).
 * Thread-safe; the watermarks are read at most once a second per context.
 * Since 0.2.
 */
PMN_API int pmn_node_read_available(const struct pmn_ctx *ctx, int id, uint64_t *bytes);
/**@}*/

/** @name Device-dax
 *
 * Every call of this group is thread-safe (see Contexts).
 */
/**@{*/
/** What a dax device is bound to. */
enum pmn_dax_mode {
    PMN_DAX_UNBOUND = 0, /**< no driver */
    PMN_DAX_DEVDAX,      /**< device_dax: mapped as a character device */
    PMN_DAX_SYSTEM_RAM,  /**< kmem: onlined as a NUMA node */
    PMN_DAX_OTHER,       /**< another driver (cramdax, anondax, ...) */
};

PMN_API size_t pmn_dax_count(const struct pmn_ctx *ctx);
PMN_API const struct pmn_dax *pmn_dax_first(const struct pmn_ctx *ctx);
PMN_API const struct pmn_dax *pmn_dax_next(const struct pmn_dax *dax);
/** Device by name ("dax0.0"), or NULL. */
PMN_API const struct pmn_dax *pmn_dax_get(const struct pmn_ctx *ctx, const char *name);
#define pmn_dax_foreach(ctx, dax) \
    for ((dax) = pmn_dax_first(ctx); (dax) != NULL; (dax) = pmn_dax_next(dax))

PMN_API const char *pmn_dax_name(const struct pmn_dax *dax);
/** Character device path ("/dev/dax0.0"), relative to the machine described. */
PMN_API const char *pmn_dax_path(const struct pmn_dax *dax);
/** Size in bytes, or PMN_UNKNOWN. */
PMN_API uint64_t pmn_dax_size(const struct pmn_dax *dax);
/** Mapping alignment in bytes (device, else its region), or PMN_UNKNOWN. */
PMN_API uint64_t pmn_dax_align(const struct pmn_dax *dax);
PMN_API enum pmn_dax_mode pmn_dax_mode(const struct pmn_dax *dax);
/** "devdax", "system-ram", "unbound", or the bound driver's name. */
PMN_API const char *pmn_dax_mode_name(const struct pmn_dax *dax);
/** Node the memory becomes when onlined (target_node), or -1. */
PMN_API int pmn_dax_target_node(const struct pmn_dax *dax);
/** Node of the device itself (numa_node), or -1. */
PMN_API int pmn_dax_numa_node(const struct pmn_dax *dax);
/** Node the memory is online as now (kmem and friends), or -1. */
PMN_API int pmn_dax_node(const struct pmn_dax *dax);
/** "spm" (soft-reserved/HMEM), "nvm" (pmem), "cxl", or NULL when unknown. */
PMN_API const char *pmn_dax_type(const struct pmn_dax *dax);
/** True when the device is private (devdax mode, or the kernel says so). */
PMN_API bool pmn_dax_is_private(const struct pmn_dax *dax);
/** Name of the CXL region the device belongs to, or NULL. */
PMN_API const char *pmn_dax_cxl_region(const struct pmn_dax *dax);
/**@}*/

/** @name CXL regions
 *
 * Every call of this group is thread-safe (see Contexts).
 */
/**@{*/
struct pmn_cxl_region;

PMN_API size_t pmn_cxl_count(const struct pmn_ctx *ctx);
PMN_API const struct pmn_cxl_region *pmn_cxl_first(const struct pmn_ctx *ctx);
PMN_API const struct pmn_cxl_region *pmn_cxl_next(const struct pmn_cxl_region *region);
#define pmn_cxl_foreach(ctx, r) for ((r) = pmn_cxl_first(ctx); (r) != NULL; (r) = pmn_cxl_next(r))

/** "region0". */
PMN_API const char *pmn_cxl_name(const struct pmn_cxl_region *region);
/** "ram", "pmem", or NULL when unknown. */
PMN_API const char *pmn_cxl_mode(const struct pmn_cxl_region *region);
/** Size in bytes, or PMN_UNKNOWN. */
PMN_API uint64_t pmn_cxl_size(const struct pmn_cxl_region *region);
/** Number of interleave targets (endpoint decoders) the region lists. */
PMN_API size_t pmn_cxl_target_count(const struct pmn_cxl_region *region);
/** Name of target @p i ("decoder5.0"), or NULL. */
PMN_API const char *pmn_cxl_target(const struct pmn_cxl_region *region, size_t i);
/** The dax device over the region, or NULL. */
PMN_API const struct pmn_dax *pmn_cxl_dax(const struct pmn_cxl_region *region);
/** The NUMA node the region's memory is online as, or -1. */
PMN_API int pmn_cxl_node(const struct pmn_cxl_region *region);
/**@}*/

/** @name Selection helpers
 *
 * Every helper returns 0 with the answer, PMN_E_NO_MATCH when no node
 * qualifies, or PMN_E_UNKNOWN when nodes qualify but the kernel gives no
 * data to rank them (no distances, no HMAT): never a guess.  Every helper
 * is thread-safe (it only reads the context).
 */
/**@{*/
/**
 * Ids of the nodes of @p kind, ascending.  Fills at most @p max ids and
 * returns how many nodes there are.
 */
PMN_API size_t pmn_nodes_of_kind(const struct pmn_ctx *ctx, enum pmn_kind kind, int *ids,
                                 size_t max);
/** The private node nearest node @p from_node by kernel distance (lowest id wins ties). */
PMN_API int pmn_nearest_private_node(const struct pmn_ctx *ctx, int from_node, int *out);
/** The private node nearest CPU @p cpu (via the CPU's node). */
PMN_API int pmn_nearest_private_to_cpu(const struct pmn_ctx *ctx, int cpu, int *out);

enum pmn_rank {
    PMN_RANK_CAPACITY,  /**< highest MemTotal */
    PMN_RANK_BANDWIDTH, /**< highest access0 read bandwidth */
    PMN_RANK_LATENCY,   /**< lowest access0 read latency */
};
/** Restrict pmn_best_node() candidates. */
enum pmn_select_flags {
    PMN_SELECT_PRIVATE = 1u << 0, /**< private nodes only */
    PMN_SELECT_KIND = 1u << 1,    /**< nodes of the given kind only */
};
/**
 * Best node by @p rank among the candidates.  -EINVAL for an unknown rank
 * or flags.
 */
PMN_API int pmn_best_node(const struct pmn_ctx *ctx, enum pmn_rank rank, unsigned flags,
                          enum pmn_kind kind, int *out);
/**@}*/

/** @name Spill lists and device locality (since 0.3)
 *
 * Every call of this group only reads the context and, for devices, the
 * context's sysfs tree: thread-safe.
 */
/**@{*/
/** Bit of @p kind in the kind mask of pmn_spill_list(). */
#define PMN_KIND_BIT(kind) (1u << (unsigned)(kind))

/**
 * A spill list for pmn_backing_params_set_spill(): the nodes with memory,
 * ordered by kernel distance from @p from_node (nearest first, so
 * @p from_node itself leads when it qualifies; ties by ascending id).
 * @p kinds restricts the list to a mask of PMN_KIND_BIT() values (0: every
 * kind); @p flags may hold PMN_SELECT_PRIVATE (private nodes only).  A
 * node without memory (CPU-only, memoryless) is never listed.
 *
 * Writes at most @p max ids to @p out and returns how many it wrote (pass
 * 64 for the most a spill list takes), PMN_E_NO_NODE for an unknown
 * @p from_node, PMN_E_NO_MATCH when no node qualifies, PMN_E_UNKNOWN when
 * the kernel gives no distance from @p from_node to a node that
 * qualifies (never a guessed order), -EINVAL for unknown flags or a NULL
 * @p out with @p max above 0, -ENOMEM.
 */
PMN_API int pmn_spill_list(const struct pmn_ctx *ctx, int from_node, unsigned kinds,
                           unsigned flags, int *out, size_t max);

/**
 * The node a device sits on.  @p dev is one of
 *  - a PCI address, "0000:3b:00.0" or "3b:00.0" (domain 0), hex digits in
 *    either case;
 *  - a network interface name, "eth0" (its sys/class/net/NAME/device);
 *  - a device directory, "/sys/devices/pci0000:3a/0000:3a:00.0", read
 *    under the context's root (the root's own path in front is accepted
 *    too); it must resolve to a directory under sys/devices.
 * Symlinks are followed inside the root only: an absolute target starts
 * again at the root, and a path or link climbing above the root is
 * refused.  The device's numa_node is read now (not from the snapshot);
 * where the kernel says -1 or nothing, its parent devices are asked in
 * turn, and when none knows, hwloc's PCI locality (the nearest ancestor
 * with exactly one NUMA node) answers on "/" only.
 *
 * 0 with *@p node set; -EINVAL for a malformed name (empty, over 15 bytes
 * or with '/', ':' or white space for an interface, a path that leaves
 * the root or is not a device); PMN_E_NO_DEVICE when no such device
 * exists; PMN_E_UNKNOWN when neither the kernel nor hwloc says (a virtual
 * interface such as lo; any root but "/" when sysfs says -1 all the way
 * up); PMN_E_PARSE for a malformed numa_node.  The node may be one the
 * context does not list (offline).  May load hwloc on "/" (milliseconds).
 */
PMN_API int pmn_device_node(const struct pmn_ctx *ctx, const char *dev, int *node);
/**
 * The node nearest device @p dev that has memory: the device's own node
 * when it has memory, else the memory node at the lowest distance from it
 * (ties by id).  Errors of pmn_device_node(), PMN_E_NO_NODE when the
 * device's node is not in the context, PMN_E_UNKNOWN without distances.
 */
PMN_API int pmn_nearest_node_to_device(const struct pmn_ctx *ctx, const char *dev, int *out);
/**
 * The private node nearest device @p dev: pmn_nearest_private_node() from
 * the device's node.  Errors of pmn_device_node() and of that call.
 */
PMN_API int pmn_nearest_private_to_device(const struct pmn_ctx *ctx, const char *dev, int *out);

/** A device near a node (pmn_devices()).  Set struct_size (see Conventions). */
struct pmn_device {
    size_t struct_size; /**< sizeof(struct pmn_device), set by the caller */
    char name[32];      /**< "eth0" for an interface, else the PCI address */
    char type[16];      /**< "net", "gpu", "nvme", "accel" or "cxl" */
    char pci[24];       /**< "0000:3b:00.0", the device's PCI function or nearest
                             PCI ancestor; "" when it has none */
    int node;           /**< pmn_device_node(), or -1 when unknown */
};
/**
 * The devices worth placing memory near, read now from the context's
 * tree: every network interface backed by a device (by name), then every
 * PCI function of a listed class not already shown as an interface (by
 * address): network controllers (class 0x02), display/GPU (0x03), NVMe
 * (0x0108), CXL memory devices (0x0502), co-processors and processing
 * accelerators (0x0b40, 0x12).
 * Copies up to @p max into @p out (the caller sets out[0].struct_size to
 * sizeof(struct pmn_device), the array's element size) and returns how
 * many there are; @p out may be NULL when @p max is 0.  -EINVAL for a
 * NULL context or an element size below the first version, -ENOMEM.
 */
PMN_API int pmn_devices(const struct pmn_ctx *ctx, struct pmn_device *out, size_t max);
/**@}*/

/** @name Strict placement
 *
 * A backing is a source of pages with one placement rule: a node (memory
 * is there or the call fails), an ordered spill list (memory lands on the
 * first node that can take it, and every byte is counted per node), or a
 * device-dax device.  A region is one mapping taken from a backing:
 *
 *   - anon:    mmap, mbind(MPOL_BIND | MPOL_F_STATIC_NODES) before first
 *              touch, MADV_POPULATE_WRITE (errors come back as codes);
 *   - memfd:   the same over ranges of one memfd per backing, which
 *              another process can map (pmn_region_fd(), pmn_region_offset();
 *              IPC handles, "Sharing with other processes"): the pages are
 *              already placed, so placement holds for both;
 *   - hugetlb: the same with huge pages from the node's own pool;
 *   - dax:     extents of one shared mapping of /dev/daxX.Y, aligned to the
 *              device's own alignment.  Extents are not cleared: a region
 *              sees what the device held (device memory may be persistent).
 *
 * Before populating, the node must be in the caller's cpuset and have the
 * size asked for plus headroom available (PMN_E_NOT_ALLOWED,
 * PMN_E_NODE_FULL): available is pmn_node_read_available(), MemFree less
 * what the node's zones keep back plus the page cache and reclaimable
 * kernel memory the kernel can free (MemFree alone where the root has no
 * /proc/zoneinfo).
 * Node-bound memory is then populated under a policy that prefers the node
 * but may fall back (MPOL_PREFERRED): under MPOL_BIND the kernel answers
 * exhaustion with the OOM killer, and another process may take the node's
 * memory between the check and the populate.  Every page is then verified
 * with move_pages (numa_maps where move_pages cannot see it); one page
 * elsewhere means the node ran out: the whole region is released and the
 * call fails with PMN_E_NODE_FULL (the next node of a spill list is
 * tried).  Last, the region is bound with MPOL_BIND | MPOL_F_STATIC_NODES
 * and MPOL_MF_STRICT, so later faults stay on the node and the kernel
 * itself refuses if a page present is elsewhere (the check that remains
 * with verification turned off).  So the library's own faults never invoke
 * the OOM killer.  What it cannot prevent: another process's fault under
 * its own MPOL_BIND may invoke the OOM killer, which may choose this
 * process; pmn_backing(3) says what an operator can do.
 *
 * Thread-safety: a backing is thread-safe: regions may be mapped and
 * unmapped from any thread, and its getters and stats read from any
 * thread, except pmn_backing_free(), which no other thread may race with
 * on the same backing.  A region belongs to whoever mapped it: its getters
 * may be called from any thread, but no other thread may use it during
 * pmn_region_unmap().  A params object belongs to the thread that sets it
 * up; pmn_backing_type_name() and pmn_where() are thread-safe.
 */
/**@{*/
enum pmn_backing_type {
    PMN_BACKING_ANON = 0, /**< node-bound anonymous memory (default) */
    PMN_BACKING_MEMFD,    /**< node-bound memfd (shareable by fd) */
    PMN_BACKING_HUGETLB,  /**< hugetlb pages from the node's pool */
    PMN_BACKING_DAX,      /**< device-dax character device */
    PMN_BACKING_USER, /**< memory the caller provides (pmn_backing_params_set_user()), since 0.4 */
    PMN_BACKING_PROVIDER, /**< a caller's provider (pmn_backing_new_provider()), since 0.4 */
};
/** "anon", "memfd", "hugetlb", "dax", "user", "provider".  Static string.  Thread-safe. */
PMN_API const char *pmn_backing_type_name(enum pmn_backing_type type);

struct pmn_backing_params;
struct pmn_backing;
struct pmn_region;

/** Parameters of a backing; not shared between threads while being set. */
PMN_API int pmn_backing_params_new(struct pmn_backing_params **out);
PMN_API void pmn_backing_params_free(struct pmn_backing_params *p);
/**
 * Backing type; -EINVAL for an unknown one, and for PMN_BACKING_USER and
 * PMN_BACKING_PROVIDER (set by pmn_backing_params_set_user() and
 * pmn_backing_new_provider()).
 */
PMN_API int pmn_backing_params_set_type(struct pmn_backing_params *p, enum pmn_backing_type type);
/** One node, strictly (equivalent to a spill list of one). */
PMN_API int pmn_backing_params_set_node(struct pmn_backing_params *p, int node);
/**
 * Ordered spill list: each region lands whole on the first node that can
 * take it.  1 to 64 distinct nodes; -EINVAL otherwise.
 */
PMN_API int pmn_backing_params_set_spill(struct pmn_backing_params *p, const int *nodes, size_t n);
/** Device for PMN_BACKING_DAX: a name ("dax0.0") or a path ("/dev/dax0.0"). */
PMN_API int pmn_backing_params_set_dax(struct pmn_backing_params *p, const char *dev);
/** Huge page size for PMN_BACKING_HUGETLB (0: the system default size). */
PMN_API int pmn_backing_params_set_page_size(struct pmn_backing_params *p, size_t bytes);
/** Ask for transparent huge pages (anon and memfd). Default off. */
PMN_API int pmn_backing_params_set_thp(struct pmn_backing_params *p, bool on);
/**
 * Memory to leave available on the node beyond each request (default: the
 * larger of 64 MiB and 1% of the node's capacity); see
 * pmn_node_read_available() for what counts as available.
 */
PMN_API int pmn_backing_params_set_headroom(struct pmn_backing_params *p, uint64_t bytes);
/** Verify placement after populating (default on). */
PMN_API int pmn_backing_params_set_verify(struct pmn_backing_params *p, bool on);

/**
 * Create a backing on a context (which it references).  Checks what can
 * be checked now: the context describes this machine (PMN_E_REMOTE_ROOT),
 * the nodes exist and have memory (PMN_E_NO_NODE, PMN_E_NOT_MEMORY_NODE),
 * the dax device opens (-ENOENT, -EACCES...), the huge page size exists
 * (-EINVAL).
 */
PMN_API int pmn_backing_new(struct pmn_ctx *ctx, const struct pmn_backing_params *p,
                            struct pmn_backing **out);
/**
 * Drop the caller's backing (NULL is ignored).  Its regions, arenas and
 * slabs keep it alive until they are gone.  No other thread may use the
 * caller's reference during or after the call.
 */
PMN_API void pmn_backing_free(struct pmn_backing *b);
PMN_API enum pmn_backing_type pmn_backing_type(const struct pmn_backing *b);
/** Size and alignment unit of regions: page size, huge page size or dax align. */
PMN_API size_t pmn_backing_granule(const struct pmn_backing *b);

/** Up to this many nodes are counted per backing. */
#define PMN_STATS_MAX_NODES 64

/**
 * A backing's counters.  Set struct_size (see Conventions at the top).
 *
 * The field names are those of the JSON of pmn_alloc_stats_json(), which
 * lists them beside an arena's own counters (since 0.8; the names of 0.2
 * to 0.7 stay as aliases of the same storage, for source compatibility:
 * peak_bytes, maps, failures).
 */
struct pmn_backing_stats {
    size_t struct_size;    /**< sizeof(struct pmn_backing_stats), set by the caller */
    uint64_t mapped_bytes; /**< bytes in live regions */
    union {
        uint64_t mapped_peak_bytes; /**< highest mapped_bytes */
        uint64_t peak_bytes;        /**< alias of mapped_peak_bytes (before 0.8) */
    };
    union {
        uint64_t region_maps; /**< regions mapped */
        uint64_t maps;        /**< alias of region_maps (before 0.8) */
    };
    union {
        uint64_t region_map_failures; /**< region maps that failed */
        uint64_t failures;            /**< alias of region_map_failures (before 0.8) */
    };
    uint64_t spilled_bytes; /**< live bytes on a node other than the first */
    size_t nnodes; /**< entries in node[] (the spill list, in order); JSON: bytes_per_node */
    struct {
        int node;
        uint64_t bytes; /**< live bytes on this node */
    } node[PMN_STATS_MAX_NODES];
};
/**
 * Snapshot of a backing's counters.  0, or -EINVAL for a NULL argument or
 * a struct_size below the first version.  Thread-safe.  Bytes count
 * memory: the address space an arena's extent leaves unpopulated before
 * an aligned large object (pmn_arena_aligned_alloc()) is not counted.
 */
PMN_API int pmn_backing_stats(const struct pmn_backing *b, struct pmn_backing_stats *out);

/**
 * Map, bind, populate and verify @p size bytes (rounded up to the
 * granule).  0, -EINVAL (size 0), -ENOMEM, PMN_E_NODE_FULL (also when
 * another process took the node's memory while populating),
 * PMN_E_NOT_ALLOWED, PMN_E_NO_HUGEPAGES, or another negative errno from the
 * kernel.  Nothing stays mapped on failure.
 */
PMN_API int pmn_region_map(struct pmn_backing *b, size_t size, struct pmn_region **out);
/**
 * Device-dax only: map the extent at @p offset.  -EINVAL when offset or
 * size is not a multiple of the device alignment or runs past its end,
 * -EBUSY when the extent overlaps one in use, -EOPNOTSUPP for other types
 * (since 0.4: a provider with PMN_PROVIDER_CAN_AT maps at an offset too).
 */
PMN_API int pmn_region_map_at(struct pmn_backing *b, uint64_t offset, size_t size,
                              struct pmn_region **out);
/**
 * Unmap and free a region (NULL is ignored).  0 or -errno from munmap.
 * No other thread may use the region during or after the call.
 */
PMN_API int pmn_region_unmap(struct pmn_region *r);
PMN_API void *pmn_region_addr(const struct pmn_region *r);
PMN_API size_t pmn_region_size(const struct pmn_region *r);
/** Node the region's pages are on (dax: the device's node, or -1). */
PMN_API int pmn_region_node(const struct pmn_region *r);
/**
 * The file behind a region of a shareable backing (PMN_BACKING_MEMFD, or
 * one made shareable), else -1.  Since 0.4 the file is the backing's,
 * shared by all its regions and owned by the backing (dup() it to keep it
 * past the backing); the region is the range [pmn_region_offset(),
 * pmn_region_offset() + pmn_region_size()) of it.  Before 0.4 it was a
 * memfd of the region alone, from offset 0.  A user or provider region
 * gives the fd its range or extent was given with (the caller's), or -1.
 */
PMN_API int pmn_region_fd(const struct pmn_region *r);
/** Nanoseconds spent populating and verifying the region. */
PMN_API uint64_t pmn_region_populate_ns(const struct pmn_region *r);
PMN_API uint64_t pmn_region_verify_ns(const struct pmn_region *r);

/** Where a range's pages are.  Set struct_size (see Conventions at the top). */
struct pmn_where {
    size_t struct_size;   /**< sizeof(struct pmn_where), set by the caller */
    uint64_t page_size;   /**< base page size used for the query */
    uint64_t pages;       /**< pages examined */
    uint64_t not_present; /**< pages not populated */
    uint64_t unknown;     /**< pages present whose node could not be read (device memory;
                               see pmn_where()) */
    uint64_t other;       /**< pages on nodes beyond node[] capacity */
    size_t nnodes;        /**< entries in node[], ascending node id */
    struct {
        int node;
        uint64_t pages;
    } node[PMN_STATS_MAX_NODES];
};
/**
 * Count the pages of [@p addr, @p addr + @p len) per node, without
 * faulting anything in.  @p addr is rounded down and the end up to the
 * page size.  Pages no mapping covers are not_present (counted from the
 * process's mappings, without a question per page: a range far larger
 * than the program's memory costs a walk of its mappings).  0, -EINVAL
 * (also for a struct_size below the first version, and a range whose last
 * page ends past the address space), -ENOMEM, or -errno from move_pages.
 * Thread-safe; the answer is a snapshot.
 *
 * With NUMA balancing on, kernels 6.1 to 6.4 answer move_pages as if a
 * page its scan has marked for a hinting fault were absent (-ENOENT; for
 * a transparent huge page -EFAULT, the zero page's answer), until the
 * page is next touched.  pmn_where() asks the pagemap about such a page
 * (mincore where the process cannot read its pagemap): present, it is
 * counted on its node, read from its page frame when the process may see
 * frames (CAP_SYS_ADMIN), else from /proc/self/numa_maps when the hidden
 * pages of its mapping are all on one node; otherwise in unknown.  A huge
 * page is placed only when the pagemap says it is mapped once (the zero
 * page never is; one shared with a forked child is not either).  Nothing
 * is touched (a touch could migrate it), and not_present stays for pages
 * that are not there.
 */
PMN_API int pmn_where(const void *addr, size_t len, struct pmn_where *out);
/** Pages of @p w on @p node (0 for a NULL @p w or one too small).  Thread-safe. */
PMN_API uint64_t pmn_where_pages_on(const struct pmn_where *w, int node);
/**@}*/

/** @name Registration
 *
 * A NIC, an RDMA device or a GPU needs to know the memory it will read and
 * write before it does (io_uring_register_buffers, ibv_reg_mr,
 * cudaHostRegister).  The memory behind a backing, an arena or a slab is a
 * set of extents, one per region the backing mapped (two for an arena's
 * large object placed beyond an alignment hole: the hole is address space,
 * never memory, and is never listed).  They can be listed, and hooks set on
 * the backing are told of each extent after it is mapped and before it is
 * unmapped.
 *
 * Hooks are set on a backing before it maps anything (pmn_backing_set_hooks()
 * answers -EBUSY while any region of it is mapped or being mapped: there is
 * no replay of existing extents, so no extent is ever seen half-registered).
 * With hooks set:
 *   - on_map runs once per extent after the region is mapped, populated
 *     and verified, and before any object in it is handed out (before
 *     pmn_region_map() returns it).  Nonzero fails the map: on_unmap runs
 *     for the extents of that region on_map accepted, the memory is
 *     released, and pmn_region_map() returns on_map's value when negative,
 *     -ECANCELED when positive; an arena or slab allocation returns NULL
 *     with errno ENOMEM.  Nothing stays mapped or counted.
 *   - on_unmap runs once per extent on_map accepted, while the memory is
 *     still mapped and populated, before it is unmapped (pmn_region_unmap(),
 *     an arena's or slab's purge, reset or destroy).
 *   - A registered extent is never unmapped or partly decommitted behind
 *     the caller's back: the arena and slab, which otherwise populate a
 *     4 MiB extent 64 KiB at a time as pages are handed out, populate it
 *     whole when it is mapped, and never give part of it back to the kernel
 *     (no MADV_DONTNEED or hole punching inside it).  The cost: a hooked
 *     backing's arena is resident in whole extents.
 * Hooks run in the thread that maps or unmaps, possibly with the arena's or
 * slab's internal lock held: they must not call into the same arena or
 * slab (allocate, free, stats, extents, reset, pmn_ipc_get() of its
 * objects), nor map or unmap regions of the same backing.  Registering the extent with a device is what they are
 * for.  Calls from several threads may run hooks concurrently.
 */
/**@{*/
struct pmn_arena;
struct pmn_slab;

/** One extent of memory.  Filled by the library; struct_size says how many
 * bytes of it are valid (read a field only when struct_size covers it). */
struct pmn_extent {
    size_t struct_size; /**< bytes of this struct the library filled */
    void *addr;         /**< first byte */
    size_t len;         /**< bytes, a multiple of the backing's granule */
    int node;           /**< node the pages are on (dax: the device's node, or -1) */
    int fd;             /**< memfd or dax device fd (the library owns it), else -1 */
    uint64_t offset;    /**< offset of addr in fd's file or device (a shareable
                             backing's file holds all its regions), 0 without fd */
};

/** Called for each extent; nonzero stops the walk and is returned. */
typedef int (*pmn_extent_fn)(const struct pmn_extent *e, void *arg);

/** Map/unmap hooks of a backing.  Set struct_size (see Conventions). */
struct pmn_extent_hooks {
    size_t struct_size; /**< sizeof(struct pmn_extent_hooks), set by the caller */
    /** After an extent is mapped, populated and verified; nonzero fails the map. */
    int (*on_map)(const struct pmn_extent *e, void *arg);
    /** Before an extent on_map accepted is unmapped; the memory is still there. */
    void (*on_unmap)(const struct pmn_extent *e, void *arg);
    void *arg; /**< passed to both */
};

/**
 * Set (or, with @p hooks NULL, clear) the map/unmap hooks of @p b; the
 * struct is copied.  0; -EINVAL for a NULL backing or a struct_size below
 * sizeof(size_t); -EBUSY when a region of @p b is mapped or being mapped
 * (set hooks before creating the arena or slab's first object; see the
 * group's head).  Thread-safe.
 */
PMN_API int pmn_backing_set_hooks(struct pmn_backing *b, const struct pmn_extent_hooks *hooks);

/**
 * Call @p fn for each extent of each region of @p b mapped when the call
 * starts (every arena and slab on the backing, and bare regions), in no
 * particular order.  Returns 0, fn's first nonzero value (which stops the
 * walk), -EINVAL, or -ENOMEM.  Thread-safe: the list is a snapshot taken
 * under the backing's lock, and @p fn runs without it, so regions mapped or
 * unmapped meanwhile by other threads may be missing or listed after they
 * are gone (hooks see every change exactly; use them to track a live set).
 * @p fn may allocate from arenas on the backing.
 */
PMN_API int pmn_backing_extents(struct pmn_backing *b, pmn_extent_fn fn, void *arg);
/**
 * As pmn_backing_extents(), for the extents an arena holds (in use, kept
 * empty for reuse, or cached after a large free).  Thread-safe, with the
 * same snapshot rule; @p fn may allocate from the arena.
 */
PMN_API int pmn_arena_extents(struct pmn_arena *a, pmn_extent_fn fn, void *arg);
/** As pmn_arena_extents(), for a slab. */
PMN_API int pmn_slab_extents(struct pmn_slab *s, pmn_extent_fn fn, void *arg);
/**@}*/

/** @name User-supplied memory and providers
 *
 * Since 0.4.  Two ways to run arenas and slabs over memory the library
 * does not map itself; both are backings, so everything of the Strict
 * placement and Registration groups holds (stats, hooks, extents).
 *
 * User-supplied memory (PMN_BACKING_USER, pmn_backing_params_set_user()):
 * a range the caller already has (anonymous mmap, a hugetlb mapping, a
 * memfd or POSIX shm mapping, cudaHostAlloc'ed or otherwise pinned
 * memory).  The caller keeps ownership: the library never maps, unmaps or
 * frees it, and the range must stay mapped until the backing and every
 * arena, slab and region on it are gone.  Exactly one node (set_node; a
 * spill list is -EINVAL).  At pmn_backing_new() every page is checked:
 * pages not present are populated first (MADV_POPULATE_WRITE under a
 * policy preferring the node), every page is queried with move_pages, and
 * one page elsewhere refuses the backing with PMN_E_MISPLACED (the log
 * says how many); the range is then bound to the node (MPOL_BIND), so
 * later faults stay there.  This changes the memory policy of the
 * caller's range.  With PMN_USER_UNVERIFIED (memory move_pages cannot
 * see: device memory, some pinned DMA buffers) nothing is touched,
 * queried or bound: the node is the caller's word, and
 * pmn_backing_verified() says false.  Regions are carved out of the range
 * (first fit, aligned as asked: an arena wants 4 MiB-aligned extents, so
 * give a 4 MiB-aligned range or expect up to 4 MiB unused at each end)
 * and given back to the range on unmap; the memory is never decommitted
 * unless the caller passes PMN_USER_PURGE (MADV_DONTNEED on each extent
 * given back, re-populated and verified when carved again), since it may
 * be pinned or registered.  When no free piece fits, the map fails with
 * -ENOMEM (the range is full; the node may not be).  The free-memory
 * check does not apply (the memory exists already).
 *
 * Providers (PMN_BACKING_PROVIDER, pmn_backing_new_provider()): a small
 * versioned ops table for memory the library cannot map itself.  For each
 * region the library calls map(), then populate() over it when there is
 * one (without, map() must return memory that is populated), then
 * verify() when there is one (without, the library verifies every page
 * with move_pages).  pmn_backing_params_set_verify(false) declares the
 * memory unverifiable: neither verify() nor move_pages runs, the
 * free-memory check is skipped too (as for memory the kernel does not
 * count), and pmn_backing_verified() says false.  A misplaced page
 * fails the map with PMN_E_MISPLACED and the extent goes back through
 * unmap().  Alignment: map() is asked for an
 * alignment (a power of two, at least the page size; 4 MiB for an
 * arena's extents); a provider that cannot align may return any address:
 * the library then gives it back, asks for len + align bytes and uses an
 * aligned part (the rest stays unused while the extent lives).  The spill
 * list, the free-memory check, hooks and stats are those of the built-in
 * backings, which are tables of this same kind inside the library (anon,
 * memfd, hugetlb, dax, user: all regions take one path).
 *
 * map() gets a struct pmn_provider_request.  A simple provider (caps 0)
 * reads len, align and node, and returns populated memory (or has a
 * populate(), called over the whole extent); its regions are populated
 * whole when mapped.  caps ask for more, as the built-ins do:
 * PMN_PROVIDER_CAN_SKEW: req->skew may be nonzero (addr + skew a multiple
 * of align: an arena's large object aligned beyond 4 MiB), so no len +
 * align extent is needed.  PMN_PROVIDER_CAN_LAZY (needs populate()): with
 * PMN_PROVIDER_LAZY in req->flags, map() only reserves and binds; the
 * library calls populate() for each piece before handing it out (an
 * arena's 4 MiB extent 64 KiB at a time) and never for
 * [hole_off, hole_off + hole_len); without the flag map() populates.
 * Each piece is verified on its own (verify() gets the piece), and one
 * that fails goes to purge() when there is one.  PMN_PROVIDER_CAN_AT:
 * pmn_region_map_at() works, with PMN_PROVIDER_AT and req->offset.
 * PMN_PROVIDER_VERIFIES: map() and populate() check the node themselves
 * (failing with PMN_E_MISPLACED or PMN_E_NODE_FULL): the library calls
 * neither verify() nor move_pages.  Without purge() the memory of a live
 * extent is never decommitted: an arena gives empty extents back whole,
 * through unmap() (PMN_PURGE_RELEASE, the default), and keeps them all
 * with PMN_PURGE_KEEP; purge() is called only on a lazy piece that failed.
 * release() runs once, when the backing's last reference goes (after the
 * last unmap()).
 *
 * Thread-safety: ops may be called from any thread, concurrently, never
 * under the backing's lock, but possibly under an arena's or slab's
 * internal lock: they must not call into an arena, slab or backing that
 * uses this provider.
 */
/**@{*/
/** pmn_backing_params_set_user() flags. */
#define PMN_USER_UNVERIFIED 0x1u /**< the node cannot be verified: take the caller's word */
#define PMN_USER_PURGE 0x2u      /**< extents given back may be decommitted (MADV_DONTNEED) */

/**
 * Make @p p a PMN_BACKING_USER over [@p addr, @p addr + @p len) (both
 * multiples of the page size, len > 0), with @p fd and @p offset the
 * file behind it when there is one (reported in extents; -1 and 0
 * otherwise; the library never closes it).  @p flags: PMN_USER_*.
 * -EINVAL for a NULL, unaligned or empty range or unknown flags.
 */
PMN_API int pmn_backing_params_set_user(struct pmn_backing_params *p, void *addr, size_t len,
                                        int fd, uint64_t offset, unsigned flags);

/** pmn_provider_request flags: what this map() is asked for. */
#define PMN_PROVIDER_LAZY 0x1u /**< map and bind only: populate() is called for pieces later */
#define PMN_PROVIDER_AT 0x2u   /**< map exactly at req->offset of the provider's memory */

/** pmn_provider_ops caps: what a provider's map() can do beyond the minimum. */
#define PMN_PROVIDER_CAN_SKEW 0x1u /**< honours req->skew (else the library trims) */
#define PMN_PROVIDER_CAN_LAZY 0x2u /**< honours PMN_PROVIDER_LAZY; needs populate() */
#define PMN_PROVIDER_CAN_AT 0x4u   /**< honours PMN_PROVIDER_AT (pmn_region_map_at()) */
#define PMN_PROVIDER_VERIFIES 0x8u /**< map() and populate() check the node themselves */

/**
 * What one map() is asked for.  Filled by the library; struct_size says how
 * many bytes of it are valid (a field beyond it reads as 0).  A provider
 * without caps sees skew 0 and flags 0 and may ignore everything but len,
 * align and node.
 */
struct pmn_provider_request {
    size_t struct_size; /**< bytes of this struct the library filled */
    size_t len;         /**< bytes wanted (a multiple of the page size) */
    size_t align;       /**< power of two, at least the page size */
    size_t skew;        /**< addr + skew must be a multiple of align (CAN_SKEW only) */
    int node;           /**< the node the memory must be on (-1: the device's own) */
    unsigned flags;     /**< PMN_PROVIDER_LAZY, PMN_PROVIDER_AT (only as caps allow) */
    uint64_t offset;    /**< PMN_PROVIDER_AT: where in the provider's memory */
    /** LAZY: [hole_off, hole_off + hole_len) is address space the library will
     *  never populate (a provider may keep huge pages out of it). */
    size_t hole_off, hole_len;
};

/**
 * A provider's ops.  Set struct_size to sizeof(struct pmn_provider_ops):
 * since 0.4's second layout (map takes a request, caps at the end) a
 * shorter table is refused with -EPROTO (it was built against the first
 * layout, whose map() had another signature).
 */
struct pmn_provider_ops {
    size_t struct_size; /**< sizeof(struct pmn_provider_ops), set by the caller */
    const char *name;   /**< for logs; copied at creation (NULL: "provider") */
    /**
     * Required.  Give req->len bytes for req->node, req->align-aligned if it
     * can (see above), in @p out (addr, len >= req->len, fd/offset or -1/0;
     * node may be left -1); 0 or a negative code (returned by the
     * allocation).  req->flags holds only what caps allow: without
     * PMN_PROVIDER_LAZY the memory must be populated on return unless there
     * is a populate() and no PMN_PROVIDER_CAN_LAZY (then the library calls
     * populate() over it, as in 0.4's first layout).
     */
    int (*map)(void *state, const struct pmn_provider_request *req, struct pmn_extent *out);
    /** Required.  Take back an extent map() gave (exactly as it gave it). */
    int (*unmap)(void *state, const struct pmn_extent *e);
    /** Optional (required with CAN_LAZY).  Make [off, off + len) of @p e present; 0 or a code. */
    int (*populate)(void *state, const struct pmn_extent *e, size_t off, size_t len);
    /**
     * Optional.  Count the pages of @p e not on e->node into *misplaced; 0 or
     * a code.  For a lazy region @p e is the piece just populated.
     */
    int (*verify)(void *state, const struct pmn_extent *e, uint64_t *misplaced);
    /** Optional.  Decommit [off, off + len) of @p e before it is given back. */
    int (*purge)(void *state, const struct pmn_extent *e, size_t off, size_t len);
    /** Optional.  The backing is gone: free @p state. */
    void (*release)(void *state);
    /** PMN_PROVIDER_CAN_* and PMN_PROVIDER_VERIFIES; 0 for a simple provider.
     *  Last, so that a table of the first layout is shorter than this one. */
    unsigned caps;
};

/**
 * Create a PMN_BACKING_PROVIDER backing: @p p gives the node or spill list,
 * verify and headroom (its type is ignored); @p ops is copied and @p state
 * is passed to every op.  0, -EINVAL (NULL, no map or unmap, unknown caps,
 * CAN_LAZY without populate), -EPROTO (struct_size below this layout's: a
 * table built against 0.4's first layout, whose map() took other
 * arguments), or the errors of pmn_backing_new().  On failure release() is
 * not called.
 */
PMN_API int pmn_backing_new_provider(struct pmn_ctx *ctx, const struct pmn_backing_params *p,
                                     const struct pmn_provider_ops *ops, void *state,
                                     struct pmn_backing **out);
/**
 * False when the backing's placement is not checked page by page: a user
 * range made with PMN_USER_UNVERIFIED, a provider (or any backing) with
 * verification turned off, and device-dax (the device's node by
 * construction).  False for NULL.  Thread-safe.
 */
PMN_API bool pmn_backing_verified(const struct pmn_backing *b);
/**@}*/

/** @name Allocators
 *
 * An arena carves a backing's memory into objects of any size and any
 * power-of-two alignment; a slab serves one fixed object size with bulk
 * calls.  Both take memory from their backing in 4 MiB extents (larger
 * for big objects), so every object inherits the backing's placement:
 * an arena on a node-bound backing never returns memory from another node,
 * and when the node is full the allocation returns NULL with errno ENOMEM.
 *
 * Each thread allocates from its own pages of the arena (no lock on the
 * fast path); any thread may free any object.  pmn_free() finds the
 * object's arena from the pointer in O(1) and reports a pointer it does
 * not own instead of crashing.
 *
 * Thread-safety: every call may be made from any thread concurrently,
 * except pmn_arena_reset() and pmn_*_destroy(), which require that no
 * other thread uses the arena or slab during the call.
 *
 * Fork: a program may fork() while other threads allocate, map regions,
 * demote or promote.  libpmnode registers pthread_atfork() handlers when
 * its first backing, arena, slab or compressed tier is made; they hold
 * every open compressed tier's lock, pmn_publish_start()'s, every live
 * arena's and slab's and every live backing's, from the prepare handler
 * to the parent's and the child's, so the child can allocate at once.  (A prepare handler
 * the program registers later runs before them, and may still allocate.)
 * The child has its own copy of every object, except a shareable
 * backing's ("Sharing with other processes").
 */
/**@{*/
struct pmn_arena;
struct pmn_slab;

/** What empty extents do. */
enum pmn_purge {
    PMN_PURGE_DEFAULT = 0, /**< release (anon, memfd, hugetlb); keep (dax) */
    PMN_PURGE_RELEASE,     /**< give empty extents beyond the retained ones back to the backing */
    PMN_PURGE_KEEP,        /**< keep every extent until destroy */
};

/** Arena options (versioned by size: zero-initialise, set what you need). */
struct pmn_arena_opts {
    size_t struct_size; /**< sizeof(struct pmn_arena_opts) */
    enum pmn_purge purge;
    unsigned retain; /**< empty extents kept for reuse (NULL opts: 2) */
    /**
     * Most bytes the arena's objects may occupy (the pages holding small
     * objects, and large objects' extents); 0 = no cap.  The backing hands
     * memory out in 4 MiB extents, so resident memory can exceed a cap
     * smaller than that by up to one extent.
     */
    uint64_t cap_bytes;
    /** Since 0.3: bytes to reserve at creation, as pmn_arena_reserve(). */
    size_t reserve_bytes;
    /** Since 0.7: PMN_ARENA_* flags (unknown bits: -EINVAL). */
    unsigned flags;
    /**
     * Since 0.7, read with PMN_ARENA_LARGE_CACHE: most bytes of freed large
     * objects' extents kept for reuse (0: none).  Default 64 MiB.
     */
    uint64_t large_cache_bytes;
    /**
     * Since 0.9, read with PMN_ARENA_SMALL_CACHE: most bytes of populated
     * memory in freed small objects' pages kept for reuse (see
     * pmn_arena_trim()).  0 keeps only the fixed slack (2 MiB, or a
     * quarter of the pages in use when that is more).  Default 32 MiB.
     * A capped arena (cap_bytes) keeps only the slack.  Since 0.9.1 it
     * also sizes each thread's free cache of a size class: a
     * sixty-fourth of it, at least 128 KiB (pmn_arena(3), "Free
     * cache").
     */
    uint64_t small_cache_bytes;
};

/**
 * pmn_arena_opts.flags (since 0.7).
 *
 * Large objects (over 256 KiB) and placement.  By default an anonymous or
 * memfd backing's large object is mapped and bound to its node
 * (MPOL_BIND | MPOL_F_STATIC_NODES) before any page of it exists, its
 * header is populated and verified, and the object's own pages are left
 * to the program: each is faulted in by its first touch, and the bind
 * policy lets the kernel take it from that node only.  The node's free
 * memory is checked for the whole object at allocation, as for any
 * extent.  "Verified" then means, for the pages the program has not
 * touched yet: nothing is there to be misplaced (pmn_where() counts them
 * as not present), and the policy in force allows no other node when they
 * appear.  What the library cannot give for such pages is an error code:
 * if the node runs out between the allocation and a touch, the kernel
 * answers the fault (reclaim, then the OOM killer), not malloc.
 * PMN_ARENA_POPULATE is for callers who want every page present and
 * checked up front, with exhaustion reported as NULL / ENOMEM.  Hugetlb,
 * device-dax, user and provider backings are always populated whole.
 */
enum pmn_arena_flags {
    /**
     * Populate and verify every large object when it is allocated (every
     * page present and on the node, or NULL with errno ENOMEM), as small
     * objects' pages always are.
     */
    PMN_ARENA_POPULATE = 1u << 0,
    /** Use large_cache_bytes as the large-extent cache's bound. */
    PMN_ARENA_LARGE_CACHE = 1u << 1,
    /** Since 0.9: use small_cache_bytes as the small-page cache's bound. */
    PMN_ARENA_SMALL_CACHE = 1u << 2,
};

/**
 * Create an arena over @p b, which it references until destroyed: the
 * caller may free the backing at any time after this call.  @p opts may be
 * NULL.  0, -EINVAL, -ENOMEM.
 */
PMN_API int pmn_arena_new(struct pmn_backing *b, const struct pmn_arena_opts *opts,
                          struct pmn_arena **out);
/** Return every extent to the backing and free the arena (NULL is ignored).  Objects die. */
PMN_API void pmn_arena_destroy(struct pmn_arena *a);
/**
 * Drop every object at once.  What stays mapped, populated and verified
 * for the next use: reserved extents always; with PMN_PURGE_KEEP every
 * extent, large objects' included (objects over 256 KiB have an extent of
 * their own; a later large allocation reuses a kept one that is at least
 * its size and at most 4 times it, with no map and no fault); otherwise
 * up to @c retain extents of small objects (4 MiB each), large extents
 * released.  Extents on the backing's first node (the head of a spill
 * list) are kept, and reused, before those that spilled.  (pmn_free() of
 * a large object, outside reset, keeps its extent under PMN_PURGE_KEEP;
 * otherwise it goes to the large-extent cache, whose bound is
 * pmn_arena_opts.large_cache_bytes, 64 MiB by default: an extent larger
 * than the bound goes back to the backing at once, and when the cache
 * would exceed it the extents freed least recently go back first.  A
 * cached extent keeps the pages its last object touched; the next large
 * object that fits takes it with no map and no fault.  After fork() the
 * child has its own copy of the cache, as of every object, except for a
 * shareable backing's, whose memory is shared: see "Sharing with other
 * processes".)
 */
PMN_API void pmn_arena_reset(struct pmn_arena *a);
/**
 * Give back to the backing, now, the memory the arena keeps for reuse
 * (since 0.9): the populated memory of small objects' pages that no size
 * class holds any more (the small-page cache), empty extents beyond
 * pmn_arena_opts.retain, the large-extent cache, and the emptied pages
 * and freed objects (its free caches, since 0.9.1) the calling thread
 * keeps (below), and, since 0.12.2, the calling thread's pages whose
 * objects other threads freed (before, such a page stayed with its
 * thread, counted active, until the thread next ran out of room in that
 * size class; the trim takes those frees in first, a walk of the
 * thread's pages).  Objects, reserved extents (pmn_arena_reserve()), each
 * thread's current and spare page of a class, and what other threads
 * keep (pages, free caches) stay: a thread's pages are its own, and the
 * trim asks each other thread to give its kept ones, and its pages
 * other threads emptied, back at its next call that takes a new page or
 * block run (its slow path), when it exits, or when it trims.  A thread that never calls
 * into the arena again keeps them until it exits.  Nothing goes under
 * PMN_PURGE_KEEP (or a device-dax backing's default).
 *
 * Why: when a page's objects are all freed, it stays with its thread
 * (free list and all, for the next objects of its size), or its slices
 * stay populated for the next page to take with no fault and no check,
 * up to pmn_arena_opts.small_cache_bytes (32 MiB by default) beyond the
 * pages in use; a program that has freed most of its objects and goes idle
 * calls this to leave that memory to other users of the node.  The next
 * pages then populate and verify their memory again.  The bound is per
 * arena: a program with many arenas holds up to it in each (size it down,
 * or to 0, for many small ones).
 *
 * @p released (may be NULL) receives the bytes of populated memory given
 * back (pmn_alloc_stats.populated before less after; a large object
 * allocated meanwhile by another thread makes it smaller).  0, or -EINVAL
 * for a NULL arena.  Thread-safe: other threads may allocate and free
 * meanwhile (it takes the arena's lock).
 */
PMN_API int pmn_arena_trim(struct pmn_arena *a, uint64_t *released);
/**
 * Reserve: map, populate and verify now enough 4 MiB extents for
 * @p bytes of small-object pages (objects up to 256 KiB; rounded up to
 * the 64 KiB page granule), and keep them until pmn_arena_destroy()
 * (never purged, kept across pmn_arena_reset()).  Pages are then carved
 * from this memory first, by any thread, with no map and no page fault.
 * Cumulative: a second call reserves only what is missing.  All or
 * nothing: a reserve the backing cannot complete gives back what it mapped
 * (earlier reserves stay), and one past the cap maps nothing.  0, -EINVAL,
 * PMN_E_CAP_REACHED (more than the cap), or the backing's error
 * (PMN_E_NODE_FULL, PMN_E_MISPLACED, ...).  Thread-safe.  Since 0.3.
 */
PMN_API int pmn_arena_reserve(struct pmn_arena *a, size_t bytes);

/** malloc(): NULL with errno ENOMEM when the backing cannot give memory. */
PMN_API void *pmn_arena_malloc(struct pmn_arena *a, size_t size) PMN_MALLOC
    PMN_ALLOC_SIZE(2) PMN_NODISCARD;
/** calloc(): zeroed; NULL with errno ENOMEM also when @p n * @p size overflows. */
PMN_API void *pmn_arena_calloc(struct pmn_arena *a, size_t n, size_t size) PMN_MALLOC
    PMN_ALLOC_SIZE2(2, 3) PMN_NODISCARD;
/** realloc(): NULL @p p allocates; size 0 frees and returns a unique object. */
PMN_API void *pmn_arena_realloc(struct pmn_arena *a, void *p, size_t size)
    PMN_ALLOC_SIZE(3) PMN_NODISCARD;
/**
 * @p align a power of two (any size); EINVAL otherwise.  An alignment
 * beyond 64 KiB costs address space, not memory: only the object's pages
 * (and its extent's 64 KiB header) are populated, whatever the alignment;
 * device-dax spends at most one extent or device unit more.  NULL with
 * ENOMEM when the address space cannot be found (alignments near 2^62).
 */
PMN_API void *pmn_arena_aligned_alloc(struct pmn_arena *a, size_t align, size_t size) PMN_MALLOC
    PMN_ALLOC_SIZE(3) PMN_ALLOC_ALIGN(2) PMN_NODISCARD;

/**
 * Free an object of any arena or slab.  NULL is ignored (0).  Misuse is
 * refused in every build, touching nothing: PMN_E_FOREIGN for a pointer
 * libpmnode did not allocate, PMN_E_DOUBLE_FREE for an object freed
 * already (in a row or not, by this thread or any other), PMN_E_INTERIOR
 * for a pointer into an object; -EBUSY in a forked child for an object of
 * an inherited shareable backing (the parent's, "Sharing with other
 * processes").  The one double free not refused is an object freed at
 * the same instant by the thread that allocated it and by another: seen
 * later when that thread gathers other threads' frees into a page that
 * still has free blocks, the second copy is dropped and logged (PMNODE_LOG
 * warn); gathered into a page with none (since 0.12.5, which no longer
 * reads each block there), the object can be handed out twice, as in
 * other allocators.  A
 * large object (over 256 KiB) whose memory already went back to the
 * system reads as foreign; freeing it again while another thread's free
 * of it is returning that memory is a use after free and can fault, as
 * in any allocator.  Thread-safe.
 */
PMN_API int pmn_free(void *p);
/**
 * realloc() for an object of any arena: the object stays in its arena.  A
 * slab object keeps its one size: shrinking returns it, growing fails
 * (EINVAL), as does a NULL, foreign, freed or interior @p p (nothing is
 * touched then).
 */
PMN_API void *pmn_realloc(void *p, size_t size) PMN_ALLOC_SIZE(2) PMN_NODISCARD;
/** Usable size of an object, 0 for NULL, a foreign pointer, an object
 * freed already or a pointer into one. */
PMN_API size_t pmn_usable_size(const void *p);
/** The arena that owns @p p, or NULL (foreign pointer, or a slab object). */
PMN_API struct pmn_arena *pmn_arena_of(const void *p);

/**
 * Counters of an arena or slab.  Set struct_size (see Conventions at the
 * top).  The embedded backing counters are always filled whole, their own
 * struct_size set by the library; should struct pmn_backing_stats grow,
 * this member keeps the layout of its first version, so the fields after
 * it never move.
 *
 * One vocabulary (since 0.8): pmn_alloc_stats_json() and the Python
 * binding's stats() use these field names as keys, the backing's fields
 * flattened beside them (mapped_bytes, mapped_peak_bytes, region_maps,
 * region_map_failures, spilled_bytes, and bytes_per_node for nnodes and
 * node[]).
 *
 * The four byte counts, from the objects outwards (each at most the next;
 * the heap hands memory to size classes in pages of 64 KiB slices, carved
 * from extents of 4 MiB mapped from the backing):
 *  - allocated: the usable sizes of the live objects (a size class's size,
 *    so at least what was asked);
 *  - active: the slices of the pages that belong to a size class, whether
 *    or not an object is live in them, plus large objects' extents.  A page
 *    whose objects are all freed stays active while it is kept for reuse:
 *    each thread keeps its current page of every size class it used,
 *    one more empty page per class (so a size that comes and goes does not
 *    return and retake a page each time) and, since 0.9, more emptied
 *    pages within the small-page cache's bound (pmn_arena_trim()), a
 *    capped heap keeps empty
 *    pages in a pool every thread may take, and a page whose objects
 *    another thread freed stays with its owner until the owner next
 *    collects those frees.  So a slab can show active
 *    bytes with 0 objects: active - allocated is room inside its pages
 *    (free slots and kept empty pages), not a leak; pmn_arena_reset() or
 *    destroying the arena or slab returns it;
 *  - resident: the extents mapped from the backing, counted whole (see
 *    pmn_arena_stats()).  An extent left with no active slice stays
 *    resident when the purge setting keeps it for reuse (up to
 *    pmn_arena_opts.retain empty extents, every one under PMN_PURGE_KEEP),
 *    and so does a freed large object's extent in the large-extent cache:
 *    resident - active is mapped memory no page or object uses;
 *  - populated: what of resident has been touched (made present) so far.
 * backing.mapped_bytes is resident as the backing counts it (equal for an
 * arena's own backing; a shared backing adds its other users' regions).
 */
struct pmn_alloc_stats {
    size_t struct_size; /**< sizeof(struct pmn_alloc_stats), set by the caller */
    uint64_t allocated; /**< bytes in live objects (usable sizes) */
    uint64_t objects;   /**< live objects */
    uint64_t active;    /**< bytes in pages kept by size classes, and large objects' extents */
    uint64_t resident;  /**< bytes of extents taken from the backing (see below) */
    uint64_t peak;      /**< highest resident */
    uint64_t allocs, frees, remote_frees; /**< calls (remote: freed by another thread) */
    uint64_t failures;                    /**< allocations that returned NULL */
    struct pmn_backing_stats backing;     /**< bytes per node of the backing */
    /**
     * Since 0.3: bytes of the extents populated so far: per 4 MiB extent of
     * small objects its header (about 12 KiB; 0.8.x and earlier: up to
     * 128 KiB with the misuse bitmaps) and the 4 KiB of pages populated as
     * blocks were handed out or reserved, less what empty pages gave
     * back; large objects' extents as in resident.
     * This, not resident, is the memory a cap bounds.
     */
    uint64_t populated;
};
/**
 * Snapshot of an arena's counters.  0, or -EINVAL for a NULL argument or
 * a struct_size below the first version.
 *
 * What the byte counts count: resident (and backing.mapped_bytes, which
 * equals it for an arena's own backing) counts each 4 MiB extent of small
 * objects whole, though its pages are populated as they are handed out,
 * and for a large object its extent's header slice and the object's pages.
 * Address space reserved only to align a large object (the space between
 * the header and an object aligned beyond 64 KiB) is never populated and
 * never counted, on every backing but device-dax, where it is device
 * memory and counted (at most one extent or device unit per object).
 * active is the part of resident holding objects.
 */
PMN_API int pmn_arena_stats(struct pmn_arena *a, struct pmn_alloc_stats *out);
/**
 * Write the stats as one JSON object into @p buf (NUL-terminated when it
 * fits): the fields above by name, then the backing's by name,
 * "mapped_bytes", "mapped_peak_bytes", "region_maps",
 * "region_map_failures", "spilled_bytes", "bytes_per_node" (an object
 * keyed by node id), then (since 0.8) "populated" when the caller's
 * struct has it.
 * Reads st->struct_size bytes of @p st.  Returns the length the full text
 * needs, like snprintf, or -EINVAL (a struct_size below the first
 * version, or NULL @p buf with @p len > 0).  Thread-safe.
 */
PMN_API int pmn_alloc_stats_json(const struct pmn_alloc_stats *st, char *buf, size_t len);

/**
 * Create a slab of @p obj_size objects (at most 256 KiB) aligned to
 * @p align (a power of two up to 64 KiB, 0 for the natural alignment;
 * every object takes a multiple of 16 bytes, as with malloc),
 * whose pages may occupy at most @p cap_bytes (0 = no cap; exact to the
 * page, and shared by every thread: see pmn_slab_new_opts()).  Like an
 * arena, the slab references @p b until destroyed.  0, -EINVAL, -ENOMEM.
 *
 * Objects whose size rounded up to the alignment is 2048 bytes (2033 to
 * 2048 with the natural alignment), with @p align at most 64, take blocks
 * of 2112 bytes (since 0.12): 2 KiB apart, the first lines of a burst of 32
 * buffers share 2 of a 48 KiB L1 cache's 64 sets and evict each other
 * (bench/alloc bulk-2k: 5.7 ns per object against 4.4 spread, 15.7
 * against 4.4 with two threads on one slab).  An @p align of 128 or more
 * keeps them 2048 bytes apart, 32 to a 64 KiB page; 4 KiB objects always
 * stay page-sized blocks.  pmn_usable_size() tells the block's size.
 */
PMN_API int pmn_slab_new(struct pmn_backing *b, size_t obj_size, size_t align, uint64_t cap_bytes,
                         struct pmn_slab **out);
/** Slab options (versioned by size: zero-initialise, set what you need).  Since 0.3. */
struct pmn_slab_opts {
    size_t struct_size; /**< sizeof(struct pmn_slab_opts) */
    size_t align;       /**< as pmn_slab_new()'s @p align (0: natural) */
    /**
     * Most bytes the slab's pages may occupy (0: no cap).  Exact to the
     * page granule: the slab holds floor(cap_bytes / page) pages, a page
     * being 64 KiB times ceil(8 * object size / 64 KiB), at most 2 MiB
     * (2 KiB objects: 64 KiB pages of 31 objects in 2112-byte blocks, 32
     * with an align of 128 or more: see pmn_slab_new()).
     */
    uint64_t cap_bytes;
    /** Most objects (0: no cap), rounded up to whole pages; with both caps, the smaller wins. */
    uint64_t cap_objects;
    enum pmn_purge purge;   /**< what empty extents do, as for an arena */
    unsigned retain;        /**< empty extents kept (0 with opts; pmn_slab_new(): 1) */
    size_t reserve_objects; /**< reserved at creation, as pmn_slab_reserve() */
    /** Since 0.9: PMN_SLAB_* flags (unknown bits: -EINVAL). */
    unsigned flags;
    /**
     * Since 0.9, read with PMN_SLAB_CACHE: most bytes of populated memory
     * in emptied pages kept for reuse, as pmn_arena_opts.small_cache_bytes
     * (default 32 MiB; pmn_slab_trim() gives it back).
     */
    uint64_t cache_bytes;
};

/** pmn_slab_opts.flags (since 0.9). */
enum pmn_slab_flags {
    /** Use cache_bytes as the bound of the memory kept in emptied pages. */
    PMN_SLAB_CACHE = 1u << 0,
};

/**
 * pmn_slab_new() with options (@p opts may be NULL: no cap, no reserve).
 *
 * Capacity is shared: in a capped slab a page its owner thread empties
 * goes back to the slab at once (its current page too), and a thread
 * that reaches the cap takes back empty pages of threads that exited
 * before failing, so the whole cap serves any thread whatever thread
 * freed.  Objects freed by another thread return to their page's owner
 * when it next allocates; a page whose objects were all freed remotely
 * while its owner, still alive, never allocates again stays with it.
 *
 * Memory behind a cap: the slab's extents are 4 MiB; each populates its
 * header (the page map, about 12 KiB, within its first 64 KiB slice) and
 * then only the pages handed out or reserved, so populated memory stays
 * within the cap rounded down to whole pages plus 64 KiB per extent
 * (pmn_alloc_stats.populated).  0, -EINVAL, -ENOMEM, or a reserve's error.
 */
PMN_API int pmn_slab_new_opts(struct pmn_backing *b, size_t obj_size,
                              const struct pmn_slab_opts *opts, struct pmn_slab **out);
/**
 * Reserve: map, populate and verify now the pages for @p nobjs objects
 * (rounded up to whole pages), and keep them until pmn_slab_destroy().
 * Allocation and free of those objects, by any thread, then never map,
 * populate nor fault (a thread's first call still allocates its small
 * per-thread record with malloc).  Cumulative, all or nothing, as
 * pmn_arena_reserve().  0, -EINVAL, PMN_E_CAP_REACHED (more than the cap),
 * -ENOMEM (more pages than address space), or the backing's error.
 * Thread-safe.  Since 0.3.
 */
PMN_API int pmn_slab_reserve(struct pmn_slab *s, size_t nobjs);
/** Free the slab and every object in it (NULL is ignored). */
PMN_API void pmn_slab_destroy(struct pmn_slab *s);
/**
 * One object, or NULL with errno ENOMEM (backing full or cap reached:
 * pmn_last_error() says which), or EINVAL for a NULL slab.
 */
PMN_API void *pmn_slab_alloc(struct pmn_slab *s) PMN_MALLOC PMN_NODISCARD;
/**
 * Free one object of this slab (pmn_free() works too).  NULL is ignored
 * (0).  Reports misuse as pmn_free() does, touching nothing:
 * PMN_E_FOREIGN for a pointer that is not an object of @p s (another
 * slab's, an arena's, or memory libpmnode did not allocate),
 * PMN_E_DOUBLE_FREE for an object freed already, PMN_E_INTERIOR for a
 * pointer into one.  -EINVAL for a NULL slab.
 */
PMN_API int pmn_slab_free(struct pmn_slab *s, void *p);
/**
 * Allocate up to @p n objects into @p objs; returns how many (errno set
 * when short).  0 with errno EINVAL for a NULL slab, or NULL @p objs with
 * @p n > 0.
 */
PMN_API size_t pmn_slab_alloc_bulk(struct pmn_slab *s, void **objs, size_t n) PMN_NODISCARD;
/**
 * Free @p n objects of this slab, as pmn_slab_free() on each in order.
 * Every good object is freed even when others are bad: a bad entry (a
 * foreign pointer, a double free) is skipped and touched no more than
 * pmn_slab_free() would touch it.  NULL entries are ignored.  Returns 0
 * when every entry was freed (or NULL), else the code of the first bad
 * entry; -EINVAL (nothing freed) for a NULL slab, or NULL @p objs with
 * @p n > 0.
 */
PMN_API int pmn_slab_free_bulk(struct pmn_slab *s, void *const *objs, size_t n);
/** The object size asked for at creation (0 for NULL). */
PMN_API size_t pmn_slab_obj_size(const struct pmn_slab *s);
/**
 * As pmn_arena_trim(), for a slab (since 0.9): the populated memory of
 * emptied pages and empty extents beyond the retained ones go back now.
 * 0, or -EINVAL for a NULL slab.  Thread-safe.
 */
PMN_API int pmn_slab_trim(struct pmn_slab *s, uint64_t *released);
/** As pmn_arena_stats(), for a slab. */
PMN_API int pmn_slab_stats(struct pmn_slab *s, struct pmn_alloc_stats *out);
/**@}*/

/** @name Compressed tier
 *
 * A compressed memory node stores pages compressed: its real capacity
 * depends on the data, and writes must be controlled.  A tier demotes
 * cold ranges there explicitly and write-protects them; the first write to
 * a demoted page moves exactly that page back to a normal node and then
 * lets the write proceed.  Reads never move anything.
 *
 * Memory the tier demotes should be in base pages (libpmnode's backings
 * are, unless asked for transparent huge pages): the kernel migrates a THP
 * whole, so a write to a THP-backed range brings back its 2 MiB page; the
 * stats account for that.
 *
 * A demoted range is bound (MPOL_BIND) to the tier and promote nodes
 * together so that NUMA balancing does not pull its pages back; promoting
 * the whole range binds it to the promote node again.
 *
 * Write control uses userfaultfd write-protection (Linux 5.7+, anonymous
 * private memory): a handler thread per tier receives write faults,
 * migrates the page with move_pages, and lifts the protection.  Where
 * userfaultfd is unavailable, the fallback is mprotect(PROT_READ) with a
 * SIGSEGV handler that does the same in the faulting thread; it chains to
 * any previous handler for faults that are not ours.  Its limits: a system
 * call writing into demoted memory fails with EFAULT instead of promoting,
 * unmapping demoted memory is not noticed (promote before unmapping), and
 * every promoted page splits the mapping.  pmn_ctier_write_control() says
 * which is in use.
 *
 * Before any page moves, a demotion is checked: the data is sampled
 * through LZ4 to estimate its ratio; data below the tier's minimum ratio
 * is refused (PMN_E_INCOMPRESSIBLE), and so is a demotion whose estimated
 * physical size would overfill the device (PMN_E_TIER_FULL).
 *
 * Thread-safety: every call may be made from any thread; demote, promote
 * and the write handler serialise on the tier's lock.  The exception is
 * pmn_ctier_close(): no other thread may use the tier during the call.
 * Demote, promote and stats see every munmap, madvise(MADV_DONTNEED) and
 * mremap the calling thread made before the call: they wait until the
 * handler thread has applied those events (since 0.10.1).
 */
/**@{*/
struct pmn_ctier;

/** How writes to demoted pages are caught. */
enum pmn_ctier_wc {
    PMN_CTIER_WC_AUTO = 0, /**< userfaultfd where the kernel allows it, else mprotect */
    PMN_CTIER_WC_UFFD,     /**< userfaultfd write-protect only */
    PMN_CTIER_WC_MPROTECT, /**< mprotect(PROT_READ) and a SIGSEGV handler */
};

/** When a write fault cannot promote its page (the target node is full). */
enum pmn_ctier_on_full {
    PMN_CTIER_WRITE_IN_PLACE =
        0,           /**< lift protection, the write lands on the compressed node (counted) */
    PMN_CTIER_RETRY, /**< keep the writer waiting and retry every millisecond */
};

struct pmn_ctier_opts {
    size_t struct_size; /**< sizeof(struct pmn_ctier_opts) */
    int node;           /**< compressed node; -1 = the first node of kind compressed */
    int promote_node; /**< where written pages go; -1 = node 0's nearest DRAM (lowest id with CPUs) */
    uint64_t
        capacity_bytes; /**< physical capacity; 0 = the device's size (cramdax), else node MemTotal */
    double min_ratio; /**< refuse data compressing worse than this; 0 = 1.5 */
    double reserve;   /**< fraction of capacity kept free; 0 = 0.05 */
    enum pmn_ctier_on_full on_full;
    enum pmn_ctier_wc write_control; /**< mechanism; PMN_CTIER_WC_AUTO picks the best */
};

/**
 * Open a tier on a node discovery marks compressed (or one an
 * administrator named with pmn_ctx_params_set_node_kind or the config
 * file).  0, PMN_E_NOT_COMPRESSED, PMN_E_NO_NODE, PMN_E_REMOTE_ROOT,
 * PMN_E_NO_WRITE_CONTROL, -ENOMEM.
 */
PMN_API int pmn_ctier_open(struct pmn_ctx *ctx, const struct pmn_ctier_opts *opts,
                           struct pmn_ctier **out);
/**
 * Lift every protection the tier set (a page the program made PROT_NONE
 * stays so), stop the handler and free the tier; pages stay where they
 * are.  Safe while other threads write into demoted memory, with either
 * mechanism: their writes land.
 *
 * fork: a tier is its opener's (its userfaultfd and handler thread act on
 * the opener's memory).  In a forked child, demote and promote return
 * -ECHILD and close frees the child's copy of the tier without touching
 * the parent's write control (with mprotect write control it makes the
 * child's own copies of demoted pages writable again; with userfaultfd the
 * child's copies were never write-protected).  Since 0.9.3.
 */
PMN_API void pmn_ctier_close(struct pmn_ctier *t);
PMN_API int pmn_ctier_node(const struct pmn_ctier *t);
/**
 * The write-control mechanism in use: "userfaultfd-wp" (user and kernel
 * writes trap), "userfaultfd-wp-user" (user-mode only: a system call
 * writing into demoted memory fails with EFAULT instead of promoting;
 * unprivileged processes where vm.unprivileged_userfaultfd is 0), or
 * "mprotect" (the fallback; see above).
 */
PMN_API const char *pmn_ctier_write_control(const struct pmn_ctier *t);

/**
 * Demote [@p addr, @p addr + @p len) (page-aligned, anonymous private
 * memory: an arena's pages or the caller's own).  Checks the estimate and
 * capacity first, then write-protects and moves every page.  A range (or
 * part of one) whose pages all came back may be demoted again; unmapping
 * demoted memory forgets it.  0, -EINVAL (misaligned; not wholly private
 * anonymous memory that is readable and writable and not executable:
 * PROT_NONE, read-only, executable, shared or file memory, or a hole; or
 * cutting through a transparent huge page), -EBUSY (a page of it is on this
 * tier or on another tier open in this process; a page that came back, by a
 * write or a promote, may be demoted on any tier), -ECHILD (in a child
 * forked from the tier's opener), -EAGAIN (another thread mapped memory
 * anew in the range during the call, or other threads unmapped, discarded
 * or moved memory so often that the kernel refused the protection for a
 * quarter of a second: nothing kept, try again; since 0.10.2, before
 * -ENOENT or a wait with no end), PMN_E_INCOMPRESSIBLE, PMN_E_TIER_FULL,
 * -ENOMEM or another -errno from the kernel.  A hole that appears during
 * the call (another thread's munmap or mremap) is -EINVAL as one there
 * before it (since 0.10.2; before, -EFAULT or a SIGSEGV in the estimate).  -ENOMEM also comes when the
 * process would pass vm.max_map_count: a demoted range that does not touch
 * another takes mappings of its own (protection and policy split them), so
 * about 32000 scattered one-page ranges reach the default limit of 65530.
 * Demote adjacent memory in one call, or raise the limit.  Pages with no
 * data (never touched, or only read: the shared zero page) are not moved
 * nor counted; a range with none at all returns 0 and keeps nothing (since
 * 0.10.1; before, -ENOMEM as if the tier were full).  A demote that keeps
 * nothing, for that reason or a failure, leaves the range's memory policy
 * as it was (since 0.10.1).  A page another thread moves with mremap
 * during the call can be held without write protection until the tier has
 * seen the move, usually milliseconds (userfaultfd; since 0.10.3, before
 * for ever; the limits are in pmn_ctier(3), BUGS).
 */
PMN_API int pmn_ctier_demote(struct pmn_ctier *t, void *addr, size_t len);
/** Move a demoted range back to @p node (-1: the promote node) and unprotect it;
 * -ECHILD in a child forked from the tier's opener.  A demoted page another
 * thread has moved out of the range at that moment (mremap) stays on the
 * tier, protected, until its first write (userfaultfd; since 0.10.3).  A
 * page the tier lost from its books (another thread unmapped or discarded
 * its predecessor during a demote) is back already (since 0.11.0).  Returns
 * 0, -EINVAL, -ECHILD, PMN_E_NO_NODE, -EAGAIN (a page the kernel could not
 * migrate at that moment, asked four times: another thread was using it;
 * it stays on the tier, protected, and a write or another promote brings
 * it back; before 0.11.1, -EIO) or another -errno from the kernel (-ENOMEM:
 * @p node is full); the pages that could move are back either way. */
PMN_API int pmn_ctier_promote(struct pmn_ctier *t, void *addr, size_t len, int node);

/**
 * Estimated compression ratio of a range (LZ4 over up to @p samples pages,
 * evenly spaced; 0 = 16).  Returns the ratio (>= 1 means smaller), or a
 * negative code.  Reads the memory (a copy of each sample, so memory
 * another thread unmaps meanwhile is -EFAULT, not a crash; since 0.10.2);
 * thread-safe.
 */
PMN_API double pmn_ctier_estimate(const void *addr, size_t len, unsigned samples);

/** A tier's counters.  Set struct_size (see Conventions at the top). */
struct pmn_ctier_stats {
    size_t struct_size;      /**< sizeof(struct pmn_ctier_stats), set by the caller */
    uint64_t logical_bytes;  /**< bytes demoted and still on the tier */
    uint64_t physical_bytes; /**< their estimated compressed size */
    double ratio;            /**< logical / physical (0 when empty) */
    uint64_t capacity_bytes; /**< physical capacity the guard uses */
    uint64_t demotions, demoted_pages;
    uint64_t promotions;       /**< explicit promote calls */
    uint64_t write_promotions; /**< pages moved back by a write */
    uint64_t write_failures;   /**< write faults that could not promote (see on_full) */
    uint64_t refusals;         /**< demotions refused by the guard */
    /** Pages the tier moved back to the promote node that neither a
     * promote nor a write promotion counts: demoted pages whose mapping
     * lost the tier's registration (it could not protect them), and pages
     * its books lost while other threads unmapped, discarded or moved
     * memory during a demote (pmn_ctier(3), BUGS).  Since 0.11.0. */
    uint64_t returned_pages;
};
/**
 * Snapshot of a tier's counters.  0, or -EINVAL for a NULL argument or a
 * struct_size below the first version.
 */
PMN_API int pmn_ctier_stats(struct pmn_ctier *t, struct pmn_ctier_stats *out);
/**
 * The stats as one JSON object (like pmn_alloc_stats_json(), which says
 * what is read and returned).
 */
PMN_API int pmn_ctier_stats_json(const struct pmn_ctier_stats *st, char *buf, size_t len);
/**@}*/

/** @name Sharing with other processes (since 0.4)
 *
 * Memory from a shareable backing can be handed to another process: any
 * arena or slab object (pmn_ipc_get()) or a whole region
 * (pmn_ipc_get_region()) yields a small handle, a plain struct of fixed
 * layout the caller may send by any means, plus a file descriptor to pass
 * with it (pmn_ipc_send() and pmn_ipc_recv() do both over a UNIX socket).
 * The importer opens the handle through a cache (pmn_ipc_open()), which
 * maps the handle's region once per process, checks that the object was
 * not freed since the handle was made, and verifies that every page of the
 * object is on the node the handle records: placement stays strict in the
 * importer too.
 *
 * A shareable backing (pmn_backing_params_set_shareable(), implied for
 * PMN_BACKING_MEMFD) keeps all its memory in ONE memfd: each region is a
 * range of that file (pmn_region_offset()), taken first fit from the
 * file's free ranges and given back with a hole punch when the region is
 * unmapped.  The first 64 KiB of the file (or the size given to
 * pmn_backing_params_set_ipc_table_size()) hold a generation table: one
 * slot per exported object, whose generation goes up when the object is
 * freed (pmn_free(), pmn_slab_free(), a realloc that moves it, an arena's
 * or slab's reset or destroy, pmn_region_unmap() for regions), so a handle
 * to freed memory is refused (PMN_E_STALE_HANDLE) instead of showing
 * whatever was put there since.
 *
 * The cost of shareable, to weigh before asking for it:
 *   - pages are shmem pages (they count as Shmem in meminfo, and swap as
 *     shmem does); transparent huge pages only as
 *     /sys/kernel/mm/transparent_hugepage/shmem_enabled allows;
 *   - unmapping a region punches a hole in the file (one fallocate);
 *   - one fd per backing, held open until the backing is gone;
 *   - the table takes the first 64 KiB of the file (resident, on the
 *     backing's node), and 2728 slots by default: an export past
 *     that fails with -ENOSPC until exported objects are freed;
 *   - frees of objects in a segment where anything was ever exported take
 *     the slow free path (a lock and a table lookup); frees elsewhere cost
 *     one flag test on a cache line the free reads anyway.
 * The file is sealed against shrinking (F_SEAL_SHRINK: it can grow, for
 * new regions, but ftruncate to a smaller size fails with EPERM for anyone
 * holding it), because an importer's read past a shrunk end would be
 * SIGBUS; importers refuse a file without that seal (PMN_E_BAD_HANDLE),
 * which includes the files of exporters of libpmnode 0.9.2 and earlier.
 * PMN_BACKING_ANON made shareable behaves as PMN_BACKING_MEMFD;
 * PMN_BACKING_HUGETLB uses a memfd of the pool's huge page size
 * (MFD_HUGETLB).  PMN_BACKING_USER and PMN_BACKING_PROVIDER cannot be
 * made shareable in this version (pmn_backing_new() refuses with
 * PMN_E_NOT_SHAREABLE).
 *
 * PMN_BACKING_DAX made shareable keeps its memory in the device, where it
 * is, and its generation table in a small memfd of its own (64 KiB by
 * default, as above; none of the costs of shmem pages apply): that memfd
 * is the fd pmn_ipc_get() returns and pmn_ipc_send() passes.  Handles have
 * kind PMN_IPC_KIND_DAX and name the device (dax_name, dax_rdev); their
 * offsets are the device's, in whole units of its alignment.  Before
 * opening anything, the importer requires sysfs to list a device-dax
 * device of that name with the handle's device number (PMN_E_BAD_HANDLE
 * otherwise; -ENOENT when neither sysfs nor /dev has the name) on the
 * handle's node (target_node, else numa_node; PMN_E_NODE_CHANGED
 * otherwise): a handle naming another device never gets it opened.  Then
 * it opens /dev/<dax_name> itself, read-write, O_NOCTTY | O_NONBLOCK: the
 * device node's permissions decide who may map the memory (-EACCES and
 * the like come back as they are), and the node opened must still be a
 * character device with the handle's st_rdev.  It maps each region at an
 * address aligned to the device's alignment (sysfs align), once per region
 * as for memfd, and keeps one device fd per backing.  "Verified" means
 * for dax: those checks.  move_pages does not see device pages, so no page
 * is checked one by one: device memory is the device's node by
 * construction.
 *
 * Races the library cannot close: the owner may free an object right after
 * the importer opened it.  The importer's mapping stays valid memory (the
 * file keeps it), but it may then hold another object's data; call
 * pmn_ipc_valid() after reading to learn whether the object was freed
 * meanwhile (a seqlock-style recheck).  Agree with the owner on when it
 * frees, as with any shared memory.
 *
 * The owner's exit is not a free: the file (and the memory) lives while any
 * process holds its fd or a mapping, and pmn_ipc_valid() keeps answering 0
 * for objects that were live when the owner went away.  Programs built
 * before 0.4 that map pmn_region_fd() from offset 0 get -1 from it for a
 * memfd region (the PMNODE_0.1 version): offset 0 is now the table.
 *
 * Fork: every arena's, slab's and backing's lock, the shareable file's
 * included, is held across fork() by the pthread_atfork() handlers
 * libpmnode registers when its first backing is made, so a child never
 * inherits one held by another thread.  A
 * shareable backing's regions are one MAP_SHARED file: a forked child
 * shares them with its parent, it gets no copy (its writes show in the
 * parent).  The child leaves the file to the parent: its
 * pmn_arena_destroy() / pmn_slab_destroy() of an inherited arena writes
 * nothing into the memory, punches no hole and makes no handle stale (the
 * mappings go with the child); pmn_ipc_get() and mapping a new region
 * answer -EBUSY there.  An inherited arena or slab of a shareable backing
 * serves nothing in the child, since its pages and free lists are the
 * parent's memory: allocations return NULL with errno EBUSY, pmn_free()
 * and pmn_slab_free() of its objects return -EBUSY (touching nothing),
 * trim and reserve -EBUSY, and reset does nothing (before 0.9.4 the child
 * was told not to, and a free there wrote into the parent's live
 * object).
 *
 * Trust: the descriptor gives its holder the whole file, not the object.
 * An arena's or slab's bookkeeping (segment headers, each free block's
 * link and mark) lives in that memory, so a holder that writes outside
 * its objects can steer the owner's next allocations: give a writable
 * descriptor of an arena's backing only to processes trusted as the
 * owner.  A peer that only reads gets pmn_ipc_fd_readonly()'s instead.
 * Regions carry none of the owner's bookkeeping: a writing peer the owner
 * does not trust gets regions of a backing of its own.  pmn_ipc(3),
 * SECURITY.
 *
 * Thread-safety: pmn_ipc_get() and pmn_ipc_get_region() are thread-safe
 * (an object must not be freed while it is being exported); a cache is
 * thread-safe (any thread may open, close and check), except
 * pmn_ipc_cache_free(), which no other thread may race with.  The send and
 * receive helpers are thread-safe (one message per call).
 */
/**@{*/

/** struct pmn_ipc_handle's magic number ("PMNH" in little-endian order). */
#define PMN_IPC_MAGIC 0x484e4d50u
/** struct pmn_ipc_handle's layout version.  Still 1 in 0.4: the dax
 * fields took bytes version 1 reserved (zero in memfd handles), and an
 * importer that predates them refuses the unknown kind (PMN_E_BAD_HANDLE)
 * rather than misreading it. */
#define PMN_IPC_VERSION 1
/** The handle's kind: the memory is in a memfd (the fd passed). */
#define PMN_IPC_KIND_MEMFD 1
/** The handle's kind: the memory is a range of a device-dax device, which
 * the importer opens itself as /dev/<dax_name>; the fd passed holds only
 * the backing's generation table (since 0.4). */
#define PMN_IPC_KIND_DAX 2

/**
 * A handle to exported memory.  Fixed layout: fixed-width fields at fixed
 * offsets, 192 bytes on every ABI, no pointer; fields in the host's byte
 * order (a handle is for another process on the same machine).  Built by
 * pmn_ipc_get() / pmn_ipc_get_region(); an importer must treat every field
 * as untrusted (pmn_ipc_open() checks them).  Compare with memcmp, copy
 * with memcpy; send the bytes as they are.
 */
struct pmn_ipc_handle {
    uint32_t magic;         /**< PMN_IPC_MAGIC */
    uint16_t version;       /**< PMN_IPC_VERSION */
    uint16_t kind;          /**< PMN_IPC_KIND_MEMFD or PMN_IPC_KIND_DAX */
    uint64_t backing_id;    /**< random, per shareable backing (also in its table) */
    uint64_t dev;           /**< st_dev of the backing's file, the table's for dax (checked) */
    uint64_t ino;           /**< st_ino of the backing's file, the table's for dax (checked) */
    uint64_t region_offset; /**< file (dax: device) offset of the region (what is mapped) */
    uint64_t region_len;    /**< bytes of the region */
    uint64_t object_offset; /**< file offset of the object */
    uint64_t object_len;    /**< bytes of the object (its usable size) */
    uint64_t page_size;     /**< page size of the memory (base or huge; dax: its alignment;
                                 checked against the file's own on open) */
    uint64_t gen;           /**< generation of the slot when exported */
    uint32_t slot;          /**< slot of the generation table */
    int32_t node;           /**< node every page of the object is on */
    int32_t owner_pid;      /**< exporting process (for PMN_IPC_FETCH_FD) */
    int32_t owner_fd;       /**< the backing's fd number in the owner */
    uint32_t table_size;    /**< bytes of the generation table at offset 0 */
    uint32_t pad0;          /**< zero */
    /* Since 0.4, carved from what version 1 had reserved (zero in a
     * PMN_IPC_KIND_MEMFD handle, so the layout and version stay 1). */
    uint64_t dax_rdev;    /**< PMN_IPC_KIND_DAX: st_rdev of the device (checked on open) */
    char dax_name[32];    /**< PMN_IPC_KIND_DAX: the device's name under /dev ("dax0.0"),
                               NUL-terminated, only [A-Za-z0-9._] */
    uint8_t reserved[48]; /**< zero; room for later versions */
};
#ifdef __cplusplus
static_assert(sizeof(struct pmn_ipc_handle) == 192, "pmn_ipc_handle is 192 bytes");
#else
_Static_assert(sizeof(struct pmn_ipc_handle) == 192, "pmn_ipc_handle is 192 bytes");
#endif

/**
 * Make the backing shareable (see the group's head for the cost).  Implied
 * for PMN_BACKING_MEMFD; for PMN_BACKING_DAX the table goes in a memfd
 * beside the device (since 0.4); for PMN_BACKING_USER and
 * PMN_BACKING_PROVIDER, pmn_backing_new() answers PMN_E_NOT_SHAREABLE.
 * Default off.
 */
PMN_API int pmn_backing_params_set_shareable(struct pmn_backing_params *p, bool on);
/**
 * Bytes of the generation table at the start of a shareable backing's file:
 * a multiple of the base page size from 4 KiB to 64 MiB (-EINVAL
 * otherwise); 64 bytes of header, then 24 bytes per slot.  Default 64 KiB
 * (2728 slots).  Hugetlb backings round it up to their huge page size.
 */
PMN_API int pmn_backing_params_set_ipc_table_size(struct pmn_backing_params *p, size_t bytes);
/** Whether regions of @p b can be exported.  Thread-safe. */
PMN_API bool pmn_backing_shareable(const struct pmn_backing *b);
/**
 * Offset of the region in the file pmn_region_fd() returns (0 for regions
 * without a file; the dax extent's offset for dax).  Thread-safe.
 */
PMN_API uint64_t pmn_region_offset(const struct pmn_region *r);

/**
 * Export the object at @p p (the start of a live arena or slab object):
 * fill @p h and set @p fd to the backing's file, borrowed (the backing owns
 * it: do not close it; dup() it to keep it).  Exporting the same object
 * again gives the same slot and generation.  0; -EINVAL (a NULL argument);
 * PMN_E_FOREIGN (not the start of a live object of libpmnode);
 * PMN_E_NOT_SHAREABLE (its backing is not shareable); -ENOSPC (every slot
 * of the table holds a live exported object).  Thread-safe.
 */
PMN_API int pmn_ipc_get(const void *p, struct pmn_ipc_handle *h, int *fd);
/**
 * Export a whole region (its object is the region).  The handle goes stale
 * when the region is unmapped.  As pmn_ipc_get() otherwise.
 */
PMN_API int pmn_ipc_get_region(const struct pmn_region *r, struct pmn_ipc_handle *h, int *fd);
/**
 * A read-only descriptor of the file @p fd (one pmn_ipc_get() or
 * pmn_ipc_get_region() returned), to send instead of it to a peer that must
 * not write: a new open file description, O_RDONLY and close-on-exec, in
 * *@p out, the caller's to close.  Its holder cannot map the file
 * writable, make a read-only mapping writable (mprotect), write it through
 * /proc/PID/mem, punch, grow or seal it; an importer's pmn_ipc_open() with
 * it maps every region PROT_READ (a write there is SIGSEGV).  So that a
 * holder of another user cannot open the file again for writing through
 * /proc/self/fd, the file's mode becomes 0600 (a memfd is made 0777); a
 * holder of the owner's own user still can, as it can ptrace the owner.
 * It reads the whole file: every object, the owner's bookkeeping.  0;
 * -EINVAL (a NULL @p out, a negative @p fd, or a file that is not a sealed
 * memory file, as libpmnode's are); -ENOENT (no /proc); -errno of fstat,
 * fchmod and open.  Device-dax: the descriptor is the table's, and the peer
 * opens the device itself, with its own permissions.  Thread-safe.
 * Since 0.10.
 */
PMN_API int pmn_ipc_fd_readonly(int fd, int *out);

/** pmn_ipc_open() flag: with @p fd -1 and no fd cached for the handle's
 * backing, fetch it from the owner with pidfd_open() + pidfd_getfd()
 * (Linux >= 5.6; needs ptrace permission over the owner: same user and
 * /proc/sys/kernel/yama/ptrace_scope 0, or CAP_SYS_PTRACE). */
#define PMN_IPC_FETCH_FD 0x1u

/** An importer's cache of opened handles (maps and fds). */
struct pmn_ipc_cache;
/** A new, empty cache: 0, -EINVAL, -ENOMEM. */
PMN_API int pmn_ipc_cache_new(struct pmn_ipc_cache **out);
/**
 * Unmap everything still open and close the cached fds (NULL is ignored).
 * Addresses from the cache are invalid afterwards.  Not thread-safe against
 * other calls on the same cache.
 */
PMN_API void pmn_ipc_cache_free(struct pmn_ipc_cache *c);

/**
 * Open handle @p h: on success *@p addr is the object's first byte in this
 * process.  @p fd is the backing's file as received (the cache dup()s it;
 * the caller still owns and closes @p fd), or -1 to use the fd the cache
 * already holds for the handle's backing (with PMN_IPC_FETCH_FD: or to
 * fetch it from the owner).  Checks, in this order: the handle's magic,
 * version, kind and ranges (PMN_E_BAD_HANDLE); that @p fd is the handle's
 * file (fstat dev/ino), in memory only (tmpfs or hugetlbfs: never a disk
 * file's page cache), sealed against shrinking (F_SEAL_SHRINK), and that
 * the table in it names the handle's backing (PMN_E_BAD_HANDLE: never a
 * mapping of the wrong file, of a disk file, nor of one its owner could
 * shrink); that the handle's page_size is the file's own page size
 * (PMN_E_BAD_HANDLE); the slot's generation (PMN_E_STALE_HANDLE); then it
 * maps the handle's region (once per backing and region: opening another object
 * of the same region maps nothing), populates the object's pages for
 * reading and verifies each with move_pages (PMN_E_NODE_CHANGED if any
 * page is elsewhere or absent), and checks the generation again.  A
 * read-only @p fd (pmn_ipc_fd_readonly()) maps the region PROT_READ
 * (pmn_ipc_writable() says which an address is).  A
 * PMN_IPC_KIND_DAX handle: @p fd is the table's memfd; the device is
 * opened by name on the backing's first open, after sysfs vouched for it,
 * as the group's head says (a bad name, a device sysfs does not list as
 * device-dax of that number: PMN_E_BAD_HANDLE, and it is never opened; the
 * device's node not the handle's: PMN_E_NODE_CHANGED; -ENOENT when nothing
 * has that name; open()'s -EACCES... as they are), and no page is walked
 * with move_pages.  Other codes:
 * -EINVAL, -ENOMEM, -ENOENT (fd -1 and nothing cached or fetched), -errno
 * of mmap, of pidfd_open/pidfd_getfd (-EPERM, -ENOSYS, -ESRCH...).  On
 * failure nothing stays open: the cache keeps a backing's fd and table
 * only once an open of it succeeded, so after a failed first open the
 * next handle of that backing must carry @p fd again.  Each successful
 * open needs one pmn_ipc_close().  Thread-safe.
 */
PMN_API int pmn_ipc_open(struct pmn_ipc_cache *c, const struct pmn_ipc_handle *h, int fd,
                         unsigned flags, void **addr);
/**
 * Close an address pmn_ipc_open() returned; the last close of a region
 * unmaps it.  Where the address is open as several objects (see
 * pmn_ipc_valid()), an open of a live one is ended first.  0, -EINVAL,
 * -ENOENT (not an open address of @p c).  Thread-safe.
 */
PMN_API int pmn_ipc_close(struct pmn_ipc_cache *c, void *addr);
/**
 * Whether the memory at @p addr (an address pmn_ipc_open() returned) may be
 * written: 1, or 0 when its region is mapped read-only because the cache
 * holds a read-only descriptor of its backing (pmn_ipc_fd_readonly(): a
 * write there is SIGSEGV).  The cache keeps the first descriptor of a
 * backing that an open succeeded with, so its access decides for every
 * later open of that backing.  -EINVAL, -ENOENT (not an open address of
 * @p c).  Thread-safe.  Since 0.10.
 */
PMN_API int pmn_ipc_writable(struct pmn_ipc_cache *c, const void *addr);
/**
 * Recheck an open address: 0 while its object is live in the owner,
 * PMN_E_STALE_HANDLE once the owner freed it (the memory stays mapped
 * until closed, but may hold another object), -ENOENT if @p addr is not
 * open in @p c.  Each open keeps its own slot and generation: where the
 * owner freed X and reused its memory for Y, and both were opened at the
 * same address, the answer is PMN_E_STALE_HANDLE while X's open stays
 * (for Y's holder too: the call cannot tell who asks), never 0 because Y
 * is live.  A lookup under the cache's lock and one atomic load of the
 * shared table per open of the address.  Thread-safe.
 */
PMN_API int pmn_ipc_valid(struct pmn_ipc_cache *c, const void *addr);

/** A cache's counters.  Set struct_size (see Conventions at the top). */
struct pmn_ipc_cache_stats {
    size_t struct_size; /**< sizeof(struct pmn_ipc_cache_stats), set by the caller */
    uint64_t opens;     /**< successful pmn_ipc_open() calls */
    uint64_t closes;    /**< successful pmn_ipc_close() calls */
    uint64_t maps;      /**< region mappings made (an open that mapped) */
    uint64_t unmaps;    /**< region mappings removed */
    uint64_t failures;  /**< pmn_ipc_open() calls that failed */
    uint64_t fetched;   /**< fds fetched with pidfd_getfd() */
    size_t backings;    /**< backings with an fd held now */
    size_t mapped;      /**< region mappings live now */
};
/** Snapshot of a cache's counters: 0, or -EINVAL.  Thread-safe. */
PMN_API int pmn_ipc_cache_stats(struct pmn_ipc_cache *c, struct pmn_ipc_cache_stats *out);

/**
 * Send @p h and @p fd (-1: the handle alone) as one message on the
 * connected UNIX socket @p sock (SCM_RIGHTS).  Retries on EINTR.  0,
 * -EINVAL, or -errno of sendmsg (-EPIPE...; SIGPIPE is not raised).
 */
PMN_API int pmn_ipc_send(int sock, const struct pmn_ipc_handle *h, int fd);
/**
 * Receive one message sent by pmn_ipc_send(): fills @p h and sets *@p fd
 * to the fd received (close-on-exec, the caller's to close) or -1.
 * Retries on EINTR.  -EBADMSG for a message of the wrong size, truncated,
 * with more than one fd, or whose handle has a bad magic or version (every
 * fd that arrived is closed); -ECONNRESET when the peer closed; -errno of
 * recvmsg otherwise.
 */
PMN_API int pmn_ipc_recv(int sock, struct pmn_ipc_handle *h, int *fd);
/**@}*/

/** @name Moving live data (since 0.5)
 * Strict migration of memory that already holds data to another node.
 * @{
 */

/**
 * What pmn_migrate() did, page by page (base pages of the range).  Every
 * page of the range is counted in exactly one of moved, already_there,
 * target_full, busy_or_pinned, shared, not_present and other, so they sum
 * to pages, on success and on failure alike.
 */
struct pmn_migrate_report {
    size_t struct_size;      /**< set by the caller: sizeof(struct pmn_migrate_report) */
    uint64_t pages;          /**< pages in the range */
    uint64_t moved;          /**< moved to the node by this call */
    uint64_t already_there;  /**< were on the node already */
    uint64_t target_full;    /**< not moved: the node had no free page (-ENOMEM) */
    uint64_t busy_or_pinned; /**< not moved: busy or pinned after retries (-EBUSY, -EAGAIN) */
    uint64_t shared;         /**< not moved: mapped by other processes too (-EACCES) */
    uint64_t not_present;    /**< never populated (or swapped out): nothing to move */
    uint64_t other; /**< not moved: not this process's memory (-EFAULT) or another error */
    void *
        first_failed; /**< lowest address of a page not moved (not counting not_present), or NULL */
    /** Since 0.6: pages this call moved and then moved back (PMN_MIGRATE_ROLLBACK); they are
     * counted in moved as well. */
    uint64_t rolled_back;
};

/** pmn_migrate() flags (since 0.6; 0.5 accepted only 0). */
enum pmn_migrate_flags {
    /**
     * On failure, move the pages this call moved back to the nodes they
     * came from (best effort: what came back is counted in rolled_back),
     * so a failed call leaves the range as it found it where it can.
     * Covers a page that could not move; a failure after every page
     * moved (the bind, PMN_E_MISPLACED) leaves them on the node.
     */
    PMN_MIGRATE_ROLLBACK = 1u << 0,
    /**
     * Check the target for exactly the pages to move, without placement's
     * headroom (max(1% of the node, 64 MiB)): for a tier that is meant to
     * be filled.  The kernel may still refuse a page (target_full).
     */
    PMN_MIGRATE_NO_HEADROOM = 1u << 1,
};

/**
 * Move every present page of [@p addr, @p addr + @p len) to @p node,
 * strictly: all of them or the call fails and says how far it got.
 *
 * Checks first, before any page moves: @p addr and @p len page-aligned,
 * @p len non-zero and the range inside the address space, @p flags only
 * pmn_migrate_flags bits (-EINVAL); the context describes this
 * machine (PMN_E_REMOTE_ROOT); @p node exists (PMN_E_NO_NODE) and has
 * memory (PMN_E_NOT_MEMORY_NODE); the cpuset allows it
 * (PMN_E_NOT_ALLOWED); the node's available memory covers the present
 * pages that are not on it yet plus the default headroom of placement
 * (max(1% of the node, 64 MiB)), PMN_E_NODE_FULL otherwise; no hole in
 * the range (an address no mapping covers: -EFAULT, the holes' pages and
 * the present pages elsewhere counted in other, since 0.9.3).
 *
 * Then the pages move with move_pages(2) in batches; busy pages are
 * retried a few times, then one by one (a pinned page fails its whole
 * batch in the kernel's answer; alone, it fails only itself).  When every
 * present page is on @p node the range is bound strictly to it (MPOL_BIND,
 * as a placed region: later faults, including of the not_present pages,
 * land there), the pages are verified and the call returns 0.  The one
 * exception is a mapping of a regular file: the kernel places page cache
 * by the task's policy, not the range's, so its pages read in later land
 * where that puts them (populate it first; pmn_migrate(3)).  Otherwise the range's memory policy is left as
 * it was, pages that moved stay moved (counted in moved), and the call
 * returns the code of the lowest page that could not move
 * (first_failed): PMN_E_NODE_FULL (target full), -EBUSY (busy or pinned),
 * -EACCES (shared with another process: only its own pages are moved),
 * -EFAULT or another errno; PMN_E_MISPLACED when verification finds a
 * page elsewhere after the bind.
 *
 * @p rep may be NULL.  Otherwise its struct_size must be at least
 * sizeof(size_t) (-EINVAL); the first struct_size bytes are filled (an
 * older, shorter struct gets the fields it has), on every return past
 * the argument checks.
 *
 * Thread-safe for distinct ranges; concurrent calls on the same range, or
 * a concurrent mbind/munmap of it, give an unspecified split of pages (the
 * report still sums to pages).  Since 0.5.
 */
PMN_API int pmn_migrate(struct pmn_ctx *ctx, void *addr, size_t len, int node, unsigned flags,
                        struct pmn_migrate_report *rep);

/**
 * Move a whole region to @p node, as pmn_migrate() (same checks, flags,
 * report and codes), and keep its books: on success pmn_region_node()
 * answers @p node, the backing's bytes_per_node and spilled_bytes move
 * with it, and pages the region populates later (lazy regions, arena
 * extents) land on @p node.
 *
 * @p node must be the backing's node or on its spill list
 * (PMN_E_NOT_ON_LIST): a backing says where its memory may be, and a
 * move keeps to that.  Anonymous, memfd and hugetlb backings (hugetlb
 * needs free huge pages of the size on @p node: PMN_E_NO_HUGEPAGES);
 * device-dax, user and provider memory cannot move (-EOPNOTSUPP).  The
 * capacity check is the backing's (its headroom, less with
 * PMN_MIGRATE_NO_HEADROOM); hugetlb moves a huge page at a time.  On
 * failure the region keeps its old node in the books and its policy.  Pages
 * another process maps too (a shared memfd region an importer opened)
 * count as shared and fail the call (-EACCES).  A region already wholly
 * on @p node returns 0 having moved nothing.
 *
 * Thread-safety: the region's memory may be read and written by any
 * thread during the call (the kernel moves pages under them); the region
 * must not be unmapped, and no other migrate of it may run, concurrently.
 * Since 0.6.
 */
PMN_API int pmn_region_migrate(struct pmn_region *r, int node, unsigned flags,
                               struct pmn_migrate_report *rep);

/**
 * Move an arena's extents to @p node, a node of its backing (its node or
 * on its spill list, else PMN_E_NOT_ON_LIST): with @p from -1 every
 * extent not on @p node yet, otherwise only the extents on @p from (say,
 * bring back what spilled).  Extent by extent with pmn_region_migrate()
 * (same flags); @p rep sums them (pages counts every page of every
 * extent looked at).  The first extent that fails stops the call with its
 * code; extents before it stay moved, and first_failed says where it
 * stopped.  pmn_arena_stats() then shows the bytes per node as they are.
 *
 * Objects keep their addresses and contents; other threads may allocate,
 * free and use objects during the call (an extent the arena creates
 * meanwhile may be left where the backing put it).  New extents still
 * come from the backing's node list in order.  Not during
 * pmn_arena_reset() or pmn_arena_destroy() (PMN_E_DESTROYED when it sees
 * one).  Each extent moves under the arena's lock: allocation slow paths
 * (new pages, large objects) wait for one extent's move.  Since 0.6.
 */
PMN_API int pmn_arena_migrate(struct pmn_arena *a, int from, int node, unsigned flags,
                              struct pmn_migrate_report *rep);
/** pmn_arena_migrate() for a slab.  Since 0.6. */
PMN_API int pmn_slab_migrate(struct pmn_slab *s, int from, int node, unsigned flags,
                             struct pmn_migrate_report *rep);
/**
 * Move the extent holding object @p p (of any arena or slab) to @p node,
 * as pmn_arena_migrate() for that one extent.  A large object (over
 * 256 KiB) has an extent of its own; a small object shares its 4 MiB
 * extent with its neighbours, which move with it.  PMN_E_FOREIGN,
 * PMN_E_DOUBLE_FREE or PMN_E_INTERIOR for a pointer pmn_free() would
 * refuse.  Since 0.6.
 */
PMN_API int pmn_migrate_object(void *p, int node, unsigned flags, struct pmn_migrate_report *rep);
/**@}*/

/** @name Access tracking (since 0.6)
 *
 * Which parts of a range were touched since the last look, at a cost the
 * caller bounds.  A tracker watches ranges of this process's memory in
 * extents of a granule (2 MiB by default); each pmn_track_scan() examines
 * up to a page budget of pages, resuming where the last scan stopped, and
 * turns what it read into per-extent counts and a decayed heat.  Nothing
 * runs in the background: the caller decides when to scan.
 *
 * What each mode sees and misses:
 * - PMN_TRACK_SOFT_DIRTY: writes, from user space and from the kernel
 *   (read(2) into the memory), through the soft-dirty bit of
 *   /proc/self/pagemap.  Misses reads.  Clearing the bits is
 *   process-wide (/proc/self/clear_refs): it happens once per completed
 *   pass, so another soft-dirty user in the process (CRIU, a second
 *   tracker) sees its bits cleared too, and when a pass spans several
 *   scans a write made to an extent after its look and before the pass
 *   ends is erased unseen (scan without a budget, or with one covering
 *   every page, to miss nothing).  A pass costs one write fault per
 *   written page afterwards, anywhere in the process.  A mapping made
 *   next to a tracked range may merge with it: its untouched pages then
 *   read as written until the next pass.  A transparent huge page has one
 *   bit.  pmn_migrate() keeps the bits; on Linux 6.1 it marks every moved
 *   page written once (6.12 is exact).  Unprivileged; needs
 *   CONFIG_MEM_SOFT_DIRTY.
 * - PMN_TRACK_UFFD_WP: writes, from user space and from the kernel,
 *   through asynchronous userfaultfd write-protection (Linux 6.7:
 *   UFFD_FEATURE_WP_ASYNC, read back and re-armed with the PAGEMAP_SCAN
 *   ioctl): the first write to a page after its look takes one minor
 *   fault, resolved in the kernel (no handler thread, no signal).  Reset
 *   per extent, so nothing else in the process is affected, and a write
 *   racing with the look counts in one period or the next, never neither.
 *   Misses reads.  Private anonymous memory only (pmn_track_add(): -EINVAL
 *   otherwise); a range registered on another userfaultfd (a compressed
 *   tier's) is refused with -EBUSY.  pmn_migrate() keeps the protection
 *   and the written state.  -EOPNOTSUPP on older kernels.
 * - PMN_TRACK_IDLE: reads and writes, through the kernel's idle-page
 *   tracking (/sys/kernel/mm/page_idle/bitmap, with page frame numbers
 *   from pagemap): needs CAP_SYS_ADMIN and CONFIG_IDLE_PAGE_TRACKING
 *   (Debian's kernels lack it).  Sees accesses by any process to the
 *   pages, the library's own included (pmn_migrate() reads pages under a
 *   NUMA hinting fault); misses what the MMU does not mark accessed
 *   (device DMA).  A transparent huge page has one flag.
 * Pages never faulted in, swapped out, or unmapped since pmn_track_add()
 * read as untouched in every mode (the last are counted in the report's
 * pages_gone).  Memory mapped anew inside a watched range (mmap with
 * MAP_FIXED, mremap into it) is watched from then on: its first look reads
 * every page it has present as touched, in every mode.  UFFD_WP registers
 * it at that look; what it cannot register (shared or file memory, another
 * userfaultfd's) reads its present pages as touched at every look, so a
 * tier never takes memory the tracker cannot see for cold (since 0.10.1;
 * before, UFFD_WP read such memory as untouched for ever).
 * DAMON is not used: it samples whole address spaces from a kernel
 * thread set up through sysfs by root, which is the background policy
 * this library leaves to the administrator.
 *
 * Thread-safety: every call may be made from any thread; calls on one
 * tracker serialise on its lock, and the tracked memory may be used by
 * any thread meanwhile.  pmn_track_free() needs that no other thread uses
 * the tracker.  A tracker belongs to the process that created it: in a
 * child after fork() every call but pmn_track_free() answers -ECHILD, and
 * that one leaves the parent's protection alone.
 */
/**@{*/
struct pmn_track;

/** How a tracker learns of accesses. */
enum pmn_track_mode {
    PMN_TRACK_AUTO = 0, /**< the most this process may see: idle, else soft-dirty, else uffd-wp */
    PMN_TRACK_SOFT_DIRTY, /**< writes: pagemap soft-dirty bits */
    PMN_TRACK_UFFD_WP,    /**< writes: userfaultfd write-protection */
    PMN_TRACK_IDLE,       /**< reads and writes: idle-page tracking (CAP_SYS_ADMIN) */
};

/** Tracker options (versioned by size: zero-initialise, set what you need). */
struct pmn_track_opts {
    size_t struct_size;       /**< sizeof(struct pmn_track_opts) */
    enum pmn_track_mode mode; /**< PMN_TRACK_AUTO picks */
    size_t granule;           /**< bytes per extent: a power of two, at least a page; 0 = 2 MiB */
    uint64_t page_budget;     /**< most pages examined per pmn_track_scan(); 0 = no limit */
    unsigned sample_pages;    /**< pages examined per extent, evenly spaced; 0 = every page */
};

/**
 * Create a tracker.  @p opts may be NULL (every default).  0; -EINVAL
 * (bad granule, mode or struct_size); PMN_E_REMOTE_ROOT; -EPERM (idle tracking
 * without CAP_SYS_ADMIN); -EOPNOTSUPP (the mode's kernel support is
 * missing: no soft-dirty, no userfaultfd write-protection, no page_idle);
 * -ENOMEM.
 */
PMN_API int pmn_track_new(struct pmn_ctx *ctx, const struct pmn_track_opts *opts,
                          struct pmn_track **out);
/** Stop tracking (lifting any write protection) and free the tracker; NULL is ignored. */
PMN_API void pmn_track_free(struct pmn_track *t);
/** The mode in use (never PMN_TRACK_AUTO). */
PMN_API enum pmn_track_mode pmn_track_mode(const struct pmn_track *t);
/** "auto", "soft-dirty", "uffd-wp", "idle", or "unknown". */
PMN_API const char *pmn_track_mode_name(enum pmn_track_mode m);

/**
 * Watch [@p addr, @p addr + @p len) (page-aligned, mapped, readable; not
 * overlapping a range watched already: -EEXIST).  Its extents are the
 * granule-aligned pieces of it.  The first look at an extent only starts
 * its period: it records pages_examined and leaves pages_touched, heat
 * and idle_looks at 0.  0, -EINVAL (also for a hole, PROT_NONE, or an
 * address range that wraps), -EEXIST, -ENOMEM, -ECHILD, or the mode's
 * -errno.
 */
PMN_API int pmn_track_add(struct pmn_track *t, void *addr, size_t len);
/** Stop watching a range given to pmn_track_add() (exactly it): 0, -ENOENT, -ECHILD. */
PMN_API int pmn_track_remove(struct pmn_track *t, void *addr, size_t len);

/** What one pmn_track_scan() did. */
struct pmn_track_report {
    size_t struct_size;        /**< set by the caller: sizeof(struct pmn_track_report) */
    uint64_t pages_examined;   /**< pages read (at most the page budget) */
    uint64_t extents_examined; /**< extents finished by this scan */
    uint64_t extents_touched;  /**< of them, touched since their previous look */
    uint64_t passes;           /**< passes over every watched extent completed */
    uint64_t ns;               /**< time the scan took */
    /** Of pages_examined, those no mapping covers any more (unmapped
     *  after pmn_track_add()): read as untouched. */
    uint64_t pages_gone;
};
/**
 * Look at the next extents, up to the page budget, stopping at the end of
 * a pass (no extent is looked at twice in one scan; with no budget a scan
 * is one whole pass): for each, count the pages examined that were
 * touched since its previous look, update its heat and idle_looks, and
 * reset the signal.  An extent the budget cuts off is finished by the
 * next scan.  @p rep may be NULL.  0, -EINVAL (a struct_size below the
 * first version), -ECHILD, or the kernel's -errno.
 */
PMN_API int pmn_track_scan(struct pmn_track *t, struct pmn_track_report *rep);

/** One extent as the tracker last saw it.  This struct never grows. */
struct pmn_track_extent {
    void *addr;
    size_t len;
    uint32_t pages_examined; /**< at its last look (0: not looked at yet) */
    uint32_t pages_touched;  /**< of those, touched since the look before */
    uint32_t idle_looks;     /**< looks in a row that found it untouched */
    /** 0-255: (previous heat + 255 x pages_touched / pages_examined) / 2,
     *  in integers; always touched it goes 127, 191, 223, ... */
    uint32_t heat;
};
/**
 * Copy the extents, in address order, into @p out (up to @p max).
 * Returns the total number of extents (which may exceed @p max), -EINVAL,
 * or -ECHILD in a forked child.
 */
PMN_API long pmn_track_extents(struct pmn_track *t, struct pmn_track_extent *out, size_t max);
/**@}*/

/** @name Tiering (since 0.6)
 *
 * Keep the hot extents of some ranges on a fast node and the cold ones on
 * a slow node (and, optionally, the coldest on a compressed tier), moved
 * strictly with pmn_migrate() within byte budgets per step.  The caller
 * drives it: each pmn_tier_step() scans with its tracker, then demotes
 * the coldest extents from the hot node and promotes the hottest from the
 * cold node (or the compressed tier), never more than the budgets, and
 * never past the hot node's byte limit.  Nothing runs between steps.
 *
 * Which signal ranks extents is the tracker's (see Access tracking): with
 * a write-only mode, memory that is only read looks cold.
 *
 * A step, in order: pmn_track_scan() (the tracker's page budget bounds it);
 * where every managed page is (one move_pages(2) status query per page,
 * nothing touched; a page it cannot see counts as other_bytes); then
 * 1. while the hot node holds more than hot_limit, demote the coldest
 *    extents there (lowest heat, then most idle looks), whatever their
 *    idle looks; 2. promote extents touched at their last look, hottest
 *    first, where the limit leaves room, or making room by demoting
 *    hot-node extents whose heat is lower by more than 16 (no swapping
 *    of equals); compressed ones come back with pmn_ctier_promote();
 *    3. demote hot-node extents idle for cold_looks looks; 4. compress
 *    (pmn_ctier_demote) extents wholly on the cold node and idle for
 *    compress_looks looks.  Demotions and compressions share
 *    demote_budget, promotions and decompressions promote_budget; a
 *    move's cost is its bytes not on the target yet, as found by the
 *    step's query.  Extents the tracker has not looked at yet never move.
 *    Before each move the limit is checked again against what earlier
 *    moves really did, so a failed demotion never lets a promotion past
 *    the limit.  After a step the hot node holds at most hot_limit
 *    managed bytes unless the demote budget ran out first (the next step
 *    goes on), the extents there have no signal yet, a demotion failed,
 *    or pages were first touched since (they land where the
 *    extent is bound and count at the next step).  An extent the tier moved
 *    is judged again only once a whole tracker pass began after the move
 *    (migration, rebinding and the compressed tier's write protection
 *    leave its pages soft-dirty): with no page budget, two steps later.
 *
 * The kernel migrates a transparent huge page whole: manage memory in
 * base pages (MADV_NOHUGEPAGE before it is first touched; libpmnode's
 * backings are, unless asked for huge pages) or use a granule that is a
 * multiple of the huge page size.  Otherwise a move carries the huge
 * page's neighbours along; the step asks where those are again and counts
 * them, so the books stay true, but neighbours may move that the plan
 * did not choose, and a promotion can then take the hot node past the
 * limit until the next step.
 *
 * Moves are pmn_migrate() with the tier's flags, so a moved extent is
 * bound to its node; a move that fails (target full, a page busy or
 * shared, the range unmapped meanwhile) is counted in failed_moves and
 * the step goes on.  A compressed tier refusing an extent
 * (PMN_E_INCOMPRESSIBLE, PMN_E_TIER_FULL) counts as a failed move, and the
 * extent is not offered to it again until it is touched.  A write to a
 * compressed page brings it back by itself (the compressed tier's write
 * fault, to that tier's promote node): the step sees it and counts it in
 * write_returned_bytes.  Memory unmapped without pmn_tier_remove() is not
 * touched: its pages are simply not found.  A tier manages addresses:
 * memory mapped anew inside a managed range is managed from then on, and
 * its first look counts it touched (see Access tracking), so it is not
 * demoted before its use has been seen; remove a range before reusing its
 * addresses for memory the tier must leave alone.
 *
 * Thread-safety: every call may be made from any thread; calls on one
 * tier serialise on its lock.  The managed memory may be used by any
 * thread during a step.  pmn_tier_free() needs that no other thread uses
 * the tier.  Fork: a tier is its creator's; in a child every call but
 * pmn_tier_free() answers -ECHILD, without waiting for the tier's lock.
 */
/**@{*/
struct pmn_tier;

/** Tiering options (versioned by size: zero-initialise, set what you need). */
struct pmn_tier_opts {
    size_t struct_size; /**< sizeof(struct pmn_tier_opts) */
    int hot_node;       /**< the fast node */
    int cold_node;      /**< the slow node */
    /** Optional third level, below the cold node (NULL: none; its node must be a third
     * node, neither hot_node nor cold_node: -EINVAL).  The tier does not own it, and it
     * must stay open while the tier lives. */
    struct pmn_ctier *ctier;
    uint64_t hot_limit;      /**< most managed bytes kept on the hot node; 0 = no limit */
    uint64_t promote_budget; /**< most bytes promoted per step; 0 = 64 MiB */
    uint64_t demote_budget;  /**< most bytes demoted per step; 0 = 64 MiB */
    unsigned cold_looks;     /**< idle looks before an extent may leave the hot node; 0 = 2 */
    unsigned compress_looks; /**< idle looks before the cold node's extent is compressed; 0 = 8 */
    unsigned flags;          /**< pmn_migrate() flags for every move */
    struct pmn_track_opts track; /**< the tracker's options (struct_size 0: defaults) */
};

/**
 * Create a tier (with its own tracker).  @p opts must be given, its
 * struct_size at least up to track.  0; -EINVAL (hot_node == cold_node,
 * a negative node, unknown flags, a compressed tier on the hot or cold
 * node, bad options);
 * PMN_E_NO_NODE, PMN_E_NOT_MEMORY_NODE, PMN_E_NOT_ALLOWED,
 * PMN_E_REMOTE_ROOT; the tracker's codes; -EOPNOTSUPP also for a
 * compressed tier with a uffd-wp tracker (both would register the ranges
 * with userfaultfd; since 0.9.3); -ENOMEM.
 */
PMN_API int pmn_tier_new(struct pmn_ctx *ctx, const struct pmn_tier_opts *opts,
                         struct pmn_tier **out);
/** Stop managing (memory stays where it is) and free; NULL is ignored. */
PMN_API void pmn_tier_free(struct pmn_tier *t);
/**
 * Manage [@p addr, @p addr + @p len): page-aligned private anonymous or
 * memfd memory of this process (an arena's extents, a region, the
 * caller's own).  Nothing moves until a step.  0, -EINVAL, -EEXIST, or
 * the tracker's codes.
 */
PMN_API int pmn_tier_add(struct pmn_tier *t, void *addr, size_t len);
/** Stop managing a range given to pmn_tier_add(); its pages stay where they are.  0, -ENOENT. */
PMN_API int pmn_tier_remove(struct pmn_tier *t, void *addr, size_t len);

/** A tier's counters: now (bytes) and since creation (the rest). */
struct pmn_tier_stats {
    size_t struct_size;        /**< set by the caller: sizeof(struct pmn_tier_stats) */
    uint64_t managed_bytes;    /**< bytes in managed ranges */
    uint64_t hot_bytes;        /**< of them on the hot node, at the last step */
    uint64_t cold_bytes;       /**< on the cold node */
    uint64_t compressed_bytes; /**< on the compressed tier */
    uint64_t other_bytes;      /**< elsewhere, not populated, or of unknown node
                                    (pmn_where()'s hidden pages, since 0.12.3 placed) */
    uint64_t steps;
    uint64_t promoted_bytes;     /**< cold node -> hot node */
    uint64_t demoted_bytes;      /**< hot node -> cold node */
    uint64_t compressed_total;   /**< cold node -> compressed tier */
    uint64_t decompressed_total; /**< compressed tier -> hot node (by a step) */
    uint64_t failed_moves;       /**< moves that failed (the step went on with others) */
    uint64_t scan_ns, move_ns;   /**< time spent tracking and moving */
    /** Since 0.6 (added with the implementation): bytes a write brought back from the
     * compressed tier by itself (the compressed tier's write fault), seen by a step. */
    uint64_t write_returned_bytes;
};
/**
 * One period: scan, then move within the budgets.  @p delta (may be NULL)
 * gets what this step did, the byte-now fields as after it.  0, or the
 * first hard error (a move that failed for want of room is counted in
 * failed_moves, not returned).
 */
PMN_API int pmn_tier_step(struct pmn_tier *t, struct pmn_tier_stats *delta);
/** Snapshot of the counters.  0, -EINVAL (NULL, or a struct_size below the
 *  first version), or -ECHILD in a forked child. */
PMN_API int pmn_tier_stats(struct pmn_tier *t, struct pmn_tier_stats *out);
/** The stats as one JSON object (like pmn_alloc_stats_json()). */
PMN_API int pmn_tier_stats_json(const struct pmn_tier_stats *st, char *buf, size_t len);
/** The tier's tracker (owned by the tier), to read its extents. */
PMN_API struct pmn_track *pmn_tier_tracker(struct pmn_tier *t);
/**@}*/

/**
 * @defgroup publish Publishing stats to other processes
 * pmn_publish(3).  Since 0.8.  A process may publish the counters of
 * chosen arenas and slabs in a small read-only file, so that a tool
 * (pmnode top) shows them beside the process's memory per node.  Nothing
 * is published unless the process asks: pmn_publish_start(), or the shim's
 * "publish" key (pmnode-env(7)).
 *
 * Where: $XDG_RUNTIME_DIR/pmnode/PID when XDG_RUNTIME_DIR is set to an
 * absolute path (and the process is not in secure-execution mode), else
 * /dev/shm/pmnode-UID/PID (UID the effective user id).  The directory is
 * created mode 0700 and used only when it is a directory (not a symbolic
 * link) owned by the effective user with no permission for group or
 * others; the file is created O_EXCL | O_NOFOLLOW, mode 0600, and removed
 * by pmn_publish_stop() and when the library is unloaded or the process
 * exits normally (a killed process leaves it: readers check that the pid
 * and its start time still name the writer).
 *
 * The file: a struct pmn_publish_header, then max_entries struct
 * pmn_publish_entry, native byte order, file_size bytes in all.  Readers
 * check magic, version, the three sizes and that nentries <= max_entries.
 * Consistency is a sequence lock: the writer makes seq odd, writes, then
 * makes it even again; a reader reads seq, the entries, then seq again,
 * and retries unless both reads are the same even number.
 *
 * When the figures are written: at pmn_publish_start() and
 * pmn_publish_update(), and from the allocators' slow paths (a new page
 * for a size class, a large object, a new extent) at most once per
 * interval_ms (100 ms).  The malloc fast path never writes: a figure is as
 * old as the last slow path or update (updated_ns says when); a process
 * that only frees, or sleeps, shows the figures of its last slow path.
 *
 * Thread-safety: every call is thread-safe.  Process-wide state (one
 * file per process, and the list of what it publishes, at most
 * PMN_PUBLISH_MAX_ENTRIES) is kept in core/publish.c behind one lock.
 * A child created by fork() does not publish (the parent's file stays the
 * parent's) until it calls pmn_publish_start() itself.
 * @{
 */
/** Version of the file layout (the header's version field). */
#define PMN_PUBLISH_VERSION 1
/** The header's magic: these 8 bytes. */
#define PMN_PUBLISH_MAGIC "PMNPUBL"
/** Entries in a file. */
#define PMN_PUBLISH_MAX_ENTRIES 64
/** Bytes of an entry's name, with its NUL. */
#define PMN_PUBLISH_NAME_MAX 32
/** Nodes counted per entry (the backing's first ones, in spill order). */
#define PMN_PUBLISH_MAX_NODES 16
/** pmn_publish_start() flag: publish even in secure-execution mode. */
#define PMN_PUBLISH_SECURE_OK 1u

/** What an entry counts. */
enum pmn_publish_kind {
    PMN_PUBLISH_ARENA = 1,
    PMN_PUBLISH_SLAB = 2,
};

/** The first 128 bytes of a published file. */
struct pmn_publish_header {
    char magic[8];        /**< PMN_PUBLISH_MAGIC with its NUL */
    uint32_t version;     /**< PMN_PUBLISH_VERSION */
    uint32_t header_size; /**< sizeof(struct pmn_publish_header): 128 */
    uint32_t entry_size;  /**< sizeof(struct pmn_publish_entry): 416 */
    uint32_t max_entries; /**< entries the file holds room for */
    uint64_t file_size;   /**< header_size + max_entries * entry_size */
    int32_t pid;          /**< the writer */
    uint32_t uid;         /**< its effective uid */
    uint64_t start_time;  /**< its start, clock ticks after boot (/proc/PID/stat field 22) */
    uint64_t seq;         /**< sequence lock: odd while the writer writes */
    uint64_t updated_ns;  /**< last write, CLOCK_REALTIME nanoseconds */
    uint64_t updates;     /**< writes so far */
    uint32_t nentries;    /**< entries in use, the first ones */
    uint32_t interval_ms; /**< least time between two slow-path writes */
    uint64_t reserved[6]; /**< zero */
};

/** One published arena or slab: the fields of struct pmn_alloc_stats. */
struct pmn_publish_entry {
    char name[PMN_PUBLISH_NAME_MAX]; /**< as given, NUL-terminated */
    uint32_t kind;                   /**< enum pmn_publish_kind */
    uint32_t nnodes;                 /**< entries in node[] */
    uint64_t allocated, objects, active, resident, peak;
    uint64_t allocs, frees, remote_frees, failures, populated;
    uint64_t mapped_bytes, mapped_peak_bytes, region_maps, region_map_failures, spilled_bytes;
    struct {
        int32_t node;
        uint32_t reserved;
        uint64_t bytes; /**< live bytes of the backing on this node */
    } node[PMN_PUBLISH_MAX_NODES];
};

/**
 * Create this process's stats file and write it once.  @p flags: 0, or
 * PMN_PUBLISH_SECURE_OK.  In secure-execution mode (a set-user-ID,
 * set-group-ID or file-capability program: getauxval(AT_SECURE)) -EPERM
 * unless PMN_PUBLISH_SECURE_OK is given (XDG_RUNTIME_DIR is then ignored).
 * 0, -EALREADY (publishing already), -EINVAL (unknown flag), -ELOOP,
 * -EPERM or -EACCES (the directory is a symbolic link, someone else's, or
 * open to others), or the -errno of creating it.
 */
PMN_API int pmn_publish_start(unsigned flags);
/** Remove the file and stop writing.  0, or -ENOENT when not publishing. */
PMN_API int pmn_publish_stop(void);
/**
 * Publish @p a's counters under @p name (at most PMN_PUBLISH_NAME_MAX - 1
 * bytes; control characters become '?').  May be called before
 * pmn_publish_start().  The entry goes when the arena is destroyed.
 * 0, -EINVAL, -EEXIST (published already), -ENOSPC (the list is full).
 */
PMN_API int pmn_publish_arena(struct pmn_arena *a, const char *name);
/** As pmn_publish_arena(), for a slab. */
PMN_API int pmn_publish_slab(struct pmn_slab *s, const char *name);
/** Write the figures now.  0, or -ENOENT when not publishing. */
PMN_API int pmn_publish_update(void);
/**
 * The file's path into @p buf (NUL-terminated when it fits).  Returns the
 * length of the path like snprintf, or -ENOENT when not publishing.
 */
PMN_API int pmn_publish_path(char *buf, size_t len);
/**@}*/

#ifdef __cplusplus
}
#endif

#endif /* PMNODE_H */
