/*
 * kv_tier.c - a key-value cache whose value store lives on two memory tiers
 * (and a compressed tier), kept in place by libpmnode's tiering helper.
 *
 * The store is one anonymous mapping of fixed-size values.  The cache
 * fills on misses, so a value's slot is the order its key was first asked
 * for; then a Zipf-skewed stream of gets (and a few sets) runs in steps.
 * A get stamps the value with the current step (its LRU clock), so a
 * tracker that sees writes only sees every get.  After each step the
 * program calls pmn_tier_step(), which demotes the extents of the store
 * nobody used lately to the cold node (and, idle longer, to the
 * compressed tier) and promotes the busy ones to the hot node, never
 * holding more than --hot-limit bytes there.
 *
 * Each step prints where the values of its gets were (every 16th get asks
 * pmn_where() for its value's page before reading it: hot node, cold
 * node, compressed tier), the bytes per tier (pmn_where over the store),
 * what moved, and gets per second.  --all-hot and --all-cold keep the
 * store on one node instead, for comparison; the last line sums the
 * second half of the steps up as key=value pairs for scripts.
 *
 * usage: kv_tier [--tier | --all-hot | --all-cold] [--hot N] [--cold N]
 *                [--compressed N] [--keys N] [--value-size BYTES]
 *                [--hot-limit BYTES] [--budget BYTES] [--granule BYTES]
 *                [--skew S] [--steps N] [--gets N] [--sets PERCENT] [--seed N]
 *   --hot N         the fast node (default: the first node with CPUs)
 *   --cold N        the slow node (default: the next memory node that is not compressed)
 *   --compressed N  a compressed node as third level (declared compressed, e.g.
 *                   PMNODE_CONFIG with "kind N compressed"); default none
 *   --hot-limit     bytes of the store the hot node may hold (default a quarter)
 *   --budget        bytes promoted, and bytes demoted, per step (default half the limit)
 * A one-node machine has nothing to tier between: the program says so, runs
 * two steps all on that node and exits 0.
 * Exit status: 0 done, 1 a call failed or a value was wrong, 2 bad usage.
 *
 * Build against an installed libpmnode:
 *     cc kv_tier.c $(pkg-config --cflags --libs pmnode) -lm -o kv_tier
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* MAP_ANONYMOUS and clock_gettime under -std=c11 */
#endif
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <pmnode.h>

enum mode { TIER, ALL_HOT, ALL_COLD };

struct value {
    uint64_t key;
    uint64_t stamp; /* step of the last get or set */
    char payload[];
};

struct zipf {
    double *cdf;
    size_t n;
};

static uint64_t rng_next(uint64_t *s) /* xorshift64*: reproducible runs */
{
    *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) / (double)(1ull << 53);
}

/* P(rank k) proportional to 1 / k^s, k = 1..n; sampled by inverting the CDF. */
static int zipf_init(struct zipf *z, size_t n, double s)
{
    double sum = 0;

    z->n = n;
    z->cdf = malloc(n * sizeof(*z->cdf));
    if (z->cdf == NULL)
        return -ENOMEM;
    for (size_t k = 0; k < n; k++)
        z->cdf[k] = (sum += 1.0 / pow((double)(k + 1), s));
    for (size_t k = 0; k < n; k++)
        z->cdf[k] /= sum;
    return 0;
}

