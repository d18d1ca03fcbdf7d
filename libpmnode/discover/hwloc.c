/*
 * hwloc.c - each node's hwloc subtype: from hwloc on "/", from the same
 * sysfs facts hwloc reads everywhere else.
 *
 * hwloc names a NUMA node's memory technology ("GPUMemory", "SPM", "NVM",
 * and by guesswork "HBM", "DRAM", "MCDRAM"); the merge in topology.c weighs
 * that subtype below the facts discovery reads itself, and
 * pmn_node_hwloc_subtype() reports it.
 *
 * On this machine's own root ("/"), with the caller's environment leaving
 * hwloc on it too, hwloc runs in-process, as any library would call it.
 *
 * Any other root (a captured tree, `pmnode list --root DIR`) never loads
 * hwloc: hwloc 2 takes a file-system root only from HWLOC_FSROOT, and
 * setting it means changing the process environment (global state racing
 * with the caller's threads) or loading hwloc in a forked child of a
 * possibly multithreaded caller, where only async-signal-safe calls are
 * allowed; hwloc also opens files blocking, so a FIFO in the tree hangs
 * it.  Nor does it exec a helper to run hwloc: what hwloc's Linux backend
 * (2.9, Debian 12) reads to name a node comes from two places in the tree,
 * and this file reads those same two places through sysfs.c (relative to
 * the root, non-blocking, bounded):
 *
 *   "GPUMemory"   the node NVIDIA's driver names in
 *                 proc/driver/nvidia/gpus/BUS/numa_status (topology.c
 *                 reads it into gpu_signal);
 *   "NVM", "SPM"  the target_node of a dax device that hwloc finds bound
 *                 to kmem (sys/bus/dax/drivers/kmem/NAME exists): "NVM"
 *                 when the device's sys/bus/dax/devices link runs through
 *                 an nd bus ("ndbus"), "SPM" otherwise; the first device
 *                 by name names its node, and "GPUMemory" is never
 *                 overwritten.
 *
 * What hwloc guesses rather than reads is left out for such roots: 2.9
 * renames a kmem SPM tier "HBM" (and the other nodes "DRAM") when HMAT
 * bandwidth says it is more than twice as fast, and names Xeon Phi (KNL)
 * MCDRAM from the CPU model.  The merge has rules of its own for those
 * cases and rarely needs the guess: a node made from an hmem, nd or CXL dax
 * device takes its kind from the device before any subtype, a node with
 * CPUs is dram, a CPU-less node with twice the DRAM bandwidth in HMAT is
 * hbm.  What differs is a captured KNL tree's MCDRAM node ("unknown", not
 * "hbm") and CPU-less nodes hwloc would have called DRAM beside such an
 * HBM tier (dram only if a memory tier says so).  The same sysfs reading
 * serves "/" when the caller's environment points hwloc elsewhere
 * (HWLOC_FSROOT, HWLOC_XMLFILE, HWLOC_SYNTHETIC), where hwloc in-process
 * would describe another machine.
 *
 * A failure of hwloc is never fatal: the caller records a problem and the
 * kinds come from sysfs alone.
 *
 * Device locality (device.c) asks hwloc the node of a PCI device whose
 * numa_node the kernel leaves at -1, on "/" only and under the same
 * condition (hwloc describes this machine): the device's first ancestor
 * that is not an I/O object, or the nearest above it whose node set is
 * not empty, answers when that set is exactly one node (several nodes
 * equally near are "unknown": never a guess).  Other roots have no such
 * answer to read from the tree: there the caller says unknown.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "discover/topology.h"

#define DAX_DIR "sys/bus/dax/devices"
#define KMEM_DIR "sys/bus/dax/drivers/kmem"

/* First subtype wins, as in hwloc (which never overwrites one). */
static int set_subtype(struct pmn_node *n, const char *subtype)
{
    if (n == NULL || n->hwloc_subtype != NULL)
        return 0;
    n->hwloc_subtype = strdup(subtype);
    return n->hwloc_subtype ? 0 : -ENOMEM;
}

/* The subtypes hwloc's Linux backend reads from the tree, read here. */
static int subtypes_from_sysfs(struct pmn_ctx *ctx)
{
    char path[256], *link;
    int err;

    for (size_t i = 0; i < ctx->nnodes; i++)
        if (ctx->nodes[i].gpu_signal && (err = set_subtype(&ctx->nodes[i], "GPUMemory")) != 0)
            return err;
    for (size_t i = 0; i < ctx->ndax; i++) {
        const struct pmn_dax *d = &ctx->dax[i];
        struct pmn_node *n = d->target_node >= 0 ? pmn__node_find(ctx, d->target_node) : NULL;

        if (n == NULL || n->hwloc_subtype != NULL)
            continue;
        snprintf(path, sizeof(path), KMEM_DIR "/%s", d->name);
        if (!pmn__sysfs_exists(&ctx->fs, path))
            continue;
        snprintf(path, sizeof(path), DAX_DIR "/%s", d->name);
        if (pmn__sysfs_readlink(&ctx->fs, path, &link) != 0)
            continue; /* not a link: hwloc cannot tell what memory it is */
        err = set_subtype(n, strstr(link, "ndbus") ? "NVM" : "SPM");
        free(link);
        if (err)
            return err;
    }
    return 0;
}

