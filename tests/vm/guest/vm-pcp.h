/*
 * vm-pcp.h - the per-CPU free lists in guest tests that assert a refusal
 * (included by vm-migrate.c, vm-placement.c and vm-tier.c after harness.h
 * and pmnode.h).
 *
 * The page allocator keeps freed pages on per-CPU lists before they reach
 * the buddy lists.  MemFree, and so pmn_node_read_available(), leaves them
 * out, and the kernel moves them into MemFree on its own clock: on the
 * cpuless-hmat guest one CPU's lists for node 1 held 30 MiB (6.1) to
 * 60 MiB (6.12) after a 32 MiB migration away from it.  A test that fills
 * a node until the library refuses a request, and expects the next request
 * to be refused too, is then at the mercy of that drain: the node really
 * can give more a moment later.  (CI, 2026-12-05: "too full even without
 * headroom" moved all 8192 pages on 6.12.)
 *
 * So such a test runs on CPU 1, empties CPU 1's lists before it fills
 * (taking the CPU offline and back, which returns them to the buddy
 * lists), and fills until the available memory plus every page still on
 * some CPU's list is below what must be refused: pmn_vm_at_most().  Where
 * CPU 1 cannot go offline the test still counts the lists.
 */
#ifndef PMN_VM_PCP_H
#define PMN_VM_PCP_H

#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Run on CPU @cpu only: 0, or -1 where there is no such CPU. */
static inline int pmn_vm_run_on(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set) == 0 ? 0 : -1;
}

/* Run on any CPU again. */
static inline void pmn_vm_run_anywhere(void)
{
    cpu_set_t all;

    CPU_ZERO(&all);
    for (int c = 0; c < CPU_SETSIZE; c++)
        CPU_SET(c, &all);
    (void)sched_setaffinity(0, sizeof(all), &all);
}

static inline int pmn_vm_cpu_online(int cpu, int on)
{
    char path[64];
    FILE *f;
    int ok;

    snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/online", cpu);
    if ((f = fopen(path, "w")) == NULL)
        return -1;
    ok = fprintf(f, "%d\n", on) > 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* CPU 1's per-CPU free pages back to the buddy lists now, as the kernel
 * does on its own clock: CPU 1 offline and back.  The test runs on CPU 1
 * from then on, so that the pages its migrations free wait on lists this
 * can drain.  Prints how much MemFree and the available figure of @node
 * grew.  False, with the test where it was, when there is no CPU 1; false
 * also where CPU 1 cannot go offline. */
static inline bool pmn_vm_drain_cpu1(struct pmn_ctx *ctx, int node)
{
    uint64_t free0 = 0, free1 = 0, av0 = 0, av1 = 0;
    bool done;
    int why;

    if (pmn_vm_run_on(1) != 0) {
        printf("info: no cpu1: the per-CPU lists are not drained\n");
        return false;
    }
    if (pmn_vm_run_on(0) != 0)
        return false;
    pmn_node_read_free(ctx, node, &free0);
    pmn_node_read_available(ctx, node, &av0);
    done = pmn_vm_cpu_online(1, 0) == 0;
    why = errno;
    if (done && pmn_vm_cpu_online(1, 1) != 0)
        FAIL("cpu1 did not come back online: %s", strerror(errno));
    pmn_node_read_free(ctx, node, &free1);
    pmn_node_read_available(ctx, node, &av1);
    if (pmn_vm_run_on(1) != 0)
        FAIL("back on cpu1: %s", strerror(errno));
    if (done)
        printf("info: cpu1 offline and back: node %d MemFree %+lld KiB, available %+lld KiB\n",
               node, ((long long)free1 - (long long)free0) / 1024,
               ((long long)av1 - (long long)av0) / 1024);
    else
        printf("info: cpu1 cannot go offline here (%s): its lists stay\n", strerror(why));
    return done;
}

/* Free pages on @node's per-CPU lists (the "count:" lines of its zones'
 * pagesets in /proc/zoneinfo), in bytes. */
static inline uint64_t pmn_vm_pcp_bytes(int node)
{
    FILE *f = fopen("/proc/zoneinfo", "r");
    char line[256];
    unsigned long long count, sum = 0;
    int cur = -1, id;

    if (f == NULL)
        FAIL("/proc/zoneinfo: %s", strerror(errno));
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "Node %d, zone", &id) == 1)
            cur = id;
        else if (cur == node && sscanf(line, " count: %llu", &count) == 1)
            sum += count;
    }
    fclose(f);
    return (uint64_t)sum * (uint64_t)getpagesize();
}

/* The most the library's available figure for @node can read before
 * anything is allocated there: now (*@avail), plus every per-CPU free
 * page. */
static inline uint64_t pmn_vm_at_most(struct pmn_ctx *ctx, int node, uint64_t *avail)
{
    int err = pmn_node_read_available(ctx, node, avail);

    if (err != 0)
        FAIL("pmn_node_read_available %d: %s", node, pmn_strerror(err));
    return *avail + pmn_vm_pcp_bytes(node);
}

/* A strict backing on @node without headroom: what fills a node past
 * the point where the library's own check stops a backing with it. */
static inline struct pmn_backing *pmn_vm_backing0(struct pmn_ctx *ctx, int node)
{
    struct pmn_backing_params *bp;
    struct pmn_backing *b;
    int err;

    pmn_backing_params_new(&bp);
    pmn_backing_params_set_node(bp, node);
    pmn_backing_params_set_headroom(bp, 0);
    err = pmn_backing_new(ctx, bp, &b);
    pmn_backing_params_free(bp);
    if (err != 0)
        FAIL("strict backing on %d without headroom: %s", node, pmn_strerror(err));
    return b;
}

/* Map 8 MiB regions of @fill (a pmn_vm_backing0() on @node) into
 * reg[nr..max) until pmn_vm_at_most() is below @target or a map fails;
 * returns the new count.  Drain CPU 1 first where the lists the test's
 * own frees filled would stay: pages there count, but a fill cannot take
 * them once MemFree is below the watermarks. */
static inline size_t pmn_vm_fill_to(struct pmn_ctx *ctx, struct pmn_backing *fill,
                                    struct pmn_region **reg, size_t nr, size_t max, int node,
                                    uint64_t target)
{
    uint64_t avail;

    while (nr < max && pmn_vm_at_most(ctx, node, &avail) >= target &&
           pmn_region_map(fill, (size_t)8 << 20, &reg[nr]) == 0)
        nr++;
    return nr;
}

/* pmn_vm_fill_to(), then the setup check of a test that needs @node full
 * below @target whatever the lists do: FAIL when the fill ran out first.
 * *@avail and *@most are the last figures read (for the test's report). */
static inline size_t pmn_vm_fill_below(struct pmn_ctx *ctx, struct pmn_backing *fill,
                                       struct pmn_region **reg, size_t nr, size_t max, int node,
                                       uint64_t target, uint64_t *avail, uint64_t *most)
{
    nr = pmn_vm_fill_to(ctx, fill, reg, nr, max, node, target);
    *most = pmn_vm_at_most(ctx, node, avail);
    if (*most >= target)
        FAIL("setup: %llu MiB available on %d, %llu MiB with its per-CPU lists, want below %llu",
             (unsigned long long)(*avail >> 20), node, (unsigned long long)(*most >> 20),
             (unsigned long long)(target >> 20));
    return nr;
}

#endif
