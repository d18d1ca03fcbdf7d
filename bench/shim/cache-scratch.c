/*
 * cache-scratch.c - passive false sharing, in the style of Hoard's
 * cache-scratch test.
 *
 * The main thread allocates small objects (OBJ_SIZE bytes) one after the
 * other and hands one to each of the two workers, choosing two that share
 * a cache line when any of the first CANDIDATES do (the others are freed
 * by main before the workers start; which two are chosen depends on
 * addresses, the work and the checksum do not).  Each worker frees the object it was given, then
 * ITERATIONS times allocates an object of the same size, writes every byte
 * of it WRITES times, and frees it.  An allocator that gives the freed
 * object (or its neighbour in the same line) back to the worker makes the
 * workers write to one cache line from two CPUs: every write misses.  One
 * that serves each thread from its own memory keeps the lines apart.
 *
 * The checksum sums the bytes of each object after its writes.
 */
#include <pthread.h>

#include "workload.h"

enum { THREADS = 2, OBJ_SIZE = 8, WRITES = 2000, CANDIDATES = 64, LINE = 64 };

struct worker {
    pthread_t tid;
    char *given;
    uint64_t iterations;
    uint64_t sum;
};

static void *scratch(void *arg)
{
    struct worker *w = arg;
    uint64_t sum = 0;

    free(w->given);
    for (uint64_t i = 0; i < w->iterations; i++) {
        volatile char *p = wl_malloc(OBJ_SIZE);
        for (int j = 0; j < OBJ_SIZE; j++)
            p[j] = (char)(i + (uint64_t)j);
        for (int r = 0; r < WRITES; r++)
            for (int j = 0; j < OBJ_SIZE; j++)
                p[j]++;
        for (int j = 0; j < OBJ_SIZE; j++)
            sum += (unsigned char)p[j];
        free((void *)p);
    }
    w->sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    long scale = wl_scale(
        argc, argv,
        "Hoard-style cache-scratch: 2 threads write objects the main thread's frees gave back.\n");
    struct worker w[THREADS];
    uint64_t sum = 0;

    char *cand[CANDIDATES];
    int first = 0, second = 1;
    for (int i = 0; i < CANDIDATES; i++)
        cand[i] = wl_malloc(OBJ_SIZE);
    for (int i = 0; i < CANDIDATES && first == 0 && second == 1; i++)
        for (int j = i + 1; j < CANDIDATES; j++)
            if ((uintptr_t)cand[i] / LINE == (uintptr_t)cand[j] / LINE) {
                first = i;
                second = j;
                break;
            }
    for (int i = 0; i < CANDIDATES; i++)
        if (i != first && i != second)
            free(cand[i]);
    w[0].given = cand[first];
    w[1].given = cand[second];
    for (int t = 0; t < THREADS; t++)
        w[t].iterations = wl_scaled(100000, scale);
    for (int t = 0; t < THREADS; t++)
        if (pthread_create(&w[t].tid, NULL, scratch, &w[t]) != 0) {
            fprintf(stderr, "cache-scratch: pthread_create failed\n");
            return 1;
        }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(w[t].tid, NULL);
        sum += w[t].sum;
    }
    wl_checksum("cache-scratch", sum);
    return 0;
}
