/*
 * stress.c - allocator threads without a test framework, so it also runs
 * under ThreadSanitizer (Criterion's worker arena does not start there).
 *
 * N threads allocate from one arena and one slab, hand every other object
 * to the next thread through a mutex-protected ring, and free what they
 * receive: owner frees, cross-thread frees, page reuse and theap adoption
 * (threads come and go) all happen at once.  At the end the counters must
 * say nothing is live and the backing must hold nothing after destroy.
 * Exit 0 pass, 1 fail; the last line is "N passed, N failed".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmnode.h"

#define RING 4096
#define OPS 20000

struct ring {
    pthread_mutex_t lock;
    void *slot[RING];
    size_t head, tail;
};

static struct pmn_arena *arena;
static struct pmn_slab *slab;
static struct ring rings[8];
static int nthreads;
static int failures;
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

static void fail(const char *what)
{
    pthread_mutex_lock(&fail_lock);
    failures++;
    fprintf(stderr, "FAIL: %s\n", what);
    pthread_mutex_unlock(&fail_lock);
}

static int put(struct ring *r, void *p)
{
    int ok;

    pthread_mutex_lock(&r->lock);
    ok = r->head - r->tail < RING;
    if (ok)
        r->slot[r->head++ % RING] = p;
    pthread_mutex_unlock(&r->lock);
    return ok;
}

static void *take(struct ring *r)
{
    void *p = NULL;

    pthread_mutex_lock(&r->lock);
    if (r->tail != r->head)
        p = r->slot[r->tail++ % RING];
    pthread_mutex_unlock(&r->lock);
    return p;
}

static void *worker(void *arg)
{
    int id = (int)(long)arg;
    struct ring *mine = &rings[id], *next = &rings[(id + 1) % nthreads];
    unsigned seed = (unsigned)id * 7919u + 1;

    for (int i = 0; i < OPS; i++) {
        size_t size = 1 + (rand_r(&seed) % 3000);
        unsigned char *p = i % 4 == 3 ? pmn_slab_alloc(slab) : pmn_arena_malloc(arena, size);
        void *q;

        if (p == NULL) {
            fail("allocation returned NULL");
            break;
        }
        p[0] = (unsigned char)id;
        if (i % 2 == 0 || !put(next, p)) {
            if (pmn_free(p) != 0)
                fail("owner free");
        }
        while ((q = take(mine)) != NULL)
            if (pmn_free(q) != 0)
                fail("cross-thread free");
    }
    return NULL;
}

static void run_round(int n)
{
    pthread_t t[8];

    nthreads = n;
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, worker, (void *)(long)i);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    /* Whatever is still in flight is freed by this (another) thread. */
    for (int i = 0; i < n; i++) {
        void *q;
        while ((q = take(&rings[i])) != NULL)
            if (pmn_free(q) != 0)
                fail("drain free");
    }
}

int main(void)
{
    struct pmn_ctx *ctx;
    struct pmn_backing_params *p;
    struct pmn_backing *b;
    struct pmn_alloc_stats st = {.struct_size = sizeof(st)}, sst = {.struct_size = sizeof(sst)};
    struct pmn_backing_stats bs = {.struct_size = sizeof(bs)};
    int passed = 0, err;

    for (int i = 0; i < 8; i++)
        pthread_mutex_init(&rings[i].lock, NULL);
    if ((err = pmn_ctx_new(&ctx)) != 0 || pmn_backing_params_new(&p) != 0 ||
        pmn_backing_params_set_node(p, pmn_node_id(pmn_node_first(ctx))) != 0 ||
        (err = pmn_backing_new(ctx, p, &b)) != 0 || (err = pmn_arena_new(b, NULL, &arena)) != 0 ||
        (err = pmn_slab_new(b, 2048, 0, 0, &slab)) != 0) {
        printf("setup failed: %s\n0 passed, 1 failed\n", pmn_strerror(err));
        return 1;
    }
    for (int n = 2; n <= 8; n *= 2) {
        int before = failures;
        run_round(n);
        pmn_arena_stats(arena, &st);
        pmn_slab_stats(slab, &sst);
        if (st.objects != 0 || st.allocated != 0 || sst.objects != 0)
            fail("objects live after every free");
        if (st.remote_frees == 0)
            fail("no cross-thread free was counted");
        printf("%d threads: arena allocs %llu remote frees %llu, slab allocs %llu: %s\n", n,
               (unsigned long long)st.allocs, (unsigned long long)st.remote_frees,
               (unsigned long long)sst.allocs, failures == before ? "ok" : "FAIL");
        passed += failures == before;
    }
    pmn_slab_destroy(slab);
    pmn_arena_destroy(arena);
    pmn_backing_stats(b, &bs);
    if (bs.mapped_bytes != 0)
        fail("backing still maps memory after destroy");
    else
        passed++;
    pmn_backing_free(b);
    pmn_backing_params_free(p);
    pmn_ctx_unref(ctx);
    printf("%d passed, %d failed\n", passed, failures);
    return failures ? 1 : 0;
}
