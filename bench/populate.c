/*
 * populate.c - populate throughput of node-bound memory: libpmnode against
 * the raw kernel path and libnuma, side by side, as ratios, in one run.
 * The libnuma row exists only where the build found libnuma
 * (PMN_HAVE_LIBNUMA, set by bench/meson.build).
 *
 * Every workload maps SIZE bytes bound to one node and makes every page
 * present; the clock (CLOCK_MONOTONIC) runs around that whole call and stops
 * before the mapping is torn down, so munmap is never timed.  Implementations
 * of one workload run round-robin (rep 1 of each, rep 2 of each, ...) after
 * one untimed warm-up each, so slow drift of a noisy VM hits all of them
 * alike.  The reference of each workload is the raw kernel path for the same
 * page type:
 *
 *   anon-4k    mmap + mbind(MPOL_BIND|MPOL_F_STATIC_NODES) + MADV_POPULATE_WRITE
 *   memfd-4k   memfd_create + ftruncate + mmap(MAP_SHARED) + mbind + populate
 *   anon-thp   mmap (2 MiB aligned) + MADV_HUGEPAGE + mbind + populate
 *   dax        open + mmap of /dev/daxX.Y + memset (first touch)
 *
 * and the verify-* rows time pmn_where() alone over a region the raw path
 * populated: the cost of checking placement, as a fraction of the raw
 * populate time of the same page type.
 *
 * This is a benchmark, not a test: it prints numbers and never fails on
 * them.  Exit status: 0 all measurements ran, 1 one of them failed,
 * 2 bad usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "pmnode.h"

#ifndef PMN_HAVE_LIBNUMA
#define PMN_HAVE_LIBNUMA 1
#endif
#if PMN_HAVE_LIBNUMA
#include <numa.h>
#endif

#ifndef MPOL_BIND
#define MPOL_BIND 2
#endif
#ifndef MPOL_F_STATIC_NODES
#define MPOL_F_STATIC_NODES (1 << 15)
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define GIB (1024.0 * 1024.0 * 1024.0)
#define MAX_REPS 101
#define MAX_RESULTS 32

/* ---- configuration --------------------------------------------------- */

struct cfg {
    int node;
    size_t size;
    int reps;
    int warmup;
    bool json;
    const char *dax;
    size_t thp_size;
};

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

static double median(const double *v, int n)
{
    double tmp[MAX_REPS];
    if (n <= 0)
        return 0;
    memcpy(tmp, v, (size_t)n * sizeof(*v));
    qsort(tmp, (size_t)n, sizeof(*tmp), cmp_double);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

static double minimum(const double *v, int n)
{
    double m = n > 0 ? v[0] : 0;
    for (int i = 1; i < n; i++)
        if (v[i] < m)
            m = v[i];
    return m;
}

/* "1G", "512M", "1GiB", "4096": bytes; 0 on malformed input. */
static size_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return 0;
    unsigned shift = 0;
    switch (*end) {
    case 'k':
    case 'K':
        shift = 10;
        end++;
        break;
    case 'm':
    case 'M':
        shift = 20;
        end++;
        break;
    case 'g':
    case 'G':
        shift = 30;
        end++;
        break;
    case '\0': break;
    default: return 0;
    }
    if (shift && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0))
        end += strlen(end);
    if (*end || v > (SIZE_MAX >> shift))
        return 0;
    return (size_t)(v << shift);
}

static size_t read_sysfs_u64(const char *path, size_t dflt)
{
    FILE *f = fopen(path, "re");
    unsigned long long v;
    if (!f)
        return dflt;
    int ok = fscanf(f, "%llu", &v) == 1;
    fclose(f);
    return ok ? (size_t)v : dflt;
}

/* ---- raw kernel path ------------------------------------------------- */

