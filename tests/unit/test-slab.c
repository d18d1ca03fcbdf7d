/*
 * test-slab.c - fixed-size slabs and the stats JSON (suite 'unit').
 *
 * The object sizes of the brief (64-byte descriptors, 2 KiB and 9 KiB
 * packet buffers, 4 KiB-aligned DMA buffers): single and bulk calls,
 * alignment, no overlap, counters, the memory cap, and the JSON text of
 * pmn_alloc_stats_json() (checked by a small strict parser here, and by
 * python3's json module when PMN_PYTHON names it and we are not under
 * valgrind).
 */
#include <ctype.h>
#include <sys/wait.h>

#include "harness.h"

struct slab_env {
    struct pmn_ctx *ctx;
    struct pmn_backing *b;
    struct pmn_slab *s;
};

static struct slab_env slab_open(size_t obj_size, size_t align, uint64_t cap)
{
    struct slab_env e = {0};
    int err;

    e.ctx = local_ctx();
    e.b = backing_on0(e.ctx, PMN_BACKING_ANON);
    err = pmn_slab_new(e.b, obj_size, align, cap, &e.s);
    cr_assert_eq(err, 0, "pmn_slab_new(%zu, align %zu, cap %llu): %s", obj_size, align, ull(cap),
                 pmn_strerror(err));
    cr_assert_not_null(e.s);
    cr_assert_geq(pmn_slab_obj_size(e.s), obj_size);
    return e;
}

static void slab_close(struct slab_env *e)
{
    pmn_slab_destroy(e->s);
    cr_assert_eq(backing_mapped(e->b), 0, "%llu bytes still mapped after pmn_slab_destroy",
                 ull(backing_mapped(e->b)));
    pmn_backing_free(e->b);
    pmn_ctx_unref(e->ctx);
}

static int cmp_uptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* Objects are aligned, at least obj_size apart, owned by no arena, and
 * keep their patterns. */
static void check_objs(struct pmn_slab *s, void **objs, size_t n, size_t align, uint64_t id0)
{
    size_t osz = pmn_slab_obj_size(s);
    uintptr_t *sorted = malloc(n * sizeof(*sorted));

    cr_assert_not_null(sorted);
    for (size_t i = 0; i < n; i++) {
        cr_assert_not_null(objs[i], "object %zu of %zu is NULL", i, n);
        if ((uintptr_t)objs[i] % align)
            cr_assert_fail("%zu-byte slab: %p is not aligned to %zu", osz, objs[i], align);
        if (pmn_arena_of(objs[i]) != NULL)
            cr_assert_fail("pmn_arena_of(slab object) is an arena");
        if (pmn_usable_size(objs[i]) < osz)
            cr_assert_fail("pmn_usable_size(slab object) %zu < %zu", pmn_usable_size(objs[i]),
                           osz);
        sorted[i] = (uintptr_t)objs[i];
    }
    for (size_t i = 0; i < n; i++)
        assert_pattern(objs[i], osz, id0 + i, "%zu-byte slab object %zu", osz, i);
    qsort(sorted, n, sizeof(*sorted), cmp_uptr);
    for (size_t i = 1; i < n; i++)
        if (sorted[i] - sorted[i - 1] < osz)
            cr_assert_fail("%zu-byte slab objects %#lx and %#lx overlap", osz,
                           (unsigned long)sorted[i - 1], (unsigned long)sorted[i]);
    free(sorted);
}

