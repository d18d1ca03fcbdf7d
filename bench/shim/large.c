/*
 * large.c - large blocks: 256 KiB..8 MiB, grown and shrunk with realloc,
 * freed and allocated again, by two threads at once.
 *
 * Each thread keeps SLOTS blocks and OPS times picks one: half of the time
 * it reallocs the block to a new log-uniform size (checking that the
 * kept part survived the move), otherwise it frees it and allocates a new
 * one.  Every page of a block is written when it first becomes part of the
 * block (one byte per page, as a program filling a buffer would touch
 * it), and every written byte is checked before the block is freed.  What
 * this measures is mostly the allocator's traffic with the kernel: mmap,
 * munmap, mremap, page faults, and how much it keeps (peak RSS).
 *
 * The checksum sums the tags and sizes of every block freed.
 */
#include <pthread.h>
#include <unistd.h>

#include "workload.h"

enum { THREADS = 2, SLOTS = 8 };
#define MIN_SIZE ((uint64_t)256 << 10)
#define MAX_SIZE ((uint64_t)8 << 20)

static size_t page;
static uint64_t ops;

struct block {
    unsigned char *p;
    size_t size;
    uint64_t tag;
};

static unsigned char pattern(uint64_t tag, size_t off)
{
    return (unsigned char)(tag + off / page * 0x9d);
}

static void fill(struct block *b, size_t from)
{
    for (size_t off = (from + page - 1) / page * page; off < b->size; off += page)
        b->p[off] = pattern(b->tag, off);
}

static uint64_t check(const struct block *b, size_t upto)
{
    for (size_t off = 0; off < upto; off += page)
        if (b->p[off] != pattern(b->tag, off)) {
            fprintf(stderr, "large: block of %zu bytes corrupted at offset %zu\n", b->size, off);
            exit(1);
        }
    return b->tag + b->size;
}

static void *work(void *arg)
{
    uint64_t who = (uint64_t)(uintptr_t)arg, rng = wl_seed(0x1a26e, 0, who), sum = 0;
    struct block blk[SLOTS];

    for (int s = 0; s < SLOTS; s++) {
        blk[s].size = (size_t)wl_logsize(&rng, MIN_SIZE, MAX_SIZE);
        blk[s].p = wl_malloc(blk[s].size);
        blk[s].tag = wl_next(&rng);
        fill(&blk[s], 0);
    }
    for (uint64_t i = 0; i < ops; i++) {
        struct block *b = &blk[wl_range(&rng, 0, SLOTS - 1)];
        size_t n = (size_t)wl_logsize(&rng, MIN_SIZE, MAX_SIZE);
        if (wl_next(&rng) & 1) {
            size_t old = b->size;
            unsigned char *p = realloc(b->p, n);
            if (p == NULL) {
                fprintf(stderr, "realloc(%zu) returned NULL\n", n);
                exit(1);
            }
            b->p = p;
            b->size = n;
            check(b, old < n ? old : n);
            fill(b, old);
        } else {
            sum += check(b, b->size);
            free(b->p);
            b->p = wl_malloc(n);
            b->size = n;
            b->tag = wl_next(&rng);
            fill(b, 0);
        }
    }
    for (int s = 0; s < SLOTS; s++) {
        sum += check(&blk[s], blk[s].size);
        free(blk[s].p);
    }
    return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv)
{
    long scale = wl_scale(argc, argv,
                          "Large blocks: 2 threads realloc/free/malloc 256 KiB..8 MiB blocks.\n");
    pthread_t tid[THREADS];
    uint64_t sum = 0;

    page = (size_t)sysconf(_SC_PAGESIZE);
    ops = wl_scaled(400, scale);
    for (int t = 0; t < THREADS; t++)
        if (pthread_create(&tid[t], NULL, work, (void *)(uintptr_t)t) != 0) {
            fprintf(stderr, "large: pthread_create failed\n");
            return 1;
        }
    for (int t = 0; t < THREADS; t++) {
        void *r;
        pthread_join(tid[t], &r);
        sum += (uint64_t)(uintptr_t)r;
    }
    wl_checksum("large", sum);
    return 0;
}
