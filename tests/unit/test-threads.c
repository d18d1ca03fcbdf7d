/*
 * test-threads.c - arenas and slabs shared by threads (suite 'unit').
 *
 * 2, 4 and 8 threads each allocate objects and hand them to the next
 * thread over a mutex-protected queue; the receiver checks the pattern,
 * sometimes reallocs, and frees: every free is a cross-thread free.  Each
 * thread also leaves objects behind that the main thread frees after the
 * thread has exited (its pages are orphaned by then).  At the end the
 * stats must show nothing live and remote frees counted.
 *
 * The test code itself is race-free for ThreadSanitizer: workers touch
 * only their own state, the queues (under their mutex) and the objects
 * handed over through them; criterion assertions run only in the main
 * thread, after join.
 */
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "harness.h"

struct item {
    void *p;
    size_t size;
    uint64_t id;
};

/* A bounded FIFO; capacity is the number of items that will ever pass. */
struct queue {
    pthread_mutex_t m;
    pthread_cond_t c;
    struct item *v;
    size_t head, tail, cap;
};

static void queue_init(struct queue *q, size_t cap)
{
    cr_assert_eq(pthread_mutex_init(&q->m, NULL), 0);
    cr_assert_eq(pthread_cond_init(&q->c, NULL), 0);
    q->v = calloc(cap, sizeof(*q->v));
    cr_assert_not_null(q->v);
    q->head = q->tail = 0;
    q->cap = cap;
}

static void queue_fini(struct queue *q)
{
    pthread_mutex_destroy(&q->m);
    pthread_cond_destroy(&q->c);
    free(q->v);
}

static void queue_push(struct queue *q, struct item it)
{
    pthread_mutex_lock(&q->m);
    q->v[q->tail++] = it; /* tail < cap: every producer pushes its count */
    pthread_cond_signal(&q->c);
    pthread_mutex_unlock(&q->m);
}

/* Pop one item; wait for it when @block.  False when none (non-blocking). */
static bool queue_pop(struct queue *q, struct item *out, bool block)
{
    bool got = false;

    pthread_mutex_lock(&q->m);
    while (block && q->head == q->tail)
        pthread_cond_wait(&q->c, &q->m);
    if (q->head < q->tail) {
        *out = q->v[q->head++];
        got = true;
    }
    pthread_mutex_unlock(&q->m);
    return got;
}

#define KEPT 64 /* objects each worker leaves for the main thread */

struct worker {
    pthread_t tid;
    unsigned idx;
    size_t nobj;
    struct pmn_arena *a;
    struct queue *in, *out;
    pthread_barrier_t *bar;
    struct item kept[KEPT];
    char err[256]; /* first failure, reported by the main thread */
};

static size_t worker_size(uint64_t *s)
{
    uint64_t x;

    *s += 0x9e3779b97f4a7c15ull;
    x = mix64(*s);
    switch (x % 16) {
    case 0: return 4096 + (x >> 8) % (60 * KiB);
    case 1: return (x >> 8) % 64 == 0 ? 300 * KiB : 2048;
    default: return 8 + (x >> 8) % 1000;
    }
}

/* Check and free (or realloc, then free) one received object. */
static void consume(struct worker *w, const struct item *it, size_t n)
{
    void *p = it->p;

    if (p == NULL)
        return; /* the producer failed and said so */
    size_t bad = pat_check(p, it->size, it->id);
    if (bad != SIZE_MAX && !w->err[0])
        snprintf(w->err, sizeof(w->err),
                 "thread %u: object %#llx (%zu bytes) from another thread: byte %zu overwritten",
                 w->idx, ull(it->id), it->size, bad);
    if (n % 8 == 0) {
        void *q = pmn_realloc(p, it->size * 2 + 1);
        if (q == NULL) {
            if (!w->err[0])
                snprintf(w->err, sizeof(w->err), "thread %u: pmn_realloc of a remote object: %s",
                         w->idx, strerror(errno));
        } else {
            p = q;
            if (pat_check(p, it->size, it->id) != SIZE_MAX && !w->err[0])
                snprintf(w->err, sizeof(w->err),
                         "thread %u: pmn_realloc of a remote object lost its content", w->idx);
            if (pmn_arena_of(p) != w->a && !w->err[0])
                snprintf(w->err, sizeof(w->err),
                         "thread %u: pmn_realloc moved a remote object to another arena", w->idx);
        }
    }
    int err = pmn_free(p);
    if (err != 0 && !w->err[0])
        snprintf(w->err, sizeof(w->err), "thread %u: pmn_free of a remote object: %s", w->idx,
                 pmn_err_name(err));
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    uint64_t seed = 0x1234 + w->idx;
    size_t received = 0;
    struct item it;

    for (size_t k = 0; k < w->nobj; k++) {
        size_t size = worker_size(&seed);
        void *p = k % 5 == 0   ? pmn_arena_calloc(w->a, 1, size)
                  : k % 7 == 0 ? pmn_arena_aligned_alloc(w->a, 256, size)
                               : pmn_arena_malloc(w->a, size);
        uint64_t id = ((uint64_t)w->idx << 40) | k;

        if (p == NULL && !w->err[0])
            snprintf(w->err, sizeof(w->err), "thread %u: allocation %zu (%zu bytes): %s", w->idx,
                     k, size, strerror(errno));
        if (p)
            pat_fill(p, size, id);
        queue_push(w->out, (struct item){p, size, id});
        /* Free what arrived meanwhile, without waiting. */
        while (queue_pop(w->in, &it, false))
            consume(w, &it, received++);
    }
    while (received < w->nobj) {
        queue_pop(w->in, &it, true);
        consume(w, &it, received++);
    }
    for (size_t k = 0; k < KEPT; k++) {
        size_t size = 16 + k * 100;
        w->kept[k] = (struct item){pmn_arena_malloc(w->a, size), size, ~(uint64_t)k - w->idx};
        if (w->kept[k].p)
            pat_fill(w->kept[k].p, size, w->kept[k].id);
        else if (!w->err[0])
            snprintf(w->err, sizeof(w->err), "thread %u: kept allocation %zu failed", w->idx, k);
    }
    /* Nobody exits before everyone has freed: remote frees meet live owners. */
    pthread_barrier_wait(w->bar);
    return NULL;
}

