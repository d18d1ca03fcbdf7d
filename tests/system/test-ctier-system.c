/*
 * test-ctier-system.c - the compressed tier on this host (suite 'system').
 *
 * This host has one node, so node 0 stands in for the compressed node: the
 * context declares it PMN_KIND_COMPRESSED and the tier demotes to node 0
 * and promotes to node 0.  The migrations are no-ops, but everything else
 * is real: the estimate and guard, userfaultfd write-protection, the
 * handler thread, the mprotect fallback's SIGSEGV handler, and the
 * accounting.  Most tests take the default mechanism; those about write
 * control itself (closing under writers, the program's own mprotect, two
 * tiers) name it and run with each.  Tests skip when the tier cannot open
 * for lack of write control (PMN_E_NO_WRITE_CONTROL).
 *
 * Data is text (tests/harness/harness.h) or fixed-seed random bytes; a
 * shadow copy receives every write the test makes, so "intact" means the
 * region equals the shadow byte for byte.  Tests that could hang on a
 * write that never returns run under Criterion's timeout or in a forked
 * child with alarm().
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "pmnode.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static size_t ps;

static void init(void)
{
    ps = (size_t)sysconf(_SC_PAGESIZE);
}

/* A context for this machine with node 0 declared compressed. */
static struct pmn_ctx *ctx_node0_compressed(void)
{
    return local_ctx_kind(0, PMN_KIND_COMPRESSED);
}

static struct pmn_ctier_opts opts_node0(uint64_t capacity)
{
    struct pmn_ctier_opts o;

    memset(&o, 0, sizeof(o));
    o.struct_size = sizeof(o);
    o.node = 0;
    o.promote_node = 0;
    o.capacity_bytes = capacity;
    return o;
}

static struct pmn_ctier *open_with(struct pmn_ctx *ctx, const struct pmn_ctier_opts *o)
{
    struct pmn_ctier *t = NULL;
    int err = pmn_ctier_open(ctx, o, &t);

    if (err == PMN_E_NO_WRITE_CONTROL)
        cr_skip_test("no userfaultfd write-protection here: %s", pmn_strerror(err));
    cr_assert_eq(err, 0, "pmn_ctier_open: %s", pmn_strerror(err));
    cr_assert_not_null(t);
    cr_assert_eq(pmn_ctier_node(t), 0);
    return t;
}

/* Node 0 as the compressed tier; capacity 0 = the node's size. */
static struct pmn_ctier *open_tier(struct pmn_ctx *ctx, uint64_t capacity)
{
    struct pmn_ctier_opts o = opts_node0(capacity);
    return open_with(ctx, &o);
}

static struct pmn_ctier_stats stats(struct pmn_ctier *t)
{
    struct pmn_ctier_stats st;

    memset(&st, 0xff, sizeof(st)); /* no field may be left unset */
    st.struct_size = sizeof(st);
    cr_assert_eq(pmn_ctier_stats(t, &st), 0);
    cr_assert_eq(st.struct_size, sizeof(st), "the library filled %zu bytes", st.struct_size);
    {
        /* A caller built before 0.11.0 gets its fields, and nothing past them. */
        struct pmn_ctier_stats old;

        memset(&old, 0xff, sizeof(old));
        old.struct_size = offsetof(struct pmn_ctier_stats, returned_pages);
        cr_assert_eq(pmn_ctier_stats(t, &old), 0);
        cr_assert_eq(old.struct_size, offsetof(struct pmn_ctier_stats, returned_pages));
        cr_assert_eq(old.returned_pages, UINT64_MAX, "past the caller's struct was written");
        old.struct_size = offsetof(struct pmn_ctier_stats, returned_pages) - 1;
        cr_assert_eq(pmn_ctier_stats(t, &old), -EINVAL, "a short struct was filled");
    }
    st.struct_size = sizeof(st);
    return st;
}

/* @n private anonymous pages (no THP: one fault is one base page). */
static char *region(size_t n)
{
    char *p = mmap(NULL, n * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    cr_assert_neq(p, MAP_FAILED, "mmap %zu pages: %s", n, strerror(errno));
    madvise(p, n * ps, MADV_NOHUGEPAGE);
    return p;
}

/* A text region and its shadow copy. */
static char *text_region(size_t n, size_t first, char **shadow)
{
    char *p = region(n);

    ctier_fill_text(p, n * ps, ps, first);
    if (shadow) {
        *shadow = malloc(n * ps);
        cr_assert_not_null(*shadow);
        memcpy(*shadow, p, n * ps);
    }
    return p;
}

static void assert_intact(const char *p, const char *shadow, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        if (memcmp(p + i * ps, shadow + i * ps, ps) != 0) {
            size_t j = 0;
            while (p[i * ps + j] == shadow[i * ps + j])
                j++;
            cr_assert_fail("%s: page %zu differs at byte %zu (%#x, expected %#x)", what, i, j,
                           (unsigned char)p[i * ps + j], (unsigned char)shadow[i * ps + j]);
        }
    }
}

static void assert_on_node0(const void *p, size_t len, const char *what)
{
    struct pmn_where w = {.struct_size = sizeof(w)};
    int err = pmn_where(p, len, &w);

    cr_assert_eq(err, 0, "%s: pmn_where: %s", what, pmn_strerror(err));
    cr_assert(w.pages == len / ps && w.not_present == 0 && w.unknown == 0 && w.other == 0 &&
                  pmn_where_pages_on(&w, 0) == w.pages,
              "%s: %llu pages, %llu on node 0, %llu not present, %llu unknown, %llu other", what,
              ull(w.pages), ull(pmn_where_pages_on(&w, 0)), ull(w.not_present), ull(w.unknown),
              ull(w.other));
}

/* Write one byte into page @i of @p and of its shadow. */
static void poke(char *p, char *shadow, size_t i, size_t off, char v)
{
    ((volatile char *)p)[i * ps + off] = v;
    if (shadow)
        shadow[i * ps + off] = v;
}

static unsigned long read_all(const char *p, size_t n)
{
    unsigned long sum = 0;

    for (size_t i = 0; i < n * ps; i += 64)
        sum += ((const volatile unsigned char *)p)[i];
    return sum;
}

TestSuite(tier, .init = init, .timeout = 60);

/* ---- opening ---- */

Test(tier, open_errors)
{
    struct pmn_ctx *ctx = ctx_node0_compressed(), *plain;
    struct pmn_ctx_params *p;
    struct pmn_ctier_opts o;
    struct pmn_ctier *t = (void *)1;

    o = opts_node0(0);
    cr_assert_eq(pmn_ctier_open(ctx, &o, NULL), -EINVAL);
    cr_assert_eq(pmn_ctier_open(NULL, &o, &t), -EINVAL);
    o.node = 99;
    cr_assert_eq(pmn_ctier_open(ctx, &o, &t), PMN_E_NO_NODE);
    cr_assert_null(t, "*out not cleared on failure");
    o = opts_node0(0);
    o.promote_node = 99;
    cr_assert_eq(pmn_ctier_open(ctx, &o, &t), PMN_E_NO_NODE);
    o = opts_node0(0);
    o.reserve = 1.0;
    cr_assert_eq(pmn_ctier_open(ctx, &o, &t), -EINVAL);
    o = opts_node0(0);
    o.reserve = -0.5;
    cr_assert_eq(pmn_ctier_open(ctx, &o, &t), -EINVAL);
    o = opts_node0(0);
    o.min_ratio = -1;
    cr_assert_eq(pmn_ctier_open(ctx, &o, &t), -EINVAL);
    o = opts_node0(0);
    o.on_full = (enum pmn_ctier_on_full)7;
    cr_assert_eq(pmn_ctier_open(ctx, &o, &t), -EINVAL);

    /* node 0 not declared compressed */
    cr_assert_eq(pmn_ctx_params_new(&p), 0);
    cr_assert_eq(pmn_ctx_params_set_root(p, "/"), 0);
    cr_assert_eq(pmn_ctx_params_set_flags(p, PMN_CTX_IGNORE_ENV | PMN_CTX_NO_CONFIG), 0);
    cr_assert_eq(pmn_ctx_new_params(&plain, p), 0);
    pmn_ctx_params_free(p);
    o = opts_node0(0);
    cr_assert_eq(pmn_ctier_open(plain, &o, &t), PMN_E_NOT_COMPRESSED);
    cr_assert_eq(pmn_ctier_open(plain, NULL, &t), PMN_E_NOT_COMPRESSED);
    pmn_ctx_unref(plain);

    /* defaults: the first compressed node (0) */
    t = NULL;
    o = opts_node0(0);
    o.node = -1;
    o.promote_node = -1;
    t = open_with(ctx, &o);
    pmn_ctier_close(t);
    pmn_ctier_close(NULL);
    cr_assert_eq(pmn_ctier_node(NULL), -1);
    pmn_ctx_unref(ctx);
}

Test(tier, open_remote_root_refused)
{
    const char *fx = getenv("PMN_FIXTURES");
    char root[4096];
    struct pmn_ctx *ctx;
    struct pmn_ctier *t;

    if (fx == NULL)
        cr_skip_test("PMN_FIXTURES not set");
    snprintf(root, sizeof(root), "%s/cramdax/root", fx);
    cr_assert_eq(pmn_ctx_new_at(&ctx, root), 0, "fixture %s", root);
    cr_assert_eq(pmn_ctier_open(ctx, NULL, &t), PMN_E_REMOTE_ROOT);
    pmn_ctx_unref(ctx);
}

/* ---- the main flow ---- */

Test(tier, demote_read_write_promote)
{
    const size_t n = 64, written[3] = {0, 17, 63};
    struct pmn_ctx *ctx = ctx_node0_compressed();
    struct pmn_ctier *t = open_tier(ctx, 0);
    struct pmn_ctier_stats st = {.struct_size = sizeof(st)};
    char *shadow, *p = text_region(n, 0, &shadow);
    double est = pmn_ctier_estimate(p, n * ps, 16);
    int err;

    st = stats(t);
    cr_assert_eq(st.logical_bytes, 0);
    cr_assert_eq(st.demotions, 0);
    cr_assert_gt(st.capacity_bytes, 0, "capacity 0 for node 0");

    err = pmn_ctier_demote(t, p, n * ps);
    cr_assert_eq(err, 0, "demote 64 text pages: %s", pmn_strerror(err));
    st = stats(t);
    cr_assert_eq(st.logical_bytes, n * ps, "logical %llu", ull(st.logical_bytes));
    cr_assert_eq(st.demoted_pages, n);
    cr_assert_eq(st.demotions, 1);
    cr_assert_eq(st.refusals, 0);
    cr_assert_eq(st.write_promotions, 0);
    /* physical = logical / estimated ratio */
    cr_assert(fabs((double)st.physical_bytes - (double)(n * ps) / est) <= 1.0,
              "physical %llu, expected %.1f (ratio %.3f)", ull(st.physical_bytes),
              (double)(n * ps) / est, est);
    cr_assert(fabs(st.ratio - est) < 0.01, "stats ratio %.4f, estimate %.4f", st.ratio, est);
    assert_on_node0(p, n * ps, "demoted");

    /* reads promote nothing */
    (void)read_all(p, n);
    assert_intact(p, shadow, n, "after reads");
    st = stats(t);
    cr_assert_eq(st.write_promotions, 0, "reads promoted %llu pages", ull(st.write_promotions));
    cr_assert_eq(st.logical_bytes, n * ps);

    /* one byte into each of three pages: exactly three promotions */
    for (size_t k = 0; k < 3; k++)
        poke(p, shadow, written[k], 100 + k, (char)('A' + k));
    st = stats(t);
    cr_assert_eq(st.write_promotions, 3, "%llu write promotions", ull(st.write_promotions));
    cr_assert_eq(st.write_failures, 0);
    cr_assert_eq(st.logical_bytes, (n - 3) * ps);
    assert_intact(p, shadow, n, "after writes");

    /* written again: already promoted, not counted again */
    for (size_t k = 0; k < 3; k++)
        poke(p, shadow, written[k], 200 + k, 'z');
    cr_assert_eq(stats(t).write_promotions, 3);

    /* promote the rest */
    err = pmn_ctier_promote(t, p, n * ps, -1);
    cr_assert_eq(err, 0, "promote: %s", pmn_strerror(err));
    st = stats(t);
    cr_assert_eq(st.logical_bytes, 0);
    cr_assert_eq(st.physical_bytes, 0);
    cr_assert_eq(st.ratio, 0.0);
    cr_assert_eq(st.promotions, 1);
    cr_assert_eq(st.demoted_pages, n, "demoted_pages is a running count");
    /* promoted pages write freely */
    for (size_t i = 0; i < n; i++)
        poke(p, shadow, i, ps - 1, '!');
    cr_assert_eq(stats(t).write_promotions, 3);
    assert_intact(p, shadow, n, "after promote");
    assert_on_node0(p, n * ps, "promoted");

    pmn_ctier_close(t);
    pmn_ctx_unref(ctx);
}

/* Memory with no data (never touched, or only read: the shared zero page)
 * has nothing to move: demote returns 0 and keeps nothing of it.  Before
 * 0.10.1 it answered -ENOMEM, "the tier node is full", to a cache demoting
 * entries it had allocated and never filled. */
