/*
 * test-placement.c - allocator objects keep their backing's placement
 * (suite 'system').
 *
 * An arena and a slab on node 0 of this host, over anonymous and memfd
 * backings: for a few thousand objects of every size class (and some that
 * get extents of their own), pmn_where() must find every page of the
 * object present and on node 0, and the stats must put all resident bytes
 * on node 0 of the backing.  Large objects (over 256 KiB) are checked both
 * ways: with PMN_ARENA_POPULATE every page is there before the first
 * write; by default the untouched pages are absent (never elsewhere) and
 * every page the test writes is on node 0.
 */
#include "harness.h"

/* Every page of [p, p + len) is on node 0: present, or with @absent_ok
 * absent (never elsewhere). */
static void assert_on_node0_lazy(const void *p, size_t len, const char *what, size_t i,
                                 bool absent_ok)
{
    struct pmn_where w = {.struct_size = sizeof(w)};
    int err = pmn_where(p, len ? len : 1, &w);

    if (err != 0)
        cr_assert_fail("%s %zu: pmn_where: %s", what, i, pmn_strerror(err));
    if (absent_ok && w.not_present == w.pages && !w.unknown && !w.other)
        return;
    if ((w.not_present && !absent_ok) || w.unknown || w.other || w.nnodes != 1 ||
        w.node[0].node != 0 || pmn_where_pages_on(&w, 0) + w.not_present != w.pages ||
        w.pages == 0)
        cr_assert_fail("%s %zu (%p, %zu bytes): %llu pages, %llu on node 0, %llu not present, "
                       "%llu unknown, %llu elsewhere, %zu nodes",
                       what, i, p, len, ull(w.pages), ull(pmn_where_pages_on(&w, 0)),
                       ull(w.not_present), ull(w.unknown), ull(w.other), w.nnodes);
}

static void assert_on_node0(const void *p, size_t len, const char *what, size_t i)
{
    assert_on_node0_lazy(p, len, what, i, false);
}

static void assert_stats_on_node0(const struct pmn_alloc_stats *st, const char *what)
{
    assert_stats_sane(st, what);
    cr_assert_gt(st->resident, 0, "%s: nothing resident", what);
    cr_assert_eq(st->backing.nnodes, 1, "%s: backing counts %zu nodes", what, st->backing.nnodes);
    cr_assert_eq(st->backing.node[0].node, 0, "%s: backing node %d", what,
                 st->backing.node[0].node);
    cr_assert_eq(st->backing.node[0].bytes, st->resident,
                 "%s: %llu bytes on node 0, %llu resident", what, ull(st->backing.node[0].bytes),
                 ull(st->resident));
    cr_assert_eq(st->backing.spilled_bytes, 0);
}

static size_t obj_size(size_t i)
{
    if (i % 499 == 0)
        return 4 * MiB + 100 * i; /* an extent of its own */
    if (i % 97 == 0)
        return 300 * KiB;
    if (i % 7 == 0)
        return 4096 + i * 13 % 60000;
    return 1 + i * 37 % 2048;
}

static void arena_on_node0(enum pmn_backing_type type, unsigned flags)
{
    struct pmn_arena_opts o = {.struct_size = sizeof(o), .retain = 2, .flags = flags};
    struct env e = env_open_opts(type, &o);
    bool lazy = !(flags & PMN_ARENA_POPULATE);
    size_t n = scaled(3000, 3);
    void **p = calloc(n, sizeof(*p));
    struct pmn_alloc_stats st = {.struct_size = sizeof(st)};

    cr_assert_not_null(p);
    for (size_t i = 0; i < n; i++) {
        size_t size = obj_size(i);
        p[i] = i % 3 ? pmn_arena_malloc(e.a, size)
                     : pmn_arena_aligned_alloc(e.a, (size_t)1 << (i % 13), size);
        cr_assert_not_null(p[i], "object %zu (%zu bytes): %s", i, size, strerror(errno));
        assert_on_node0_lazy(p[i], size, "object before writing", i, lazy && size > 256 * KiB);
        memset(p[i], (int)i, size);
    }
    for (size_t i = 0; i < n; i++)
        assert_on_node0(p[i], obj_size(i), "object", i);
    st = arena_stats(e.a);
    assert_stats_on_node0(&st, "arena");
    /* Grown by realloc: still there. */
    for (size_t i = 0; i < n; i += 10) {
        void *q = pmn_realloc(p[i], obj_size(i) * 3 + 1);
        cr_assert_not_null(q);
        p[i] = q;
        /* The new tail is untouched: absent where lazy, never elsewhere. */
        assert_on_node0_lazy(q, obj_size(i) * 3 + 1, "reallocated object", i,
                             lazy && obj_size(i) * 3 + 1 > 256 * KiB);
        memset(q, 1, obj_size(i) * 3 + 1);
        assert_on_node0(q, obj_size(i) * 3 + 1, "reallocated object, written", i);
    }
    st = arena_stats(e.a);
    assert_stats_on_node0(&st, "arena after reallocs");
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(pmn_free(p[i]), 0);
    free(p);
    env_close(&e);
}

Test(placement, arena_anon_node0, .timeout = 120)
{
    arena_on_node0(PMN_BACKING_ANON, 0);
}

Test(placement, arena_memfd_node0, .timeout = 120)
{
    arena_on_node0(PMN_BACKING_MEMFD, 0);
}

Test(placement, arena_anon_node0_populate, .timeout = 120)
{
    arena_on_node0(PMN_BACKING_ANON, PMN_ARENA_POPULATE);
}

Test(placement, arena_memfd_node0_populate, .timeout = 120)
{
    arena_on_node0(PMN_BACKING_MEMFD, PMN_ARENA_POPULATE);
}

Test(placement, slab_node0, .timeout = 120)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing *b = backing_on0(ctx, PMN_BACKING_ANON);
    struct pmn_slab *s = NULL;
    size_t n = scaled(4000, 4);
    void **p = calloc(n, sizeof(*p));
    struct pmn_alloc_stats st = {.struct_size = sizeof(st)};

    cr_assert_not_null(p);
    cr_assert_eq(pmn_slab_new(b, 9 * 1024, 0, 0, &s), 0);
    for (size_t i = 0; i < n; i += 32) {
        size_t want = n - i < 32 ? n - i : 32;
        cr_assert_eq(pmn_slab_alloc_bulk(s, p + i, want), want);
    }
    for (size_t i = 0; i < n; i++) {
        memset(p[i], 1, 9 * 1024);
        assert_on_node0(p[i], 9 * 1024, "slab object", i);
    }
    st = slab_stats(s);
    assert_stats_on_node0(&st, "slab");
    cr_assert_eq(pmn_slab_free_bulk(s, p, n), 0);
    pmn_slab_destroy(s);
    free(p);
    cr_assert_eq(backing_mapped(b), 0);
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
}