static void check_slab(size_t obj_size, size_t align, size_t n)
{
    struct slab_env e = slab_open(obj_size, align, 0);
    size_t osz = pmn_slab_obj_size(e.s);
    size_t want_align = align ? align : obj_size >= 16 ? 16 : 8;
    void **objs = calloc(n, sizeof(*objs));
    struct pmn_alloc_stats st = {.struct_size = sizeof(st)};

    cr_assert_not_null(objs);
    n = scaled(n, 4);
    /* One at a time. */
    for (size_t i = 0; i < n; i++) {
        objs[i] = pmn_slab_alloc(e.s);
        cr_assert_not_null(objs[i], "%zu-byte slab: object %zu: %s", obj_size, i, strerror(errno));
        pat_fill(objs[i], osz, i);
    }
    check_objs(e.s, objs, n, want_align, 0);
    st = slab_stats(e.s);
    assert_counts(&st, "slab, single allocs");
    cr_assert_eq(st.objects, n, "%zu-byte slab: %llu objects counted, %zu live", obj_size,
                 ull(st.objects), n);
    cr_assert_eq(st.allocated, (uint64_t)n * pmn_usable_size(objs[0]),
                 "%zu-byte slab: %llu bytes allocated for %zu objects", obj_size,
                 ull(st.allocated), n);
    cr_assert_geq(st.allocs, n);
    /* Free half through the slab, half through pmn_free(). */
    for (size_t i = 0; i < n; i++) {
        if (i % 2)
            cr_assert_eq(pmn_slab_free(e.s, objs[i]), 0, "pmn_slab_free(slab object)");
        else
            cr_assert_eq(pmn_free(objs[i]), 0, "pmn_free(slab object)");
    }
    st = slab_stats(e.s);
    assert_counts(&st, "slab, all freed");
    cr_assert_eq(st.objects, 0);
    cr_assert_eq(st.allocated, 0);

    /* Bursts of 32, as network stacks move them. */
    for (size_t round = 0; round < scaled(200, 10); round++) {
        void *burst[3][32];
        for (int k = 0; k < 3; k++) {
            size_t got = pmn_slab_alloc_bulk(e.s, burst[k], 32);
            cr_assert_eq(got, 32, "round %zu: bulk alloc gave %zu of 32: %s", round, got,
                         strerror(errno));
            for (size_t j = 0; j < 32; j++)
                pat_fill(burst[k][j], osz, 1000 * k + j);
        }
        for (int k = 0; k < 3; k++) {
            void *flat[32];
            memcpy(flat, burst[k], sizeof(flat));
            check_objs(e.s, flat, 32, want_align, 1000 * k);
        }
        if (round == 0) {
            st = slab_stats(e.s);
            cr_assert_eq(st.objects, 96, "%llu objects after three bursts of 32", ull(st.objects));
            cr_assert_eq(st.allocated, 96 * (uint64_t)pmn_usable_size(burst[0][0]));
            /* The three bursts must not overlap each other either. */
            void *all[96];
            for (int k = 0; k < 3; k++)
                for (int j = 0; j < 32; j++)
                    all[32 * k + j] = burst[k][j];
            for (int k = 0; k < 96; k++)
                pat_fill(all[k], osz, 5000 + k);
            check_objs(e.s, all, 96, want_align, 5000);
        }
        for (int k = 0; k < 3; k++)
            cr_assert_eq(pmn_slab_free_bulk(e.s, burst[k], 32), 0);
    }
    cr_assert_eq(pmn_slab_free_bulk(e.s, objs, 0), 0); /* nothing */
    cr_assert_eq(pmn_slab_free_bulk(e.s, NULL, 0), 0);
    st = slab_stats(e.s);
    assert_stats_sane(&st, "slab, bursts freed");
    cr_assert_eq(st.objects, 0, "%llu objects after every burst was freed", ull(st.objects));
    cr_assert_eq(st.allocated, 0);
    free(objs);
    slab_close(&e);
}

Test(slab, descriptors_64, .timeout = 60)
{
    check_slab(64, 0, 20000);
}

Test(slab, buffers_2k, .timeout = 60)
{
    check_slab(2048, 0, 4000);
}

Test(slab, buffers_9k, .timeout = 60)
{
    check_slab(9 * 1024, 0, 1000);
}

Test(slab, dma_4k_aligned, .timeout = 60)
{
    check_slab(4096, 4096, 2000);
}

Test(slab, odd_size_aligned_64, .timeout = 60)
{
    check_slab(100, 64, 2000);
}

Test(slab, bad_params)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing *b = backing_on0(ctx, PMN_BACKING_ANON);
    struct pmn_slab *s = NULL;

    cr_assert_eq(pmn_slab_new(b, 0, 0, 0, &s), -EINVAL, "object size 0 accepted");
    cr_assert_null(s);
    cr_assert_eq(pmn_slab_new(b, 64, 3, 0, &s), -EINVAL, "alignment 3 accepted");
    cr_assert_null(s);
    cr_assert_eq(pmn_slab_new(b, 64, 48, 0, &s), -EINVAL, "alignment 48 accepted");
    cr_assert_null(s);
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
}

/* A NULL slab is an error for every call that takes one, never a crash:
 * pmn_slab_alloc() and pmn_slab_alloc_bulk() dereferenced it until 0.12.4
 * (the allocating calls answer NULL or 0 with errno EINVAL, as
 * pmn_arena_malloc(NULL, n) does), and a NULL array with a count is
 * refused the same way. */
