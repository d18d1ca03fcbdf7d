/*
 * test-ctier-unit.c - the compressed tier's pure parts (suite 'unit').
 *
 * The capacity guard pmn__ctier_guard() (libpmnode/ctier/ctier.h): exact
 * boundaries of capacity minus reserve, one byte over, a ratio just below
 * the minimum, zero-length demotions, and values near UINT64_MAX where an
 * integer implementation would wrap.  The estimator pmn_ctier_estimate()
 * on zeros, fixed-seed random bytes, English text and mixtures, and its
 * argument errors.  The OS primitives the mprotect fallback's SIGSEGV
 * handler leans on (libpmnode/os/prim.h): the walks over our own mappings,
 * by PROCMAP_QUERY and by the text of /proc/self/maps, which must agree
 * mapping for mapping, and the kind of access a fault was.  Nothing here
 * needs NUMA or userfaultfd.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctier/ctier.h"
#include "harness.h"
#include "os/prim.h"
#include "pmnode.h"

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* ---- the guard ---- */

Test(guard, fits_exactly_at_capacity_minus_reserve)
{
    /* 1e6 * (1 - 0.25) = 750000 exactly; 1.5e6 bytes at 2:1 need 750000. */
    cr_assert_eq(pmn__ctier_guard(0, 1000000, 0.25, 1500000, 2.0, 1.5), 0);
    cr_assert_eq(pmn__ctier_guard(250000, 1000000, 0.25, 1000000, 2.0, 1.5), 0);
    /* ratio 1 (min 1): logical == physical */
    cr_assert_eq(pmn__ctier_guard(0, 1 << 20, 0.5, 1 << 19, 1.0, 1.0), 0);
}

Test(guard, one_byte_over_is_full)
{
    /* 1500002 / 2 = 750001 > 750000 */
    cr_assert_eq(pmn__ctier_guard(0, 1000000, 0.25, 1500002, 2.0, 1.5), PMN_E_TIER_FULL);
    /* already used one byte more */
    cr_assert_eq(pmn__ctier_guard(1, 1000000, 0.25, 1500000, 2.0, 1.5), PMN_E_TIER_FULL);
    cr_assert_eq(pmn__ctier_guard(250001, 1000000, 0.25, 1000000, 2.0, 1.5), PMN_E_TIER_FULL);
    cr_assert_eq(pmn__ctier_guard(0, 1 << 20, 0.5, (1 << 19) + 1, 1.0, 1.0), PMN_E_TIER_FULL);
}

Test(guard, default_reserve_boundary)
{
    /* 2^30 * 0.95 = 1020054732.8: 1020054732 bytes at 1:1 fit, one more does not. */
    uint64_t cap = (uint64_t)1 << 30;

    cr_assert_eq(pmn__ctier_guard(0, cap, 0.05, 1020054732, 1.0, 1.0), 0);
    cr_assert_eq(pmn__ctier_guard(0, cap, 0.05, 1020054733, 1.0, 1.0), PMN_E_TIER_FULL);
    /* the reserve really is kept: the whole capacity does not fit */
    cr_assert_eq(pmn__ctier_guard(0, cap, 0.05, cap, 1.0, 1.0), PMN_E_TIER_FULL);
}

Test(guard, ratio_just_below_min_is_incompressible)
{
    double below = nextafter(1.5, 0.0);

    cr_assert_eq(pmn__ctier_guard(0, 1 << 30, 0.05, 4096, below, 1.5), PMN_E_INCOMPRESSIBLE);
    cr_assert_eq(pmn__ctier_guard(0, 1 << 30, 0.05, 4096, 1.5, 1.5), 0, "ratio == min is enough");
    cr_assert_eq(pmn__ctier_guard(0, 1 << 30, 0.05, 4096, 1.0, 1.5), PMN_E_INCOMPRESSIBLE);
    cr_assert_eq(pmn__ctier_guard(0, 1 << 30, 0.05, 4096, 0.99, 1.0), PMN_E_INCOMPRESSIBLE);
}

