/*
 * vm-pool.c - what an arena keeps across pmn_arena_reset() on a spill
 * backing, on a real kernel with two nodes (runs inside the QEMU guest of
 * tests/vm; issue 14).
 *
 *   vm-pool keep-spill NODE   spill list [NODE, 0], NODE made full for a
 *                             while so that the arena holds extents on both:
 *                             - PMN_PURGE_RELEASE, retain 1: reset keeps the
 *                               extent on NODE, not the spilled one on 0
 *                               (before: the spilled one, the newest);
 *                             - PMN_PURGE_KEEP: reset keeps both 8 MiB large
 *                               extents, and the next 8 MiB object reuses
 *                               NODE's with no new region map
 *
 * Prints "ok: ..." lines and exits 0 on success, 1 on failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PMN_HARNESS_PROGRAM
#include "harness.h"
#include "pmnode.h"

static uint64_t on_node(const struct pmn_alloc_stats *st, int node)
{
    for (size_t i = 0; i < st->backing.nnodes; i++)
        if (st->backing.node[i].node == node)
            return st->backing.node[i].bytes;
    return 0;
}

static void all_on(const void *p, size_t len, int node, const char *what)
{
    struct pmn_where w = {.struct_size = sizeof(w)};

    if (pmn_where(p, len, &w) != 0 || pmn_where_pages_on(&w, node) != w.pages)
        FAIL("%s: %llu of %llu pages on node %d", what,
             (unsigned long long)pmn_where_pages_on(&w, node), (unsigned long long)w.pages, node);
}

/* Fill @node with regions of a strict backing, 8 MiB then 4 MiB, until
 * not even a 4 MiB extent fits (the library's headroom stays free);
 * returns how many. */
static size_t fill_node(struct pmn_backing *fill, struct pmn_region **regions, size_t max)
{
    size_t n = 0;

    while (n < max && pmn_region_map(fill, 8u << 20, &regions[n]) == 0)
        n++;
    while (n < max && pmn_region_map(fill, 4u << 20, &regions[n]) == 0)
        n++;
    return n;
}

static int test_keep_spill(int node)
{
    struct pmn_ctx *ctx;
    struct pmn_backing_params *p;
    struct pmn_backing *b, *fill;
    static struct pmn_region *regions[4096];
    int order[2] = {node, 0}, err;

    if ((err = pmn_ctx_new(&ctx)) != 0)
        FAIL("pmn_ctx_new: %s", pmn_strerror(err));
    pmn_backing_params_new(&p);
    pmn_backing_params_set_node(p, node);
    if ((err = pmn_backing_new(ctx, p, &fill)) != 0)
        FAIL("strict backing on %d: %s", node, pmn_strerror(err));
    pmn_backing_params_set_spill(p, order, 2);
    if ((err = pmn_backing_new(ctx, p, &b)) != 0)
        FAIL("spill backing: %s", pmn_strerror(err));
    pmn_backing_params_free(p);

    for (int keep = 0; keep < 2; keep++) {
        struct pmn_arena_opts o = {.struct_size = sizeof(o),
                                   .purge = keep ? PMN_PURGE_KEEP : PMN_PURGE_RELEASE,
                                   .retain = 1};
        size_t sz = keep ? 8u << 20 : 64u << 10; /* large objects, or small ones */
        struct pmn_alloc_stats st = {.struct_size = sizeof(st)};
        struct pmn_arena *a;
        void *first, *second;
        size_t n;
        uint64_t maps;

        if ((err = pmn_arena_new(b, &o, &a)) != 0)
            FAIL("arena: %s", pmn_strerror(err));
        /* Small: 56 objects of 64 KiB fill the first extent's pages (seven
         * 512 KiB pages), so the next page needs a new extent. */
        for (int i = 0; i < (keep ? 1 : 56); i++) {
            if ((first = pmn_arena_malloc(a, sz)) == NULL)
                FAIL("object %d before the node is full: %s", i, strerror(errno));
            memset(first, 1, sz);
            all_on(first, sz, node, "object before the node is full");
        }
        n = fill_node(fill, regions, 4096);
        for (int i = 0; i < (keep ? 1 : 8); i++) {
            second = pmn_arena_malloc(a, sz);
            if (second == NULL)
                FAIL("object with node %d full: %s", node, strerror(errno));
            memset(second, 2, sz);
        }
        all_on(second, sz, 0, "object allocated with the node full");
        while (n)
            pmn_region_unmap(regions[--n]);
        pmn_arena_stats(a, &st);
        if (on_node(&st, 0) == 0 || on_node(&st, node) == 0)
            FAIL("%s: extents on node %d %llu, node 0 %llu: want both", keep ? "keep" : "release",
                 node, (unsigned long long)on_node(&st, node),
                 (unsigned long long)on_node(&st, 0));
        pmn_arena_reset(a);
        pmn_arena_stats(a, &st);
        maps = st.backing.region_maps;
        if (!keep) {
            if (on_node(&st, 0) != 0 || on_node(&st, node) == 0)
                FAIL("release, retain 1: reset kept %llu bytes on node 0 (spilled) and %llu on "
                     "node %d (preferred)",
                     (unsigned long long)on_node(&st, 0), (unsigned long long)on_node(&st, node),
                     node);
            printf("ok: release, retain 1: reset kept the extent on node %d, not the spilled "
                   "one\n",
                   node);
        } else {
            if (on_node(&st, 0) == 0 || on_node(&st, node) == 0)
                FAIL("keep: reset dropped extents (node %d %llu, node 0 %llu)", node,
                     (unsigned long long)on_node(&st, node), (unsigned long long)on_node(&st, 0));
            first = pmn_arena_malloc(a, sz);
            if (first == NULL)
                FAIL("after reset: %s", strerror(errno));
            all_on(first, sz, node, "8 MiB object after reset");
            pmn_arena_stats(a, &st);
            if (st.backing.region_maps != maps)
                FAIL("keep: %llu region maps after reset",
                     (unsigned long long)(st.backing.region_maps - maps));
            printf("ok: keep: reset kept the large extents on nodes %d and 0; the next 8 MiB "
                   "object reused node %d's, no map\n",
                   node, node);
        }
        pmn_arena_destroy(a);
    }
    pmn_backing_free(b);
    pmn_backing_free(fill);
    pmn_ctx_unref(ctx);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "keep-spill") != 0) {
        fprintf(stderr, "usage: vm-pool keep-spill NODE\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    return test_keep_spill(atoi(argv[2]));
}
