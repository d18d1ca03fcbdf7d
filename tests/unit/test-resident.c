/*
 * test-resident.c - what an arena keeps resident (issue 17: peak RSS
 * within 1.1x glibc's), suites 'unit' and 'threads'.
 *
 * Checked through the arena's own stats (populated: bytes the library
 * populated and still holds) and /proc/self/statm, with margins of
 * megabytes against figures of kilobytes, so nothing here depends on the
 * host's timing or on another process.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* The figures some tests hold the arena to assume 4 KiB pages: on other
 * hosts they skip, saying so, rather than pass unchecked. */
static void skip_unless_4k_pages(struct env *e)
{
    long pg = sysconf(_SC_PAGESIZE);

    if (pg != 4096) {
        env_close(e);
        cr_skip_test("the figures assume 4 KiB pages, this host has %ld-byte pages", pg);
    }
}

/* An arena on node 0 whose small-page cache is @bytes (retain 2). */
static struct env env_small_cache(uint64_t bytes)
{
    const struct pmn_arena_opts o = {.struct_size = sizeof(o),
                                     .retain = 2,
                                     .flags = PMN_ARENA_SMALL_CACHE,
                                     .small_cache_bytes = bytes};

    return env_open_opts(PMN_BACKING_ANON, &o);
}

/* One object of each of a few size classes costs about its own size in
 * populated memory, not a whole page per class (up to 2 MiB for a class
 * near 256 KiB: a page holds several blocks) nor the 128 KiB of segment
 * header and misuse bitmaps it once took.  Before blocks were populated as they are handed out, these
 * five objects (321 KiB) populated 2.9 MiB. */
Test(resident, a_class_used_once_populates_about_its_object, .timeout = 60)
{
    const size_t sizes[] = {16, 1000, 20000, 100000, 200000};
    struct env e = env_open();
    void *p[5];
    size_t sum = 0;
    struct pmn_alloc_stats st;

    for (size_t i = 0; i < 5; i++) {
        p[i] = pmn_arena_malloc(e.a, sizes[i]);
        cr_assert_not_null(p[i], "malloc(%zu)", sizes[i]);
        sum += pmn_usable_size(p[i]);
    }
    /* Every byte of every object is the program's, and on node 0. */
    for (size_t i = 0; i < 5; i++) {
        struct pmn_where w = {.struct_size = sizeof(w)};
        size_t u = pmn_usable_size(p[i]);
        pat_fill(p[i], u, i + 1);
        cr_assert_eq(pmn_where(p[i], u, &w), 0);
        cr_assert_eq(pmn_where_pages_on(&w, 0), w.pages,
                     "object %zu: %llu of %llu pages on node 0", i, ull(pmn_where_pages_on(&w, 0)),
                     ull(w.pages));
    }
    st = arena_stats(e.a);
    assert_stats_sane(&st, "five classes");
    cr_assert_leq(st.populated, 64 * KiB + 2 * sum,
                  "five objects of %zu bytes in all: %llu bytes populated", sum,
                  ull(st.populated));
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(pat_check(p[i], pmn_usable_size(p[i]), i + 1), SIZE_MAX);
        cr_assert_eq(pmn_free(p[i]), 0);
    }
    /* The pages' other blocks are populated as the pages fill: every block
     * of pages filled one object at a time is writable, intact and on
     * node 0, for small and large classes. */
    for (size_t s = 0; s < 5; s++) {
        enum { N = 100 };
        void *q[N];
        for (size_t i = 0; i < N; i++) {
            q[i] = pmn_arena_malloc(e.a, sizes[s]);
            cr_assert_not_null(q[i]);
            pat_fill(q[i], sizes[s], s * N + i);
        }
        for (size_t i = 0; i < N; i++) {
            struct pmn_where w = {.struct_size = sizeof(w)};
            cr_assert_eq(pat_check(q[i], sizes[s], s * N + i), SIZE_MAX, "size %zu object %zu",
                         sizes[s], i);
            cr_assert_eq(pmn_where(q[i], sizes[s], &w), 0);
            cr_assert_eq(pmn_where_pages_on(&w, 0), w.pages);
        }
        for (size_t i = 0; i < N; i++)
            cr_assert_eq(pmn_free(q[i]), 0);
    }
    env_close(&e);
}

/* With no small-page cache (small_cache_bytes 0, the shim's setting),
 * pages emptied in segments that still hold other pages give their memory
 * back once the heap holds more free populated memory than its slack
 * (heap.c purge_wanted: max(2 MiB, a quarter of the live pages)): 16 MiB
 * of 4 KiB objects, one kept in every 256 KiB, the rest freed.  Before,
 * the freed pages' 12 MiB stayed resident (their segments are not empty,
 * so nothing was released).  The memory is then reused: allocated again,
 * populated again on node 0. */
Test(resident, emptied_pages_are_purged_beyond_the_slack, .timeout = 120)
{
    enum { N = 4096 };
    struct env e = env_small_cache(0);
    static void *p[N];
    struct pmn_alloc_stats st;
    uint64_t rss_full, rss_after, pop_full;
    size_t kept = 0;

    for (size_t i = 0; i < N; i++) {
        p[i] = pmn_arena_malloc(e.a, 4000);
        cr_assert_not_null(p[i]);
        memset(p[i], 0x5c, 4000);
    }
    st = arena_stats(e.a);
    pop_full = st.populated;
    rss_full = rss_bytes();
    cr_assert_geq(pop_full, 16 * MiB, "16 MiB of objects, %llu bytes populated", ull(pop_full));
    /* A page younger than 100 ms keeps its memory when it empties (a heap
     * whose pages churn would refault on every cycle): these have lived
     * (sleeping longer on a slow host only makes them older). */
    usleep(200 * 1000);
    for (size_t i = 0; i < N; i++) {
        if (((uintptr_t)p[i] & (256 * KiB - 1)) < pmn_usable_size(p[i])) {
            kept++;
            continue;
        }
        cr_assert_eq(pmn_free(p[i]), 0);
        p[i] = NULL;
    }
    cr_assert_gt(kept, 0);
    st = arena_stats(e.a);
    rss_after = rss_bytes();
    assert_stats_sane(&st, "after the frees");
    cr_assert_leq(st.populated, st.active + st.active / 4 + 3 * MiB,
                  "%zu objects kept: %llu bytes in pages, %llu populated", kept, ull(st.active),
                  ull(st.populated));
    cr_assert_leq(st.populated + 8 * MiB, pop_full, "populated %llu of %llu at the peak",
                  ull(st.populated), ull(pop_full));
    cr_assert_leq(rss_after + 8 * MiB, rss_full, "RSS %llu after the frees, %llu before",
                  ull(rss_after), ull(rss_full));
    /* Reused: populated again, on node 0. */
    for (size_t i = 0; i < N; i++) {
        struct pmn_where w = {.struct_size = sizeof(w)};
        if (p[i] != NULL)
            continue;
        p[i] = pmn_arena_malloc(e.a, 4000);
        cr_assert_not_null(p[i]);
        memset(p[i], 0x3a, 4000);
        cr_assert_eq(pmn_where(p[i], 4000, &w), 0);
        cr_assert_eq(pmn_where_pages_on(&w, 0), w.pages);
    }
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(pmn_free(p[i]), 0);
    st = arena_stats(e.a);
    cr_assert_eq(st.objects, 0);
    env_close(&e);
}