#ifdef PMN_LITE
/* The preload shim's copy: no hwloc in every program it runs (contexts
 * there are created with PMN_CTX_NO_HWLOC anyway); other roots need none. */
int pmn__hwloc_probe(struct pmn_ctx *ctx)
{
    return ctx->local ? PMN_E_HWLOC : subtypes_from_sysfs(ctx);
}

int pmn__hwloc_pci_open(const struct pmn_ctx *ctx, void **topo)
{
    (void)ctx;
    *topo = NULL;
    return PMN_E_UNKNOWN;
}

int pmn__hwloc_pci_node(void *topo, const struct pmn__pci_addr *a, int *node)
{
    (void)topo, (void)a, (void)node;
    return PMN_E_UNKNOWN;
}

void pmn__hwloc_pci_close(void *topo)
{
    (void)topo;
}
#else
#include <hwloc.h>

/* hwloc in this process, on this machine: the caller's environment does not
 * point it at another root, an XML file or a synthetic topology. */
static bool hwloc_sees_this_machine(void)
{
    const char *root = secure_getenv("HWLOC_FSROOT");

    return (root == NULL || *root == '\0' || strcmp(root, "/") == 0) &&
           secure_getenv("HWLOC_XMLFILE") == NULL && secure_getenv("HWLOC_SYNTHETIC") == NULL;
}

static int hwloc_walk(struct pmn_ctx *ctx)
{
    hwloc_topology_t topo;
    hwloc_obj_t obj = NULL;
    int err = 0;

    if (hwloc_topology_init(&topo) != 0)
        return PMN_E_HWLOC;
    hwloc_topology_set_flags(topo, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED);
    if (hwloc_topology_load(topo) != 0) {
        hwloc_topology_destroy(topo);
        return PMN_E_HWLOC;
    }
    while (err == 0 && (obj = hwloc_get_next_obj_by_type(topo, HWLOC_OBJ_NUMANODE, obj)) != NULL)
        if (obj->subtype != NULL && obj->os_index <= PMN__MAX_NODE_ID)
            err = set_subtype(pmn__node_find(ctx, (int)obj->os_index), obj->subtype);
    hwloc_topology_destroy(topo);
    return err;
}

int pmn__hwloc_probe(struct pmn_ctx *ctx)
{
    if (ctx->local && hwloc_sees_this_machine())
        return hwloc_walk(ctx);
    return subtypes_from_sysfs(ctx);
}

int pmn__hwloc_pci_open(const struct pmn_ctx *ctx, void **topo)
{
    hwloc_topology_t t;

    *topo = NULL;
    if (!ctx->local || (ctx->flags & PMN_CTX_NO_HWLOC) || !hwloc_sees_this_machine())
        return PMN_E_UNKNOWN;
    if (hwloc_topology_init(&t) != 0)
        return PMN_E_HWLOC;
    hwloc_topology_set_flags(t, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED);
    /* PCI devices and bridges only: what locality needs, no OS devices. */
    hwloc_topology_set_io_types_filter(t, HWLOC_TYPE_FILTER_KEEP_NONE);
    hwloc_topology_set_type_filter(t, HWLOC_OBJ_PCI_DEVICE, HWLOC_TYPE_FILTER_KEEP_ALL);
    hwloc_topology_set_type_filter(t, HWLOC_OBJ_BRIDGE, HWLOC_TYPE_FILTER_KEEP_ALL);
    if (hwloc_topology_load(t) != 0) {
        hwloc_topology_destroy(t);
        return PMN_E_HWLOC;
    }
    *topo = t;
    return 0;
}

int pmn__hwloc_pci_node(void *topo, const struct pmn__pci_addr *a, int *node)
{
    hwloc_topology_t t = topo;
    hwloc_obj_t obj;

    if (t == NULL)
        return PMN_E_UNKNOWN;
    obj = hwloc_get_pcidev_by_busid(t, a->domain, a->bus, a->dev, a->fn);
    if (obj == NULL)
        return PMN_E_UNKNOWN;
    /* The first CPU-side ancestor whose NUMA nodes are known: one node
     * is the answer, several are equally near (a device hwloc attaches
     * to the machine as a whole on a multi-node box). */
    for (obj = hwloc_get_non_io_ancestor_obj(t, obj); obj != NULL; obj = obj->parent) {
        int w = obj->nodeset ? hwloc_bitmap_weight(obj->nodeset) : 0;

        if (w > 1 || w < 0)
            return PMN_E_UNKNOWN;
        if (w == 1) {
            int id = hwloc_bitmap_first(obj->nodeset);
            if (id < 0 || id > PMN__MAX_NODE_ID)
                return PMN_E_UNKNOWN;
            *node = id;
            return 0;
        }
    }
    return PMN_E_UNKNOWN;
}

void pmn__hwloc_pci_close(void *topo)
{
    if (topo != NULL)
        hwloc_topology_destroy((hwloc_topology_t)topo);
}
#endif /* PMN_LITE */
