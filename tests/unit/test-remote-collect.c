/*
 * test-remote-collect.c - the owner's collect of other threads' frees
 * (alloc/heap.c collect_some, heap.h pmn__free_remote).
 *
 * Another thread's free pushes the block onto its page's thread_free
 * stack, and the stack word counts the blocks on it in its top bits
 * (PMN__TF_CSHIFT).  An owner whose page has no free block left takes the
 * stack whole by that count, without reading the blocks (until 0.12.5 it
 * walked them, a cache miss each).  These cases fill one page, let another
 * thread free part or all of it, and check the count, what the owner's
 * next mallocs hand out (the freed blocks, each once, or the page's first
 * block again when the page was emptied), the counts the stats give, and
 * that blocks taken whole, which keep the mark another thread's free gave
 * them, are still refused as double frees by any thread.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/heap.h"
#include "harness.h"

enum { SIZE = 64 };

struct page_fill {
    struct env e;
    struct pmn__page *pg;
    void **objs; /* the page's blocks, in the order handed out */
    uint32_t n;
};

/* A fresh arena's first page of SIZE, filled: every block handed out. */
static struct page_fill fill_one_page(void)
{
    struct page_fill f = {.e = env_open()};
    void *p = pmn_arena_malloc(f.e.a, SIZE);

    cr_assert_not_null(p);
    f.pg = pmn__page_of(pmn__segment_of(p), p);
    cr_assert_not_null(f.pg);
    f.objs = calloc(f.pg->capacity, sizeof(*f.objs));
    cr_assert_not_null(f.objs);
    f.objs[f.n++] = p;
    while (f.n < f.pg->capacity) {
        p = pmn_arena_malloc(f.e.a, SIZE);
        cr_assert_not_null(p);
        cr_assert_eq(pmn__page_of(pmn__segment_of(p), p), f.pg,
                     "block %u of %u came from another page", f.n, f.pg->capacity);
        f.objs[f.n++] = p;
    }
    cr_assert_null(f.pg->free, "a full page has no free list");
    cr_assert_eq(f.pg->used, f.pg->capacity);
    return f;
}

struct freer {
    void **objs;
    uint32_t n, step;
    int err;
};

static void *free_some(void *arg)
{
    struct freer *fr = arg;

    for (uint32_t i = 0; i < fr->n; i += fr->step)
        if (fr->err == 0)
            fr->err = pmn_free(fr->objs[i]);
    return NULL;
}