/* Objects of @size filling @bytes, written. */
static void **fill_objects(struct pmn_arena *a, size_t size, size_t bytes, size_t *n)
{
    void **p;

    *n = bytes / size;
    p = calloc(*n, sizeof(*p));
    cr_assert_not_null(p);
    for (size_t i = 0; i < *n; i++) {
        p[i] = pmn_arena_malloc(a, size);
        cr_assert_not_null(p[i]);
        pat_fill(p[i], size, i);
    }
    return p;
}

/* A page whose objects another thread freed is empty only once its owner
 * has taken those frees in, which it did only when it next ran out of
 * room in that size class: a producer that had handed everything to a
 * consumer and then trimmed got nothing back (populated, active and RSS
 * stayed at the fill's 12 MiB).  Since 0.12.2 the trim collects the
 * calling thread's pages first, so they go back with it; the memory then
 * serves again, populated again on node 0. */
static void remote_emptied_then_trimmed(struct env *e)
{
    struct pmn_alloc_stats st;
    uint64_t pop_freed, rss_freed, released = 0;
    size_t n;
    void **p;

    skip_unless_4k_pages(e);
    p = fill_objects(e->a, 4000, 12 * MiB, &n);
    usleep(200 * 1000); /* older than the 100 ms a young page keeps anyway */
    cr_assert_eq(free_in_thread(p, n), 0, "frees by the other thread failed");
    st = arena_stats(e->a);
    assert_stats_sane(&st, "all freed by another thread");
    cr_assert_eq(st.objects, 0);
    pop_freed = st.populated;
    rss_freed = rss_bytes();
    cr_assert_eq(pmn_arena_trim(e->a, &released), 0);
    st = arena_stats(e->a);
    assert_stats_sane(&st, "trimmed");
    cr_assert_eq(st.populated, pop_freed - released, "populated %llu -> %llu, %llu reported",
                 ull(pop_freed), ull(st.populated), ull(released));
    cr_assert_geq(released, 10 * MiB, "trim gave back %llu bytes of %llu populated", ull(released),
                  ull(pop_freed));
    cr_assert_leq(st.active, 1 * MiB, "after trim: %llu bytes still in pages", ull(st.active));
    cr_assert_leq(rss_bytes() + 8 * MiB, rss_freed, "RSS %llu after trim, %llu before",
                  ull(rss_bytes()), ull(rss_freed));
    for (size_t i = 0; i < n; i++) {
        struct pmn_where w = {.struct_size = sizeof(w)};
        p[i] = pmn_arena_malloc(e->a, 4000);
        cr_assert_not_null(p[i]);
        pat_fill(p[i], 4000, i);
        cr_assert_eq(pmn_where(p[i], 4000, &w), 0);
        cr_assert_eq(pmn_where_pages_on(&w, 0), w.pages);
    }
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(pat_check(p[i], 4000, i), SIZE_MAX, "object %zu", i);
        cr_assert_eq(pmn_free(p[i]), 0);
    }
    free(p);
}

Test(resident, a_trim_gives_back_pages_other_threads_emptied, .timeout = 120)
{
    struct env e = env_open();

    remote_emptied_then_trimmed(&e);
    env_close(&e);
}

/* The same in a capped arena, whose emptied pages otherwise wait in its
 * pool for any thread: the trim gives their memory back too. */
Test(resident, a_capped_arenas_trim_gives_back_pages_other_threads_emptied, .timeout = 120)
{
    const struct pmn_arena_opts o = {.struct_size = sizeof(o), .cap_bytes = 64 * MiB};
    struct env e = env_open_opts(PMN_BACKING_ANON, &o);

    remote_emptied_then_trimmed(&e);
    env_close(&e);
}

struct trim_by {
    struct pmn_arena *a;
    int err;
};

static void *trim_run(void *arg)
{
    struct trim_by *t = arg;

    t->err = pmn_arena_trim(t->a, NULL);
    return NULL;
}

/* A trim by a third thread cannot touch the owner's pages: the owner
 * gives its pages that other threads emptied back at its next allocation
 * that takes the slow path (a new size class here), as it gives its kept
 * pages. */
