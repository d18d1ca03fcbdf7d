/*
 * test-tier-plan.c - the tiering helper's decision (libpmnode/tier/tier.h)
 * over made-up extents: budgets, the hot node's limit, ranking, room made
 * by demoting colder extents, extents not looked at, the compressed level;
 * then the same invariants over random extents.  The moves themselves are
 * in the vm lane (tests/vm/guest/vm-tier.c).
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "tier/tier.h"

#define MB (1ull << 20)

static struct pmn__tier_policy pol(uint64_t limit, uint64_t pb, uint64_t db)
{
    return (struct pmn__tier_policy){.hot_limit = limit,
                                     .promote_budget = pb,
                                     .demote_budget = db,
                                     .cold_looks = 2,
                                     .compress_looks = 8,
                                     .ctier = true};
}

static struct pmn__tier_ext hot_ext(uint32_t heat, uint32_t idle)
{
    return (struct pmn__tier_ext){.hot = 2 * MB, .heat = heat, .idle_looks = idle, .looked = true};
}

static struct pmn__tier_ext cold_ext(uint32_t heat, uint32_t idle)
{
    return (struct pmn__tier_ext){
        .cold = 2 * MB, .heat = heat, .idle_looks = idle, .looked = true};
}

static long plan(const struct pmn__tier_policy *p, const struct pmn__tier_ext *e, size_t n,
                 struct pmn__tier_act *a)
{
    long k = pmn__tier_plan(p, e, n, a);
    cr_assert_geq(k, 0);
    cr_assert_leq((size_t)k, n);
    return k;
}

static uint64_t sum_kind(const struct pmn__tier_act *a, long k, int kind1, int kind2)
{
    uint64_t s = 0;
    for (long i = 0; i < k; i++)
        if (a[i].kind == kind1 || a[i].kind == kind2)
            s += a[i].cost;
    return s;
}

Test(tier_plan, promote_budget_bounds_promotions)
{
    struct pmn__tier_ext e[10];
    struct pmn__tier_act a[10];
    struct pmn__tier_policy p = pol(0, 5 * MB, 64 * MB);

    for (int i = 0; i < 10; i++)
        e[i] = cold_ext(100 + (uint32_t)i, 0);
    long k = plan(&p, e, 10, a);
    cr_expect_eq(k, 2, "5 MiB of budget: two 2 MiB extents, got %ld", k);
    cr_expect_leq(sum_kind(a, k, PMN__TIER_PROMOTE, PMN__TIER_DECOMPRESS), 5 * MB);
    /* hottest first */
    cr_expect_eq(a[0].ext, 9);
    cr_expect_eq(a[1].ext, 8);
}

Test(tier_plan, over_limit_demotes_coldest_first)
{
    struct pmn__tier_ext e[6];
    struct pmn__tier_act a[6];
    struct pmn__tier_policy p = pol(6 * MB, 64 * MB, 64 * MB);
    uint32_t heat[6] = {200, 10, 150, 5, 90, 250};

    for (int i = 0; i < 6; i++)
        e[i] = hot_ext(heat[i], 0); /* all touched: only the limit makes them go */
    long k = plan(&p, e, 6, a);
    cr_assert_eq(k, 3, "12 MiB on hot, limit 6: three must go, got %ld", k);
    cr_expect_eq(a[0].ext, 3);
    cr_expect_eq(a[1].ext, 1);
    cr_expect_eq(a[2].ext, 4);
    for (long i = 0; i < k; i++)
        cr_expect_eq(a[i].kind, PMN__TIER_DEMOTE);
}

Test(tier_plan, demote_budget_bounds_demotions)
{
    struct pmn__tier_ext e[6];
    struct pmn__tier_act a[6];
    struct pmn__tier_policy p = pol(2 * MB, 64 * MB, 4 * MB);

    for (int i = 0; i < 6; i++)
        e[i] = hot_ext(10, 5);
    long k = plan(&p, e, 6, a);
    cr_expect_eq(k, 2);
    cr_expect_leq(sum_kind(a, k, PMN__TIER_DEMOTE, PMN__TIER_COMPRESS), 4 * MB);
}