static size_t zipf_sample(const struct zipf *z, uint64_t *rng)
{
    double u = rng_unit(rng);
    size_t lo = 0, hi = z->n - 1;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill(struct value *v, size_t vsize, uint64_t key, uint64_t stamp)
{
    size_t room = vsize - sizeof(*v), off = 0;
    char word[48];
    int n = snprintf(word, sizeof(word), "value-of-key-%" PRIu64 ";", key);

    v->key = key;
    v->stamp = stamp;
    while (off < room) { /* text: compresses the way cached values often do */
        size_t c = room - off < (size_t)n ? room - off : (size_t)n;
        memcpy(v->payload + off, word, c);
        off += c;
    }
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    uint64_t mul = 1;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (end == s || errno || *s == '-')
        return -1;
    if (*end == 'K' || *end == 'k')
        mul = 1ull << 10, end++;
    else if (*end == 'M' || *end == 'm')
        mul = 1ull << 20, end++;
    else if (*end == 'G' || *end == 'g')
        mul = 1ull << 30, end++;
    if (*end || (v && mul > UINT64_MAX / v))
        return -1;
    *out = v * mul;
    return 0;
}

static double mib(uint64_t b) { return (double)b / (1 << 20); }

static void usage(void)
{
    fprintf(stderr,
            "usage: kv_tier [--tier | --all-hot | --all-cold] [--hot N] [--cold N] "
            "[--compressed N] [--keys N] [--value-size BYTES] [--hot-limit BYTES] "
            "[--budget BYTES] [--granule BYTES] [--skew S] [--steps N] [--gets N] "
            "[--sets PERCENT] [--seed N]\n");
}

int main(int argc, char **argv)
{
    enum mode mode = TIER;
    uint64_t hot_opt = UINT64_MAX, cold_opt = UINT64_MAX, comp_opt = UINT64_MAX, keys = 16384,
             vsize = 4096, hot_limit = 0, budget = 0, granule = 64 << 10, steps = 12, gets = 0,
             sets = 5, seed = 42;
    double skew = 0.99;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), len;
    int hot = -1, cold = -1, cnode = -1, err = 0, rc = 1;
    struct pmn_ctx *ctx = NULL;
    struct pmn_ctier *ct = NULL;
    struct pmn_tier *tier = NULL;
    struct zipf z = {0};
    int64_t *slot_of = NULL;
    char *store = MAP_FAILED;
    uint64_t rng, filled = 0, corrupt = 0, max_hot = 0;
    uint64_t sum_s[3] = {0}, sum_total = 0; /* second half: sampled gets hot/cold/compressed */
    double sum_gets = 0, sum_secs = 0;
    volatile uint64_t sink = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        uint64_t *opt = !strcmp(a, "--hot")          ? &hot_opt
                        : !strcmp(a, "--cold")       ? &cold_opt
                        : !strcmp(a, "--compressed") ? &comp_opt
                        : !strcmp(a, "--keys")       ? &keys
                        : !strcmp(a, "--value-size") ? &vsize
                        : !strcmp(a, "--hot-limit")  ? &hot_limit
                        : !strcmp(a, "--budget")     ? &budget
                        : !strcmp(a, "--granule")    ? &granule
                        : !strcmp(a, "--steps")      ? &steps
                        : !strcmp(a, "--gets")       ? &gets
                        : !strcmp(a, "--sets")       ? &sets
                        : !strcmp(a, "--seed")       ? &seed
                                                     : NULL;
        if (!strcmp(a, "--tier")) {
            mode = TIER;
        } else if (!strcmp(a, "--all-hot")) {
            mode = ALL_HOT;
        } else if (!strcmp(a, "--all-cold")) {
            mode = ALL_COLD;
        } else if (!strcmp(a, "--skew") && i + 1 < argc) {
            char *end;
            skew = strtod(argv[++i], &end);
            if (*end || !(skew >= 0 && skew <= 4)) {
                usage();
                return 2;
            }
        } else if (opt == NULL || i + 1 == argc || parse_u64(argv[++i], opt) < 0) {
            usage();
            return 2;
        }
    }
    if (keys < 16 || keys > (1u << 24) || vsize < 64 || vsize % page != 0 ||
        vsize > (1u << 24) || keys * vsize > (64ull << 30) || steps < 1 || steps > 100000 ||
        sets > 100 || granule < page || (granule & (granule - 1)) ||
        (hot_opt != UINT64_MAX && hot_opt > 65535) ||
        (cold_opt != UINT64_MAX && cold_opt > 65535) ||
        (comp_opt != UINT64_MAX && comp_opt > 65535)) {
        fprintf(stderr, "kv_tier: --keys 16..16M, --value-size a multiple of the page "
                        "(%zu), --granule a power of two >= the page, --sets 0..100\n",
                page);
        return 2;
    }
    len = (size_t)(keys * vsize);
    if (hot_limit == 0)
        hot_limit = len / 4;
    if (budget == 0)
        budget = hot_limit / 2 ? hot_limit / 2 : page;
    if (gets == 0)
        gets = 4 * keys;
    rng = seed ? seed : 1;

    if ((err = pmn_ctx_new(&ctx)) < 0)
        goto fail;
    /* The nodes: hot is the first with CPUs, cold the next memory node
     * that is not compressed (or what the options say). */
    for (const struct pmn_node *n = pmn_node_first(ctx); n; n = pmn_node_next(n))
        if (hot < 0 && pmn_node_cpu_count(n) > 0 && pmn_node_capacity(n) > 0)
            hot = pmn_node_id(n);
    if (hot_opt != UINT64_MAX)
        hot = (int)hot_opt;
    cnode = comp_opt != UINT64_MAX ? (int)comp_opt : -1;
    for (const struct pmn_node *n = pmn_node_first(ctx); n && cold < 0; n = pmn_node_next(n))
        if (pmn_node_id(n) != hot && pmn_node_id(n) != cnode && pmn_node_capacity(n) > 0 &&
            pmn_node_kind(n) != PMN_KIND_COMPRESSED)
            cold = pmn_node_id(n);
    if (cold_opt != UINT64_MAX)
        cold = (int)cold_opt;
    if (hot < 0) {
        fprintf(stderr, "kv_tier: no memory node with CPUs (name one with --hot)\n");
        rc = 2;
        goto out;
    }
    if (cold < 0 && mode != ALL_HOT) {
        printf("kv_tier: one memory node (%d): nothing to tier between; "
               "running all-hot for 2 steps\n",
               hot);
        mode = ALL_HOT;
        steps = 2;
    }
    if (hot == cold || (cnode >= 0 && (cnode == hot || cnode == cold))) {
        fprintf(stderr, "kv_tier: the hot, cold and compressed nodes must differ\n");
        rc = 2;
        goto out;
    }

    /* The store: written once (the cache's fill), then placed. */
    store = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    slot_of = malloc(keys * sizeof(*slot_of));
    if (store == MAP_FAILED || slot_of == NULL || zipf_init(&z, (size_t)keys, skew) < 0) {
        err = -ENOMEM;
        goto fail;
    }
    /* Base pages: the kernel moves a transparent huge page whole, which
     * would carry 2 MiB of neighbours with every extent the tier moves. */
    madvise(store, len, MADV_NOHUGEPAGE);
    memset(slot_of, 0xff, keys * sizeof(*slot_of));
    /* Fill on misses: slots in the order keys are first asked for. */
    for (uint64_t g = 0; g < keys; g++) {
        size_t k = zipf_sample(&z, &rng);
        if (slot_of[k] < 0) {
            slot_of[k] = (int64_t)filled;
            fill((struct value *)(store + filled++ * vsize), vsize, k, 0);
        }
    }
    uint64_t by_misses = filled;
    for (uint64_t k = 0; k < keys; k++) /* the rest, as a warm restart would load them */
        if (slot_of[k] < 0) {
            slot_of[k] = (int64_t)filled;
            fill((struct value *)(store + filled++ * vsize), vsize, k, 0);
        }
    {
        int where = mode == ALL_HOT ? hot : cold;
        struct pmn_migrate_report r = {.struct_size = sizeof(r)};
        if ((err = pmn_migrate(ctx, store, len, where, 0, &r)) < 0) {
            fprintf(stderr, "kv_tier: placing the store on node %d: %s (%" PRIu64 " of %" PRIu64
                            " pages moved)\n",
                    where, pmn_strerror(err), r.moved + r.already_there, r.pages);
            goto out;
        }
    }
    printf("store: %" PRIu64 " values of %" PRIu64 " bytes (%.1f MiB), %" PRIu64
           " filled by first requests, zipf skew %.2f\n",
           keys, vsize, mib(len), by_misses, skew);

    if (mode == TIER) {
        struct pmn_tier_opts o = {.struct_size = sizeof(o),
                                  .hot_node = hot,
                                  .cold_node = cold,
                                  .hot_limit = hot_limit,
                                  .promote_budget = budget,
                                  .demote_budget = budget,
                                  .cold_looks = 2,
                                  .compress_looks = 4};
        if (cnode >= 0) {
            struct pmn_ctier_opts co = {
                .struct_size = sizeof(co), .node = cnode, .promote_node = hot};
            if ((err = pmn_ctier_open(ctx, &co, &ct)) < 0) {
                fprintf(stderr, "kv_tier: compressed tier on node %d: %s\n", cnode,
                        pmn_strerror(err));
                goto out;
            }
            o.ctier = ct;
        }
        o.track = (struct pmn_track_opts){.struct_size = sizeof(o.track), .granule = granule};
        if ((err = pmn_tier_new(ctx, &o, &tier)) < 0 || (err = pmn_tier_add(tier, store, len)) < 0)
            goto fail;
        printf("mode: tier, hot node %d (limit %.1f MiB), cold node %d", hot, mib(hot_limit),
               cold);
        if (ct != NULL)
            printf(", compressed node %d", cnode);
        printf(", budget %.1f MiB per step each way, tracker %s, extents of %" PRIu64 " KiB\n",
               mib(budget), pmn_track_mode_name(pmn_track_mode(pmn_tier_tracker(tier))),
               granule >> 10);
    } else {
        printf("mode: %s on node %d (no limit: for comparison)\n",
               mode == ALL_HOT ? "all-hot" : "all-cold", mode == ALL_HOT ? hot : cold);
    }

    for (uint64_t step = 1; step <= steps; step++) {
        uint64_t s[4] = {0}, total = 0; /* sampled: hot, cold, compressed, elsewhere */
        struct pmn_where w = {.struct_size = sizeof(w)};
        struct pmn_tier_stats d = {.struct_size = sizeof(d)};
        double t0 = now_s(), secs;

        for (uint64_t g = 0; g < gets; g++) {
            size_t k = zipf_sample(&z, &rng);
            struct value *v = (struct value *)(store + (size_t)slot_of[k] * vsize);
            if (g % 16 == 0 && pmn_where(v, 1, &w) == 0) {
                int at = w.nnodes ? w.node[0].node : -1;
                s[at == hot ? 0 : at == cold ? 1 : at >= 0 && at == cnode ? 2 : 3]++;
                total++;
            }
            if (v->key != k)
                corrupt++;
            if (rng_next(&rng) % 100 < sets) {
                fill(v, (size_t)vsize, k, step);
            } else {
                uint64_t sum = 0;
                for (size_t off = 0; off + 8 <= vsize - sizeof(*v); off += 64)
                    sum += *(const uint64_t *)(const void *)(v->payload + off);
                sink += sum;
                v->stamp = step; /* the LRU clock: a get writes too */
            }
        }
        secs = now_s() - t0;
        if (tier != NULL && (err = pmn_tier_step(tier, &d)) < 0)
            goto fail;
        /* Bytes per tier, asked of the kernel, not of the tier's books. */
        if ((err = pmn_where(store, len, &w)) < 0)
            goto fail;
        uint64_t hb = pmn_where_pages_on(&w, hot) * page,
                 cb = cold >= 0 ? pmn_where_pages_on(&w, cold) * page : 0,
                 zb = cnode >= 0 ? pmn_where_pages_on(&w, cnode) * page : 0;
        if (hb > max_hot)
            max_hot = hb;
        if (total == 0)
            total = 1;
        printf("step %2" PRIu64 ": gets on hot %5.1f%% cold %5.1f%% compressed %5.1f%% | "
               "MiB hot %6.1f cold %6.1f compressed %6.1f | %.2f Mgets/s",
               step, 100.0 * s[0] / total, 100.0 * s[1] / total, 100.0 * s[2] / total, mib(hb),
               mib(cb), mib(zb), gets / secs / 1e6);
        if (tier != NULL)
            printf(" | moved up %.1f down %.1f compressed %.1f back-by-write %.1f MiB, %" PRIu64
                   " failed",
                   mib(d.promoted_bytes + d.decompressed_total), mib(d.demoted_bytes),
                   mib(d.compressed_total), mib(d.write_returned_bytes), d.failed_moves);
        printf("\n");
        if (step > steps / 2) {
            for (int i = 0; i < 3; i++)
                sum_s[i] += s[i];
            sum_total += total;
            sum_gets += (double)gets;
            sum_secs += secs;
        }
    }
    if (tier != NULL) {
        struct pmn_tier_stats st = {.struct_size = sizeof(st)};
        char json[768];
        if ((err = pmn_tier_stats(tier, &st)) < 0 ||
            (err = pmn_tier_stats_json(&st, json, sizeof(json))) < 0)
            goto fail;
        printf("tier: %s\n", json);
    }
    if (sum_total == 0)
        sum_total = 1;
    printf("summary: mode=%s hot_permille=%" PRIu64 " cold_permille=%" PRIu64
           " compressed_permille=%" PRIu64 " max_hot_bytes=%" PRIu64 " hot_limit=%" PRIu64
           " kgets_per_s=%.0f corrupt=%" PRIu64 "\n",
           mode == TIER ? "tier" : mode == ALL_HOT ? "all-hot" : "all-cold",
           1000 * sum_s[0] / sum_total, 1000 * sum_s[1] / sum_total, 1000 * sum_s[2] / sum_total,
           max_hot, hot_limit, sum_secs > 0 ? sum_gets / sum_secs / 1e3 : 0.0, corrupt);
    rc = corrupt ? 1 : 0;
    if (corrupt)
        fprintf(stderr, "kv_tier: %" PRIu64 " gets found the wrong value\n", corrupt);
    goto out;
fail:
    fprintf(stderr, "kv_tier: %s (%s)\n", pmn_strerror(err), pmn_err_name(err));
out:
    pmn_tier_free(tier);
    pmn_ctier_close(ct); /* lift the protection before the store goes away */
    if (store != MAP_FAILED)
        munmap(store, len);
    free(slot_of);
    free(z.cdf);
    pmn_ctx_unref(ctx);
    (void)sink;
    return rc;
}
