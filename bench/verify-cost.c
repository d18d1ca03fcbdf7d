/*
 * verify-cost.c - what checking the placement of a populated region costs,
 * by each way the kernel offers, next to the cost of populating it.
 *
 * Standalone (libc only), so it measures the kernel interfaces and not one
 * implementation of them.  A region of SIZE bytes is bound to NODE with
 * mbind(MPOL_BIND|MPOL_F_STATIC_NODES) and populated with
 * MADV_POPULATE_WRITE (with --thp: 2 MiB aligned and MADV_HUGEPAGE first);
 * then every method below must find every page of it on NODE:
 *
 *   move_pages, one call     status query for all pages at once (the
 *                            pointer and status arrays are built in the
 *                            timed part, as a library would)
 *   move_pages, 4096/call    the same in fixed batches (small arrays)
 *   move_pages, 1/huge page  one address per PMD (only meaningful when the
 *                            whole region is THP-mapped; --thp)
 *   numa_maps, full read     read /proc/self/numa_maps, find the region's
 *                            line, sum its N<node>=pages fields
 *   numa_maps + ballast      the same with another populated mapping of the
 *                            same size in the process: numa_maps walks the
 *                            page tables of every mapping, not just ours
 *   pagemap + memory blocks  pread /proc/self/pagemap (8 bytes per page),
 *                            PFN -> node from the sysfs memory blocks
 *                            (needs CAP_SYS_ADMIN for PFNs)
 *   get_mempolicy per page   MPOL_F_NODE|MPOL_F_ADDR, one syscall per page,
 *                            sampled on 8192 pages and scaled up
 *
 * Prints one table: method, median ms, ms per GiB, % of the populate time.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef MPOL_BIND
#define MPOL_BIND 2
#endif
#ifndef MPOL_F_STATIC_NODES
#define MPOL_F_STATIC_NODES (1 << 15)
#endif
#ifndef MPOL_F_NODE
#define MPOL_F_NODE (1 << 0)
#endif
#ifndef MPOL_F_ADDR
#define MPOL_F_ADDR (1 << 1)
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define GIB (1024.0 * 1024.0 * 1024.0)
#define MAX_REPS 51

static int g_node;
static size_t g_size = 1ul << 30;
static size_t g_page;
static size_t g_huge = 2u << 20;
static int g_reps = 5;
static bool g_thp;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- the region ------------------------------------------------------ */

struct region {
    char *addr;
    size_t len;
    double populate_ms;
};