static long sys_mbind(void *addr, size_t len, int mode, int node)
{
    /* Mask sized for the node asked; the kernel reads maxnode - 1 bits. */
    unsigned long mask[(node / 64) + 1];
    memset(mask, 0, sizeof(mask));
    mask[node / 64] = 1ul << (node % 64);
    return syscall(SYS_mbind, addr, len, mode, mask, (unsigned long)(sizeof(mask) * CHAR_BIT + 1),
                   0u);
}

/* One live mapping of any implementation. */
struct mapping {
    void *addr;
    size_t len;
    int fd;
    struct pmn_region *region;
    struct pmn_backing *backing; /* dax only: created per rep */
    bool numa;                   /* from numa_alloc_onnode */
    double populate_ms;          /* -1: not reported */
    double verify_ms;
    double setup_ms; /* raw: mmap + mbind (+ memfd, madvise) before populate */
};

static int raw_bind_populate(const struct cfg *c, struct mapping *m, double t0)
{
    if (sys_mbind(m->addr, m->len, MPOL_BIND | MPOL_F_STATIC_NODES, c->node) != 0)
        return -errno;
    double t1 = now_ms();
    if (madvise(m->addr, m->len, MADV_POPULATE_WRITE) != 0)
        return -errno;
    m->setup_ms = t1 - t0;
    m->populate_ms = now_ms() - t1;
    return 0;
}

