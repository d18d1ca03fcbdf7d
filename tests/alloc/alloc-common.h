/*
 * alloc-common.h - helpers shared by the allocator tests (tests/alloc).
 *
 * Every test builds its own context, an anonymous backing bound to node 0
 * of this host, and an arena or slab on it; criterion runs each test in a
 * process of its own, so nothing leaks from one test into the next.
 *
 * Objects are filled with a pattern derived from an id (a 64-bit word per
 * 8 bytes, the tail byte by byte), so a check tells which object was
 * overwritten and where.  Loop counts shrink under valgrind (scaled()).
 */
#ifndef PMN_TEST_ALLOC_COMMON_H
#define PMN_TEST_ALLOC_COMMON_H

#ifdef PMN_NO_CRITERION
#include "mini-cr.h" /* ThreadSanitizer builds */
#else
#include <criterion/criterion.h>
#endif
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <valgrind/valgrind.h>

#include "pmnode.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static inline unsigned long long ull(uint64_t v)
{
    return (unsigned long long)v;
}

/* Loop counts: @n natively, @n / div under valgrind (at least 1). */
static inline size_t scaled(size_t n, size_t div)
{
    if (RUNNING_ON_VALGRIND) {
        n /= div;
        return n ? n : 1;
    }
    return n;
}

/* A context for this machine, whatever PMNODE_* the environment holds;
 * skips when the host shows no NUMA sysfs at all. */
static inline struct pmn_ctx *local_ctx(void)
{
    struct pmn_ctx_params *p;
    struct pmn_ctx *ctx = NULL;
    int err;

    cr_assert_eq(pmn_ctx_params_new(&p), 0);
    cr_assert_eq(pmn_ctx_params_set_root(p, "/"), 0);
    cr_assert_eq(pmn_ctx_params_set_flags(p, PMN_CTX_IGNORE_ENV | PMN_CTX_NO_CONFIG), 0);
    err = pmn_ctx_new_params(&ctx, p);
    pmn_ctx_params_free(p);
    if (err == PMN_E_NO_NUMA)
        cr_skip_test("this host has no /sys/devices/system/node");
    cr_assert_eq(err, 0, "no context for this machine: %s", pmn_strerror(err));
    cr_assert(pmn_ctx_is_local(ctx));
    cr_assert_not_null(pmn_node_get(ctx, 0), "this host has no node 0");
    return ctx;
}

/* A backing of @type on node 0. */
static inline struct pmn_backing *backing_on0(struct pmn_ctx *ctx, enum pmn_backing_type type)
{
    struct pmn_backing_params *p;
    struct pmn_backing *b = NULL;
    int err;

    cr_assert_eq(pmn_backing_params_new(&p), 0);
    cr_assert_eq(pmn_backing_params_set_type(p, type), 0);
    cr_assert_eq(pmn_backing_params_set_node(p, 0), 0);
    err = pmn_backing_new(ctx, p, &b);
    pmn_backing_params_free(p);
    cr_assert_eq(err, 0, "pmn_backing_new(%s, node 0): %s", pmn_backing_type_name(type),
                 pmn_strerror(err));
    cr_assert_not_null(b);
    return b;
}

/* One arena over one backing, torn down in the right order. */
struct env {
    struct pmn_ctx *ctx;
    struct pmn_backing *b;
    struct pmn_arena *a;
};

static inline struct env env_open_opts(enum pmn_backing_type type,
                                       const struct pmn_arena_opts *opts)
{
    struct env e = {0};
    int err;

    e.ctx = local_ctx();
    e.b = backing_on0(e.ctx, type);
    err = pmn_arena_new(e.b, opts, &e.a);
    cr_assert_eq(err, 0, "pmn_arena_new: %s", pmn_strerror(err));
    cr_assert_not_null(e.a);
    return e;
}

static inline struct env env_open(void)
{
    return env_open_opts(PMN_BACKING_ANON, NULL);
}