Test(tier_plan, promotion_never_passes_the_limit)
{
    struct pmn__tier_ext e[4] = {hot_ext(215, 0), hot_ext(220, 0), cold_ext(220, 0),
                                 cold_ext(230, 0)};
    struct pmn__tier_act a[4];
    struct pmn__tier_policy p = pol(4 * MB, 64 * MB, 64 * MB);

    /* the hot node is full of extents within the hysteresis: nothing may come in */
    long k = plan(&p, e, 4, a);
    cr_expect_eq(k, 0, "no room and no colder extent: %ld actions", k);
}

Test(tier_plan, room_made_by_demoting_colder)
{
    struct pmn__tier_ext e[4] = {hot_ext(20, 0), hot_ext(210, 0), cold_ext(220, 0),
                                 cold_ext(30, 0)};
    struct pmn__tier_act a[4];
    struct pmn__tier_policy p = pol(4 * MB, 64 * MB, 64 * MB);

    long k = plan(&p, e, 4, a);
    cr_assert_eq(k, 2);
    cr_expect(a[0].ext == 0 && a[0].kind == PMN__TIER_DEMOTE, "the cold one first");
    cr_expect(a[1].ext == 2 && a[1].kind == PMN__TIER_PROMOTE, "then the hot one in");
}

Test(tier_plan, no_demote_budget_no_swap)
{
    struct pmn__tier_ext e[2] = {hot_ext(20, 0), cold_ext(220, 0)};
    struct pmn__tier_act a[2];
    struct pmn__tier_policy p = pol(2 * MB, 64 * MB, 1 * MB);

    cr_expect_eq(plan(&p, e, 2, a), 0);
}

Test(tier_plan, not_looked_at_never_moves)
{
    struct pmn__tier_ext e[3] = {hot_ext(0, 50), cold_ext(255, 0), cold_ext(0, 50)};
    struct pmn__tier_act a[3];
    struct pmn__tier_policy p = pol(1 * MB, 64 * MB, 64 * MB);

    for (int i = 0; i < 3; i++)
        e[i].looked = false;
    cr_expect_eq(plan(&p, e, 3, a), 0);
}

Test(tier_plan, idle_hot_extents_go_down)
{
    struct pmn__tier_ext e[3] = {hot_ext(0, 1), hot_ext(0, 2), hot_ext(0, 7)};
    struct pmn__tier_act a[3];
    struct pmn__tier_policy p = pol(0, 64 * MB, 64 * MB);

    long k = plan(&p, e, 3, a);
    cr_assert_eq(k, 2, "cold_looks 2: two of them");
    cr_expect_eq(a[0].ext, 2, "most idle first");
    cr_expect_eq(a[1].ext, 1);
}

Test(tier_plan, compress_idle_cold_extents)
{
    struct pmn__tier_ext e[5] = {cold_ext(0, 8), cold_ext(0, 7), cold_ext(0, 9), cold_ext(0, 20),
                                 cold_ext(0, 20)};
    struct pmn__tier_act a[5];
    struct pmn__tier_policy p = pol(0, 64 * MB, 64 * MB);

    e[3].no_compress = true; /* refused before */
    e[4].other = 4096;       /* not wholly on the cold node */
    long k = plan(&p, e, 5, a);
    cr_assert_eq(k, 2);
    cr_expect(a[0].ext == 0 && a[0].kind == PMN__TIER_COMPRESS);
    cr_expect(a[1].ext == 2 && a[1].kind == PMN__TIER_COMPRESS);
    p.ctier = false;
    cr_expect_eq(plan(&p, e, 5, a), 0, "no compressed tier, no compression");
}

Test(tier_plan, compressed_hot_comes_back_whole)
{
    struct pmn__tier_ext e[2] = {
        {.comp = 2 * MB - 8192, .hot = 8192, .heat = 180, .looked = true, .compressed = true},
        {.comp = 2 * MB, .heat = 0, .idle_looks = 30, .looked = true, .compressed = true}};
    struct pmn__tier_act a[2];
    struct pmn__tier_policy p = pol(0, 64 * MB, 64 * MB);

    long k = plan(&p, e, 2, a);
    cr_assert_eq(k, 1, "the idle compressed extent stays, never demoted again");
    cr_expect_eq(a[0].ext, 0);
    cr_expect_eq(a[0].kind, PMN__TIER_DECOMPRESS);
    cr_expect_eq(a[0].cost, 2 * MB - 8192);
}