static void cross_thread(unsigned nthreads)
{
    struct env e = env_open();
    struct worker *w = calloc(nthreads, sizeof(*w));
    struct queue *q = calloc(nthreads, sizeof(*q));
    pthread_barrier_t bar;
    size_t nobj = scaled(40000, 10) / nthreads;
    struct pmn_alloc_stats st = {.struct_size = sizeof(st)};

    cr_assert_not_null(w);
    cr_assert_not_null(q);
    cr_assert_eq(pthread_barrier_init(&bar, NULL, nthreads), 0);
    for (unsigned i = 0; i < nthreads; i++)
        queue_init(&q[i], nobj);
    for (unsigned i = 0; i < nthreads; i++) {
        w[i] = (struct worker){.idx = i,
                               .nobj = nobj,
                               .a = e.a,
                               .bar = &bar,
                               .in = &q[i],
                               .out = &q[(i + 1) % nthreads]};
    }
    for (unsigned i = 0; i < nthreads; i++)
        cr_assert_eq(pthread_create(&w[i].tid, NULL, worker_main, &w[i]), 0);
    for (unsigned i = 0; i < nthreads; i++)
        cr_assert_eq(pthread_join(w[i].tid, NULL), 0);
    for (unsigned i = 0; i < nthreads; i++)
        cr_assert_eq(w[i].err[0], '\0', "%s", w[i].err);

    st = arena_stats(e.a);
    assert_stats_sane(&st, "threads joined");
    cr_assert_eq(st.objects, (uint64_t)nthreads * KEPT, "%u threads: %llu objects live, %u kept",
                 nthreads, ull(st.objects), nthreads * KEPT);
    uint64_t remote_joined = st.remote_frees;
    /* The owners have exited: free what they left behind. */
    for (unsigned i = 0; i < nthreads; i++)
        for (size_t k = 0; k < KEPT; k++) {
            struct item *it = &w[i].kept[k];
            assert_pattern(it->p, it->size, it->id, "left by exited thread %u", i);
            cr_assert_eq(pmn_arena_of(it->p), e.a);
            int err = pmn_free(it->p);
            cr_assert_eq(err, 0, "free of an exited thread's object: %s", pmn_err_name(err));
        }
    st = arena_stats(e.a);
    assert_counts(&st, "all freed");
    cr_assert_eq(st.objects, 0, "%u threads: %llu objects live after all were freed", nthreads,
                 ull(st.objects));
    cr_assert_eq(st.allocated, 0, "%u threads: %llu bytes allocated after all were freed",
                 nthreads, ull(st.allocated));
    cr_assert_gt(st.remote_frees, 0);

    /* The arena still serves the main thread, then goes away whole. */
    void *p = pmn_arena_malloc(e.a, 1000);
    cr_assert_not_null(p);
    cr_assert_eq(pmn_free(p), 0);
    for (unsigned i = 0; i < nthreads; i++)
        queue_fini(&q[i]);
    pthread_barrier_destroy(&bar);
    free(q);
    free(w);
    pmn_arena_destroy(e.a);
    e.a = NULL;
    cr_assert_eq(backing_mapped(e.b), 0);
    env_close(&e);
    /* Every object a worker received was freed by a thread that did not
     * allocate it (a moved realloc frees the original remotely too). */
    cr_assert_geq(remote_joined, (uint64_t)nthreads * nobj,
                  "%u threads: %llu remote frees counted, %zu objects were freed by another "
                  "thread",
                  nthreads, ull(remote_joined), nthreads * nobj);
}

Test(threads, cross_free_2, .timeout = 120)
{
    cross_thread(2);
}

Test(threads, cross_free_4, .timeout = 120)
{
    cross_thread(4);
}

