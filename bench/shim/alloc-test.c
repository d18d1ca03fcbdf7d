/*
 * alloc-test.c - random replacement in a bounded set of live blocks, with
 * a size distribution skewed to small blocks and a long tail, in the style
 * of ithare's alloc-test (its multi-threaded variant).
 *
 * THREADS threads each own SLOTS slots, all filled at start.  Each step
 * picks a random slot, checks and frees its block, and allocates a new one:
 * 8..64 bytes three times in four, 64..1024 bytes in most of the rest,
 * and 1 KiB..64 KiB once in 64 steps.  Besides the tag at both ends, one
 * byte per 512 is written so larger blocks are really used.  The live set
 * is about 2 MiB per thread, bigger than the caches, so the allocator's
 * locality (how close blocks of one size are) shows.
 *
 * The checksum sums the tags of every block freed.
 */
#include <pthread.h>

#include "workload.h"

enum { THREADS = 2, SLOTS = 16384 };

static uint64_t steps;

static size_t pick_size(uint64_t *rng)
{
    uint64_t x = wl_next(rng);
    if ((x & 3) != 0)
        return (size_t)wl_range(rng, 8, 64);
    if (((x >> 2) & 15) != 0)
        return (size_t)wl_logsize(rng, 64, 1024);
    return (size_t)wl_logsize(rng, 1024, 65536);
}

static void put(void **obj, uint32_t *size, unsigned s, size_t n, uint64_t tag)
{
    unsigned char *p = wl_malloc(n);
    if (n >= 16)
        wl_tag_set(p, n, tag);
    else
        p[0] = (unsigned char)tag;
    for (size_t off = 512; off + 8 < n; off += 512)
        p[off] = (unsigned char)(tag + off);
    obj[s] = p;
    size[s] = (uint32_t)n;
}

static uint64_t take(void **obj, const uint32_t *size, unsigned s)
{
    unsigned char *p = obj[s];
    size_t n = size[s];
    uint64_t tag = n >= 16 ? wl_tag_check(p, n, "alloc-test") : p[0];
    for (size_t off = 512; off + 8 < n; off += 512)
        if (p[off] != (unsigned char)(tag + off)) {
            fprintf(stderr, "alloc-test: block of %zu bytes corrupted at %zu\n", n, off);
            exit(1);
        }
    free(p);
    return tag;
}

static void *work(void *arg)
{
    uint64_t rng = wl_seed(0xa110c7e57, 0, (uint64_t)(uintptr_t)arg), sum = 0;
    void **obj = wl_malloc(SLOTS * sizeof *obj);
    uint32_t *size = wl_malloc(SLOTS * sizeof *size);

    for (unsigned s = 0; s < SLOTS; s++)
        put(obj, size, s, pick_size(&rng), wl_next(&rng));
    for (uint64_t i = 0; i < steps; i++) {
        unsigned s = (unsigned)wl_range(&rng, 0, SLOTS - 1);
        sum += take(obj, size, s);
        put(obj, size, s, pick_size(&rng), wl_next(&rng));
    }
    for (unsigned s = 0; s < SLOTS; s++)
        sum += take(obj, size, s);
    free(obj);
    free(size);
    return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv)
{
    long scale = wl_scale(argc, argv,
                          "alloc-test style: 2 threads replace random blocks of a bounded live "
                          "set, sizes skewed small with a 64 KiB tail.\n");
    pthread_t tid[THREADS];
    uint64_t sum = 0;

    steps = wl_scaled(3500000, scale);
    for (int t = 0; t < THREADS; t++)
        if (pthread_create(&tid[t], NULL, work, (void *)(uintptr_t)t) != 0) {
            fprintf(stderr, "alloc-test: pthread_create failed\n");
            return 1;
        }
    for (int t = 0; t < THREADS; t++) {
        void *r;
        pthread_join(tid[t], &r);
        sum += (uint64_t)(uintptr_t)r;
    }
    wl_checksum("alloc-test", sum);
    return 0;
}