static int raw_anon_map(const struct cfg *c, bool thp, struct mapping *m)
{
    double t0 = now_ms();
    size_t extra = thp ? c->thp_size : 0;
    char *p =
        mmap(NULL, c->size + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    if (thp) {
        /* Trim to a huge-page aligned range, as any careful caller would. */
        uintptr_t a = ((uintptr_t)p + c->thp_size - 1) & ~(uintptr_t)(c->thp_size - 1);
        size_t head = a - (uintptr_t)p;
        if (head)
            munmap(p, head);
        if (extra - head)
            munmap((char *)a + c->size, extra - head);
        p = (char *)a;
    }
    m->addr = p;
    m->len = c->size;
    if (thp && madvise(p, c->size, MADV_HUGEPAGE) != 0)
        return -errno;
    return raw_bind_populate(c, m, t0);
}

static int raw_memfd_map(const struct cfg *c, struct mapping *m)
{
    double t0 = now_ms();
    m->fd = memfd_create("pmn-bench", MFD_CLOEXEC);
    if (m->fd < 0)
        return -errno;
    if (ftruncate(m->fd, (off_t)c->size) != 0)
        return -errno;
    void *p = mmap(NULL, c->size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    m->addr = p;
    m->len = c->size;
    return raw_bind_populate(c, m, t0);
}

static int numa_map(const struct cfg *c, struct mapping *m)
{
#if PMN_HAVE_LIBNUMA
    void *p = numa_alloc_onnode(c->size, c->node);
    if (!p)
        return -ENOMEM;
    m->addr = p;
    m->len = c->size;
    m->numa = true;
    memset(p, 0, c->size);
    return 0;
#else
    (void)c;
    (void)m;
    return -ENOSYS; /* no row asks for it: see main() */
#endif
}

/* ---- libpmnode ------------------------------------------------------- */

struct libcfg {
    enum pmn_backing_type type;
    bool thp;
    bool verify;
};

static struct pmn_ctx *g_ctx;

static int lib_backing(const struct cfg *c, const struct libcfg *lc, struct pmn_backing **out)
{
    struct pmn_backing_params *p;
    int err = pmn_backing_params_new(&p);
    if (err)
        return err;
    err = pmn_backing_params_set_type(p, lc->type);
    if (!err && lc->type == PMN_BACKING_DAX)
        err = pmn_backing_params_set_dax(p, c->dax);
    else if (!err)
        err = pmn_backing_params_set_node(p, c->node);
    if (!err && lc->thp)
        err = pmn_backing_params_set_thp(p, true);
    if (!err)
        err = pmn_backing_params_set_verify(p, lc->verify);
    if (!err)
        err = pmn_backing_new(g_ctx, p, out);
    pmn_backing_params_free(p);
    return err;
}

static int lib_map(const struct cfg *c, struct pmn_backing *b, struct mapping *m)
{
    int err = pmn_region_map(b, c->size, &m->region);
    if (err)
        return err;
    m->addr = pmn_region_addr(m->region);
    m->len = pmn_region_size(m->region);
    m->populate_ms = (double)pmn_region_populate_ns(m->region) / 1e6;
    m->verify_ms = (double)pmn_region_verify_ns(m->region) / 1e6;
    return 0;
}

/* ---- device-dax ------------------------------------------------------ */

static int raw_dax_map(const struct cfg *c, size_t len, struct mapping *m)
{
    m->fd = open(c->dax, O_RDWR | O_CLOEXEC);
    if (m->fd < 0)
        return -errno;
    /* device-dax aligns the address to the device's own alignment. */
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    m->addr = p;
    m->len = len;
    memset(p, 0, len);
    return 0;
}

static int lib_dax_map(const struct cfg *c, size_t len, struct mapping *m)
{
    /* The backing owns the shared device mapping: create it per rep so the
     * first touch is really a first touch and the open is timed, as in raw. */
    static const struct libcfg lc = {PMN_BACKING_DAX, false, true};
    int err = lib_backing(c, &lc, &m->backing);
    if (err)
        return err;
    struct cfg c2 = *c;
    c2.size = len;
    err = lib_map(&c2, m->backing, m);
    if (err)
        return err;
    memset(m->addr, 0, m->len);
    return 0;
}

static void unmap(struct mapping *m)
{
    if (m->region)
        pmn_region_unmap(m->region);
#if PMN_HAVE_LIBNUMA
    else if (m->numa)
        numa_free(m->addr, m->len);
#endif
    else if (m->addr)
        munmap(m->addr, m->len);
    if (m->backing)
        pmn_backing_free(m->backing);
    if (m->fd >= 0)
        close(m->fd);
    memset(m, 0, sizeof(*m));
    m->fd = -1;
}

/* ---- results --------------------------------------------------------- */

enum impl_kind {
    K_RAW_ANON,
    K_RAW_THP,
    K_RAW_MEMFD,
    K_NUMA,
    K_LIB,
    K_VERIFY,
    K_VERIFY_RAW,
    K_RAW_DAX,
    K_LIB_DAX,
};

struct result {
    const char *workload;
    const char *impl;
    enum impl_kind kind;
    struct libcfg lc;
    struct pmn_backing *b;
    bool thp; /* verify rows: which raw region */
    int ref;  /* index of the reference row, or -1 for itself */
    int err;
    int n;
    double ms[MAX_REPS];
    double pop[MAX_REPS], ver[MAX_REPS], setup[MAX_REPS];
    double other[MAX_REPS]; /* total - populate - verify, per rep */
    double thp_pct;         /* share of the region mapped by huge pages, -1 unknown */
    size_t bytes;           /* mapped (or verified) per rep */
    double on_node;         /* % of the last rep's pages found on the node, -1 unchecked */
};

static struct result g_res[MAX_RESULTS];
static int g_nres;

static const char *errstr(int err)
{
    return pmn_strerror(err);
}

/* Share of [addr, addr+len) backed by AnonHugePages, from /proc/self/smaps. */
static double thp_share(const void *addr, size_t len)
{
    FILE *f = fopen("/proc/self/smaps", "re");
    char line[512];
    bool in = false;
    double kb = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        unsigned long long v;
        /* Header lines start "lo-hi "; field lines never parse as two numbers. */
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
            in = lo <= (uintptr_t)addr && (uintptr_t)addr < hi;
            continue;
        }
        if (in && sscanf(line, "AnonHugePages: %llu kB", &v) == 1) {
            kb = (double)v;
            break;
        }
    }
    fclose(f);
    return kb < 0 ? -1 : 100.0 * kb * 1024.0 / (double)len;
}