static inline void env_close(struct env *e)
{
    if (e->a)
        pmn_arena_destroy(e->a);
    if (e->b)
        pmn_backing_free(e->b);
    pmn_ctx_unref(e->ctx);
    *e = (struct env){0};
}

static inline struct pmn_alloc_stats arena_stats(struct pmn_arena *a)
{
    struct pmn_alloc_stats st;
    int err;

    memset(&st, 0xa5, sizeof(st)); /* no field may be left unset */
    st.struct_size = sizeof(st);
    err = pmn_arena_stats(a, &st);
    cr_assert_eq(err, 0, "pmn_arena_stats: %s", pmn_strerror(err));
    return st;
}

static inline struct pmn_alloc_stats slab_stats(struct pmn_slab *s)
{
    struct pmn_alloc_stats st;
    int err;

    memset(&st, 0xa5, sizeof(st));
    st.struct_size = sizeof(st);
    err = pmn_slab_stats(s, &st);
    cr_assert_eq(err, 0, "pmn_slab_stats: %s", pmn_strerror(err));
    return st;
}

static inline uint64_t backing_mapped(const struct pmn_backing *b)
{
    struct pmn_backing_stats bs = {.struct_size = sizeof(bs)};

    cr_assert_eq(pmn_backing_stats(b, &bs), 0);
    return bs.mapped_bytes;
}

/* Invariants every stats snapshot keeps, whatever the workload. */
static inline void assert_stats_sane(const struct pmn_alloc_stats *st, const char *what)
{
    cr_assert_leq(st->active, st->resident, "%s: active %llu > resident %llu", what,
                  ull(st->active), ull(st->resident));
    cr_assert_leq(st->allocated, st->active, "%s: allocated %llu > active %llu", what,
                  ull(st->allocated), ull(st->active));
    cr_assert_leq(st->resident, st->peak, "%s: resident %llu > peak %llu", what,
                  ull(st->resident), ull(st->peak));
    cr_assert_leq(st->remote_frees, st->frees, "%s: remote_frees %llu > frees %llu", what,
                  ull(st->remote_frees), ull(st->frees));
    cr_assert_geq(st->allocs, st->frees, "%s: allocs %llu < frees %llu", what, ull(st->allocs),
                  ull(st->frees));
    cr_assert_eq(st->backing.mapped_bytes, st->resident,
                 "%s: backing maps %llu bytes, arena says it holds %llu", what,
                 ull(st->backing.mapped_bytes), ull(st->resident));
}

/* ... and where every call allocated or freed one object. */
static inline void assert_counts(const struct pmn_alloc_stats *st, const char *what)
{
    assert_stats_sane(st, what);
    cr_assert_eq(st->allocs - st->frees, st->objects,
                 "%s: allocs %llu - frees %llu != objects %llu", what, ull(st->allocs),
                 ull(st->frees), ull(st->objects));
}

/* Double and interior frees are reported only by debug_full builds;
 * meson.build says which this is through PMN_DEBUG_FULL. */
static inline void need_debug_full(void)
{
    const char *v = getenv("PMN_DEBUG_FULL");

    if (v == NULL || strcmp(v, "1") != 0)
        cr_skip_test("double and interior frees are only caught in debug_full builds "
                     "(meson configure -Ddebug_full=true; PMN_DEBUG_FULL=%s)", v ? v : "unset");
}

/* ---- patterns ----------------------------------------------------------- */

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static inline uint64_t pat_word(uint64_t id, size_t k)
{
    return mix64(id * 0x9e3779b97f4a7c15ull + k + 1);
}

/* Fill [p, p + len) with the pattern of @id. */
static inline void pat_fill(void *p, size_t len, uint64_t id)
{
    unsigned char *c = p;
    size_t k, words = len / 8;

    for (k = 0; k < words; k++) {
        uint64_t w = pat_word(id, k);
        memcpy(c + 8 * k, &w, 8);
    }
    if (len % 8) {
        uint64_t w = pat_word(id, k);
        memcpy(c + 8 * k, &w, len % 8);
    }
}

