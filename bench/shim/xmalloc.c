/*
 * xmalloc.c - producer/consumer with cross-thread frees, in the style of
 * xmalloc-test.
 *
 * PRODUCERS threads allocate objects of 16..2048 bytes (log-uniform), tag
 * them, and pass them in batches of BATCH pointers (the batch array is
 * itself malloc'd) through one bounded queue to CONSUMERS threads, which
 * check every tag and free the objects and the batch: almost every free
 * happens on a thread that did not allocate the memory, and the allocator
 * must get it back to its owner (or not) while the owner keeps allocating.
 *
 * The checksum is the sum of every tag and size consumed; it does not
 * depend on which consumer took which batch.
 */
#include <pthread.h>
#include <stdbool.h>

#include "workload.h"

enum { PRODUCERS = 2, CONSUMERS = 2, BATCH = 128, DEPTH = 32 };

struct batch {
    uint32_t count;
    uint32_t size[BATCH];
    void *obj[BATCH];
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    struct batch *ring[DEPTH];
    unsigned head, tail, producing;
} q = {PTHREAD_MUTEX_INITIALIZER,
       PTHREAD_COND_INITIALIZER,
       PTHREAD_COND_INITIALIZER,
       {NULL},
       0,
       0,
       PRODUCERS};

static uint64_t per_producer;

static void push(struct batch *b)
{
    pthread_mutex_lock(&q.lock);
    while (q.tail - q.head == DEPTH)
        pthread_cond_wait(&q.not_full, &q.lock);
    q.ring[q.tail++ % DEPTH] = b;
    pthread_cond_signal(&q.not_empty);
    pthread_mutex_unlock(&q.lock);
}

/* NULL when every producer is done and the queue is empty. */
static struct batch *pop(void)
{
    struct batch *b = NULL;
    pthread_mutex_lock(&q.lock);
    while (q.tail == q.head && q.producing > 0)
        pthread_cond_wait(&q.not_empty, &q.lock);
    if (q.tail != q.head) {
        b = q.ring[q.head++ % DEPTH];
        pthread_cond_signal(&q.not_full);
    }
    pthread_mutex_unlock(&q.lock);
    return b;
}

static void *produce(void *arg)
{
    uint64_t rng = wl_seed(0x3a110c, 0, (uint64_t)(uintptr_t)arg);
    struct batch *b = NULL;

    for (uint64_t i = 0; i < per_producer; i++) {
        if (b == NULL) {
            b = wl_malloc(sizeof *b);
            b->count = 0;
        }
        size_t n = (size_t)wl_logsize(&rng, 16, 2048);
        void *p = wl_malloc(n);
        wl_tag_set(p, n, wl_next(&rng));
        b->size[b->count] = (uint32_t)n;
        b->obj[b->count++] = p;
        if (b->count == BATCH) {
            push(b);
            b = NULL;
        }
    }
    if (b != NULL)
        push(b);
    pthread_mutex_lock(&q.lock);
    q.producing--;
    pthread_cond_broadcast(&q.not_empty);
    pthread_mutex_unlock(&q.lock);
    return NULL;
}

static void *consume(void *arg)
{
    uint64_t *sum = arg;
    struct batch *b;

    while ((b = pop()) != NULL) {
        for (uint32_t i = 0; i < b->count; i++) {
            *sum += wl_tag_check(b->obj[i], b->size[i], "xmalloc") + b->size[i];
            free(b->obj[i]);
        }
        free(b);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    long scale = wl_scale(
        argc, argv, "xmalloc-test-style producer/consumer: 2 threads allocate, 2 others free.\n");
    pthread_t prod[PRODUCERS], cons[CONSUMERS];
    uint64_t sums[CONSUMERS] = {0}, sum = 0;

    per_producer = wl_scaled(3000000, scale);
    for (int i = 0; i < CONSUMERS; i++)
        if (pthread_create(&cons[i], NULL, consume, &sums[i]) != 0)
            goto fail;
    for (int i = 0; i < PRODUCERS; i++)
        if (pthread_create(&prod[i], NULL, produce, (void *)(uintptr_t)i) != 0)
            goto fail;
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(prod[i], NULL);
    for (int i = 0; i < CONSUMERS; i++) {
        pthread_join(cons[i], NULL);
        sum += sums[i];
    }
    wl_checksum("xmalloc", sum);
    return 0;
fail:
    fprintf(stderr, "xmalloc: pthread_create failed\n");
    return 1;
}
