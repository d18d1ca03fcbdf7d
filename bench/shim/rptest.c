/*
 * rptest.c - batches allocated and freed in random order, a kept pool, and
 * batches handed to the next thread, in the style of rpmalloc's rptest.
 *
 * THREADS threads run LOOPS loops each.  A loop allocates BATCH blocks
 * (16..256 bytes four times in five, 256 B..8 KiB most of the rest,
 * 8..64 KiB one in a hundred), writes them, then frees two thirds of them
 * in a shuffled order and moves the rest into the thread's pool, a ring of
 * POOL blocks whose oldest entry is freed when a new one comes in.  Every
 * 8th loop the kept third goes instead, as one malloc'd batch, to the next
 * thread's mailbox; a thread frees whatever its mailbox holds at the start
 * of every loop (cross-thread frees, in bulk, as in rptest).
 *
 * The checksum sums the tags and sizes of every block, each freed exactly
 * once (the last ones by main), so it does not depend on the interleaving.
 */
#include <pthread.h>

#include "workload.h"

enum { THREADS = 4, BATCH = 600, POOL = 4096, HANDOFF_EVERY = 8 };

struct parcel {
    struct parcel *next;
    uint32_t count;
    void *obj[BATCH];
    uint32_t size[BATCH];
};

struct mailbox {
    pthread_mutex_t lock;
    struct parcel *head;
} box[THREADS];

static uint64_t loops;

static size_t pick_size(uint64_t *rng)
{
    uint64_t x = wl_range(rng, 0, 99);
    if (x < 80)
        return (size_t)wl_range(rng, 16, 256);
    if (x < 99)
        return (size_t)wl_logsize(rng, 256, 8192);
    return (size_t)wl_logsize(rng, 8192, 65536);
}

static uint64_t drop(void *p, size_t n)
{
    uint64_t t = wl_tag_check(p, n, "rptest");
    free(p);
    return t + n;
}

static uint64_t empty_mailbox(struct mailbox *b)
{
    uint64_t sum = 0;
    pthread_mutex_lock(&b->lock);
    struct parcel *p = b->head;
    b->head = NULL;
    pthread_mutex_unlock(&b->lock);
    while (p != NULL) {
        struct parcel *next = p->next;
        for (uint32_t i = 0; i < p->count; i++)
            sum += drop(p->obj[i], p->size[i]);
        free(p);
        p = next;
    }
    return sum;
}

static void *run(void *arg)
{
    unsigned me = (unsigned)(uintptr_t)arg;
    uint64_t rng = wl_seed(0x79e57, 0, me), sum = 0;
    void *obj[BATCH], *pool[POOL] = {0};
    uint32_t size[BATCH], pool_size[POOL] = {0}, order[BATCH];
    size_t pool_next = 0;

    for (uint64_t l = 0; l < loops; l++) {
        sum += empty_mailbox(&box[me]);
        for (uint32_t i = 0; i < BATCH; i++) {
            size_t n = pick_size(&rng);
            obj[i] = wl_malloc(n);
            size[i] = (uint32_t)n;
            wl_tag_set(obj[i], n, wl_next(&rng));
            if (n > 64)
                memset((char *)obj[i] + 8, (int)i, n < 1024 ? n - 16 : 1008);
            order[i] = i;
        }
        for (uint32_t i = BATCH - 1; i > 0; i--) {
            uint32_t j = (uint32_t)wl_range(&rng, 0, i), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (uint32_t i = 0; i < BATCH / 3 * 2; i++)
            sum += drop(obj[order[i]], size[order[i]]);
        if (l % HANDOFF_EVERY == HANDOFF_EVERY - 1) {
            struct parcel *p = wl_malloc(sizeof *p);
            p->count = 0;
            for (uint32_t i = BATCH / 3 * 2; i < BATCH; i++) {
                p->obj[p->count] = obj[order[i]];
                p->size[p->count++] = size[order[i]];
            }
            struct mailbox *b = &box[(me + 1) % THREADS];
            pthread_mutex_lock(&b->lock);
            p->next = b->head;
            b->head = p;
            pthread_mutex_unlock(&b->lock);
        } else {
            for (uint32_t i = BATCH / 3 * 2; i < BATCH; i++) {
                if (pool[pool_next] != NULL)
                    sum += drop(pool[pool_next], pool_size[pool_next]);
                pool[pool_next] = obj[order[i]];
                pool_size[pool_next] = size[order[i]];
                pool_next = (pool_next + 1) % POOL;
            }
        }
    }
    for (size_t i = 0; i < POOL; i++)
        if (pool[i] != NULL)
            sum += drop(pool[i], pool_size[i]);
    return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv)
{
    long scale = wl_scale(argc, argv,
                          "rptest style: 4 threads allocate batches, free them shuffled, keep a "
                          "pool, hand batches to the next thread.\n");
    pthread_t tid[THREADS];
    uint64_t sum = 0;

    loops = wl_scaled(3000, scale);
    for (int t = 0; t < THREADS; t++)
        pthread_mutex_init(&box[t].lock, NULL);
    for (int t = 0; t < THREADS; t++)
        if (pthread_create(&tid[t], NULL, run, (void *)(uintptr_t)t) != 0) {
            fprintf(stderr, "rptest: pthread_create failed\n");
            return 1;
        }
    for (int t = 0; t < THREADS; t++) {
        void *r;
        pthread_join(tid[t], &r);
        sum += (uint64_t)(uintptr_t)r;
    }
    for (int t = 0; t < THREADS; t++)
        sum += empty_mailbox(&box[t]);
    wl_checksum("rptest", sum);
    return 0;
}