/* Pages of @p vr on the node, by move_pages in 4096-page batches; -errno. */
static long pages_on_node(const struct cfg *c, const struct mapping *vr)
{
    enum { BATCH = 4096 };
    void *pages[BATCH];
    int status[BATCH];
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), n = vr->len / pg, on = 0;
    for (size_t done = 0; done < n; done += BATCH) {
        size_t k = n - done < BATCH ? n - done : BATCH;
        for (size_t i = 0; i < k; i++)
            pages[i] = (char *)vr->addr + (done + i) * pg;
        if (syscall(SYS_move_pages, 0, k, pages, NULL, status, 0) != 0)
            return -errno;
        for (size_t i = 0; i < k; i++)
            on += status[i] == c->node;
    }
    return (long)on;
}

/* The bare kernel query pmn_where() wraps. */
static int raw_verify(const struct cfg *c, const struct mapping *vr)
{
    long on = pages_on_node(c, vr);
    if (on < 0)
        return (int)on;
    return (size_t)on * (size_t)sysconf(_SC_PAGESIZE) == vr->len ? 0 : PMN_E_MISPLACED;
}

static int run_one(const struct cfg *c, struct result *r, struct mapping *m,
                   const struct mapping *vr)
{
    memset(m, 0, sizeof(*m));
    m->fd = -1;
    m->populate_ms = m->verify_ms = m->setup_ms = -1;
    switch (r->kind) {
    case K_RAW_ANON: return raw_anon_map(c, false, m);
    case K_RAW_THP: return raw_anon_map(c, true, m);
    case K_RAW_MEMFD: return raw_memfd_map(c, m);
    case K_NUMA: return numa_map(c, m);
    case K_LIB: return lib_map(c, r->b, m);
    case K_RAW_DAX: return raw_dax_map(c, c->size, m);
    case K_LIB_DAX: return lib_dax_map(c, c->size, m);
    case K_VERIFY: {
        struct pmn_where w = {.struct_size = sizeof(w)};
        int err = pmn_where(vr->addr, vr->len, &w);
        if (!err && pmn_where_pages_on(&w, c->node) * w.page_size != vr->len)
            err = PMN_E_MISPLACED;
        return err;
    }
    case K_VERIFY_RAW: return raw_verify(c, vr);
    }
    return -EINVAL;
}

/*
 * Run a group of rows (one workload) round-robin.  @p vr is the populated
 * region the verify rows of the group examine (NULL when there is none).
 */
static void run_group(const struct cfg *c, int first, int count, const struct mapping *vr)
{
    for (int rep = -c->warmup; rep < c->reps; rep++) {
        for (int i = first; i < first + count; i++) {
            struct result *r = &g_res[i];
            struct mapping m;
            if (r->err)
                continue;
            r->bytes = c->size;
            double t0 = now_ms();
            int err = run_one(c, r, &m, vr);
            double t = now_ms() - t0;
            if (err) {
                r->err = err;
                unmap(&m);
                continue;
            }
            if (rep >= 0) {
                r->ms[r->n] = t;
                r->pop[r->n] = m.populate_ms;
                r->ver[r->n] = m.verify_ms;
                r->setup[r->n] = m.setup_ms;
                r->other[r->n] = t - m.populate_ms - (m.verify_ms > 0 ? m.verify_ms : 0);
                r->n++;
                if (rep == c->reps - 1 && m.addr && (r->kind == K_RAW_THP || r->lc.thp))
                    r->thp_pct = thp_share(m.addr, m.len);
                /* Placement check, untimed: libnuma falls back silently. */
                if (rep == c->reps - 1 && m.addr && r->kind != K_RAW_DAX && r->kind != K_LIB_DAX) {
                    long on = pages_on_node(c, &m);
                    if (on >= 0)
                        r->on_node =
                            100.0 * (double)on * (double)sysconf(_SC_PAGESIZE) / (double)m.len;
                }
            }
            unmap(&m);
        }
    }
}

