/*
 * test-register.c - registration: extents behind a backing, arena or slab
 * and the backing's map/unmap hooks (suites 'unit' and 'threads').
 *
 * A recorder stands in for a device (io_uring, ibv_reg_mr,
 * cudaHostRegister): on_map notes each extent and checks that every page
 * of it is resident already (mincore), on_unmap checks that the extent is
 * one it accepted, not yet let go, and still mapped and resident (it reads
 * every page).  Problems found inside a hook are counted, then asserted by
 * the test's own thread.  The tests check: every object handed out lies in
 * an extent on_map saw first; a refusing on_map fails the allocation and
 * leaves nothing mapped or counted; purge, reset and destroy tell on_unmap
 * exactly once per on_map, before unmapping; the listing matches the
 * stats; hooks cannot change under live regions; threads racing
 * allocations while hooks run (TSan builds run this file too).
 */
#include <sys/mman.h>

#include "harness.h"

#define MAXEXT 4096

struct rec_ext {
    void *addr;
    size_t len;
    int node, fd;
    bool live;
};

struct recorder {
    pthread_mutex_t lock;
    struct rec_ext ext[MAXEXT];
    size_t n;
    unsigned maps, unmaps;
    unsigned not_resident, bad_unmap, overflow, bad_struct;
    int fail_after; /* refuse maps after this many accepted (-1: never) */
    int fail_code;
    unsigned refused;
};

static void rec_init(struct recorder *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    r->fail_after = -1;
}

/* Every page of [addr, addr+len) resident. */
static bool resident(void *addr, size_t len)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), n = (len + pg - 1) / pg;
    unsigned char *vec = malloc(n);
    bool ok = vec != NULL && mincore(addr, len, vec) == 0;

    for (size_t i = 0; ok && i < n; i++)
        ok = vec[i] & 1;
    free(vec);
    return ok;
}

static int rec_map(const struct pmn_extent *e, void *arg)
{
    struct recorder *r = arg;
    bool full = resident(e->addr, e->len);
    int rc = 0;

    pthread_mutex_lock(&r->lock);
    if (e->struct_size < sizeof(*e))
        r->bad_struct++;
    if (!full)
        r->not_resident++;
    if (r->fail_after >= 0 && r->maps >= (unsigned)r->fail_after) {
        r->refused++;
        rc = r->fail_code;
    } else if (r->n == MAXEXT) {
        r->overflow++;
    } else {
        r->ext[r->n++] = (struct rec_ext){e->addr, e->len, e->node, e->fd, true};
        r->maps++;
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

/* The reads stand in for a device's: free blocks are poisoned in
 * AddressSanitizer builds, but they are mapped memory all the same. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_ASAN __attribute__((no_sanitize("address")))
#endif
#endif
#if !defined(NO_ASAN) && defined(__SANITIZE_ADDRESS__)
#define NO_ASAN __attribute__((no_sanitize("address")))
#endif
#ifndef NO_ASAN
#define NO_ASAN
#endif

NO_ASAN static void rec_unmap(const struct pmn_extent *e, void *arg)
{
    struct recorder *r = arg;
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    volatile unsigned char sink = 0;
    bool found = false, full = resident(e->addr, e->len);

    /* Still mapped: reading it must not fault. */
    for (size_t off = 0; off < e->len; off += pg)
        sink ^= ((volatile unsigned char *)e->addr)[off];
    (void)sink;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n && !found; i++)
        if (r->ext[i].addr == e->addr && r->ext[i].len == e->len && r->ext[i].live) {
            r->ext[i].live = false;
            found = true;
        }
    if (!found)
        r->bad_unmap++;
    if (!full)
        r->not_resident++;
    r->unmaps++;
    pthread_mutex_unlock(&r->lock);
}

/* [p, p+len) inside an extent the recorder holds live. */
static bool rec_covers(struct recorder *r, const void *p, size_t len)
{
    bool ok = false;

    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n && !ok; i++)
        ok = r->ext[i].live && (const char *)p >= (const char *)r->ext[i].addr &&
             (const char *)p + len <= (const char *)r->ext[i].addr + r->ext[i].len;
    pthread_mutex_unlock(&r->lock);
    return ok;
}

