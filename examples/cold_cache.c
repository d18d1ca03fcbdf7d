/*
 * cold_cache.c - a key/value cache that moves idle entries to compressed
 * memory.
 *
 * Every value is one page from a libpmnode arena on a normal node
 * (pmn_arena_aligned_alloc(arena, page, page): a demotion moves whole
 * pages, so each entry owns its page).  A clock ticks; each tick serves a
 * skewed stream of requests, then sweeps the cache and demotes every entry
 * nobody touched for --idle ticks to the compressed tier
 * (pmn_ctier_demote).  A lookup only reads, so a demoted entry stays on the
 * tier; an update writes, and the tier moves that one page back to the
 * normal node before the write lands: the program does nothing for it.
 * At the end it prints the tier's counters and where the pages are.
 *
 * usage: cold_cache [--node N | --stand-in] [--entries N] [--ticks N] [--idle N]
 *   --node N     compressed node (default: the first node of kind compressed)
 *   --stand-in   let node 0 play the compressed node (pmn_ctx_params_set_node_kind),
 *                for hosts without one: pages then stay on node 0, but write
 *                protection, promotion on write and the counters are real
 * Exit status: 0 done, 1 a call failed, 2 bad usage or no compressed node.
 *
 * Build against an installed libpmnode:
 *     cc cold_cache.c $(pkg-config --cflags --libs pmnode) -o cold_cache
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pmnode.h>

struct entry {
    char key[32];
    char *value;         /* one page, page-aligned */
    unsigned last_touch; /* tick of the last lookup or update */
    int on_tier;         /* demoted and not written since */
};

struct cache {
    struct entry *tab; /* open addressing, 2 * entries slots */
    size_t nslots;
    uint64_t rng; /* xorshift64 state: reproducible runs */
};

static uint64_t next_rand(struct cache *c)
{
    c->rng ^= c->rng << 13, c->rng ^= c->rng >> 7, c->rng ^= c->rng << 17;
    return c->rng;
}

static struct entry *slot_of(struct cache *c, const char *key) /* FNV-1a, linear probing */
{
    uint64_t h = 14695981039346656037u;

