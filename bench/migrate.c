/*
 * migrate.c - migration throughput (issue 16): pmn_migrate against the two
 * raw ways to move a range, on the same range in one run, and what
 * pmn_migrate's checks and verification cost.
 *
 * For each size (--sizes, default 64M,256M) one anonymous private range
 * (base pages: MADV_NOHUGEPAGE, or THP with --thp) is written and placed on
 * node --from (default 0).  Each repetition moves it to --node and back
 * with each implementation in turn, the order rotating per repetition:
 *   raw move_pages   move_pages(2) by the syscall, --batch pages per call
 *                    (default 1024), pages the kernel left behind (busy for a
 *                    moment) asked again up to three times, as a careful caller
 *                    of the raw call would; no check of the target's room, no
 *                    verification, no policy change
 *   raw mbind        mbind(MPOL_BIND, target, MPOL_MF_MOVE) over the range:
 *                    one call, which also rebinds the range (later faults stay)
 *   pmn_migrate      the library: page query, the target's free memory checked,
 *                    then (since 0.8, this private anonymous range) the
 *                    mapping's policy saved, one mbind(MPOL_MF_MOVE |
 *                    MPOL_MF_STRICT) and a strict rebind that verifies; for
 *                    other memory move_pages in batches with retries, then the
 *                    strict rebind
 * After every move an untimed raw query checks that every page is on the
 * node it was sent to (a page reported absent is read-touched and asked
 * again: NUMA balancing's hinting faults hide pages for a moment).  One
 * warm-up repetition is not timed.
 *
 * Verification: the time of one move_pages status query over the range
 * (what pmn_migrate's verification and its first pass each cost), and of
 * pmn_migrate on the range when every page is on the target already (the
 * checks alone: query, room, rebind, verify), both as a share of
 * pmn_migrate's median moving time.
 *
 * Columns: GiB/s on the median time, min ms, spread ((max - min) /
 * median), ratio = the faster raw path's median time / this median time
 * (> 1 is faster than it).  The goal (issue 16: pmn_migrate >= 0.9x the
 * faster raw path) is judged on the paired ratio: per repetition, the
 * faster raw path's time (the path with the lower median) / pmn_migrate's
 * time in that same repetition, whose median is printed beside the ratio
 * of medians.  The implementations of one repetition run back to back, so
 * load that comes and goes between repetitions (a shared host, other
 * builds) cancels in the paired ratio, where the ratio of medians mixes
 * repetitions run under different load.
 *
 * Needs a second node with memory: the vm lane runs it on cpuless-hmat
 * (node 1, CPU-less, 512 MiB):  bench/run migrate --node 1
 * (--stand-in on a one-node host: "moves" to the node the pages are on,
 * measuring overhead only, and says so).
 * Exit status: 0 every measurement ran, 1 one failed, 2 bad usage or no
 * second node.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <pmnode.h>

#ifndef MPOL_BIND
#define MPOL_BIND 2
#endif
#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE (1 << 1)
#endif

#define MAX_REPS 64
#define MAX_SIZES 8
#define NIMPL 3

enum impl { RAW_MOVE_PAGES, RAW_MBIND, PMN_MIGRATE };
static const char *const impl_name[NIMPL] = {"raw move_pages", "raw mbind MF_MOVE", "pmn_migrate"};

struct opts {
    int node, from;
    size_t sizes[MAX_SIZES];
    unsigned nsizes, reps;
    size_t batch;
    bool thp, json, stand_in;
};

struct series {
    uint64_t ns[MAX_REPS];
    unsigned n;
};

struct stat3 {
    uint64_t med, min;
    double spread;
};

static size_t page_size;
static void **pages;
static int *nodes, *status;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static struct stat3 summary(const struct series *s)
{
    uint64_t v[MAX_REPS];
    struct stat3 r = {0, 0, 0};

    if (s->n == 0)
        return r;
    memcpy(v, s->ns, s->n * sizeof(v[0]));
    qsort(v, s->n, sizeof(v[0]), cmp_u64);
    r.med = s->n % 2 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
    r.min = v[0];
    r.spread = r.med ? 100.0 * (double)(v[s->n - 1] - v[0]) / (double)r.med : 0;
    return r;
}

/* Raw move_pages of [p, p + len) to @node, @batch pages per call, pages
 * not moved asked again up to three times.  0 or -errno. */
