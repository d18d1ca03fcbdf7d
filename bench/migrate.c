/*
 * migrate.c - migration throughput (issue 16): pmn_migrate() against the
 * two raw kernel paths on the same range in one run.
 *
 *   pmn_migrate     the library call: two query passes, the capacity check,
 *                   move_pages in batches, bind, verify
 *   raw move_pages  one move_pages(2) call over every page (no check, no
 *                   bind, no verification), repeated while it answers that
 *                   some pages did not move or are busy (up to 4 times:
 *                   fresh pages not on an LRU list yet read -EBUSY)
 *   raw mbind       mbind(MPOL_BIND, MPOL_MF_MOVE | MPOL_MF_STRICT): the
 *                   kernel moves and binds in one call (no verification)
 *
 * Each repetition populates a fresh range on node FROM (untimed), then
 * times one move to node TO; the methods run round-robin (rep 1 of each,
 * rep 2 of each...), the first round untimed as a warm-up.  Printed: GiB/s
 * on the median time, min, spread ((max - min) / median), and each method's
 * ratio to the faster raw path (> 1: faster than it).  Every page is
 * checked on TO after each timed move (untimed); a method that fails says
 * so in its row.  Needs two nodes with memory: elsewhere it prints
 * "skipped" and exits 0.
 *
 *   migrate [--from N] [--to N] [--size 128M] [--reps 7] [--thp]
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "pmnode.h"

#define MPOL_DEFAULT_ 0
#define MPOL_BIND_ 2
#define MPOL_MF_STRICT_ (1 << 0)
#define MPOL_MF_MOVE_ (1 << 1)

enum { M_PMN, M_MOVE_PAGES, M_MBIND, M_N };
static const char *const names[M_N] = {"pmn_migrate", "raw move_pages", "raw mbind MF_MOVE"};

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int bind_to(void *p, size_t len, int node, unsigned flags)
{
    unsigned long mask[16] = {0};

    mask[node / 64] = 1ul << (node % 64);
    return syscall(SYS_mbind, p, len, MPOL_BIND_, mask, 1024ul, flags) == 0 ? 0 : -errno;
}

static size_t pages_on(void **pages, int *st, size_t n, int node)
{
    size_t on = 0;

    /* With NUMA balancing on, a page under a hinting fault reads as absent
     * until touched. */
    for (size_t i = 0; i < n; i++)
        (void)*(volatile char *)pages[i];

    if (syscall(SYS_move_pages, 0, n, pages, NULL, st, 0) != 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        on += st[i] == node;
    return on;
}

/* The raw move_pages row is judged by the statuses of its own call: the
 * range keeps the default policy, so NUMA balancing pulls the pages back
 * to the CPUs' node as soon as they are touched (seen in the vm lane: the
 * whole range on node 0 again by the time a later query looked). */
static size_t count_on(const int *st, size_t n, int node)
{
    size_t on = 0;

    for (size_t i = 0; i < n; i++)
        on += st[i] == node;
    return on;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static size_t parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);

    switch (*end) {
    case 'G': v <<= 30; break;
    case 'M': v <<= 20; break;
    case 'K': v <<= 10; break;
    default: break;
    }
    return (size_t)v;
}