/* Another thread frees every @step-th block of the page. */
static uint32_t free_elsewhere(struct page_fill *f, uint32_t step)
{
    struct freer fr = {.objs = f->objs, .n = f->n, .step = step};
    pthread_t t;

    cr_assert_eq(pthread_create(&t, NULL, free_some, &fr), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(fr.err, 0, "remote free: %s", pmn_err_name(fr.err));
    return (f->n + step - 1) / step;
}

static uint64_t live_objects(struct pmn_arena *a)
{
    struct pmn_alloc_stats st = {.struct_size = sizeof(st)};

    cr_assert_eq(pmn_arena_stats(a, &st), 0);
    return st.objects;
}

static bool was_freed(void **freed, uint32_t k, void *p)
{
    return bsearch(&p, freed, k, sizeof(*freed), cmp_ptr) != NULL;
}

Test(remote_collect, the_stack_word_counts_its_blocks)
{
    struct page_fill f = fill_one_page();
    uint32_t k = free_elsewhere(&f, 2);
    uintptr_t tf = atomic_load(&f.pg->thread_free);

    cr_assert_eq(tf >> PMN__TF_CSHIFT, k, "the stack word counts %lu blocks, %u were pushed",
                 (unsigned long)(tf >> PMN__TF_CSHIFT), k);
    cr_assert_neq(tf & PMN__TF_PTR, 0);
    cr_assert(was_freed(f.objs, f.n, (void *)(tf & PMN__TF_PTR)), "the stack's head is a block");
    for (uint32_t i = 0; i < f.n; i++)
        cr_assert_eq(pmn_free(f.objs[i]), i % 2 ? 0 : PMN_E_DOUBLE_FREE, "block %u", i);
    env_close(&f.e);
    free(f.objs);
}

Test(remote_collect, a_full_page_takes_the_stack_whole)
{
    struct page_fill f = fill_one_page();
    uint32_t k = free_elsewhere(&f, 3), j = 0;
    void **freed = calloc(k, sizeof(*freed)), **again = calloc(k, sizeof(*again));

    cr_assert(freed != NULL && again != NULL);
    for (uint32_t i = 0; i < f.n; i += 3)
        freed[j++] = f.objs[i];
    qsort(freed, k, sizeof(*freed), cmp_ptr);
    cr_assert_eq(live_objects(f.e.a), f.n - k);
    /* The owner's next k mallocs: the k freed blocks, each once. */
    for (uint32_t i = 0; i < k; i++) {
        again[i] = pmn_arena_malloc(f.e.a, SIZE);
        cr_assert_not_null(again[i]);
        cr_assert(was_freed(freed, k, again[i]), "malloc %u of %u: %p was not freed", i, k,
                  again[i]);
    }
    qsort(again, k, sizeof(*again), cmp_ptr);
    for (uint32_t i = 1; i < k; i++)
        cr_assert_neq(again[i - 1], again[i], "a block handed out twice");
    cr_assert_eq(f.pg->used, f.pg->capacity, "the page's count after the collect");
    cr_assert_eq(atomic_load(&f.pg->thread_free) & ~PMN__TF_DELAYED, 0);
    cr_assert_eq(live_objects(f.e.a), f.n);
    /* Every block live once more: each frees once, then is a double free. */
    for (uint32_t i = 0; i < f.n; i++)
        cr_assert_eq(pmn_free(f.objs[i]), 0, "block %u", i);
    for (uint32_t i = 0; i < f.n; i++)
        cr_assert_eq(pmn_free(f.objs[i]), PMN_E_DOUBLE_FREE, "block %u again", i);
    cr_assert_eq(live_objects(f.e.a), 0);
    free(freed);
    free(again);
    env_close(&f.e);
    free(f.objs);
}

Test(remote_collect, a_page_emptied_elsewhere_starts_again_from_its_first_block)
{
    struct page_fill f = fill_one_page();
    void *first = f.objs[0], *p;

    for (uint32_t i = 1; i < f.n; i++)
        if ((uintptr_t)f.objs[i] < (uintptr_t)first)
            first = f.objs[i];
    cr_assert_eq(free_elsewhere(&f, 1), f.n);
    cr_assert_eq(live_objects(f.e.a), 0);
    p = pmn_arena_malloc(f.e.a, SIZE);
    cr_assert_eq(p, first, "an emptied page hands out %p first, not its first block %p", p, first);
    cr_assert_eq(f.pg->used, 1);
    cr_assert_eq(live_objects(f.e.a), 1);
    cr_assert_eq(pmn_free(p), 0);
    env_close(&f.e);
    free(f.objs);
}

struct second_free {
    void **objs;
    uint32_t n;
    int wrong; /* how many of the frees did not report a double free */
};

static void *free_again(void *arg)
{
    struct second_free *sf = arg;

    for (uint32_t i = 0; i < sf->n; i++)
        sf->wrong += pmn_free(sf->objs[i]) != PMN_E_DOUBLE_FREE;
    return NULL;
}

Test(remote_collect, blocks_taken_whole_are_still_free_to_every_thread)
{
    struct page_fill f = fill_one_page();
    uint32_t k = free_elsewhere(&f, 2), j = 0;
    void **freed = calloc(k, sizeof(*freed)), *p;
    struct second_free sf;
    pthread_t t;

    cr_assert_not_null(freed);
    for (uint32_t i = 0; i < f.n; i += 2)
        freed[j++] = f.objs[i];
    /* One malloc takes the stack whole and hands out one of its blocks;
     * the other k - 1 wait on the page's list with another thread's mark. */
    p = pmn_arena_malloc(f.e.a, SIZE);
    cr_assert_not_null(p);
    cr_assert_null((void *)(atomic_load(&f.pg->thread_free) & PMN__TF_PTR), "stack taken");
    sf = (struct second_free){.objs = freed, .n = k};
    for (uint32_t i = 0; i < k; i++) {
        if (freed[i] == p) {
            freed[i] = freed[--sf.n]; /* live again: not a double free */
            break;
        }
    }
    cr_assert_eq(sf.n, k - 1, "the malloc handed out one of the freed blocks");
    for (uint32_t i = 0; i < sf.n; i++)
        cr_assert_eq(pmn_free(sf.objs[i]), PMN_E_DOUBLE_FREE, "owner's second free of %p",
                     sf.objs[i]);
    cr_assert_eq(pthread_create(&t, NULL, free_again, &sf), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(sf.wrong, 0, "%d of %u second frees by another thread were not refused", sf.wrong,
                 sf.n);
    cr_assert_eq(live_objects(f.e.a), f.n - k + 1);
    cr_assert_eq(pmn_free(p), 0);
    for (uint32_t i = 1; i < f.n; i += 2)
        cr_assert_eq(pmn_free(f.objs[i]), 0);
    cr_assert_eq(live_objects(f.e.a), 0);
    free(freed);
    env_close(&f.e);
    free(f.objs);
}