static int raw_move_pages(char *p, size_t len, int node, size_t batch)
{
    size_t npages = len / page_size;

    for (size_t done = 0; done < npages; done += batch) {
        size_t n = npages - done < batch ? npages - done : batch, left = n;

        for (size_t i = 0; i < n; i++) {
            pages[i] = p + (done + i) * page_size;
            nodes[i] = node;
        }
        for (int attempt = 0; left > 0 && attempt < 4; attempt++) {
            size_t keep = 0;

            for (size_t i = 0; i < left; i++)
                status[i] = -EAGAIN;
            if (syscall(SYS_move_pages, 0, (unsigned long)left, pages, nodes, status, 0) < 0 &&
                errno != ENOENT)
                return -errno;
            for (size_t i = 0; i < left; i++)
                if (status[i] != node)
                    pages[keep++] = pages[i];
            left = keep;
        }
    }
    return 0;
}

/* mbind(MPOL_BIND, {node}, MPOL_MF_MOVE) over the whole range. */
static int raw_mbind(char *p, size_t len, int node)
{
    unsigned long mask[16] = {0};

    if (node < 0 || (size_t)node >= sizeof(mask) * 8)
        return -EINVAL;
    mask[node / (8 * sizeof(mask[0]))] |= 1ul << (node % (8 * sizeof(mask[0])));
    if (syscall(SYS_mbind, p, len, MPOL_BIND, mask, sizeof(mask) * 8, MPOL_MF_MOVE) != 0)
        return -errno;
    return 0;
}

/* One move_pages status query pass over the range, @batch pages per call
 * (what a verification costs).  Pages on @node, or -errno. */
static long raw_query(char *p, size_t len, int node, size_t batch)
{
    size_t npages = len / page_size;
    long on = 0;

    for (size_t done = 0; done < npages; done += batch) {
        size_t n = npages - done < batch ? npages - done : batch;

        for (size_t i = 0; i < n; i++)
            pages[i] = p + (done + i) * page_size;
        if (syscall(SYS_move_pages, 0, (unsigned long)n, pages, NULL, status, 0) < 0)
            return -errno;
        for (size_t i = 0; i < n; i++)
            on += status[i] == node;
    }
    return on;
}

/* Untimed: every page on @node?  Absent-looking pages (NUMA hinting) are
 * read-touched and asked again.  Returns pages elsewhere. */
static size_t off_node(char *p, size_t len, int node, size_t batch)
{
    size_t npages = len / page_size, off = 0;

    for (size_t done = 0; done < npages; done += batch) {
        size_t n = npages - done < batch ? npages - done : batch;

        for (size_t i = 0; i < n; i++)
            pages[i] = p + (done + i) * page_size;
        for (int attempt = 0; attempt < 5; attempt++) {
            bool again = false;
            if (syscall(SYS_move_pages, 0, (unsigned long)n, pages, NULL, status, 0) < 0)
                return n;
            for (size_t i = 0; i < n; i++) {
                if (status[i] == -ENOENT || status[i] == -EFAULT) {
                    (void)*(volatile char *)pages[i];
                    again = true;
                }
            }
            if (!again)
                break;
        }
        for (size_t i = 0; i < n; i++)
            off += status[i] != node;
    }
    return off;
}