static void rec_hooks(struct pmn_backing *b, struct recorder *r)
{
    struct pmn_extent_hooks h = {
        .struct_size = sizeof(h), .on_map = rec_map, .on_unmap = rec_unmap, .arg = r};
    int err = pmn_backing_set_hooks(b, &h);

    cr_assert_eq(err, 0, "pmn_backing_set_hooks: %s", pmn_strerror(err));
}

/* Nothing went wrong inside the hooks, and every accepted extent was let
 * go exactly once (call when everything is unmapped). */
static void rec_check_closed(struct recorder *r, const char *what)
{
    cr_assert_eq(r->not_resident, 0, "%s: %u extents not wholly resident in a hook", what,
                 r->not_resident);
    cr_assert_eq(r->bad_unmap, 0, "%s: %u on_unmap calls for extents not live", what,
                 r->bad_unmap);
    cr_assert_eq(r->overflow + r->bad_struct, 0, "%s: recorder overflow or short struct", what);
    cr_assert_eq(r->maps, r->unmaps, "%s: %u on_map but %u on_unmap", what, r->maps, r->unmaps);
    for (size_t i = 0; i < r->n; i++)
        cr_assert_not(r->ext[i].live, "%s: extent %p never let go", what, r->ext[i].addr);
}

/* Listing: count and sum. */
struct tally {
    size_t n;
    uint64_t bytes;
    int bad_node, stop_at;
    struct recorder *must_know; /* each listed extent is live there */
    unsigned unknown;
};

static int tally_fn(const struct pmn_extent *e, void *arg)
{
    struct tally *t = arg;

    t->n++;
    t->bytes += e->len;
    if (e->node != 0)
        t->bad_node++;
    if (t->must_know && !rec_covers(t->must_know, e->addr, e->len))
        t->unknown++;
    return t->stop_at && (int)t->n == t->stop_at ? 42 : 0;
}

Test(register, slab_objects_inside_mapped_extents)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing *b = backing_on0(ctx, PMN_BACKING_ANON);
    struct recorder rec;
    struct pmn_slab *s;
    size_t n = scaled(6000, 10);
    void **objs = calloc(n, sizeof(*objs));
    struct tally t = {.must_know = &rec};

    rec_init(&rec);
    rec_hooks(b, &rec);
    cr_assert_eq(pmn_slab_new(b, 2048, 0, 0, &s), 0);
    for (size_t i = 0; i < n; i++) {
        objs[i] = pmn_slab_alloc(s);
        cr_assert_not_null(objs[i], "object %zu: %s", i, strerror(errno));
        cr_assert(rec_covers(&rec, objs[i], 2048), "object %zu at %p lies in no extent on_map saw",
                  i, objs[i]);
        memset(objs[i], (int)i, 2048);
    }
    cr_assert_gt(rec.maps, 0);
    cr_assert_eq(rec.not_resident, 0, "an extent was not populated whole when on_map ran");
    /* The listing is what on_map saw, and what the stats count. */
    cr_assert_eq(pmn_slab_extents(s, tally_fn, &t), 0);
    cr_assert_eq(t.n, rec.maps, "listed %zu extents, on_map saw %u", t.n, rec.maps);
    cr_assert_eq(t.unknown + (unsigned)t.bad_node, 0);
    cr_assert_eq(t.bytes, slab_stats(s).resident, "listed %llu bytes, resident %llu", ull(t.bytes),
                 ull(slab_stats(s).resident));
    cr_assert_eq(t.bytes, backing_mapped(b));
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(pmn_slab_free(s, objs[i]), 0);
    pmn_slab_destroy(s);
    cr_assert_eq(backing_mapped(b), 0);
    rec_check_closed(&rec, "slab destroy");
    free(objs);
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
}

