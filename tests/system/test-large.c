/*
 * test-large.c - large objects (over 256 KiB): lazy backing, the explicit
 * populate path, and the bounded cache of freed extents (suite 'system').
 *
 *   - lazy: a large object's pages are absent until the program touches
 *     them (its RSS is the header's), and every touched page is on node 0;
 *     calloc of a fresh extent touches nothing and reads zeros, calloc of a
 *     reused one is cleared;
 *   - populate: with PMN_ARENA_POPULATE every page is present and on the
 *     node before the first write, and the stats count it populated;
 *   - cache: a free+malloc churn of one size maps once; the cache never
 *     holds more than its bound (backing bytes less live objects); the
 *     extents freed least recently go first; a bound of 0 caches nothing;
 *     an object bigger than the old fixed 64 MiB limit is reused when the
 *     bound allows it.
 */
#include <sys/mman.h>
#include <unistd.h>

#include "harness.h"

static struct pmn_where where(const void *p, size_t len)
{
    struct pmn_where w = {.struct_size = sizeof(w)};
    int err = pmn_where(p, len, &w);

    cr_assert_eq(err, 0, "pmn_where: %s", pmn_strerror(err));
    cr_assert_eq(w.unknown, 0);
    cr_assert_eq(w.other, 0, "%llu pages on another node", ull(w.other));
    return w;
}

static uint64_t present(const struct pmn_where *w)
{
    return w->pages - w->not_present;
}

static struct pmn_backing_stats bstats(const struct pmn_backing *b)
{
    struct pmn_backing_stats st = {.struct_size = sizeof(st)};

    cr_assert_eq(pmn_backing_stats(b, &st), 0);
    return st;
}

static struct env open_with(unsigned flags, uint64_t cache)
{
    struct pmn_arena_opts o = {
        .struct_size = sizeof(o), .retain = 2, .flags = flags, .large_cache_bytes = cache};

    return env_open_opts(PMN_BACKING_ANON, &o);
}

Test(large, lazy_until_touched, .timeout = 60)
{
    struct env e = open_with(0, 0);
    size_t page = (size_t)sysconf(_SC_PAGESIZE), len = 64 * MiB, touched = 0;
    struct pmn_alloc_stats st;
    struct pmn_where w;
    char *p = pmn_arena_malloc(e.a, len);

    cr_assert_not_null(p);
    w = where(p, len);
    cr_assert_eq(present(&w), 0, "%llu of %llu pages present before any touch", ull(present(&w)),
                 ull(w.pages));
    st = arena_stats(e.a);
    cr_assert_lt(st.populated, 1 * MiB, "populated %llu bytes up front", ull(st.populated));
    /* Every third page of the first half. */
    for (size_t off = 0; off < len / 2; off += 3 * page, touched++)
        p[off] = 1;
    w = where(p, len);
    cr_assert_eq(present(&w), touched, "%llu pages present, %zu touched", ull(present(&w)),
                 touched);
    cr_assert_eq(pmn_where_pages_on(&w, 0), touched);
    cr_assert_eq(pmn_free(p), 0);
    env_close(&e);
}

Test(large, calloc_lazy_and_cleared, .timeout = 60)
{
    struct env e = open_with(0, 0);
    size_t len = 16 * MiB;
    struct pmn_where w;
    char *p = pmn_arena_calloc(e.a, 1, len), *q;

    cr_assert_not_null(p);
    w = where(p, len);
    cr_assert_eq(present(&w), 0, "calloc touched %llu pages of a fresh extent", ull(present(&w)));
    cr_assert_eq(first_nonzero(p, len), SIZE_MAX, "a fresh calloc'ed extent is not zero");
    memset(p, 0xff, len);
    cr_assert_eq(pmn_free(p), 0);
    q = pmn_arena_calloc(e.a, 1, len);
    cr_assert_eq(q, p, "the freed extent was not reused");
    cr_assert_eq(first_nonzero(q, len), SIZE_MAX, "a reused extent was not cleared");
    cr_assert_eq(pmn_free(q), 0);
    env_close(&e);
}

Test(large, populate_up_front, .timeout = 60)
{
    struct env e = open_with(PMN_ARENA_POPULATE, 0);
    size_t len = 64 * MiB;
    struct pmn_alloc_stats st;
    struct pmn_where w;
    char *p = pmn_arena_malloc(e.a, len);

    cr_assert_not_null(p);
    w = where(p, len);
    cr_assert_eq(w.not_present, 0, "%llu of %llu pages absent with PMN_ARENA_POPULATE",
                 ull(w.not_present), ull(w.pages));
    cr_assert_eq(pmn_where_pages_on(&w, 0), w.pages);
    st = arena_stats(e.a);
    cr_assert_geq(st.populated, len, "populated %llu bytes", ull(st.populated));
    cr_assert_eq(pmn_free(p), 0);
    env_close(&e);
}

