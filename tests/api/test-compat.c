/*
 * test-compat.c - programs linked against libpmnode 0.1 keep working
 * (suites 'unit' and 'api').
 *
 * 0.2 gave every struct the library fills a leading struct_size, so the
 * calls that fill or read one keep their 0.1 interface under the symbol
 * version PMNODE_0.1 (libpmnode/compat/compat-0.1.c), which is what a 0.1
 * program's calls are bound to.  This test fetches those versions with
 * dlvsym(), calls them with the 0.1 layouts written out below (from the
 * 0.1 pmnode.h), and checks they answer what the current calls answer.
 * Discovery uses the fixture trees; the stats and pmn_where() use an
 * anonymous backing on node 0 of this host (skipped without NUMA sysfs).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmnode.h"

/* ---- the 0.1 layouts ---- */

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

/* The PMNODE_0.1 version of @name; fails the test when it is missing. */
static void *v01(const char *name)
{
    void *f = dlvsym(RTLD_DEFAULT, name, "PMNODE_0.1");

    cr_assert_not_null(f, "%s@PMNODE_0.1 is not exported: %s", name, dlerror());
    cr_assert_neq(f, dlsym(RTLD_DEFAULT, name), "%s: the default version is the 0.1 one", name);
    return f;
}

static struct pmn_ctx *open_fixture(const char *name)
{
    static char path[PATH_MAX];
    const char *base = getenv("PMN_FIXTURES");
    struct pmn_ctx_params *p;
    struct pmn_ctx *ctx = NULL;

    cr_assert_not_null(base, "PMN_FIXTURES must point at tests/fixtures");
    snprintf(path, sizeof(path), "%s/%s/root", base, name);
    cr_assert_eq(pmn_ctx_params_new(&p), 0);
    cr_assert_eq(pmn_ctx_params_set_root(p, path), 0);
    cr_assert_eq(pmn_ctx_params_set_flags(p, PMN_CTX_IGNORE_ENV), 0);
    cr_assert_eq(pmn_ctx_new_params(&ctx, p), 0, "fixture %s", name);
    pmn_ctx_params_free(p);
    return ctx;
}

Test(compat_0_1, discovery)
{
    double (*zratio)(const struct pmn_node *) = v01("pmn_node_zratio");
    int (*perf)(const struct pmn_node *, struct perf_0_1 *) = v01("pmn_node_perf");
    size_t (*pools)(const struct pmn_node *, struct hugepool_0_1 *, size_t) =
        v01("pmn_node_hugepools");
    struct pmn_ctx *ctx = open_fixture("cramdax");
    struct perf_0_1 op;
    struct pmn_perf np = {.struct_size = sizeof(np)};
    struct hugepool_0_1 oh[3];
    struct pmn_hugepool nh[2] = {{.struct_size = sizeof(nh[0])}};
    const struct pmn_node *n;

    /* 0.1 said 0 for an unknown ratio. */
    cr_assert_eq(zratio(pmn_node_get(ctx, 3)), pmn_node_zratio(pmn_node_get(ctx, 3)));
    cr_assert_eq(zratio(pmn_node_get(ctx, 0)), 0.0);
    cr_assert_eq(zratio(NULL), 0.0);
    pmn_ctx_unref(ctx);

    ctx = open_fixture("two-socket-cxl");
    n = pmn_node_get(ctx, 2);
    memset(&op, 0, sizeof(op));
    cr_assert_eq(perf(n, &op), pmn_node_perf(n, &np));
    cr_assert_eq(op.read_bandwidth, np.read_bandwidth);
    cr_assert_eq(op.write_bandwidth, np.write_bandwidth);
    cr_assert_eq(op.read_latency, np.read_latency);
    cr_assert_eq(op.write_latency, np.write_latency);
    cr_assert_neq(op.read_latency, PMN_UNKNOWN);
    cr_assert_eq(perf(NULL, &op), -EINVAL);
    cr_assert_eq(perf(n, NULL), -EINVAL);
    pmn_ctx_unref(ctx);

    ctx = open_fixture("gpu-sparse");
    n = pmn_node_get(ctx, 0);
    memset(oh, 0x5a, sizeof(oh));
    cr_assert_eq(pools(n, NULL, 0), 2);
    cr_assert_eq(pools(n, oh, 3), 2);
    cr_assert_eq(pmn_node_hugepools(n, nh, 2), 2);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(oh[i].page_size, nh[i].page_size, "pool %d", i);
        cr_assert_eq(oh[i].total, nh[i].total);
        cr_assert_eq(oh[i].free, nh[i].free);
        cr_assert_eq(oh[i].surplus, nh[i].surplus);
    }
    cr_assert_eq(oh[2].page_size, 0x5a5a5a5a5a5a5a5aull, "a third 0.1 pool written");
    cr_assert_eq(pools(n, oh, 1), 2);
    cr_assert_eq(pools(NULL, oh, 3), 0);
    pmn_ctx_unref(ctx);
}