Test(tier, demote_of_memory_without_data)
{
    const size_t n = 8;
    struct pmn_ctx *ctx = ctx_node0_compressed();
    struct pmn_ctier *t = open_tier(ctx, 0);
    struct pmn_ctier_stats st;
    char *p = region(n);
    volatile char sink = 0;
    int err;

    err = pmn_ctier_demote(t, p, 4 * ps);
    cr_assert_eq(err, 0, "never touched: %s", pmn_strerror(err));
    for (size_t i = 4; i < n; i++)
        sink += p[i * ps]; /* read: the zero page */
    err = pmn_ctier_demote(t, p + 4 * ps, 4 * ps);
    cr_assert_eq(err, 0, "only read: %s", pmn_strerror(err));
    st = stats(t);
    cr_assert_eq(st.logical_bytes, 0);
    cr_assert_eq(st.refusals, 0);
    /* and the range keeps the policy it had (the tier binds only what it
     * holds): the default, here */
    for (size_t i = 0; i < n; i += 4) {
        int mode = -1;

        cr_assert_eq(syscall(SYS_get_mempolicy, &mode, NULL, 0, p + i * ps, 2 /* MPOL_F_ADDR */),
                     0, "get_mempolicy: %s", strerror(errno));
        cr_assert_eq(mode, 0 /* MPOL_DEFAULT */, "page %zu: policy %d", i, mode);
    }
    /* Nothing was kept: writes land without a fault of the tier's, and the
     * memory may be demoted again once it holds data. */
    memset(p, 'd', n * ps);
    st = stats(t);
    cr_assert_eq(st.write_promotions, 0);
    err = pmn_ctier_demote(t, p, n * ps);
    cr_assert_eq(err, 0, "written since: %s", pmn_strerror(err));
    st = stats(t);
    cr_assert_eq(st.logical_bytes, n * ps);
    /* Some pages with data, some without: only the former are held. */
    cr_assert_eq(pmn_ctier_promote(t, p, n * ps, -1), 0);
    cr_assert_eq(madvise(p + 2 * ps, 3 * ps, MADV_DONTNEED), 0);
    cr_assert_eq(pmn_ctier_demote(t, p, n * ps), 0);
    st = stats(t);
    cr_assert_eq(st.logical_bytes, (n - 3) * ps);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(p[i * ps], i >= 2 && i < 5 ? 0 : 'd', "page %zu", i);
    (void)sink;
    pmn_ctier_close(t);
    munmap(p, n * ps);
    pmn_ctx_unref(ctx);
}

Test(tier, partial_promote)
{
    const size_t n = 32;
    struct pmn_ctx *ctx = ctx_node0_compressed();
    struct pmn_ctier *t = open_tier(ctx, 0);
    char *shadow, *p = text_region(n, 100, &shadow);
    struct pmn_ctier_stats st = {.struct_size = sizeof(st)};

    cr_assert_eq(pmn_ctier_demote(t, p, n * ps), 0);
    /* pages 8..15 back explicitly */
    cr_assert_eq(pmn_ctier_promote(t, p + 8 * ps, 8 * ps, 0), 0);
    st = stats(t);
    cr_assert_eq(st.logical_bytes, (n - 8) * ps);
    cr_assert_eq(st.promotions, 1);
    /* writes there are free; writes elsewhere promote */
    for (size_t i = 8; i < 16; i++)
        poke(p, shadow, i, 1, 'p');
    cr_assert_eq(stats(t).write_promotions, 0);
    poke(p, shadow, 7, 1, 'q');
    poke(p, shadow, 16, 1, 'q');
    st = stats(t);
    cr_assert_eq(st.write_promotions, 2);
    cr_assert_eq(st.logical_bytes, (n - 10) * ps);
    assert_intact(p, shadow, n, "partial promote");
    pmn_ctier_close(t);
    pmn_ctx_unref(ctx);
}

Test(tier, double_demote_is_refused_without_side_effects)
{
    const size_t n = 16;
    struct pmn_ctx *ctx = ctx_node0_compressed();
    struct pmn_ctier *t = open_tier(ctx, 0);
    char *p = text_region(n, 5, NULL);
    struct pmn_ctier_stats before = {.struct_size = sizeof(before)},
                           after = {.struct_size = sizeof(after)};
    int err;

    cr_assert_eq(pmn_ctier_demote(t, p, n * ps), 0);
    before = stats(t);
    err = pmn_ctier_demote(t, p + 4 * ps, 4 * ps);
    cr_assert_neq(err, 0, "demoting a demoted range again succeeded");
    after = stats(t);
    cr_assert_eq(after.logical_bytes, before.logical_bytes);
    cr_assert_eq(after.demotions, before.demotions);
    pmn_ctier_close(t);
    pmn_ctx_unref(ctx);
}

/* ---- the guard, for real ---- */

Test(tier, incompressible_refused_before_protection)
{
    const size_t n = 16;
    struct pmn_ctx *ctx = ctx_node0_compressed();
    struct pmn_ctier *t = open_tier(ctx, 0);
    char *p = region(n), *shadow = malloc(n * ps);
    struct pmn_ctier_stats st = {.struct_size = sizeof(st)};
    int err;

    ctier_fill_random(p, n * ps, 1234);
    memcpy(shadow, p, n * ps);
    err = pmn_ctier_demote(t, p, n * ps);
    cr_assert_eq(err, PMN_E_INCOMPRESSIBLE, "random data: %s", pmn_strerror(err));
    st = stats(t);
    cr_assert_eq(st.refusals, 1);
    cr_assert_eq(st.demotions, 0);
    cr_assert_eq(st.logical_bytes, 0);
    /* nothing protected: writes land without a promotion (a hang ends in the timeout) */
    for (size_t i = 0; i < n; i++)
        poke(p, shadow, i, 9, 'w');
    st = stats(t);
    cr_assert_eq(st.write_promotions, 0, "a refused range promoted %llu pages on write",
                 ull(st.write_promotions));
    assert_intact(p, shadow, n, "refused");
    assert_on_node0(p, n * ps, "refused");
    /* no stale state: the same range, now text, demotes */
    ctier_fill_text(p, n * ps, ps, 0);
    err = pmn_ctier_demote(t, p, n * ps);
    cr_assert_eq(err, 0, "text after refusal: %s", pmn_strerror(err));
    cr_assert_eq(stats(t).logical_bytes, n * ps);
    pmn_ctier_close(t);
    pmn_ctx_unref(ctx);
}

Test(tier, min_ratio_option)
{
    const size_t n = 16;
    struct pmn_ctx *ctx = ctx_node0_compressed();
    struct pmn_ctier_opts o = opts_node0(0);
    struct pmn_ctier *t;
    char *p = text_region(n, 0, NULL);
    double est = pmn_ctier_estimate(p, n * ps, 16);

    o.min_ratio = est * 1.01; /* just above what the text achieves */
    t = open_with(ctx, &o);
    cr_assert_eq(pmn_ctier_demote(t, p, n * ps), PMN_E_INCOMPRESSIBLE, "ratio %.3f, min %.3f", est,
                 o.min_ratio);
    pmn_ctier_close(t);
    o.min_ratio = est * 0.99;
    t = open_with(ctx, &o);
    cr_assert_eq(pmn_ctier_demote(t, p, n * ps), 0);
    pmn_ctier_close(t);
    pmn_ctx_unref(ctx);
}

Test(tier, capacity_refused)
{
    const size_t n = MiB / 4096;
    struct pmn_ctx *ctx = ctx_node0_compressed();
    struct pmn_ctier *t = open_tier(ctx, 64 * KiB);
    char *shadow, *p;
    size_t npages;
    struct pmn_ctier_stats st = {.struct_size = sizeof(st)};
    int err;

    npages = n * 4096 / ps;
    p = text_region(npages, 0, &shadow);
    double est = pmn_ctier_estimate(p, npages * ps, 16);
    cr_assert_lt((double)MiB / est, 0.95 * 64 * KiB * 100, "sanity");
    cr_assert_gt((double)MiB / est, 64.0 * KiB, "text compresses %.1f:1: 1 MiB fits 64 KiB", est);
    st = stats(t);
    cr_assert_eq(st.capacity_bytes, 64 * KiB);
    err = pmn_ctier_demote(t, p, npages * ps);
    cr_assert_eq(err, PMN_E_TIER_FULL, "1 MiB of text into 64 KiB: %s", pmn_strerror(err));
    st = stats(t);
    cr_assert_eq(st.refusals, 1);
    cr_assert_eq(st.logical_bytes, 0);
    for (size_t i = 0; i < npages; i += 7)
        poke(p, shadow, i, 3, '#');
    cr_assert_eq(stats(t).write_promotions, 0);
    assert_intact(p, shadow, npages, "refused for capacity");
    pmn_ctier_close(t);
    pmn_ctx_unref(ctx);
}

/* Chunks go in until the guard says full, and the tier ends exactly at the
 * boundary: every accepted chunk fits under capacity - reserve, the refused
 * one would not have. */
Test(tier, capacity_fills_to_the_boundary)
{
    const uint64_t cap = 64 * KiB;
    const size_t chunk = 8;
    struct pmn_ctx *ctx = ctx_node0_compressed();
    struct pmn_ctier *t = open_tier(ctx, cap);
    size_t accepted = 0;
    char *p = text_region(chunk * 64, 0, NULL);
    struct pmn_ctier_stats st = {.struct_size = sizeof(st)};
    int err = 0;

    for (size_t c = 0; c < 64; c++) {
        char *q = p + c * chunk * ps;
        double est = pmn_ctier_estimate(q, chunk * ps, 16);
        double before = (double)stats(t).physical_bytes;

        err = pmn_ctier_demote(t, q, chunk * ps);
        st = stats(t);
        if (err == PMN_E_TIER_FULL) {
            cr_assert_gt(before + (double)(chunk * ps) / est, 0.95 * (double)cap - 1.0,
                         "refused chunk %zu would have fit: %.0f + %.0f <= %.0f", c, before,
                         (double)(chunk * ps) / est, 0.95 * (double)cap);
            cr_assert_eq(st.refusals, 1);
            break;
        }
        cr_assert_eq(err, 0, "chunk %zu: %s", c, pmn_strerror(err));
        accepted++;
        cr_assert_leq((double)st.physical_bytes, 0.95 * (double)cap + 1.0,
                      "chunk %zu overfilled: physical %llu of %llu", c, ull(st.physical_bytes),
                      ull(cap));
    }
    cr_assert_eq(err, PMN_E_TIER_FULL, "64 chunks of text never filled 64 KiB");
    cr_assert_gt(accepted, 0, "not even one chunk fitted");
    /* room again after a promotion */
    cr_assert_eq(pmn_ctier_promote(t, p, chunk * ps, -1), 0);
    err = pmn_ctier_demote(t, p + accepted * chunk * ps, chunk * ps);
    cr_assert_eq(err, 0, "after freeing a chunk: %s", pmn_strerror(err));
    pmn_ctier_close(t);
    pmn_ctx_unref(ctx);
}

/* ---- argument errors ---- */

Test(tier, misaligned_and_bad_ranges)
{
    const size_t n = 8;
    struct pmn_ctx *ctx = ctx_node0_compressed();
    struct pmn_ctier *t = open_tier(ctx, 0);
    char *p = text_region(n, 0, NULL);
    struct pmn_ctier_stats st = {.struct_size = sizeof(st)};

    cr_assert_eq(pmn_ctier_demote(t, p + 1, 4 * ps), -EINVAL);
    cr_assert_eq(pmn_ctier_demote(t, p + 64, 4 * ps), -EINVAL);
    cr_assert_eq(pmn_ctier_demote(t, p, 4 * ps + 1), -EINVAL);
    cr_assert_eq(pmn_ctier_demote(t, p, ps - 1), -EINVAL);
    cr_assert_eq(pmn_ctier_demote(t, p, 0), -EINVAL);
    cr_assert_eq(pmn_ctier_demote(t, NULL, ps), -EINVAL);
    cr_assert_eq(pmn_ctier_demote(NULL, p, ps), -EINVAL);
    cr_assert_eq(pmn_ctier_promote(t, p + 1, ps, -1), -EINVAL);
    cr_assert_eq(pmn_ctier_promote(t, p, ps + 1, -1), -EINVAL);
    cr_assert_eq(pmn_ctier_promote(t, p, ps, 99), PMN_E_NO_NODE);
    cr_assert_eq(pmn_ctier_stats(NULL, &st), -EINVAL);
    cr_assert_eq(pmn_ctier_stats(t, NULL), -EINVAL);
    st = stats(t);
    cr_assert_eq(st.demotions, 0);
    cr_assert_eq(st.logical_bytes, 0);
    /* nothing was protected */
    for (size_t i = 0; i < n; i++)
        poke(p, NULL, i, 0, 'x');
    cr_assert_eq(stats(t).write_promotions, 0);
    pmn_ctier_close(t);
    pmn_ctx_unref(ctx);
}

Test(tier, shared_memory_refused)
{
    const size_t n = 8;
    struct pmn_ctx *ctx = ctx_node0_compressed();
    struct pmn_ctier *t = open_tier(ctx, 0);
    int fd = memfd_create("ctier-test", MFD_CLOEXEC);
    char *p;
    int err;

    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, (off_t)(n * ps)), 0);
    p = mmap(NULL, n * ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    cr_assert_neq(p, MAP_FAILED);
    ctier_fill_text(p, n * ps, ps, 0);
    err = pmn_ctier_demote(t, p, n * ps);
    cr_assert_eq(err, -EINVAL, "shared memfd mapping: %s", pmn_strerror(err));
    cr_assert_eq(stats(t).logical_bytes, 0);
    for (size_t i = 0; i < n; i++)
        poke(p, NULL, i, 0, 'x');
    cr_assert_eq(stats(t).write_promotions, 0);
    pmn_ctier_close(t);
    pmn_ctx_unref(ctx);
}