Test(threads, cross_free_8, .timeout = 120)
{
    cross_thread(8);
}

/* ---- slab: a receive thread hands bursts of 32 to a transmit thread ----- */

#define BURST 32

struct burst {
    void *obj[BURST];
    size_t n;
};

struct slab_pipe {
    struct pmn_slab *s;
    pthread_mutex_t m;
    pthread_cond_t c;
    struct burst *v;
    size_t head, tail, nbursts;
    char err[256];
};

static void *slab_rx(void *arg)
{
    struct slab_pipe *sp = arg;
    size_t osz = pmn_slab_obj_size(sp->s);

    for (size_t b = 0; b < sp->nbursts; b++) {
        struct burst bu;
        bu.n = pmn_slab_alloc_bulk(sp->s, bu.obj, BURST);
        if (bu.n != BURST) {
            /* Only the producer writes err; the consumer has its own. */
            snprintf(sp->err, sizeof(sp->err), "bulk alloc %zu gave %zu of %d: %s", b, bu.n, BURST,
                     strerror(errno));
        }
        for (size_t k = 0; k < bu.n; k++)
            pat_fill(bu.obj[k], osz, b * BURST + k);
        pthread_mutex_lock(&sp->m);
        sp->v[sp->tail++] = bu;
        pthread_cond_signal(&sp->c);
        pthread_mutex_unlock(&sp->m);
    }
    return NULL;
}

Test(threads, slab_bulk_cross_free, .timeout = 120)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing *b = backing_on0(ctx, PMN_BACKING_ANON);
    struct slab_pipe sp = {.nbursts = scaled(2000, 10)};
    pthread_t rx;
    size_t bad_bursts = 0;
    char err2[256] = "";
    int err = pmn_slab_new(b, 2048, 0, 0, &sp.s);

    cr_assert_eq(err, 0, "pmn_slab_new: %s", pmn_strerror(err));
    sp.v = calloc(sp.nbursts, sizeof(*sp.v));
    cr_assert_not_null(sp.v);
    pthread_mutex_init(&sp.m, NULL);
    pthread_cond_init(&sp.c, NULL);
    cr_assert_eq(pthread_create(&rx, NULL, slab_rx, &sp), 0);
    /* This thread transmits: checks each burst and frees it in bulk. */
    for (size_t i = 0; i < sp.nbursts; i++) {
        struct burst bu;
        pthread_mutex_lock(&sp.m);
        while (sp.head == sp.tail)
            pthread_cond_wait(&sp.c, &sp.m);
        bu = sp.v[sp.head++];
        pthread_mutex_unlock(&sp.m);
        for (size_t k = 0; k < bu.n; k++) {
            size_t off = pat_check(bu.obj[k], 2048, i * BURST + k);
            if (off != SIZE_MAX && !err2[0])
                snprintf(err2, sizeof(err2), "burst %zu object %zu: byte %zu overwritten", i, k,
                         off);
        }
        bad_bursts += bu.n != BURST;
        cr_assert_eq(pmn_slab_free_bulk(sp.s, bu.obj, bu.n), 0);
    }
    cr_assert_eq(pthread_join(rx, NULL), 0);
    cr_assert_eq(sp.err[0], '\0', "%s", sp.err);
    cr_assert_eq(err2[0], '\0', "%s", err2);
    cr_assert_eq(bad_bursts, 0);

    struct pmn_alloc_stats st = slab_stats(sp.s);
    assert_stats_sane(&st, "slab after the pipe");
    cr_assert_eq(st.objects, 0, "%llu slab objects live after all bursts were freed",
                 ull(st.objects));
    cr_assert_eq(st.allocated, 0);
    cr_assert_gt(st.remote_frees, 0, "every free came from another thread, none counted remote");
    pthread_mutex_destroy(&sp.m);
    pthread_cond_destroy(&sp.c);
    free(sp.v);
    pmn_slab_destroy(sp.s);
    cr_assert_eq(backing_mapped(b), 0, "%llu bytes mapped after pmn_slab_destroy",
                 ull(backing_mapped(b)));
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
}

/* ---- a page other threads emptied ----------------------------------------- */

/* A page whose objects another thread freed, all of them, hands its blocks
 * out again in address order, not in the order they were freed: the
 * owner's walk of those frees (a chase through lines the other thread
 * holds) otherwise kept a shuffled order for good, and every block of the
 * next walk missed (bench/alloc's prodcons after its random rows: 117-160
 * ns per object against 72 alone).  The blocks freed but not threaded
 * again yet are still refused as freed. */
