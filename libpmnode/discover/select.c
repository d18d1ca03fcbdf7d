/*
 * select.c - choosing nodes: by kind, by nearness, by capacity or speed.
 *
 * Helpers answer from the context's snapshot only, and say "unknown"
 * (PMN_E_UNKNOWN) instead of guessing when the kernel gave no data to rank
 * the candidates: a machine without HMAT has no bandwidth figures, and
 * pretending node order is speed order is how placement goes wrong.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "discover/topology.h"

size_t pmn_nodes_of_kind(const struct pmn_ctx *ctx, enum pmn_kind kind, int *ids, size_t max)
{
    size_t n = 0;

    if (ctx == NULL)
        return 0;
    for (size_t i = 0; i < ctx->nnodes; i++) {
        if (ctx->nodes[i].kind != kind)
            continue;
        if (ids != NULL && n < max)
            ids[n] = ctx->nodes[i].id;
        n++;
    }
    return n;
}

int pmn_nearest_private_node(const struct pmn_ctx *ctx, int from_node, int *out)
{
    const struct pmn_node *from;
    int best = -1, best_d = 0;
    bool any = false;

    if (ctx == NULL || out == NULL)
        return -EINVAL;
    from = pmn__node_find(ctx, from_node);
    if (from == NULL)
        return PMN_E_NO_NODE;
    for (size_t i = 0; i < ctx->nnodes; i++) {
        const struct pmn_node *n = &ctx->nodes[i];
        int d;

        if (n->isolation == PMN_ISOLATION_NONE)
            continue;
        any = true;
        d = from->dist ? from->dist[n->index] : -1;
        if (d < 0)
            continue;
        if (best < 0 || d < best_d) {
            best = n->id;
            best_d = d;
        }
    }
    if (!any)
        return PMN_E_NO_MATCH;
    if (best < 0)
        return PMN_E_UNKNOWN;
    *out = best;
    return 0;
}

int pmn_nearest_private_to_cpu(const struct pmn_ctx *ctx, int cpu, int *out)
{
    if (ctx == NULL || out == NULL || cpu < 0)
        return -EINVAL;
    for (size_t i = 0; i < ctx->nnodes; i++) {
        const struct pmn_node *n = &ctx->nodes[i];
        struct pmn__bitmap cpus = {0};
        bool hit;

        if (n->cpulist == NULL || n->ncpus == 0)
            continue;
        if (pmn__parse_list(n->cpulist, strlen(n->cpulist), PMN__MAX_CPU_ID, &cpus) != 0) {
            pmn__bitmap_free(&cpus);
            continue;
        }
        hit = pmn__bitmap_test(&cpus, (unsigned)cpu);
        pmn__bitmap_free(&cpus);
        if (hit)
            return pmn_nearest_private_node(ctx, n->id, out);
    }
    return PMN_E_NO_NODE;
}

static uint64_t rank_value(const struct pmn_node *n, enum pmn_rank rank)
{
    switch (rank) {
    case PMN_RANK_CAPACITY:
        return n->capacity;
    case PMN_RANK_BANDWIDTH:
        return n->has_perf ? n->perf.read_bandwidth : PMN_UNKNOWN;
    case PMN_RANK_LATENCY:
        return n->has_perf ? n->perf.read_latency : PMN_UNKNOWN;
    }
    return PMN_UNKNOWN;
}

int pmn_best_node(const struct pmn_ctx *ctx, enum pmn_rank rank, unsigned flags,
                  enum pmn_kind kind, int *out)
{
    const unsigned known = PMN_SELECT_PRIVATE | PMN_SELECT_KIND;
    bool any = false, lower_better = rank == PMN_RANK_LATENCY;
    uint64_t best_v = 0;
    int best = -1;

    if (ctx == NULL || out == NULL || (flags & ~known) || (unsigned)rank > PMN_RANK_LATENCY)
        return -EINVAL;
    for (size_t i = 0; i < ctx->nnodes; i++) {
        const struct pmn_node *n = &ctx->nodes[i];
        uint64_t v;

        if ((flags & PMN_SELECT_PRIVATE) && n->isolation == PMN_ISOLATION_NONE)
            continue;
        if ((flags & PMN_SELECT_KIND) && n->kind != kind)
            continue;
        if (rank == PMN_RANK_CAPACITY && n->capacity == 0)
            continue; /* memoryless nodes hold nothing */
        any = true;
        v = rank_value(n, rank);
        if (v == PMN_UNKNOWN)
            continue;
        if (best < 0 || (lower_better ? v < best_v : v > best_v)) {
            best = n->id;
            best_v = v;
        }
    }
    if (!any)
        return PMN_E_NO_MATCH;
    if (best < 0)
        return PMN_E_UNKNOWN;
    *out = best;
    return 0;
}
