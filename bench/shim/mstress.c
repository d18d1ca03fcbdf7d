/*
 * mstress.c - threads that come and go, keep a live set, and trade objects
 * through a shared transfer table, in the style of mimalloc's stress test.
 *
 * ROUNDS rounds; in each, THREADS fresh threads run STEPS steps each over
 * their own live set (which starts from the set a thread of the previous
 * round left behind, so objects outlive the thread that allocated them).
 * A step either allocates an object into the live set (growing it with
 * realloc of the pointer array), frees a random live object, or swaps a
 * random live object with a slot of the global TRANSFER table (an atomic
 * exchange): the object that comes out was allocated by another thread,
 * maybe one that has exited, and is freed here or kept.  Sizes: mostly
 * 1..64 words, one in 100 up to 4 KiB words, one in 10000 up to 256 KiB
 * words (a large object, written sparsely).
 *
 * Each object carries its tag at both ends; the checksum sums the tags of
 * every object ever freed, so it does not depend on which thread frees
 * what (each is freed exactly once, the last ones by main).
 *
 * MSTRESS_FOOTPRINT=1 in the environment: after each round, on stderr,
 * how spread the small objects (up to 64 words) of the live sets are: the
 * distinct 64-byte lines and 4 KiB pages their two tags sit in, which are
 * what the frees' reads touch (bench/README.md, "Issue 17, 0.12.6").  Off
 * the timed path otherwise: one getenv() at start.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "workload.h"

enum { THREADS = 4, ROUNDS = 10, TRANSFER = 1000 };

struct obj {
    uint64_t words; /* including this header */
    uint64_t w[];   /* tag in w[0] and w[words - 2] */
};

struct live {
    struct obj **o;
    size_t n, cap;
};

static _Atomic(struct obj *) transfer[TRANSFER];
static struct live sets[THREADS];
static uint64_t steps;

static struct obj *obj_new(uint64_t *rng)
{
    uint64_t x = wl_next(rng), words;
    if (x % 10000 == 0)
        words = wl_range(rng, 4096, 262144);
    else if (x % 100 == 0)
        words = wl_range(rng, 64, 4096);
    else
        words = wl_range(rng, 2, 64);
    struct obj *o = wl_malloc(words * 8);
    uint64_t tag = wl_next(rng);
    o->words = words;
    if (words >= 2) {
        o->w[0] = tag;
        o->w[words - 2] = tag;
    }
    for (uint64_t i = 512; i + 2 < words; i += 512)
        o->w[i] = tag ^ i;
    return o;
}

static uint64_t obj_free(struct obj *o)
{
    uint64_t words = o->words, tag = o->w[0];
    if (o->w[words - 2] != tag) {
        fprintf(stderr, "mstress: object of %llu words corrupted\n", (unsigned long long)words);
        exit(1);
    }
    for (uint64_t i = 512; i + 2 < words; i += 512)
        if (o->w[i] != (tag ^ i)) {
            fprintf(stderr, "mstress: object of %llu words corrupted at %llu\n",
                    (unsigned long long)words, (unsigned long long)i);
            exit(1);
        }
    free(o);
    return tag + words;
}

static void live_push(struct live *l, struct obj *o)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        struct obj **g = realloc(l->o, l->cap * sizeof *g);
        if (g == NULL) {
            fprintf(stderr, "mstress: realloc failed\n");
            exit(1);
        }
        l->o = g;
    }
    l->o[l->n++] = o;
}

struct worker {
    pthread_t tid;
    struct live *set;
    uint64_t seed, sum;
};

/*
 * The checksum needs only the set of objects ever allocated to be fixed:
 * every object is freed exactly once, whoever frees it.  So objects come
 * from their own random stream (`make`), one object per "allocate" step,
 * and the steps' choices from another (`pick`) that draws the same three
 * numbers every step, whatever the live set holds.
 */
