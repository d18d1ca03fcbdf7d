/*
 * glibc-thread.c - random-size malloc/free on a private working set per
 * thread, in the style of glibc's bench-malloc-thread.
 *
 * THREADS threads each keep WORKING_SET slots.  Every iteration picks a
 * random slot, frees the block there (if any) and allocates a new one of a
 * random size from a distribution that favours small blocks the way real
 * programs do (probability falling as 1/size over 4 B..32 KiB, drawn from a
 * table made up front so the draw costs a few cycles).  Nothing crosses
 * threads: this is the per-thread fast path under contention for the
 * allocator's shared state only.
 *
 * The checksum sums the tags of every block freed.
 */
#include <pthread.h>

#include "workload.h"

enum { THREADS = 2, WORKING_SET = 1024, TABLE = 4096, MIN_SIZE = 4, MAX_SIZE = 32768 };

static uint32_t size_table[TABLE];
static uint64_t iterations;

/* sizes with P(size) ~ 1/size: log-uniform, the same thing */
static void make_table(void)
{
    uint64_t rng = 0x9117;
    for (int i = 0; i < TABLE; i++)
        size_table[i] = (uint32_t)wl_logsize(&rng, MIN_SIZE, MAX_SIZE);
}

static void *work(void *arg)
{
    uint64_t rng = wl_seed(0x9117ead, 0, (uint64_t)(uintptr_t)arg), sum = 0;
    void *obj[WORKING_SET] = {0};
    uint32_t size[WORKING_SET] = {0};

    for (uint64_t i = 0; i < iterations; i++) {
        uint64_t x = wl_next(&rng);
        unsigned slot = (unsigned)(x % WORKING_SET);
        uint32_t n = size_table[(x >> 20) % TABLE];
        if (obj[slot] != NULL) {
            sum += size[slot] >= 16 ? wl_tag_check(obj[slot], size[slot], "glibc-thread")
                                    : *(unsigned char *)obj[slot];
            free(obj[slot]);
        }
        obj[slot] = wl_malloc(n);
        size[slot] = n;
        if (n >= 16)
            wl_tag_set(obj[slot], n, x);
        else
            *(unsigned char *)obj[slot] = (unsigned char)x;
    }
    for (int s = 0; s < WORKING_SET; s++) {
        if (obj[s] != NULL) {
            sum += size[s] >= 16 ? wl_tag_check(obj[s], size[s], "glibc-thread")
                                 : *(unsigned char *)obj[s];
            free(obj[s]);
        }
    }
    return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv)
{
    long scale = wl_scale(argc, argv,
                          "glibc bench-malloc-thread style: 2 threads, random sizes 4 B..32 KiB "
                          "(1/size), private working sets.\n");
    pthread_t tid[THREADS];
    uint64_t sum = 0;

    iterations = wl_scaled(6000000, scale);
    make_table();
    for (int t = 0; t < THREADS; t++)
        if (pthread_create(&tid[t], NULL, work, (void *)(uintptr_t)t) != 0) {
            fprintf(stderr, "glibc-thread: pthread_create failed\n");
            return 1;
        }
    for (int t = 0; t < THREADS; t++) {
        void *r;
        pthread_join(tid[t], &r);
        sum += (uint64_t)(uintptr_t)r;
    }
    wl_checksum("glibc-thread", sum);
    return 0;
}