Test(register, memfd_extents_give_fd)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing *b = backing_on0(ctx, PMN_BACKING_MEMFD);
    struct recorder rec;
    struct pmn_arena *a;
    void *p;

    rec_init(&rec);
    rec_hooks(b, &rec);
    cr_assert_eq(pmn_arena_new(b, NULL, &a), 0);
    p = pmn_arena_malloc(a, 100);
    cr_assert_not_null(p);
    cr_assert(rec_covers(&rec, p, 100));
    cr_assert_eq(rec.maps, 1);
    cr_assert_geq(rec.ext[0].fd, 0, "a memfd extent names its fd");
    cr_assert_eq(rec.ext[0].node, 0);
    cr_assert_eq(pmn_free(p), 0);
    pmn_arena_destroy(a);
    rec_check_closed(&rec, "memfd arena");
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
}

Test(register, arena_large_and_aligned_listing_matches_stats)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing *b = backing_on0(ctx, PMN_BACKING_ANON);
    struct recorder rec;
    struct pmn_arena *a;
    struct pmn_alloc_stats st;
    struct tally t = {.must_know = &rec};
    void *small[64], *big, *al;

    rec_init(&rec);
    rec_hooks(b, &rec);
    cr_assert_eq(pmn_arena_new(b, NULL, &a), 0);
    for (int i = 0; i < 64; i++) {
        small[i] = pmn_arena_malloc(a, (size_t)(i + 1) * 100);
        cr_assert_not_null(small[i]);
        cr_assert(rec_covers(&rec, small[i], (size_t)(i + 1) * 100));
    }
    big = pmn_arena_malloc(a, 9 * MiB);
    cr_assert_not_null(big);
    cr_assert(rec_covers(&rec, big, 9 * MiB), "large object outside the extents on_map saw");
    /* Aligned beyond its header: a region with an address-space hole,
     * listed as the memory either side of it. */
    al = pmn_arena_aligned_alloc(a, 8 * MiB, 1 * MiB);
    cr_assert_not_null(al);
    cr_assert(rec_covers(&rec, al, 1 * MiB));
    cr_assert_eq((uintptr_t)al % (8 * MiB), 0);
    cr_assert_eq(rec.not_resident, 0);
    st = arena_stats(a);
    cr_assert_eq(pmn_arena_extents(a, tally_fn, &t), 0);
    cr_assert_eq(t.unknown, 0);
    cr_assert_eq(t.n, rec.maps);
    cr_assert_eq(t.bytes, st.resident, "listed %llu bytes, stats resident %llu", ull(t.bytes),
                 ull(st.resident));
    /* The backing lists the same (this arena is its only user). */
    t = (struct tally){0};
    cr_assert_eq(pmn_backing_extents(b, tally_fn, &t), 0);
    cr_assert_eq(t.bytes, backing_mapped(b));
    cr_assert_eq(t.bytes, st.resident);
    /* A nonzero return stops the walk and comes back. */
    t = (struct tally){.stop_at = 1};
    cr_assert_eq(pmn_arena_extents(a, tally_fn, &t), 42);
    cr_assert_eq(t.n, 1);
    cr_assert_eq(pmn_arena_extents(a, NULL, NULL), -EINVAL);
    cr_assert_eq(pmn_arena_extents(NULL, tally_fn, &t), -EINVAL);
    for (int i = 0; i < 64; i++)
        pmn_free(small[i]);
    pmn_free(big);
    pmn_free(al);
    pmn_arena_destroy(a);
    rec_check_closed(&rec, "arena destroy");
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
}