static void *run(void *arg)
{
    struct worker *w = arg;
    struct live *l = w->set;
    uint64_t pick = w->seed, make = wl_seed(w->seed, 1, 1), sum = 0;

    for (uint64_t i = 0; i < steps; i++) {
        uint64_t what = wl_range(&pick, 0, 99), r1 = wl_next(&pick), r2 = wl_next(&pick);
        if (what < 50) {
            live_push(l, obj_new(&make));
        } else if (l->n == 0) {
            continue;
        } else if (what < 90) {
            size_t k = (size_t)(r1 % l->n);
            sum += obj_free(l->o[k]);
            l->o[k] = l->o[--l->n];
        } else {
            size_t k = (size_t)(r1 % l->n);
            size_t t = (size_t)(r2 % TRANSFER);
            struct obj *got = atomic_exchange(&transfer[t], l->o[k]);
            l->o[k] = l->o[--l->n];
            if (got != NULL) {
                /* objects from others: free half, keep half (by their tag) */
                if (got->w[0] & 1)
                    sum += obj_free(got);
                else
                    live_push(l, got);
            }
        }
        /* keep the live set bounded, as the original's "retain" limit does */
        while (l->n > 20000) {
            r1 = r1 * 0x5851f42d4c957f2dULL + 1;
            size_t k = (size_t)((r1 >> 17) % l->n);
            sum += obj_free(l->o[k]);
            l->o[k] = l->o[--l->n];
        }
    }
    w->sum = sum;
    return NULL;
}

static int cmp_addr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

    return (x > y) - (x < y);
}

/* The distinct values of @v[0..n), sorted in place. */
static size_t distinct(uintptr_t *v, size_t n)
{
    size_t d = 0;

    qsort(v, n, sizeof(*v), cmp_addr);
    for (size_t i = 0; i < n; i++)
        d += i == 0 || v[i] != v[i - 1];
    return d;
}

/* MSTRESS_FOOTPRINT's line for round @r: small live objects, their bytes,
 * the lines and pages their tags sit in. */
static void footprint(uint64_t r)
{
    size_t n = 0, cap = 0;
    uint64_t bytes = 0, objs = 0;
    uintptr_t *lines, *pages;

    for (int t = 0; t < THREADS; t++)
        cap += 2 * sets[t].n;
    lines = malloc((cap ? cap : 1) * sizeof(*lines));
    pages = malloc((cap ? cap : 1) * sizeof(*pages));
    if (lines == NULL || pages == NULL) {
        fprintf(stderr, "mstress: no memory for the footprint\n");
        exit(1);
    }
    for (int t = 0; t < THREADS; t++)
        for (size_t k = 0; k < sets[t].n; k++) {
            struct obj *o = sets[t].o[k];
            uintptr_t head = (uintptr_t)o, tail = (uintptr_t)&o->w[o->words - 2];

            if (o->words > 64)
                continue;
            lines[n] = head >> 6;
            pages[n++] = head >> 12;
            lines[n] = tail >> 6;
            pages[n++] = tail >> 12;
            bytes += o->words * 8;
            objs++;
        }
    size_t dl = distinct(lines, n), dp = distinct(pages, n);
    fprintf(stderr,
            "mstress: round %llu: %llu small live objects, %.1f MiB; their tags in %zu lines "
            "(%.1f MiB), %zu pages (%.1f MiB)\n",
            (unsigned long long)r, (unsigned long long)objs, bytes / 1048576.0, dl,
            dl * 64 / 1048576.0, dp, dp * 4096 / 1048576.0);
    free(lines);
    free(pages);
}

int main(int argc, char **argv)
{
    long scale = wl_scale(argc, argv,
                          "mimalloc-stress style: 4 threads per round, live sets handed on, "
                          "objects traded through a shared table.\n");
    const char *fp = getenv("MSTRESS_FOOTPRINT");
    bool show = fp != NULL && *fp != '\0' && *fp != '0';
    uint64_t sum = 0;

    steps = wl_scaled(100000, scale);
    for (uint64_t r = 0; r < ROUNDS; r++) {
        struct worker w[THREADS];
        for (int t = 0; t < THREADS; t++) {
            w[t].set = &sets[(t + r) % THREADS];
            w[t].seed = wl_seed(0x357e55, r, (uint64_t)t);
            if (pthread_create(&w[t].tid, NULL, run, &w[t]) != 0) {
                fprintf(stderr, "mstress: pthread_create failed\n");
                return 1;
            }
        }
        for (int t = 0; t < THREADS; t++) {
            pthread_join(w[t].tid, NULL);
            sum += w[t].sum;
        }
        if (show)
            footprint(r);
    }
    for (int t = 0; t < THREADS; t++) {
        for (size_t k = 0; k < sets[t].n; k++)
            sum += obj_free(sets[t].o[k]);
        free(sets[t].o);
    }
    for (int i = 0; i < TRANSFER; i++) {
        struct obj *o = atomic_load(&transfer[i]);
        if (o != NULL)
            sum += obj_free(o);
    }
    wl_checksum("mstress", sum);
    return 0;
}