Test(resident, the_owner_gives_back_remote_emptied_pages_after_another_threads_trim,
     .timeout = 120)
{
    struct env e = env_open();
    struct trim_by tb = {.a = e.a};
    uint64_t active_freed;
    pthread_t t;
    size_t n;
    void **p, *q;

    p = fill_objects(e.a, 4000, 12 * MiB, &n);
    cr_assert_eq(free_in_thread(p, n), 0, "frees by the other thread failed");
    active_freed = arena_stats(e.a).active;
    cr_assert_geq(active_freed, 10 * MiB, "%llu bytes in pages before any trim",
                  ull(active_freed));
    cr_assert_eq(pthread_create(&t, NULL, trim_run, &tb), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(tb.err, 0);
    cr_assert_geq(arena_stats(e.a).active, 10 * MiB,
                  "another thread's trim took the owner's pages");
    q = pmn_arena_malloc(e.a, 100); /* a class with no page yet: the slow path */
    cr_assert_not_null(q);
    cr_assert_leq(arena_stats(e.a).active, 1 * MiB,
                  "%llu bytes in pages after the owner's slow path", ull(arena_stats(e.a).active));
    cr_assert_eq(pmn_free(q), 0);
    free(p);
    env_close(&e);
}

/* Issue 17: by default the heap keeps the populated memory of emptied
 * pages, up to the small-page cache's bound (32 MiB) beyond the pages in
 * use, for the next pages to take with no populate: a program that frees
 * everything and allocates it again (bench/alloc's random between reps)
 * gave 12 MiB back and populated it again, 4 ns of the row's 17 per pair.
 * pmn_arena_trim() gives it back on request: then populated and RSS fall
 * by what it reports, and the objects still live stay intact on node 0. */
Test(resident, emptied_pages_keep_their_memory_until_trimmed, .timeout = 120)
{
    struct env e = env_open();
    struct pmn_alloc_stats st;
    uint64_t pop_full, pop_freed, rss_freed, released = 0;
    size_t n;
    void **p;

    skip_unless_4k_pages(&e);
    p = fill_objects(e.a, 4000, 12 * MiB, &n);
    pop_full = arena_stats(e.a).populated;
    cr_assert_geq(pop_full, 12 * MiB, "12 MiB of objects, %llu bytes populated", ull(pop_full));
    usleep(200 * 1000); /* older than the 100 ms a young page keeps anyway */
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(pmn_free(p[i]), 0);
    st = arena_stats(e.a);
    assert_stats_sane(&st, "all freed");
    pop_freed = st.populated;
    cr_assert_geq(pop_freed + 1 * MiB, pop_full,
                  "every object freed: populated %llu of %llu, within the 32 MiB cache",
                  ull(pop_freed), ull(pop_full));
    /* The same objects again: no new memory. */
    for (size_t i = 0; i < n; i++) {
        p[i] = pmn_arena_malloc(e.a, 4000);
        cr_assert_not_null(p[i]);
        pat_fill(p[i], 4000, i);
    }
    st = arena_stats(e.a);
    cr_assert_leq(st.populated, pop_full + 256 * KiB,
                  "allocated again: populated %llu, %llu at the first fill", ull(st.populated),
                  ull(pop_full));
    /* Keep one object in every 64 (live across the trim), free the rest. */
    usleep(200 * 1000);
    for (size_t i = 0; i < n; i++)
        if (i % 64 != 0) {
            cr_assert_eq(pmn_free(p[i]), 0);
            p[i] = NULL;
        }
    pop_freed = arena_stats(e.a).populated;
    rss_freed = rss_bytes();
    cr_assert_eq(pmn_arena_trim(e.a, &released), 0);
    st = arena_stats(e.a);
    assert_stats_sane(&st, "trimmed");
    cr_assert_eq(st.populated, pop_freed - released, "populated %llu -> %llu, %llu reported",
                 ull(pop_freed), ull(st.populated), ull(released));
    cr_assert_geq(released, 8 * MiB, "trim gave back %llu bytes of %llu populated", ull(released),
                  ull(pop_freed));
    cr_assert_leq(st.populated, st.active + 1 * MiB, "after trim: %llu in pages, %llu populated",
                  ull(st.active), ull(st.populated));
    cr_assert_leq(rss_bytes() + 6 * MiB, rss_freed, "RSS %llu after trim, %llu before",
                  ull(rss_bytes()), ull(rss_freed));
    for (size_t i = 0; i < n; i += 64) {
        struct pmn_where w = {.struct_size = sizeof(w)};
        cr_assert_eq(pat_check(p[i], 4000, i), SIZE_MAX, "object %zu after trim", i);
        cr_assert_eq(pmn_where(p[i], 4000, &w), 0);
        cr_assert_eq(pmn_where_pages_on(&w, 0), w.pages);
    }
    /* And the memory serves again, populated again on node 0. */
    for (size_t i = 0; i < n; i++) {
        if (p[i] != NULL)
            continue;
        struct pmn_where w = {.struct_size = sizeof(w)};
        p[i] = pmn_arena_malloc(e.a, 4000);
        cr_assert_not_null(p[i]);
        pat_fill(p[i], 4000, i);
        cr_assert_eq(pmn_where(p[i], 4000, &w), 0);
        cr_assert_eq(pmn_where_pages_on(&w, 0), w.pages);
    }
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(pmn_free(p[i]), 0);
    cr_assert_eq(pmn_arena_trim(NULL, &released), -EINVAL);
    cr_assert_eq(pmn_arena_trim(e.a, NULL), 0);
    free(p);
    env_close(&e);
}

/* Emptied pages stay with their thread, free lists and all, within the
 * cache's bound (heap.c page_keep): a size class whose objects come and
 * go reuses its pages instead of giving them back and making them anew
 * (bench/alloc's random at two threads: 16.1 -> 12.5 ns per pair).  They
 * count as active; with no cache they go back as they empty; the
 * thread's own trim gives them back. */
Test(resident, emptied_pages_stay_with_their_thread_within_the_bound, .timeout = 120)
{
    for (int cached = 0; cached < 2; cached++) {
        struct env e = env_small_cache(cached ? 32 * MiB : 0);
        struct pmn_alloc_stats full, freed, again;
        uint64_t released = 0;
        size_t n;
        void **p = fill_objects(e.a, 4000, 8 * MiB, &n);

        full = arena_stats(e.a);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(pmn_free(p[i]), 0);
        freed = arena_stats(e.a);
        assert_stats_sane(&freed, "all freed");
        if (cached)
            cr_assert_geq(freed.active + 1 * MiB, full.active,
                          "32 MiB cache: %llu bytes of pages kept of %llu", ull(freed.active),
                          ull(full.active));
        else
            cr_assert_leq(freed.active, 1 * MiB, "no cache: %llu bytes of pages kept of %llu",
                          ull(freed.active), ull(full.active));
        /* The same objects again take the kept pages: none made anew. */
        for (size_t i = 0; i < n; i++) {
            p[i] = pmn_arena_malloc(e.a, 4000);
            cr_assert_not_null(p[i]);
            pat_fill(p[i], 4000, i);
        }
        again = arena_stats(e.a);
        cr_assert_leq(again.active, full.active + 256 * KiB, "%llu in pages, %llu at first",
                      ull(again.active), ull(full.active));
        for (size_t i = 0; i < n; i++) {
            cr_assert_eq(pat_check(p[i], 4000, i), SIZE_MAX);
            cr_assert_eq(pmn_free(p[i]), 0);
        }
        cr_assert_eq(pmn_arena_trim(e.a, &released), 0);
        freed = arena_stats(e.a);
        cr_assert_leq(freed.active, 1 * MiB, "after the thread's trim: %llu bytes of pages",
                      ull(freed.active));
        cr_assert_leq(freed.populated, freed.active + 1 * MiB, "after trim: %llu populated",
                      ull(freed.populated));
        free(p);
        env_close(&e);
    }
}

/* Another thread's kept pages: pmn_arena_trim() cannot touch that
 * thread's queues, so they go back at its next slow path (heap.c
 * trim_sync, page_keep); here its free that empties pages of another
 * size, which takes no new page (a new page would give them back
 * anyway). */
struct kept_worker {
    struct pmn_arena *a;
    pthread_barrier_t *bar;
    int bad;
};

static void *kept_worker_run(void *arg)
{
    struct kept_worker *w = arg;
    size_t n, m;
    void **p = fill_objects(w->a, 4000, 8 * MiB, &n);
    void **q = fill_objects(w->a, 1000, 256 * KiB, &m); /* four pages, live */

    for (size_t i = 0; i < n; i++)
        w->bad += pmn_free(p[i]) != 0;
    free(p);
    pthread_barrier_wait(w->bar); /* 1: pages kept */
    pthread_barrier_wait(w->bar); /* 2: the main thread trimmed */
    for (size_t i = 0; i < m; i++)
        w->bad += pmn_free(q[i]) != 0;
    free(q);
    pthread_barrier_wait(w->bar); /* 3: looked at the trim */
    pthread_barrier_wait(w->bar); /* 4: the main thread checked */
    return NULL;
}

Test(resident, another_thread_s_kept_pages_go_back_after_a_trim, .timeout = 120)
{
    struct env e = env_open();
    pthread_barrier_t bar;
    struct kept_worker w = {.a = e.a, .bar = &bar};
    struct pmn_alloc_stats kept, trimmed, synced;
    pthread_t t;

    cr_assert_eq(pthread_barrier_init(&bar, NULL, 2), 0);
    cr_assert_eq(pthread_create(&t, NULL, kept_worker_run, &w), 0);
    pthread_barrier_wait(&bar);
    kept = arena_stats(e.a);
    cr_assert_geq(kept.active, 6 * MiB, "the worker kept %llu bytes of pages", ull(kept.active));
    cr_assert_eq(pmn_arena_trim(e.a, NULL), 0);
    trimmed = arena_stats(e.a);
    cr_assert_geq(trimmed.active, 6 * MiB, "the worker's pages are its own: %llu after trim",
                  ull(trimmed.active));
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);
    synced = arena_stats(e.a);
    cr_assert_leq(synced.active, 2 * MiB,
                  "the worker's next slow path after the trim: %llu bytes of pages still kept",
                  ull(synced.active));
    pthread_barrier_wait(&bar);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(w.bad, 0);
    pthread_barrier_destroy(&bar);
    env_close(&e);
}