Test(tier_plan, empty)
{
    struct pmn__tier_policy p = pol(0, 1, 1);
    cr_expect_eq(pmn__tier_plan(&p, NULL, 0, NULL), 0);
}

/* The invariants over random extents: each extent acted on at most once,
 * budgets kept, never a move of an extent not looked at, and the hot node
 * after the plan within the limit whenever it started within it. */
Test(tier_plan, random_invariants)
{
    enum { N = 200 };
    static struct pmn__tier_ext e[N];
    static struct pmn__tier_act a[N];
    unsigned seed = 12345;

    for (int round = 0; round < 500; round++) {
        uint64_t hot = 0, limit, pspent = 0, dspent = 0;
        bool seen[N] = {false};
        size_t n = (size_t)(rand_r(&seed) % N) + 1;

        for (size_t i = 0; i < n; i++) {
            uint64_t bytes = ((uint64_t)(rand_r(&seed) % 512) + 1) * 4096;
            int where = rand_r(&seed) % 4;
            e[i] = (struct pmn__tier_ext){
                .heat = (uint32_t)(rand_r(&seed) % 256),
                .idle_looks = (uint32_t)(rand_r(&seed) % 12),
                .looked = rand_r(&seed) % 8 != 0,
                .no_compress = rand_r(&seed) % 10 == 0,
            };
            if (where == 0)
                e[i].hot = bytes;
            else if (where == 1)
                e[i].cold = bytes;
            else if (where == 2)
                e[i].comp = bytes, e[i].compressed = true;
            else
                e[i].hot = bytes / 2, e[i].cold = bytes / 2;
            hot += e[i].hot;
        }
        limit = (uint64_t)(rand_r(&seed) % 3) * hot / 2;
        struct pmn__tier_policy p = pol(limit, ((uint64_t)(rand_r(&seed) % 64) + 1) * MB,
                                        ((uint64_t)(rand_r(&seed) % 64) + 1) * MB);
        long k = plan(&p, e, n, a);
        uint64_t hot_after = hot;
        for (long j = 0; j < k; j++) {
            const struct pmn__tier_ext *x = &e[a[j].ext];
            cr_assert_lt(a[j].ext, n);
            cr_assert(!seen[a[j].ext], "extent %zu acted on twice", a[j].ext);
            seen[a[j].ext] = true;
            cr_assert(x->looked, "an extent not looked at moved");
            switch (a[j].kind) {
            case PMN__TIER_DEMOTE:
                cr_assert(!x->compressed);
                dspent += a[j].cost;
                hot_after -= x->hot;
                break;
            case PMN__TIER_COMPRESS:
                cr_assert(!x->compressed && !x->no_compress && x->hot == 0);
                dspent += a[j].cost;
                break;
            case PMN__TIER_PROMOTE:
            case PMN__TIER_DECOMPRESS:
                cr_assert_eq(a[j].kind == PMN__TIER_DECOMPRESS, x->compressed);
                cr_assert(x->idle_looks == 0 && x->heat > 0);
                pspent += a[j].cost;
                hot_after += a[j].cost;
                /* never past the limit at any point of the plan */
                if (limit)
                    cr_assert(hot_after <= limit || hot_after <= hot,
                              "promotion past the limit: %llu > %llu",
                              (unsigned long long)hot_after, (unsigned long long)limit);
                break;
            default: cr_assert_fail("kind %d", a[j].kind);
            }
        }
        cr_assert_leq(pspent, p.promote_budget);
        cr_assert_leq(dspent, p.demote_budget);
        if (limit && hot <= limit)
            cr_assert_leq(hot_after, limit);
        if (limit && hot > limit)
            cr_assert_leq(hot_after, hot, "over the limit, the hot node only shrinks");
    }
}