Test(slab, null_slab_and_null_array)
{
    struct slab_env e = slab_open(64, 0, 0);
    void *objs[4] = {NULL, NULL, NULL, NULL};

    errno = 0;
    cr_assert_null(pmn_slab_alloc(NULL));
    cr_assert_eq(errno, EINVAL, "errno %d", errno);
    cr_assert_eq(pmn_last_error(), -EINVAL);
    errno = 0;
    cr_assert_eq(pmn_slab_alloc_bulk(NULL, objs, 4), 0);
    cr_assert_eq(errno, EINVAL, "errno %d", errno);
    cr_assert_null(objs[0], "an entry was written for a NULL slab");
    errno = 0;
    cr_assert_eq(pmn_slab_alloc_bulk(e.s, NULL, 4), 0);
    cr_assert_eq(errno, EINVAL, "errno %d", errno);
    cr_assert_eq(pmn_slab_alloc_bulk(e.s, NULL, 0), 0, "nothing asked of a NULL array");
    cr_assert_eq(pmn_slab_free(NULL, NULL), -EINVAL);
    cr_assert_eq(pmn_slab_free_bulk(NULL, objs, 4), -EINVAL);
    /* The slab still works. */
    cr_assert_eq(pmn_slab_alloc_bulk(e.s, objs, 4), 4);
    cr_assert_eq(pmn_slab_free_bulk(e.s, objs, 4), 0);
    slab_close(&e);
}

/* A 1 MiB cap: NULL with ENOMEM at the cap, never more than the cap taken
 * from the backing, and objects again after frees. */
Test(slab, cap, .timeout = 60)
{
    const uint64_t cap = MiB;
    struct slab_env e = slab_open(2048, 0, cap);
    static void *objs[4096];
    size_t n;
    struct pmn_alloc_stats st = {.struct_size = sizeof(st)};

    for (n = 0; n < 4096; n++) {
        errno = 0;
        objs[n] = pmn_slab_alloc(e.s);
        if (objs[n] == NULL)
            break;
        memset(objs[n], 0x5c, 2048);
    }
    cr_assert_lt(n, 4096, "8 MiB of objects under a 1 MiB cap");
    cr_assert_eq(errno, ENOMEM, "at the cap: errno %d (%s)", errno, strerror(errno));
    cr_assert_gt(n, 0, "a slab with a 1 MiB cap cannot allocate one 2 KiB object");
    cr_log_info("slab cap 1 MiB: %zu objects of 2 KiB (%zu KiB)", n, n * 2);
    cr_assert_leq(n * 2048, cap);
    st = slab_stats(e.s);
    assert_counts(&st, "slab at the cap");
    cr_assert_eq(st.objects, n);
    cr_assert_geq(st.failures, 1);
    /* Still NULL, then room after frees. */
    errno = 0;
    cr_assert_null(pmn_slab_alloc(e.s));
    cr_assert_eq(errno, ENOMEM);
    void *more[32];
    errno = 0;
    size_t got = pmn_slab_alloc_bulk(e.s, more, 32);
    cr_assert_eq(got, 0, "bulk alloc at the cap gave %zu objects", got);
    cr_assert_eq(errno, ENOMEM, "short bulk alloc: errno %d (%s)", errno, strerror(errno));
    for (size_t i = 0; i < n && i < 40; i++)
        cr_assert_eq(pmn_slab_free(e.s, objs[i]), 0);
    for (size_t i = 0; i < n && i < 8; i++) {
        objs[i] = pmn_slab_alloc(e.s);
        cr_assert_not_null(objs[i], "no object after freeing under the cap");
    }
    if (n >= 40) {
        errno = 0;
        got = pmn_slab_alloc_bulk(e.s, more, 32);
        cr_assert_eq(got, 32, "bulk alloc of 32 with room for 32: %zu (%s)", got, strerror(errno));
        cr_assert_eq(pmn_slab_free_bulk(e.s, more, got), 0);
    }
    for (size_t i = 0; i < n; i++)
        if (i < 8 || i >= 40)
            cr_assert_eq(pmn_slab_free(e.s, objs[i]), 0);
    st = slab_stats(e.s);
    cr_assert_eq(st.objects, 0);
    cr_assert_eq(st.allocated, 0);
    slab_close(&e);
}

/* Huge counts against a cap: a reserve of SIZE_MAX objects is refused
 * before anything is mapped (its bytes wrapped in the cap test), and a
 * cap_objects near 2^64 leaves cap_bytes in force (its rounding up to
 * whole pages wrapped to no cap at all). */