/* A thread's free cache of a class holds up to a sixty-fourth of the
 * small cache (512 KiB by default; 128 KiB before 0.9.1), 1 MiB with the
 * 64 MiB asked here: sixteen 60000-byte objects freed stay there, and
 * keep their four pages of four blocks in use, until a trim gives them
 * back: the caller's at once, another thread's at its next slow path.
 * Without that, a trim left what the caches held (and the pages they pin)
 * in every class a thread had freed into. */
struct fcache_worker {
    struct pmn_arena *a;
    pthread_barrier_t *bar;
    int bad;
};

static void free_into_the_cache(struct pmn_arena *a, int *bad)
{
    size_t n;
    void **p = fill_objects(a, 60000, 16 * 60000, &n); /* 4 pages of the 64 KiB class */

    for (size_t i = 0; i < n; i++)
        *bad += pmn_free(p[i]) != 0;
    free(p);
}

static void *fcache_worker_run(void *arg)
{
    struct fcache_worker *w = arg;
    void *q;

    free_into_the_cache(w->a, &w->bad);
    pthread_barrier_wait(w->bar);    /* 1: freed */
    pthread_barrier_wait(w->bar);    /* 2: the main thread trimmed */
    q = pmn_arena_malloc(w->a, 100); /* a class never used: the slow path */
    w->bad += q == NULL || pmn_free(q) != 0;
    pthread_barrier_wait(w->bar); /* 3: looked at the trim */
    pthread_barrier_wait(w->bar); /* 4: the main thread checked */
    return NULL;
}

Test(resident, a_trim_empties_the_free_caches, .timeout = 120)
{
    struct env e = env_small_cache(64 * MiB);
    pthread_barrier_t bar;
    struct fcache_worker w = {.a = e.a, .bar = &bar};
    struct pmn_alloc_stats st;
    uint64_t base = arena_stats(e.a).active;
    int bad = 0;
    pthread_t t;

    free_into_the_cache(e.a, &bad);
    cr_assert_eq(bad, 0);
    st = arena_stats(e.a);
    cr_assert_eq(st.objects, 0);
    cr_assert_geq(st.active, base + 1 * MiB, "16 blocks cached: %llu bytes of pages",
                  ull(st.active - base));
    cr_assert_eq(pmn_arena_trim(e.a, NULL), 0);
    st = arena_stats(e.a);
    /* The current page and the spare of the class stay. */
    cr_assert_leq(st.active, base + 512 * KiB, "after the caller's trim: %llu bytes of pages",
                  ull(st.active - base));

    cr_assert_eq(pthread_barrier_init(&bar, NULL, 2), 0);
    cr_assert_eq(pthread_create(&t, NULL, fcache_worker_run, &w), 0);
    pthread_barrier_wait(&bar);
    cr_assert_eq(pmn_arena_trim(e.a, NULL), 0);
    st = arena_stats(e.a);
    cr_assert_geq(st.active, base + 1536 * KiB, "the worker's caches are its own: %llu after trim",
                  ull(st.active - base));
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);
    st = arena_stats(e.a);
    /* Both threads' current page and spare, and the worker's 100-byte page. */
    cr_assert_leq(st.active, base + 2 * 512 * KiB + 64 * KiB,
                  "after the worker's next slow path: %llu bytes of pages", ull(st.active - base));
    pthread_barrier_wait(&bar);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(w.bad, 0);
    pthread_barrier_destroy(&bar);
    env_close(&e);
}

