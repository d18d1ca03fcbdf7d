/*
 * test-ctier-unit.c - the compressed tier's pure parts (suite 'unit').
 *
 * The capacity guard pmn__ctier_guard() (libpmnode/ctier/ctier.h): exact
 * boundaries of capacity minus reserve, one byte over, a ratio just below
 * the minimum, zero-length demotions, and values near UINT64_MAX where an
 * integer implementation would wrap.  The estimator pmn_ctier_estimate()
 * on zeros, fixed-seed random bytes, English text and mixtures, and its
 * argument errors.  Nothing here needs NUMA or userfaultfd.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctier/ctier.h"
#include "harness.h"
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
    void *p = mmap(NULL, n * page_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
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