Test(slab, huge_counts_keep_the_cap, .timeout = 60)
{
    const uint64_t cap = MiB;
    struct slab_env e = slab_open(64, 0, cap);
    const size_t counts[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX / 2, (size_t)1 << 58};
    const uint64_t huge[] = {UINT64_MAX, UINT64_MAX - 5, (uint64_t)1 << 63};
    static void *objs[32768];
    size_t n;

    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        int err = pmn_slab_reserve(e.s, counts[i]);
        cr_assert_eq(err, PMN_E_CAP_REACHED, "reserve of %zu objects under a 1 MiB cap: %s",
                     counts[i], pmn_err_name(err));
        cr_assert_eq(backing_mapped(e.b), 0, "reserve of %zu objects mapped %llu", counts[i],
                     ull(backing_mapped(e.b)));
    }
    slab_close(&e);

    for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
        struct pmn_slab_opts o = {
            .struct_size = sizeof(o), .cap_bytes = cap, .cap_objects = huge[i], .retain = 1};
        struct pmn_slab *s;
        int err;

        e.ctx = local_ctx();
        e.b = backing_on0(e.ctx, PMN_BACKING_ANON);
        err = pmn_slab_new_opts(e.b, 64, &o, &s);
        cr_assert_eq(err, 0, "pmn_slab_new_opts(cap_objects %llu): %s", ull(huge[i]),
                     pmn_strerror(err));
        e.s = s;
        for (n = 0; n < 32768; n++)
            if ((objs[n] = pmn_slab_alloc(s)) == NULL)
                break;
        cr_assert_leq(n * 64, cap, "cap_objects %llu: %zu objects of 64 B under a 1 MiB cap",
                      ull(huge[i]), n);
        cr_assert_gt(n, 0);
        cr_assert_eq(pmn_slab_free_bulk(s, objs, n), 0);
        slab_close(&e);
    }
}

/* pmn.h: the slab's pages occupy at most cap_bytes; resident memory may
 * exceed a cap below the 4 MiB extent by up to one extent. */
Test(slab, cap_bounds_backing, .timeout = 60)
{
    const uint64_t cap = MiB;
    struct slab_env e = slab_open(2048, 0, cap);
    static void *objs[4096];
    size_t n;
    struct pmn_alloc_stats st = {.struct_size = sizeof(st)};

    for (n = 0; n < 4096; n++)
        if ((objs[n] = pmn_slab_alloc(e.s)) == NULL)
            break;
    st = slab_stats(e.s);
    cr_assert_lt(n, 4096, "the 1 MiB cap never stopped the slab");
    cr_assert_leq(st.active, cap, "pages hold %llu bytes beyond the 1 MiB cap", ull(st.active));
    cr_assert_geq((n + 1) * 2048, cap - 64 * KiB, "the slab stopped early, at %zu objects", n);
    cr_assert_leq(st.resident, cap + 4 * MiB, "resident %llu beyond cap + one extent",
                  ull(st.resident));
    cr_assert_leq(backing_mapped(e.b), cap + 4 * MiB, "the backing maps %llu bytes",
                  ull(backing_mapped(e.b)));
    cr_assert_eq(pmn_slab_free_bulk(e.s, objs, n), 0);
    slab_close(&e);
}

/* ---- misuse: the slab reports what pmn_free() reports ------------------- */

/* In every build: an object its own thread frees twice in a row is
 * refused with PMN_E_DOUBLE_FREE, nothing is counted, and the free list
 * stays whole (the next two allocations are two different objects). */
Test(slab, double_free_in_a_row)
{
    struct slab_env e = slab_open(64, 0, 0);
    void *keep = pmn_slab_alloc(e.s), *p = pmn_slab_alloc(e.s), *a, *b;
    int err;

    cr_assert(keep && p);
    cr_assert_eq(pmn_slab_free(e.s, p), 0);
    err = pmn_slab_free(e.s, p);
    cr_assert_eq(err, PMN_E_DOUBLE_FREE, "second pmn_slab_free: %s", pmn_err_name(err));
    err = pmn_free(p);
    cr_assert_eq(err, PMN_E_DOUBLE_FREE, "pmn_free after pmn_slab_free: %s", pmn_err_name(err));
    cr_assert_eq(slab_stats(e.s).objects, 1, "the repeated free was counted");
    a = pmn_slab_alloc(e.s);
    b = pmn_slab_alloc(e.s);
    cr_assert(a && b && a != b, "the same object handed out twice (%p, %p)", a, b);
    cr_assert_eq(pmn_slab_free(e.s, a), 0);
    cr_assert_eq(pmn_slab_free(e.s, b), 0);
    cr_assert_eq(pmn_slab_free(e.s, keep), 0);
    cr_assert_eq(slab_stats(e.s).objects, 0);
    slab_close(&e);
}

