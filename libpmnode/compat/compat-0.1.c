/*
 * compat/compat-0.1.c - the binary interface of libpmnode 0.1, kept for
 * programs linked against it (symbol version PMNODE_0.1).
 *
 * libpmnode 0.2 gave every struct the library fills a leading struct_size
 * (pmnode.h, Conventions), so the calls that fill or read one changed
 * their binary interface; pmn_node_hugepools() also returns int and takes
 * the element size from the array, and pmn_node_zratio() answers -1, not
 * 0, for unknown.  A program built against 0.1 still passes the old
 * layouts and expects the old answers, and its calls are bound to the
 * PMNODE_0.1 versions of these names: this file defines them.  Each calls
 * the current function on a current struct and copies the fields into the
 * 0.1 layout, written out here once; nothing else in the library knows
 * these layouts.  Programs built now bind to the PMNODE_0.2 versions (the
 * defaults, see PMN__SYMVER_DEFAULT beside each current function).
 *
 * Only in libpmnode.so: the preload shim exports none of this.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/* ---- the 0.1 layouts (include/pmnode.h of libpmnode 0.1.0) ---- */

struct perf_0_1 {
    uint64_t read_bandwidth, write_bandwidth, read_latency, write_latency;
};

struct hugepool_0_1 {
    uint64_t page_size, total, free, surplus;
};

struct backing_stats_0_1 {
    uint64_t mapped_bytes, peak_bytes, maps, failures, spilled_bytes;
    size_t nnodes;
    struct {
        int node;
        uint64_t bytes;
    } node[PMN_STATS_MAX_NODES];
};

struct where_0_1 {
    uint64_t page_size, pages, not_present, unknown, other;
    size_t nnodes;
    struct {
        int node;
        uint64_t pages;
    } node[PMN_STATS_MAX_NODES];
};

struct alloc_stats_0_1 {
    uint64_t allocated, objects, active, resident, peak, allocs, frees, remote_frees, failures;
    struct backing_stats_0_1 backing;
};

struct ctier_stats_0_1 {
    uint64_t logical_bytes, physical_bytes;
    double ratio;
    uint64_t capacity_bytes, demotions, demoted_pages, promotions, write_promotions,
        write_failures, refusals;
};

/* The 0.1 entry points, defined here only.  Visible so that their
 * versioned names are exported; the plain pmn__ names are not (the map's
 * "local: *"). */
#define COMPAT __attribute__((visibility("default")))
COMPAT double pmn__zratio_0_1(const struct pmn_node *node);
COMPAT int pmn__perf_0_1(const struct pmn_node *node, struct perf_0_1 *out);
COMPAT size_t pmn__hugepools_0_1(const struct pmn_node *node, struct hugepool_0_1 *out, size_t max);
COMPAT int pmn__backing_stats_0_1(const struct pmn_backing *b, struct backing_stats_0_1 *out);
COMPAT int pmn__where_0_1(const void *addr, size_t len, struct where_0_1 *out);
COMPAT uint64_t pmn__where_pages_on_0_1(const struct where_0_1 *w, int node);
COMPAT int pmn__arena_stats_0_1(struct pmn_arena *a, struct alloc_stats_0_1 *out);
COMPAT int pmn__slab_stats_0_1(struct pmn_slab *s, struct alloc_stats_0_1 *out);
COMPAT int pmn__alloc_stats_json_0_1(const struct alloc_stats_0_1 *st, char *buf, size_t len);
COMPAT int pmn__ctier_stats_0_1(struct pmn_ctier *t, struct ctier_stats_0_1 *out);
COMPAT int pmn__ctier_stats_json_0_1(const struct ctier_stats_0_1 *st, char *buf, size_t len);

/* ---- conversions ---- */

static void backing_to_0_1(struct backing_stats_0_1 *o, const struct pmn_backing_stats *n)
{
    o->mapped_bytes = n->mapped_bytes;
    o->peak_bytes = n->peak_bytes;
    o->maps = n->maps;
    o->failures = n->failures;
    o->spilled_bytes = n->spilled_bytes;
    o->nnodes = n->nnodes;
    for (size_t i = 0; i < PMN_STATS_MAX_NODES; i++) {
        o->node[i].node = n->node[i].node;
        o->node[i].bytes = n->node[i].bytes;
    }
}

