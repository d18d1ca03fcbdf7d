/*
 * workload.h - what the shim workloads share: a seeded RNG, the tag that
 * every object carries, the optional --scale argument and the last line.
 *
 * The workloads under bench/shim/ are whole programs that call plain
 * malloc/free, so they can run under any allocator preloaded with
 * LD_PRELOAD.  Each does a fixed amount of work and ends with one line
 * "checksum 0x%016llx" that does not depend on the allocator, on thread
 * scheduling or on addresses: every object carries a tag derived from the
 * workload's own seeded random numbers, the tag is checked when the object
 * is freed (a mismatch means the allocator handed out overlapping or
 * corrupted memory: the program says so and exits 1), and the checksum is
 * a sum of those tags, so the order in which threads finish does not
 * matter.  Exit status: 0 done, 1 an allocation failed or an object was
 * corrupted, 2 bad usage.
 *
 * `--scale PERCENT` multiplies the amount of work (default 100); the
 * checksum depends on it, so compare only runs with the same scale.
 */
#ifndef PMN_BENCH_SHIM_WORKLOAD_H
#define PMN_BENCH_SHIM_WORKLOAD_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: small, fast, and good enough to pick sizes and slots. */
static inline uint64_t wl_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static inline uint64_t wl_range(uint64_t *state, uint64_t lo, uint64_t hi)
{
    return lo + wl_next(state) % (hi - lo + 1);
}

/* Log-uniform in [lo, hi]: a uniform exponent, then uniform within it. */
static inline uint64_t wl_logsize(uint64_t *state, uint64_t lo, uint64_t hi)
{
    int lb = 63 - __builtin_clzll(lo), hb = 63 - __builtin_clzll(hi);
    int b = (int)wl_range(state, (uint64_t)lb, (uint64_t)hb);
    uint64_t from = (uint64_t)1 << b, to = (from << 1) - 1;
    if (from < lo)
        from = lo;
    if (to > hi)
        to = hi;
    return wl_range(state, from, to);
}

/* A seed for worker `who` of round `round`: independent streams. */
static inline uint64_t wl_seed(uint64_t base, uint64_t round, uint64_t who)
{
    uint64_t s = base ^ (round * 0x632be59bd9b4e019ULL) ^ (who << 32);
    return wl_next(&s);
}

static inline void *wl_malloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL) {
        fprintf(stderr, "malloc(%zu) returned NULL\n", n);
        exit(1);
    }
    return p;
}

/*
 * Objects of at least 16 bytes carry their tag in the first and the last 8
 * bytes; wl_tag_check returns the tag after checking that both agree.
 */
static inline void wl_tag_set(void *p, size_t n, uint64_t tag)
{
    memcpy(p, &tag, 8);
    memcpy((char *)p + n - 8, &tag, 8);
}

static inline uint64_t wl_tag_check(const void *p, size_t n, const char *where)
{
    uint64_t head, tail;
    memcpy(&head, p, 8);
    memcpy(&tail, (const char *)p + n - 8, 8);
    if (head != tail) {
        fprintf(stderr,
                "%s: object of %zu bytes corrupted "
                "(head 0x%016llx, tail 0x%016llx)\n",
                where, n, (unsigned long long)head, (unsigned long long)tail);
        exit(1);
    }
    return head;
}

/* --scale PERCENT (or none): the multiplier of the default work, >= 1. */
static inline long wl_scale(int argc, char **argv, const char *usage)
{
    long scale = 100;
    for (int i = 1; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--scale") == 0 && i + 1 < argc) {
            scale = strtol(argv[++i], &end, 10);
            if (*end != '\0' || scale < 1 || scale > 100000) {
                fprintf(stderr, "%s: --scale wants a percentage 1..100000\n", argv[0]);
                exit(2);
            }
        } else {
            int help = strcmp(argv[i], "--help") == 0;
            fprintf(help ? stdout : stderr, "usage: %s [--scale PERCENT]\n%s", argv[0], usage);
            exit(help ? 0 : 2);
        }
    }
    return scale;
}

/* n scaled by the percentage, at least 1. */
static inline uint64_t wl_scaled(uint64_t n, long scale)
{
    uint64_t r = n * (uint64_t)scale / 100;
    return r ? r : 1;
}

static inline void wl_checksum(const char *name, uint64_t sum)
{
    printf("%s checksum 0x%016llx\n", name, (unsigned long long)sum);
}

#endif