/* An object freed, then another, then the first again: refused in every
 * build, as pmn_free() refuses it. */
Test(slab, double_free_not_in_a_row)
{
    struct slab_env e = slab_open(64, 0, 0);
    void *a = pmn_slab_alloc(e.s), *b = pmn_slab_alloc(e.s), *objs[3];
    int err;

    cr_assert(a && b);
    cr_assert_eq(pmn_slab_free(e.s, a), 0);
    cr_assert_eq(pmn_slab_free(e.s, b), 0);
    err = pmn_slab_free(e.s, a);
    cr_assert_eq(err, PMN_E_DOUBLE_FREE, "free a, free b, free a: %s", pmn_err_name(err));
    cr_assert_eq(slab_stats(e.s).objects, 0, "the double free was counted");
    /* The same through the bulk call: the third entry repeats the first. */
    objs[0] = a = pmn_slab_alloc(e.s);
    objs[1] = pmn_slab_alloc(e.s);
    objs[2] = a;
    cr_assert(objs[0] && objs[1]);
    err = pmn_slab_free_bulk(e.s, objs, 3);
    cr_assert_eq(err, PMN_E_DOUBLE_FREE, "bulk {a, b, a}: %s", pmn_err_name(err));
    cr_assert_eq(slab_stats(e.s).objects, 0);
    slab_close(&e);
}

/* An object of another slab, of the same size on the same backing, is
 * not this slab's: refused, untouched, still alive in its own slab. */
Test(slab, object_of_another_slab)
{
    struct slab_env e = slab_open(64, 0, 0);
    struct pmn_slab *other = NULL;
    void *p;
    int err;

    cr_assert_eq(pmn_slab_new(e.b, 64, 0, 0, &other), 0);
    p = pmn_slab_alloc(other);
    cr_assert_not_null(p);
    pat_fill(p, 64, 7);
    err = pmn_slab_free(e.s, p);
    cr_assert_eq(err, PMN_E_FOREIGN, "another slab's object: %s", pmn_err_name(err));
    err = pmn_slab_free_bulk(e.s, &p, 1);
    cr_assert_eq(err, PMN_E_FOREIGN, "another slab's object, in bulk: %s", pmn_err_name(err));
    assert_pattern(p, 64, 7, "the other slab's object after the refused frees");
    cr_assert_eq(slab_stats(other).objects, 1, "the other slab lost its object");
    cr_assert_eq(slab_stats(e.s).frees, 0, "this slab counted a free");
    cr_assert_eq(pmn_slab_free(other, p), 0, "the object cannot be freed by its own slab");
    pmn_slab_destroy(other);
    slab_close(&e);
}

/* An arena's object on the same backing, small and large. */
Test(slab, object_of_an_arena)
{
    struct slab_env e = slab_open(64, 0, 0);
    struct pmn_arena *a = NULL;
    const size_t sizes[] = {64, 4000, 1 * MiB};

    cr_assert_eq(pmn_arena_new(e.b, NULL, &a), 0);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        void *p = pmn_arena_malloc(a, sizes[i]);
        int err;
        cr_assert_not_null(p);
        pat_fill(p, sizes[i], i);
        err = pmn_slab_free(e.s, p);
        cr_assert_eq(err, PMN_E_FOREIGN, "an arena's %zu-byte object: %s", sizes[i],
                     pmn_err_name(err));
        assert_pattern(p, sizes[i], i, "the arena's object after the refused free");
        cr_assert_eq(arena_stats(a).objects, 1, "the arena lost its %zu-byte object", sizes[i]);
        cr_assert_eq(pmn_free(p), 0);
    }
    cr_assert_eq(slab_stats(e.s).frees, 0, "this slab counted a free");
    pmn_arena_destroy(a);
    slab_close(&e);
}

/* Pointers libpmnode never handed out, including the slab's own segment
 * header; NULL is freed as nothing; a NULL slab is -EINVAL. */