static int add(const char *workload, const char *impl, enum impl_kind kind, int ref)
{
    struct result *r = &g_res[g_nres];
    memset(r, 0, sizeof(*r));
    r->workload = workload;
    r->impl = impl;
    r->kind = kind;
    r->ref = ref;
    r->thp_pct = -1;
    r->on_node = -1;
    return g_nres++;
}

static int add_lib(const struct cfg *c, const char *workload, const char *impl, int ref,
                   enum pmn_backing_type type, bool thp, bool verify)
{
    int i = add(workload, impl, K_LIB, ref);
    struct result *r = &g_res[i];
    r->lc = (struct libcfg){type, thp, verify};
    if (!g_ctx)
        r->err = PMN_E_NO_NUMA;
    else
        r->err = lib_backing(c, &r->lc, &r->b);
    return i;
}

static double med_ms(const struct result *r)
{
    return median(r->ms, r->n);
}

/* Ratio of the reference's median time over this row's (>1: faster). */
static double ratio_by(const struct result *r, double (*stat)(const double *, int))
{
    const struct result *ref = r->ref >= 0 ? &g_res[r->ref] : r;
    if (r->err || ref->err || r->n == 0 || ref->n == 0)
        return -1;
    double mine = stat(r->ms, r->n) / ((double)r->bytes / GIB);
    double theirs = stat(ref->ms, ref->n) / ((double)ref->bytes / GIB);
    if (r->kind == K_VERIFY || r->kind == K_VERIFY_RAW) /* cost: share of the raw populate time */
        return mine / theirs;
    return theirs / mine;
}

static double ratio(const struct result *r)
{
    return ratio_by(r, median);
}

static double ratio_min(const struct result *r)
{
    return ratio_by(r, minimum);
}

/* (max - min) / median over the reps, in percent: how noisy the row was. */
static double spread(const struct result *r)
{
    double mx = r->ms[0];
    for (int i = 1; i < r->n; i++)
        if (r->ms[i] > mx)
            mx = r->ms[i];
    return 100.0 * (mx - minimum(r->ms, r->n)) / med_ms(r);
}

/* ---- output ---------------------------------------------------------- */