static void backing_from_0_1(struct pmn_backing_stats *n, const struct backing_stats_0_1 *o)
{
    n->struct_size = sizeof(*n);
    n->mapped_bytes = o->mapped_bytes;
    n->peak_bytes = o->peak_bytes;
    n->maps = o->maps;
    n->failures = o->failures;
    n->spilled_bytes = o->spilled_bytes;
    n->nnodes = o->nnodes;
    for (size_t i = 0; i < PMN_STATS_MAX_NODES; i++) {
        n->node[i].node = o->node[i].node;
        n->node[i].bytes = o->node[i].bytes;
    }
}

static void alloc_to_0_1(struct alloc_stats_0_1 *o, const struct pmn_alloc_stats *n)
{
    o->allocated = n->allocated;
    o->objects = n->objects;
    o->active = n->active;
    o->resident = n->resident;
    o->peak = n->peak;
    o->allocs = n->allocs;
    o->frees = n->frees;
    o->remote_frees = n->remote_frees;
    o->failures = n->failures;
    backing_to_0_1(&o->backing, &n->backing);
}

static void alloc_from_0_1(struct pmn_alloc_stats *n, const struct alloc_stats_0_1 *o)
{
    n->struct_size = sizeof(*n);
    n->allocated = o->allocated;
    n->objects = o->objects;
    n->active = o->active;
    n->resident = o->resident;
    n->peak = o->peak;
    n->allocs = o->allocs;
    n->frees = o->frees;
    n->remote_frees = o->remote_frees;
    n->failures = o->failures;
    backing_from_0_1(&n->backing, &o->backing);
}

static void ctier_to_0_1(struct ctier_stats_0_1 *o, const struct pmn_ctier_stats *n)
{
    o->logical_bytes = n->logical_bytes;
    o->physical_bytes = n->physical_bytes;
    o->ratio = n->ratio;
    o->capacity_bytes = n->capacity_bytes;
    o->demotions = n->demotions;
    o->demoted_pages = n->demoted_pages;
    o->promotions = n->promotions;
    o->write_promotions = n->write_promotions;
    o->write_failures = n->write_failures;
    o->refusals = n->refusals;
}

/* ---- discovery ---- */

double pmn__zratio_0_1(const struct pmn_node *node)
{
    double r = pmn_node_zratio(node);

    return r < 0.0 ? 0.0 : r; /* 0.1 said 0 for unknown */
}
PMN__SYMVER_COMPAT(pmn__zratio_0_1, pmn_node_zratio, "PMNODE_0.1");

int pmn__perf_0_1(const struct pmn_node *node, struct perf_0_1 *out)
{
    struct pmn_perf p = {.struct_size = sizeof(p)};
    int err;

    if (out == NULL)
        return -EINVAL;
    err = pmn_node_perf(node, &p);
    if (err == -EINVAL)
        return err;
    out->read_bandwidth = p.read_bandwidth;
    out->write_bandwidth = p.write_bandwidth;
    out->read_latency = p.read_latency;
    out->write_latency = p.write_latency;
    return err;
}
PMN__SYMVER_COMPAT(pmn__perf_0_1, pmn_node_perf, "PMNODE_0.1");

size_t pmn__hugepools_0_1(const struct pmn_node *node, struct hugepool_0_1 *out, size_t max)
{
    int n = pmn_node_hugepools(node, NULL, 0);
    struct pmn_hugepool *pools;
    size_t want;

    if (n <= 0)
        return 0;
    want = (size_t)n < max ? (size_t)n : max;
    if (out == NULL || want == 0)
        return (size_t)n;
    pools = calloc(want, sizeof(*pools));
    if (pools == NULL)
        return 0; /* 0.1 could not fail; "no pools" is the safe answer */
    pools[0].struct_size = sizeof(*pools);
    if (pmn_node_hugepools(node, pools, want) == n) {
        for (size_t i = 0; i < want; i++) {
            out[i].page_size = pools[i].page_size;
            out[i].total = pools[i].total;
            out[i].free = pools[i].free;
            out[i].surplus = pools[i].surplus;
        }
    } else {
        n = 0;
    }
    free(pools);
    return (size_t)n;
}
PMN__SYMVER_COMPAT(pmn__hugepools_0_1, pmn_node_hugepools, "PMNODE_0.1");

/* ---- placement ---- */

int pmn__backing_stats_0_1(const struct pmn_backing *b, struct backing_stats_0_1 *out)
{
    struct pmn_backing_stats st = {.struct_size = sizeof(st)};
    int err;

    if (out == NULL)
        return -EINVAL;
    err = pmn_backing_stats(b, &st);
    if (err == 0)
        backing_to_0_1(out, &st);
    return err;
}
PMN__SYMVER_COMPAT(pmn__backing_stats_0_1, pmn_backing_stats, "PMNODE_0.1");