Test(slab, pointers_not_ours)
{
    struct slab_env e = slab_open(64, 0, 0);
    char stack[64];
    static char bss[64];
    char *heap = malloc(64);
    void *mine = pmn_slab_alloc(e.s);
    void *seg = (void *)((uintptr_t)mine & ~(uintptr_t)(4 * MiB - 1));
    void *const foreign[] = {
        stack, heap, bss, (void *)"rodata", (void *)16, (void *)(uintptr_t)-16, seg};

    cr_assert(heap && mine);
    for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
        int err = pmn_slab_free(e.s, foreign[i]);
        cr_assert_eq(err, PMN_E_FOREIGN, "pmn_slab_free(%p): %s", foreign[i], pmn_err_name(err));
        err = pmn_slab_free_bulk(e.s, &foreign[i], 1);
        cr_assert_eq(err, PMN_E_FOREIGN, "pmn_slab_free_bulk({%p}): %s", foreign[i],
                     pmn_err_name(err));
    }
    cr_assert_eq(pmn_slab_free(e.s, NULL), 0);
    cr_assert_eq(pmn_slab_free(NULL, mine), -EINVAL);
    cr_assert_eq(pmn_slab_free_bulk(NULL, &mine, 1), -EINVAL);
    cr_assert_eq(pmn_slab_free_bulk(e.s, NULL, 1), -EINVAL);
    cr_assert_eq(slab_stats(e.s).objects, 1, "a refused free was counted");
    free(heap); /* glibc's block was not touched */
    cr_assert_eq(pmn_slab_free(e.s, mine), 0);
    slab_close(&e);
}

/* A batch with bad entries: every good object is freed, the bad ones are
 * left alone, and the code of the first bad entry comes back. */
Test(slab, bulk_with_bad_entries)
{
    struct slab_env e = slab_open(64, 0, 0);
    struct pmn_arena *a = NULL;
    void *objs[34], *mine, *arena_obj;
    int stack_word, err;

    cr_assert_eq(pmn_arena_new(e.b, NULL, &a), 0);
    arena_obj = pmn_arena_malloc(a, 64);
    cr_assert_not_null(arena_obj);
    pat_fill(arena_obj, 64, 99);

    /* One foreign entry in the middle. */
    cr_assert_eq(pmn_slab_alloc_bulk(e.s, objs, 32), 32);
    memmove(&objs[6], &objs[5], 27 * sizeof(objs[0]));
    objs[5] = arena_obj;
    err = pmn_slab_free_bulk(e.s, objs, 33);
    cr_assert_eq(err, PMN_E_FOREIGN, "a batch with an arena's object: %s", pmn_err_name(err));
    cr_assert_eq(slab_stats(e.s).objects, 0, "%llu good objects were not freed",
                 ull(slab_stats(e.s).objects));
    assert_pattern(arena_obj, 64, 99, "the arena's object after the batch");
    cr_assert_eq(arena_stats(a).objects, 1);

    /* A repeated entry, then a foreign one: the first error wins. */
    cr_assert_eq(pmn_slab_alloc_bulk(e.s, objs, 32), 32);
    mine = objs[10];
    memmove(&objs[12], &objs[11], 21 * sizeof(objs[0]));
    objs[11] = mine; /* objs[10] twice in a row */
    objs[33] = &stack_word;
    err = pmn_slab_free_bulk(e.s, objs, 34);
    cr_assert_eq(err, PMN_E_DOUBLE_FREE,
                 "a batch freeing one object twice, then a foreign "
                 "pointer: %s (want the first error)",
                 pmn_err_name(err));
    cr_assert_eq(slab_stats(e.s).objects, 0, "%llu good objects were not freed",
                 ull(slab_stats(e.s).objects));
    /* The free list stayed whole: 32 distinct objects again. */
    cr_assert_eq(pmn_slab_alloc_bulk(e.s, objs, 32), 32);
    for (int i = 0; i < 32; i++)
        pat_fill(objs[i], 64, 200 + (uint64_t)i);
    check_objs(e.s, objs, 32, 16, 200);
    /* NULL entries are nothing. */
    objs[32] = NULL;
    cr_assert_eq(pmn_slab_free_bulk(e.s, objs, 33), 0);
    cr_assert_eq(slab_stats(e.s).objects, 0);

    cr_assert_eq(pmn_free(arena_obj), 0);
    pmn_arena_destroy(a);
    slab_close(&e);
}

/* ---- JSON ---------------------------------------------------------------- */

/* A strict recursive-descent JSON checker (RFC 8259 syntax, no extensions),
 * enough to tell the stats text is one valid object.  It also records the
 * numbers of the top-level keys it is asked about. */
struct json {
    const char *s;
    int depth;
};

static void ws(struct json *j)
{
    while (*j->s == ' ' || *j->s == '\t' || *j->s == '\n' || *j->s == '\r')
        j->s++;
}

static bool jvalue(struct json *j);