/* The cache is bounded: with 4 MiB asked, a heap that frees 24 MiB keeps
 * at most that (and the slack) populated beyond its pages in use. */
Test(resident, the_small_cache_keeps_no_more_than_its_bound, .timeout = 120)
{
    struct env e = env_small_cache(4 * MiB);
    struct pmn_alloc_stats st;
    size_t n;
    void **p = fill_objects(e.a, 4000, 24 * MiB, &n);

    usleep(200 * 1000);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(pmn_free(p[i]), 0);
    st = arena_stats(e.a);
    assert_stats_sane(&st, "all freed");
    /* The thread's current and spare pages stay active; a page retiring
     * is purged whole, so the bound is exceeded by less than one. */
    cr_assert_leq(st.populated, st.active + 4 * MiB + 2 * MiB + 1 * MiB,
                  "4 MiB cache: %llu in pages, %llu populated", ull(st.active), ull(st.populated));
    cr_assert_leq(st.resident, (2 + 1 + 1) * 4 * MiB + 4 * MiB,
                  "retain 2 and a 4 MiB cache: %llu bytes of extents", ull(st.resident));
    free(p);
    env_close(&e);
}

/* A capped arena caches no more than its cap leaves (heap.c keep_bytes):
 * populated memory is what a cap bounds.  8 MiB of 4000-byte objects, every
 * other one freed (pages of one slice emptied here and there), then 20 KiB
 * objects, whose pages of two slices do not fit the holes, up to the cap. */
Test(resident, a_capped_arena_caches_within_its_cap, .timeout = 120)
{
    const struct pmn_arena_opts o = {.struct_size = sizeof(o), .retain = 2, .cap_bytes = 8 * MiB};
    struct env e = env_open_opts(PMN_BACKING_ANON, &o);
    enum { N = 4096 };
    static void *p[N], *q[N];
    struct pmn_alloc_stats st;
    size_t n = 0, m = 0;

    while (n < N && (p[n] = pmn_arena_malloc(e.a, 4000)) != NULL)
        memset(p[n++], 1, 4000);
    cr_assert_gt(n, 1000, "only %zu objects under an 8 MiB cap", n);
    usleep(200 * 1000);
    /* Free whole pages, every other one (16 objects of 4000 bytes a page). */
    for (size_t i = 0; i < n; i++)
        if ((i / 16) % 2 == 1) {
            cr_assert_eq(pmn_free(p[i]), 0);
            p[i] = NULL;
        }
    while (m < N && (q[m] = pmn_arena_malloc(e.a, 20000)) != NULL)
        memset(q[m++], 2, 20000);
    st = arena_stats(e.a);
    assert_stats_sane(&st, "capped, refilled");
    cr_assert_gt(m, 0);
    cr_assert_leq(st.populated, 8 * MiB + 3 * MiB,
                  "cap 8 MiB: %llu bytes populated, %llu in pages, %zu + %zu objects",
                  ull(st.populated), ull(st.active), n, m);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(pmn_free(p[i]), 0);
    for (size_t i = 0; i < m; i++)
        cr_assert_eq(pmn_free(q[i]), 0);
    env_close(&e);
}

/* pmn_arena_trim() while other threads allocate and free: it takes the
 * heap lock and only free slices, so every object stays intact (TSan's
 * run checks the locking). */
struct trim_race {
    struct pmn_arena *a;
    atomic_int stop;
    unsigned seed;
    int bad;
};

static void *trim_race_worker(void *arg)
{
    struct trim_race *t = arg;
    enum { LIVE = 256 };
    void *live[LIVE] = {0};
    size_t size[LIVE] = {0};
    unsigned s = t->seed;

    while (!atomic_load(&t->stop)) {
        unsigned k = (s = s * 1103515245u + 12345u) % LIVE;
        if (live[k] != NULL) {
            if (pat_check(live[k], size[k], k) != SIZE_MAX)
                t->bad++;
            pmn_free(live[k]);
        }
        size[k] = 16 + (s >> 8) % 70000;
        live[k] = pmn_arena_malloc(t->a, size[k]);
        if (live[k] == NULL)
            t->bad++;
        else
            pat_fill(live[k], size[k], k);
    }
    for (unsigned k = 0; k < LIVE; k++)
        if (live[k] != NULL) {
            if (pat_check(live[k], size[k], k) != SIZE_MAX)
                t->bad++;
            pmn_free(live[k]);
        }
    return NULL;
}

Test(resident, trim_while_threads_allocate, .timeout = 120)
{
    struct env e = env_open();
    struct trim_race t[2] = {{.a = e.a, .seed = 1}, {.a = e.a, .seed = 2}};
    pthread_t th[2];
    uint64_t released, total = 0;

    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, trim_race_worker, &t[i]), 0);
    for (int r = 0; r < 200; r++) {
        cr_assert_eq(pmn_arena_trim(e.a, &released), 0);
        total += released;
        usleep(1000);
    }
    for (int i = 0; i < 2; i++) {
        atomic_store(&t[i].stop, 1);
        cr_assert_eq(pthread_join(th[i], NULL), 0);
        cr_assert_eq(t[i].bad, 0, "worker %d: %d objects lost or corrupted", i, t[i].bad);
    }
    cr_assert_eq(arena_stats(e.a).objects, 0);
    cr_log_info("trims gave back %llu bytes in all", ull(total));
    env_close(&e);
}