/* A backing on node 0 of this host with an arena and a slab on it. */
struct env {
    struct pmn_ctx *ctx;
    struct pmn_backing *b;
    struct pmn_arena *a;
    struct pmn_slab *s;
};

static struct env env_open(void)
{
    struct pmn_ctx_params *cp;
    struct pmn_backing_params *bp;
    struct env e = {0};
    int err;

    cr_assert_eq(pmn_ctx_params_new(&cp), 0);
    cr_assert_eq(pmn_ctx_params_set_root(cp, "/"), 0);
    cr_assert_eq(pmn_ctx_params_set_flags(cp, PMN_CTX_IGNORE_ENV | PMN_CTX_NO_CONFIG), 0);
    err = pmn_ctx_new_params(&e.ctx, cp);
    pmn_ctx_params_free(cp);
    if (err == PMN_E_NO_NUMA)
        cr_skip_test("this host has no /sys/devices/system/node");
    cr_assert_eq(err, 0, "%s", pmn_strerror(err));
    cr_assert_eq(pmn_backing_params_new(&bp), 0);
    cr_assert_eq(pmn_backing_params_set_node(bp, 0), 0);
    err = pmn_backing_new(e.ctx, bp, &e.b);
    pmn_backing_params_free(bp);
    cr_assert_eq(err, 0, "backing on node 0: %s", pmn_strerror(err));
    cr_assert_eq(pmn_arena_new(e.b, NULL, &e.a), 0);
    cr_assert_eq(pmn_slab_new(e.b, 256, 0, 0, &e.s), 0);
    return e;
}

static void env_close(struct env *e)
{
    pmn_slab_destroy(e->s);
    pmn_arena_destroy(e->a);
    pmn_backing_free(e->b);
    pmn_ctx_unref(e->ctx);
}

static void same_backing(const struct backing_stats_0_1 *o, const struct pmn_backing_stats *n)
{
    cr_assert_eq(o->mapped_bytes, n->mapped_bytes);
    cr_assert_eq(o->peak_bytes, n->peak_bytes);
    cr_assert_eq(o->maps, n->maps);
    cr_assert_eq(o->failures, n->failures);
    cr_assert_eq(o->spilled_bytes, n->spilled_bytes);
    cr_assert_eq(o->nnodes, n->nnodes);
    for (size_t i = 0; i < n->nnodes; i++) {
        cr_assert_eq(o->node[i].node, n->node[i].node);
        cr_assert_eq(o->node[i].bytes, n->node[i].bytes);
    }
}

static void same_alloc(const struct alloc_stats_0_1 *o, const struct pmn_alloc_stats *n)
{
    cr_assert_eq(o->allocated, n->allocated);
    cr_assert_eq(o->objects, n->objects);
    cr_assert_eq(o->active, n->active);
    cr_assert_eq(o->resident, n->resident);
    cr_assert_eq(o->peak, n->peak);
    cr_assert_eq(o->allocs, n->allocs);
    cr_assert_eq(o->frees, n->frees);
    cr_assert_eq(o->remote_frees, n->remote_frees);
    cr_assert_eq(o->failures, n->failures);
    same_backing(&o->backing, &n->backing);
}