Test(large, unknown_flag_refused)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing *b = backing_on0(ctx, PMN_BACKING_ANON);
    struct pmn_arena_opts o = {.struct_size = sizeof(o), .flags = 1u << 20};
    struct pmn_arena *a = NULL;

    cr_assert_eq(pmn_arena_new(b, &o, &a), -EINVAL);
    cr_assert_null(a);
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
}

/* The churn maps once: every later malloc takes the freed extent. */
Test(large, churn_reuses_extent, .timeout = 60)
{
    struct env e = open_with(PMN_ARENA_LARGE_CACHE, 256 * MiB);
    uint64_t maps0 = bstats(e.b).maps;
    size_t len = 100 * MiB; /* beyond the 64 MiB the cache once refused */

    for (int i = 0; i < 20; i++) {
        char *p = pmn_arena_malloc(e.a, len);
        cr_assert_not_null(p);
        p[0] = p[len - 1] = (char)i;
        cr_assert_eq(pmn_free(p), 0);
    }
    cr_assert_eq(bstats(e.b).maps - maps0, 1, "%llu maps for 20 mallocs of one size",
                 ull(bstats(e.b).maps - maps0));
    env_close(&e);
}

/* Freed extents beyond the bound go back, oldest first; never more than
 * the bound is kept. */
Test(large, cache_bounded_lru, .timeout = 60)
{
    enum { N = 10 };
    uint64_t bound = 3 * 8 * MiB + 8 * MiB / 2; /* three extents of 8 MiB, not four */
    struct env e = open_with(PMN_ARENA_LARGE_CACHE, bound);
    size_t len = 8 * MiB - 64 * KiB; /* the extent: 8 MiB with the header */
    uint64_t base = bstats(e.b).mapped_bytes, ext, cached, maps;
    char *p[N];

    for (int i = 0; i < N; i++) {
        p[i] = pmn_arena_malloc(e.a, len);
        cr_assert_not_null(p[i]);
    }
    ext = (bstats(e.b).mapped_bytes - base) / N;
    cr_assert_eq(ext, 8 * MiB);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(pmn_free(p[i]), 0);
        cached = bstats(e.b).mapped_bytes - base - (uint64_t)(N - 1 - i) * ext;
        cr_assert_leq(cached, bound, "after %d frees the cache holds %llu bytes, over its %llu",
                      i + 1, ull(cached), ull(bound));
    }
    cr_assert_eq(bstats(e.b).mapped_bytes - base, 3 * ext);
    /* The three freed last are the ones kept, the most recent first. */
    maps = bstats(e.b).maps;
    for (int i = N - 1; i >= N - 3; i--) {
        char *q = pmn_arena_malloc(e.a, len);
        cr_assert_eq(q, p[i], "malloc %d got %p, not the extent freed %d-th", N - i, (void *)q,
                     i + 1);
    }
    cr_assert_eq(bstats(e.b).maps, maps, "the cached extents were mapped again");
    env_close(&e);
}

Test(large, cache_zero_keeps_nothing, .timeout = 60)
{
    struct env e = open_with(PMN_ARENA_LARGE_CACHE, 0);
    uint64_t maps0 = bstats(e.b).maps, live = bstats(e.b).mapped_bytes;

    for (int i = 0; i < 5; i++) {
        void *p = pmn_arena_malloc(e.a, 1 * MiB);
        cr_assert_not_null(p);
        cr_assert_eq(pmn_free(p), 0);
        cr_assert_eq(bstats(e.b).mapped_bytes, live);
    }
    cr_assert_eq(bstats(e.b).maps - maps0, 5);
    env_close(&e);
}

/* The default bound (64 MiB): 16 extents of 8 MiB are not all kept, as the
 * old fixed cache of 16 kept them. */
Test(large, cache_default_bound, .timeout = 60)
{
    enum { N = 16 };
    struct env e = open_with(0, 0);
    uint64_t live = bstats(e.b).mapped_bytes;
    void *p[N];

    for (int i = 0; i < N; i++) {
        p[i] = pmn_arena_malloc(e.a, 8 * MiB - 64 * KiB);
        cr_assert_not_null(p[i]);
    }
    for (int i = 0; i < N; i++)
        cr_assert_eq(pmn_free(p[i]), 0);
    cr_assert_leq(bstats(e.b).mapped_bytes - live, 64 * MiB, "%llu bytes cached",
                  ull(bstats(e.b).mapped_bytes - live));
    env_close(&e);
}
