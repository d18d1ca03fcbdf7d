/*
 * vm-tier.c - the tiering helper on a real kernel with two or three nodes
 * (runs inside the QEMU guest of tests/vm; issue 16).  Where pages are is
 * checked with the raw move_pages(2) query, not with the library, after
 * every step.
 *
 *   vm-tier move HOT COLD        16 MiB on COLD, two 1 MiB extents written
 *                                every step: they end on HOT, the rest stays
 *                                on COLD; then four others get busy instead:
 *                                they come up, the idle ones go down.  Every
 *                                step: HOT holds at most the 4 MiB limit,
 *                                each way at most the 2 MiB budget moved
 *   vm-tier limit HOT COLD       16 MiB on HOT over a 4 MiB limit: each step
 *                                demotes at most the budget, the coldest
 *                                first, until under the limit; the two
 *                                extents in use stay on HOT
 *   vm-tier full HOT COLD        COLD filled first (per-CPU free lists counted,
 *                                vm-pcp.h): demotions fail, counted in
 *                                failed_moves, the step still returns 0 and
 *                                nothing is lost; with COLD freed they go
 *   vm-tier ctier HOT COLD COMP  COMP declared compressed: 8 MiB idle on COLD
 *                                is compressed onto COMP; a write brings its
 *                                page back by itself (write_returned_bytes);
 *                                an extent written every step comes back
 *                                whole to HOT (decompressed_total)
 *   vm-tier remap HOT COLD MODE  a tracker of MODE (soft-dirty, uffd-wp): 8 MiB
 *                                on HOT, two extents mapped anew after the
 *                                first look, one of them written every step:
 *                                it stays on HOT while the idle ones go
 *                                down (before 0.10.1 uffd-wp read new memory
 *                                as untouched, and the tier demoted it)
 *   vm-tier hinted HOT COLD      16 MiB on HOT under the default policy (not
 *                                placed by pmn_migrate), left untouched until
 *                                NUMA balancing has marked its pages for
 *                                hinting faults (6.1's move_pages then calls
 *                                them absent), over a 4 MiB limit: the steps
 *                                still demote it to the limit (as root from
 *                                page frames; with a fourth argument
 *                                "nobody", as that user, from numa_maps)
 *
 * Data is checked intact at the end of each case.  Prints "ok: ..." lines;
 * exits 0 on success, 1 on failure, 77 when the tracker cannot run here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PMN_HARNESS_PROGRAM
#include "harness.h"
#include "pmnode.h"
#include "vm-hinted.h"
#include "vm-pcp.h"

#ifndef MiB
#define MiB (1ul << 20)
#endif
#define EXT MiB /* the tracker's granule here */

static size_t pg;

/* Pages of [p, p+len) the kernel reports on @node (raw move_pages query);
 * a page under a NUMA-balancing hinting fault (cpuless-hmat keeps
 * balancing on) is read-touched and asked about again. */
static size_t raw_on(char *p, size_t len, int node)
{
    size_t n = len / pg, on = 0;
    void **pages = malloc(n * sizeof(*pages));
    int *st = malloc(n * sizeof(*st));

    if (pages == NULL || st == NULL)
        FAIL("out of memory");
    for (size_t i = 0; i < n; i++)
        pages[i] = p + i * pg;
    for (int attempt = 0; attempt < 5; attempt++) {
        size_t unseen = 0;
        if (syscall(SYS_move_pages, 0, n, pages, NULL, st, 0) != 0)
            FAIL("move_pages query: %s", strerror(errno));
        for (size_t i = 0; i < n; i++)
            if (st[i] == -ENOENT || st[i] == -EFAULT) {
                (void)*(volatile char *)pages[i];
                unseen++;
            }
        if (unseen == 0)
            break;
    }
    for (size_t i = 0; i < n; i++)
        on += st[i] == node;
    free(pages);
    free(st);
    return on;
}