/* Trims while a consumer frees what a producer allocates: the producer's
 * own trims take the consumer's frees in (collect_own) while more arrive
 * on its pages' stacks and its delayed list, and the main thread's trims
 * ask it to at its next slow path.  Every object reaches the consumer
 * intact and is freed once (TSan's run checks the races). */
enum { HO_RING = 1024, HO_OBJECTS = 200000 };

struct handoff {
    struct pmn_arena *a;
    _Atomic(void *) ring[HO_RING];
    atomic_size_t head, tail;
    atomic_int done;
    int bad;
};

static void *handoff_producer(void *arg)
{
    struct handoff *h = arg;
    unsigned s = 7;

    for (size_t i = 0; i < HO_OBJECTS; i++) {
        size_t size = 16 + (s = s * 1103515245u + 12345u) % 5000;
        size_t *p = pmn_arena_malloc(h->a, size);

        if (p == NULL) {
            h->bad++;
            break;
        }
        p[0] = size;
        pat_fill(p + 1, size - sizeof(size_t), i);
        while (atomic_load(&h->head) - atomic_load(&h->tail) == HO_RING)
            sched_yield();
        atomic_store(&h->ring[atomic_load(&h->head) % HO_RING], p);
        atomic_fetch_add(&h->head, 1);
        if (i % 512 == 0 && pmn_arena_trim(h->a, NULL) != 0)
            h->bad++;
    }
    atomic_store(&h->done, 1);
    return NULL;
}

static void *handoff_consumer(void *arg)
{
    struct handoff *h = arg;
    size_t i = 0;

    for (;;) {
        size_t *p;

        if (atomic_load(&h->tail) == atomic_load(&h->head)) {
            if (atomic_load(&h->done) && atomic_load(&h->tail) == atomic_load(&h->head))
                break;
            sched_yield();
            continue;
        }
        p = atomic_load(&h->ring[atomic_load(&h->tail) % HO_RING]);
        atomic_fetch_add(&h->tail, 1);
        if (pat_check(p + 1, p[0] - sizeof(size_t), i++) != SIZE_MAX)
            h->bad++;
        if (pmn_free(p) != 0)
            h->bad++;
    }
    if (i != HO_OBJECTS)
        h->bad++;
    return NULL;
}

Test(resident, trims_while_another_thread_frees_a_producers_objects, .timeout = 300)
{
    struct env e = env_open();
    struct handoff *h = calloc(1, sizeof(*h));
    pthread_t pt, ct;
    int trims = 0;

    cr_assert_not_null(h);
    h->a = e.a;
    cr_assert_eq(pthread_create(&pt, NULL, handoff_producer, h), 0);
    cr_assert_eq(pthread_create(&ct, NULL, handoff_consumer, h), 0);
    while (!atomic_load(&h->done)) {
        cr_assert_eq(pmn_arena_trim(e.a, NULL), 0);
        trims++;
        usleep(2000);
    }
    cr_assert_eq(pthread_join(pt, NULL), 0);
    cr_assert_eq(pthread_join(ct, NULL), 0);
    cr_assert_eq(h->bad, 0, "%d objects lost, corrupted or refused", h->bad);
    cr_assert_eq(arena_stats(e.a).objects, 0);
    cr_log_info("%d trims beside the handoff", trims);
    free(h);
    env_close(&e);
}

/* A slab's emptied pages: kept by default, given back by pmn_slab_trim();
 * PMN_SLAB_CACHE with 0 gives them back as they empty; unknown flags are
 * refused. */
Test(resident, slab_trim_and_cache, .timeout = 120)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing *b = backing_on0(ctx, PMN_BACKING_ANON);
    enum { N = 3072 }; /* 12 MiB of 4 KiB objects */
    static void *p[N];
    uint64_t released = 0;

    for (int pass = 0; pass < 2; pass++) {
        struct pmn_slab_opts o = {.struct_size = sizeof(o), .retain = 1};
        struct pmn_slab *s = NULL;
        struct pmn_alloc_stats st = {.struct_size = sizeof(st)};
        uint64_t full;

        if (pass == 1) {
            o.flags = PMN_SLAB_CACHE;
            o.cache_bytes = 0;
        }
        cr_assert_eq(pmn_slab_new_opts(b, 4096, &o, &s), 0);
        for (size_t i = 0; i < N; i++) {
            p[i] = pmn_slab_alloc(s);
            cr_assert_not_null(p[i]);
            memset(p[i], 0x11, 4096);
        }
        cr_assert_eq(pmn_slab_stats(s, &st), 0);
        full = st.populated;
        usleep(200 * 1000);
        cr_assert_eq(pmn_slab_free_bulk(s, p, N), 0);
        cr_assert_eq(pmn_slab_stats(s, &st), 0);
        if (pass == 0)
            cr_assert_geq(st.populated + 1 * MiB, full, "default cache: %llu of %llu kept",
                          ull(st.populated), ull(full));
        else
            cr_assert_leq(st.populated, st.active + 3 * MiB,
                          "no cache: %llu populated, %llu in pages", ull(st.populated),
                          ull(st.active));
        cr_assert_eq(pmn_slab_trim(s, &released), 0);
        cr_assert_eq(pmn_slab_stats(s, &st), 0);
        cr_assert_leq(st.populated, st.active + 1 * MiB, "pass %d trimmed: %llu populated", pass,
                      ull(st.populated));
        if (pass == 0)
            cr_assert_geq(released, 8 * MiB);
        pmn_slab_destroy(s);
    }
    {
        struct pmn_slab_opts o = {.struct_size = sizeof(o), .flags = 1u << 7};
        struct pmn_slab *s = NULL;
        cr_assert_eq(pmn_slab_new_opts(b, 64, &o, &s), -EINVAL);
        cr_assert_null(s);
        cr_assert_eq(pmn_slab_trim(NULL, &released), -EINVAL);
    }
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
}