Test(guard, nonsense_ratios_never_pass)
{
    cr_assert_eq(pmn__ctier_guard(0, 1 << 30, 0.05, 4096, 0.0, 1.5), PMN_E_INCOMPRESSIBLE);
    cr_assert_eq(pmn__ctier_guard(0, 1 << 30, 0.05, 4096, -2.0, 1.5), PMN_E_INCOMPRESSIBLE);
    cr_assert_eq(pmn__ctier_guard(0, 1 << 30, 0.05, 4096, NAN, 1.5), PMN_E_INCOMPRESSIBLE);
    /* all-zero pages: an infinite ratio costs (next to) nothing */
    cr_assert_eq(pmn__ctier_guard(0, 1 << 30, 0.05, 1 << 20, INFINITY, 1.5), 0);
}

Test(guard, zero_length)
{
    cr_assert_eq(pmn__ctier_guard(0, 1 << 20, 0.05, 0, 2.0, 1.5), 0);
    /* exactly full already: nothing more still fits */
    cr_assert_eq(pmn__ctier_guard(750000, 1000000, 0.25, 0, 2.0, 1.5), 0);
    /* a device with no capacity takes nothing but nothing */
    cr_assert_eq(pmn__ctier_guard(0, 0, 0.05, 4096, 4.0, 1.5), PMN_E_TIER_FULL);
}

Test(guard, huge_values_do_not_wrap)
{
    const uint64_t max = UINT64_MAX, half = (uint64_t)1 << 63;

    /* used + new would wrap to 2^20 in 64-bit integers */
    cr_assert_eq(pmn__ctier_guard(half, max, 1e-9, half + (1 << 20), 1.0, 1.0), PMN_E_TIER_FULL);
    cr_assert_eq(pmn__ctier_guard(max, max, 0.05, max, 1.0, 1.0), PMN_E_TIER_FULL);
    cr_assert_eq(pmn__ctier_guard(max, max, 0.05, 1, 2.0, 1.5), PMN_E_TIER_FULL);
    /* max bytes at 4:1 on a device of max bytes: a quarter fits */
    cr_assert_eq(pmn__ctier_guard(0, max, 0.05, max, 4.0, 1.5), 0);
    cr_assert_eq(pmn__ctier_guard(half, max, 0.05, max, 2.0, 1.5), PMN_E_TIER_FULL);
    /* capacity * (1 - reserve) must not wrap either */
    cr_assert_eq(pmn__ctier_guard(0, max, 0.0, max, 1.0, 1.0), 0);
}

Test(guard, bad_reserve)
{
    cr_assert_eq(pmn__ctier_guard(0, 1 << 20, -0.1, 4096, 2.0, 1.5), -EINVAL);
    cr_assert_eq(pmn__ctier_guard(0, 1 << 20, 1.0, 4096, 2.0, 1.5), -EINVAL);
    cr_assert_eq(pmn__ctier_guard(0, 1 << 20, 2.0, 4096, 2.0, 1.5), -EINVAL);
    cr_assert_neq(pmn__ctier_guard(0, 1 << 20, NAN, 4096, 2.0, 1.5), 0, "NaN reserve passed");
}

/* ---- the estimator ---- */