static void print_table(const struct cfg *c, const char *dax_skip, double precheck_us)
{
    double gib = (double)c->size / GIB;
    printf("libpmnode populate benchmark: node %d, %.3g GiB, %d reps (+%d warm-up), "
           "libpmnode %s\n\n",
           c->node, gib, c->reps, c->warmup, pmn_version());
    printf("%-10s  %-44s  %12s  %9s  %7s  %s\n", "workload", "impl", "median GiB/s", "min ms",
           "spread", "ratio vs raw: median (min)");
    for (int i = 0; i < g_nres; i++) {
        const struct result *r = &g_res[i];
        printf("%-10s  %-44s  ", r->workload, r->impl);
        if (r->err) {
            printf("error: %s (%s)\n", errstr(r->err), pmn_err_name(r->err));
            continue;
        }
        double rt = ratio(r), rm = ratio_min(r), rg = (double)r->bytes / GIB;
        printf("%12.2f  %9.1f  %6.0f%%  ", rg / (med_ms(r) / 1e3), minimum(r->ms, r->n),
               spread(r));
        if (r->kind == K_VERIFY || r->kind == K_VERIFY_RAW)
            printf("%.1f%% (%.1f%%) of raw populate, %.1f ms/GiB", 100.0 * rt, 100.0 * rm,
                   med_ms(r) / rg);
        else if (r->ref < 0)
            printf("1.00 (reference)");
        else if (rt >= 0)
            printf("%.2fx (%.2fx)", rt, rm);
        else
            printf("n/a (reference failed)");
        if (r->thp_pct >= 0)
            printf("  [%.0f%% THP]", r->thp_pct);
        if (r->on_node >= 0 && r->on_node < 100.0)
            printf("  [only %.1f%% on node %d]", r->on_node, c->node);
        printf("\n");
    }
    if (dax_skip)
        printf("%-10s  skipped: %s\n", "dax", dax_skip);

    /* Goal: the default library path (anon, verification on) vs raw. */
    const struct result *goal = &g_res[1];
    double g = ratio(goal), gm = ratio_min(goal);
    printf("\ngoal \"libpmnode with verification >= 0.9x raw\" (anon-4k): ");
    if (g < 0)
        printf("not measured (%s)\n", errstr(goal->err ? goal->err : g_res[0].err));
    else
        printf("%s on medians (%.2fx); %s on min times (%.2fx)\n", g >= 0.9 ? "met" : "NOT met", g,
               gm >= 0.9 ? "met" : "NOT met", gm);

    printf("\nwhere the time goes (medians over reps, ms; library figures from "
           "pmn_region_populate_ns/verify_ns):\n");
    printf("  %-10s  %-44s  %8s  %9s  %8s  %8s\n", "workload", "impl", "total", "populate",
           "verify", "other");
    for (int i = 0; i < g_nres; i++) {
        const struct result *r = &g_res[i];
        if (r->err || r->n == 0 || r->pop[0] < 0)
            continue;
        double t = med_ms(r), p = median(r->pop, r->n);
        double v = r->ver[0] >= 0 ? median(r->ver, r->n) : 0;
        printf("  %-10s  %-44s  %8.1f  %9.1f  %8.1f  %8.2f\n", r->workload, r->impl, t, p, v,
               median(r->other, r->n));
    }
    printf("  (raw: other = memfd_create/mmap/madvise/mbind before populating; library: "
           "other = everything outside\n   populate and verify: parameter checks, free-memory "
           "pre-check, mmap, mbind, bookkeeping)\n");
    if (precheck_us >= 0)
        printf("  free-memory read alone (pmn_node_read_free, node meminfo): %.1f us per call\n",
               precheck_us);
}

static void json_num(double v, const char *fmt)
{
    if (v < 0)
        printf("null");
    else
        printf(fmt, v);
}

static void print_json(const struct cfg *c, const char *dax_skip, double precheck_us)
{
    printf("{\"node\": %d, \"size_bytes\": %zu, \"reps\": %d, \"results\": [", c->node, c->size,
           c->reps);
    for (int i = 0; i < g_nres; i++) {
        const struct result *r = &g_res[i];
        printf("%s\n  {\"workload\": \"%s\", \"impl\": \"%s\", ", i ? "," : "", r->workload,
               r->impl);
        if (r->err) {
            printf("\"gib_per_s\": null, \"ms\": null, \"ratio\": null, \"error\": \"%s\"}",
                   pmn_err_name(r->err));
            continue;
        }
        printf("\"gib_per_s\": %.3f, \"ms\": %.2f, \"ratio\": ",
               ((double)r->bytes / GIB) / (med_ms(r) / 1e3), minimum(r->ms, r->n));
        json_num(ratio(r), "%.3f");
        printf(", \"ratio_min\": ");
        json_num(ratio_min(r), "%.3f");
        printf(", \"spread_percent\": %.1f, \"bytes\": %zu", spread(r), r->bytes);
        printf(", \"median_ms\": %.2f", med_ms(r));
        if (r->pop[0] >= 0) {
            printf(", \"populate_ms\": %.2f", median(r->pop, r->n));
            if (r->ver[0] >= 0)
                printf(", \"verify_ms\": %.2f", median(r->ver, r->n));
            printf(", \"other_ms\": %.2f", median(r->other, r->n));
        }
        if (r->thp_pct >= 0)
            printf(", \"thp_percent\": %.1f", r->thp_pct);
        if (r->on_node >= 0)
            printf(", \"on_node_percent\": %.1f", r->on_node);
        printf("}");
    }
    printf("\n ]");
    if (dax_skip)
        printf(", \"skipped\": [{\"workload\": \"dax\", \"reason\": \"%s\"}]", dax_skip);
    double g = ratio(&g_res[1]);
    printf(", \"goal\": {\"min_ratio\": 0.9, \"ratio\": ");
    json_num(g, "%.3f");
    printf(", \"ratio_of_min_times\": ");
    json_num(ratio_min(&g_res[1]), "%.3f");
    printf(", \"met\": %s}", g < 0 ? "null" : g >= 0.9 ? "true" : "false");
    printf(", \"read_free_us\": ");
    json_num(precheck_us, "%.2f");
    printf("}\n");
}

