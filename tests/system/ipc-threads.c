/*
 * ipc-threads.c - IPC handles from 8 threads at once, without a test
 * framework so ThreadSanitizer builds run it (suites system and threads).
 *
 * Each thread allocates from one shared arena on a memfd backing of node 0,
 * exports, opens through one shared cache (every other open with fd -1:
 * the cached fd), checks the bytes, closes and frees, while the others do
 * the same; another thread's object freed under an open address must read
 * as stale.  Exit 0 pass, 1 fail.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PMN_HARNESS_PROGRAM
#include "harness.h"
#include "pmnode.h"

#define THREADS 8
#define ROUNDS 300

struct tctx {
    struct pmn_arena *a;
    struct pmn_ipc_cache *c;
    int id, fails;
};

static void *worker(void *arg)
{
    struct tctx *t = arg;

    for (int i = 0; i < ROUNDS; i++) {
        struct pmn_ipc_handle h;
        size_t len = 64 + (size_t)((t->id * 131 + i * 17) % 4000);
        unsigned char *o = pmn_arena_malloc(t->a, len), *x;
        int fd;
        void *v;

        if (o == NULL || pmn_ipc_get(o, &h, &fd) != 0) {
            t->fails++;
            continue;
        }
        memset(o, t->id + 1, len);
        if (pmn_ipc_open(t->c, &h, i % 2 ? -1 : fd, 0, &v) != 0) {
            t->fails++;
            pmn_free(o);
            continue;
        }
        x = v;
        if (x[0] != t->id + 1 || x[len - 1] != t->id + 1 || pmn_ipc_valid(t->c, v) != 0)
            t->fails++;
        if (pmn_free(o) != 0)
            t->fails++;
        if (pmn_ipc_valid(t->c, v) != PMN_E_STALE_HANDLE)
            t->fails++;
        if (pmn_ipc_close(t->c, v) != 0)
            t->fails++;
    }
    return NULL;
}

int main(void)
{
    struct pmn_backing_params *p;
    struct pmn_backing *b;
    struct pmn_arena *a;
    struct pmn_ipc_cache *c;
    struct pmn_ipc_cache_stats st = {.struct_size = sizeof(st)};
    struct pmn_ipc_handle h;
    struct pmn_ctx *ctx;
    struct tctx t[THREADS];
    pthread_t th[THREADS];
    void *warm, *x;
    int err, fd, fails = 0;

    if ((err = pmn_ctx_new(&ctx)) || (err = pmn_backing_params_new(&p)) ||
        (err = pmn_backing_params_set_type(p, PMN_BACKING_MEMFD)) ||
        (err = pmn_backing_params_set_node(p, 0)) || (err = pmn_backing_new(ctx, p, &b)) ||
        (err = pmn_arena_new(b, NULL, &a)) || (err = pmn_ipc_cache_new(&c)))
        FAIL("setup: %s", pmn_strerror(err));
    pmn_backing_params_free(p);
    /* The cache learns the backing's fd once; workers also open with -1. */
    warm = pmn_arena_malloc(a, 16);
    if (warm == NULL || (err = pmn_ipc_get(warm, &h, &fd)) ||
        (err = pmn_ipc_open(c, &h, fd, 0, &x)))
        FAIL("warm open: %s", pmn_strerror(err));
    for (int i = 0; i < THREADS; i++) {
        t[i] = (struct tctx){.a = a, .c = c, .id = i};
        if (pthread_create(&th[i], NULL, worker, &t[i]))
            FAIL("pthread_create");
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        fails += t[i].fails;
    }
    if (pmn_ipc_cache_stats(c, &st) || st.opens != THREADS * ROUNDS + 1 || st.failures)
        FAIL("cache stats: %llu opens, %llu failures", (unsigned long long)st.opens,
             (unsigned long long)st.failures);
    if (fails)
        FAIL("%d failed steps", fails);
    pmn_ipc_close(c, x);
    pmn_ipc_cache_free(c);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
    printf("ok: %d threads x %d export/open/check/free/stale/close, one cache\n", THREADS, ROUNDS);
    return 0;
}