static void *pages(size_t n)
{
    void *p =
        mmap(NULL, n * page_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(p, MAP_FAILED);
    return p;
}

Test(estimate, zeros_compress_very_well)
{
    size_t n = 64, ps = page_size();
    char *p = pages(n);
    double r;

    memset(p, 0, n * ps);
    r = pmn_ctier_estimate(p, n * ps, 0);
    cr_assert_gt(r, 50.0, "zero pages estimated at %.2f:1", r);
    r = pmn_ctier_estimate(p, n * ps, 64);
    cr_assert_gt(r, 50.0, "zero pages (64 samples) estimated at %.2f:1", r);
    munmap(p, n * ps);
}

Test(estimate, random_bytes_do_not_compress)
{
    size_t n = 64, ps = page_size();
    char *p = pages(n);
    double r;

    ctier_fill_random(p, n * ps, 42);
    r = pmn_ctier_estimate(p, n * ps, 0);
    cr_assert(r > 0.9 && r < 1.1, "random bytes estimated at %.4f:1", r);
    r = pmn_ctier_estimate(p, n * ps, 1000); /* more samples than pages */
    cr_assert(r > 0.9 && r < 1.1, "random bytes (every page) estimated at %.4f:1", r);
    munmap(p, n * ps);
}

Test(estimate, text_compresses)
{
    size_t n = 64, ps = page_size();
    char *p = pages(n);
    double r;

    ctier_fill_text(p, n * ps, ps, 0);
    r = pmn_ctier_estimate(p, n * ps, 0);
    cr_assert_gt(r, 1.5, "text estimated at %.2f:1", r);
    /* and is not mistaken for empty pages */
    cr_assert_lt(r, 50.0, "text estimated at %.2f:1, like zeros", r);
    munmap(p, n * ps);
}

Test(estimate, text_from_malloc_unaligned)
{
    size_t len = 3 * page_size() + 123;
    char *p = malloc(len + 1);
    double r;

    cr_assert_not_null(p);
    ctier_fill_text(p + 1, len, page_size(), 7);
    r = pmn_ctier_estimate(p + 1, len, 0);
    cr_assert_gt(r, 1.5, "unaligned text estimated at %.2f:1", r);
    free(p);
}

Test(estimate, mixed_lies_between)
{
    size_t n = 64, ps = page_size();
    char *p = pages(n);
    double half, inpage, zeros, rnd;

    /* first half zero pages, second half random pages */
    memset(p, 0, n / 2 * ps);
    ctier_fill_random(p + n / 2 * ps, n / 2 * ps, 7);
    half = pmn_ctier_estimate(p, n * ps, 0);
    zeros = pmn_ctier_estimate(p, n / 2 * ps, 0);
    rnd = pmn_ctier_estimate(p + n / 2 * ps, n / 2 * ps, 0);
    cr_assert(half > rnd && half < zeros, "mixed %.3f not between random %.3f and zeros %.3f",
              half, rnd, zeros);
    /* half zeros, half random: about 2:1 */
    cr_assert(half > 1.6 && half < 2.4, "half zero pages estimated at %.3f:1", half);

    /* every page half random, half zeros: about 2:1 too */
    for (size_t i = 0; i < n; i++) {
        ctier_fill_random(p + i * ps, ps / 2, 100 + i);
        memset(p + i * ps + ps / 2, 0, ps / 2);
    }
    inpage = pmn_ctier_estimate(p, n * ps, 0);
    cr_assert(inpage > 1.6 && inpage < 2.4, "half-random pages estimated at %.3f:1", inpage);

    /* text with a quarter of the pages random: less than text alone, more than random */
    ctier_fill_text(p, n * ps, ps, 0);
    double text = pmn_ctier_estimate(p, n * ps, 64);
    for (size_t i = 0; i < n; i += 4)
        ctier_fill_random(p + i * ps, ps, 900 + i);
    double mix = pmn_ctier_estimate(p, n * ps, 64); /* every page sampled */
    cr_assert(mix < text && mix > 1.1, "text %.3f, text with random quarter %.3f", text, mix);
    munmap(p, n * ps);
}

Test(estimate, sub_page_lengths)
{
    char buf[100];
    double r;

    memset(buf, 0, sizeof(buf));
    r = pmn_ctier_estimate(buf, sizeof(buf), 0);
    cr_assert_gt(r, 1.0, "100 zero bytes estimated at %.3f", r);
    r = pmn_ctier_estimate(buf, 1, 1);
    cr_assert(r > 0 && isfinite(r), "one byte estimated at %f", r);
}

Test(estimate, bad_arguments)
{
    char buf[64] = {0};

    cr_assert_eq(pmn_ctier_estimate(NULL, 4096, 0), (double)-EINVAL);
    cr_assert_eq(pmn_ctier_estimate(buf, 0, 0), (double)-EINVAL);
    cr_assert_eq(pmn_ctier_estimate(NULL, 0, 16), (double)-EINVAL);
}

Test(estimate, deterministic)
{
    size_t n = 32, ps = page_size();
    char *p = pages(n);

    ctier_fill_text(p, n * ps, ps, 3);
    cr_assert_eq(pmn_ctier_estimate(p, n * ps, 8), pmn_ctier_estimate(p, n * ps, 8));
    munmap(p, n * ps);
}

/* ---- our own mappings, as the fault handler sees them ---- */

struct seen {
    size_t n;
    struct pmn_prim_vma v[64];
};

static int collect(const struct pmn_prim_vma *v, void *arg)
{
    struct seen *s = arg;

    cr_assert_lt(s->n, 64, "more mappings than expected");
    s->v[s->n++] = *v;
    return 0;
}

static int stop_at_second(const struct pmn_prim_vma *v, void *arg)
{
    (void)v;
    return ++*(int *)arg == 2 ? 42 : 0;
}

/* 32 pages laid out by hand: protections, shared memory, a file mapped
 * under a name longer than the text walk keeps, a hole. */
static char *layout(size_t ps, bool *rwx)
{
    char path[300], *r;
    int fd;

    r = mmap(NULL, 32 * ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(r, MAP_FAILED);
    cr_assert_eq(mprotect(r, 2 * ps, PROT_READ | PROT_WRITE), 0);
    cr_assert_eq(mprotect(r + 2 * ps, ps, PROT_READ), 0);
    cr_assert_eq(mprotect(r + 4 * ps, 2 * ps, PROT_READ | PROT_WRITE), 0);
    *rwx = mprotect(r + 6 * ps, ps, PROT_READ | PROT_WRITE | PROT_EXEC) == 0;
    cr_assert_neq(mmap(r + 8 * ps, 2 * ps, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
                  MAP_FAILED);
    snprintf(path, sizeof(path), "/tmp/ctier-unit-%d-%0200d", (int)getpid(), 0);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    cr_assert_eq(ftruncate(fd, (off_t)ps), 0);
    cr_assert_neq(mmap(r + 10 * ps, ps, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0), MAP_FAILED);
    close(fd);
    unlink(path);
    cr_assert_eq(munmap(r + 12 * ps, ps), 0);
    return r;
}

struct want {
    size_t lo, hi; /* pages from the start of the layout */
    int prot;
    bool shared, file;
};

static void expect_layout(const struct seen *s, const char *r, size_t ps, bool rwx,
                          const char *how)
{
    const struct want with_exec[] = {
        {0, 2, PROT_READ | PROT_WRITE, false, false},
        {2, 3, PROT_READ, false, false},
        {3, 4, PROT_NONE, false, false},
        {4, 6, PROT_READ | PROT_WRITE, false, false},
        {6, 7, PROT_READ | PROT_WRITE | PROT_EXEC, false, false},
        {7, 8, PROT_NONE, false, false},
        {8, 10, PROT_READ | PROT_WRITE, true, true},
        {10, 11, PROT_READ, false, true},
        {11, 12, PROT_NONE, false, false},
        {13, 32, PROT_NONE, false, false},
    };
    /* where PROT_EXEC was refused, pages 6 and 7 are one PROT_NONE mapping */
    const struct want without_exec[] = {
        with_exec[0], with_exec[1], with_exec[2], with_exec[3], {6, 8, PROT_NONE, false, false},
        with_exec[6], with_exec[7], with_exec[8], with_exec[9],
    };
    const struct want *want = rwx ? with_exec : without_exec;
    size_t nwant = rwx ? sizeof(with_exec) / sizeof(with_exec[0])
                       : sizeof(without_exec) / sizeof(without_exec[0]);
    const uintptr_t base = (uintptr_t)r;

    cr_assert_eq(s->n, nwant, "%s: %zu mappings, want %zu", how, s->n, nwant);
    for (size_t i = 0; i < s->n; i++) {
        const struct pmn_prim_vma *v = &s->v[i];
        /* whole mappings: the first and last may reach beyond the layout */
        uintptr_t lo = v->start < base ? base : v->start;
        uintptr_t hi = v->end > base + 32 * ps ? base + 32 * ps : v->end;
        cr_assert_eq(lo, base + want[i].lo * ps, "%s: mapping %zu starts at page %ld, want %zu",
                     how, i, (long)((lo - base) / ps), want[i].lo);
        cr_assert_eq(hi, base + want[i].hi * ps, "%s: mapping %zu ends at page %ld, want %zu", how,
                     i, (long)((hi - base) / ps), want[i].hi);
        cr_assert_eq(v->prot, want[i].prot, "%s: mapping %zu prot %d, want %d", how, i, v->prot,
                     want[i].prot);
        cr_assert_eq(v->shared, want[i].shared, "%s: mapping %zu shared", how, i);
        cr_assert_eq(v->file, want[i].file, "%s: mapping %zu file", how, i);
    }
}

Test(vma, query_and_text_walks_agree)
{
    size_t ps = page_size();
    static struct seen q, t;
    bool rwx;
    char *r = layout(ps, &rwx);
    int count = 0;

    q.n = t.n = 0;
    cr_assert_eq(pmn_prim_vma_walk(r, 32 * ps, collect, &q), 0);
    cr_assert_eq(pmn_prim_vma_walk_text(r, 32 * ps, collect, &t), 0);
    expect_layout(&q, r, ps, rwx, "walk");
    expect_layout(&t, r, ps, rwx, "text walk");
    /* a non-zero return stops the walk and is returned */
    cr_assert_eq(pmn_prim_vma_walk(r, 32 * ps, stop_at_second, &count), 42);
    count = 0;
    cr_assert_eq(pmn_prim_vma_walk_text(r, 32 * ps, stop_at_second, &count), 42);
    /* a range within one mapping, and one inside the hole */
    q.n = t.n = 0;
    cr_assert_eq(pmn_prim_vma_walk(r + 14 * ps, ps, collect, &q), 0);
    cr_assert_eq(pmn_prim_vma_walk_text(r + 14 * ps, ps, collect, &t), 0);
    cr_assert(q.n == 1 && t.n == 1 && q.v[0].start == t.v[0].start && q.v[0].end == t.v[0].end);
    q.n = t.n = 0;
    cr_assert_eq(pmn_prim_vma_walk(r + 12 * ps, ps, collect, &q), 0);
    cr_assert_eq(pmn_prim_vma_walk_text(r + 12 * ps, ps, collect, &t), 0);
    cr_assert(q.n == 0 && t.n == 0, "the hole: %zu and %zu mappings", q.n, t.n);
    munmap(r, 32 * ps);
}

Test(vma, private_anon_and_protection)
{
    size_t ps = page_size();
    bool rwx;
    char *r = layout(ps, &rwx);
    int prot = -1;

    cr_assert_eq(pmn_prim_private_anon(r, 2 * ps, PROT_READ | PROT_WRITE), 1);
    cr_assert_eq(pmn_prim_private_anon(r, 3 * ps, PROT_READ | PROT_WRITE), 0, "a read-only page");
    cr_assert_eq(pmn_prim_private_anon(r, 3 * ps, -1), 1, "any protection");
    cr_assert_eq(pmn_prim_private_anon(r + 3 * ps, ps, PROT_READ | PROT_WRITE), 0, "PROT_NONE");
    cr_assert_eq(pmn_prim_private_anon(r + 3 * ps, ps, PROT_NONE), 1);
    if (rwx)
        cr_assert_eq(pmn_prim_private_anon(r + 4 * ps, 3 * ps, PROT_READ | PROT_WRITE), 0,
                     "executable");
    cr_assert_eq(pmn_prim_private_anon(r + 8 * ps, 2 * ps, -1), 0, "shared");
    cr_assert_eq(pmn_prim_private_anon(r + 10 * ps, ps, -1), 0, "a file");
    cr_assert_eq(pmn_prim_private_anon(r + 11 * ps, 2 * ps, -1), 0, "into the hole");
    cr_assert_eq(pmn_prim_private_anon(r + 12 * ps, 2 * ps, -1), 0, "from the hole");
    cr_assert_eq(pmn_prim_vma_prot(r + 2 * ps, &prot), 0);
    cr_assert_eq(prot, PROT_READ);
    cr_assert_eq(pmn_prim_vma_prot(r + 3 * ps + 100, &prot), 0);
    cr_assert_eq(prot, PROT_NONE);
    cr_assert_eq(pmn_prim_vma_prot(r + 9 * ps, &prot), 0);
    cr_assert_eq(prot, PROT_READ | PROT_WRITE);
    cr_assert_eq(pmn_prim_vma_prot(r + 12 * ps, &prot), -ENOMEM, "the hole");
    munmap(r, 32 * ps);
}

Test(vma, readable)
{
    size_t ps = page_size();
    char *p = mmap(NULL, 3 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    cr_assert_neq(p, MAP_FAILED);
    p[ps] = 7; /* a word that is not 0, and pages never touched */
    cr_assert_eq(pmn_prim_readable(p), 1, "untouched read-write page");
    cr_assert_eq(pmn_prim_readable(p + ps), 1, "a word that is not 0");
    cr_assert_eq(mprotect(p, ps, PROT_READ), 0);
    cr_assert_eq(pmn_prim_readable(p), 1, "read-only");
    cr_assert_eq(mprotect(p + ps, ps, PROT_NONE), 0);
    cr_assert_eq(pmn_prim_readable(p + ps), 0, "PROT_NONE");
    cr_assert_eq(munmap(p + 2 * ps, ps), 0);
    cr_assert_eq(pmn_prim_readable(p + 2 * ps), 0, "unmapped");
    cr_assert_eq(pmn_prim_readable(p + 1), -EINVAL, "misaligned");
    cr_assert_eq(mprotect(p + ps, ps, PROT_READ), 0);
    cr_assert_eq(p[ps], 7, "the probe wrote nothing");
    munmap(p, 2 * ps);
}

/* ---- which access faulted ---- */

static sigjmp_buf fault_env;
static volatile sig_atomic_t fault_kind = -1;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
    fault_kind = (sig_atomic_t)pmn_prim_fault_access(uc);
    siglongjmp(fault_env, 1);
}

static int access_kind(char *p, int how)
{
    fault_kind = -1;
    if (sigsetjmp(fault_env, 1) == 0) {
        if (how == PMN_PRIM_ACCESS_WRITE) {
            *(volatile char *)p = 1;
        } else if (how == PMN_PRIM_ACCESS_READ) {
            (void)*(volatile char *)p;
        } else {
            void (*fn)(void);
            memcpy(&fn, &p, sizeof(fn));
            fn();
        }
    }
    return (int)fault_kind;
}

Test(fault_access, write_read_and_fetch)
{
    size_t ps = page_size();
    struct sigaction sa, old;
    char *p = mmap(NULL, ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int w, r, x;

    cr_assert_neq(p, MAP_FAILED);
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    cr_assert_eq(sigaction(SIGSEGV, &sa, &old), 0);
    w = access_kind(p, PMN_PRIM_ACCESS_WRITE);
    cr_assert_eq(mprotect(p, ps, PROT_NONE), 0);
    r = access_kind(p, PMN_PRIM_ACCESS_READ);
    cr_assert_eq(mprotect(p, ps, PROT_READ | PROT_WRITE), 0);
    x = access_kind(p, PMN_PRIM_ACCESS_EXEC);
    sigaction(SIGSEGV, &old, NULL);
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__)
    cr_assert_eq(w, PMN_PRIM_ACCESS_WRITE, "a write into PROT_READ memory read as %d", w);
    cr_assert_eq(r, PMN_PRIM_ACCESS_READ, "a read of PROT_NONE memory read as %d", r);
    cr_assert_eq(x, PMN_PRIM_ACCESS_EXEC, "a jump into data read as %d", x);
#else
    cr_assert(w == PMN_PRIM_ACCESS_UNKNOWN && r == w && x == w, "unknown elsewhere");
#endif
    munmap(p, ps);
}