static bool jstring(struct json *j, const char **start, size_t *len)
{
    if (*j->s != '"')
        return false;
    const char *b = ++j->s;
    while (*j->s != '"') {
        unsigned char c = (unsigned char)*j->s;
        if (c < 0x20)
            return false;
        if (c == '\\') {
            j->s++;
            if (*j->s == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!isxdigit((unsigned char)j->s[i]))
                        return false;
                j->s += 4;
            } else if (!strchr("\"\\/bfnrt", *j->s) || *j->s == '\0') {
                return false;
            }
        }
        j->s++;
    }
    if (start) {
        *start = b;
        *len = (size_t)(j->s - b);
    }
    j->s++;
    return true;
}

static bool jnumber(struct json *j)
{
    const char *s = j->s;

    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (isdigit((unsigned char)*s))
            s++;
    else
        return false;
    if (*s == '.') {
        if (!isdigit((unsigned char)*++s))
            return false;
        while (isdigit((unsigned char)*s))
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!isdigit((unsigned char)*s))
            return false;
        while (isdigit((unsigned char)*s))
            s++;
    }
    j->s = s;
    return true;
}

static bool jcontainer(struct json *j, char open, char close, bool object)
{
    if (*j->s != open || ++j->depth > 64)
        return false;
    j->s++;
    ws(j);
    if (*j->s == close) {
        j->s++;
        j->depth--;
        return true;
    }
    for (;;) {
        ws(j);
        if (object) {
            if (!jstring(j, NULL, NULL))
                return false;
            ws(j);
            if (*j->s++ != ':')
                return false;
        }
        if (!jvalue(j))
            return false;
        ws(j);
        if (*j->s == ',') {
            j->s++;
            continue;
        }
        if (*j->s++ != close)
            return false;
        j->depth--;
        return true;
    }
}

static bool jvalue(struct json *j)
{
    ws(j);
    switch (*j->s) {
    case '{': return jcontainer(j, '{', '}', true);
    case '[': return jcontainer(j, '[', ']', false);
    case '"': return jstring(j, NULL, NULL);
    case 't': return strncmp(j->s, "true", 4) == 0 && (j->s += 4);
    case 'f': return strncmp(j->s, "false", 5) == 0 && (j->s += 5);
    case 'n': return strncmp(j->s, "null", 4) == 0 && (j->s += 4);
    default: return jnumber(j);
    }
}

/* Whole text is exactly one JSON object (whitespace around allowed). */
static bool json_is_object(const char *text)
{
    struct json j = {text, 0};

    ws(&j);
    if (*j.s != '{' || !jvalue(&j))
        return false;
    ws(&j);
    return *j.s == '\0';
}

/* The value of top-level key @key as an unsigned integer; false when the
 * key is missing or its value is not a plain non-negative integer. */
static bool json_top_u64(const char *text, const char *key, uint64_t *out)
{
    struct json j = {text, 0};

    ws(&j);
    if (*j.s++ != '{')
        return false;
    for (;;) {
        const char *k;
        size_t klen;
        ws(&j);
        if (!jstring(&j, &k, &klen))
            return false;
        ws(&j);
        if (*j.s++ != ':')
            return false;
        ws(&j);
        if (klen == strlen(key) && memcmp(k, key, klen) == 0) {
            char *end;
            if (!isdigit((unsigned char)*j.s))
                return false;
            errno = 0;
            *out = strtoull(j.s, &end, 10);
            return errno == 0 && (*end == ',' || *end == '}' || isspace((unsigned char)*end));
        }
        if (!jvalue(&j))
            return false;
        ws(&j);
        if (*j.s++ != ',')
            return false;
    }
}

Test(json, checker_self_test)
{
    const char *good[] = {"{}", " {\"a\": [1, -2.5e+3, true, false, null, \"x\\u00e9\\n\"]} ",
                          "{\"a\":{\"b\":[]}}"};
    const char *bad[] = {"",           "{",   "{\"a\":}",    "{\"a\":1,}",     "{a:1}",
                         "{\"a\":01}", "[1]", "{\"a\":1} x", "{\"a\":\"\t\"}", "{\"a\":NaN}",
                         "{\"a\":1}{}"};
    uint64_t v;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_assert(json_is_object(good[i]), "rejects %s", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_not(json_is_object(bad[i]), "accepts %s", bad[i]);
    cr_assert(json_top_u64("{\"x\": [1,2], \"y\": 42}", "y", &v));
    cr_assert_eq(v, 42);
    cr_assert_not(json_top_u64("{\"x\": 1}", "y", &v));
}

/* Run python3's json module over @text, when PMN_PYTHON names python3. */
static void python_json_check(const char *text)
{
    const char *py = getenv("PMN_PYTHON");
    char path[] = "/tmp/pmn-stats-XXXXXX";
    int fd, status;
    pid_t pid;

    if (py == NULL || *py == '\0' || RUNNING_ON_VALGRIND)
        return;
    fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        execl(py, py, "-c",
              "import json,sys; d=json.load(open(sys.argv[1])); "
              "sys.exit(0 if isinstance(d, dict) else 3)",
              path, (char *)NULL);
        _exit(127);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    unlink(path);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "python3's json module rejects the stats JSON: %s", text);
}