static int region_map(struct region *r, bool thp, bool ballast)
{
    size_t extra = thp ? g_huge : 0;
    double t0 = now_ms();
    char *p =
        mmap(NULL, g_size + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    if (thp) {
        uintptr_t a = ((uintptr_t)p + g_huge - 1) & ~(uintptr_t)(g_huge - 1);
        size_t head = a - (uintptr_t)p;
        if (head)
            munmap(p, head);
        if (extra - head)
            munmap((char *)a + g_size, extra - head);
        p = (char *)a;
        madvise(p, g_size, MADV_HUGEPAGE);
    }
    /* Different VMA flags: the ballast must not merge with the region's
     * VMA, or numa_maps would show the two as one line. */
    if (ballast)
        madvise(p, g_size, MADV_NOHUGEPAGE);
    unsigned long mask[(g_node / 64) + 1];
    memset(mask, 0, sizeof(mask));
    mask[g_node / 64] = 1ul << (g_node % 64);
    if (syscall(SYS_mbind, p, g_size, MPOL_BIND | MPOL_F_STATIC_NODES, mask,
                (unsigned long)(sizeof(mask) * CHAR_BIT + 1), 0u) != 0 ||
        madvise(p, g_size, MADV_POPULATE_WRITE) != 0) {
        int err = -errno;
        munmap(p, g_size);
        return err;
    }
    r->addr = p;
    r->len = g_size;
    r->populate_ms = now_ms() - t0;
    return 0;
}

/* ---- methods: each returns pages found on g_node, or -errno ----------- */

static long by_move_pages(const struct region *r, size_t batch, size_t stride)
{
    size_t n = r->len / stride;
    if (batch == 0 || batch > n)
        batch = n;
    void **pages = malloc(batch * sizeof(*pages));
    int *status = malloc(batch * sizeof(*status));
    long on = 0;
    if (!pages || !status) {
        free(pages);
        free(status);
        return -ENOMEM;
    }
    for (size_t done = 0; done < n; done += batch) {
        size_t k = n - done < batch ? n - done : batch;
        for (size_t i = 0; i < k; i++)
            pages[i] = r->addr + (done + i) * stride;
        if (syscall(SYS_move_pages, 0, k, pages, NULL, status, 0) != 0) {
            on = -errno;
            break;
        }
        for (size_t i = 0; i < k; i++)
            on += status[i] == g_node;
    }
    free(pages);
    free(status);
    /* Scale to base pages so every method answers in the same unit. */
    return on < 0 ? on : on * (long)(stride / g_page);
}

/* Parse the numa_maps line of @p r: sum of N<g_node>= fields, -1 if absent. */
static long numa_maps_line(const char *line, const struct region *r)
{
    char *end;
    unsigned long start = strtoul(line, &end, 16);
    if (end == line || *end != ' ' || start != (uintptr_t)r->addr)
        return -1;
    long on = 0;
    const char *s = end;
    while ((s = strstr(s, " N")) != NULL) {
        char *e;
        long node = strtol(s + 2, &e, 10);
        s += 2;
        if (e == s || *e != '=')
            continue;
        long pages = strtol(e + 1, &e, 10);
        if (node == g_node)
            on += pages;
    }
    /* THP and hugetlb lines report in units of kernelpagesize_kB=... */
    const char *kp = strstr(line, "kernelpagesize_kB=");
    if (kp) {
        long kb = strtol(kp + 18, NULL, 10);
        if (kb > 0 && (size_t)kb * 1024 != g_page)
            on *= (long)((size_t)kb * 1024 / g_page);
    }
    return on;
}

static long by_numa_maps(const struct region *r)
{
    FILE *f = fopen("/proc/self/numa_maps", "re");
    char *line = NULL;
    size_t cap = 0;
    long on = -ENOENT;
    if (!f)
        return -errno;
    while (getline(&line, &cap, f) > 0) {
        long v = numa_maps_line(line, r);
        if (v >= 0) {
            on = v;
            break; /* stop reading: later mappings are not generated */
        }
    }
    free(line);
    fclose(f);
    return on;
}

/* PFN -> node via /sys/devices/system/node/nodeN/memoryM. */
static int *g_block_node;
static size_t g_nblocks;
static size_t g_block_pages;

static int load_blocks(void)
{
    FILE *f = fopen("/sys/devices/system/memory/block_size_bytes", "re");
    unsigned long long bs = 0;
    if (!f)
        return -errno;
    if (fscanf(f, "%llx", &bs) != 1 || bs == 0) {
        fclose(f);
        return -EINVAL;
    }
    fclose(f);
    g_block_pages = bs / g_page;
    DIR *nd = opendir("/sys/devices/system/node");
    struct dirent *de;
    if (!nd)
        return -errno;
    while ((de = readdir(nd)) != NULL) {
        int node;
        char path[300];
        if (sscanf(de->d_name, "node%d", &node) != 1)
            continue;
        snprintf(path, sizeof(path), "/sys/devices/system/node/%s", de->d_name);
        DIR *md = opendir(path);
        struct dirent *me;
        if (!md)
            continue;
        while ((me = readdir(md)) != NULL) {
            unsigned long blk;
            char *end;
            if (strncmp(me->d_name, "memory", 6) != 0)
                continue;
            blk = strtoul(me->d_name + 6, &end, 10);
            if (end == me->d_name + 6 || *end)
                continue;
            if (blk >= g_nblocks) {
                size_t n = blk + 1024;
                int *nb = realloc(g_block_node, n * sizeof(*nb));
                if (!nb)
                    break;
                for (size_t i = g_nblocks; i < n; i++)
                    nb[i] = -1;
                g_block_node = nb;
                g_nblocks = n;
            }
            g_block_node[blk] = node;
        }
        closedir(md);
    }
    closedir(nd);
    return g_nblocks ? 0 : -ENOENT;
}

static long by_pagemap(const struct region *r)
{
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    enum { CHUNK = 8192 };
    static uint64_t buf[CHUNK];
    size_t n = r->len / g_page;
    uintptr_t first = (uintptr_t)r->addr / g_page;
    long on = 0;
    for (size_t done = 0; done < n; done += CHUNK) {
        size_t k = n - done < CHUNK ? n - done : CHUNK;
        ssize_t got = pread(fd, buf, k * 8, (off_t)((first + done) * 8));
        if (got != (ssize_t)(k * 8)) {
            on = got < 0 ? -errno : -EIO;
            break;
        }
        for (size_t i = 0; i < k; i++) {
            uint64_t e = buf[i];
            uint64_t pfn = e & ((1ull << 55) - 1);
            if (!(e >> 63)) /* not present */
                continue;
            if (pfn == 0) { /* PFNs hidden: no CAP_SYS_ADMIN */
                close(fd);
                return -EPERM;
            }
            size_t blk = pfn / g_block_pages;
            on += blk < g_nblocks && g_block_node[blk] == g_node;
        }
    }
    close(fd);
    return on;
}

static long by_get_mempolicy_sample(const struct region *r, size_t sample)
{
    size_t n = r->len / g_page;
    if (sample > n)
        sample = n;
    long on = 0;
    for (size_t i = 0; i < sample; i++) {
        int node = -1;
        /* Spread the sample over the region. */
        char *a = r->addr + (i * (n / sample)) * g_page;
        if (syscall(SYS_get_mempolicy, &node, NULL, 0ul, a, MPOL_F_NODE | MPOL_F_ADDR) != 0)
            return -errno;
        on += node == g_node;
    }
    return on;
}

/* ---- driver ---------------------------------------------------------- */

enum method {
    M_MP_ALL,
    M_MP_BATCH,
    M_MP_HUGE,
    M_NUMA_MAPS,
    M_NUMA_MAPS_BALLAST,
    M_PAGEMAP,
    M_GETMEMPOL,
};

static const char *const method_name[] = {
    "move_pages, one call (all pages)",          "move_pages, 4096 pages per call",
    "move_pages, one address per huge page",     "numa_maps, read until the region's line",
    "numa_maps, + 1 populated ballast mapping",  "pagemap + sysfs memory blocks (PFN->node)",
    "get_mempolicy per page (8192-page sample)",
};

static long run_method(enum method m, const struct region *r)
{
    switch (m) {
    case M_MP_ALL: return by_move_pages(r, 0, g_page);
    case M_MP_BATCH: return by_move_pages(r, 4096, g_page);
    case M_MP_HUGE: return by_move_pages(r, 0, g_huge);
    case M_NUMA_MAPS:
    case M_NUMA_MAPS_BALLAST: return by_numa_maps(r);
    case M_PAGEMAP: return by_pagemap(r);
    case M_GETMEMPOL: return by_get_mempolicy_sample(r, 8192);
    }
    return -EINVAL;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"node", required_argument, NULL, 'n'}, {"size", required_argument, NULL, 's'},
        {"reps", required_argument, NULL, 'r'}, {"thp", no_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    int o;
    char *end;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'n':
            g_node = (int)strtol(optarg, &end, 10);
            if (*end || end == optarg || g_node < 0 || g_node > 4095)
                goto bad;
            break;
        case 's': {
            unsigned long long v = strtoull(optarg, &end, 10);
            int sh = *end == 'G' ? 30 : *end == 'M' ? 20 : *end == 'K' ? 10 : 0;
            if (sh)
                end++;
            if (end == optarg || *end || v == 0)
                goto bad;
            g_size = (size_t)v << sh;
            break;
        }
        case 'r':
            g_reps = (int)strtol(optarg, &end, 10);
            if (*end || g_reps < 1 || g_reps > MAX_REPS)
                goto bad;
            break;
        case 't': g_thp = true; break;
        case 'h':
            printf("usage: verify-cost [--node N] [--size BYTES[K|M|G]] [--reps N] [--thp]\n");
            return 0;
        default: goto bad;
        }
    }
    if (optind != argc)
        goto bad;
    g_page = (size_t)sysconf(_SC_PAGESIZE);
    g_size = (g_size + g_huge - 1) & ~(g_huge - 1);
    size_t want = g_size / g_page;
    double gib = (double)g_size / GIB;

    /* Populate g_reps times (the reference), keep the last region. */
    struct region r = {0};
    double pop[MAX_REPS];
    for (int i = 0; i <= g_reps; i++) { /* one warm-up */
        if (r.addr)
            munmap(r.addr, r.len);
        int err = region_map(&r, g_thp, false);
        if (err) {
            fprintf(stderr, "verify-cost: populate: %s\n", strerror(-err));
            return 1;
        }
        if (i)
            pop[i - 1] = r.populate_ms;
    }
    double pop_ms = median(pop, g_reps);
    int blocks_err = load_blocks();

    printf("verify-cost: node %d, %.3g GiB, %s pages, %d reps; populate (raw mmap+mbind+"
           "MADV_POPULATE_WRITE) median %.1f ms = %.2f GiB/s\n\n",
           g_node, gib, g_thp ? "THP" : "base", g_reps, pop_ms, gib / (pop_ms / 1e3));
    printf("%-44s  %9s  %9s  %12s  %s\n", "method", "median ms", "ms/GiB", "% of populate",
           "pages found on node");
    struct region ballast = {0};
    for (enum method m = M_MP_ALL; m <= M_GETMEMPOL; m++) {
        if (m == M_MP_HUGE && !g_thp)
            continue;
        if (m == M_NUMA_MAPS_BALLAST) {
            /* Mapped after r, so it sits below r and is listed before it. */
            int err = region_map(&ballast, false, true);
            if (err) {
                printf("%-44s  ballast: %s\n", method_name[m], strerror(-err));
                continue;
            }
        }
        if (m == M_PAGEMAP && blocks_err) {
            printf("%-44s  unavailable: memory blocks: %s\n", method_name[m],
                   strerror(-blocks_err));
            continue;
        }
        double t[MAX_REPS];
        long found = 0;
        int i;
        for (i = 0; i < g_reps; i++) {
            double t0 = now_ms();
            found = run_method(m, &r);
            t[i] = now_ms() - t0;
            if (found < 0)
                break;
        }
        if (found < 0) {
            printf("%-44s  unavailable: %s\n", method_name[m], strerror((int)-found));
            continue;
        }
        double ms = median(t, g_reps);
        size_t expect = want;
        if (m == M_GETMEMPOL) { /* scale the sample to the whole region */
            size_t sample = want < 8192 ? want : 8192;
            ms *= (double)want / (double)sample;
            expect = sample;
        }
        printf("%-44s  %9.2f  %9.2f  %11.1f%%  %ld/%zu%s\n", method_name[m], ms, ms / gib,
               100.0 * ms / pop_ms, found, expect,
               m == M_GETMEMPOL ? " (time scaled to all pages)" : "");
    }
    if (ballast.addr)
        munmap(ballast.addr, ballast.len);
    munmap(r.addr, r.len);
    free(g_block_node);
    return 0;

bad:
    fprintf(stderr, "verify-cost: bad usage (try --help)\n");
    return 2;
}