/* Offset of the first byte of [p, p + len) that does not hold @id's
 * pattern, or SIZE_MAX when all do. */
static inline size_t pat_check(const void *p, size_t len, uint64_t id)
{
    const unsigned char *c = p;
    size_t k, words = len / 8;

    for (k = 0; k < words; k++) {
        uint64_t w = pat_word(id, k), r;
        memcpy(&r, c + 8 * k, 8);
        if (r != w)
            for (size_t j = 0; j < 8; j++)
                if (c[8 * k + j] != ((const unsigned char *)&w)[j])
                    return 8 * k + j;
    }
    if (len % 8) {
        uint64_t w = pat_word(id, k);
        for (size_t j = 0; j < len % 8; j++)
            if (c[8 * k + j] != ((const unsigned char *)&w)[j])
                return 8 * k + j;
    }
    return SIZE_MAX;
}

#define assert_pattern(p, len, id, ...)                                                   \
    do {                                                                                  \
        size_t bad_ = pat_check((p), (len), (id));                                        \
        if (bad_ != SIZE_MAX) {                                                           \
            fprintf(stderr, "object %llu at %p: byte %zu of %zu overwritten\n", ull(id),     \
                    (void *)(p), bad_, (size_t)(len));                                    \
            cr_assert_fail(__VA_ARGS__);                                                  \
        }                                                                                 \
    } while (0)

/* Offset of the first non-zero byte, or SIZE_MAX. */
static inline size_t first_nonzero(const void *p, size_t len)
{
    const unsigned char *c = p;

    for (size_t i = 0; i < len; i++)
        if (c[i])
            return i;
    return SIZE_MAX;
}

/* ---- overlap check: live objects as a sorted array of intervals --------- */

struct ivl {
    uintptr_t lo, hi; /* [lo, hi) */
    uint64_t id;
};

struct ivset {
    struct ivl *v;
    size_t n, cap;
};

/* Index of the first interval with lo > addr. */
static inline size_t ivset_upper(const struct ivset *s, uintptr_t addr)
{
    size_t lo = 0, hi = s->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid].lo <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Add [p, p + len) (len 0 counts as 1 byte: a unique object); fails the
 * test when it overlaps a live object. */
static inline void ivset_add(struct ivset *s, const void *p, size_t len, uint64_t id)
{
    uintptr_t lo = (uintptr_t)p, hi = lo + (len ? len : 1);
    size_t i = ivset_upper(s, lo);

    if (i > 0 && s->v[i - 1].hi > lo)
        cr_assert_fail("object %llu [%p, +%zu) overlaps live object %llu [%#lx, %#lx)", ull(id),
                       p, len, ull(s->v[i - 1].id), (unsigned long)s->v[i - 1].lo,
                       (unsigned long)s->v[i - 1].hi);
    if (i < s->n && s->v[i].lo < hi)
        cr_assert_fail("object %llu [%p, +%zu) overlaps live object %llu [%#lx, %#lx)", ull(id),
                       p, len, ull(s->v[i].id), (unsigned long)s->v[i].lo,
                       (unsigned long)s->v[i].hi);
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->v = realloc(s->v, s->cap * sizeof(*s->v));
        cr_assert_not_null(s->v);
    }
    memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
    s->v[i] = (struct ivl){lo, hi, id};
    s->n++;
}

static inline void ivset_del(struct ivset *s, const void *p)
{
    size_t i = ivset_upper(s, (uintptr_t)p);

    cr_assert(i > 0 && s->v[i - 1].lo == (uintptr_t)p, "test bug: %p is not in the set", p);
    memmove(&s->v[i - 1], &s->v[i], (s->n - i) * sizeof(*s->v));
    s->n--;
}

static inline void ivset_free(struct ivset *s)
{
    free(s->v);
    *s = (struct ivset){0};
}

#endif /* PMN_TEST_ALLOC_COMMON_H */
