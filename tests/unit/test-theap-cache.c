/*
 * test-theap-cache.c - the heap's cache of threads' theaps (alloc/heap.c
 * tc_set, heap.h pmn__tc_hash and pmn__tc_hash2).
 *
 * A thread's malloc finds its theap in the heap's 64-slot cache, indexed by
 * a hash of its thread pointer; a thread whose slot another live thread
 * holds used to find it through its TLS table on every malloc.  Threads
 * whose stacks are 1 MiB apart with no guard page fell into 4-12 of the 64
 * slots.  Now a thread whose first slot is taken takes its second
 * (pmn__tc_hash2): every live thread is in the cache unless both its slots
 * are other live threads'.  Each case binds 32 threads to one arena, all
 * alive at once, and checks that rule thread by thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "alloc/heap.h"
#include "harness.h"

#define NTHR 32

struct seen {
    uintptr_t tp;            /* the thread's pointer */
    uintptr_t held[2];       /* who held its two slots, all threads alive */
    bool in_cache;           /* its theap was in one of them */
    struct pmn__theap *mine; /* its theap, by the slow lookup */
};

static struct pmn_arena *arena;
static pthread_barrier_t all_bound, all_seen;
static struct seen seen[NTHR];

static void *bind_and_look(void *arg)
{
    struct seen *s = arg;
    struct pmn__heap *h = pmn__arena_heap(arena);
    void *p = pmn_arena_malloc(arena, 64); /* binds this thread */
    const struct pmn__tcentry *e[2];

    if (p == NULL)
        return (void *)1;
    pthread_barrier_wait(&all_bound);
    s->tp = pmn__tp();
    e[0] = &h->tc[pmn__tc_hash(s->tp)];
    e[1] = &h->tc[pmn__tc_hash2(s->tp)];
    s->mine = pmn__theap_find(h);
    for (int i = 0; i < 2; i++) {
        s->held[i] = atomic_load(&e[i]->tp);
        if (s->held[i] == s->tp && atomic_load(&e[i]->th) == s->mine)
            s->in_cache = true;
    }
    pthread_barrier_wait(&all_seen);
    return pmn_free(p) == 0 ? NULL : (void *)2;
}

/* 32 threads with stacks of @stack bytes (0: the default) and guards of
 * @guard bytes; the rule checked for each; how many sat in their second
 * slot returned. */
static int run_case(size_t stack, size_t guard)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing *b = backing_on0(ctx, PMN_BACKING_ANON);
    pthread_t t[NTHR];
    pthread_attr_t at;
    int second = 0, out = 0;
    void *res;

    cr_assert_eq(pmn_arena_new(b, NULL, &arena), 0);
    cr_assert_eq(pthread_attr_init(&at), 0);
    if (stack != 0)
        cr_assert_eq(pthread_attr_setstacksize(&at, stack), 0);
    cr_assert_eq(pthread_attr_setguardsize(&at, guard), 0);
    cr_assert_eq(pthread_barrier_init(&all_bound, NULL, NTHR), 0);
    cr_assert_eq(pthread_barrier_init(&all_seen, NULL, NTHR), 0);
    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < NTHR; i++)
        cr_assert_eq(pthread_create(&t[i], &at, bind_and_look, &seen[i]), 0);
    for (int i = 0; i < NTHR; i++) {
        cr_assert_eq(pthread_join(t[i], &res), 0);
        cr_assert_null(res, "thread %d: malloc or free failed", i);
    }
    for (int i = 0; i < NTHR; i++) {
        const struct seen *s = &seen[i];
        bool others = true;

        cr_assert_not_null(s->mine, "thread %d has no theap", i);
        if (s->in_cache) {
            second += s->held[0] != s->tp;
            continue;
        }
        /* Left out: only when both slots were other live threads'. */
        for (int k = 0; k < 2; k++) {
            bool live = false;
            for (int j = 0; j < NTHR; j++)
                live |= j != i && seen[j].tp == s->held[k];
            others &= live;
        }
        cr_assert(others,
                  "thread %d (stack %zu, guard %zu) is not in the heap's cache, yet its "
                  "slots held %#lx and %#lx, not two other live threads",
                  i, stack, guard, (unsigned long)s->held[0], (unsigned long)s->held[1]);
        out++;
    }
    printf("stack %zu guard %zu: %d of %d threads in their second slot, %d in neither\n", stack,
           guard, second, NTHR, out);
    pthread_attr_destroy(&at);
    pthread_barrier_destroy(&all_bound);
    pthread_barrier_destroy(&all_seen);
    pmn_arena_destroy(arena);
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
    return second;
}

Test(theap_cache, default_stacks)
{
    run_case(0, 4096);
}

Test(theap_cache, stacks_1mib_apart_without_guard)
{
    run_case(1 << 20, 0);
}

Test(theap_cache, stacks_1mib_and_a_guard)
{
    run_case(1 << 20, 4096);
}

Test(theap_cache, stacks_64kib_and_64kib_guards)
{
    run_case(64 << 10, 64 << 10);
}