/* A page that empties within 100 ms of being taken keeps its memory (heap.c
 * purge_wanted): a heap whose pages churn, a free retiring a page and the
 * next malloc taking one whose slices do not fit the freed ones, gave the
 * memory back and populated it again on every cycle (bench/alloc's random
 * twice as slow).  The same 16 MiB as above, freed at once: still
 * populated.  On a host so slow (valgrind) that filling takes 90 ms or more
 * the pages may be old enough to go, and the check says so and stops. */
Test(resident, young_pages_keep_their_memory, .timeout = 120)
{
    enum { N = 4096 };
    struct env e = env_open();
    static void *p[N];
    struct pmn_alloc_stats st;
    uint64_t pop_full;
    struct timespec t0, t1;
    double ms;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; i < N; i++) {
        p[i] = pmn_arena_malloc(e.a, 4000);
        cr_assert_not_null(p[i]);
        memset(p[i], 0x5c, 4000);
    }
    pop_full = arena_stats(e.a).populated;
    for (size_t i = 0; i < N; i++) {
        if (((uintptr_t)p[i] & (256 * KiB - 1)) < pmn_usable_size(p[i]))
            continue;
        cr_assert_eq(pmn_free(p[i]), 0);
        p[i] = NULL;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    st = arena_stats(e.a);
    ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    if (ms >= 90) {
        fprintf(stderr, "filling and freeing took %.0f ms: pages old enough to go, not checked\n",
                ms);
    } else {
        cr_assert_geq(st.populated + MiB, pop_full,
                      "populated %llu of %llu at the peak after %.1f ms: young pages gave "
                      "their memory back",
                      ull(st.populated), ull(pop_full), ms);
    }
    for (size_t i = 0; i < N; i++)
        if (p[i] != NULL)
            cr_assert_eq(pmn_free(p[i]), 0);
    env_close(&e);
}

/* A page on never-populated slices populates only the blocks its first
 * extend threads (4 KiB for a small class), not 16 KiB ahead (heap.c,
 * page_populate): one 16-byte object in each of eight classes holds
 * about 8 x 4 KiB plus the header.  Before, the eight
 * first steps alone took 128 KiB (144 KiB populated in all). */
Test(resident, a_fresh_page_populates_its_first_blocks_only, .timeout = 60)
{
    struct env e = env_open();
    void *p[8];
    struct pmn_alloc_stats st;

    skip_unless_4k_pages(&e);
    for (size_t i = 0; i < 8; i++) {
        p[i] = pmn_arena_malloc(e.a, 16 * (i + 1)); /* classes 16 to 128 bytes */
        cr_assert_not_null(p[i]);
        memset(p[i], 0x11, 16 * (i + 1));
    }
    st = arena_stats(e.a);
    assert_stats_sane(&st, "eight classes");
    cr_assert_lt(st.populated, 8 * 16 * KiB,
                 "eight objects of 16 to 128 bytes: %llu bytes populated", ull(st.populated));
    for (size_t i = 0; i < 8; i++)
        cr_assert_eq(pmn_free(p[i]), 0);
    env_close(&e);
}

/* A freed large extent that no allocation reuses for 100 ms goes back to
 * the backing at the next large call (large.c, cache_age): before, it
 * stayed, up to the 64 MiB bound, with the pages its object touched.
 * mstress (a few hundred large blocks in 0.6 s) peaked at 101.9 MiB. */
Test(resident, unused_large_extents_age_out, .timeout = 60)
{
    struct env e = env_open();
    uint64_t base = backing_mapped(e.b), first, after;
    char *p = pmn_arena_malloc(e.a, 1 * MiB), *q;

    cr_assert_not_null(p);
    memset(p, 0x22, 1 * MiB);
    first = backing_mapped(e.b) - base;
    cr_assert_geq(first, 1 * MiB);
    cr_assert_eq(pmn_free(p), 0);
    cr_assert_eq(backing_mapped(e.b) - base, first, "the freed extent is cached");
    /* Older than 100 ms whatever the host's speed: sleeping longer only
     * makes it older. */
    usleep(200 * 1000);
    q = pmn_arena_malloc(e.a, 8 * MiB); /* does not fit the cached extent */
    cr_assert_not_null(q);
    after = backing_mapped(e.b) - base;
    cr_assert_lt(after, first + 8 * MiB,
                 "%llu bytes mapped: the %llu-byte extent unused for 200 ms is still cached",
                 ull(after), ull(first));
    cr_assert_eq(pmn_free(q), 0);
    env_close(&e);
}

/* A cache the caller sized (PMN_ARENA_LARGE_CACHE) keeps its extents
 * however old, up to its bound: the extent freed 200 ms ago is reused,
 * not mapped again. */
Test(resident, a_sized_large_cache_does_not_age, .timeout = 60)
{
    struct pmn_arena_opts o = {
        .struct_size = sizeof(o), .flags = PMN_ARENA_LARGE_CACHE, .large_cache_bytes = 64 * MiB};
    struct env e = env_open_opts(PMN_BACKING_ANON, &o);
    struct pmn_backing_stats bs = {.struct_size = sizeof(bs)};
    uint64_t maps;
    char *p = pmn_arena_malloc(e.a, 1 * MiB);

    cr_assert_not_null(p);
    cr_assert_eq(pmn_free(p), 0);
    usleep(200 * 1000);
    cr_assert_eq(pmn_backing_stats(e.b, &bs), 0);
    maps = bs.maps;
    p = pmn_arena_malloc(e.a, 1 * MiB);
    cr_assert_not_null(p);
    cr_assert_eq(pmn_backing_stats(e.b, &bs), 0);
    cr_assert_eq(bs.maps, maps, "the cached extent was mapped again");
    cr_assert_eq(pmn_free(p), 0);
    env_close(&e);
}

/* A thread that moves on from a size keeps up to two empty pages of it
 * (the current one and a spare, so a size that comes and goes costs no
 * lock); when it needs a page of another size and the heap has no free
 * populated slices, those pages give their slices back first (heap.c,
 * give_own_empty).  Eight sizes one after the other, two full pages each,
 * all freed, then a megabyte of 512-byte objects: about 1 MiB populated in
 * all (each size reuses the pages of the one before).  Before, every size
 * kept its two pages: 2.1 MiB. */
