/*
 * discover/topology.h - the context and the objects it owns (private to
 * libpmnode), and the discovery stages that fill them.
 *
 * A context is built once by pmn__discover() and never changes afterwards,
 * which is what makes every getter lock-free and thread-safe.  Discovery
 * runs in stages, each filling the raw facts its source knows:
 *
 *   topology.c   nodes from sys/devices/system/node, memory tiers,
 *                then the merge that decides kind and isolation
 *                and the administrator's word (config file, environment,
 *                params; config.c holds the file's grammar)
 *   dax.c        device-dax devices and CXL regions
 *   kabi.c       the private-node ABI generations
 *   hwloc.c      node subtypes: hwloc on "/", the same sysfs facts elsewhere
 *   device.c     the node of a PCI device or network interface (asked on
 *                demand, not part of the snapshot)
 *   select.c     choosing nodes by kind, nearness, capacity or speed
 *
 * The merge in topology.c is the one place that weighs the signals.
 */
#ifndef PMN_TOPOLOGY_H
#define PMN_TOPOLOGY_H

#include <pthread.h>
#include <stdatomic.h>

#include "discover/discover.h"

struct pmn_node {
    const struct pmn_ctx *ctx;
    size_t index;
    int id;
    enum pmn_kind kind;
    enum pmn_isolation isolation;
    char *cpulist; /* NULL when unknown */
    unsigned ncpus;
    uint64_t capacity, free;
    int tier;    /* 1-based rank, -1 unknown */
    int tier_id; /* kernel memory_tierN, -1 unknown */
    int *dist;   /* dist[j] = distance to nodes[j]; NULL when unknown */
    char *hwloc_subtype;
    bool has_mem_features;
    uint64_t mem_features;
    int user_allowed; /* 1, 0, or PMN_E_UNKNOWN */
    double zratio;
    bool has_perf;
    struct pmn_perf perf;
    struct pmn_hugepool *pools;
    size_t npools;
    struct pmn_side_cache *caches; /* memory_side_cache/indexY, by level */
    size_t ncaches;
    const struct pmn_dax *dax;
    /* raw signals gathered before the merge */
    bool has_memory;           /* -1 unknown folded into true */
    bool has_cpu_signal;       /* has_cpu lists it (when cpulist is unreadable) */
    bool kernel_private;       /* some kernel ABI says private */
    bool config_private;       /* administrator said private */
    bool gpu_signal;           /* nvidia numa_status names it */
    bool cxl_signal;           /* a CXL region is online as this node */
    enum pmn_kind config_kind; /* PMN_KIND_UNKNOWN = none */
};

struct pmn_dax {
    const struct pmn_ctx *ctx;
    size_t index;
    char *name;
    char *path;
    char *driver; /* NULL when unbound */
    const char *type;
    char *cxl_region;
    uint64_t size, align;
    uint64_t resource; /* physical start, PMN_UNKNOWN */
    enum pmn_dax_mode mode;
    int target_node, numa_node, node;
    int kernel_private; /* daxX.Y/private: 1, 0, or -1 absent */
    double zratio;
    bool is_private;
};

struct pmn_cxl_region {
    const struct pmn_ctx *ctx;
    size_t index;
    char *name;
    char *mode;
    uint64_t size;
    char **targets;
    size_t ntargets;
    const struct pmn_dax *dax;
    int node;
};

struct pmn_ctx_params {
    char *root;
    bool root_set;
    char *private_nodes;
    bool private_set;
    char *config;
    bool config_set;
    unsigned flags;
    struct pmn__kind_override *kinds;
    size_t nkinds;
    char *errbuf; /* the caller's, for why creation failed; or NULL */
    size_t errlen;
};

