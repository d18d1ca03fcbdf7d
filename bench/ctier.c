/*
 * ctier.c - compressed-tier benchmark (issue 7): how fast pmn_ctier_demote
 * and pmn_ctier_promote move pages, against raw move_pages(2) of the same
 * pages between the same nodes, and what a promotion on write costs the
 * writer.
 *
 * Throughput.  One anonymous private region (--size, default 256 MiB) of
 * base pages (MADV_NOHUGEPAGE: the tier works page by page) is filled with
 * text (LZ4 ratio ~2.8, well above the tier's 1.5 minimum) and placed on
 * the promote node.  Each repetition moves it four times, round-robin:
 *   raw demote     move_pages(0, n, pages, compressed node) by the syscall,
 *                  --batch pages per call (default 1024), no libpmnode
 *   raw promote    the same back to the promote node
 *   pmn demote     pmn_ctier_demote(region): estimate, guard, uffd register,
 *                  write-protect, move
 *   pmn promote    pmn_ctier_promote(region, promote node)
 * (odd repetitions run pmn first).  After every move an untimed move_pages
 * query checks that every page is where it should be.  One warm-up round
 * is not timed.  GB/s are 10^9 bytes per second on the median time; ratio
 * = raw median time / pmn median time (>= 0.8 is the goal).
 *
 * Write latency.  --lat-pages pages (default 1000) are demoted as one
 * range; then each page, in shuffled order, gets a single-byte write timed
 * with CLOCK_MONOTONIC around it: the write faults, the tier's handler
 * moves the page to the promote node and lifts the protection, the write
 * completes.  For scale, the same loop over the promoted pages (a plain
 * write, no fault) and a raw single-page move_pages of each page.  The
 * data is checked afterwards (every page holds its text and the one byte).
 *
 * --stand-in: node 0 is declared compressed and is also the promote node,
 * so no page moves: move_pages finds each page already on its target.  The
 * figures then measure overhead only (page walks, uffd, fault handling),
 * and the output says so.  The real figures come from the vm lane (a
 * CPU-less node 1 as the compressed node, node 0 normal):
 *     bench/run ctier --node 1 --promote-node 0
 *
 * Exit status: 0 every measurement ran, 1 one failed, 2 bad usage or no
 * compressed node.
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

struct opts {
    int node, promote_node;
    size_t size, batch, lat_pages;
    unsigned reps;
    bool stand_in, json;
};

struct series { /* one row: times of every repetition, in ns */
    const char *op, *impl;
    uint64_t ns[64];
    unsigned n;
};

static size_t page_size;

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

/* Percentile of a sorted array (nearest rank). */
static uint64_t pct(const uint64_t *v, size_t n, double p)
{
    size_t i = (size_t)(p / 100.0 * (double)n + 0.999999);

    return v[i == 0 ? 0 : i > n ? n - 1 : i - 1];
}

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next_rand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

/* Text that compresses like logs or cached records. */
static void fill_text(char *p, size_t len)
{
    static const char *words[] = {
        "request", "served",        "from", "cache", "user",    "session", "timeout",  "retry",
        "GET",     "/api/v1/items", "200",  "OK",    "latency", "ms",      "upstream", "node"};
    size_t n = 0;

    while (n < len) {
        const char *w = words[next_rand() % 16];
        size_t k = strlen(w);
        if (n + k + 1 > len)
            k = len - n - 1 < k ? len - n - 1 : k;
        memcpy(p + n, w, k);
        n += k;
        if (n < len)
            p[n++] = (next_rand() % 12) ? ' ' : '\n';
    }
}

/* Raw move_pages of every page of [p, p + len) to @node, @batch per call.
 * With @node < 0 it only queries.  Returns pages whose status is @want,
 * or -errno. */
/* move_pages over [p, p+len) in batches (node < 0: only ask where pages
 * are); returns how many pages end on @want, or -errno.  A migration that
 * the kernel leaves partly undone (a positive return: pages busy for a
 * moment, as right after boot with NUMA balancing on) is asked again for
 * the pages not yet there, up to three times, as a careful caller of the
 * raw syscall would; their status is preset, since the kernel does not
 * write it for pages it did not get to. */
