/*
 * kabi.c - probes for each generation of the private-node kernel ABI.
 *
 * None of these is in mainline yet and the drafts move, so every probe is
 * optional and independent; each one only sets raw signals on the nodes
 * (kernel_private, user_allowed, mem_features) and a bit in ctx->abi that
 * says which generation spoke.  topology.c's merge decides what they mean.
 *
 *   mainline         has_memory, has_cpu (no private notion at all)
 *   v3/v4 RFC        has_private_memory: the private nodes
 *   later drafts     has_common_memory: nodes in normal fallback, so
 *                    private = has_memory - has_common_memory;
 *                    has_user_memory: nodes user mempolicy may target;
 *                    nodeN/mem_features: hex capability mask
 *   dax attributes   daxX.Y/private, and the cramdax/anondax drivers
 *                    (read in dax.c, since they hang off devices)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "discover/topology.h"

#define NODE_DIR "sys/devices/system/node"

/* Read an optional node list; 1 when present and parsed, 0 when absent,
 * and a problem (treated as absent) when malformed. */
static int read_mask(struct pmn_ctx *ctx, const char *name, struct pmn__bitmap *out)
{
    char path[128];
    int err;

    snprintf(path, sizeof(path), NODE_DIR "/%s", name);
    err = pmn__sysfs_read_list(&ctx->fs, path, PMN__MAX_NODE_ID, out);
    if (err == 0)
        return 1;
    pmn__bitmap_free(out);
    if (err != -ENOENT)
        pmn__problem(ctx, "%s: %s", path, pmn_strerror(err));
    return 0;
}

int pmn__kabi_probe(struct pmn_ctx *ctx)
{
    struct pmn__bitmap mem = {0}, priv = {0}, common = {0}, user = {0}, cpu = {0};
    bool have_mem, have_priv, have_common, have_user, have_cpu;
    char path[128];

    have_mem = read_mask(ctx, "has_memory", &mem);
    have_cpu = read_mask(ctx, "has_cpu", &cpu);
    if (have_mem || have_cpu)
        ctx->abi |= PMN_ABI_MAINLINE;
    have_priv = read_mask(ctx, "has_private_memory", &priv);
    have_common = read_mask(ctx, "has_common_memory", &common);
    have_user = read_mask(ctx, "has_user_memory", &user);
    if (have_priv)
        ctx->abi |= PMN_ABI_PRIVATE_MEMORY;
    if (have_common)
        ctx->abi |= PMN_ABI_COMMON_MEMORY;
    if (have_user)
        ctx->abi |= PMN_ABI_USER_MEMORY;

    for (size_t i = 0; i < ctx->nnodes; i++) {
        struct pmn_node *n = &ctx->nodes[i];
        unsigned id = (unsigned)n->id;
        uint64_t mask;
        int err;

        if (have_mem)
            n->has_memory = pmn__bitmap_test(&mem, id);
        if (have_cpu)
            n->has_cpu_signal = pmn__bitmap_test(&cpu, id);
        if (have_priv && pmn__bitmap_test(&priv, id))
            n->kernel_private = true;
        /* A node with memory that is not common memory is private; a
         * memoryless node is neither. */
        if (have_common && n->has_memory && !pmn__bitmap_test(&common, id))
            n->kernel_private = true;
        if (have_user)
            n->user_allowed = pmn__bitmap_test(&user, id) ? 1 : 0;
        else if (have_priv)
            /* v4: a private node that allows mempolicy is also listed in
             * has_memory; one that does not, is not. */
            n->user_allowed = !n->kernel_private || (have_mem && pmn__bitmap_test(&mem, id));

        snprintf(path, sizeof(path), NODE_DIR "/node%d/mem_features", n->id);
        err = pmn__sysfs_read_u64(&ctx->fs, path, 16, &mask);
        if (err == 0) {
            ctx->abi |= PMN_ABI_MEM_FEATURES;
            n->has_mem_features = true;
            n->mem_features = mask;
        } else if (err != -ENOENT) {
            pmn__problem(ctx, "%s: %s", path, pmn_strerror(err));
        }
    }
    pmn__bitmap_free(&mem);
    pmn__bitmap_free(&priv);
    pmn__bitmap_free(&common);
    pmn__bitmap_free(&user);
    pmn__bitmap_free(&cpu);
    return 0;
}