static void usage(FILE *f)
{
    fprintf(f, "usage: populate [--node N] [--size BYTES[K|M|G]] [--reps N] [--warmup N]\n"
               "                [--dax PATH] [--json]\n");
}

int main(int argc, char **argv)
{
    struct cfg c = {.node = 0, .size = 1ul << 30, .reps = 5, .warmup = 1};
    static const struct option opts[] = {
        {"node", required_argument, NULL, 'n'}, {"size", required_argument, NULL, 's'},
        {"reps", required_argument, NULL, 'r'}, {"warmup", required_argument, NULL, 'w'},
        {"dax", required_argument, NULL, 'd'},  {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    int o;
    char *end;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'n':
            errno = 0;
            c.node = (int)strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || c.node < 0 || c.node > 4095)
                goto bad;
            break;
        case 's':
            c.size = parse_size(optarg);
            if (c.size == 0)
                goto bad;
            break;
        case 'r':
            c.reps = (int)strtol(optarg, &end, 10);
            if (*end || c.reps < 1 || c.reps > MAX_REPS)
                goto bad;
            break;
        case 'w':
            c.warmup = (int)strtol(optarg, &end, 10);
            if (*end || c.warmup < 0 || c.warmup > 10)
                goto bad;
            break;
        case 'd': c.dax = optarg; break;
        case 'j': c.json = true; break;
        case 'h': usage(stdout); return 0;
        default: goto bad;
        }
    }
    if (optind != argc)
        goto bad;

    long pg = sysconf(_SC_PAGESIZE);
    c.thp_size = read_sysfs_u64("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", 2u << 20);
    c.size = (c.size + (size_t)pg - 1) & ~((size_t)pg - 1);

    int err = pmn_ctx_new(&g_ctx);
    if (err) {
        fprintf(stderr, "populate: pmn_ctx_new: %s\n", pmn_strerror(err));
        g_ctx = NULL;
    }

    /* (a)-(d) anonymous 4 KiB pages. */
    int ref = add("anon-4k", "raw mmap+mbind+MADV_POPULATE_WRITE", K_RAW_ANON, -1);
    add_lib(&c, "anon-4k", "libpmnode anon, verify on (default)", ref, PMN_BACKING_ANON, false,
            true);
    add_lib(&c, "anon-4k", "libpmnode anon, verify off", ref, PMN_BACKING_ANON, false, false);
#if PMN_HAVE_LIBNUMA
    int inuma = add("anon-4k", "libnuma numa_alloc_onnode+memset", K_NUMA, ref);
    if (numa_available() < 0)
        g_res[inuma].err = -ENOSYS;