    for (const char *c = key; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211u;
    for (size_t i = h % c->nslots;; i = (i + 1) % c->nslots)
        if (c->tab[i].value == NULL || strcmp(c->tab[i].key, key) == 0)
            return &c->tab[i];
}

/* A value compresses like real cached text (the tier refuses data that
 * would not: PMN_E_INCOMPRESSIBLE). */
static void fill(struct cache *c, char *v, size_t page, const char *key, unsigned version)
{
    static const char *words[] = {"order",   "shipped", "customer", "warehouse", "invoice",
                                  "pending", "total",   "address",  "region",    "priority"};
    size_t n = (size_t)snprintf(v, page, "%s v%u:", key, version);

    while (n + 12 < page)
        n += (size_t)snprintf(v + n, page - n, " %s", words[next_rand(c) % 10]);
    v[n] = '\0';
}

static int parse(const char *s, long *out)
{
    char *end;

    *out = strtol(s, &end, 10);
    return (*s && !*end && *out >= 0) ? 0 : -1;
}

int main(int argc, char **argv)
{
    long node = -1, entries = 512, ticks = 24, idle = 3, v;
    int stand_in = 0, err, rc = 1, home = 0, ids[1];
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint64_t lookups = 0, cold_reads = 0, updates = 0, cold_writes = 0, on_tier = 0;
    struct pmn_ctx_params *cp = NULL;
    struct pmn_ctx *ctx = NULL;
    struct pmn_backing_params *bp = NULL;
    struct pmn_backing *b = NULL;
    struct pmn_arena *a = NULL;
    struct pmn_ctier *t = NULL;
    struct pmn_ctier_opts o = {.struct_size = sizeof(o), .node = -1, .promote_node = -1};
    struct pmn_ctier_stats st = {.struct_size = sizeof(st)};
    struct pmn_where w = {.struct_size = sizeof(w)};
    struct cache c = {.tab = NULL, .nslots = 0, .rng = 88172645463325252u};
    uint64_t here = 0, there = 0;
    char key[32], json[512];

    for (int i = 1; i < argc; i++) {
        long *opt = !strcmp(argv[i], "--node")      ? &node
                    : !strcmp(argv[i], "--entries") ? &entries
                    : !strcmp(argv[i], "--ticks")   ? &ticks
                    : !strcmp(argv[i], "--idle")    ? &idle
                                                    : NULL;
        if (!strcmp(argv[i], "--stand-in")) {
            stand_in = 1;
        } else if (opt == NULL || i + 1 == argc || parse(argv[++i], &v) < 0) {
            fprintf(stderr, "usage: cold_cache [--node N | --stand-in] [--entries N] "
                            "[--ticks N] [--idle N]\n");
            return 2;
        } else {
            *opt = v;
        }
    }
    if ((stand_in && node >= 0) || entries < 1 || entries > 1000000) {
        fprintf(stderr, "cold_cache: --stand-in and --node exclude each other; "
                        "--entries is 1 to 1000000\n");
        return 2;
    }

    /* A compressed node the kernel does not describe can be named, as an
     * administrator would in pmnode.conf: here node 0 stands in for one. */
    if ((err = pmn_ctx_params_new(&cp)) < 0 ||
        (stand_in && (err = pmn_ctx_params_set_node_kind(cp, 0, PMN_KIND_COMPRESSED)) < 0) ||
        (err = pmn_ctx_new_params(&ctx, cp)) < 0)
        goto fail;
    if (stand_in)
        node = 0;
    else if (node < 0 && pmn_nodes_of_kind(ctx, PMN_KIND_COMPRESSED, ids, 1) > 0)
        node = ids[0];
    if (node < 0) {
        printf("cold_cache: no compressed node on this machine (try --stand-in)\n");
        rc = 2;
        goto out;
    }
    /* Entries live on the first node with CPUs (node 0 when standing in);
     * written pages come back there. */
    for (const struct pmn_node *n = pmn_node_first(ctx); n && !stand_in; n = pmn_node_next(n))
        if (pmn_node_cpu_count(n) > 0) {
            home = pmn_node_id(n);
            break;
        }
    o.node = (int)node;
    o.promote_node = home;
    err = pmn_ctier_open(ctx, &o, &t);
    if (err == PMN_E_NOT_COMPRESSED || err == PMN_E_NO_NODE) {
        printf("cold_cache: node %ld: %s (try --stand-in)\n", node, pmn_strerror(err));
        rc = 2;
        goto out;
    }
    if (err < 0 || (err = pmn_backing_params_new(&bp)) < 0 ||
        (err = pmn_backing_params_set_node(bp, home)) < 0 ||
        (err = pmn_backing_new(ctx, bp, &b)) < 0 || (err = pmn_arena_new(b, NULL, &a)) < 0)
        goto fail;
    printf("cache of %ld entries on node %d, compressed tier on node %ld%s\n", entries, home, node,
           stand_in ? " (stand-in: pages stay on node 0)" : "");

    c.nslots = 2 * (size_t)entries;
    if ((c.tab = calloc(c.nslots, sizeof(*c.tab))) == NULL) {
        err = -ENOMEM;
        goto fail;
    }
    for (long i = 0; i < entries; i++) {
        struct entry *e;
        snprintf(key, sizeof(key), "order:%06ld", i);
        e = slot_of(&c, key);
        if ((e->value = pmn_arena_aligned_alloc(a, page, page)) == NULL) {
            err = -errno;
            goto fail;
        }
        strcpy(e->key, key);
        fill(&c, e->value, page, key, 0);
    }

    for (unsigned tick = 1; tick <= (unsigned)ticks; tick++) {
        /* Requests: 9 in 10 go to the hottest eighth of the keys; 1 in 5 updates. */
        for (long r = 0; r < entries / 2 + 1; r++) {
            long hot = entries / 8 + 1,
                 k = (long)(next_rand(&c) % 10 ? next_rand(&c) % (uint64_t)hot
                                               : next_rand(&c) % (uint64_t)entries);
            struct entry *e;
            snprintf(key, sizeof(key), "order:%06ld", k);
            e = slot_of(&c, key);
            if (next_rand(&c) % 5) {
                lookups++;
                cold_reads += e->on_tier; /* served from the tier; stays there */
                if (strncmp(e->value, key, strlen(key)) != 0) {
                    fprintf(stderr, "cold_cache: %s holds the wrong value\n", key);
                    goto out;
                }
            } else {
                updates++;
                cold_writes += e->on_tier; /* this write moves the page back first */
                fill(&c, e->value, page, key, tick);
                e->on_tier = 0;
            }
            e->last_touch = tick;
        }
        /* The clock: demote what nobody asked for lately. */
        for (size_t i = 0; i < c.nslots; i++) {
            struct entry *e = &c.tab[i];
            if (e->value == NULL || e->on_tier || tick - e->last_touch < (unsigned)idle)
                continue;
            /* A page a write brought back can be demoted again at once. */
            err = pmn_ctier_demote(t, e->value, page);
            if (err == PMN_E_TIER_FULL || err == PMN_E_INCOMPRESSIBLE)
                continue; /* the guard said no before anything moved: keep it here */
            if (err < 0)
                goto fail;
            e->on_tier = 1;
        }
    }

    for (size_t i = 0; i < c.nslots; i++) {
        if (c.tab[i].value == NULL || pmn_where(c.tab[i].value, page, &w) < 0)
            continue;
        on_tier += (uint64_t)c.tab[i].on_tier;
        here += pmn_where_pages_on(&w, home);
        there += pmn_where_pages_on(&w, (int)node);
    }
    if ((err = pmn_ctier_stats(t, &st)) < 0 ||
        (err = pmn_ctier_stats_json(&st, json, sizeof(json))) < 0)
        goto fail;
    printf("%" PRIu64 " lookups (%" PRIu64 " served from the tier), %" PRIu64 " updates (%" PRIu64
           " promoted a page on write)\n",
           lookups, cold_reads, updates, cold_writes);
    printf("tier: %" PRIu64 " KiB logical, ~%" PRIu64 " KiB physical (ratio %.2f), %" PRIu64
           " demotions, %" PRIu64 " write promotions, %" PRIu64 " write failures, %" PRIu64
           " refusals\n",
           st.logical_bytes >> 10, st.physical_bytes >> 10, st.ratio, st.demotions,
           st.write_promotions, st.write_failures, st.refusals);
    printf("entries on the tier: %" PRIu64 " (the tier counts %" PRIu64 " pages)\n", on_tier,
           st.logical_bytes / page);
    if (stand_in)
        printf("pages: %" PRIu64 " on node 0 (standing in for both nodes)\n", here);
    else
        printf("pages: %" PRIu64 " on node %d, %" PRIu64 " on node %ld\n", here, home, there,
               node);
    printf("%s\n", json);
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "cold_cache: %s (%s)\n", pmn_strerror(err), pmn_err_name(err));
out:
    pmn_ctier_close(t); /* lift the protection before the arena's pages go away */
    pmn_arena_destroy(a);
    pmn_backing_free(b);
    pmn_backing_params_free(bp);
    pmn_ctx_unref(ctx);
    pmn_ctx_params_free(cp);
    free(c.tab);
    return rc;
}
