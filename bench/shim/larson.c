/*
 * larson.c - server churn in the style of Larson and Krishnan's benchmark.
 *
 * Each of THREADS arrays holds SLOTS live objects of 16..1000 bytes.  In
 * every round, THREADS fresh threads start; thread t takes array
 * (t + round) % THREADS, left by another thread of the previous round, and
 * REPLACE times picks a random slot, frees its object (allocated by this
 * thread or by any earlier one, possibly one that has exited) and puts a
 * new object of a random size there.  Threads then exit, and the next
 * round hands every array to another thread: what a server does when
 * worker threads come and go while connections' objects live on.
 *
 * Every object's tag is checked when it is freed; the checksum is the sum
 * of all tags freed, and of those still live at the end (freed by main).
 */
#include <pthread.h>

#include "workload.h"

enum { THREADS = 4, SLOTS = 2000, MIN_SIZE = 16, MAX_SIZE = 1000 };

struct array {
    void *obj[SLOTS];
    size_t size[SLOTS];
};

struct worker {
    pthread_t tid;
    struct array *arr;
    uint64_t seed;
    uint64_t replace;
    uint64_t sum;
};

static void *churn(void *arg)
{
    struct worker *w = arg;
    struct array *a = w->arr;
    uint64_t rng = w->seed, sum = 0;

    for (uint64_t i = 0; i < w->replace; i++) {
        size_t slot = (size_t)wl_range(&rng, 0, SLOTS - 1);
        sum += wl_tag_check(a->obj[slot], a->size[slot], "larson");
        free(a->obj[slot]);
        size_t n = (size_t)wl_range(&rng, MIN_SIZE, MAX_SIZE);
        a->obj[slot] = wl_malloc(n);
        a->size[slot] = n;
        wl_tag_set(a->obj[slot], n, wl_next(&rng));
    }
    w->sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    long scale = wl_scale(
        argc, argv,
        "Larson-style churn: 4 threads per round, objects handed to the next round's threads.\n");
    uint64_t rounds = 40, replace = wl_scaled(160000, scale);
    static struct array arrays[THREADS];
    uint64_t sum = 0, rng = 4141;

    for (int t = 0; t < THREADS; t++) {
        for (int s = 0; s < SLOTS; s++) {
            size_t n = (size_t)wl_range(&rng, MIN_SIZE, MAX_SIZE);
            arrays[t].obj[s] = wl_malloc(n);
            arrays[t].size[s] = n;
            wl_tag_set(arrays[t].obj[s], n, wl_next(&rng));
        }
    }
    for (uint64_t r = 0; r < rounds; r++) {
        struct worker w[THREADS];
        for (int t = 0; t < THREADS; t++) {
            w[t].arr = &arrays[(t + r) % THREADS];
            w[t].seed = wl_seed(0x1a750, r, (uint64_t)t);
            w[t].replace = replace;
            if (pthread_create(&w[t].tid, NULL, churn, &w[t]) != 0) {
                fprintf(stderr, "larson: pthread_create failed\n");
                return 1;
            }
        }
        for (int t = 0; t < THREADS; t++) {
            pthread_join(w[t].tid, NULL);
            sum += w[t].sum;
        }
    }
    for (int t = 0; t < THREADS; t++) {
        for (int s = 0; s < SLOTS; s++) {
            sum += wl_tag_check(arrays[t].obj[s], arrays[t].size[s], "larson");
            free(arrays[t].obj[s]);
        }
    }
    wl_checksum("larson", sum);
    return 0;
}
