/*
 * test-theap-adopt.c - which exited thread's heap a new thread takes over
 * (alloc/heap.c pmn__theap_bind, pmn__heap_free_slow).
 *
 * A thread that exits leaves its theap, with the pages holding its live
 * objects, as an orphan that the next thread to use the heap adopts.  A
 * thread whose first call into the heap is a free adopts the orphan that
 * owns the object freed, not the first orphan in the heap's list (until
 * 0.12.6), so that the free, and its later frees of the objects it
 * inherited, are its own and not other threads' (a remote free each).
 * A thread whose first call was a malloc took the list's first orphan; if
 * it has hardly used it yet, its first free of another orphan's object
 * trades it for that orphan (heap.c theap_trade), once.
 * These cases leave two orphans and check which one a new thread takes,
 * by the page's owner and by the arena's count of remote frees, for a
 * first free and for a free after a first malloc; that a theap the thread
 * has used is not traded; that a live thread's object is still freed as
 * another thread's; and that the first call's free still refuses a double
 * free.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc/heap.h"
#include "harness.h"

enum { SIZE = 64, N = 100 };

struct job {
    struct pmn_arena *a;
    void **objs;
    unsigned n;
    int err;                 /* first error of the thread's calls */
    struct pmn__theap *own;  /* the theap the thread ended with */
    pthread_barrier_t *hold; /* when set: wait there twice before exiting */
};

static struct pmn__heap *heap_of(void *p)
{
    return pmn__segment_of(p)->heap;
}

static struct pmn__theap *owner_of(void *p)
{
    struct pmn__page *pg = pmn__page_of(pmn__segment_of(p), p);

    cr_assert_not_null(pg);
    return pg->owner;
}

/* Allocate job->n objects, then exit (leaving an orphan), or hold there
 * until released when job->hold is set. */
static void *alloc_then_exit(void *arg)
{
    struct job *j = arg;

    for (unsigned i = 0; i < j->n; i++) {
        j->objs[i] = pmn_arena_malloc(j->a, SIZE);
        if (j->objs[i] == NULL)
            j->err = -1;
    }
    j->own = pmn__theap_find(heap_of(j->objs[0]));
    if (j->hold) {
        pthread_barrier_wait(j->hold); /* allocated */
        pthread_barrier_wait(j->hold); /* the other thread freed */
    }
    return NULL;
}

/* Free job->objs, its first call into the heap; note the theap it has. */
static void *free_first(void *arg)
{
    struct job *j = arg;

    for (unsigned i = 0; i < j->n; i++) {
        int err = pmn_free(j->objs[i]);

        if (err != 0 && j->err == 0)
            j->err = err;
    }
    j->own = pmn__theap_find(heap_of(j->objs[0]));
    return NULL;
}

/* @fn(@arg) in a thread of its own, to its end. */
static void run(void *(*fn)(void *), void *arg)
{
    pthread_t t;

    cr_assert_eq(pthread_create(&t, NULL, fn, arg), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
}

/* Two exited threads' theaps, each owning its thread's N live objects. */
struct orphans {
    void *objs[2][N];
    struct job job[2];
    struct job *listed; /* the one whose theap is first in the heap's list */
    struct job *other;
};

/* Two threads allocate N objects each, both live at once, then exit: two
 * orphans in @o.  The orphan a thread whose first call is a malloc takes
 * (pmn__theap_bind: the first in the list) is o->listed's. */
static void two_orphans(struct orphans *o, struct pmn_arena *a)
{
    pthread_barrier_t hold;
    pthread_t t[2];
    struct pmn__theap *th;

    cr_assert_eq(pthread_barrier_init(&hold, NULL, 3), 0);
    for (int i = 0; i < 2; i++) {
        o->job[i] = (struct job){.a = a, .objs = o->objs[i], .n = N, .hold = &hold};
        cr_assert_eq(pthread_create(&t[i], NULL, alloc_then_exit, &o->job[i]), 0);
    }
    pthread_barrier_wait(&hold);
    pthread_barrier_wait(&hold);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(pthread_join(t[i], NULL), 0);
        o->job[i].hold = NULL; /* the barrier is this function's */
        cr_assert_eq(o->job[i].err, 0);
        cr_assert_eq(owner_of(o->objs[i][0]), o->job[i].own);
    }
    pthread_barrier_destroy(&hold);
    cr_assert_neq(o->job[0].own, o->job[1].own);
    for (th = heap_of(o->objs[0][0])->theaps; th && !th->orphan; th = th->next)
        ;
    cr_assert(th == o->job[0].own || th == o->job[1].own);
    o->listed = th == o->job[0].own ? &o->job[0] : &o->job[1];
    o->other = th == o->job[0].own ? &o->job[1] : &o->job[0];
}

Test(theap_adopt, first_free_adopts_the_objects_owner)
{
    struct env e = env_open();
    struct orphans o;
    struct job c = {.a = e.a, .n = N};
    uint64_t remote;

    two_orphans(&o, e.a);
    remote = arena_stats(e.a).remote_frees;

    /* A third thread's first call frees objects of the orphan the list
     * does not give first: it takes over that theap, so every free is the
     * owner's. */
    c.objs = o.other->objs;
    run(free_first, &c);
    cr_assert_eq(c.err, 0, "free: %s", pmn_strerror(c.err));
    cr_assert_eq(c.own, o.other->own,
                 "the new thread took another orphan than the objects' owner");
    cr_assert_eq(arena_stats(e.a).remote_frees, remote,
                 "%llu of %d frees went to another thread's pages",
                 (unsigned long long)(arena_stats(e.a).remote_frees - remote), N);
    cr_assert_eq(arena_stats(e.a).objects, N, "the other thread's objects are live");

    /* The other orphan is still there for the next thread. */
    c.objs = o.listed->objs;
    run(free_first, &c);
    cr_assert_eq(c.err, 0);
    cr_assert_eq(c.own, o.listed->own);
    cr_assert_eq(arena_stats(e.a).remote_frees, remote);
    cr_assert_eq(arena_stats(e.a).objects, 0);
    env_close(&e);
}

