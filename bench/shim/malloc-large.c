/*
 * malloc-large.c - churn of large blocks, in the style of mimalloc-bench's
 * malloc-large, sized so that one run takes seconds under every allocator.
 *
 * One thread keeps a ring of LIVE blocks; each of ITERATIONS steps frees the
 * oldest and mallocs a new one of 5..25 MiB (uniform, page-granular sizes
 * not aligned to anything).  The program uses each block as a buffer whose
 * header and tail it fills and whose body it touches sparsely: the first
 * and last 16 KiB are written in full, then one byte every STRIDE (64 KiB).
 * So a fresh block costs ~420 page faults to a lazy allocator, and an
 * allocator that reuses freed extents (without giving them back to the
 * kernel and faulting them in again) saves most of them.  Peak RSS shows
 * whether it keeps more than the ring needs.
 *
 * Every written byte is checked before its block is freed; the checksum
 * sums the tags and sizes of the blocks freed.
 */
#include <unistd.h>

#include "workload.h"

enum { LIVE = 20 };
#define MIN_SIZE ((size_t)5 << 20)
#define MAX_SIZE ((size_t)25 << 20)
#define EDGE ((size_t)16 << 10)
#define STRIDE ((size_t)64 << 10)

struct blk {
    unsigned char *p;
    size_t size;
    uint64_t tag;
};

static unsigned char byte_at(uint64_t tag, size_t off)
{
    return (unsigned char)(tag ^ (off >> 6) ^ (off >> 16));
}

/* visit every offset the program writes: both edges in full, the body sparsely */
#define FOR_EACH_OFFSET(b, off, body)                                   \
    do {                                                                \
        for (size_t off = 0; off < EDGE; off += 64)                     \
            body;                                                       \
        for (size_t off = EDGE; off < (b)->size - EDGE; off += STRIDE)  \
            body;                                                       \
        for (size_t off = (b)->size - EDGE; off < (b)->size; off += 64) \
            body;                                                       \
    } while (0)

static void fill(struct blk *b)
{
    FOR_EACH_OFFSET(b, off, b->p[off] = byte_at(b->tag, off));
}

static uint64_t check(const struct blk *b)
{
    FOR_EACH_OFFSET(b, off, {
        if (b->p[off] != byte_at(b->tag, off)) {
            fprintf(stderr, "malloc-large: block of %zu bytes corrupted at %zu\n", b->size, off);
            exit(1);
        }
    });
    return b->tag + b->size;
}

int main(int argc, char **argv)
{
    long scale = wl_scale(argc, argv,
                          "malloc-large style: a ring of 20 live blocks of 5..25 MiB, oldest "
                          "freed, new one allocated and touched sparsely.\n");
    uint64_t iterations = wl_scaled(600, scale), rng = 0x1a96e, sum = 0;
    struct blk ring[LIVE] = {{0}};

    for (uint64_t i = 0; i < iterations + LIVE; i++) {
        struct blk *b = &ring[i % LIVE];
        if (b->p != NULL) {
            sum += check(b);
            free(b->p);
            b->p = NULL;
        }
        if (i >= iterations)
            continue;
        b->size = (size_t)wl_range(&rng, MIN_SIZE, MAX_SIZE);
        b->tag = wl_next(&rng);
        b->p = wl_malloc(b->size);
        fill(b);
    }
    wl_checksum("malloc-large", sum);
    return 0;
}