Test(threads, a_page_emptied_by_another_thread_hands_out_in_address_order, .timeout = 60)
{
    enum { N = 31 }; /* one 64 KiB page of the 2 KiB class (2112-byte blocks) */
    struct env e = env_open();
    void *p[N], *q[N], *old[N];

    for (size_t i = 0; i < N; i++) {
        p[i] = pmn_arena_malloc(e.a, 2000);
        cr_assert_not_null(p[i]);
        cr_assert_eq((uintptr_t)p[i] >> 16, (uintptr_t)p[0] >> 16, "object %zu on another page",
                     i);
        old[i] = p[i];
    }
    cr_assert_eq(free_in_thread(old, N), 0);
    q[0] = pmn_arena_malloc(e.a, 2000);
    cr_assert_not_null(q[0]);
    /* The last block is free and not threaded again yet: still freed. */
    cr_assert(q[0] != p[N - 1]);
    cr_assert_eq(pmn_free(p[N - 1]), PMN_E_DOUBLE_FREE, "a freed block of the page: %s",
                 pmn_err_name(pmn_free(p[N - 1])));
    for (size_t i = 1; i < N; i++) {
        q[i] = pmn_arena_malloc(e.a, 2000);
        cr_assert_not_null(q[i]);
        cr_assert_eq((uintptr_t)q[i] >> 16, (uintptr_t)p[0] >> 16,
                     "object %zu again: another page", i);
        cr_assert_gt((uintptr_t)q[i], (uintptr_t)q[i - 1],
                     "object %zu at %p after %p: not in address order", i, q[i], q[i - 1]);
    }
    cr_assert_eq(arena_stats(e.a).objects, N);
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(pmn_free(q[i]), 0);
    cr_assert_eq(arena_stats(e.a).objects, 0);
    env_close(&e);
}

/* ---- full pages freed into by other threads (0.12.1) ---------------------
 *
 * A page with no free block waits on its owner's full queue; the first
 * free into it by another thread goes to the owner's delayed list, and the
 * owner's next slow path puts the page back in use (heap.h, "Full
 * pages").  Before 0.12.1 the owner walked every full page of the class
 * to find such frees each time it needed a page: the same blocks came
 * back, at a cost that grew with the heap (bench/alloc --workload fill-64). */

enum { FP = 31 }; /* 2 KiB objects to a 64 KiB page (2112-byte blocks) */

/* Forty full pages; another thread frees one object of the oldest, one of
 * the twentieth and one of the last: the owner's next three allocations of
 * the class are those three blocks, and the arena takes no page more. */
Test(threads, full_pages_freed_into_are_reused_before_a_new_page, .timeout = 60)
{
    enum { PAGES = 40, N = PAGES * FP };
    struct env e = env_open();
    void **p = calloc(N, sizeof(*p)), *gone[3], *got[3];
    uint64_t active;

    cr_assert_not_null(p);
    for (size_t i = 0; i < N; i++) {
        p[i] = pmn_arena_malloc(e.a, 2000);
        cr_assert_not_null(p[i]);
    }
    /* Each page whole: the first object of every page starts one. */
    for (size_t i = 0; i < N; i++)
        cr_assert_eq((uintptr_t)p[i] >> 16, (uintptr_t)p[i - i % FP] >> 16,
                     "object %zu not on its page's 64 KiB", i);
    gone[0] = p[3];
    gone[1] = p[20 * FP + 7];
    gone[2] = p[N - 1];
    cr_assert_eq(free_in_thread(gone, 3), 0);
    active = arena_stats(e.a).active;
    for (int k = 0; k < 3; k++) {
        got[k] = pmn_arena_malloc(e.a, 2000);
        cr_assert_not_null(got[k]);
    }
    for (int k = 0; k < 3; k++)
        cr_assert(got[k] == gone[0] || got[k] == gone[1] || got[k] == gone[2],
                  "allocation %d is %p, not one of the freed blocks %p %p %p", k, got[k], gone[0],
                  gone[1], gone[2]);
    cr_assert(got[0] != got[1] && got[1] != got[2] && got[0] != got[2],
              "one block handed out twice: %p %p %p", got[0], got[1], got[2]);
    cr_assert_eq(arena_stats(e.a).active, active, "a page was taken: %llu -> %llu bytes",
                 (unsigned long long)active, (unsigned long long)arena_stats(e.a).active);
    p[3] = got[0];
    p[20 * FP + 7] = got[1];
    p[N - 1] = got[2];
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(pmn_free(p[i]), 0);
    cr_assert_eq(arena_stats(e.a).objects, 0);
    free(p);
    env_close(&e);
}

/* The same block freed twice by other threads while its page is full (the
 * first free goes to the delayed list), then by its owner: both refused,
 * and the page hands the block out once. */