#endif
    run_group(&c, 0, g_nres, NULL);

    /* (e) verification alone over a region the raw path populated. */
    struct mapping vr;
    int iv = add("verify-4k", "pmn_where over populated region", K_VERIFY, ref);
    add("verify-4k", "raw move_pages, 4096 pages per call", K_VERIFY_RAW, ref);
    memset(&vr, 0, sizeof(vr));
    vr.fd = -1;
    g_res[iv].err = g_res[iv + 1].err = raw_anon_map(&c, false, &vr);
    if (!g_res[iv].err)
        run_group(&c, iv, 2, &vr);
    unmap(&vr);

    /* (f) memfd. */
    int first = g_nres;
    ref = add("memfd-4k", "raw memfd+mmap+mbind+MADV_POPULATE_WRITE", K_RAW_MEMFD, -1);
    add_lib(&c, "memfd-4k", "libpmnode memfd, verify on", ref, PMN_BACKING_MEMFD, false, true);
    add_lib(&c, "memfd-4k", "libpmnode memfd, verify off", ref, PMN_BACKING_MEMFD, false, false);
    run_group(&c, first, g_nres - first, NULL);

    /* (g) transparent huge pages. */
    first = g_nres;
    ref = add("anon-thp", "raw mmap+MADV_HUGEPAGE+mbind+POPULATE_WRITE", K_RAW_THP, -1);
    add_lib(&c, "anon-thp", "libpmnode anon thp, verify on", ref, PMN_BACKING_ANON, true, true);
    add_lib(&c, "anon-thp", "libpmnode anon thp, verify off", ref, PMN_BACKING_ANON, true, false);
    run_group(&c, first, g_nres - first, NULL);
    iv = add("verify-thp", "pmn_where over populated THP region", K_VERIFY, ref);
    add("verify-thp", "raw move_pages, 4096 pages per call", K_VERIFY_RAW, ref);
    memset(&vr, 0, sizeof(vr));
    vr.fd = -1;
    g_res[iv].err = g_res[iv + 1].err = raw_anon_map(&c, true, &vr);
    if (!g_res[iv].err)
        run_group(&c, iv, 2, &vr);
    unmap(&vr);

    /* Device-dax: only where a device exists (the vm lane). */
    const char *dax_skip = NULL;
    struct stat st;
    if (!c.dax || stat(c.dax, &st) != 0 || !S_ISCHR(st.st_mode)) {
        dax_skip = "no dax device";
    } else {
        /* Map at most the device's size, in whole alignment units. */
        const char *name = strrchr(c.dax, '/') ? strrchr(c.dax, '/') + 1 : c.dax;
        char path[256];
        snprintf(path, sizeof(path), "/sys/bus/dax/devices/%s/size", name);
        size_t dsize = read_sysfs_u64(path, 0);
        snprintf(path, sizeof(path), "/sys/bus/dax/devices/%s/align", name);
        size_t align = read_sysfs_u64(path, 0);
        if (!align && g_ctx && pmn_dax_get(g_ctx, name))
            align = pmn_dax_align(pmn_dax_get(g_ctx, name));
        if (!align || align == PMN_UNKNOWN)
            align = (size_t)pg;
        struct cfg cd = c;
        if (dsize && cd.size > dsize)
            cd.size = dsize;
        cd.size -= cd.size % align;
        first = g_nres;
        ref = add("dax", "raw open+mmap+memset", K_RAW_DAX, -1);
        add("dax", "libpmnode dax backing+region+memset", K_LIB_DAX, ref);
        if (!g_ctx)
            g_res[first + 1].err = PMN_E_NO_NUMA;
        if (cd.size == 0)
            g_res[first].err = g_res[first + 1].err = -EINVAL;
        run_group(&cd, first, 2, NULL);
    }

    /* The free-memory read that a pre-check costs, measured alone. */
    double precheck_us = -1;
    if (g_ctx) {
        uint64_t fb;
        double t[21];
        int n = 0;
        for (int i = 0; i < 21; i++) {
            double t0 = now_ms();
            if (pmn_node_read_free(g_ctx, c.node, &fb) != 0)
                break;
            t[n++] = (now_ms() - t0) * 1e3;
        }
        if (n)
            precheck_us = median(t, n);
    }

    if (c.json)
        print_json(&c, dax_skip, precheck_us);
    else
        print_table(&c, dax_skip, precheck_us);

    int rc = 0;
    for (int i = 0; i < g_nres; i++) {
        if (g_res[i].b)
            pmn_backing_free(g_res[i].b);
        if (g_res[i].err)
            rc = 1;
    }
    pmn_ctx_unref(g_ctx);
    return rc;

bad:
    usage(stderr);
    fprintf(stderr, "populate: bad usage\n");
    return 2;
}