/* ---- many writers ---- */

struct writer {
    pthread_barrier_t *go;
    char *p, *shadow;
    size_t first, count, off;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;

    pthread_barrier_wait(w->go);
    for (size_t i = w->first; i < w->first + w->count; i++) {
        ((volatile char *)w->p)[i * ps + w->off] = (char)(0x40 + i % 60);
        if (w->shadow)
            w->shadow[i * ps + w->off] = (char)(0x40 + i % 60);
    }
    return NULL;
}

Test(tier, eight_threads_distinct_pages)
{
    const size_t nthreads = 8, per = 16, n = nthreads * per + 8;
    struct pmn_ctx *ctx = ctx_node0_compressed();
    struct pmn_ctier *t = open_tier(ctx, 0);
    char *shadow, *p = text_region(n, 0, &shadow);
    pthread_t th[8];
    struct writer w[8];
    pthread_barrier_t go;
    struct pmn_ctier_stats st = {.struct_size = sizeof(st)};

    cr_assert_eq(pmn_ctier_demote(t, p, n * ps), 0);
    pthread_barrier_init(&go, NULL, (unsigned)nthreads);
    for (size_t k = 0; k < nthreads; k++) {
        /* interleaved: thread k writes pages k, k + 8, ... */
        w[k] = (struct writer){
            .go = &go, .p = p, .shadow = shadow, .first = k * per, .count = per, .off = 11 + k};
        cr_assert_eq(pthread_create(&th[k], NULL, writer_main, &w[k]), 0);
    }
    for (size_t k = 0; k < nthreads; k++)
        pthread_join(th[k], NULL);
    pthread_barrier_destroy(&go);
    st = stats(t);
    cr_assert_eq(st.write_promotions, nthreads * per, "%llu write promotions for %zu pages",
                 ull(st.write_promotions), nthreads * per);
    cr_assert_eq(st.write_failures, 0);
    cr_assert_eq(st.logical_bytes, (n - nthreads * per) * ps);
    assert_intact(p, shadow, n, "8 writers");
    pmn_ctier_close(t);
    pmn_ctx_unref(ctx);
}

Test(tier, eight_threads_one_page)
{
    const size_t nthreads = 8, n = 4;
    struct pmn_ctx *ctx = ctx_node0_compressed();
    struct pmn_ctier *t = open_tier(ctx, 0);
    char *shadow, *p = text_region(n, 0, &shadow);
    pthread_t th[8];
    struct writer w[8];
    pthread_barrier_t go;

    cr_assert_eq(pmn_ctier_demote(t, p, n * ps), 0);
    pthread_barrier_init(&go, NULL, (unsigned)nthreads);
    for (size_t k = 0; k < nthreads; k++) {
        w[k] = (struct writer){
            .go = &go, .p = p, .shadow = shadow, .first = 2, .count = 1, .off = 100 + k};
        cr_assert_eq(pthread_create(&th[k], NULL, writer_main, &w[k]), 0);
    }
    for (size_t k = 0; k < nthreads; k++)
        pthread_join(th[k], NULL);
    pthread_barrier_destroy(&go);
    cr_assert_eq(stats(t).write_promotions, 1, "one page, %llu promotions",
                 ull(stats(t).write_promotions));
    cr_assert_eq(stats(t).logical_bytes, (n - 1) * ps);
    assert_intact(p, shadow, n, "8 writers on one page");
    pmn_ctier_close(t);
    pmn_ctx_unref(ctx);
}

/* ---- with the allocators ---- */

Test(tier, arena_region)
{
    const size_t n = 16;
    struct pmn_ctx *ctx = ctx_node0_compressed();
    struct pmn_ctier *t = open_tier(ctx, 0);
    struct pmn_backing_params *bp;
    struct pmn_backing *b;
    struct pmn_arena *a;
    struct pmn_where w = {.struct_size = sizeof(w)};
    char *p, *shadow = malloc(n * ps);
    int err;

    cr_assert_eq(pmn_backing_params_new(&bp), 0);
    cr_assert_eq(pmn_backing_params_set_type(bp, PMN_BACKING_ANON), 0);
    cr_assert_eq(pmn_backing_params_set_node(bp, 0), 0);
    err = pmn_backing_new(ctx, bp, &b);
    pmn_backing_params_free(bp);
    cr_assert_eq(err, 0, "backing on node 0: %s", pmn_strerror(err));
    cr_assert_eq(pmn_arena_new(b, NULL, &a), 0);
    p = pmn_arena_aligned_alloc(a, ps, n * ps);
    cr_assert_not_null(p);
    ctier_fill_text(p, n * ps, ps, 0);
    memcpy(shadow, p, n * ps);

    err = pmn_ctier_demote(t, p, n * ps);
    cr_assert_eq(err, 0, "demote an arena object: %s", pmn_strerror(err));
    cr_assert_eq(pmn_where(p, n * ps, &w), 0);
    cr_assert_eq(w.pages, n);
    cr_assert_eq(pmn_where_pages_on(&w, 0), n, "%llu of %zu pages on node 0 (the tier)",
                 ull(pmn_where_pages_on(&w, 0)), n);
    cr_assert_eq(stats(t).logical_bytes, n * ps);
    (void)read_all(p, n);
    cr_assert_eq(stats(t).write_promotions, 0);
    poke(p, shadow, 3, 0, 'a');
    poke(p, shadow, 12, 5, 'b');
    cr_assert_eq(stats(t).write_promotions, 2);
    assert_intact(p, shadow, n, "arena object");
    /* a neighbour object in the same arena is untouched by all this */
    char *q = pmn_arena_malloc(a, 1000);
    cr_assert_not_null(q);
    memset(q, 1, 1000);
    cr_assert_eq(stats(t).write_promotions, 2);
    cr_assert_eq(pmn_ctier_promote(t, p, n * ps, -1), 0);
    cr_assert_eq(stats(t).logical_bytes, 0);
    cr_assert_eq(pmn_free(p), 0);
    cr_assert_eq(pmn_free(q), 0);
    pmn_ctier_close(t);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
}

/* ---- stats as JSON ---- */

static bool json_has(const char *json, const char *key, const char *value)
{
    char pat[128];

    snprintf(pat, sizeof(pat), "\"%s\": %s", key, value);
    if (strstr(json, pat))
        return true;
    snprintf(pat, sizeof(pat), "\"%s\":%s", key, value);
    return strstr(json, pat) != NULL;
}

Test(tier, stats_json)
{
    const size_t n = 16;
    struct pmn_ctx *ctx = ctx_node0_compressed();
    struct pmn_ctier *t = open_tier(ctx, 0);
    char *p = text_region(n, 0, NULL), buf[2048], small[16], num[64];
    struct pmn_ctier_stats st = {.struct_size = sizeof(st)};
    const char *py = getenv("PMN_PYTHON");
    int len;

    cr_assert_eq(pmn_ctier_demote(t, p, n * ps), 0);
    poke(p, NULL, 1, 0, 'x');
    st = stats(t);
    len = pmn_ctier_stats_json(&st, buf, sizeof(buf));
    cr_assert(len > 0 && (size_t)len < sizeof(buf), "json length %d", len);
    cr_assert_eq(strlen(buf), (size_t)len);
    cr_assert_eq(pmn_ctier_stats_json(&st, NULL, 0), len);
    cr_assert_eq(pmn_ctier_stats_json(&st, small, sizeof(small)), len);
    cr_assert_eq(strlen(small), sizeof(small) - 1, "truncated output not terminated");
    cr_assert_eq(pmn_ctier_stats_json(NULL, buf, sizeof(buf)), -EINVAL);

    cr_assert_eq(buf[0], '{');
    cr_assert_eq(buf[len - 1], '}');
    const struct {
        const char *k;
        uint64_t v;
    } keys[] = {
        {"logical_bytes", st.logical_bytes},
        {"physical_bytes", st.physical_bytes},
        {"capacity_bytes", st.capacity_bytes},
        {"demotions", st.demotions},
        {"demoted_pages", st.demoted_pages},
        {"promotions", st.promotions},
        {"write_promotions", st.write_promotions},
        {"write_failures", st.write_failures},
        {"refusals", st.refusals},
        {"returned_pages", st.returned_pages},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        snprintf(num, sizeof(num), "%llu", ull(keys[i].v));
        cr_assert(json_has(buf, keys[i].k, num), "\"%s\": %s missing in %s", keys[i].k, num, buf);
    }
    cr_assert(strstr(buf, "\"ratio\""), "no ratio in %s", buf);

    if (py != NULL && *py) {
        char cmd[4096], path[] = "/tmp/ctier-json-XXXXXX";
        int fd = mkstemp(path);
        cr_assert_geq(fd, 0);
        cr_assert_eq(write(fd, buf, (size_t)len), len);
        close(fd);
        snprintf(
            cmd, sizeof(cmd),
            "'%s' -c 'import json,sys\n"
            "d = json.load(open(sys.argv[1]))\n"
            "assert isinstance(d, dict), d\n"
            "want = {\"logical_bytes\": %llu, \"write_promotions\": %llu, \"demotions\": %llu,"
            " \"demoted_pages\": %llu, \"refusals\": %llu}\n"
            "for k, v in want.items():\n"
            "    assert d[k] == v, (k, d[k], v)\n"
            "assert abs(d[\"ratio\"] - %.6f) < 0.01, d[\"ratio\"]\n"
            "for k, v in d.items():\n"
            "    assert isinstance(v, (int, float)) and v >= 0, (k, v)\n' '%s'",
            py, ull(st.logical_bytes), ull(st.write_promotions), ull(st.demotions),
            ull(st.demoted_pages), ull(st.refusals), st.ratio, path);
        int rc = system(cmd);
        unlink(path);
        cr_assert_eq(rc, 0, "python3 rejected %s", buf);
    }
    pmn_ctier_close(t);
    pmn_ctx_unref(ctx);
}

/* ---- closing ---- */

/* Everything in a child under alarm(10): a write that never returns ends
 * the child with SIGALRM and the test fails instead of hanging. */
static void in_child(void (*fn)(void), const char *what)
{
    int status;
    pid_t pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        alarm(10);
        fn();
        _exit(0);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
        cr_skip_test("no userfaultfd write-protection here");
    cr_assert(!WIFSIGNALED(status), "%s: child killed by signal %d%s", what, WTERMSIG(status),
              WTERMSIG(status) == SIGALRM ? " (a write hung)" : "");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: child exit %d", what,
              WEXITSTATUS(status));
}

#define CHILD_CHECK(cond)                                              \
    do {                                                               \
        if (!(cond)) {                                                 \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); \
            _exit(1);                                                  \
        }                                                              \
    } while (0)

/* In a child: a context with node 0 declared compressed, and a tier on
 * it with write control @wc (exit 77 when this host cannot give it). */
static struct pmn_ctx *child_ctx(void)
{
    struct pmn_ctx_params *pp;
    struct pmn_ctx *ctx;

    CHILD_CHECK(pmn_ctx_params_new(&pp) == 0);
    CHILD_CHECK(pmn_ctx_params_set_root(pp, "/") == 0);
    CHILD_CHECK(pmn_ctx_params_set_flags(pp, PMN_CTX_IGNORE_ENV | PMN_CTX_NO_CONFIG) == 0);
    CHILD_CHECK(pmn_ctx_params_set_node_kind(pp, 0, PMN_KIND_COMPRESSED) == 0);
    CHILD_CHECK(pmn_ctx_new_params(&ctx, pp) == 0);
    pmn_ctx_params_free(pp);
    return ctx;
}

static struct pmn_ctier *child_tier(struct pmn_ctx *ctx, enum pmn_ctier_wc wc)
{
    struct pmn_ctier_opts o = opts_node0(0);
    struct pmn_ctier *t;
    int err;

    o.write_control = wc;
    err = pmn_ctier_open(ctx, &o, &t);
    if (err == PMN_E_NO_WRITE_CONTROL)
        _exit(77);
    CHILD_CHECK(err == 0);
    return t;
}