static long raw_move(char *p, size_t len, int node, int want, size_t batch, void **pages,
                     int *nodes, int *status)
{
    size_t npages = len / page_size;
    long ok = 0;

    for (size_t done = 0; done < npages; done += batch) {
        size_t n = npages - done < batch ? npages - done : batch, left = n;

        for (size_t i = 0; i < n; i++) {
            pages[i] = p + (done + i) * page_size;
            nodes[i] = node;
        }
        for (int attempt = 0; left > 0 && attempt < (node < 0 ? 1 : 4); attempt++) {
            for (size_t i = 0; i < left; i++)
                status[i] = -EAGAIN;
            if (syscall(SYS_move_pages, 0, (unsigned long)left, pages, node < 0 ? NULL : nodes,
                        status, 0) < 0 &&
                errno != ENOENT)
                return -errno;
            /* Count the pages that made it; keep the others for another try. */
            size_t keep = 0;
            for (size_t i = 0; i < left; i++) {
                if (status[i] == want)
                    ok++;
                else
                    pages[keep++] = pages[i];
            }
            left = keep;
        }
    }
    return ok;
}

static int parse_size(const char *s, size_t *out)
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
    if (*end)
        return -1;
    *out = (size_t)v;
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: ctier [--node N] [--promote-node N] [--stand-in] [--size BYTES]\n"
               "             [--reps N] [--batch PAGES] [--lat-pages N] [--json]\n"
               "  --node N          compressed node (default: the first node of kind\n"
               "                    compressed; a node named here is declared compressed)\n"
               "  --promote-node N  normal node pages come back to (default: the lowest\n"
               "                    id with CPUs)\n"
               "  --stand-in        node 0 for both (moves nothing: overhead only)\n"
               "  --size BYTES      throughput region (K, M, G suffixes; default 256M)\n"
               "  --reps N          timed repetitions (default 5, at most 64)\n"
               "  --batch PAGES     pages per raw move_pages call (default 1024)\n"
               "  --lat-pages N     pages for the write latency (default 1000)\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.node = -1,
                       .promote_node = -1,
                       .size = 256u << 20,
                       .batch = 1024,
                       .lat_pages = 1000,
                       .reps = 5};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        size_t x;
        if (!strcmp(a, "--json")) {
            o->json = true;
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
        if (v == NULL || parse_size(v, &x) < 0) {
            fprintf(stderr, "ctier: %s needs a number\n", a);
            return -1;
        }
        i++;
        if (!strcmp(a, "--node") && x < 1u << 20)
            o->node = (int)x;
        else if (!strcmp(a, "--promote-node") && x < 1u << 20)
            o->promote_node = (int)x;
        else if (!strcmp(a, "--size") && x > 0)
            o->size = x;
        else if (!strcmp(a, "--reps") && x >= 1 && x <= 64)
            o->reps = (unsigned)x;
        else if (!strcmp(a, "--batch") && x >= 1 && x <= 1u << 20)
            o->batch = x;
        else if (!strcmp(a, "--lat-pages") && x >= 1 && x <= 1u << 22)
            o->lat_pages = x;
        else {
            fprintf(stderr, "ctier: bad option or value: %s %s\n", a, v);
            return -1;
        }
    }
    if (o->stand_in &&
        ((o->node >= 0 && o->node != 0) || (o->promote_node >= 0 && o->promote_node != 0))) {
        fprintf(stderr, "ctier: --stand-in uses node 0 for both nodes\n");
        return -1;
    }
    return 0;
}