static void refusal(int code, int want_region_err)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing *b = backing_on0(ctx, PMN_BACKING_ANON);
    struct pmn_backing_stats bs = {.struct_size = sizeof(bs)};
    struct recorder rec;
    struct pmn_slab *s;
    struct pmn_region *r = (struct pmn_region *)1;
    struct tally t = {0};
    size_t got = 0;
    void *p;

    rec_init(&rec);
    rec.fail_after = 1;
    rec.fail_code = code;
    rec_hooks(b, &rec);
    cr_assert_eq(pmn_slab_new(b, 4096, 0, 0, &s), 0);
    /* The first extent is accepted: ~60 objects of 4 KiB; then refusals. */
    while ((p = pmn_slab_alloc(s)) != NULL) {
        cr_assert(rec_covers(&rec, p, 4096));
        got++;
        cr_assert_lt(got, 10000, "allocations never failed");
    }
    cr_assert_eq(errno, ENOMEM, "a refused extent fails the allocation with ENOMEM, got %s",
                 strerror(errno));
    cr_assert_gt(got, 0);
    cr_assert_geq(rec.refused, 1);
    cr_assert_eq(rec.maps, 1);
    cr_assert_eq(rec.unmaps, 0, "on_unmap ran for an extent on_map refused");
    /* Nothing of the refused extent stays mapped or counted. */
    cr_assert_eq(pmn_slab_extents(s, tally_fn, &t), 0);
    cr_assert_eq(t.n, 1);
    cr_assert_eq(pmn_backing_stats(b, &bs), 0);
    cr_assert_eq(bs.mapped_bytes, t.bytes);
    cr_assert_geq(bs.failures, 1);
    /* A bare region gets the hook's code back. */
    cr_assert_eq(pmn_region_map(b, 1 * MiB, &r), want_region_err);
    cr_assert_null(r);
    pmn_slab_destroy(s);
    cr_assert_eq(backing_mapped(b), 0);
    rec_check_closed(&rec, "refusal");
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
}

Test(register, on_map_refusal_fails_cleanly)
{
    refusal(-EIO, -EIO);
}

Test(register, on_map_positive_refusal_is_ecanceled)
{
    refusal(1, -ECANCELED);
}

Test(register, bare_region_and_hooks_fixed_while_mapped)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing *b = backing_on0(ctx, PMN_BACKING_ANON);
    struct pmn_extent_hooks none = {.struct_size = sizeof(none)};
    struct recorder rec;
    struct pmn_region *r;
    struct tally t = {.must_know = &rec};

    rec_init(&rec);
    rec_hooks(b, &rec);
    cr_assert_eq(pmn_region_map(b, 3 * MiB + 5, &r), 0);
    cr_assert_eq(rec.maps, 1);
    cr_assert_eq(rec.ext[0].addr, pmn_region_addr(r));
    cr_assert_eq(rec.ext[0].len, pmn_region_size(r));
    cr_assert_eq(rec.ext[0].fd, -1, "anonymous memory has no fd");
    cr_assert_eq(pmn_backing_extents(b, tally_fn, &t), 0);
    cr_assert_eq(t.n, 1);
    cr_assert_eq(t.unknown, 0);
    /* No change of hooks under a live region, nor a clear. */
    cr_assert_eq(pmn_backing_set_hooks(b, &none), -EBUSY);
    cr_assert_eq(pmn_backing_set_hooks(b, NULL), -EBUSY);
    cr_assert_eq(pmn_region_unmap(r), 0);
    rec_check_closed(&rec, "bare region");
    cr_assert_eq(pmn_backing_set_hooks(b, NULL), 0);
    cr_assert_eq(pmn_region_map(b, 1 * MiB, &r), 0);
    cr_assert_eq(rec.maps, 1, "cleared hooks still ran");
    cr_assert_eq(pmn_region_unmap(r), 0);
    cr_assert_eq(pmn_backing_set_hooks(NULL, NULL), -EINVAL);
    cr_assert_eq(pmn_backing_set_hooks(b, &(struct pmn_extent_hooks){0}), -EINVAL);
    cr_assert_eq(pmn_backing_extents(b, NULL, NULL), -EINVAL);
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
}