/* In a child: @n text pages of private anonymous memory, no THP. */
static char *child_text(size_t n, size_t first)
{
    char *p = mmap(NULL, n * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    CHILD_CHECK(p != MAP_FAILED);
    madvise(p, n * ps, MADV_NOHUGEPAGE);
    ctier_fill_text(p, n * ps, ps, first);
    return p;
}

static void close_then_write(void)
{
    const size_t n = 32;
    struct pmn_ctx_params *pp;
    struct pmn_ctx *ctx;
    struct pmn_ctier_opts o = opts_node0(0);
    struct pmn_ctier *t;
    char *p, *shadow;
    int err;

    CHILD_CHECK(pmn_ctx_params_new(&pp) == 0);
    CHILD_CHECK(pmn_ctx_params_set_root(pp, "/") == 0);
    CHILD_CHECK(pmn_ctx_params_set_flags(pp, PMN_CTX_IGNORE_ENV | PMN_CTX_NO_CONFIG) == 0);
    CHILD_CHECK(pmn_ctx_params_set_node_kind(pp, 0, PMN_KIND_COMPRESSED) == 0);
    CHILD_CHECK(pmn_ctx_new_params(&ctx, pp) == 0);
    pmn_ctx_params_free(pp);
    err = pmn_ctier_open(ctx, &o, &t);
    if (err == PMN_E_NO_WRITE_CONTROL)
        _exit(77);
    CHILD_CHECK(err == 0);
    p = mmap(NULL, n * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHILD_CHECK(p != MAP_FAILED);
    madvise(p, n * ps, MADV_NOHUGEPAGE);
    ctier_fill_text(p, n * ps, ps, 0);
    shadow = malloc(n * ps);
    CHILD_CHECK(shadow != NULL);
    memcpy(shadow, p, n * ps);
    CHILD_CHECK(pmn_ctier_demote(t, p, n * ps) == 0);
    p[5 * ps] = 'w'; /* one promoted before close */
    shadow[5 * ps] = 'w';
    pmn_ctier_close(t);
    for (size_t i = 0; i < n; i++) {
        ((volatile char *)p)[i * ps + 7] = 'c';
        shadow[i * ps + 7] = 'c';
    }
    CHILD_CHECK(memcmp(p, shadow, n * ps) == 0);
    pmn_ctx_unref(ctx);
}

Test(tier, close_leaves_pages_writable)
{
    in_child(close_then_write, "write after close");
}

/* ---- fork (a tier is its opener's) ----
 *
 * A tier's userfaultfd and handler thread act on the memory of the process
 * that opened it.  A forked child's close must leave them alone: it lifted
 * the parent's write control and stopped the parent's handler, so the
 * parent's next write to a page demoted after that waited for ever.  In
 * the child, demote and promote answer -ECHILD (a demote there
 * write-protected the parent's pages). */
static enum pmn_ctier_wc fork_wc;

static void fork_then_child_closes(void)
{
    const size_t n = 16;
    struct pmn_ctx *ctx = child_ctx();
    struct pmn_ctier *t = child_tier(ctx, fork_wc);
    struct pmn_ctier_stats st = {.struct_size = sizeof(st)};
    char *p = child_text(n, 0), *q = child_text(n, 100);
    int status;
    pid_t pid;

    CHILD_CHECK(pmn_ctier_demote(t, p, n * ps) == 0);
    pid = fork();
    CHILD_CHECK(pid >= 0);
    if (pid == 0) {
        CHILD_CHECK(pmn_ctier_demote(t, q, n * ps) == -ECHILD);
        CHILD_CHECK(pmn_ctier_promote(t, p, n * ps, 0) == -ECHILD);
        p[3 * ps] = 'k'; /* the child's own copy */
        pmn_ctier_close(t);
        p[4 * ps] = 'k';
        _exit(0);
    }
    CHILD_CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The parent's tier still controls writes and still has its handler. */
    p[0] = 'w';
    CHILD_CHECK(pmn_ctier_stats(t, &st) == 0 && st.write_promotions == 1);
    CHILD_CHECK(p[3 * ps] != 'k' && p[4 * ps] != 'k');
    CHILD_CHECK(pmn_ctier_demote(t, q, n * ps) == 0);
    q[0] = 'w'; /* hung here, at the child's alarm, when the handler was gone */
    CHILD_CHECK(pmn_ctier_stats(t, &st) == 0 && st.write_promotions == 2);
    pmn_ctier_close(t);
    pmn_ctx_unref(ctx);
}

static void fork_uffd(void)
{
    fork_wc = PMN_CTIER_WC_UFFD;
    fork_then_child_closes();
}

static void fork_mprotect(void)
{
    fork_wc = PMN_CTIER_WC_MPROTECT;
    fork_then_child_closes();
}

Test(tier, forked_child_leaves_the_parents_tier_alone_uffd)
{
    in_child(fork_uffd, "fork, userfaultfd");
}

Test(tier, forked_child_leaves_the_parents_tier_alone_mprotect)
{
    in_child(fork_mprotect, "fork, mprotect");
}

/* A fork while another thread is inside the tier (a demotion or a
 * promotion holds its lock): in mprotect mode the child's first write to a
 * page the tier protects runs the SIGSEGV handler, which takes that lock.
 * Nothing held it across fork, so a child forked in the middle hung on its
 * first write.  The library now holds every tier's lock across fork. */
static struct {
    struct pmn_ctier *t;
    char *q;
    size_t n;
    atomic_bool stop;
} busy;

static void *busy_loop(void *arg)
{
    (void)arg;
    while (!atomic_load(&busy.stop)) {
        (void)pmn_ctier_demote(busy.t, busy.q, busy.n * ps);
        (void)pmn_ctier_promote(busy.t, busy.q, busy.n * ps, 0);
    }
    return NULL;
}

static int write_demoted(int i, void *arg)
{
    char *p = arg;

    p[(size_t)(i % 16) * ps] = 'k'; /* hung here */
    return 0;
}

static void fork_while_tier_busy(void)
{
    const size_t n = 16;
    struct pmn_ctx *ctx = child_ctx();
    char *p = child_text(n, 0);
    pthread_t tid;
    int hung, failed;

    busy.t = child_tier(ctx, PMN_CTIER_WC_MPROTECT);
    busy.n = 64;
    busy.q = child_text(busy.n, 100);
    CHILD_CHECK(pmn_ctier_demote(busy.t, p, n * ps) == 0);
    CHILD_CHECK(pthread_create(&tid, NULL, busy_loop, NULL) == 0);
    CHILD_CHECK(fork_children(100, 3, write_demoted, p, &hung, &failed) == 0);
    atomic_store(&busy.stop, true);
    pthread_join(tid, NULL);
    if (hung)
        fprintf(stderr, "a forked child's write to a demoted page hung\n");
    CHILD_CHECK(hung == 0 && failed == 0);
    pmn_ctier_close(busy.t);
    pmn_ctx_unref(ctx);
}

Test(tier, forked_while_the_tier_is_busy, .timeout = 120)
{
    in_child(fork_while_tier_busy, "fork while demoting");
}

/* A program that ignores SIGSEGV is killed by a fault that is not the
 * tier's, as without it (the kernel forces the signal): the handler used
 * to return for SIG_IGN, and the fault repeated for ever. */
static void ignored_segv_still_kills(void)
{
    struct pmn_ctx *ctx;
    char *ro = mmap(NULL, ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    CHILD_CHECK(ro != MAP_FAILED);
    signal(SIGSEGV, SIG_IGN); /* before the tier: its handler passes faults on to this */
    ctx = child_ctx();
    (void)child_tier(ctx, PMN_CTIER_WC_MPROTECT);
    ((volatile char *)ro)[0] = 1;
    _exit(3); /* not reached */
}

Test(tier, ignored_segv_still_kills)
{
    int status;
    pid_t pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        alarm(10);
        ignored_segv_still_kills();
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
              "status %#x: not killed by SIGSEGV%s", status,
              WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? " (the fault repeated)" : "");
}

/* ---- closing while writers fault (issue 13) ----
 *
 * Three threads write into demoted pages, pass after pass, while the main
 * thread closes the tier; they carry on for a pass after the close.  Every
 * write must land, nothing may crash or hang, and every page is writable
 * after close.  In mprotect mode a fault's SIGSEGV handler may be running
 * on the tier close is freeing (it crashed there, 5 runs of 5); in
 * userfaultfd mode writers wait in the kernel while close unprotects.  Each
 * child repeats it CLOSE_ROUNDS times, closing at a different moment. */
#define CLOSE_ROUNDS 60
#define CLOSE_WRITERS 3

static void close_under_writers(enum pmn_ctier_wc wc)
{
    const size_t n = 96;
    struct pmn_ctx *ctx = child_ctx();
    char *shadow = malloc(n * ps);

    CHILD_CHECK(shadow != NULL);
    for (unsigned round = 0; round < CLOSE_ROUNDS; round++) {
        struct close_writer w[CLOSE_WRITERS];
        pthread_t th[CLOSE_WRITERS];
        pthread_barrier_t go;
        atomic_int closed = 0;
        struct pmn_ctier *t = child_tier(ctx, wc);
        char *p = child_text(n, round);

        memcpy(shadow, p, n * ps);
        CHILD_CHECK(pmn_ctier_demote(t, p, n * ps) == 0);
        CHILD_CHECK(pthread_barrier_init(&go, NULL, CLOSE_WRITERS + 1) == 0);
        for (size_t k = 0; k < CLOSE_WRITERS; k++) {
            w[k] = (struct close_writer){
                .p = p, .n = n, .k = k, .page = ps, .closed = &closed, .go = &go};
            CHILD_CHECK(pthread_create(&th[k], NULL, close_writer_main, &w[k]) == 0);
        }
        pthread_barrier_wait(&go);
        if (round % 4)
            usleep(round * 37 % 400); /* close early, late, or in between */
        pmn_ctier_close(t);
        atomic_store(&closed, 1);
        for (size_t k = 0; k < CLOSE_WRITERS; k++)
            CHILD_CHECK(pthread_join(th[k], NULL) == 0);
        pthread_barrier_destroy(&go);
        /* the writes landed, nothing else changed, and the main thread writes freely */
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < CLOSE_WRITERS; k++)
                shadow[i * ps + 64 + k] = p[i * ps + 64 + k];
        CHILD_CHECK(memcmp(p, shadow, n * ps) == 0);
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < CLOSE_WRITERS; k++)
                CHILD_CHECK(p[i * ps + 64 + k] >= 'a' && p[i * ps + 64 + k] <= 'z');
        for (size_t i = 0; i < n; i++)
            ((volatile char *)p)[i * ps] = 'm';
        munmap(p, n * ps);
    }
    pmn_ctx_unref(ctx);
    free(shadow);
}

static void close_under_writers_mprotect(void)
{
    close_under_writers(PMN_CTIER_WC_MPROTECT);
}

static void close_under_writers_uffd(void)
{
    close_under_writers(PMN_CTIER_WC_UFFD);
}

Test(tier, close_while_writers_fault_mprotect)
{
    in_child(close_under_writers_mprotect, "close while 3 threads write (mprotect)");
}

Test(tier, close_while_writers_fault_uffd)
{
    in_child(close_under_writers_uffd, "close while 3 threads write (userfaultfd)");
}

/* ---- the program discards memory while others write (0.10) ----
 *
 * A thread that discards registered memory (madvise MADV_DONTNEED, as
 * free() does with the pages it gives back) or unmaps it waits in the
 * kernel until the tier's handler thread reads its event, and until then
 * every change of write protection answers EAGAIN.  Before 0.10 the
 * handler, lifting a written page's protection, retried that EAGAIN for
 * ever without reading the event: the writer, the discarding thread and
 * the handler (one CPU at 100 %) waited for one another, in the first
 * round.  Here one thread writes every page of a demoted region and
 * demotes it again, round after round, while another demotes and discards
 * a second region, and (userfaultfd only: the mprotect fallback does not
 * see unmaps) a third maps, demotes and unmaps a third: all must finish,
 * every write in place. */
#define DISCARD_PAGES 64
#define DISCARD_ROUNDS 40

struct discard_job {
    struct pmn_ctier *t;
    char *p;
    atomic_int *failed;
};

static void *discard_writer(void *arg)
{
    struct discard_job *j = arg;

    for (int r = 0; r < DISCARD_ROUNDS; r++) {
        for (size_t i = 0; i < DISCARD_PAGES; i++)
            j->p[i * ps + 8] = (char)('a' + r % 26);
        for (size_t i = 0; i < DISCARD_PAGES; i++)
            if (j->p[i * ps + 8] != (char)('a' + r % 26))
                atomic_store(j->failed, 1);
        if (pmn_ctier_demote(j->t, j->p, DISCARD_PAGES * ps) != 0)
            atomic_store(j->failed, 2);
    }
    return NULL;
}

static void *discard_discarder(void *arg)
{
    struct discard_job *j = arg;

    for (int r = 0; r < DISCARD_ROUNDS * 4; r++) {
        ctier_fill_text(j->p, DISCARD_PAGES * ps, ps, (size_t)r);
        if (pmn_ctier_demote(j->t, j->p, DISCARD_PAGES * ps) != 0)
            atomic_store(j->failed, 3);
        if (madvise(j->p, DISCARD_PAGES * ps, MADV_DONTNEED) != 0)
            atomic_store(j->failed, 4);
    }
    return NULL;
}