struct pmn_ctx {
    atomic_int refs;
    struct pmn__sysfs fs;
    bool local;
    unsigned flags;
    unsigned abi;
    int log_level;
    struct pmn_node *nodes; /* sorted by id */
    size_t nnodes;
    struct pmn_dax *dax; /* sorted by name */
    size_t ndax;
    struct pmn_cxl_region *cxl;
    size_t ncxl;
    char **problems;
    size_t nproblems;
    /* The one mutable part: shared device-dax mappings (backing-dax.c),
     * created on demand and guarded by dax_lock.  Nothing is allocated
     * and no other lock is taken with dax_lock or wm_lock held: both are
     * the innermost of the library's locks (core/fork.c). */
    pthread_mutex_t dax_lock;
    struct pmn__daxmap *daxmaps;
    /* The other mutable part: each node's zone watermarks from
     * /proc/zoneinfo (memavail.c), read at most once a second, guarded by
     * wm_lock. */
    pthread_mutex_t wm_lock;
    struct pmn__zonewm *wm; /* nwm entries */
    size_t nwm;
    uint64_t wm_at_ns;
    bool wm_read;
    bool wm_refreshing;   /* a caller is reading zoneinfo (cleared in a forked child) */
    uint64_t wm_claim_ns; /* since when */
    /* core/ctx.c's list of live contexts, whose two locks are held across
     * fork (its lock): from a successful pmn_ctx_new* to the last unref. */
    struct pmn__fork_node fork;
};

/* The public count/first/next getters of one kind of object a context
 * owns in a sorted array (ctx->ARR, ctx->N), each object knowing its index
 * (topology.c and dax.c expand it once per kind). */
#define PMN__CTX_ITERATORS(prefix, type, arr, n)                                           \
    size_t prefix##_count(const struct pmn_ctx *ctx)                                       \
    {                                                                                      \
        return ctx ? ctx->n : 0;                                                           \
    }                                                                                      \
    const type *prefix##_first(const struct pmn_ctx *ctx)                                  \
    {                                                                                      \
        return ctx && ctx->n ? &ctx->arr[0] : NULL;                                        \
    }                                                                                      \
    const type *prefix##_next(const type *o)                                               \
    {                                                                                      \
        return o == NULL || o->index + 1 >= o->ctx->n ? NULL : &o->ctx->arr[o->index + 1]; \
    }

/* A public getter that reads one field, or @none for a NULL object. */
#define PMN__GETTER(ret, fn, type, field, none) \
    ret fn(const type *o)                       \
    {                                           \
        return o ? o->field : (none);           \
    }

/* ---- topology.c: stages (each returns 0 or a negative code for a fatal
 * failure only) ---- */
int pmn__discover(struct pmn_ctx *ctx, const struct pmn_ctx_params *params);
/* Why creating @ctx from @p fails, one line: logged as an error and
 * copied to @p's error buffer (ctx.c).  Returns @err. */
int pmn__ctx_fail(const struct pmn_ctx *ctx, const struct pmn_ctx_params *p, int err,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void pmn__topology_free(struct pmn_ctx *ctx);
/* Node lookup by id (binary search); NULL when absent. */
struct pmn_node *pmn__node_find(const struct pmn_ctx *ctx, int id);
/* Node @id's meminfo now: 0, PMN_E_NO_NODE, PMN_E_UNKNOWN (no meminfo or
 * no MemFree in it), PMN_E_PARSE, or the read's -errno. */
int pmn__node_meminfo(const struct pmn_ctx *ctx, int id, struct pmn__meminfo *mi);

/* ---- dax.c ---- */
int pmn__discover_dax(struct pmn_ctx *ctx);
int pmn__discover_cxl(struct pmn_ctx *ctx);
/* Free every device and region record (pmn__topology_free's part). */
void pmn__dax_free_all(struct pmn_ctx *ctx);

/* ---- kabi.c ---- */
int pmn__kabi_probe(struct pmn_ctx *ctx);

/* ---- hwloc.c ---- */
int pmn__hwloc_probe(struct pmn_ctx *ctx);

/* A PCI function's address (device.c parses it). */
struct pmn__pci_addr {
    unsigned domain, bus, dev, fn;
};
/* hwloc's view of this machine's PCI devices, for device.c: 0 with a
 * topology to pass to pmn__hwloc_pci_node, PMN_E_UNKNOWN where hwloc may
 * not be asked (another root, PMN_CTX_NO_HWLOC, the caller's environment
 * pointing hwloc elsewhere, the shim's build), PMN_E_HWLOC when it fails. */
int pmn__hwloc_pci_open(const struct pmn_ctx *ctx, void **topo);
/* The node of the nearest NUMA ancestor of PCI device @a: 0, or
 * PMN_E_UNKNOWN when hwloc does not know the device or several nodes
 * are equally near. */
int pmn__hwloc_pci_node(void *topo, const struct pmn__pci_addr *a, int *node);
void pmn__hwloc_pci_close(void *topo);

#endif /* PMN_TOPOLOGY_H */