static int parse_size(const char *s, char **endp, size_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return -1;
    switch (*end) {
    case 'K':
    case 'k': v <<= 10, end++; break;
    case 'M':
    case 'm': v <<= 20, end++; break;
    case 'G':
    case 'g': v <<= 30, end++; break;
    }
    if (*end == 'i' && end[1] == 'B')
        end += 2;
    *endp = end;
    *out = (size_t)v;
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: migrate --node N [--from N] [--sizes 64M,256M] [--reps N]\n"
               "               [--batch PAGES] [--thp] [--json]\n"
               "  --node N       the node to move to and back from (required)\n"
               "  --from N       where the range starts (default 0)\n"
               "  --sizes LIST   range sizes, comma-separated (K, M, G; default 64M,256M)\n"
               "  --reps N       timed repetitions, 5 to 64 (default 5)\n"
               "  --batch PAGES  pages per raw move_pages call (default 1024)\n"
               "  --thp          transparent huge pages instead of base pages\n"
               "  --stand-in     one-node host: \"move\" to the --from node (nothing moves:\n"
               "                 the figures measure overhead only)\n"
               "  --json         one JSON object instead of the tables\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.node = -1, .from = 0, .reps = 5, .batch = 1024};
    o->sizes[0] = 64u << 20, o->sizes[1] = 256u << 20, o->nsizes = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        size_t x;
        char *end;

        if (!strcmp(a, "--json")) {
            o->json = true;
            continue;
        }
        if (!strcmp(a, "--thp")) {
            o->thp = true;
            continue;
        }
        if (!strcmp(a, "--stand-in")) {
            o->stand_in = true;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        }
        if (v == NULL) {
            fprintf(stderr, "migrate: %s needs a value\n", a);
            return -1;
        }
        i++;
        if (!strcmp(a, "--sizes")) {
            o->nsizes = 0;
            for (const char *s = v; *s;) {
                if (o->nsizes == MAX_SIZES || parse_size(s, &end, &x) < 0 || x == 0 ||
                    (*end != ',' && *end != '\0')) {
                    fprintf(stderr, "migrate: bad --sizes %s\n", v);
                    return -1;
                }
                o->sizes[o->nsizes++] = x;
                s = *end ? end + 1 : end;
            }
            if (o->nsizes == 0)
                return -1;
            continue;
        }
        if (parse_size(v, &end, &x) < 0 || *end) {
            fprintf(stderr, "migrate: %s needs a number\n", a);
            return -1;
        }
        if (!strcmp(a, "--node") && x < 1024)
            o->node = (int)x;
        else if (!strcmp(a, "--from") && x < 1024)
            o->from = (int)x;
        else if (!strcmp(a, "--reps") && x >= 5 && x <= MAX_REPS)
            o->reps = (unsigned)x;
        else if (!strcmp(a, "--batch") && x >= 1 && x <= 1u << 20)
            o->batch = x;
        else {
            fprintf(stderr, "migrate: bad option or value: %s %s\n", a, v);
            return -1;
        }
    }
    if (o->stand_in && o->node < 0)
        o->node = o->from;
    if (o->node < 0 || (o->node == o->from) != o->stand_in) {
        fprintf(stderr, "migrate: --node N (not the --from node) is required; --stand-in "
                        "alone moves to the --from node\n");
        return -1;
    }
    return 0;
}

/* One timed move of the whole range to @to with @impl.  0 or a code. */
static int move(struct pmn_ctx *ctx, enum impl impl, char *p, size_t len, int to, size_t batch,
                uint64_t *ns)
{
    struct pmn_migrate_report rep = {.struct_size = sizeof(rep)};
    uint64_t t0 = now_ns();
    int err;

    switch (impl) {
    case RAW_MOVE_PAGES: err = raw_move_pages(p, len, to, batch); break;
    case RAW_MBIND: err = raw_mbind(p, len, to); break;
    default: err = pmn_migrate(ctx, p, len, to, 0, &rep); break;
    }
    *ns = now_ns() - t0;
    return err;
}

struct result { /* one size */
    size_t size;
    struct stat3 st[2][NIMPL]; /* [direction][impl] */
    struct stat3 query, noop;
    double ratio[2];  /* pmn_migrate vs the faster raw path, per direction */
    double paired[2]; /* the median of the per-repetition ratios */
};