Test(threads, full_page_double_free_through_the_delayed_list, .timeout = 60)
{
    enum { N = 2 * FP };
    struct env e = env_open();
    void *p[N], *x, *a, *b;
    int err;

    for (size_t i = 0; i < N; i++) {
        p[i] = pmn_arena_malloc(e.a, 2000);
        cr_assert_not_null(p[i]);
    }
    x = p[5]; /* the first page is full since the second began */
    cr_assert_eq(free_in_thread(&x, 1), 0);
    cr_assert_eq(free_in_thread(&x, 1), 1, "a second free by another thread was taken");
    err = pmn_free(x);
    cr_assert_eq(err, PMN_E_DOUBLE_FREE, "the owner's free of it: %s", pmn_err_name(err));
    cr_assert_eq(arena_stats(e.a).objects, N - 1);
    a = pmn_arena_malloc(e.a, 2000);
    b = pmn_arena_malloc(e.a, 2000);
    cr_assert_eq(a, x, "the freed block is not the next one handed out");
    cr_assert_neq(b, x, "the freed block handed out twice");
    p[5] = a;
    cr_assert_eq(pmn_free(b), 0);
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(pmn_free(p[i]), 0);
    cr_assert_eq(arena_stats(e.a).objects, 0);
    env_close(&e);
}

/* A thread fills pages and exits; another frees into its full pages; a
 * third, adopting the exited thread's heap, allocates those blocks first. */
struct filler {
    struct pmn_arena *a;
    void **p;
    size_t n;
    int failed;
};

static void *fill(void *arg)
{
    struct filler *f = arg;

    for (size_t i = 0; i < f->n; i++)
        f->failed += (f->p[i] = pmn_arena_malloc(f->a, 2000)) == NULL;
    return NULL;
}

