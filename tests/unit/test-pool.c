/*
 * test-pool.c - capped slabs as shared pools (issue 14), suites 'unit'
 * and 'threads'.
 *
 * A capped slab's capacity belongs to the slab, not to the thread that
 * first used it: whatever one thread frees, any other thread can
 * allocate, and a thread hitting the cap looks for free capacity before
 * failing.  Each test is one reproduction of the issue.
 */
#include <sys/resource.h>

#include "harness.h"

#define OBJ (2 * KiB)
#define NOBJ 1024

struct pool_env {
    struct pmn_ctx *ctx;
    struct pmn_backing *b;
    struct pmn_slab *s;
};

static struct pool_env pool_open(size_t obj, uint64_t cap)
{
    struct pool_env e = {0};
    int err;

    e.ctx = local_ctx();
    e.b = backing_on0(e.ctx, PMN_BACKING_ANON);
    err = pmn_slab_new(e.b, obj, 0, cap, &e.s);
    cr_assert_eq(err, 0, "pmn_slab_new: %s", pmn_strerror(err));
    return e;
}

static void pool_close(struct pool_env *e)
{
    pmn_slab_destroy(e->s);
    pmn_backing_free(e->b);
    pmn_ctx_unref(e->ctx);
}

/* Allocate until NULL (at most max), return how many. */
static size_t fill(struct pmn_slab *s, void **objs, size_t max)
{
    size_t n = 0;

    while (n < max && (objs[n] = pmn_slab_alloc(s)) != NULL) {
        memset(objs[n], (int)(n & 0xff), OBJ);
        n++;
    }
    return n;
}

static void drain(struct pmn_slab *s, void **objs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(pmn_slab_free(s, objs[i]), 0, "free %zu", i);
}

struct fill_arg {
    struct pmn_slab *s;
    size_t got;
    bool free_after;
};

static void *fill_thread(void *p)
{
    struct fill_arg *a = p;
    void **objs = calloc(2 * NOBJ, sizeof(void *));

    a->got = fill(a->s, objs, 2 * NOBJ);
    if (a->free_after)
        drain(a->s, objs, a->got);
    free(objs);
    return NULL;
}

/* (a) Pre-fault on the main thread, then a receive thread takes the whole
 * capacity (before: 0 objects, ENOMEM forever, stats 0 live). */
Test(pool, prefault_then_other_thread)
{
    struct pool_env e = pool_open(OBJ, (uint64_t)NOBJ * OBJ);
    void **objs = calloc(2 * NOBJ, sizeof(void *));
    struct fill_arg a = {.s = e.s};
    pthread_t t;
    size_t n = fill(e.s, objs, 2 * NOBJ);

    cr_assert_eq(n, NOBJ, "main thread got %zu of %d objects under the cap", n, NOBJ);
    drain(e.s, objs, n);
    cr_assert_eq(slab_stats(e.s).objects, 0);
    cr_assert_eq(pthread_create(&t, NULL, fill_thread, &a), 0);
    pthread_join(t, NULL);
    cr_assert_eq(a.got, NOBJ, "a second thread got %zu of %d objects after the first freed all",
                 a.got, NOBJ);
    free(objs);
    pool_close(&e);
}

/* (b) Threads in turn (each still alive while the next runs) fill to the
 * cap and free everything: each gets the whole cap (before: 960). */
struct turn_arg {
    struct pmn_slab *s;
    size_t got;
    pthread_mutex_t *mu;
    pthread_cond_t *cv;
    int *turn, me, *done;
};

static void *turn_thread(void *p)
{
    struct turn_arg *a = p;
    void **objs = calloc(2 * NOBJ, sizeof(void *));

    pthread_mutex_lock(a->mu);
    while (*a->turn != a->me)
        pthread_cond_wait(a->cv, a->mu);
    pthread_mutex_unlock(a->mu);
    a->got = fill(a->s, objs, 2 * NOBJ);
    drain(a->s, objs, a->got);
    pthread_mutex_lock(a->mu);
    (*a->turn)++;
    pthread_cond_broadcast(a->cv);
    /* stay alive until every thread had its turn */
    while (!*a->done)
        pthread_cond_wait(a->cv, a->mu);
    pthread_mutex_unlock(a->mu);
    free(objs);
    return NULL;
}

Test(pool, threads_in_turn)
{
    enum { T = 5 };
    struct pool_env e = pool_open(OBJ, (uint64_t)NOBJ * OBJ);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    int turn = 0, done = 0;
    struct turn_arg a[T];
    pthread_t t[T];

    for (int i = 0; i < T; i++) {
        a[i] = (struct turn_arg){e.s, 0, &mu, &cv, &turn, i, &done};
        cr_assert_eq(pthread_create(&t[i], NULL, turn_thread, &a[i]), 0);
    }
    pthread_mutex_lock(&mu);
    while (turn < T)
        pthread_cond_wait(&cv, &mu);
    done = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < T; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < T; i++)
        cr_assert_eq(a[i].got, NOBJ, "thread %d (in turn) got %zu of %d objects", i, a[i].got,
                     NOBJ);
    pool_close(&e);
}

/* (c) Producer allocates, consumer frees (every free remote), at the cap
 * for a long run: an ENOMEM is only ever transient, never while the
 * consumer has freed everything. */
#define RING 4096
struct ring {
    _Atomic size_t head, tail; /* producer writes head, consumer tail */
    void *slot[RING];
    _Atomic bool stop;
    struct pmn_slab *s;
    _Atomic size_t freed;
};

static void *consumer(void *p)
{
    struct ring *r = p;

    for (;;) {
        size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
        if (t == atomic_load_explicit(&r->head, memory_order_acquire)) {
            if (atomic_load(&r->stop))
                break;
            continue;
        }
        if (pmn_slab_free(r->s, r->slot[t % RING]) != 0)
            abort();
        atomic_store_explicit(&r->tail, t + 1, memory_order_release);
        atomic_fetch_add_explicit(&r->freed, 1, memory_order_relaxed);
    }
    return NULL;
}

Test(pool, producer_consumer_at_cap)
{
    struct pool_env e = pool_open(OBJ, (uint64_t)NOBJ * OBJ);
    struct ring *r = calloc(1, sizeof(*r));
    size_t total = RUNNING_ON_VALGRIND ? 20000 : 400000, fails = 0, stuck = 0;
    pthread_t t;

    r->s = e.s;
    cr_assert_eq(pthread_create(&t, NULL, consumer, r), 0);
    for (size_t i = 0; i < total; i++) {
        size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
        void *o;
        while (h - atomic_load_explicit(&r->tail, memory_order_acquire) >= RING)
            ;
        while ((o = pmn_slab_alloc(e.s)) == NULL) {
            fails++;
            /* Only the objects in the ring are live: once the consumer
             * drained it, an ENOMEM is capacity lost. */
            if (atomic_load_explicit(&r->tail, memory_order_acquire) == h) {
                if (++stuck > 1000000) {
                    atomic_store(&r->stop, true);
                    pthread_join(t, NULL);
                    cr_assert_fail("ENOMEM with 0 objects live after %zu objects", i);
                }
            }
        }
        stuck = 0;
        r->slot[h % RING] = o;
        atomic_store_explicit(&r->head, h + 1, memory_order_release);
    }
    atomic_store(&r->stop, true);
    pthread_join(t, NULL);
    cr_assert_eq(slab_stats(e.s).objects, 0);
    cr_log_info("producer/consumer: %zu objects, %zu transient ENOMEM", total, fails);
    free(r);
    pool_close(&e);
}