int pmn__where_0_1(const void *addr, size_t len, struct where_0_1 *out)
{
    struct pmn_where w = {.struct_size = sizeof(w)};
    int err;

    if (out == NULL)
        return -EINVAL;
    err = pmn_where(addr, len, &w);
    if (err == -EINVAL)
        return err;
    out->page_size = w.page_size;
    out->pages = w.pages;
    out->not_present = w.not_present;
    out->unknown = w.unknown;
    out->other = w.other;
    out->nnodes = w.nnodes;
    for (size_t i = 0; i < PMN_STATS_MAX_NODES; i++) {
        out->node[i].node = w.node[i].node;
        out->node[i].pages = w.node[i].pages;
    }
    return err;
}
PMN__SYMVER_COMPAT(pmn__where_0_1, pmn_where, "PMNODE_0.1");

uint64_t pmn__where_pages_on_0_1(const struct where_0_1 *w, int node)
{
    if (w == NULL)
        return 0;
    for (size_t i = 0; i < w->nnodes && i < PMN_STATS_MAX_NODES; i++)
        if (w->node[i].node == node)
            return w->node[i].pages;
    return 0;
}
PMN__SYMVER_COMPAT(pmn__where_pages_on_0_1, pmn_where_pages_on, "PMNODE_0.1");

/* ---- allocators ---- */

int pmn__arena_stats_0_1(struct pmn_arena *a, struct alloc_stats_0_1 *out)
{
    struct pmn_alloc_stats st = {.struct_size = sizeof(st)};
    int err;

    if (out == NULL)
        return -EINVAL;
    err = pmn_arena_stats(a, &st);
    if (err == 0)
        alloc_to_0_1(out, &st);
    return err;
}
PMN__SYMVER_COMPAT(pmn__arena_stats_0_1, pmn_arena_stats, "PMNODE_0.1");

int pmn__slab_stats_0_1(struct pmn_slab *s, struct alloc_stats_0_1 *out)
{
    struct pmn_alloc_stats st = {.struct_size = sizeof(st)};
    int err;

    if (out == NULL)
        return -EINVAL;
    err = pmn_slab_stats(s, &st);
    if (err == 0)
        alloc_to_0_1(out, &st);
    return err;
}
PMN__SYMVER_COMPAT(pmn__slab_stats_0_1, pmn_slab_stats, "PMNODE_0.1");

int pmn__alloc_stats_json_0_1(const struct alloc_stats_0_1 *st, char *buf, size_t len)
{
    struct pmn_alloc_stats cur;

    if (st == NULL)
        return -EINVAL;
    alloc_from_0_1(&cur, st);
    return pmn_alloc_stats_json(&cur, buf, len);
}
PMN__SYMVER_COMPAT(pmn__alloc_stats_json_0_1, pmn_alloc_stats_json, "PMNODE_0.1");

/* ---- compressed tier ---- */

int pmn__ctier_stats_0_1(struct pmn_ctier *t, struct ctier_stats_0_1 *out)
{
    struct pmn_ctier_stats st = {.struct_size = sizeof(st)};
    int err;

    if (out == NULL)
        return -EINVAL;
    err = pmn_ctier_stats(t, &st);
    if (err == 0)
        ctier_to_0_1(out, &st);
    return err;
}
PMN__SYMVER_COMPAT(pmn__ctier_stats_0_1, pmn_ctier_stats, "PMNODE_0.1");

int pmn__ctier_stats_json_0_1(const struct ctier_stats_0_1 *st, char *buf, size_t len)
{
    struct pmn_ctier_stats cur = {.struct_size = sizeof(cur)};

    if (st == NULL)
        return -EINVAL;
    cur.logical_bytes = st->logical_bytes;
    cur.physical_bytes = st->physical_bytes;
    cur.ratio = st->ratio;
    cur.capacity_bytes = st->capacity_bytes;
    cur.demotions = st->demotions;
    cur.demoted_pages = st->demoted_pages;
    cur.promotions = st->promotions;
    cur.write_promotions = st->write_promotions;
    cur.write_failures = st->write_failures;
    cur.refusals = st->refusals;
    return pmn_ctier_stats_json(&cur, buf, len);
}
PMN__SYMVER_COMPAT(pmn__ctier_stats_json_0_1, pmn_ctier_stats_json, "PMNODE_0.1");