int main(int argc, char **argv)
{
    int from = 0, to = 1, reps = 7, failed = 0;
    size_t size = 128u << 20;
    bool thp = false;
    struct pmn_ctx *ctx;
    uint64_t *t[M_N];
    char *why[M_N] = {0};
    const size_t pg = (size_t)getpagesize();
    size_t n;
    void **pages, **mv;
    int *st, *nodes;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--from") && i + 1 < argc)
            from = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--to") && i + 1 < argc)
            to = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc)
            size = parse_size(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--thp"))
            thp = true;
        else {
            fprintf(stderr,
                    "usage: migrate [--from N] [--to N] [--size 128M] [--reps 7] [--thp]\n");
            return 2;
        }
    }
    size = (size + pg - 1) / pg * pg;
    if (reps < 1 || size == 0 || from < 0 || to < 0 || from > 1023 || to > 1023 || from == to) {
        fprintf(stderr, "migrate: bad options\n");
        return 2;
    }
    if (pmn_ctx_new(&ctx) != 0 || pmn_node_get(ctx, from) == NULL ||
        pmn_node_get(ctx, to) == NULL) {
        printf("migrate: skipped: needs nodes %d and %d\n", from, to);
        return 0;
    }
    n = size / pg;
    pages = malloc(n * sizeof(*pages));
    mv = malloc(n * sizeof(*mv));
    st = malloc(n * sizeof(*st));
    nodes = malloc(n * sizeof(*nodes));
    for (int m = 0; m < M_N; m++)
        t[m] = calloc((size_t)reps, sizeof(uint64_t));
    if (!pages || !mv || !st || !nodes || !t[0] || !t[1] || !t[2]) {
        fprintf(stderr, "migrate: out of memory\n");
        return 1;
    }
    printf("migrate: %zu MiB, node %d -> %d, %s pages, %d reps (+1 warm-up), round-robin\n",
           size >> 20, from, to, thp ? "THP" : "4 KiB", reps);
    for (int rep = -1; rep < reps; rep++) {
        for (int m = 0; m < M_N; m++) {
            char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            struct pmn_migrate_report r = {.struct_size = sizeof(r)};
            uint64_t t0, t1;
            int err = 0;

            if (p == MAP_FAILED) {
                why[m] = "mmap failed";
                continue;
            }
            madvise(p, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
            if (bind_to(p, size, from, 0) != 0)
                why[m] = "mbind FROM failed";
            memset(p, 0x5a, size);
            syscall(SYS_mbind, p, size, MPOL_DEFAULT_, NULL, 0, 0);
            for (size_t i = 0; i < n; i++) {
                pages[i] = p + i * pg;
                nodes[i] = to;
            }
            t0 = now_ns();
            switch (m) {
            case M_PMN: err = pmn_migrate(ctx, p, size, to, 0, &r); break;
            case M_MOVE_PAGES: {
                /* > 0: that many pages not moved (a batch the kernel gave up
                 * on), and -EBUSY statuses: asked again, as the library
                 * does and any careful caller must. */
                long left = syscall(SYS_move_pages, 0, n, pages, nodes, st, 0);
                for (int again = 0; left >= 0 && again < 4; again++) {
                    size_t busy = 0;
                    for (size_t i = 0; i < n; i++)
                        busy += st[i] == -EBUSY || st[i] == -EAGAIN;
                    if (left == 0 && busy == 0)
                        break;
                    left = syscall(SYS_move_pages, 0, n, pages, nodes, st, 0);
                }
                err = left == 0 ? 0 : left < 0 ? -errno : -EBUSY;
                break;
            }
            case M_MBIND: err = bind_to(p, size, to, MPOL_MF_MOVE_ | MPOL_MF_STRICT_); break;
            }
            t1 = now_ns();
            if (err != 0)
                why[m] = "the move failed";
            else if (m == M_MOVE_PAGES ? count_on(st, n, to) != n
                                       : pages_on(pages, st, n, to) != n) {
                static char msg[M_N][160];
                size_t off = 0, first = n;
                for (size_t i = 0; i < n; i++)
                    if (st[i] != to) {
                        off++;
                        if (first == n)
                            first = i;
                    }
                snprintf(msg[m], sizeof(msg[m]),
                         "%zu pages left behind, the first (page %zu) reads %d", off, first,
                         first < n ? st[first] : 0);
                why[m] = msg[m];
            }
            if (rep >= 0)
                t[m][rep] = t1 - t0;
            munmap(p, size);
        }
    }
    {
        uint64_t med[M_N], best_raw;
        for (int m = 0; m < M_N; m++) {
            qsort(t[m], (size_t)reps, sizeof(uint64_t), cmp_u64);
            med[m] = t[m][reps / 2];
        }
        best_raw = med[M_MOVE_PAGES] < med[M_MBIND] ? med[M_MOVE_PAGES] : med[M_MBIND];
        printf("%-20s %10s %10s %8s %22s\n", "method", "GiB/s", "min ms", "spread",
               "vs faster raw (median)");
        for (int m = 0; m < M_N; m++) {
            if (why[m] != NULL) {
                printf("%-20s failed: %s\n", names[m], why[m]);
                failed = 1;
                continue;
            }
            printf("%-20s %10.2f %10.2f %7.1f%% %21.2fx\n", names[m],
                   (double)size / (1 << 30) / ((double)med[m] / 1e9), (double)t[m][0] / 1e6,
                   100.0 * (double)(t[m][reps - 1] - t[m][0]) / (double)med[m],
                   (double)best_raw / (double)med[m]);
        }
    }
    pmn_ctx_unref(ctx);
    return failed;
}