Test(register, reset_and_purge_unmap_through_hooks)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing *b = backing_on0(ctx, PMN_BACKING_ANON);
    /* No small-page cache: emptied extents go at once (the cache's own
     * path to on_unmap is the trim, below). */
    struct pmn_arena_opts o = {.struct_size = sizeof(o),
                               .purge = PMN_PURGE_RELEASE,
                               .flags = PMN_ARENA_SMALL_CACHE,
                               .small_cache_bytes = 0};
    struct recorder rec;
    struct pmn_arena *a;
    void *objs[512];
    unsigned before;

    rec_init(&rec);
    rec_hooks(b, &rec);
    cr_assert_eq(pmn_arena_new(b, &o, &a), 0);
    /* Purge: freeing everything gives extents back (release mode). */
    for (int i = 0; i < 512; i++) {
        objs[i] = pmn_arena_malloc(a, 32 * KiB);
        cr_assert_not_null(objs[i]);
        cr_assert(rec_covers(&rec, objs[i], 32 * KiB));
    }
    objs[0] = pmn_arena_malloc(a, 20 * MiB);
    cr_assert_not_null(objs[0]);
    cr_assert_eq(pmn_free(objs[0]), 0); /* a 20 MiB large object is released on free */
    for (int i = 1; i < 512; i++)
        cr_assert_eq(pmn_free(objs[i]), 0);
    cr_assert_gt(rec.unmaps, 0, "freeing everything released no extent through on_unmap");
    /* Trim: with the default cache, what freeing kept goes back now. */
    {
        struct pmn_arena *c;
        uint64_t released = 0;

        cr_assert_eq(pmn_arena_new(b, NULL, &c), 0);
        for (int i = 0; i < 512; i++)
            cr_assert_not_null(objs[i] = pmn_arena_malloc(c, 32 * KiB));
        for (int i = 0; i < 512; i++)
            cr_assert_eq(pmn_free(objs[i]), 0);
        before = rec.unmaps;
        cr_assert_eq(pmn_arena_trim(c, &released), 0);
        cr_assert_gt(rec.unmaps, before, "trim released no extent through on_unmap");
        cr_assert_gt(released, 0);
        pmn_arena_destroy(c);
    }
    /* Reset: everything beyond what is retained goes back. */
    for (int i = 0; i < 512; i++)
        cr_assert_not_null(objs[i] = pmn_arena_malloc(a, 32 * KiB));
    before = rec.unmaps;
    pmn_arena_reset(a);
    cr_assert_gt(rec.unmaps, before, "reset released no extent through on_unmap");
    cr_assert_eq(rec.not_resident + rec.bad_unmap, 0);
    pmn_arena_destroy(a);
    rec_check_closed(&rec, "purge/reset/destroy");
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
}

/* Threads racing allocations and frees (half of them another thread's)
 * while hooks run. */
struct race {
    struct pmn_slab *s;
    struct pmn_arena *a;
    struct recorder *rec;
    atomic_uint outside;
    void *_Atomic handoff[8];
};

static void *race_thread(void *arg)
{
    struct race *r = arg;
    size_t rounds = scaled(3000, 20);

    for (size_t i = 0; i < rounds; i++) {
        void *p = pmn_slab_alloc(r->s), *q = pmn_arena_malloc(r->a, 64 + (i % 64) * 512);
        void *old;

        if (p == NULL || q == NULL || !rec_covers(r->rec, p, 1500) || !rec_covers(r->rec, q, 64))
            atomic_fetch_add(&r->outside, 1);
        if (q != NULL)
            memset(q, 0x5a, 64);
        /* Swap the slab object with whatever another thread left. */
        old = atomic_exchange(&r->handoff[i % 8], p);
        if (old != NULL)
            pmn_slab_free(r->s, old);
        pmn_free(q);
    }
    return NULL;
}

Test(register, threads_race_allocations_while_hooks_run)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing *b = backing_on0(ctx, PMN_BACKING_ANON);
    struct recorder rec;
    struct race r = {0};
    pthread_t t[4];

    rec_init(&rec);
    rec_hooks(b, &rec);
    r.rec = &rec;
    cr_assert_eq(pmn_slab_new(b, 1500, 0, 0, &r.s), 0);
    cr_assert_eq(pmn_arena_new(b, NULL, &r.a), 0);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, race_thread, &r), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(atomic_load(&r.outside), 0, "%u objects outside the extents on_map saw",
                 atomic_load(&r.outside));
    for (int i = 0; i < 8; i++)
        if (r.handoff[i] != NULL)
            cr_assert_eq(pmn_slab_free(r.s, r.handoff[i]), 0);
    pmn_slab_destroy(r.s);
    pmn_arena_destroy(r.a);
    cr_assert_eq(backing_mapped(b), 0);
    rec_check_closed(&rec, "threads");
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
}