Test(compat_0_1, stats_where_and_json, .timeout = 60)
{
    int (*bstats)(const struct pmn_backing *, struct backing_stats_0_1 *) =
        v01("pmn_backing_stats");
    int (*astats)(struct pmn_arena *, struct alloc_stats_0_1 *) = v01("pmn_arena_stats");
    int (*sstats)(struct pmn_slab *, struct alloc_stats_0_1 *) = v01("pmn_slab_stats");
    int (*ajson)(const struct alloc_stats_0_1 *, char *, size_t) = v01("pmn_alloc_stats_json");
    int (*where)(const void *, size_t, struct where_0_1 *) = v01("pmn_where");
    uint64_t (*pages_on)(const struct where_0_1 *, int) = v01("pmn_where_pages_on");
    struct env e = env_open();
    struct backing_stats_0_1 ob;
    struct pmn_backing_stats nb = {.struct_size = sizeof(nb)};
    struct alloc_stats_0_1 oa;
    struct pmn_alloc_stats na = {.struct_size = sizeof(na)};
    struct where_0_1 ow;
    struct pmn_where nw = {.struct_size = sizeof(nw)};
    char j_old[8192], j_new[8192];
    void *p = pmn_arena_malloc(e.a, 100000), *q = pmn_slab_alloc(e.s);

    cr_assert(p && q);
    memset(p, 1, 100000);
    cr_assert_eq(bstats(e.b, &ob), 0);
    cr_assert_eq(pmn_backing_stats(e.b, &nb), 0);
    cr_assert_gt(ob.mapped_bytes, 0);
    same_backing(&ob, &nb);
    cr_assert_eq(bstats(NULL, &ob), -EINVAL);

    cr_assert_eq(astats(e.a, &oa), 0);
    cr_assert_eq(pmn_arena_stats(e.a, &na), 0);
    cr_assert_eq(oa.objects, 1);
    same_alloc(&oa, &na);
    cr_assert_eq(ajson(&oa, j_old, sizeof(j_old)), pmn_alloc_stats_json(&na, j_new, sizeof(j_new)));
    cr_assert_str_eq(j_old, j_new);
    cr_assert_eq(sstats(e.s, &oa), 0);
    cr_assert_eq(pmn_slab_stats(e.s, &na), 0);
    cr_assert_eq(oa.objects, 1);
    same_alloc(&oa, &na);
    cr_assert_eq(astats(NULL, &oa), -EINVAL);

    cr_assert_eq(where(p, 100000, &ow), 0);
    cr_assert_eq(pmn_where(p, 100000, &nw), 0);
    cr_assert_eq(ow.page_size, nw.page_size);
    cr_assert_eq(ow.pages, nw.pages);
    cr_assert_eq(ow.nnodes, nw.nnodes);
    cr_assert_eq(pages_on(&ow, 0), pmn_where_pages_on(&nw, 0));
    cr_assert_eq(pages_on(&ow, 0), ow.pages, "the arena object is not on node 0");
    cr_assert_eq(pages_on(NULL, 0), 0);

    cr_assert_eq(pmn_free(p), 0);
    cr_assert_eq(pmn_slab_free(e.s, q), 0);
    env_close(&e);
}

/* The tier's stats JSON reads the 0.1 layout (no tier needed: the text
 * comes from the struct alone). */
Test(compat_0_1, ctier_stats_json)
{
    int (*cjson)(const struct ctier_stats_0_1 *, char *, size_t) = v01("pmn_ctier_stats_json");
    struct ctier_stats_0_1 o = {1, 2, 1.5, 4, 5, 6, 7, 8, 9, 10};
    struct pmn_ctier_stats n = {sizeof(n), 1, 2, 1.5, 4, 5, 6, 7, 8, 9, 10};
    char j_old[1024], j_new[1024];

    (void)v01("pmn_ctier_stats"); /* needs an open tier: tests/ctier */
    cr_assert_gt(cjson(&o, j_old, sizeof(j_old)), 0);
    cr_assert_gt(pmn_ctier_stats_json(&n, j_new, sizeof(j_new)), 0);
    cr_assert_str_eq(j_old, j_new);
    cr_assert_not_null(strstr(j_new, "\"refusals\": 10"), "%s", j_new);
}