static void *discard_unmapper(void *arg)
{
    struct discard_job *j = arg;

    for (int r = 0; r < DISCARD_ROUNDS * 4; r++) {
        char *p = mmap(NULL, DISCARD_PAGES * ps, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (p == MAP_FAILED) {
            atomic_store(j->failed, 5);
            break;
        }
        madvise(p, DISCARD_PAGES * ps, MADV_NOHUGEPAGE);
        ctier_fill_text(p, DISCARD_PAGES * ps, ps, (size_t)r);
        if (pmn_ctier_demote(j->t, p, DISCARD_PAGES * ps) != 0)
            atomic_store(j->failed, 6);
        munmap(p, DISCARD_PAGES * ps);
    }
    return NULL;
}

static void writes_while_discarding(enum pmn_ctier_wc wc)
{
    struct pmn_ctx *ctx = child_ctx();
    struct pmn_ctier *t = child_tier(ctx, wc);
    struct pmn_ctier_stats st = {.struct_size = sizeof(st)};
    atomic_int failed = 0;
    struct discard_job w = {t, child_text(DISCARD_PAGES, 0), &failed};
    struct discard_job d = {t, child_text(DISCARD_PAGES, 7), &failed};
    struct discard_job u = {t, NULL, &failed};
    pthread_t tw, td, tu;

    CHILD_CHECK(pmn_ctier_demote(t, w.p, DISCARD_PAGES * ps) == 0);
    CHILD_CHECK(pthread_create(&tw, NULL, discard_writer, &w) == 0);
    CHILD_CHECK(pthread_create(&td, NULL, discard_discarder, &d) == 0);
    /* The mprotect fallback does not see unmaps (pmn_ctier(3)): a new
     * mapping at a freed address would meet the old range there. */
    if (wc != PMN_CTIER_WC_MPROTECT)
        CHILD_CHECK(pthread_create(&tu, NULL, discard_unmapper, &u) == 0);
    CHILD_CHECK(pthread_join(tw, NULL) == 0);
    CHILD_CHECK(pthread_join(td, NULL) == 0);
    if (wc != PMN_CTIER_WC_MPROTECT)
        CHILD_CHECK(pthread_join(tu, NULL) == 0);
    if (atomic_load(&failed))
        fprintf(stderr, "step %d failed\n", atomic_load(&failed));
    CHILD_CHECK(atomic_load(&failed) == 0);
    CHILD_CHECK(pmn_ctier_stats(t, &st) == 0);
    /* Every page of the written region was written back in every round. */
    CHILD_CHECK(st.write_promotions >= (uint64_t)DISCARD_PAGES * DISCARD_ROUNDS);
    pmn_ctier_close(t);
    pmn_ctx_unref(ctx);
}

static void writes_while_discarding_uffd(void)
{
    writes_while_discarding(PMN_CTIER_WC_UFFD);
}

static void writes_while_discarding_mprotect(void)
{
    writes_while_discarding(PMN_CTIER_WC_MPROTECT);
}

Test(tier, writes_while_another_thread_discards_uffd)
{
    in_child(writes_while_discarding_uffd, "writes while another thread discards (userfaultfd)");
}

Test(tier, writes_while_another_thread_discards_mprotect)
{
    in_child(writes_while_discarding_mprotect, "writes while another thread discards (mprotect)");
}

/* ---- demoted memory moved by mremap (0.10) ----
 *
 * glibc's realloc of a large block moves it with mremap(2).  With
 * userfaultfd the tier follows the move (the kernel's remap event): the
 * pages stay demoted at their new address, a write there promotes its page,
 * and promote and the counters name the new addresses.  Before 0.10 the
 * moved pages silently lost their protection: writes landed on the
 * compressed node, uncounted.  (The mprotect fallback cannot see the move:
 * pmn_ctier(3) says to promote first.) */
static void remapped(void)
{
    const size_t n = 16;
    struct pmn_ctx *ctx = child_ctx();
    struct pmn_ctier *t = child_tier(ctx, PMN_CTIER_WC_UFFD);
    struct pmn_ctier_stats st = {.struct_size = sizeof(st)};
    char *p = child_text(n, 0), *hole, *q, *shadow = malloc(n * ps);
    uint64_t logical;

    CHILD_CHECK(shadow != NULL);
    memcpy(shadow, p, n * ps);
    CHILD_CHECK(pmn_ctier_demote(t, p, n * ps) == 0);
    CHILD_CHECK(pmn_ctier_stats(t, &st) == 0);
    logical = st.logical_bytes;
    CHILD_CHECK(logical == n * ps);
    /* Somewhere else, for certain: a reserved hole, the range moved into it. */
    hole = mmap(NULL, 2 * n * ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHILD_CHECK(hole != MAP_FAILED);
    q = mremap(p, n * ps, n * ps, MREMAP_MAYMOVE | MREMAP_FIXED, hole + n * ps);
    CHILD_CHECK(q == hole + n * ps);
    CHILD_CHECK(memcmp(q, shadow, n * ps) == 0);
    CHILD_CHECK(pmn_ctier_stats(t, &st) == 0);
    CHILD_CHECK(st.logical_bytes == logical); /* still on the tier, at q now */
    /* A write at the new address promotes its page, as at the old one. */
    q[3 * ps + 5] = 'Z';
    shadow[3 * ps + 5] = 'Z';
    CHILD_CHECK(pmn_ctier_stats(t, &st) == 0);
    if (st.write_promotions != 1)
        fprintf(stderr, "write promotions %llu, want 1\n", ull(st.write_promotions));
    CHILD_CHECK(st.write_promotions == 1);
    CHILD_CHECK(st.logical_bytes == logical - ps);
    /* Promote names the new addresses; everything comes back intact. */
    CHILD_CHECK(pmn_ctier_promote(t, q, n * ps, -1) == 0);
    CHILD_CHECK(pmn_ctier_stats(t, &st) == 0);
    CHILD_CHECK(st.logical_bytes == 0);
    CHILD_CHECK(memcmp(q, shadow, n * ps) == 0);
    /* And the range can be demoted again where it is now. */
    CHILD_CHECK(pmn_ctier_demote(t, q, n * ps) == 0);
    /* Part of a range moves: pages 4-7 of q into the hole's first half;
     * q keeps the rest, each side counted once. */
    CHILD_CHECK(mremap(q + 4 * ps, 4 * ps, 4 * ps, MREMAP_MAYMOVE | MREMAP_FIXED, hole) == hole);
    CHILD_CHECK(memcmp(hole, shadow + 4 * ps, 4 * ps) == 0);
    CHILD_CHECK(pmn_ctier_stats(t, &st) == 0);
    CHILD_CHECK(st.logical_bytes == n * ps);
    hole[ps] = 'Y'; /* page 5 of old */
    CHILD_CHECK(pmn_ctier_stats(t, &st) == 0);
    CHILD_CHECK(st.write_promotions == 2 && st.logical_bytes == (n - 1) * ps);
    CHILD_CHECK(pmn_ctier_promote(t, hole, 4 * ps, -1) == 0);
    CHILD_CHECK(pmn_ctier_stats(t, &st) == 0);
    CHILD_CHECK(st.logical_bytes == (n - 4) * ps);
    CHILD_CHECK(pmn_ctier_promote(t, q, 4 * ps, -1) == 0);
    CHILD_CHECK(pmn_ctier_promote(t, q + 8 * ps, (n - 8) * ps, -1) == 0);
    CHILD_CHECK(pmn_ctier_stats(t, &st) == 0);
    CHILD_CHECK(st.logical_bytes == 0);
    pmn_ctier_close(t);
    CHILD_CHECK(munmap(hole, 2 * n * ps) == 0);
    free(shadow);
    pmn_ctx_unref(ctx);
}

Test(tier, mremap_moves_demoted_pages_uffd)
{
    in_child(remapped, "mremap of demoted memory (userfaultfd)");
}

/* ---- a discard or a move, then demote or promote at once (0.10.1) ----
 *
 * munmap, madvise(MADV_DONTNEED) and mremap return once the tier's
 * handler thread has read their event, before it has applied it; while
 * another thread holds the tier's lock (a long demote) it cannot.  A
 * demote right after a discard was then undone by the discard's event
 * applied afterwards: the page stayed on the compressed node, out of the
 * books (here: 19 runs in 20 on 0.10.0, logical_bytes one page short),
 * and promote never brought it back.  A promote right after a move found
 * nothing at the new address.  Demote, promote and stats now wait until
 * the handler has applied what it read. */
static struct pmn_ctier *busy_tier;
static char *busy_mem;
static const size_t busy_len = (size_t)32 << 20;

static void *busy_demote(void *arg)
{
    (void)arg;
    CHILD_CHECK(pmn_ctier_demote(busy_tier, busy_mem, busy_len) == 0);
    return NULL;
}

static void settled(void)
{
    const size_t n = 4;
    struct pmn_ctx *ctx = child_ctx();
    struct pmn_ctier *t = child_tier(ctx, PMN_CTIER_WC_UFFD);
    struct pmn_ctier_stats st = {.struct_size = sizeof(st)};
    char *p = child_text(n, 0), *hole;
    pthread_t th;

    busy_tier = t;
    busy_mem = child_text(busy_len / ps, 100);
    hole = mmap(NULL, n * ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHILD_CHECK(hole != MAP_FAILED);
    for (int round = 0; round < 8; round++) {
        char *q;

        /* Demote after a discard: pages 1-3 stay demoted, page 0 came back
         * by a write, is discarded, written anew and demoted again. */
        CHILD_CHECK(pmn_ctier_demote(t, p, n * ps) == 0);
        p[0] = 'w';
        CHILD_CHECK(pthread_create(&th, NULL, busy_demote, NULL) == 0);
        usleep(2000); /* the busy demote holds the lock */
        CHILD_CHECK(madvise(p, ps, MADV_DONTNEED) == 0);
        memset(p, 'n', ps);
        CHILD_CHECK(pmn_ctier_demote(t, p, ps) == 0);
        CHILD_CHECK(pthread_join(th, NULL) == 0);
        usleep(3000); /* the discard's event, had it waited, is applied by now */
        CHILD_CHECK(pmn_ctier_stats(t, &st) == 0);
        if (st.logical_bytes != n * ps + busy_len)
            fprintf(stderr, "round %d: logical %llu, want %llu\n", round, ull(st.logical_bytes),
                    ull(n * ps + busy_len));
        CHILD_CHECK(st.logical_bytes == n * ps + busy_len);
        CHILD_CHECK(pmn_ctier_promote(t, busy_mem, busy_len, -1) == 0);

        /* Promote after a move: the range goes into the hole and back out. */
        CHILD_CHECK(pthread_create(&th, NULL, busy_demote, NULL) == 0);
        usleep(2000);
        q = mremap(p, n * ps, n * ps, MREMAP_MAYMOVE | MREMAP_FIXED, hole);
        CHILD_CHECK(q == hole);
        CHILD_CHECK(pmn_ctier_promote(t, q, n * ps, -1) == 0);
        CHILD_CHECK(pthread_join(th, NULL) == 0);
        usleep(3000);
        CHILD_CHECK(pmn_ctier_stats(t, &st) == 0);
        if (st.logical_bytes != busy_len)
            fprintf(stderr, "round %d: after the move and promote, logical %llu, want %llu\n",
                    round, ull(st.logical_bytes), ull(busy_len));
        CHILD_CHECK(st.logical_bytes == busy_len);
        CHILD_CHECK(pmn_ctier_promote(t, busy_mem, busy_len, -1) == 0);
        /* Back where it was (the hole's old place is free again). */
        p = mremap(q, n * ps, n * ps, MREMAP_MAYMOVE);
        CHILD_CHECK(p != MAP_FAILED);
        hole = mmap(NULL, n * ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHILD_CHECK(hole != MAP_FAILED);
    }
    pmn_ctier_close(t);
    pmn_ctx_unref(ctx);
}

Test(tier, demote_or_promote_right_after_a_discard_or_move_uffd, .timeout = 120)
{
    in_child(settled, "demote after a discard, promote after a move (userfaultfd)");
}

/* ---- a program that keeps changing demoted memory (0.10.1) ----
 *
 * Random demotes, promotes, writes, reads and (userfaultfd) discards,
 * unmaps and moves, one after another, against a model of which pages
 * the tier holds: after every step logical_bytes is exactly that, and
 * the memory equals its shadow.  Demote answers -EBUSY exactly when a
 * page of its range is still held.  The mprotect fallback sees neither
 * discards nor unmaps nor moves (pmn_ctier(3)), so it gets the rest. */
static enum pmn_ctier_wc churn_wc;

static void churn(void)
{
    const size_t n = 48;
    struct pmn_ctx *ctx = child_ctx();
    struct pmn_ctier *t = child_tier(ctx, churn_wc);
    struct pmn_ctier_stats st = {.struct_size = sizeof(st)};
    char *p = child_text(n, 0), *shadow = malloc(n * ps), *hole;
    /* data: the page holds data (demote moves only such pages) */
    bool held[48] = {false}, data[48], uffd = churn_wc == PMN_CTIER_WC_UFFD;
    unsigned seed = 777;

    CHILD_CHECK(shadow != NULL);
    memcpy(shadow, p, n * ps);
    memset(data, 1, sizeof(data));
    hole = mmap(NULL, n * ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHILD_CHECK(hole != MAP_FAILED);
    for (int step = 0; step < 600; step++) {
        unsigned r = (unsigned)rand_r(&seed);
        size_t a = r % n, k = 1 + (r / n) % 8, held_now = 0;
        int op = (int)((r / 512) % (uffd ? 8 : 5)), err;
        bool busy = false;

        if (a + k > n)
            k = n - a;
        switch (op) {
        case 0:
        case 1: /* demote */
            for (size_t i = a; i < a + k; i++)
                busy |= held[i];
            err = pmn_ctier_demote(t, p + a * ps, k * ps);
            if (err != (busy ? -EBUSY : 0))
                fprintf(stderr, "step %d: demote %zu+%zu: %s (busy %d)\n", step, a, k,
                        pmn_strerror(err), busy);
            CHILD_CHECK(err == (busy ? -EBUSY : 0));
            for (size_t i = a; i < a + k && !busy; i++)
                held[i] = data[i];
            break;
        case 2: /* promote */
            CHILD_CHECK(pmn_ctier_promote(t, p + a * ps, k * ps, -1) == 0);
            for (size_t i = a; i < a + k; i++)
                held[i] = false;
            break;
        case 3: /* a write: its page comes back */
            p[a * ps + r % ps] = (char)step;
            shadow[a * ps + r % ps] = (char)step;
            held[a] = false;
            data[a] = true;
            break;
        case 4: /* reads change nothing */
            CHILD_CHECK(memcmp(p + a * ps, shadow + a * ps, k * ps) == 0);
            break;
        case 5: /* a discard, as free() does: zeros, off the tier */
            CHILD_CHECK(madvise(p + a * ps, k * ps, MADV_DONTNEED) == 0);
            memset(shadow + a * ps, 0, k * ps);
            for (size_t i = a; i < a + k; i++)
                held[i] = data[i] = false;
            break;
        case 6: /* unmapped and mapped anew */
            CHILD_CHECK(mmap(p + a * ps, k * ps, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == p + a * ps);
            madvise(p + a * ps, k * ps, MADV_NOHUGEPAGE);
            memset(shadow + a * ps, 0, k * ps);
            for (size_t i = a; i < a + k; i++)
                held[i] = data[i] = false;
            break;
        default: /* a page moved away and back (mremap moves within one mapping,
                  * and demotes split them): the tier follows */
            k = 1;
            CHILD_CHECK(mremap(p + a * ps, k * ps, k * ps, MREMAP_MAYMOVE | MREMAP_FIXED, hole) ==
                        hole);
            CHILD_CHECK(mremap(hole, k * ps, k * ps, MREMAP_MAYMOVE | MREMAP_FIXED, p + a * ps) ==
                        p + a * ps);
            hole = mmap(NULL, n * ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            CHILD_CHECK(hole != MAP_FAILED);
            break;
        }
        for (size_t i = 0; i < n; i++)
            held_now += held[i];
        CHILD_CHECK(pmn_ctier_stats(t, &st) == 0);
        if (st.logical_bytes != held_now * ps)
            fprintf(stderr, "step %d (op %d, %zu+%zu): logical %llu, model %zu pages\n", step, op,
                    a, k, ull(st.logical_bytes), held_now);
        CHILD_CHECK(st.logical_bytes == held_now * ps);
    }
    CHILD_CHECK(memcmp(p, shadow, n * ps) == 0);
    CHILD_CHECK(pmn_ctier_promote(t, p, n * ps, -1) == 0);
    CHILD_CHECK(pmn_ctier_stats(t, &st) == 0);
    CHILD_CHECK(st.logical_bytes == 0);
    CHILD_CHECK(memcmp(p, shadow, n * ps) == 0);
    pmn_ctier_close(t);
    free(shadow);
    pmn_ctx_unref(ctx);
}

static void churn_uffd(void)
{
    churn_wc = PMN_CTIER_WC_UFFD;
    churn();
}

static void churn_mprotect(void)
{
    churn_wc = PMN_CTIER_WC_MPROTECT;
    churn();
}

Test(tier, churn_uffd)
{
    in_child(churn_uffd, "a program that keeps changing demoted memory (userfaultfd)");
}

Test(tier, churn_mprotect)
{
    in_child(churn_mprotect, "a program that keeps changing demoted memory (mprotect)");
}

/* ---- threads writing while another demotes and promotes (0.10.2) ----
 *
 * Writer threads own disjoint pages and write, read, discard and map them
 * anew (discards and new mappings under userfaultfd only: the mprotect
 * fallback sees neither), while the main thread demotes and promotes
 * random ranges across all of them.  At checkpoints the writers park and
 * the books must match the protection exactly: the memory equals its
 * shadow, and one write to every page brings back exactly the pages
 * logical_bytes counted (write_promotions grows by that many) and leaves
 * nothing on the tier.  A page in the books without protection would stay
 * counted; a page protected outside the books would hang its writer.
 *
 * A third case has the writers also move pages away and back (mremap),
 * checked as strictly, except that a held page can also come back
 * without a write there (one the tier could not protect again).  It found
 * (0.10.3) held pages left without protection: a page away when its
 * demote protected the range, back for the move, and away again when the
 * demote protected it after the move; and a page back in its old place
 * before the handler applied its move, whose protection a promote's
 * unregister there took off.  The unsure list in ctier.c follows such
 * pages until they are protected.  With one node nothing really moves
 * here; vm-ctier's churn test asks the same with a second node, where
 * pages also must not stay on the tier outside the books. */
#define CC_WRITERS 3
#define CC_PAGES 60

struct cchurn {
    char *p, *shadow;
    bool uffd, moves;
    _Atomic bool pause, stop;
    pthread_barrier_t parked, resumed;
    _Atomic int failed;
};

struct cwriter {
    struct cchurn *c;
    int k;
    char *hole, text[2][65536];
};

static void *cchurn_writer(void *arg)
{
    struct cwriter *w = arg;
    struct cchurn *c = w->c;
    unsigned seed = 4242u + (unsigned)w->k;
    /* Under userfaultfd: mapped anew, discarded, and in the moves case
     * moved (the default case).  Before 0.10.3 this read 5 in both cases,
     * so the moves case never moved. */
    int ops = c->uffd ? (c->moves ? 6 : 5) : 3;

    while (!atomic_load(&c->stop)) {
        unsigned r = (unsigned)rand_r(&seed);
        size_t i = (size_t)w->k + CC_WRITERS * ((r / 8) % (CC_PAGES / CC_WRITERS));
        char *pg = c->p + i * ps, *sh = c->shadow + i * ps;

        if (atomic_load(&c->pause)) {
            pthread_barrier_wait(&c->parked);
            pthread_barrier_wait(&c->resumed);
            continue;
        }
        switch ((r / 1024) % (unsigned)ops) {
        case 0:
        case 1: { /* a write of 64 bytes of text: the page stays compressible */
            size_t off = ((r >> 3) % (ps / 64)) * 64;
            const char *src = w->text[r % 2] + off;

            for (size_t j = 0; j < 64; j++)
                ((volatile char *)pg)[off + j] = src[j];
            memcpy(sh + off, src, 64);
            break;
        }
        case 2: /* a read */
            if (memcmp(pg, sh, ps) != 0) {
                fprintf(stderr, "writer %d: page %zu differs from its shadow\n", w->k, i);
                atomic_store(&c->failed, 1);
            }
            break;
        case 3: /* mapped anew */
            if (mmap(pg, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
                     0) != pg)
                atomic_store(&c->failed, 1);
            madvise(pg, ps, MADV_NOHUGEPAGE);
            memset(sh, 0, ps);
            break;
        case 4: /* a discard */
            if (madvise(pg, ps, MADV_DONTNEED) != 0)
                atomic_store(&c->failed, 1);
            memset(sh, 0, ps);
            break;
        default: { /* moved away and back (harness.h) */
            const char *what = "";
            int rc = ctier_move_away_and_back(pg, &w->hole, ps, &what);

            if (rc < 0) {
                fprintf(stderr, "writer %d: %s of page %zu: %s\n", w->k, what, i, strerror(errno));
                atomic_store(&c->failed, 1);
            } else if (rc == 1) {
                fprintf(stderr,
                        "writer %d stopped moving its pages: another mapping took its "
                        "scratch address (harness.h)\n",
                        w->k);
            }
            break;
        }
        }
    }
    return NULL;
}

static enum pmn_ctier_wc cchurn_wc;
static bool cchurn_moves;
static void cchurn(void)
{
    struct pmn_ctx *ctx = child_ctx();

    alarm(60); /* in_child's 10 s is tight beside a loaded host's other tests */
    struct pmn_ctier *t = child_tier(ctx, cchurn_wc);
    struct pmn_ctier_stats st = {.struct_size = sizeof(st)};
    struct cchurn c = {.uffd = cchurn_wc == PMN_CTIER_WC_UFFD, .moves = cchurn_moves};
    static struct cwriter w[CC_WRITERS];
    pthread_t tid[CC_WRITERS];
    unsigned seed = 99;
    uint64_t checked = 0, demoted = 0;

    c.p = child_text(CC_PAGES, 0);
    c.shadow = malloc(CC_PAGES * ps);
    CHILD_CHECK(c.shadow != NULL);
    memcpy(c.shadow, c.p, CC_PAGES * ps);
    CHILD_CHECK(pthread_barrier_init(&c.parked, NULL, CC_WRITERS + 1) == 0);
    CHILD_CHECK(pthread_barrier_init(&c.resumed, NULL, CC_WRITERS + 1) == 0);
    for (int k = 0; k < CC_WRITERS; k++) {
        w[k].c = &c;
        w[k].k = k;
        ctier_fill_text_page(w[k].text[0], ps, 1000 + 2 * (size_t)k);
        ctier_fill_text_page(w[k].text[1], ps, 1001 + 2 * (size_t)k);
    }
    {
        /* The pages and every scratch page placed before any writer runs,
         * below free room (harness.h). */
        char *holes[CC_WRITERS];

        c.p = ctier_writers_layout(c.p, CC_PAGES * ps, holes, CC_WRITERS, ps);
        CHILD_CHECK(c.p != NULL);
        for (int k = 0; k < CC_WRITERS; k++)
            w[k].hole = holes[k];
    }
    for (int k = 0; k < CC_WRITERS; k++)
        CHILD_CHECK(pthread_create(&tid[k], NULL, cchurn_writer, &w[k]) == 0);
    for (int step = 1; step <= 600; step++) {
        unsigned r = (unsigned)rand_r(&seed);
        size_t a = r % CC_PAGES, k = 1 + (r / CC_PAGES) % 16;
        int err;

        if (a + k > CC_PAGES)
            k = CC_PAGES - a;
        if ((r / 4096) % 3 != 0) {
            /* -EBUSY: a page of the range is on the tier.  Writers change
             * their mappings meanwhile (userfaultfd only): -EINVAL when a
             * page is between its two moves (a hole), -EAGAIN when one was
             * mapped anew during the call.  Anything else is a failure. */
            err = pmn_ctier_demote(t, c.p + a * ps, k * ps);
            if (err != 0 && err != -EBUSY && !(c.uffd && (err == -EINVAL || err == -EAGAIN)))
                fprintf(stderr, "step %d: demote %zu+%zu: %s\n", step, a, k, pmn_strerror(err));
            CHILD_CHECK(err == 0 || err == -EBUSY ||
                        (c.uffd && (err == -EINVAL || err == -EAGAIN)));
            demoted += err == 0;
        } else {
            err = pmn_ctier_promote(t, c.p + a * ps, k * ps, -1);
            if (err != 0)
                fprintf(stderr, "step %d: promote %zu+%zu: %s\n", step, a, k, pmn_strerror(err));
            CHILD_CHECK(err == 0);
        }
        if (step % 40 != 0)
            continue;
        /* A checkpoint: writers parked, the books against the protection. */
        atomic_store(&c.pause, true);
        pthread_barrier_wait(&c.parked);
        atomic_store(&c.pause, false);
        CHILD_CHECK(atomic_load(&c.failed) == 0);
        CHILD_CHECK(memcmp(c.p, c.shadow, CC_PAGES * ps) == 0);
        CHILD_CHECK(pmn_ctier_stats(t, &st) == 0);
        {
            /* Every held page comes back by its write, or (moves: its
             * mapping lost the registration, ctier.c unheld_back) by the
             * tier itself, counted in returned_pages since 0.11.0. */
            uint64_t held = st.logical_bytes / ps,
                     before = st.write_promotions + st.write_failures + st.returned_pages;

            CHILD_CHECK(st.logical_bytes % ps == 0 && held <= CC_PAGES);
            for (size_t i = 0; i < CC_PAGES; i++) {
                volatile char *b = (volatile char *)c.p + i * ps;
                *b = *b;
            }
            CHILD_CHECK(pmn_ctier_stats(t, &st) == 0);
            uint64_t back = st.write_promotions + st.write_failures + st.returned_pages - before;

            if (st.logical_bytes != 0 || back != held)
                fprintf(stderr,
                        "step %d: %llu pages held; after writing every page, %llu bytes held and "
                        "%llu pages came back\n",
                        step, ull(held), ull(st.logical_bytes), ull(back));
            CHILD_CHECK(st.logical_bytes == 0);
            CHILD_CHECK(back == held);
            checked += held;
        }
        CHILD_CHECK(memcmp(c.p, c.shadow, CC_PAGES * ps) == 0);
        pthread_barrier_wait(&c.resumed);
    }
    atomic_store(&c.stop, true);
    /* Writers parked by a last pause request would wait: none is made after
     * stop, and a writer between its pause test and the barrier cannot be,
     * since pause is only set by this thread above. */
    for (int k = 0; k < CC_WRITERS; k++)
        CHILD_CHECK(pthread_join(tid[k], NULL) == 0);
    CHILD_CHECK(atomic_load(&c.failed) == 0);
    /* Not vacuous: demotes succeeded and checkpoints found pages held. */
    if (demoted < 50 || checked == 0)
        fprintf(stderr, "%llu demotes kept pages, %llu pages held at checkpoints\n", ull(demoted),
                ull(checked));
    CHILD_CHECK(demoted >= 50 && checked > 0);
    CHILD_CHECK(memcmp(c.p, c.shadow, CC_PAGES * ps) == 0);
    if (getenv("PMN_TEST_VERBOSE") != NULL && pmn_ctier_stats(t, &st) == 0)
        fprintf(stderr, "%s%s: %llu demotes kept pages, %llu held at checkpoints, %llu returned\n",
                pmn_ctier_write_control(t), c.moves ? " with moves" : "", ull(demoted),
                ull(checked), ull(st.returned_pages));
    pmn_ctier_close(t);
    free(c.shadow);
    pmn_ctx_unref(ctx);
}

static void cchurn_uffd(void)
{
    cchurn_wc = PMN_CTIER_WC_UFFD;
    cchurn();
}

static void cchurn_uffd_moves(void)
{
    cchurn_wc = PMN_CTIER_WC_UFFD;
    cchurn_moves = true;
    cchurn();
}

static void cchurn_mprotect(void)
{
    cchurn_wc = PMN_CTIER_WC_MPROTECT;
    cchurn();
}

Test(tier, threads_write_while_demoted_and_promoted_uffd, .timeout = 90)
{
    in_child(cchurn_uffd, "threads writing while another demotes and promotes (userfaultfd)");
}

Test(tier, threads_move_while_demoted_and_promoted_uffd, .timeout = 90)
{
    in_child(cchurn_uffd_moves,
             "threads moving memory while another demotes and promotes (userfaultfd)");
}

Test(tier, threads_write_while_demoted_and_promoted_mprotect, .timeout = 90)
{
    in_child(cchurn_mprotect, "threads writing while another demotes and promotes (mprotect)");
}

/* ---- the program's own protection (issue 13) ----
 *
 * The program mprotects pages the tier holds or held.  With userfaultfd the
 * tier's protection is a page-table bit of its own, so the program's
 * protection always holds.  With mprotect the two are one: the tier must
 * still not lift what the program set, and a read or a write the program's
 * protection forbids must reach the program's own SIGSEGV handler (here a
 * catcher installed before the tier, so the tier's handler chains to it).
 * One case cannot be honoured there and is pinned as documented: the
 * program's PROT_READ over a page still on the tier looks exactly like the
 * tier's own, so a write promotes the page and lands. */
static sigjmp_buf catch_env;
static volatile sig_atomic_t catch_armed;

static void catcher(int sig, siginfo_t *si, void *uc)
{
    (void)si;
    (void)uc;
    if (catch_armed)
        siglongjmp(catch_env, 1);
    signal(sig, SIG_DFL);
}

static void install_catcher(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = catcher;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    CHILD_CHECK(sigaction(SIGSEGV, &sa, NULL) == 0);
}

/* Whether reading (or writing @v into) *@a faults. */
static bool faults(char *a, bool write, char v)
{
    catch_armed = 1;
    if (sigsetjmp(catch_env, 1)) {
        catch_armed = 0;
        return true;
    }
    if (write)
        *(volatile char *)a = v;
    else
        (void)*(volatile char *)a;
    catch_armed = 0;
    return false;
}

static void own_protection(enum pmn_ctier_wc wc)
{
    const size_t n = 8;
    struct pmn_ctx *ctx;
    struct pmn_ctier *t;
    struct pmn_ctier_stats st = {.struct_size = sizeof(st)};
    char *p;

    install_catcher(); /* before the tier: its handler chains to this one */
    ctx = child_ctx();
    t = child_tier(ctx, wc);
    p = child_text(n, 0);
    CHILD_CHECK(pmn_ctier_demote(t, p, n * ps) == 0);

    /* page 1, still on the tier, made PROT_NONE: reads and writes fault */
    CHILD_CHECK(mprotect(p + 1 * ps, ps, PROT_NONE) == 0);
    CHILD_CHECK(faults(p + 1 * ps, false, 0));
    CHILD_CHECK(faults(p + 1 * ps, true, 'x'));
    /* page 2 written back, then made read-only: writes fault, reads do not */
    CHILD_CHECK(!faults(p + 2 * ps, true, 'w'));
    CHILD_CHECK(mprotect(p + 2 * ps, ps, PROT_READ) == 0);
    CHILD_CHECK(faults(p + 2 * ps, true, 'x'));
    CHILD_CHECK(!faults(p + 2 * ps, false, 0));
    CHILD_CHECK(p[2 * ps] == 'w');
    /* page 3 made PROT_NONE, then promoted: it stays PROT_NONE */
    CHILD_CHECK(mprotect(p + 3 * ps, ps, PROT_NONE) == 0);
    CHILD_CHECK(pmn_ctier_promote(t, p + 3 * ps, ps, -1) == 0);
    CHILD_CHECK(faults(p + 3 * ps, false, 0));
    /* page 4 still on the tier, made read-only: the documented difference */
    CHILD_CHECK(mprotect(p + 4 * ps, ps, PROT_READ) == 0);
    CHILD_CHECK(pmn_ctier_stats(t, &st) == 0);
    CHILD_CHECK(st.write_promotions == 1);
    if (wc == PMN_CTIER_WC_MPROTECT) {
        CHILD_CHECK(!faults(p + 4 * ps, true, 'y')); /* taken for the tier's protection */
        CHILD_CHECK(pmn_ctier_stats(t, &st) == 0);
        CHILD_CHECK(st.write_promotions == 2);
    } else {
        CHILD_CHECK(faults(p + 4 * ps, true, 'y'));
    }
    /* pages 5 and 6 on the tier, 5 made PROT_NONE: close leaves it so, and
     * lifts the tier's own protection from 6 */
    CHILD_CHECK(mprotect(p + 5 * ps, ps, PROT_NONE) == 0);
    pmn_ctier_close(t);
    CHILD_CHECK(faults(p + 5 * ps, false, 0));
    CHILD_CHECK(!faults(p + 6 * ps, true, 'z'));
    CHILD_CHECK(faults(p + 1 * ps, false, 0));
    CHILD_CHECK(faults(p + 2 * ps, true, 'x'));
    pmn_ctx_unref(ctx);
}

static void own_protection_mprotect(void)
{
    own_protection(PMN_CTIER_WC_MPROTECT);
}

static void own_protection_uffd(void)
{
    own_protection(PMN_CTIER_WC_UFFD);
}

Test(tier, program_protection_holds_mprotect)
{
    in_child(own_protection_mprotect, "the program's own mprotect (mprotect mode)");
}

Test(tier, program_protection_holds_uffd)
{
    in_child(own_protection_uffd, "the program's own mprotect (userfaultfd mode)");
}

/* Faults that are not the tier's still kill (no handler of the program's
 * own): a write into the program's read-only memory, and a jump into
 * data, which is a fault on a writable page that must not be retried
 * forever.  Each in a grandchild that must die of SIGSEGV. */
static void die_by_segv(void (*fn)(char *), char *arg, const char *what)
{
    int status;
    pid_t pid = fork();

    CHILD_CHECK(pid >= 0);
    if (pid == 0) {
        alarm(5);
        fn(arg);
        _exit(0);
    }
    CHILD_CHECK(waitpid(pid, &status, 0) == pid);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSEGV) {
        fprintf(stderr, "%s: %s %d, want SIGSEGV\n", what,
                WIFSIGNALED(status) ? "killed by signal" : "exit",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        _exit(1);
    }
}

static void write_readonly(char *p)
{
    *(volatile char *)p = 1;
}

#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__)
static void jump_into(char *p)
{
    void (*fn)(void);

    memcpy(&fn, &p, sizeof(fn));
    fn();
}
#endif

static void foreign_faults(void)
{
    struct pmn_ctx *ctx;
    struct pmn_ctier *t;
    char *p, *ro;

    /* The default action behind the tier's handler, whatever a sanitizer
     * installed (AddressSanitizer's would abort instead). */
    signal(SIGSEGV, SIG_DFL);
    ctx = child_ctx();
    t = child_tier(ctx, PMN_CTIER_WC_MPROTECT);
    p = child_text(4, 0);

    CHILD_CHECK(pmn_ctier_demote(t, p, 2 * ps) == 0);
    ro = mmap(NULL, ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHILD_CHECK(ro != MAP_FAILED);
    die_by_segv(write_readonly, ro, "write into read-only memory");
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__)
    /* where the handler can tell an instruction fetch from a write */
    memset(p + 3 * ps, 0xc3, 16); /* ret, were it executable; it is not */
    die_by_segv(jump_into, p + 3 * ps, "jump into writable data");
    die_by_segv(jump_into, p, "jump into demoted data");
#endif
    pmn_ctier_close(t);
    pmn_ctx_unref(ctx);
}

Test(tier, foreign_faults_still_kill_mprotect)
{
    in_child(foreign_faults, "faults that are not the tier's (mprotect mode)");
}

/* ---- one owner per page (issue 13) ----
 *
 * Two tiers, every pairing of mechanisms: a page on one is -EBUSY for the
 * other (userfaultfd's kernel said so already; mprotect did not), a page
 * that came back may go to either, and writes are counted by its owner. */
Test(tier, one_owner_per_page_across_tiers)
{
    static const enum pmn_ctier_wc pairs[4][2] = {
        {PMN_CTIER_WC_UFFD, PMN_CTIER_WC_UFFD},
        {PMN_CTIER_WC_MPROTECT, PMN_CTIER_WC_MPROTECT},
        {PMN_CTIER_WC_UFFD, PMN_CTIER_WC_MPROTECT},
        {PMN_CTIER_WC_MPROTECT, PMN_CTIER_WC_UFFD},
    };
    const size_t n = 16;
    struct pmn_ctx *ctx = ctx_node0_compressed();

    for (size_t k = 0; k < 4; k++) {
        struct pmn_ctier_opts oa = opts_node0(0), ob = opts_node0(0);
        struct pmn_ctier *a, *b;
        char *shadow, *p = text_region(n, k * n, &shadow);
        int err;

        oa.write_control = pairs[k][0];
        ob.write_control = pairs[k][1];
        a = open_with(ctx, &oa);
        b = open_with(ctx, &ob);
        cr_assert_eq(pmn_ctier_demote(a, p, n * ps), 0, "pair %zu", k);
        err = pmn_ctier_demote(b, p, n * ps);
        cr_assert_eq(err, -EBUSY, "pair %zu (%s, %s): the same range on a second tier: %s", k,
                     pmn_ctier_write_control(a), pmn_ctier_write_control(b), pmn_strerror(err));
        cr_assert_eq(pmn_ctier_demote(b, p + 4 * ps, 2 * ps), -EBUSY, "pair %zu: a part", k);
        cr_assert_eq(pmn_ctier_demote(b, p + (n - 1) * ps, ps), -EBUSY, "pair %zu: last page", k);
        cr_assert_eq(stats(b).demotions, 0);
        cr_assert_eq(stats(b).logical_bytes, 0);

        /* a write goes to the owner alone */
        poke(p, shadow, 3, 10, 'o');
        cr_assert_eq(stats(a).write_promotions, 1, "pair %zu", k);
        cr_assert_eq(stats(b).write_promotions, 0, "pair %zu", k);
        /* the page came back: the other tier may take it */
        err = pmn_ctier_demote(b, p + 3 * ps, ps);
        cr_assert_eq(err, 0, "pair %zu: a page back from the first tier: %s", k,
                     pmn_strerror(err));
        cr_assert_eq(pmn_ctier_demote(a, p + 3 * ps, ps), -EBUSY, "pair %zu: and is then b's", k);
        poke(p, shadow, 3, 11, 'p');
        cr_assert_eq(stats(b).write_promotions, 1, "pair %zu", k);
        cr_assert_eq(stats(a).write_promotions, 1, "pair %zu", k);

        /* everything back from a: b takes the rest */
        cr_assert_eq(pmn_ctier_promote(a, p, n * ps, -1), 0);
        cr_assert_eq(stats(a).logical_bytes, 0);
        err = pmn_ctier_demote(b, p + 4 * ps, (n - 4) * ps);
        cr_assert_eq(err, 0, "pair %zu: after promote on the first tier: %s", k,
                     pmn_strerror(err));
        poke(p, shadow, 9, 12, 'q');
        cr_assert_eq(stats(b).write_promotions, 2, "pair %zu", k);
        cr_assert_eq(stats(a).write_promotions, 1, "pair %zu", k);
        cr_assert_eq(stats(b).logical_bytes, (n - 5) * ps, "pair %zu", k);

        /* closing b frees its pages for a */
        pmn_ctier_close(b);
        err = pmn_ctier_demote(a, p, n * ps);
        cr_assert_eq(err, 0, "pair %zu: after the second tier closed: %s", k, pmn_strerror(err));
        poke(p, shadow, 0, 13, 'r');
        cr_assert_eq(stats(a).write_promotions, 2, "pair %zu", k);
        assert_intact(p, shadow, n, "two tiers");
        pmn_ctier_close(a);
        free(shadow);
        munmap(p, n * ps);
    }
    pmn_ctx_unref(ctx);
}

/* ---- ranges the tier may not take (issue 13) ----
 *
 * PROT_NONE memory crashed the estimate; the range must be readable and
 * writable private anonymous memory, checked before anything reads it.
 * Read-only memory is refused too (in mprotect mode the tier could not
 * tell its own protection from the program's), and so is executable
 * memory (mprotect mode would take PROT_EXEC away); both modes alike. */
Test(tier, unreadable_readonly_or_executable_range_is_einval)
{
    static const enum pmn_ctier_wc modes[2] = {PMN_CTIER_WC_UFFD, PMN_CTIER_WC_MPROTECT};
    const size_t n = 8;
    struct pmn_ctx *ctx = ctx_node0_compressed();

    for (size_t m = 0; m < 2; m++) {
        struct pmn_ctier_opts o = opts_node0(0);
        struct pmn_ctier *t;
        char *p = text_region(2 * n, 0, NULL);
        int err;

        o.write_control = modes[m];
        t = open_with(ctx, &o);
        cr_assert_eq(mprotect(p, 2 * n * ps, PROT_NONE), 0);
        err = pmn_ctier_demote(t, p, 2 * n * ps);
        cr_assert_eq(err, -EINVAL, "%s: PROT_NONE: %s", pmn_ctier_write_control(t),
                     pmn_strerror(err));
        cr_assert_eq(mprotect(p, n * ps, PROT_READ | PROT_WRITE), 0);
        err = pmn_ctier_demote(t, p, 2 * n * ps);
        cr_assert_eq(err, -EINVAL, "%s: half PROT_NONE: %s", pmn_ctier_write_control(t),
                     pmn_strerror(err));
        cr_assert_eq(pmn_ctier_demote(t, p + (n - 1) * ps, 2 * ps), -EINVAL, "%s: across",
                     pmn_ctier_write_control(t));
        cr_assert_eq(mprotect(p, n * ps, PROT_READ), 0);
        err = pmn_ctier_demote(t, p, n * ps);
        cr_assert_eq(err, -EINVAL, "%s: PROT_READ: %s", pmn_ctier_write_control(t),
                     pmn_strerror(err));
        if (mprotect(p, n * ps, PROT_READ | PROT_WRITE | PROT_EXEC) == 0) {
            err = pmn_ctier_demote(t, p, n * ps);
            cr_assert_eq(err, -EINVAL, "%s: executable: %s", pmn_ctier_write_control(t),
                         pmn_strerror(err));
        }
        cr_assert_eq(stats(t).demotions, 0);
        cr_assert_eq(stats(t).refusals, 0);
        /* nothing was protected behind the program's back */
        cr_assert_eq(mprotect(p, 2 * n * ps, PROT_READ | PROT_WRITE), 0);
        for (size_t i = 0; i < 2 * n; i++)
            poke(p, NULL, i, 0, 'x');
        cr_assert_eq(stats(t).write_promotions, 0);
        err = pmn_ctier_demote(t, p, 2 * n * ps);
        cr_assert_eq(err, 0, "%s: read-write again: %s", pmn_ctier_write_control(t),
                     pmn_strerror(err));
        pmn_ctier_close(t);
        munmap(p, 2 * n * ps);
    }
    pmn_ctx_unref(ctx);
}

/* The kernel writing into a demoted page (read(2) into it): the write lands
 * (with kernel-mode userfaultfd faults) or read fails with EFAULT; it never
 * hangs and never loses data. */
static void kernel_write(void)
{
    const size_t n = 4;
    struct pmn_ctx_params *pp;
    struct pmn_ctx *ctx;
    struct pmn_ctier_opts o = opts_node0(0);
    struct pmn_ctier *t;
    struct pmn_ctier_stats st = {.struct_size = sizeof(st)};
    char *p, msg[] = "written by the kernel";
    int fds[2], err;
    ssize_t got;

    CHILD_CHECK(pmn_ctx_params_new(&pp) == 0);
    CHILD_CHECK(pmn_ctx_params_set_node_kind(pp, 0, PMN_KIND_COMPRESSED) == 0);
    CHILD_CHECK(pmn_ctx_params_set_flags(pp, PMN_CTX_IGNORE_ENV | PMN_CTX_NO_CONFIG) == 0);
    CHILD_CHECK(pmn_ctx_new_params(&ctx, pp) == 0);
    pmn_ctx_params_free(pp);
    err = pmn_ctier_open(ctx, &o, &t);
    if (err == PMN_E_NO_WRITE_CONTROL)
        _exit(77);
    CHILD_CHECK(err == 0);
    p = mmap(NULL, n * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHILD_CHECK(p != MAP_FAILED);
    madvise(p, n * ps, MADV_NOHUGEPAGE);
    ctier_fill_text(p, n * ps, ps, 0);
    CHILD_CHECK(pmn_ctier_demote(t, p, n * ps) == 0);
    CHILD_CHECK(pipe(fds) == 0);
    CHILD_CHECK(write(fds[1], msg, sizeof(msg)) == (ssize_t)sizeof(msg));
    got = read(fds[0], p + ps + 10, sizeof(msg));
    CHILD_CHECK(pmn_ctier_stats(t, &st) == 0);
    if (got == (ssize_t)sizeof(msg)) {
        CHILD_CHECK(memcmp(p + ps + 10, msg, sizeof(msg)) == 0);
        CHILD_CHECK(st.write_promotions == 1);
        printf("kernel write into a demoted page: promoted\n");
    } else {
        CHILD_CHECK(got < 0 && errno == EFAULT);
        CHILD_CHECK(st.write_promotions == 0);
        printf("kernel write into a demoted page: EFAULT (user-mode-only userfaultfd)\n");
    }
    pmn_ctier_close(t);
    pmn_ctx_unref(ctx);
}

Test(tier, kernel_writes_into_demoted_page)
{
    in_child(kernel_write, "read(2) into a demoted page");
}

/* ---- a cold cache's life: demote, get hot, go cold again ---- */

Test(tier, redemote_after_every_page_was_written_back)
{
    const size_t n = 8;
    struct pmn_ctx *ctx = ctx_node0_compressed();
    struct pmn_ctier *t = open_tier(ctx, 0);
    char *shadow, *p = text_region(n, 0, &shadow);
    int err;

    cr_assert_eq(pmn_ctier_demote(t, p, n * ps), 0);
    for (size_t i = 0; i < n; i++)
        poke(p, shadow, i, 0, 'h');
    cr_assert_eq(stats(t).write_promotions, n);
    cr_assert_eq(stats(t).logical_bytes, 0);
    err = pmn_ctier_demote(t, p, n * ps);
    cr_assert_eq(err, 0, "demote again after every page came back by write: %s",
                 pmn_strerror(err));
    cr_assert_eq(stats(t).logical_bytes, n * ps);
    poke(p, shadow, 2, 1, 'j');
    cr_assert_eq(stats(t).write_promotions, n + 1);
    assert_intact(p, shadow, n, "second demotion");
    pmn_ctier_close(t);
    pmn_ctx_unref(ctx);
}

Test(tier, redemote_a_page_written_back)
{
    const size_t n = 8;
    struct pmn_ctx *ctx = ctx_node0_compressed();
    struct pmn_ctier *t = open_tier(ctx, 0);
    char *shadow, *p = text_region(n, 0, &shadow);
    int err;

    cr_assert_eq(pmn_ctier_demote(t, p, n * ps), 0);
    poke(p, shadow, 3, 0, 'h');
    cr_assert_eq(stats(t).logical_bytes, (n - 1) * ps);
    err = pmn_ctier_demote(t, p + 3 * ps, ps);
    cr_assert_eq(err, 0, "demote the one page that a write brought back: %s", pmn_strerror(err));
    cr_assert_eq(stats(t).logical_bytes, n * ps);
    poke(p, shadow, 3, 1, 'k');
    cr_assert_eq(stats(t).write_promotions, 2);
    assert_intact(p, shadow, n, "page demoted twice");
    pmn_ctier_close(t);
    pmn_ctx_unref(ctx);
}

/* A demotion over the middle of an older range whose pages there came back
 * carves that part out: the older range's pages on both sides stay on the
 * tier, each still trapped and counted once. */
Test(tier, redemote_carves_an_older_range)
{
    const size_t n = 16;
    struct pmn_ctx *ctx = ctx_node0_compressed();
    struct pmn_ctier *t = open_tier(ctx, 0);
    char *shadow, *p = text_region(n, 0, &shadow);
    int err;

    cr_assert_eq(pmn_ctier_demote(t, p, n * ps), 0);
    for (size_t i = 4; i < 10; i++)
        poke(p, shadow, i, 0, 'h');
    cr_assert_eq(stats(t).logical_bytes, (n - 6) * ps);
    cr_assert_eq(pmn_ctier_demote(t, p + 3 * ps, 2 * ps), -EBUSY, "page 3 is still demoted");
    err = pmn_ctier_demote(t, p + 4 * ps, 6 * ps);
    cr_assert_eq(err, 0, "demote the middle that writes brought back: %s", pmn_strerror(err));
    cr_assert_eq(stats(t).logical_bytes, n * ps);
    /* every page is trapped once: a write to each side and the middle */
    poke(p, shadow, 0, 1, 'a');
    poke(p, shadow, 5, 1, 'b');
    poke(p, shadow, 15, 1, 'c');
    poke(p, shadow, 15, 2, 'd'); /* already back: no second promotion */
    cr_assert_eq(stats(t).write_promotions, 6 + 3);
    cr_assert_eq(stats(t).logical_bytes, (n - 3) * ps);
    cr_assert_eq(pmn_ctier_promote(t, p, n * ps, 0), 0);
    cr_assert_eq(stats(t).logical_bytes, 0);
    assert_intact(p, shadow, n, "carved ranges");
    cr_assert_eq(pmn_ctier_demote(t, p, n * ps), 0, "the whole span once everything is back");
    pmn_ctier_close(t);
    pmn_ctx_unref(ctx);
}

/* Many one-page ranges, demoted in scrambled order: each write finds its
 * own range (the index stays sorted) and promotes exactly its page. */
Test(tier, many_single_page_ranges)
{
    const size_t n = 512;
    struct pmn_ctx *ctx = ctx_node0_compressed();
    struct pmn_ctier *t = open_tier(ctx, 0);
    char *shadow, *p = text_region(n, 0, &shadow);
    int err;

    for (size_t k = 0; k < n; k++) {
        size_t i = (k * 197) % n; /* 197 is prime to 512: every page once */
        err = pmn_ctier_demote(t, p + i * ps, ps);
        cr_assert_eq(err, 0, "demote page %zu: %s", i, pmn_strerror(err));
    }
    cr_assert_eq(stats(t).demotions, n);
    cr_assert_eq(stats(t).logical_bytes, n * ps);
    for (size_t i = 0; i < n; i += 3)
        poke(p, shadow, i, 7, 'w');
    cr_assert_eq(stats(t).write_promotions, (n + 2) / 3);
    cr_assert_eq(stats(t).logical_bytes, (n - (n + 2) / 3) * ps);
    /* one promote call over all of them drops every range */
    cr_assert_eq(pmn_ctier_promote(t, p, n * ps, 0), 0);
    cr_assert_eq(stats(t).logical_bytes, 0);
    assert_intact(p, shadow, n, "single-page ranges");
    cr_assert_eq(pmn_ctier_demote(t, p, n * ps), 0);
    pmn_ctier_close(t);
    pmn_ctx_unref(ctx);
}

/* A range that runs from private memory into a hole is refused before
 * anything reads it (it crashed in the estimate once). */
Test(tier, range_into_a_hole_is_einval)
{
    const size_t n = 8;
    struct pmn_ctx *ctx = ctx_node0_compressed();
    struct pmn_ctier *t = open_tier(ctx, 0);
    char *p = text_region(2 * n, 0, NULL);

    cr_assert_eq(munmap(p + n * ps, n * ps), 0);
    cr_assert_eq(pmn_ctier_demote(t, p, 2 * n * ps), -EINVAL);
    cr_assert_eq(pmn_ctier_demote(t, p + n * ps, n * ps), -EINVAL, "a hole alone");
    cr_assert_eq(stats(t).demotions, 0);
    cr_assert_eq(pmn_ctier_demote(t, p, n * ps), 0, "the mapped part");
    pmn_ctier_close(t);
    pmn_ctx_unref(ctx);
}

Test(tier, unmapped_range_is_forgotten)
{
    const size_t n = 8;
    struct pmn_ctx *ctx = ctx_node0_compressed();
    struct pmn_ctier *t = open_tier(ctx, 0);
    char *p = text_region(n, 0, NULL), *q;
    int err;

    cr_assert_eq(pmn_ctier_demote(t, p, n * ps), 0);
    cr_assert_eq(munmap(p, n * ps), 0);
    /* the address comes back as new memory */
    q = mmap(p, n * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
             -1, 0);
    cr_assert_eq(q, p);
    ctier_fill_text(q, n * ps, ps, 50);
    err = pmn_ctier_demote(t, q, n * ps);
    cr_assert_eq(err, 0, "demote new memory at an address demoted and unmapped before: %s",
                 pmn_strerror(err));
    poke(q, NULL, 0, 0, 'n');
    cr_assert_eq(stats(t).write_promotions, 1);
    pmn_ctier_close(t);
    pmn_ctx_unref(ctx);
}

/* ---- transparent huge pages ---- */

Test(tier, thp_region_promotes_per_page)
{
    const size_t huge = 2 * MiB, len = 2 * huge;
    struct pmn_ctx *ctx = ctx_node0_compressed();
    struct pmn_ctier *t = open_tier(ctx, 0);
    char *raw, *p, *shadow;
    size_t n, written[5] = {0, 1, 100, 511, 700};
    struct pmn_ctier_stats st = {.struct_size = sizeof(st)};
    int err;

    raw = mmap(NULL, len + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(raw, MAP_FAILED);
    p = (char *)(((uintptr_t)raw + huge - 1) & ~(uintptr_t)(huge - 1));
    if (madvise(p, len, MADV_HUGEPAGE) != 0)
        cr_skip_test("no transparent huge pages");
    n = len / ps;
    ctier_fill_text(p, len, ps, 0);
    shadow = malloc(len);
    memcpy(shadow, p, len);
    err = pmn_ctier_demote(t, p, len);
    cr_assert_eq(err, 0, "demote 4 MiB (THP): %s", pmn_strerror(err));
    cr_assert_eq(stats(t).logical_bytes, len);
    (void)read_all(p, n);
    cr_assert_eq(stats(t).write_promotions, 0);
    for (size_t k = 0; k < 5; k++)
        poke(p, shadow, written[k], 33, 'T');
    st = stats(t);
    cr_assert_eq(st.write_promotions, 5, "%llu write promotions", ull(st.write_promotions));
    cr_assert_eq(st.logical_bytes, len - 5 * ps);
    assert_intact(p, shadow, n, "THP region");
    pmn_ctier_close(t);
    pmn_ctx_unref(ctx);
}