static void check_stats_json(const struct pmn_alloc_stats *st, const char *what)
{
    char buf[8192], small[16];
    int len = pmn_alloc_stats_json(st, buf, sizeof(buf));
    const struct {
        const char *key;
        uint64_t want;
    } keys[] = {{"allocated", st->allocated},
                {"objects", st->objects},
                {"active", st->active},
                {"resident", st->resident},
                {"peak", st->peak},
                {"allocs", st->allocs},
                {"frees", st->frees},
                {"remote_frees", st->remote_frees},
                {"failures", st->failures},
                {"mapped_bytes", st->backing.mapped_bytes},
                {"mapped_peak_bytes", st->backing.mapped_peak_bytes},
                {"region_maps", st->backing.region_maps},
                {"region_map_failures", st->backing.region_map_failures},
                {"spilled_bytes", st->backing.spilled_bytes}};

    cr_assert_gt(len, 0, "%s: pmn_alloc_stats_json: %s", what, pmn_strerror(len));
    cr_assert_lt((size_t)len, sizeof(buf), "%s: %d bytes of JSON", what, len);
    cr_assert_eq(strlen(buf), (size_t)len, "%s: returned %d, wrote %zu", what, len, strlen(buf));
    cr_assert(json_is_object(buf), "%s: not one JSON object: %s", what, buf);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        uint64_t v;
        cr_assert(json_top_u64(buf, keys[i].key, &v), "%s: no integer \"%s\" at the top: %s", what,
                  keys[i].key, buf);
        cr_assert_eq(v, keys[i].want, "%s: \"%s\" is %llu, the struct says %llu", what,
                     keys[i].key, ull(v), ull(keys[i].want));
    }
    python_json_check(buf);

    /* snprintf contract: the full length back, a truncated NUL-terminated
     * text in a short buffer, nothing written with len 0. */
    memset(small, 'x', sizeof(small));
    cr_assert_eq(pmn_alloc_stats_json(st, small, sizeof(small)), len);
    cr_assert_eq(small[sizeof(small) - 1], '\0', "%s: short buffer not NUL-terminated", what);
    cr_assert_eq(strncmp(small, buf, sizeof(small) - 1), 0);
    small[0] = 'x';
    cr_assert_eq(pmn_alloc_stats_json(st, small, 0), len);
    cr_assert_eq(small[0], 'x', "%s: written with len 0", what);
    cr_assert_eq(pmn_alloc_stats_json(st, NULL, 0), len);
}

Test(json, stats_of_slab_and_arena, .timeout = 60)
{
    struct slab_env e = slab_open(64, 0, 0);
    struct pmn_arena *a = NULL;
    struct pmn_alloc_stats st = {.struct_size = sizeof(st)};
    void *objs[100];

    check_stats_json(&(struct pmn_alloc_stats){.struct_size = sizeof(struct pmn_alloc_stats)},
                     "all-zero stats");
    for (int i = 0; i < 100; i++)
        cr_assert_not_null(objs[i] = pmn_slab_alloc(e.s));
    st = slab_stats(e.s);
    check_stats_json(&st, "slab with 100 objects");
    for (int i = 0; i < 100; i++)
        cr_assert_eq(pmn_slab_free(e.s, objs[i]), 0);

    cr_assert_eq(pmn_arena_new(e.b, NULL, &a), 0);
    for (int i = 0; i < 100; i++)
        cr_assert_not_null(objs[i] = pmn_arena_malloc(a, (size_t)i * 100));
    st = arena_stats(a);
    check_stats_json(&st, "arena with 100 objects");
    for (int i = 0; i < 100; i++)
        cr_assert_eq(pmn_free(objs[i]), 0);
    pmn_arena_destroy(a);

    /* Extreme values still make valid JSON. */
    memset(&st, 0xff, sizeof(st));
    st.struct_size = sizeof(st);
    st.backing.nnodes = PMN_STATS_MAX_NODES;
    for (int i = 0; i < PMN_STATS_MAX_NODES; i++)
        st.backing.node[i].node = 255 - i;
    check_stats_json(&st, "all-ones stats");
    st.backing.nnodes = 1;
    st.backing.node[0].node = 0;
    check_stats_json(&st, "one node");
    slab_close(&e);
}