Test(threads, full_pages_of_an_exited_thread_are_reused_by_its_adopter, .timeout = 60)
{
    enum { N = 3 * FP };
    struct env e = env_open();
    void *p[N], *q[2], *gone[2];
    struct filler f = {.a = e.a, .p = p, .n = N};
    pthread_t t;
    uint64_t active;

    cr_assert_eq(pthread_create(&t, NULL, fill, &f), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(f.failed, 0);
    gone[0] = p[1];
    gone[1] = p[FP + 2];
    cr_assert_eq(free_in_thread(gone, 2), 0);
    active = arena_stats(e.a).active;
    f = (struct filler){.a = e.a, .p = q, .n = 2};
    cr_assert_eq(pthread_create(&t, NULL, fill, &f), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(f.failed, 0);
    cr_assert((q[0] == gone[0] && q[1] == gone[1]) || (q[0] == gone[1] && q[1] == gone[0]),
              "the adopter's allocations %p %p are not the freed blocks %p %p", q[0], q[1],
              gone[0], gone[1]);
    cr_assert_eq(arena_stats(e.a).active, active, "a page was taken");
    p[1] = q[0];
    p[FP + 2] = q[1];
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(pmn_free(p[i]), 0);
    cr_assert_eq(arena_stats(e.a).objects, 0);
    env_close(&e);
}

/* ---- double and interior frees that cross threads ----------------------- */

struct df {
    void *p;
    int err1, err2;
};

static void *free_twice(void *arg)
{
    struct df *d = arg;

    d->err1 = pmn_free(d->p);
    d->err2 = pmn_free(d->p);
    return NULL;
}

static void *free_once(void *arg)
{
    struct df *d = arg;

    d->err1 = pmn_free(d->p);
    return NULL;
}

/* Another thread frees an object twice. */
Test(threads, remote_double_free)
{
    struct env e = env_open();
    void *keep = pmn_arena_malloc(e.a, 64); /* the page stays live */
    struct df d = {.p = pmn_arena_malloc(e.a, 64)};
    pthread_t t;

    cr_assert_not_null(keep);
    cr_assert_not_null(d.p);
    cr_assert_eq(pthread_create(&t, NULL, free_twice, &d), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(d.err1, 0, "first remote free: %s", pmn_err_name(d.err1));
    cr_assert_eq(d.err2, PMN_E_DOUBLE_FREE, "second remote free: %s", pmn_err_name(d.err2));
    cr_assert_eq(arena_stats(e.a).objects, 1, "the double free was counted");
    cr_assert_eq(pmn_free(keep), 0);
    env_close(&e);
}

/* Another thread frees an object, then its owner frees it again. */
Test(threads, owner_double_free_after_remote)
{
    struct env e = env_open();
    void *keep = pmn_arena_malloc(e.a, 64);
    struct df d = {.p = pmn_arena_malloc(e.a, 64)};
    pthread_t t;
    int err;

    cr_assert_not_null(keep);
    cr_assert_not_null(d.p);
    cr_assert_eq(pthread_create(&t, NULL, free_once, &d), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(d.err1, 0);
    err = pmn_free(d.p);
    cr_assert_eq(err, PMN_E_DOUBLE_FREE, "owner's free after a remote free: %s",
                 pmn_err_name(err));
    cr_assert_eq(arena_stats(e.a).objects, 1, "the double free was counted");
    /* The page is still sound: two fresh objects are distinct. */
    void *a = pmn_arena_malloc(e.a, 64), *b = pmn_arena_malloc(e.a, 64);
    cr_assert_neq(a, b, "the double free put one block on the free list twice");
    cr_assert_eq(pmn_free(a), 0);
    cr_assert_eq(pmn_free(b), 0);
    cr_assert_eq(pmn_free(keep), 0);
    env_close(&e);
}

/* The collect() hang (issue 13): an object of this thread freed by two
 * other threads, one after the other.  The second free is refused, and the
 * next allocations neither spin (the timeout would catch it) nor hand out
 * one block twice. */
Test(threads, double_free_by_two_other_threads, .timeout = 60)
{
    struct env e = env_open();
    static const size_t sizes[] = {16, 64, 2048, 60000, 300 * KiB, 5 * MiB};

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        void *keep = pmn_arena_malloc(e.a, sizes[i]);
        struct df d1 = {.p = pmn_arena_malloc(e.a, sizes[i])}, d2 = {.p = d1.p};
        void *seen[64];
        pthread_t t;

        cr_assert(keep && d1.p);
        cr_assert_eq(pthread_create(&t, NULL, free_once, &d1), 0);
        cr_assert_eq(pthread_join(t, NULL), 0);
        cr_assert_eq(pthread_create(&t, NULL, free_once, &d2), 0);
        cr_assert_eq(pthread_join(t, NULL), 0);
        cr_assert_eq(d1.err1, 0, "size %zu: first free: %s", sizes[i], pmn_err_name(d1.err1));
        /* A large object's extent may have gone back already: nothing of
         * ours is there then. */
        cr_assert(d2.err1 == PMN_E_DOUBLE_FREE ||
                      (sizes[i] > 256 * KiB && d2.err1 == PMN_E_FOREIGN),
                  "size %zu: second thread's free: %s", sizes[i], pmn_err_name(d2.err1));
        /* Enough allocations to drain the page and collect the frees. */
        for (size_t k = 0; k < 64; k++) {
            seen[k] = pmn_arena_malloc(e.a, sizes[i]);
            cr_assert_not_null(seen[k]);
            for (size_t j = 0; j < k; j++)
                cr_assert_neq(seen[j], seen[k], "size %zu: one block handed out twice", sizes[i]);
        }
        for (size_t k = 0; k < 64; k++)
            cr_assert_eq(pmn_free(seen[k]), 0);
        cr_assert_eq(pmn_free(keep), 0);
        cr_assert_eq(arena_stats(e.a).objects, 0, "size %zu", sizes[i]);
    }
    env_close(&e);
}

/* The owner frees, then another thread frees the same object: refused
 * there, before anything reaches the page. */
Test(threads, remote_free_after_owner_free, .timeout = 60)
{
    struct env e = env_open();
    void *keep = pmn_arena_malloc(e.a, 64);
    struct df d = {.p = pmn_arena_malloc(e.a, 64)};
    pthread_t t;

    cr_assert(keep && d.p);
    cr_assert_eq(pmn_free(d.p), 0);
    cr_assert_eq(pthread_create(&t, NULL, free_once, &d), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(d.err1, PMN_E_DOUBLE_FREE, "remote free after the owner's: %s",
                 pmn_err_name(d.err1));
    void *a = pmn_arena_malloc(e.a, 64), *b = pmn_arena_malloc(e.a, 64);
    cr_assert(a && b && a != b, "the double free put one block on the free list twice");
    cr_assert_eq(pmn_free(a), 0);
    cr_assert_eq(pmn_free(b), 0);
    cr_assert_eq(pmn_free(keep), 0);
    cr_assert_eq(arena_stats(e.a).objects, 0);
    env_close(&e);
}

/* Another thread frees a pointer into an object: refused, and the object
 * is untouched and still freeable. */
Test(threads, remote_interior_free, .timeout = 60)
{
    struct env e = env_open();
    char *p = pmn_arena_malloc(e.a, 256);
    struct df d;
    pthread_t t;

    cr_assert_not_null(p);
    pat_fill(p, 256, 7);
    d.p = p + 16;
    cr_assert_eq(pthread_create(&t, NULL, free_once, &d), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(d.err1, PMN_E_INTERIOR, "remote free of p + 16: %s", pmn_err_name(d.err1));
    assert_pattern(p, 256, 7, "after a remote interior free");
    cr_assert_eq(pmn_free(p), 0);
    cr_assert_eq(arena_stats(e.a).objects, 0);
    env_close(&e);
}

/* Threads racing to free the same objects, none of them the owner: for
 * each object exactly one free succeeds, and the heap stays whole.  Small
 * objects only: a large object's extent can go back to the system on its
 * first free, and a second free racing that is a use after free that can
 * fault (as glibc's free of an mmap'd chunk does); one after the other,
 * large objects are in double_free_by_two_other_threads. */
struct racer {
    void **objs;
    size_t n;
    pthread_barrier_t *go;
    size_t ok, refused;
};

static void *race_frees(void *arg)
{
    struct racer *r = arg;

    pthread_barrier_wait(r->go);
    for (size_t i = 0; i < r->n; i++) {
        int err = pmn_free(r->objs[i]);
        if (err == 0)
            r->ok++;
        else if (err == PMN_E_DOUBLE_FREE)
            r->refused++;
    }
    return NULL;
}

Test(threads, racing_remote_double_frees, .timeout = 120)
{
    enum { N = 4096, T = 3 };
    struct env e = env_open();
    static const size_t sizes[] = {32, 1000, 200 * KiB};
    pthread_barrier_t go;
    pthread_t t[T];
    struct racer r[T];

    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        size_t n = sizes[s] > 64 * KiB ? 64 : N, ok = 0, refused = 0;
        void **objs = calloc(n, sizeof(*objs));
        cr_assert_not_null(objs);
        for (size_t i = 0; i < n; i++)
            cr_assert_not_null(objs[i] = pmn_arena_malloc(e.a, sizes[s]));
        cr_assert_eq(pthread_barrier_init(&go, NULL, T), 0);
        for (int k = 0; k < T; k++) {
            r[k] = (struct racer){.objs = objs, .n = n, .go = &go};
            cr_assert_eq(pthread_create(&t[k], NULL, race_frees, &r[k]), 0);
        }
        for (int k = 0; k < T; k++) {
            cr_assert_eq(pthread_join(t[k], NULL), 0);
            ok += r[k].ok;
            refused += r[k].refused;
        }
        pthread_barrier_destroy(&go);
        cr_assert_eq(ok, n, "size %zu: %zu frees succeeded for %zu objects", sizes[s], ok, n);
        cr_assert_eq(refused, (T - 1) * n, "size %zu: %zu of %zu second frees refused", sizes[s],
                     refused, (T - 1) * n);
        cr_assert_eq(arena_stats(e.a).objects, 0, "size %zu", sizes[s]);
        /* The owner allocates again: nothing handed out twice. */
        for (size_t i = 0; i < n; i++)
            cr_assert_not_null(objs[i] = pmn_arena_malloc(e.a, sizes[s]));
        qsort(objs, n, sizeof(*objs), cmp_ptr);
        for (size_t i = 1; i < n; i++)
            cr_assert_neq(objs[i - 1], objs[i], "size %zu: one block handed out twice", sizes[s]);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(pmn_free(objs[i]), 0);
        free(objs);
    }
    env_close(&e);
}

/* A thread that used an arena and a slab, still running when both are
 * destroyed, lets go of them at its exit: the arena and slab live in
 * their heap's allocation (alloc/arena.c, slab.c), which the last
 * binding frees, so the thread's exit touches no freed memory and
 * leaves nothing behind (AddressSanitizer's and valgrind's runs of this
 * suite check both).  Here: the thread's objects stay reachable by the
 * thread until it exits, and destroy does not wait for it. */
struct outlive {
    struct pmn_arena *a;
    struct pmn_slab *s;
    pthread_barrier_t used, destroyed;
    int err_a, err_s;
};

static void *outlive_thread(void *arg)
{
    struct outlive *o = arg;
    void *p = pmn_arena_malloc(o->a, 100), *q = pmn_slab_alloc(o->s);

    /* Freed in this thread: its theaps keep pages and caches of both. */
    o->err_a = p != NULL ? pmn_free(p) : -ENOMEM;
    o->err_s = q != NULL ? pmn_slab_free(o->s, q) : -ENOMEM;
    pthread_barrier_wait(&o->used);
    pthread_barrier_wait(&o->destroyed);
    return NULL; /* the unbind at exit drops the last references */
}

Test(threads, a_thread_outlives_its_arena_and_slab, .timeout = 60)
{
    struct env e = env_open();
    struct outlive o = {.a = e.a};
    pthread_t t;

    cr_assert_eq(pmn_slab_new(e.b, 48, 0, 0, &o.s), 0);
    cr_assert_eq(pthread_barrier_init(&o.used, NULL, 2), 0);
    cr_assert_eq(pthread_barrier_init(&o.destroyed, NULL, 2), 0);
    cr_assert_eq(pthread_create(&t, NULL, outlive_thread, &o), 0);
    pthread_barrier_wait(&o.used);
    pmn_slab_destroy(o.s);
    pmn_arena_destroy(e.a);
    e.a = NULL;
    pthread_barrier_wait(&o.destroyed);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(o.err_a, 0, "arena free in the thread: %s", pmn_err_name(o.err_a));
    cr_assert_eq(o.err_s, 0, "slab free in the thread: %s", pmn_err_name(o.err_s));
    /* The backing got every extent back at destroy, thread or not. */
    cr_assert_eq(backing_mapped(e.b), 0, "%llu bytes still mapped",
                 (unsigned long long)backing_mapped(e.b));
    pthread_barrier_destroy(&o.used);
    pthread_barrier_destroy(&o.destroyed);
    env_close(&e);
}

/* ---- fork while another thread holds the allocator's locks ----
 *
 * A thread exiting holds its heap's lock while libpmnode's test hook
 * (pmnode_test_unbind_locked, alloc/heap.c) runs: the hook says so, waits
 * until the main thread is forking (a prepare handler of this test,
 * registered after libpmnode's, runs first), then keeps the lock a little
 * longer, so that a fork that does not wait for it happens meanwhile.  The
 * child must then allocate (and publish) as if it had forked alone; a
 * child stuck on a lock it inherited held is killed by its watchdog, and
 * the parent sees SIGALRM instead of exit status 0. */
static struct {
    atomic_int armed;
    sem_t inside, forking;
} fk;

__attribute__((visibility("default"))) void pmnode_test_unbind_locked(void)
{
    struct timespec ts = {0, 200 * 1000 * 1000};

    if (!atomic_exchange(&fk.armed, 0))
        return;
    sem_post(&fk.inside);
    while (sem_wait(&fk.forking) != 0)
        ;
    nanosleep(&ts, NULL); /* widens the window a fork without handlers hits */
}

static void fk_prepare(void)
{
    if (atomic_load(&fk.armed) == 0)
        sem_post(&fk.forking);
}

static void *bind_and_exit(void *arg)
{
    pmn_free(pmn_arena_malloc(arg, 64)); /* binds the thread to the heap */
    return NULL;
}

static void *publish_update(void *arg)
{
    (void)arg;
    (void)pmn_publish_update(); /* takes P.lock, then waits for the heap lock */
    return NULL;
}

/* Start a thread that exits holding @a's heap lock until we fork. */
static void hold_heap_lock(struct pmn_arena *a, pthread_t *t)
{
    cr_assert_eq(sem_init(&fk.inside, 0, 0), 0);
    cr_assert_eq(sem_init(&fk.forking, 0, 0), 0);
    cr_assert_eq(pthread_atfork(fk_prepare, NULL, NULL), 0); /* after libpmnode's */
    atomic_store(&fk.armed, 1);
    cr_assert_eq(pthread_create(t, NULL, bind_and_exit, a), 0);
    while (sem_wait(&fk.inside) != 0)
        ;
}

/* The child's end, past ThreadSanitizer's _exit: it would report the
 * parent's threads, which the child inherits as finished and never
 * joined, as leaks and turn the exit status into its own. */
static void child_exit(int code)
{
    syscall(SYS_exit_group, code);
    _exit(code);
}

static int child_status(pid_t pid)
{
    int st = 0;

    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert_not(WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM,
                  "the child hung on a lock held at fork (watchdog fired)");
    cr_assert(WIFEXITED(st), "child status %d", st);
    return WEXITSTATUS(st);
}

Test(threads, fork_while_heap_locked, .timeout = 120)
{
    struct env e = env_open();
    pthread_t t;
    pid_t pid;

    hold_heap_lock(e.a, &t);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        alarm(30); /* watchdog: a hang, not a slow host */
        void *big = pmn_arena_malloc(e.a, 400 << 10), *small = pmn_arena_malloc(e.a, 100);
        uint64_t released;
        int ok = big != NULL && small != NULL && pmn_free(big) == 0 && pmn_free(small) == 0 &&
                 pmn_arena_trim(e.a, &released) == 0;
        child_exit(ok ? 0 : 1);
    }
    cr_assert_eq(child_status(pid), 0, "the child's allocations failed");
    cr_assert_eq(pthread_join(t, NULL), 0);
    env_close(&e);
}

Test(threads, fork_while_publish_locked, .timeout = 120)
{
    char dir[] = "/tmp/pmn-forkpub-XXXXXX", path[600], cmd[700];
    struct env e = env_open();
    pthread_t t, u;
    pid_t pid;

    cr_assert_not_null(mkdtemp(dir));
    setenv("XDG_RUNTIME_DIR", dir, 1);
    cr_assert_eq(pmn_publish_arena(e.a, "a"), 0);
    cr_assert_eq(pmn_publish_start(0), 0);
    cr_assert_gt(pmn_publish_path(path, sizeof(path)), 0);
    hold_heap_lock(e.a, &t);
    /* P.lock, taken by the update, then the heap lock the exiting thread
     * holds: both are held while the main thread forks. */
    cr_assert_eq(pthread_create(&u, NULL, publish_update, NULL), 0);
    pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct pmn_arena *mine;
        char own[600];
        int ok;

        alarm(30);
        /* The parent's file is not the child's; it publishes its own, and
         * an arena's destroy takes its entry out (pmn__publish_forget). */
        ok = pmn_publish_path(own, sizeof(own)) == -ENOENT && pmn_publish_start(0) == 0 &&
             pmn_publish_path(own, sizeof(own)) > 0 && strcmp(own, path) != 0 &&
             pmn_arena_new(e.b, NULL, &mine) == 0 && pmn_publish_arena(mine, "m") == 0;
        if (ok)
            pmn_arena_destroy(mine);
        ok = ok && pmn_publish_stop() == 0 && access(path, F_OK) == 0;
        child_exit(ok ? 0 : 1);
    }
    cr_assert_eq(child_status(pid), 0, "the child could not publish on its own");
    cr_assert_eq(pthread_join(u, NULL), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(access(path, F_OK), 0, "the parent's file stays");
    cr_assert_eq(pmn_publish_stop(), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    (void)!system(cmd);
    env_close(&e);
}