struct trade_job {
    struct pmn_arena *a;
    void **objs;               /* an orphan's objects, to free */
    unsigned warm;             /* size classes to allocate from first */
    struct pmn__theap *before; /* the theap the thread's first malloc bound */
    struct pmn__theap *after;  /* the theap it has after freeing objs[0] */
    uint64_t remote;           /* remote frees that free counted */
    int err;
};

/* Malloc first (binding some theap), then free an orphan's object. */
static void *malloc_then_free(void *arg)
{
    struct trade_job *j = arg;
    void *mine[64];
    unsigned n = 0;
    uint64_t r0;

    for (unsigned c = 0; c < (j->warm ? j->warm : 1) && n < 64; c++)
        for (unsigned k = 0; k < (j->warm ? 2 : 1) && n < 64; k++)
            if ((mine[n++] = pmn_arena_malloc(j->a, 16 + 48 * c)) == NULL)
                j->err = -1;
    j->before = pmn__theap_find(heap_of(mine[0]));
    r0 = arena_stats(j->a).remote_frees;
    if (j->err == 0)
        j->err = pmn_free(j->objs[0]);
    j->remote = arena_stats(j->a).remote_frees - r0;
    j->after = pmn__theap_find(heap_of(mine[0]));
    for (unsigned i = 0; i < n; i++)
        if (pmn_free(mine[i]) != 0 && j->err == 0)
            j->err = -2;
    return NULL;
}

Test(theap_adopt, a_young_theap_is_traded_for_the_orphan_its_free_lands_in)
{
    struct env e = env_open();
    struct orphans o;
    struct trade_job t = {.a = e.a};

    two_orphans(&o, e.a);
    /* The thread's malloc takes the list's first orphan; its first free
     * is of the other one's object. */
    t.objs = o.other->objs;
    run(malloc_then_free, &t);
    cr_assert_eq(t.err, 0, "err %d", t.err);
    cr_assert_eq(t.before, o.listed->own,
                 "the first malloc took another theap than the list's first orphan");
    cr_assert_eq(t.after, o.other->own,
                 "the young theap was not traded for the freed object's owner");
    cr_assert_eq(t.remote, 0, "the free after the trade was another thread's");
    cr_assert(o.listed->own->orphan, "the traded theap is an orphan again");
    env_close(&e);
}

Test(theap_adopt, a_used_theap_is_not_traded)
{
    struct env e = env_open();
    struct orphans o;
    struct trade_job t = {.a = e.a, .warm = 24};

    two_orphans(&o, e.a);
    t.objs = o.other->objs;
    /* Objects of 24 size classes first: more than the slow-path
     * allocations a theap stays tradable for. */
    run(malloc_then_free, &t);
    cr_assert_eq(t.err, 0, "err %d", t.err);
    cr_assert_eq(t.after, t.before, "a theap the thread had used was traded");
    cr_assert_eq(t.remote, 1, "the free of the orphan's object was not another thread's");
    env_close(&e);
}

Test(theap_adopt, a_live_threads_object_is_freed_as_anothers)
{
    struct env e = env_open();
    void *objs[N];
    pthread_barrier_t hold;
    struct job a = {.a = e.a, .objs = objs, .n = N, .hold = &hold};
    struct job c = {.a = e.a, .objs = objs, .n = N};
    pthread_t t;
    uint64_t remote;

    cr_assert_eq(pthread_barrier_init(&hold, NULL, 2), 0);
    cr_assert_eq(pthread_create(&t, NULL, alloc_then_exit, &a), 0);
    pthread_barrier_wait(&hold);
    cr_assert_eq(a.err, 0);
    remote = arena_stats(e.a).remote_frees;
    run(free_first, &c);
    pthread_barrier_wait(&hold);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(c.err, 0);
    cr_assert_not_null(c.own, "the freeing thread has a theap after its first call");
    cr_assert_neq(c.own, a.own, "a live thread's theap went to another thread");
    cr_assert_eq(arena_stats(e.a).remote_frees, remote + N);
    cr_assert_eq(arena_stats(e.a).objects, 0);
    pthread_barrier_destroy(&hold);
    env_close(&e);
}

Test(theap_adopt, a_first_call_double_free_is_refused)
{
    struct env e = env_open();
    void *objs[1];
    struct job a = {.a = e.a, .objs = objs, .n = 1};
    struct job c = {.a = e.a, .objs = objs, .n = 1};
    void *again;

    run(alloc_then_exit, &a);
    cr_assert_eq(pmn_free(objs[0]), 0);
    /* Freed already: the new thread's first call is a double free. */
    run(free_first, &c);
    cr_assert_eq(c.err, PMN_E_DOUBLE_FREE, "got %d (%s)", c.err, pmn_strerror(c.err));
    cr_assert_eq(arena_stats(e.a).objects, 0);
    /* The block went back once: one malloc hands it out, the next another. */
    again = pmn_arena_malloc(e.a, SIZE);
    cr_assert_not_null(again);
    cr_assert_neq(pmn_arena_malloc(e.a, SIZE), again);
    env_close(&e);
}