static char *store_on(struct pmn_ctx *ctx, size_t len, int node)
{
    /* aligned to the huge page size, so extent e here is the tracker's extent e */
    const size_t align = 2 * MiB;
    char *m = mmap(NULL, len + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct pmn_migrate_report r = {.struct_size = sizeof(r)};
    char *p;
    int err;

    if (m == MAP_FAILED)
        FAIL("mmap: %s", strerror(errno));
    p = (char *)(((uintptr_t)m + align - 1) & ~(uintptr_t)(align - 1));
    /* base pages: a transparent huge page would move whole, neighbours and all */
    if (madvise(p, len, MADV_NOHUGEPAGE) != 0)
        FAIL("madvise: %s", strerror(errno));
    /* compressible, and each page says where it is */
    for (size_t i = 0; i < len / pg; i++) {
        memset(p + i * pg, 'a' + (int)(i % 26), pg);
        memcpy(p + i * pg, &i, sizeof(i));
    }
    if ((err = pmn_migrate(ctx, p, len, node, 0, &r)) != 0)
        FAIL("placing on node %d: %s", node, pmn_err_name(err));
    return p;
}

static void check_data(const char *p, size_t len)
{
    for (size_t i = 0; i < len / pg; i++) {
        size_t k;
        memcpy(&k, p + i * pg, sizeof(k));
        if (k != i || p[i * pg + pg - 1] != 'a' + (int)(i % 26))
            FAIL("page %zu changed", i);
    }
}

/* Write one byte in every page of extent @e (keeps the data as it was). */
static void use(char *p, size_t e)
{
    for (size_t off = 0; off < EXT; off += pg) {
        volatile char *c = p + e * EXT + off + pg - 1;
        *c = *c;
    }
}

static struct pmn_tier *mk_mode(struct pmn_ctx *ctx, int hot, int cold, struct pmn_ctier *ct,
                                uint64_t limit, uint64_t budget, unsigned cold_looks,
                                unsigned compress_looks, enum pmn_track_mode track_mode)
{
    struct pmn_tier_opts o = {
        .struct_size = sizeof(o),
        .hot_node = hot,
        .cold_node = cold,
        .ctier = ct,
        .hot_limit = limit,
        .promote_budget = budget,
        .demote_budget = budget,
        .cold_looks = cold_looks,
        .compress_looks = compress_looks,
        .track = {.struct_size = sizeof(o.track), .mode = track_mode, .granule = EXT}};
    struct pmn_tier *t;
    int err = pmn_tier_new(ctx, &o, &t);

    if (err == -EOPNOTSUPP || err == -EPERM)
        SKIP("no tracker: %s", pmn_strerror(err));
    if (err)
        FAIL("pmn_tier_new: %s", pmn_err_name(err));
    printf("tracker: %s\n", pmn_track_mode_name(pmn_track_mode(pmn_tier_tracker(t))));
    return t;
}

static struct pmn_tier *mk(struct pmn_ctx *ctx, int hot, int cold, struct pmn_ctier *ct,
                           uint64_t limit, uint64_t budget, unsigned cold_looks,
                           unsigned compress_looks)
{
    return mk_mode(ctx, hot, cold, ct, limit, budget, cold_looks, compress_looks, PMN_TRACK_AUTO);
}

static long tracker_extents(struct pmn_tier *t, struct pmn_track_extent *ex, size_t n)
{
    return pmn_track_extents(pmn_tier_tracker(t), ex, n);
}

static void step(struct pmn_tier *t, struct pmn_tier_stats *d, const char *what, int i)
{
    char json[1024];
    int err;

    d->struct_size = sizeof(*d);
    if ((err = pmn_tier_step(t, d)) != 0)
        FAIL("%s: step %d: %s", what, i, pmn_err_name(err));
    pmn_tier_stats_json(d, json, sizeof(json));
    printf("%s step %d: %s\n", what, i, json);
    /* which extents the tracker saw touched, and their heat */
    struct pmn_track_extent ex[64];
    long n = tracker_extents(t, ex, 64);
    printf("  touched:");
    for (long k = 0; k < n && k < 64; k++)
        if (ex[k].pages_touched)
            printf(" %ld(%u/%u h%u)", k, ex[k].pages_touched, ex[k].pages_examined, ex[k].heat);
    printf("\n");
}

static int test_move(struct pmn_ctx *ctx, int hot, int cold)
{
    const size_t len = 16 * EXT, per = EXT / pg;
    const uint64_t limit = 4 * MiB, budget = 2 * MiB;
    char *p = store_on(ctx, len, cold);
    struct pmn_tier *t = mk(ctx, hot, cold, NULL, limit, budget, 2, 8);
    struct pmn_tier_stats d;
    const size_t h1[] = {3, 9}, h2[] = {12, 13, 14, 15};

    if (pmn_tier_add(t, p, len) != 0)
        FAIL("add");
    for (int i = 1; i <= 8; i++) {
        for (size_t k = 0; k < 2; k++)
            use(p, h1[k]);
        step(t, &d, "busy-2", i);
        if (d.promoted_bytes > budget || d.demoted_bytes > budget)
            FAIL("step %d moved %llu up, %llu down: over the budget", i,
                 (unsigned long long)d.promoted_bytes, (unsigned long long)d.demoted_bytes);
        if (raw_on(p, len, hot) * pg > limit)
            FAIL("step %d: %zu bytes on the hot node, limit %llu", i, raw_on(p, len, hot) * pg,
                 (unsigned long long)limit);
    }
    for (size_t k = 0; k < 2; k++)
        if (raw_on(p + h1[k] * EXT, EXT, hot) != per)
            FAIL("busy extent %zu: %zu of %zu pages on the hot node", h1[k],
                 raw_on(p + h1[k] * EXT, EXT, hot), per);
    if (raw_on(p, len, cold) != 14 * per)
        FAIL("idle extents: %zu of %zu pages on the cold node", raw_on(p, len, cold), 14 * per);
    printf("ok: the two busy extents on node %d, the 14 idle ones on node %d\n", hot, cold);

    for (int i = 1; i <= 12; i++) {
        for (size_t k = 0; k < 4; k++)
            use(p, h2[k]);
        step(t, &d, "busy-4", i);
        if (d.promoted_bytes > budget || d.demoted_bytes > budget)
            FAIL("step %d: over the budget", i);
        if (raw_on(p, len, hot) * pg > limit)
            FAIL("step %d: %zu bytes on the hot node, limit %llu", i, raw_on(p, len, hot) * pg,
                 (unsigned long long)limit);
    }
    for (size_t k = 0; k < 4; k++)
        if (raw_on(p + h2[k] * EXT, EXT, hot) != per)
            FAIL("new busy extent %zu: %zu of %zu pages on the hot node", h2[k],
                 raw_on(p + h2[k] * EXT, EXT, hot), per);
    for (size_t k = 0; k < 2; k++)
        if (raw_on(p + h1[k] * EXT, EXT, cold) != per)
            FAIL("old busy extent %zu not back on the cold node", h1[k]);
    printf("ok: the new busy extents came up, the old ones went down, never over %llu MiB\n",
           (unsigned long long)(limit / MiB));
    check_data(p, len);
    pmn_tier_free(t);
    munmap(p, len);
    printf("ok: data intact\n");
    return 0;
}

static int test_limit(struct pmn_ctx *ctx, int hot, int cold)
{
    const size_t len = 16 * EXT, per = EXT / pg;
    const uint64_t limit = 4 * MiB, budget = 2 * MiB;
    char *p = store_on(ctx, len, hot);
    /* cold_looks high: only the limit makes extents leave */
    struct pmn_tier *t = mk(ctx, hot, cold, NULL, limit, budget, 1000, 1000);
    struct pmn_tier_stats d;
    size_t prev = raw_on(p, len, hot);

    if (pmn_tier_add(t, p, len) != 0)
        FAIL("add");
    for (int i = 1; i <= 10; i++) {
        use(p, 0);
        use(p, 7);
        step(t, &d, "limit", i);
        size_t now = raw_on(p, len, hot);
        if (d.demoted_bytes > budget || d.promoted_bytes != 0)
            FAIL("step %d: %llu down (budget %llu), %llu up", i,
                 (unsigned long long)d.demoted_bytes, (unsigned long long)budget,
                 (unsigned long long)d.promoted_bytes);
        if (now > prev || prev - now > budget / pg)
            FAIL("step %d: hot pages %zu -> %zu", i, prev, now);
        prev = now;
    }
    if (prev * pg > limit)
        FAIL("after 10 steps %zu bytes still on the hot node (limit %llu)", prev * pg,
             (unsigned long long)limit);
    if (raw_on(p, EXT, hot) != per || raw_on(p + 7 * EXT, EXT, hot) != per)
        FAIL("an extent in use was demoted");
    printf("ok: down to the limit by at most the budget per step; the extents in use stayed\n");
    check_data(p, len);
    pmn_tier_free(t);
    munmap(p, len);
    printf("ok: data intact\n");
    return 0;
}

static int test_full(struct pmn_ctx *ctx, int hot, int cold)
{
    const size_t len = 8 * EXT;
    static struct pmn_region *regions[8192];
    const size_t sizes[] = {8 * MiB, MiB, 64 << 10};
    struct pmn_backing_params *bp;
    struct pmn_backing *fill, *fill0 = pmn_vm_backing0(ctx, cold);
    struct pmn_tier_stats d;
    size_t nr = 0;
    char *p = store_on(ctx, len, hot);
    struct pmn_tier *t = mk(ctx, hot, cold, NULL, 2 * MiB, 8 * MiB, 1, 1000);
    uint64_t avail, most;
    int err;

    /* Fill the cold node as far as placement lets anyone (its headroom). */
    pmn_backing_params_new(&bp);
    pmn_backing_params_set_node(bp, cold);
    if ((err = pmn_backing_new(ctx, bp, &fill)) != 0)
        FAIL("strict backing on %d: %s", cold, pmn_strerror(err));
    pmn_backing_params_free(bp);
    pmn_vm_drain_cpu1(ctx, cold);
    for (size_t s = 0; s < 3; s++)
        while (nr < 8192 && pmn_region_map(fill, sizes[s], &regions[nr]) == 0)
            nr++;
    /* That leaves the headroom and up to 64 KiB, less than the headroom
     * plus one extent, until the kernel moves its per-CPU free pages into
     * MemFree (vm-pcp.h): topped up without headroom so that even then a
     * 1 MiB demotion finds no room.  (64 MiB: the default headroom on a
     * node below 6.4 GiB.) */
    nr = pmn_vm_fill_below(ctx, fill0, regions, nr, 8192, cold, 60 * MiB, &avail, &most);
    printf("info: node %d filled: %llu MiB available, %llu MiB with its per-CPU lists\n", cold,
           (unsigned long long)(avail >> 20), (unsigned long long)(most >> 20));
    pmn_vm_drain_cpu1(ctx, cold);
    if (pmn_tier_add(t, p, len) != 0)
        FAIL("add");
    uint64_t failed = 0;
    for (int i = 1; i <= 4; i++) {
        step(t, &d, "full", i);
        failed += d.failed_moves;
        if (d.demoted_bytes != 0)
            FAIL("step %d demoted %llu bytes into a full node", i,
                 (unsigned long long)d.demoted_bytes);
    }
    if (failed == 0)
        FAIL("no failed move counted");
    if (raw_on(p, len, hot) != len / pg)
        FAIL("pages left the hot node");
    printf("ok: %llu failed demotions counted, every step returned 0, nothing moved\n",
           (unsigned long long)failed);
    while (nr > 0)
        pmn_region_unmap(regions[--nr]);
    pmn_backing_free(fill);
    pmn_backing_free(fill0);
    pmn_vm_run_anywhere();
    for (int i = 1; i <= 3; i++)
        step(t, &d, "freed", i);
    if (raw_on(p, len, hot) * pg > 2 * MiB)
        FAIL("with room again, %zu bytes still on the hot node", raw_on(p, len, hot) * pg);
    printf("ok: with room on node %d the demotions went through\n", cold);
    check_data(p, len);
    pmn_tier_free(t);
    munmap(p, len);
    printf("ok: data intact\n");
    return 0;
}

static int test_ctier(struct pmn_ctx *ctx, int hot, int cold, int comp)
{
    const size_t len = 8 * EXT, per = EXT / pg;
    struct pmn_ctier_opts co = {.struct_size = sizeof(co), .node = comp, .promote_node = hot};
    struct pmn_ctier *ct;
    struct pmn_tier_stats d, s = {.struct_size = sizeof(s)};
    char *p = store_on(ctx, len, cold);
    int err;

    if ((err = pmn_ctier_open(ctx, &co, &ct)) != 0)
        FAIL("pmn_ctier_open node %d: %s", comp, pmn_err_name(err));
    {
        /* A uffd-wp tracker and the compressed tier would both register
         * the ranges with userfaultfd: refused at creation (it was
         * accepted, and every compression then failed with -EBUSY). */
        struct pmn_tier_opts wp = {
            .struct_size = sizeof(wp),
            .hot_node = hot,
            .cold_node = cold,
            .ctier = ct,
            .track = {.struct_size = sizeof(wp.track), .mode = PMN_TRACK_UFFD_WP}};
        struct pmn_tier *bad = NULL;

        if ((err = pmn_tier_new(ctx, &wp, &bad)) != -EOPNOTSUPP)
            FAIL("a uffd-wp tracker with a compressed tier: %s", pmn_err_name(err));
        printf("ok: a uffd-wp tracker with a compressed tier is refused\n");
    }
    struct pmn_tier *t = mk(ctx, hot, cold, ct, 0, 64 * MiB, 1, 2);

    if (pmn_tier_add(t, p, len) != 0)
        FAIL("add");
    for (int i = 1; i <= 5; i++)
        step(t, &d, "idle", i);
    if (raw_on(p, len, comp) != len / pg)
        FAIL("idle: %zu of %zu pages on the compressed node %d", raw_on(p, len, comp), len / pg,
             comp);
    printf("ok: the idle store is on the compressed node %d (%s)\n", comp,
           pmn_ctier_write_control(ct));

    /* One write: the compressed tier brings that page back by itself. */
    ((volatile char *)p)[5 * EXT + 3 * pg + 100] = p[5 * EXT + 3 * pg + 100];
    if (raw_on(p + 5 * EXT + 3 * pg, pg, hot) != 1)
        FAIL("the written page is not back on node %d", hot);
    step(t, &d, "one-write", 1);
    if (d.write_returned_bytes < pg)
        FAIL("write_returned_bytes %llu after a write",
             (unsigned long long)d.write_returned_bytes);
    printf("ok: a write brought its page back and the step counted it\n");

    for (int i = 1; i <= 4; i++) {
        use(p, 2);
        step(t, &d, "busy", i);
    }
    if (raw_on(p + 2 * EXT, EXT, hot) != per)
        FAIL("the busy extent: %zu of %zu pages on node %d", raw_on(p + 2 * EXT, EXT, hot), per,
             hot);
    pmn_tier_stats(t, &s);
    if (s.decompressed_total == 0 && s.write_returned_bytes < EXT)
        FAIL("nothing came back from the compressed tier");
    if (raw_on(p + 6 * EXT, EXT, comp) != per)
        FAIL("an idle extent left the compressed node");
    printf("ok: the busy extent is whole on node %d (decompressed %llu, by writes %llu bytes)\n",
           hot, (unsigned long long)s.decompressed_total,
           (unsigned long long)s.write_returned_bytes);
    check_data(p, len);
    pmn_tier_free(t);
    pmn_ctier_close(ct);
    munmap(p, len);
    printf("ok: data intact\n");
    return 0;
}

static int test_remap(struct pmn_ctx *ctx, int hot, int cold, const char *mode)
{
    const size_t len = 8 * EXT, per = EXT / pg;
    char *p = store_on(ctx, len, hot);
    struct pmn_tier *t;
    struct pmn_tier_stats d;
    enum pmn_track_mode m;

    if (strcmp(mode, "soft-dirty") == 0)
        m = PMN_TRACK_SOFT_DIRTY;
    else if (strcmp(mode, "uffd-wp") == 0)
        m = PMN_TRACK_UFFD_WP;
    else
        FAIL("mode %s: soft-dirty or uffd-wp", mode);
    t = mk_mode(ctx, hot, cold, NULL, 16 * MiB, 8 * MiB, 2, 8, m);
    if (pmn_tier_add(t, p, len) != 0)
        FAIL("add");
    step(t, &d, "first-look", 1);
    /* Extents 2 and 3 mapped anew (glibc does this with a freed large
     * block's addresses); the process runs on HOT, so first touch puts the
     * new pages there. */
    if (mmap(p + 2 * EXT, 2 * EXT, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
             -1, 0) != p + 2 * EXT)
        FAIL("mmap anew: %s", strerror(errno));
    if (madvise(p + 2 * EXT, 2 * EXT, MADV_NOHUGEPAGE) != 0)
        FAIL("madvise: %s", strerror(errno));
    memset(p + 2 * EXT, 'n', EXT);
    if (raw_on(p + 2 * EXT, EXT, hot) != per)
        FAIL("the new extent is not on node %d to begin with", hot);
    for (int i = 1; i <= 6; i++) {
        use(p, 0);
        use(p, 2);
        step(t, &d, "remapped", i);
    }
    if (raw_on(p + 2 * EXT, EXT, hot) != per)
        FAIL("the new extent, written every step: %zu of %zu pages on node %d (%zu on node %d)",
             raw_on(p + 2 * EXT, EXT, hot), per, hot, raw_on(p + 2 * EXT, EXT, cold), cold);
    if (raw_on(p, EXT, hot) != per)
        FAIL("extent 0, written every step, left node %d", hot);
    if (raw_on(p + 4 * EXT, 4 * EXT, cold) != 4 * per)
        FAIL("the idle extents: %zu of %zu pages on node %d", raw_on(p + 4 * EXT, 4 * EXT, cold),
             4 * per, cold);
    for (size_t i = 0; i < per; i++)
        if (p[2 * EXT + i * pg] != 'n')
            FAIL("the new extent's page %zu changed", i);
    printf("ok: %s: memory mapped anew and written stays on node %d, idle memory went to %d\n",
           mode, hot, cold);
    pmn_tier_free(t);
    munmap(p, len);
    return 0;
}

/* ---- hinted: the managed memory under NUMA-balancing hinting faults ---- */

static int test_hinted(struct pmn_ctx *ctx, int hot, int cold)
{
    const size_t len = 16 * EXT;
    const uint64_t limit = 4 * MiB, budget = 2 * MiB;
    const size_t align = 2 * MiB;
    char *m = mmap(NULL, len + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned long mask = 1ul << hot;
    const size_t n = len / pg;
    struct pmn_tier *t;
    struct pmn_tier_stats d;
    size_t hidden, now;
    char *p;

    if (!pmn_vm_balancing_on())
        SKIP("hinted: NUMA balancing is off in this guest");
    if (m == MAP_FAILED)
        FAIL("mmap: %s", strerror(errno));
    p = (char *)(((uintptr_t)m + align - 1) & ~(uintptr_t)(align - 1));
    if (madvise(p, len, MADV_NOHUGEPAGE) != 0)
        FAIL("madvise: %s", strerror(errno));
    /* Written on HOT, then the default policy again: as an application's
     * own memory, which NUMA balancing scans (bound memory it does not). */
    if (syscall(SYS_mbind, p, len, 2 /* MPOL_BIND */, &mask, 8 * sizeof(mask), 0) != 0)
        FAIL("mbind: %s", strerror(errno));
    for (size_t i = 0; i < len / pg; i++) {
        memset(p + i * pg, 'a' + (int)(i % 26), pg);
        memcpy(p + i * pg, &i, sizeof(i));
    }
    if (syscall(SYS_mbind, p, len, 0 /* MPOL_DEFAULT */, NULL, 0, 0) != 0)
        FAIL("mbind default: %s", strerror(errno));
    t = mk(ctx, hot, cold, NULL, limit, budget, 1000, 1000);
    if (pmn_tier_add(t, p, len) != 0)
        FAIL("add");
    hidden = pmn_vm_hinted_wait("hinted", &p, &n, 1);
    for (int i = 1; i <= 10; i++)
        step(t, &d, "hinted", i);
    now = raw_on(p, len, hot);
    if (now * pg > limit)
        FAIL("hinted: after 10 steps %zu bytes still on the hot node (limit %llu)", now * pg,
             (unsigned long long)limit);
    if (raw_on(p, len, cold) + now != len / pg)
        FAIL("hinted: %zu pages on neither node", len / pg - now - raw_on(p, len, cold));
    printf("ok: hinted: %zu of %zu pages hidden from move_pages, demoted to the limit\n", hidden,
           len / pg);
    check_data(p, len);
    pmn_tier_free(t);
    munmap(m, len + align);
    printf("ok: data intact\n");
    return 0;
}

int main(int argc, char **argv)
{
    struct pmn_ctx *ctx;
    int err, rc = 2;

    pg = (size_t)getpagesize();
    if (argc < 4 ||
        ((strcmp(argv[1], "ctier") == 0 || strcmp(argv[1], "remap") == 0) && argc < 5)) {
        fprintf(stderr, "usage: vm-tier move|limit|full HOT COLD | hinted HOT COLD [nobody] | "
                        "ctier HOT COLD COMP | remap "
                        "HOT COLD MODE\n");
        return 2;
    }
    if ((err = pmn_ctx_new(&ctx)) != 0)
        FAIL("pmn_ctx_new: %s", pmn_strerror(err));
    int hot = atoi(argv[2]), cold = atoi(argv[3]);
    if (strcmp(argv[1], "move") == 0)
        rc = test_move(ctx, hot, cold);
    else if (strcmp(argv[1], "limit") == 0)
        rc = test_limit(ctx, hot, cold);
    else if (strcmp(argv[1], "full") == 0)
        rc = test_full(ctx, hot, cold);
    else if (strcmp(argv[1], "ctier") == 0)
        rc = test_ctier(ctx, hot, cold, atoi(argv[4]));
    else if (strcmp(argv[1], "remap") == 0)
        rc = test_remap(ctx, hot, cold, argv[4]);
    else if (strcmp(argv[1], "hinted") == 0 && argc > 4 && strcmp(argv[4], "nobody") == 0) {
        /* Without CAP_SYS_ADMIN: no page frames in the pagemap, so the
         * hidden pages are placed from numa_maps. */
        if (setgid(65534) != 0 || setuid(65534) != 0 || prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0)
            FAIL("setuid nobody: %s", strerror(errno));
        rc = test_hinted(ctx, hot, cold);
    } else if (strcmp(argv[1], "hinted") == 0)
        rc = test_hinted(ctx, hot, cold);
    pmn_ctx_unref(ctx);
    return rc;
}