Test(resident, a_new_size_reuses_the_thread_s_empty_pages, .timeout = 60)
{
    enum { N512 = 2048 };
    struct env e = env_open();
    static void *p[N512];
    uint64_t pop_before, pop_after;

    for (size_t s = 1; s <= 8; s++) {
        size_t size = s * 1024, n = 2 * (64 * KiB / size);
        for (size_t i = 0; i < n; i++) {
            p[i] = pmn_arena_malloc(e.a, size);
            cr_assert_not_null(p[i]);
            memset(p[i], (int)s, size);
        }
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(pmn_free(p[i]), 0);
    }
    pop_before = arena_stats(e.a).populated; /* for the message */
    for (size_t i = 0; i < N512; i++) {
        p[i] = pmn_arena_malloc(e.a, 512);
        cr_assert_not_null(p[i]);
        memset(p[i], 0x33, 512);
    }
    pop_after = arena_stats(e.a).populated;
    cr_assert_lt(pop_after, 1 * MiB + 512 * KiB,
                 "1 MiB of 512-byte objects after eight sizes' pages: %llu bytes populated, "
                 "%llu before the 512-byte objects",
                 ull(pop_after), ull(pop_before));
    for (size_t i = 0; i < N512; i++)
        cr_assert_eq(pmn_free(p[i]), 0);
    {
        struct pmn_alloc_stats st = arena_stats(e.a);
        assert_stats_sane(&st, "after");
        cr_assert_eq(st.objects, 0);
    }
    env_close(&e);
}

/* A page populates up to the end of its last block, not of its last
 * slice (heap.c, page_populate): four 40 KiB objects fill a page of three
 * 64 KiB slices whose last 32 KiB no block reaches.  Before, the page's
 * growth steps populated that tail too: 204 KiB in all, now 172. */
Test(resident, a_page_s_tail_is_not_populated, .timeout = 60)
{
    struct env e = env_open();
    void *p[4];
    struct pmn_alloc_stats st;

    skip_unless_4k_pages(&e);
    for (size_t i = 0; i < 4; i++) {
        p[i] = pmn_arena_malloc(e.a, 40960);
        cr_assert_not_null(p[i]);
        memset(p[i], 0x44, 40960);
    }
    st = arena_stats(e.a);
    cr_assert_leq(st.populated, 4 * 40960 + 32 * KiB, "four 40 KiB objects: %llu bytes populated",
                  ull(st.populated));
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(pmn_free(p[i]), 0);
    env_close(&e);
}

/* ---- the free cache (heap.c, "Free cache") ---- */

struct cached_frees {
    struct pmn_arena *a;
    size_t pages;
    int err;
};

/* Fills @pages pages of 1 KiB blocks, then frees the first block of each
 * page first (the free cache takes those: one per page, so that each
 * would keep its page from emptying) and every other block after. */
static void *free_one_per_page_first(void *arg)
{
    struct cached_frees *c = arg;
    enum { PER_PAGE = 64 }; /* 1 KiB blocks in a 64 KiB page */
    size_t n = c->pages * PER_PAGE;
    void **p = calloc(n, sizeof(*p));

    if (p == NULL) {
        c->err = -ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < n && c->err == 0; i++)
        if ((p[i] = pmn_arena_malloc(c->a, 1024)) == NULL)
            c->err = -ENOMEM;
    for (size_t k = 0; k < 2 && c->err == 0; k++)
        for (size_t i = 0; i < n && c->err == 0; i++)
            if ((i % PER_PAGE == 0) == (k == 0) && p[i] != NULL)
                c->err = pmn_free(p[i]);
    free(p);
    return NULL;
}

/* A thread's free cache goes back to its pages when the thread exits:
 * otherwise the blocks it cached keep their pages from emptying, and an
 * orphaned theap that no thread adopts holds them for good.  48 pages of
 * 1 KiB blocks, the first block of each freed first (cached): after the
 * thread's exit its pages are empty and all but the current one and the
 * spare are back in the heap.  Without the flush at unbind, 3 MiB stayed
 * in pages. */
Test(resident, a_thread_s_free_cache_goes_back_when_it_exits, .timeout = 60)
{
    struct env e = env_open();
    struct cached_frees c = {.a = e.a, .pages = 48};
    struct pmn_alloc_stats st;
    uint64_t active0;
    pthread_t t;

    active0 = arena_stats(e.a).active;
    cr_assert_eq(pthread_create(&t, NULL, free_one_per_page_first, &c), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(c.err, 0, "the thread's allocations and frees: %s", pmn_strerror(c.err));
    st = arena_stats(e.a);
    assert_stats_sane(&st, "after the thread");
    cr_assert_eq(st.objects, 0);
    cr_assert_leq(st.active, active0 + 4 * 64 * KiB,
                  "48 pages filled and emptied by an exited thread: %llu bytes still in pages "
                  "(%llu before it)",
                  ull(st.active), ull(active0));
    env_close(&e);
}

/* A reset drops every thread's free cache with the pages: a block cached
 * before the reset is not handed out again from the cache while its page,
 * made anew on the same slices, hands it out too.  The arena's first block
 * is freed (cached), the arena reset, and 256 blocks of the same size
 * allocated: all distinct, and counted once each. */
Test(resident, a_reset_drops_the_free_cache, .timeout = 60)
{
    enum { N = 256 };
    struct env e = env_open();
    void *first = pmn_arena_malloc(e.a, 64), *p[N];

    cr_assert_not_null(first);
    cr_assert_eq(pmn_free(first), 0);
    pmn_arena_reset(e.a);
    for (size_t i = 0; i < N; i++) {
        p[i] = pmn_arena_malloc(e.a, 64);
        cr_assert_not_null(p[i]);
        memset(p[i], (int)i, 64);
        for (size_t j = 0; j < i; j++)
            cr_assert_neq(p[i], p[j], "block %p handed out twice after the reset", p[i]);
    }
    cr_assert_eq(arena_stats(e.a).objects, N);
    for (size_t i = 0; i < N; i++)
        cr_assert_eq(pmn_free(p[i]), 0);
    cr_assert_eq(arena_stats(e.a).objects, 0);
    env_close(&e);
}