static void summary(struct series *s, uint64_t *med, uint64_t *min, double *spread)
{
    uint64_t v[64];

    memcpy(v, s->ns, s->n * sizeof(v[0]));
    qsort(v, s->n, sizeof(v[0]), cmp_u64);
    *med = s->n % 2 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
    *min = v[0];
    *spread = *med ? 100.0 * (double)(v[s->n - 1] - v[0]) / (double)*med : 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    struct pmn_ctx_params *cp = NULL;
    struct pmn_ctx *ctx = NULL;
    struct pmn_ctier *t = NULL;
    struct pmn_ctier_opts to = {.struct_size = sizeof(to)};
    struct pmn_ctier_stats st0 = {.struct_size = sizeof(st0)}, st1 = {.struct_size = sizeof(st1)};
    struct series rows[4] = {{"demote", "raw move_pages", {0}, 0},
                             {"demote", "pmn_ctier", {0}, 0},
                             {"promote", "raw move_pages", {0}, 0},
                             {"promote", "pmn_ctier", {0}, 0}};
    uint64_t lat_pmn_p[3] = {0}, lat_plain_p[3] = {0}, lat_raw_p[3] = {0};
    size_t npages, lat_bad = 0, maxbatch;
    char *region = MAP_FAILED, *lat = MAP_FAILED, *copy = NULL;
    void **pages = NULL;
    int *nodes = NULL, *status = NULL, err = 0, rc = 1, ids[1];
    uint64_t *lat_pmn = NULL, *lat_plain = NULL, *lat_raw = NULL;
    size_t *order = NULL;
    double ratio_demote, ratio_promote, estimate;
    long placed;
    const char *where = "";

    if (parse_args(argc, argv, &o) < 0) {
        usage(stderr);
        return 2;
    }
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    o.size = (o.size + page_size - 1) / page_size * page_size;
    npages = o.size / page_size;

    if ((err = pmn_ctx_params_new(&cp)) < 0)
        goto fail;
    if (o.stand_in)
        o.node = o.promote_node = 0;
    /* A node named on the command line is the compressed node by
     * declaration (as pmnode.conf would say), whatever discovery found:
     * the vm lane's CPU-less node is plain memory to the kernel. */
    if (o.node >= 0 && (err = pmn_ctx_params_set_node_kind(cp, o.node, PMN_KIND_COMPRESSED)) < 0)
        goto fail;
    if ((err = pmn_ctx_new_params(&ctx, cp)) < 0)
        goto fail;
    if (o.node < 0) {
        if (pmn_nodes_of_kind(ctx, PMN_KIND_COMPRESSED, ids, 1) == 0) {
            fprintf(stderr, "ctier: no compressed node here: name one with --node N, "
                            "or measure overhead only with --stand-in\n");
            rc = 2;
            goto out;
        }
        o.node = ids[0];
    }
    to.node = o.node;
    to.promote_node = o.promote_node;
    err = pmn_ctier_open(ctx, &to, &t);
    if (err == PMN_E_NO_NODE || err == PMN_E_NOT_COMPRESSED) {
        fprintf(stderr, "ctier: node %d or %d: %s\n", o.node, o.promote_node, pmn_strerror(err));
        rc = 2;
        goto out;
    }
    if (err < 0)
        goto fail;
    if (o.promote_node < 0) { /* the tier's default: lowest id with CPUs */
        const struct pmn_node *n;
        pmn_node_foreach (ctx, n)
            if (pmn_node_cpu_count(n) > 0) {
                o.promote_node = pmn_node_id(n);
                break;
            }
        if (o.promote_node < 0)
            o.promote_node = 0;
    }

    maxbatch = o.batch > o.lat_pages ? o.batch : o.lat_pages;
    pages = malloc(maxbatch * sizeof(*pages));
    nodes = malloc(maxbatch * sizeof(*nodes));
    status = malloc(maxbatch * sizeof(*status));
    lat_pmn = malloc(o.lat_pages * sizeof(*lat_pmn));
    lat_plain = malloc(o.lat_pages * sizeof(*lat_plain));
    lat_raw = malloc(o.lat_pages * sizeof(*lat_raw));
    order = malloc(o.lat_pages * sizeof(*order));
    copy = malloc(o.lat_pages * page_size);
    region = mmap(NULL, o.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    lat = mmap(NULL, o.lat_pages * page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
               -1, 0);
    if (!pages || !nodes || !status || !lat_pmn || !lat_plain || !lat_raw || !order || !copy ||
        region == MAP_FAILED || lat == MAP_FAILED) {
        err = -ENOMEM;
        goto fail;
    }
    madvise(region, o.size, MADV_NOHUGEPAGE);
    madvise(lat, o.lat_pages * page_size, MADV_NOHUGEPAGE);
    fill_text(region, o.size);
    fill_text(lat, o.lat_pages * page_size);
    estimate = pmn_ctier_estimate(region, o.size, 64);

    /* Start on the promote node. */
    placed =
        raw_move(region, o.size, o.promote_node, o.promote_node, o.batch, pages, nodes, status);
    if (placed != (long)npages) {
        fprintf(stderr, "ctier: could not place the region on node %d (%ld of %zu pages)\n",
                o.promote_node, placed, npages);
        goto out;
    }

    /* Round 0 is the warm-up; odd rounds run pmn first. */
    for (unsigned rep = 0; rep <= o.reps; rep++) {
        for (int k = 0; k < 2; k++) {
            bool pmn = (k == 0) == (rep % 2 == 1);
            uint64_t t0, t1, t2;
            long on;

            t0 = now_ns();
            if (pmn)
                err = pmn_ctier_demote(t, region, o.size);
            else
                err = (int)raw_move(region, o.size, o.node, o.node, o.batch, pages, nodes, status);
            t1 = now_ns();
            if (err < 0) {
                where = pmn ? "pmn_ctier_demote" : "raw move_pages (demote)";
                goto fail;
            }
            on = raw_move(region, o.size, -1, o.node, o.batch, pages, nodes, status);
            if (on != (long)npages) {
                fprintf(stderr, "ctier: %s left %zu of %zu pages off node %d\n",
                        pmn ? "pmn_ctier_demote" : "raw demote", npages - (size_t)on, npages,
                        o.node);
                goto out;
            }
            t1 -= t0;
            t0 = now_ns();
            if (pmn)
                err = pmn_ctier_promote(t, region, o.size, o.promote_node);
            else
                err = (int)raw_move(region, o.size, o.promote_node, o.promote_node, o.batch, pages,
                                    nodes, status);
            t2 = now_ns();
            if (err < 0) {
                where = pmn ? "pmn_ctier_promote" : "raw move_pages (promote)";
                goto fail;
            }
            on = raw_move(region, o.size, -1, o.promote_node, o.batch, pages, nodes, status);
            if (on != (long)npages) {
                fprintf(stderr, "ctier: %s left %zu of %zu pages off node %d\n",
                        pmn ? "pmn_ctier_promote" : "raw promote", npages - (size_t)on, npages,
                        o.promote_node);
                goto out;
            }
            if (rep > 0) {
                struct series *d = &rows[pmn ? 1 : 0], *p = &rows[pmn ? 3 : 2];
                d->ns[d->n++] = t1;
                p->ns[p->n++] = t2 - t0;
            }
        }
    }

    /* Write latency: demote, then one byte per page. */
    memcpy(copy, lat, o.lat_pages * page_size);
    for (size_t i = 0; i < o.lat_pages; i++)
        order[i] = i;
    for (size_t i = o.lat_pages - 1; i > 0; i--) {
        size_t j = (size_t)(next_rand() % (i + 1)), x = order[i];
        order[i] = order[j], order[j] = x;
    }
    if (raw_move(lat, o.lat_pages * page_size, o.promote_node, o.promote_node, o.lat_pages, pages,
                 nodes, status) != (long)o.lat_pages) {
        fprintf(stderr, "ctier: could not place the latency pages on node %d\n", o.promote_node);
        goto out;
    }
    pmn_ctier_stats(t, &st0);
    if ((err = pmn_ctier_demote(t, lat, o.lat_pages * page_size)) < 0) {
        where = "pmn_ctier_demote (latency pages)";
        goto fail;
    }
    for (size_t i = 0; i < o.lat_pages; i++) {
        volatile char *c = lat + order[i] * page_size + 7;
        uint64_t t0 = now_ns();
        *c = 'X';
        lat_pmn[i] = now_ns() - t0;
    }
    pmn_ctier_stats(t, &st1);
    for (size_t i = 0; i < o.lat_pages; i++) {
        volatile char *c = lat + order[i] * page_size + 8;
        uint64_t t0 = now_ns();
        *c = 'Y';
        lat_plain[i] = now_ns() - t0;
    }
    for (size_t i = 0; i < o.lat_pages; i++) {
        void *pg = lat + order[i] * page_size;
        int nd = o.node, stt = -1;
        uint64_t t0 = now_ns();
        if (syscall(SYS_move_pages, 0, 1UL, &pg, &nd, &stt, 0) < 0) {
            err = -errno;
            where = "raw move_pages (one page)";
            goto fail;
        }
        lat_raw[i] = now_ns() - t0;
    }
    for (size_t i = 0; i < o.lat_pages; i++) {
        char *pg = lat + i * page_size, *want = copy + i * page_size;
        want[7] = 'X', want[8] = 'Y';
        lat_bad += memcmp(pg, want, page_size) != 0;
    }
    qsort(lat_pmn, o.lat_pages, sizeof(*lat_pmn), cmp_u64);
    qsort(lat_plain, o.lat_pages, sizeof(*lat_plain), cmp_u64);
    qsort(lat_raw, o.lat_pages, sizeof(*lat_raw), cmp_u64);
    for (int i = 0; i < 3; i++) {
        static const double ps[3] = {50, 99, 100};
        lat_pmn_p[i] = pct(lat_pmn, o.lat_pages, ps[i]);
        lat_plain_p[i] = pct(lat_plain, o.lat_pages, ps[i]);
        lat_raw_p[i] = pct(lat_raw, o.lat_pages, ps[i]);
    }

    {
        uint64_t med[4], min[4];
        double spread[4];
        const char *note =
            o.stand_in
                ? "stand-in: node 0 is both the compressed and the promote node, so no page "
                  "moves; the figures measure overhead only (page walks, uffd, fault handling)"
                : NULL;
        uint64_t wp = st1.write_promotions - st0.write_promotions;
        bool met;

        for (int i = 0; i < 4; i++)
            summary(&rows[i], &med[i], &min[i], &spread[i]);
        ratio_demote = (double)med[0] / (double)med[1];
        ratio_promote = (double)med[2] / (double)med[3];
        met = ratio_demote >= 0.8 && ratio_promote >= 0.8;
        if (o.json) {
            printf("{\"node\": %d, \"promote_node\": %d, \"stand_in\": %s, \"size_bytes\": %zu, "
                   "\"page_size\": %zu, \"reps\": %u, \"batch\": %zu, \"estimate_ratio\": %.3f, "
                   "\"results\": [",
                   o.node, o.promote_node, o.stand_in ? "true" : "false", o.size, page_size,
                   o.reps, o.batch, estimate);
            for (int i = 0; i < 4; i++)
                printf("%s{\"op\": \"%s\", \"impl\": \"%s\", \"gb_per_s\": %.3f, "
                       "\"median_ms\": %.3f, \"min_ms\": %.3f, \"spread_percent\": %.1f, "
                       "\"ratio\": %.3f}",
                       i ? ", " : "", rows[i].op, rows[i].impl, (double)o.size / (double)med[i],
                       med[i] / 1e6, min[i] / 1e6, spread[i],
                       i % 2 ? (double)med[i - 1] / (double)med[i] : 1.0);
            printf("], \"write_latency_us\": {\"pages\": %zu, \"write_promotions\": %" PRIu64
                   ", \"data_errors\": %zu, "
                   "\"promote_on_write\": {\"median\": %.2f, \"p99\": %.2f, \"max\": %.2f}, "
                   "\"plain_write\": {\"median\": %.3f, \"p99\": %.3f, \"max\": %.2f}, "
                   "\"raw_move_pages_one\": {\"median\": %.2f, \"p99\": %.2f, \"max\": %.2f}}, ",
                   o.lat_pages, wp, lat_bad, lat_pmn_p[0] / 1e3, lat_pmn_p[1] / 1e3,
                   lat_pmn_p[2] / 1e3, lat_plain_p[0] / 1e3, lat_plain_p[1] / 1e3,
                   lat_plain_p[2] / 1e3, lat_raw_p[0] / 1e3, lat_raw_p[1] / 1e3,
                   lat_raw_p[2] / 1e3);
            printf("\"goal\": {\"min_ratio\": 0.8, \"demote_ratio\": %.3f, \"promote_ratio\": "
                   "%.3f, \"met\": %s}, \"note\": ",
                   ratio_demote, ratio_promote, met ? "true" : "false");
            if (note)
                printf("\"%s\"}\n", note);
            else
                printf("null}\n");
        } else {
            printf("compressed tier: node %d -> compressed node %d and back, %zu MiB "
                   "(%zu pages of %zu B), text (LZ4 estimate %.2f), %u reps + 1 warm-up, "
                   "raw batch %zu\n",
                   o.promote_node, o.node, o.size >> 20, npages, page_size, estimate, o.reps,
                   o.batch);
            if (note)
                printf("NOTE: %s\n", note);
            printf("\n%-8s %-15s %10s %10s %8s %12s\n", "op", "impl", "GB/s", "min ms", "spread",
                   "ratio vs raw");
            for (int i = 0; i < 4; i++) {
                printf("%-8s %-15s %10.2f %10.2f %7.1f%% ", rows[i].op, rows[i].impl,
                       (double)o.size / (double)med[i], min[i] / 1e6, spread[i]);
                if (i % 2)
                    printf("%11.2fx\n", (double)med[i - 1] / (double)med[i]);
                else
                    printf("%12s\n", "1.00x");
            }
            printf("\nwrite to a demoted page (%zu pages, shuffled; %" PRIu64
                   " promotions on write%s):\n",
                   o.lat_pages, wp, lat_bad ? ", DATA MISMATCH" : ", data intact");
            printf("  %-30s median %8.2f us   p99 %8.2f us   max %8.2f us\n", "promotion on write",
                   lat_pmn_p[0] / 1e3, lat_pmn_p[1] / 1e3, lat_pmn_p[2] / 1e3);
            printf("  %-30s median %8.3f us   p99 %8.3f us   max %8.2f us\n",
                   "plain write (no fault)", lat_plain_p[0] / 1e3, lat_plain_p[1] / 1e3,
                   lat_plain_p[2] / 1e3);
            printf("  %-30s median %8.2f us   p99 %8.2f us   max %8.2f us\n",
                   "raw move_pages, one page", lat_raw_p[0] / 1e3, lat_raw_p[1] / 1e3,
                   lat_raw_p[2] / 1e3);
            printf("\ngoal: at least 0.8x raw move_pages: demote %.2fx, promote %.2fx: %s\n",
                   ratio_demote, ratio_promote, met ? "met" : "NOT met");
        }
        rc = wp == o.lat_pages && lat_bad == 0 ? 0 : 1;
        if (rc)
            fprintf(stderr, "ctier: %" PRIu64 " of %zu writes promoted, %zu pages differ\n", wp,
                    o.lat_pages, lat_bad);
    }
    goto out;
fail:
    fprintf(stderr, "ctier: %s%s%s (%s)\n", where, *where ? ": " : "", pmn_strerror(err),
            pmn_err_name(err));
out:
    pmn_ctier_close(t);
    if (region != MAP_FAILED)
        munmap(region, o.size);
    if (lat != MAP_FAILED)
        munmap(lat, o.lat_pages * page_size);
    free(pages), free(nodes), free(status), free(order), free(copy);
    free(lat_pmn), free(lat_plain), free(lat_raw);
    pmn_ctx_unref(ctx);
    pmn_ctx_params_free(cp);
    return rc;
}
