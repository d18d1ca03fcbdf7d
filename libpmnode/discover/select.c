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

/* The best of the nodes offered: lowest or highest value, PMN_UNKNOWN
 * values counted as candidates but never chosen. */
struct pick {
    bool lower_better, any;
    int best;
    uint64_t best_v;
};

static void pick_offer(struct pick *pk, int id, uint64_t v)
{
    pk->any = true;
    if (v == PMN_UNKNOWN)
        return;
    if (pk->best < 0 || (pk->lower_better ? v < pk->best_v : v > pk->best_v)) {
        pk->best = id;
        pk->best_v = v;
    }
}

/* 0 with the choice, PMN_E_NO_MATCH when nothing was offered,
 * PMN_E_UNKNOWN when no candidate had a known value. */
static int pick_result(const struct pick *pk, int *out)
{
    if (!pk->any)
        return PMN_E_NO_MATCH;
    if (pk->best < 0)
        return PMN_E_UNKNOWN;
    *out = pk->best;
    return 0;
}

int pmn_nearest_private_node(const struct pmn_ctx *ctx, int from_node, int *out)
{
    struct pick pk = {.lower_better = true, .best = -1};
    const struct pmn_node *from;

    if (ctx == NULL || out == NULL)
        return -EINVAL;
    from = pmn__node_find(ctx, from_node);
    if (from == NULL)
        return PMN_E_NO_NODE;
    for (size_t i = 0; i < ctx->nnodes; i++) {
        const struct pmn_node *n = &ctx->nodes[i];
        int d = from->dist ? from->dist[n->index] : -1;

        if (n->isolation != PMN_ISOLATION_NONE)
            pick_offer(&pk, n->id, d < 0 ? PMN_UNKNOWN : (uint64_t)d);
    }
    return pick_result(&pk, out);
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
    case PMN_RANK_CAPACITY: return n->capacity;
    case PMN_RANK_BANDWIDTH: return n->has_perf ? n->perf.read_bandwidth : PMN_UNKNOWN;
    case PMN_RANK_LATENCY: return n->has_perf ? n->perf.read_latency : PMN_UNKNOWN;
    }
    return PMN_UNKNOWN;
}

int pmn_best_node(const struct pmn_ctx *ctx, enum pmn_rank rank, unsigned flags,
                  enum pmn_kind kind, int *out)
{
    const unsigned known = PMN_SELECT_PRIVATE | PMN_SELECT_KIND;
    struct pick pk = {.lower_better = rank == PMN_RANK_LATENCY, .best = -1};

    if (ctx == NULL || out == NULL || (flags & ~known) || (unsigned)rank > PMN_RANK_LATENCY)
        return -EINVAL;
    for (size_t i = 0; i < ctx->nnodes; i++) {
        const struct pmn_node *n = &ctx->nodes[i];

        if ((flags & PMN_SELECT_PRIVATE) && n->isolation == PMN_ISOLATION_NONE)
            continue;
        if ((flags & PMN_SELECT_KIND) && n->kind != kind)
            continue;
        if (rank == PMN_RANK_CAPACITY && n->capacity == 0)
            continue; /* memoryless nodes hold nothing */
        pick_offer(&pk, n->id, rank_value(n, rank));
    }
    return pick_result(&pk, out);
}

/* ---- spill lists ---- */

/* A candidate of a spill list: its distance from the first node, its id. */
struct by_dist {
    int d, id;
};

static int cmp_by_dist(const void *a, const void *b)
{
    const struct by_dist *x = a, *y = b;

    if (x->d != y->d)
        return x->d < y->d ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

int pmn_spill_list(const struct pmn_ctx *ctx, int from_node, unsigned kinds, unsigned flags,
                   int *out, size_t max)
{
    const struct pmn_node *from;
    struct by_dist *c;
    size_t n = 0;

    if (ctx == NULL || (out == NULL && max > 0) || (flags & ~(unsigned)PMN_SELECT_PRIVATE))
        return -EINVAL;
    if ((from = pmn__node_find(ctx, from_node)) == NULL)
        return PMN_E_NO_NODE;
    if ((c = malloc((ctx->nnodes ? ctx->nnodes : 1) * sizeof(*c))) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < ctx->nnodes; i++) {
        const struct pmn_node *nd = &ctx->nodes[i];
        int d;

        /* A node without memory can never take a region. */
        if (!nd->has_memory || nd->capacity == 0)
            continue;
        if (kinds != 0 && ((unsigned)nd->kind >= 32 || !(kinds & (1u << nd->kind))))
            continue;
        if ((flags & PMN_SELECT_PRIVATE) && nd->isolation == PMN_ISOLATION_NONE)
            continue;
        d = from->dist ? from->dist[nd->index] : -1;
        if (d < 0) {
            free(c);
            return PMN_E_UNKNOWN; /* a candidate we cannot place in the order */
        }
        c[n++] = (struct by_dist){.d = d, .id = nd->id};
    }
    if (n == 0) {
        free(c);
        return PMN_E_NO_MATCH;
    }
    qsort(c, n, sizeof(*c), cmp_by_dist);
    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++)
        out[i] = c[i].id;
    free(c);
    return (int)n;
}