/* Median over repetitions of @raw's time / @pmn's time in the same one. */
static double paired_ratio(const struct series *raw, const struct series *pmn)
{
    double v[MAX_REPS];
    unsigned n = raw->n < pmn->n ? raw->n : pmn->n, k = 0;

    for (unsigned i = 0; i < n; i++)
        if (pmn->ns[i] > 0)
            v[k++] = (double)raw->ns[i] / (double)pmn->ns[i];
    if (k == 0)
        return 0;
    for (unsigned i = 1; i < k; i++) /* insertion sort: k <= MAX_REPS */
        for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

static int run_size(struct pmn_ctx *ctx, const struct opts *o, size_t size, struct result *res)
{
    struct series s[2][NIMPL], q = {{0}, 0}, noop = {{0}, 0};
    const int node_of[2] = {o->node, o->from}; /* direction 0: from -> node */
    char *p;
    int err;

    memset(s, 0, sizeof(s));
    res->size = size;
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    madvise(p, size, o->thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    memset(p, 0x5a, size);
    if ((err = raw_move_pages(p, size, o->from, o->batch)) < 0 ||
        off_node(p, size, o->from, o->batch) != 0) {
        fprintf(stderr, "migrate: cannot place %zu MiB on node %d\n", size >> 20, o->from);
        munmap(p, size);
        return err < 0 ? err : -EAGAIN;
    }

    for (unsigned rep = 0; rep <= o->reps; rep++) {
        for (unsigned k = 0; k < NIMPL; k++) {
            enum impl impl = (enum impl)((k + rep) % NIMPL);

            for (int d = 0; d < 2; d++) {
                uint64_t ns;
                size_t off;

                err = move(ctx, impl, p, size, node_of[d], o->batch, &ns);
                if (err < 0) {
                    fprintf(stderr, "migrate: %s of %zu MiB to node %d: %s (%s)\n",
                            impl_name[impl], size >> 20, node_of[d], pmn_strerror(err),
                            pmn_err_name(err));
                    munmap(p, size);
                    return err;
                }
                off = off_node(p, size, node_of[d], o->batch);
                if (off != 0) {
                    fprintf(stderr, "migrate: %s left %zu of %zu pages off node %d\n",
                            impl_name[impl], off, size / page_size, node_of[d]);
                    munmap(p, size);
                    return -EAGAIN;
                }
                if (rep > 0)
                    s[d][impl].ns[s[d][impl].n++] = ns;
            }
        }
        /* Verification's share: a query pass, and pmn_migrate with every
         * page where it is sent already (the range is on --from now). */
        if (rep > 0) {
            uint64_t t0 = now_ns();
            long on = raw_query(p, size, o->from, o->batch);
            q.ns[q.n++] = now_ns() - t0;
            if (on != (long)(size / page_size)) {
                fprintf(stderr, "migrate: query found %ld of %zu pages on node %d\n", on,
                        size / page_size, o->from);
                munmap(p, size);
                return -EAGAIN;
            }
            uint64_t ns;
            err = move(ctx, PMN_MIGRATE, p, size, o->from, o->batch, &ns);
            if (err < 0) {
                fprintf(stderr, "migrate: pmn_migrate with nothing to move: %s\n",
                        pmn_strerror(err));
                munmap(p, size);
                return err;
            }
            noop.ns[noop.n++] = ns;
        }
    }
    munmap(p, size);

    for (int d = 0; d < 2; d++) {
        for (int i = 0; i < NIMPL; i++)
            res->st[d][i] = summary(&s[d][i]);
        uint64_t raw = res->st[d][RAW_MOVE_PAGES].med < res->st[d][RAW_MBIND].med
                           ? res->st[d][RAW_MOVE_PAGES].med
                           : res->st[d][RAW_MBIND].med;
        res->ratio[d] =
            res->st[d][PMN_MIGRATE].med ? (double)raw / (double)res->st[d][PMN_MIGRATE].med : 0;
        res->paired[d] = paired_ratio(
            &s[d][res->st[d][RAW_MOVE_PAGES].med < res->st[d][RAW_MBIND].med ? RAW_MOVE_PAGES
                                                                             : RAW_MBIND],
            &s[d][PMN_MIGRATE]);
    }
    res->query = summary(&q);
    res->noop = summary(&noop);
    return 0;
}

static double gib_s(size_t size, uint64_t ns)
{
    return ns ? (double)size / (double)(1u << 30) / ((double)ns / 1e9) : 0;
}

static double faster_raw(const struct result *r, int d)
{
    return (double)(r->st[d][RAW_MOVE_PAGES].med < r->st[d][RAW_MBIND].med
                        ? r->st[d][RAW_MOVE_PAGES].med
                        : r->st[d][RAW_MBIND].med);
}

static void print_text(const struct opts *o, const struct result *res, unsigned n)
{
    bool met = true;

    printf("migrate: node %d -> node %d and back, %s, %u reps + 1 warm-up, implementations "
           "interleaved (order rotating), raw batch %zu pages\n",
           o->from, o->node, o->thp ? "transparent huge pages" : "base pages", o->reps, o->batch);
    if (o->stand_in)
        printf("NOTE: stand-in: both nodes are node %d, so no page moves; the figures measure "
               "overhead only\n",
               o->from);
    for (unsigned i = 0; i < n; i++) {
        const struct result *r = &res[i];
        printf("\n%zu MiB (%zu pages of %zu B)\n", r->size >> 20, r->size / page_size, page_size);
        printf("%-8s %-20s %9s %10s %8s %14s\n", "dir", "impl", "GiB/s", "min ms", "spread",
               "vs faster raw");
        for (int d = 0; d < 2; d++) {
            char dir[32];
            snprintf(dir, sizeof(dir), "%d->%d", d ? o->node : o->from, d ? o->from : o->node);
            for (int k = 0; k < NIMPL; k++) {
                const struct stat3 *st = &r->st[d][k];
                printf("%-8s %-20s %9.2f %10.2f %7.1f%% %13.2fx\n", dir, impl_name[k],
                       gib_s(r->size, st->med), (double)st->min / 1e6, st->spread,
                       st->med ? faster_raw(r, d) / (double)st->med : 0);
            }
            met = met && r->paired[d] >= 0.9;
        }
        printf("verification: one move_pages query pass %.2f ms (spread %.1f%%) = %.1f%% of "
               "pmn_migrate's median %d->%d; pmn_migrate with nothing to move (query, room, "
               "rebind, verify) %.2f ms (spread %.1f%%) = %.1f%%\n",
               r->query.med / 1e6, r->query.spread,
               100.0 * (double)r->query.med / (double)r->st[0][PMN_MIGRATE].med, o->from, o->node,
               r->noop.med / 1e6, r->noop.spread,
               100.0 * (double)r->noop.med / (double)r->st[0][PMN_MIGRATE].med);
    }
    printf("\ngoal: pmn_migrate at least 0.9x the faster raw path (paired ratio; ratio of "
           "medians in brackets):");
    for (unsigned i = 0; i < n; i++)
        printf(" %zu MiB %.2fx / %.2fx (%.2fx / %.2fx);", res[i].size >> 20, res[i].paired[0],
               res[i].paired[1], res[i].ratio[0], res[i].ratio[1]);
    printf(" %s\n", met ? "met" : "NOT met");
}

static void print_json(const struct opts *o, const struct result *res, unsigned n)
{
    static const char *const key[NIMPL] = {"raw_move_pages", "raw_mbind", "pmn_migrate"};
    bool met = true;

    printf("{\"from\": %d, \"node\": %d, \"thp\": %s, \"page_size\": %zu, \"reps\": %u, "
           "\"batch\": %zu, \"sizes\": [",
           o->from, o->node, o->thp ? "true" : "false", page_size, o->reps, o->batch);
    for (unsigned i = 0; i < n; i++) {
        const struct result *r = &res[i];
        printf("%s{\"size_bytes\": %zu, \"results\": [", i ? ", " : "", r->size);
        for (int d = 0; d < 2; d++)
            for (int k = 0; k < NIMPL; k++) {
                const struct stat3 *st = &r->st[d][k];
                printf("%s{\"from\": %d, \"to\": %d, \"impl\": \"%s\", \"gib_per_s\": %.3f, "
                       "\"median_ms\": %.3f, \"min_ms\": %.3f, \"spread_percent\": %.1f, "
                       "\"ratio_vs_faster_raw\": %.3f}",
                       d || k ? ", " : "", d ? o->node : o->from, d ? o->from : o->node, key[k],
                       gib_s(r->size, st->med), st->med / 1e6, st->min / 1e6, st->spread,
                       st->med ? faster_raw(r, d) / (double)st->med : 0);
                met = met && (k != PMN_MIGRATE || r->paired[d] >= 0.9);
            }
        printf("], \"paired_ratio\": [%.3f, %.3f], \"verify_query_ms\": %.3f, "
               "\"migrate_nothing_to_move_ms\": %.3f}",
               r->paired[0], r->paired[1], r->query.med / 1e6, r->noop.med / 1e6);
    }
    printf("], \"goal\": {\"min_ratio\": 0.9, \"met\": %s}, \"stand_in\": %s}\n",
           met ? "true" : "false", o->stand_in ? "true" : "false");
}

int main(int argc, char **argv)
{
    struct opts o;
    struct pmn_ctx *ctx = NULL;
    struct result res[MAX_SIZES];
    size_t maxbatch;
    int err, rc = 1;
    unsigned done = 0;

    if (parse_args(argc, argv, &o) < 0) {
        usage(stderr);
        return 2;
    }
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    for (unsigned i = 0; i < o.nsizes; i++)
        o.sizes[i] = (o.sizes[i] + page_size - 1) / page_size * page_size;
    if ((err = pmn_ctx_new(&ctx)) < 0) {
        fprintf(stderr, "migrate: %s\n", pmn_strerror(err));
        return 2;
    }
    if (pmn_node_get(ctx, o.node) == NULL || pmn_node_get(ctx, o.from) == NULL) {
        fprintf(stderr,
                "migrate: node %d or %d does not exist here (a second node is needed: "
                "the vm lane's cpuless-hmat has one)\n",
                o.from, o.node);
        pmn_ctx_unref(ctx);
        return 2;
    }
    maxbatch = o.batch;
    pages = malloc(maxbatch * sizeof(*pages));
    nodes = malloc(maxbatch * sizeof(*nodes));
    status = malloc(maxbatch * sizeof(*status));
    if (!pages || !nodes || !status) {
        fprintf(stderr, "migrate: out of memory\n");
        goto out;
    }
    for (unsigned i = 0; i < o.nsizes; i++) {
        if (run_size(ctx, &o, o.sizes[i], &res[done]) < 0)
            goto report;
        done++;
    }
    rc = 0;
report:
    if (done > 0) {
        if (o.json)
            print_json(&o, res, done);
        else
            print_text(&o, res, done);
    }
out:
    free(pages), free(nodes), free(status);
    pmn_ctx_unref(ctx);
    return rc;
}
