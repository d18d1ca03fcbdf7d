/*
 * alloc.c - allocator benchmark: libpmnode's arena and slab against glibc,
 * jemalloc, mimalloc, tcmalloc and memkind, side by side, in one run.
 *
 * Every implementation runs in this one process.  The peers come from
 * Debian's shared libraries, opened with dlopen(RTLD_LOCAL) (only those
 * --impl names, when it is given) and called
 * through their prefixed entry points (jemalloc mallocx/dallocx, mimalloc
 * mi_malloc/mi_free, tcmalloc tc_malloc/tc_free, memkind memkind_malloc/
 * memkind_free), so no LD_PRELOAD is involved and glibc's malloc stays the
 * process's malloc.  Debian's jemalloc and mimalloc use initial-exec TLS,
 * which dlopen can only place in glibc's surplus static TLS: the program
 * re-executes itself once with GLIBC_TUNABLES=glibc.rtld.optional_static_tls
 * raised before it opens them.  memkind-fixed is a kind made with
 * memkind_create_fixed() over a libpmnode region bound to the same node as
 * the arena and slab (pmn_region_map), so it carves the same memory.
 *
 * Workloads (ns per alloc+free pair, touching one byte of each object):
 *
 *   fixed-64, fixed-2k  malloc(n) + free in a loop, 1 and 2 threads
 *   random              16 B..64 KiB log-uniform sizes, 1000 live objects
 *                       per thread, each op frees a random one and allocates
 *                       a new one; sizes and slots pre-generated with a fixed
 *                       seed (no RNG inside the timing); 1 and 2 threads
 *   prodcons-2k         thread A allocates, thread B frees, through a
 *                       single-producer single-consumer ring (cross-thread
 *                       frees); ns per object
 *   bulk-2k             32 objects of 2 KiB allocated, then 32 freed
 *                       (pmn-slab: pmn_slab_alloc_bulk/free_bulk; the others
 *                       32 calls each way); ns per object; 1 and 2 threads;
 *                       --bulk-size BYTES runs them with another object size
 *                       (the stride between blocks decides which L1 sets
 *                       their first lines share: bench/README.md, "0.12.0"),
 *                       and JSON's "bulk_size" says which
 *   fill-64             (only when --workload names it) --fill-size bytes
 *                       of 64 B objects allocated one after another, all
 *                       live, then freed: ns per object, 1 thread, no
 *                       warm-up; a heap that holds many full pages (a
 *                       cache, a database) pays here for whatever grows
 *                       with them (bench/README.md, "0.12.1")
 *
 * Each workload body is instantiated once per implementation (the calls
 * are direct, as an application would make them, not through a dispatch
 * table).  Two worker threads pinned to the first two allowed CPUs run the
 * cells; each thread warms its caches untimed, meets the other at a spin
 * barrier, and CLOCK_MONOTONIC runs from there to the last thread's end.
 * The second run of every cell (the first is a warm-up: it pays the first
 * touch of the memory the allocator takes) calibrates the number of
 * operations so that the reps of a cell take about --cell-ms together;
 * implementations then
 * run round-robin (rep 1 of each, rep 2 of each...) so slow drift of a
 * noisy host hits all of them alike.  The figure is the median rep.
 *
 * A benchmark, not a test: it prints numbers and goal lines and never
 * fails on them.  Exit status: 0 every cell ran, 1 a cell failed (an
 * allocation returned NULL), 2 bad usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pmnode.h"

#define MAX_REPS 51
#define LIVE 1000          /* live objects per thread in the random workload */
#define RND_LEN (1u << 16) /* pre-generated sizes and slots per thread */
#define BULK 32
#define RING_CAP 1024u
#define FIXED_BUF_DEFAULT (256u << 20)

/* ---- implementations ------------------------------------------------- */

enum impl { I_ARENA, I_SLAB, I_GLIBC, I_JE, I_MI, I_TC, I_MK_DEFAULT, I_MK_FIXED, NIMPL };

static const char *const impl_name[NIMPL] = {
    "pmn-arena", "pmn-slab", "glibc",           "jemalloc",
    "mimalloc",  "tcmalloc", "memkind-default", "memkind-fixed",
};

/* Entry points, resolved at start-up. */
static void *(*je_malloc_p)(size_t);
static void (*je_free_p)(void *);
static void *(*mi_malloc_p)(size_t);
static void (*mi_free_p)(void *);
static void *(*tc_malloc_p)(size_t);
static void (*tc_free_p)(void *);
static void *(*mk_malloc_p)(void *kind, size_t);
static void (*mk_free_p)(void *kind, void *);

struct env {
    const char *skip[NIMPL]; /* why an implementation is unavailable */
    int node;
    size_t fixed_buf;
    size_t bulk_size; /* the bulk rows' object size (--bulk-size) */
    size_t fill_size; /* fill-64's bytes of objects (--fill-size) */
    struct pmn_ctx *ctx;
    struct pmn_backing *backing;
    struct pmn_region *fixed_region; /* memkind-fixed's memory */
    struct pmn_arena *arena;
    struct pmn_slab *slab64, *slab2k, *slab_bulk; /* slab_bulk: slab2k unless --bulk-size */
    void *mk_default, *mk_fixed;
    int (*mk_destroy)(void *kind);
};

/* The wrappers all take (ctx, size) and (ctx, p); ctx is the arena, the
 * slab or the memkind kind.  Inlined into each workload instantiation. */
#define WRAP(id, ALLOC, FREE)                           \
    static inline void *id##_alloc(void *ctx, size_t n) \
    {                                                   \
        (void)ctx;                                      \
        (void)n;                                        \
        return ALLOC;                                   \
    }                                                   \
    static inline void id##_free(void *ctx, void *p)    \
    {                                                   \
        (void)ctx;                                      \
        FREE;                                           \
    }

WRAP(arena, pmn_arena_malloc((struct pmn_arena *)ctx, n), pmn_free(p))
WRAP(slab, pmn_slab_alloc((struct pmn_slab *)ctx), pmn_slab_free((struct pmn_slab *)ctx, p))
WRAP(glibc, malloc(n), free(p))
/* Each peer is called as a program linked with it calls it, as the arena,
 * the slab and glibc are called here: a direct call to a stub that jumps
 * through the address (the PLT's shape; each stub compiles to one
 * `jmp *ptr(%rip)`).  Called straight through the pointers dlsym gave (one
 * indirect call), the peers paid more per call than the arena through its
 * PLT: the arena built to call through its GOT the same way read 4.0 ns in
 * fixed-64 where through the PLT it read 3.7-3.9, tcmalloc 3.0 in both
 * (bench/README.md, "0.12.2"). */
#define STUB(name, ret, params, args)                       \
    static __attribute__((noinline)) ret name##_stub params \
    {                                                       \
        return name##_p args;                               \
    }
#define STUB_VOID(name, params, args)                        \
    static __attribute__((noinline)) void name##_stub params \
    {                                                        \
        name##_p args;                                       \
    }
STUB(je_malloc, void *, (size_t n), (n))
STUB_VOID(je_free, (void *p), (p))
STUB(mi_malloc, void *, (size_t n), (n))
STUB_VOID(mi_free, (void *p), (p))
STUB(tc_malloc, void *, (size_t n), (n))
STUB_VOID(tc_free, (void *p), (p))
STUB(mk_malloc, void *, (void *k, size_t n), (k, n))
STUB_VOID(mk_free, (void *k, void *p), (k, p))

WRAP(je, je_malloc_stub(n), je_free_stub(p))
WRAP(mi, mi_malloc_stub(n), mi_free_stub(p))
WRAP(tc, tc_malloc_stub(n), tc_free_stub(p))
WRAP(mk, mk_malloc_stub(ctx, n), mk_free_stub(ctx, p))

typedef void *(*alloc_fn)(void *, size_t);
typedef void (*free_fn)(void *, void *);
typedef size_t (*bulk_alloc_fn)(void *, void **, size_t, size_t);
typedef void (*bulk_free_fn)(void *, void **, size_t);

/* ---- timing, barrier, ring ------------------------------------------- */

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static inline void touch(void *p, uint64_t i)
{
    *(volatile unsigned char *)p = (unsigned char)i;
}

struct ring {
    _Alignas(64) _Atomic uint64_t head; /* written by the producer */
    _Alignas(64) _Atomic uint64_t tail; /* written by the consumer */
    _Alignas(64) void *slot[RING_CAP];
};

/* Each side publishes its index every RING_BATCH items, and before it
 * waits, so the ring's shared lines move once per batch rather than once
 * per object: the figure is the allocators' cross-thread cost, not the
 * ring's. */
#define RING_BATCH 16u

static inline void ring_push(struct ring *r, void *p, uint64_t *head, uint64_t *tail_seen)
{
    while (*head - *tail_seen == RING_CAP) {
        atomic_store_explicit(&r->head, *head, memory_order_release);
        *tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (*head - *tail_seen == RING_CAP)
            cpu_relax();
    }
    r->slot[*head % RING_CAP] = p;
    if (++*head % RING_BATCH == 0 || !p)
        atomic_store_explicit(&r->head, *head, memory_order_release);
}

static inline void ring_flush(struct ring *r, uint64_t head)
{
    atomic_store_explicit(&r->head, head, memory_order_release);
}

static inline void *ring_pop(struct ring *r, uint64_t *tail, uint64_t *head_seen)
{
    while (*tail == *head_seen) {
        atomic_store_explicit(&r->tail, *tail, memory_order_release);
        *head_seen = atomic_load_explicit(&r->head, memory_order_acquire);
        if (*tail == *head_seen)
            cpu_relax();
    }
    void *p = r->slot[*tail % RING_CAP];
    if (++*tail % RING_BATCH == 0)
        atomic_store_explicit(&r->tail, *tail, memory_order_release);
    return p;
}

/* ---- one thread's part of a cell ------------------------------------- */

enum workload_kind { W_FIXED, W_RANDOM, W_PRODCONS, W_BULK, W_FILL };

struct task {
    enum workload_kind kind;
    void *ctx;
    size_t size;
    uint64_t n;    /* timed operations (pairs, or objects for bulk/prodcons) */
    uint64_t warm; /* untimed operations before the barrier */
    int role;      /* prodcons: 0 producer, 1 consumer */
    int nthreads;
    _Atomic int *barrier;
    struct ring *ring;
    const uint32_t *sizes; /* random: RND_LEN sizes */
    const uint16_t *slots; /* random: RND_LEN slots in [0, LIVE) */
    void **live;           /* random: LIVE objects */
    uint64_t t0, t1;
    bool failed;
};

static void barrier_wait(_Atomic int *b, int n)
{
    atomic_fetch_add(b, 1);
    while (atomic_load(b) < n)
        cpu_relax();
}

#define INLINE static inline __attribute__((always_inline))

INLINE void body_fixed(struct task *t, alloc_fn A, free_fn F)
{
    void *ctx = t->ctx;
    size_t sz = t->size;
    for (uint64_t i = 0; i < t->warm; i++) {
        void *p = A(ctx, sz);
        if (!p) {
            t->failed = true;
            break;
        }
        touch(p, i);
        F(ctx, p);
    }
    barrier_wait(t->barrier, t->nthreads);
    uint64_t t0 = now_ns(), n = t->failed ? 0 : t->n;
    for (uint64_t i = 0; i < n; i++) {
        void *p = A(ctx, sz);
        if (__builtin_expect(!p, 0)) {
            t->failed = true;
            break;
        }
        touch(p, i);
        F(ctx, p);
    }
    t->t1 = now_ns();
    t->t0 = t0;
}

INLINE void body_random(struct task *t, alloc_fn A, free_fn F)
{
    void *ctx = t->ctx, **live = t->live;
    const uint32_t *sizes = t->sizes;
    const uint16_t *slots = t->slots;
    unsigned k;
    for (k = 0; k < LIVE; k++) {
        live[k] = A(ctx, sizes[k]);
        if (!live[k]) {
            t->failed = true;
            break;
        }
    }
    uint64_t j = LIVE;
    for (uint64_t i = 0; i < t->warm && !t->failed; i++, j++) {
        uint16_t s = slots[j % RND_LEN];
        F(ctx, live[s]);
        live[s] = A(ctx, sizes[j % RND_LEN]);
        if (!live[s])
            t->failed = true;
    }
    barrier_wait(t->barrier, t->nthreads);
    uint64_t t0 = now_ns(), n = t->failed ? 0 : t->n;
    for (uint64_t i = 0; i < n; i++, j++) {
        uint16_t s = slots[j % RND_LEN];
        F(ctx, live[s]);
        void *p = A(ctx, sizes[j % RND_LEN]);
        live[s] = p;
        if (__builtin_expect(!p, 0)) {
            t->failed = true;
            break;
        }
        touch(p, i);
    }
    t->t1 = now_ns();
    t->t0 = t0;
    for (k = 0; k < LIVE; k++)
        if (live[k])
            F(ctx, live[k]);
}

INLINE void body_prodcons(struct task *t, alloc_fn A, free_fn F)
{
    void *ctx = t->ctx;
    size_t sz = t->size;
    struct ring *r = t->ring;
    uint64_t head = 0, tail = 0, seen = 0, total = t->warm + t->n;
    /* A NULL pushed by a failing producer tells the consumer to stop. */
    if (t->role == 0) {
        for (uint64_t i = 0; i < total; i++) {
            if (i == t->warm) {
                ring_flush(r, head);
                barrier_wait(t->barrier, t->nthreads);
                t->t0 = now_ns();
            }
            void *p = A(ctx, sz);
            if (__builtin_expect(!p, 0))
                t->failed = true;
            else
                touch(p, i);
            ring_push(r, p, &head, &seen);
            if (!p)
                break;
        }
        ring_flush(r, head);
        if (t->failed && head <= t->warm)
            barrier_wait(t->barrier, t->nthreads);
    } else {
        for (uint64_t i = 0; i < total; i++) {
            if (i == t->warm) {
                barrier_wait(t->barrier, t->nthreads);
                t->t0 = now_ns();
            }
            void *p = ring_pop(r, &tail, &seen);
            if (!p) {
                if (i < t->warm)
                    barrier_wait(t->barrier, t->nthreads);
                break;
            }
            F(ctx, p);
        }
    }
    t->t1 = now_ns();
}

INLINE void body_bulk(struct task *t, alloc_fn A, free_fn F, bulk_alloc_fn BA, bulk_free_fn BF)
{
    void *ctx = t->ctx, *objs[BULK];
    size_t sz = t->size;
    uint64_t rounds = t->warm / BULK;
    for (uint64_t i = 0; i < rounds; i++) {
        if (BA(ctx, objs, BULK, sz) != BULK) {
            t->failed = true;
            break;
        }
        for (unsigned k = 0; k < BULK; k++)
            touch(objs[k], k);
        BF(ctx, objs, BULK);
    }
    barrier_wait(t->barrier, t->nthreads);
    uint64_t t0 = now_ns();
    rounds = t->failed ? 0 : t->n / BULK;
    for (uint64_t i = 0; i < rounds; i++) {
        if (__builtin_expect(BA(ctx, objs, BULK, sz) != BULK, 0)) {
            t->failed = true;
            break;
        }
        for (unsigned k = 0; k < BULK; k++)
            touch(objs[k], k);
        BF(ctx, objs, BULK);
    }
    t->t1 = now_ns();
    t->t0 = t0;
    (void)A;
    (void)F;
}

/* fill-64: t->n objects allocated and touched, every one live, then all
 * freed in the order they came; the pointer array is the process's malloc,
 * taken before the clock starts. */
INLINE void body_fill(struct task *t, alloc_fn A, free_fn F)
{
    void *ctx = t->ctx, **v = malloc(t->n * sizeof(*v));
    size_t sz = t->size;
    uint64_t n = 0;
    if (v == NULL) {
        t->failed = true;
        return;
    }
    barrier_wait(t->barrier, t->nthreads);
    uint64_t t0 = now_ns();
    for (; n < t->n; n++) {
        void *p = A(ctx, sz);
        if (__builtin_expect(!p, 0)) {
            t->failed = true;
            break;
        }
        touch(p, n);
        v[n] = p;
    }
    for (uint64_t i = 0; i < n; i++)
        F(ctx, v[i]);
    t->t1 = now_ns();
    t->t0 = t0;
    free(v);
}

/* Bulk through single calls, for every implementation but the slab.  A
 * short batch is freed here and reported as a failure. */
#define LOOP_BULK(id)                                                              \
    static inline size_t id##_bulk_alloc(void *ctx, void **o, size_t n, size_t sz) \
    {                                                                              \
        for (size_t k = 0; k < n; k++) {                                           \
            o[k] = id##_alloc(ctx, sz);                                            \
            if (!o[k]) {                                                           \
                while (k--)                                                        \
                    id##_free(ctx, o[k]);                                          \
                return 0;                                                          \
            }                                                                      \
        }                                                                          \
        return n;                                                                  \
    }                                                                              \
    static inline void id##_bulk_free(void *ctx, void **o, size_t n)               \
    {                                                                              \
        for (size_t k = 0; k < n; k++)                                             \
            id##_free(ctx, o[k]);                                                  \
    }

LOOP_BULK(arena)
LOOP_BULK(glibc)
LOOP_BULK(je)
LOOP_BULK(mi)
LOOP_BULK(tc)
LOOP_BULK(mk)

static inline size_t slab_bulk_alloc(void *ctx, void **o, size_t n, size_t sz)
{
    (void)sz;
    size_t got = pmn_slab_alloc_bulk((struct pmn_slab *)ctx, o, n);
    if (got != n && got)
        pmn_slab_free_bulk((struct pmn_slab *)ctx, o, got);
    return got == n ? n : 0;
}

static inline void slab_bulk_free(void *ctx, void **o, size_t n)
{
    pmn_slab_free_bulk((struct pmn_slab *)ctx, o, n);
}

#define INSTANTIATE(id)                                                                           \
    static void run_##id(struct task *t)                                                          \
    {                                                                                             \
        switch (t->kind) {                                                                        \
        case W_FIXED: body_fixed(t, id##_alloc, id##_free); break;                                \
        case W_RANDOM: body_random(t, id##_alloc, id##_free); break;                              \
        case W_PRODCONS: body_prodcons(t, id##_alloc, id##_free); break;                          \
        case W_BULK: body_bulk(t, id##_alloc, id##_free, id##_bulk_alloc, id##_bulk_free); break; \
        case W_FILL: body_fill(t, id##_alloc, id##_free); break;                                  \
        }                                                                                         \
    }

INSTANTIATE(arena)
INSTANTIATE(slab)
INSTANTIATE(glibc)
INSTANTIATE(je)
INSTANTIATE(mi)
INSTANTIATE(tc)
INSTANTIATE(mk)

static void (*const run_impl[NIMPL])(struct task *) = {
    [I_ARENA] = run_arena, [I_SLAB] = run_slab, [I_GLIBC] = run_glibc,   [I_JE] = run_je,
    [I_MI] = run_mi,       [I_TC] = run_tc,     [I_MK_DEFAULT] = run_mk, [I_MK_FIXED] = run_mk,
};

/* ---- workloads ------------------------------------------------------- */

struct workload {
    const char *name;
    enum workload_kind kind;
    size_t size;
    int threads;
    const char *what; /* for the table's legend */
};

static const struct workload workloads[] = {
    {"fixed-64", W_FIXED, 64, 1, "64 B pairs"},
    {"fixed-64", W_FIXED, 64, 2, "64 B pairs"},
    {"fixed-2k", W_FIXED, 2048, 1, "2 KiB pairs"},
    {"fixed-2k", W_FIXED, 2048, 2, "2 KiB pairs"},
    {"random", W_RANDOM, 0, 1, "16 B-64 KiB, 1000 live"},
    {"random", W_RANDOM, 0, 2, "16 B-64 KiB, 1000 live"},
    {"prodcons-2k", W_PRODCONS, 2048, 2, "A allocs, B frees"},
    {"bulk-2k", W_BULK, 2048, 1, "32 alloc, 32 free"},
    {"bulk-2k", W_BULK, 2048, 2, "32 alloc, 32 free"},
    {"fill-64", W_FILL, 64, 1, "--fill-size of 64 B, then free"},
};
#define NWORK (sizeof(workloads) / sizeof(workloads[0]))

/* ---- worker pool: two threads pinned to the first two allowed CPUs ---- */

struct worker {
    pthread_t th;
    int cpu; /* -1: not pinned */
    struct task *task;
    void (*fn)(struct task *);
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned gen;
    int busy;
    bool quit;
    struct worker w[2];
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER,
          .go = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    unsigned seen = 0;
    if (w->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(w->cpu, &set);
        pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    }
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        while (pool.gen == seen && !pool.quit)
            pthread_cond_wait(&pool.go, &pool.mu);
        if (pool.quit)
            break;
        seen = pool.gen;
        struct task *t = w->task;
        void (*fn)(struct task *) = w->fn;
        pthread_mutex_unlock(&pool.mu);
        if (fn)
            fn(t);
        pthread_mutex_lock(&pool.mu);
        if (fn && --pool.busy == 0)
            pthread_cond_signal(&pool.done);
    }
    pthread_mutex_unlock(&pool.mu);
    return NULL;
}

static int pool_start(int cpus_out[2])
{
    cpu_set_t set;
    int found = 0;
    cpus_out[0] = cpus_out[1] = -1;
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        for (int c = 0; c < CPU_SETSIZE && found < 2; c++)
            if (CPU_ISSET(c, &set))
                cpus_out[found++] = c;
    for (int i = 0; i < 2; i++) {
        pool.w[i].cpu = cpus_out[i];
        if (pthread_create(&pool.w[i].th, NULL, worker_main, &pool.w[i]) != 0)
            return -1;
    }
    return found;
}

static void pool_stop(void)
{
    pthread_mutex_lock(&pool.mu);
    pool.quit = true;
    pthread_cond_broadcast(&pool.go);
    pthread_mutex_unlock(&pool.mu);
    for (int i = 0; i < 2; i++)
        pthread_join(pool.w[i].th, NULL);
}

static void pool_run(struct task *tasks, int n, void (*fn)(struct task *))
{
    pthread_mutex_lock(&pool.mu);
    for (int i = 0; i < 2; i++) {
        pool.w[i].task = i < n ? &tasks[i] : NULL;
        pool.w[i].fn = i < n ? fn : NULL;
    }
    pool.busy = n;
    pool.gen++;
    pthread_cond_broadcast(&pool.go);
    while (pool.busy > 0)
        pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
}

/* ---- per-thread random-workload data --------------------------------- */

static uint32_t rnd_sizes[2][RND_LEN];
static uint16_t rnd_slots[2][RND_LEN];
static void *rnd_live[2][LIVE];

/* xorshift64*: the benchmark's own generator, fixed seed, run up front. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* Log-uniform in [16, 65536]: uniform exponent in [4, 16), then uniform
 * within that power-of-two range, so small objects dominate as they do in
 * real programs and every size class is visited. */
static void rnd_prepare(void)
{
    for (int t = 0; t < 2; t++) {
        uint64_t s = 0x9e3779b97f4a7c15ull + (uint64_t)t * 0x2545f4914f6cdd1dull;
        for (unsigned i = 0; i < RND_LEN; i++) {
            unsigned e = 4 + (unsigned)(rng_next(&s) % 12);
            uint64_t lo = 1ull << e;
            rnd_sizes[t][i] = (uint32_t)(lo + rng_next(&s) % (lo + 1));
            rnd_slots[t][i] = (uint16_t)(rng_next(&s) % LIVE);
        }
    }
}

/* ---- running one cell ------------------------------------------------ */

static void *impl_ctx(const struct env *e, enum impl im, const struct workload *w)
{
    switch (im) {
    case I_ARENA: return e->arena;
    case I_SLAB:
        if (w->kind == W_BULK)
            return e->slab_bulk;
        return w->size == 64 ? (void *)e->slab64 : (void *)e->slab2k;
    case I_MK_DEFAULT: return e->mk_default;
    case I_MK_FIXED: return e->mk_fixed;
    default: return NULL;
    }
}

static bool impl_applies(enum impl im, const struct workload *w)
{
    /* The slab serves one size: not the random workload.  memkind-fixed's
     * region (--fixed-size) is not sized for a fill. */
    return !(im == I_SLAB && w->kind == W_RANDOM) && !(im == I_MK_FIXED && w->kind == W_FILL);
}

static struct ring g_ring;

/* Runs one cell with @p n timed operations per thread; ns per op (per
 * thread for fixed/random/bulk: wall time / n), or -1 on failure. */
static double run_cell(const struct env *e, enum impl im, const struct workload *w, uint64_t n)
{
    struct task t[2];
    _Atomic int barrier = 0;
    int nt = w->threads;
    memset(t, 0, sizeof(t));
    atomic_store(&g_ring.head, 0);
    atomic_store(&g_ring.tail, 0);
    for (int i = 0; i < nt; i++) {
        t[i].kind = w->kind;
        t[i].ctx = impl_ctx(e, im, w);
        t[i].size = w->kind == W_BULK ? e->bulk_size : w->size;
        t[i].n = n;
        t[i].warm = w->kind == W_RANDOM ? 20000 : 10000;
        t[i].role = i;
        t[i].nthreads = nt;
        t[i].barrier = &barrier;
        t[i].ring = &g_ring;
        t[i].sizes = rnd_sizes[i];
        t[i].slots = rnd_slots[i];
        t[i].live = rnd_live[i];
    }
    pool_run(t, nt, run_impl[im]);
    uint64_t t0 = t[0].t0, t1 = t[0].t1;
    for (int i = 0; i < nt; i++) {
        if (t[i].failed)
            return -1;
        if (t[i].t0 < t0)
            t0 = t[i].t0;
        if (t[i].t1 > t1)
            t1 = t[i].t1;
    }
    return (double)(t1 - t0) / (double)n;
}

/* ---- results --------------------------------------------------------- */

struct cell {
    bool run; /* applicable and available */
    bool failed;
    const char *why; /* not run: why */
    uint64_t n;
    int reps;
    double ns[MAX_REPS];
    double med, min, max;
};

static struct cell cells[NWORK][NIMPL];

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of @n > 0 sorted values. */
static double median_sorted(const double *v, int n)
{
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void summarize(struct cell *c)
{
    double tmp[MAX_REPS];
    if (c->reps <= 0)
        return;
    memcpy(tmp, c->ns, (size_t)c->reps * sizeof(*tmp));
    qsort(tmp, (size_t)c->reps, sizeof(*tmp), cmp_double);
    c->med = median_sorted(tmp, c->reps);
    c->min = tmp[0];
    c->max = tmp[c->reps - 1];
}

static double spread(const struct cell *c)
{
    return c->med > 0 ? 100.0 * (c->max - c->min) / c->med : 0;
}

/* The per-rep ratio of @c to @ref: rep r of every cell runs in one round,
 * one cell after another (main), so c->ns[r] / ref->ns[r] pairs figures
 * taken seconds apart, and a phase of the shared host (on these VMs whole
 * minutes run at half speed) moves both; the median of those ratios, with
 * their least and greatest, in *@med, *@lo and *@hi.  False when either
 * cell has no figures. */
static bool paired_ratio(const struct cell *c, const struct cell *ref, double *med, double *lo,
                         double *hi)
{
    double r[MAX_REPS];
    int n = 0;

    if (!c->run || c->failed || !ref->run || ref->failed)
        return false;
    for (int i = 0; i < c->reps && i < ref->reps; i++)
        if (ref->ns[i] > 0)
            r[n++] = c->ns[i] / ref->ns[i];
    if (n == 0)
        return false;
    qsort(r, (size_t)n, sizeof(*r), cmp_double);
    *med = median_sorted(r, n);
    *lo = r[0];
    *hi = r[n - 1];
    return true;
}

static const struct cell *find_cell(const char *work, int threads, enum impl im)
{
    for (size_t i = 0; i < NWORK; i++)
        if (strcmp(workloads[i].name, work) == 0 && workloads[i].threads == threads)
            return cells[i][im].run && !cells[i][im].failed ? &cells[i][im] : NULL;
    return NULL;
}

/* ---- set-up ---------------------------------------------------------- */

/* Debian's jemalloc and mimalloc need surplus static TLS to be dlopen'ed;
 * raise it by re-executing once with the tunable set. */
static void ensure_static_tls(char **argv)
{
    const char *cur = getenv("GLIBC_TUNABLES");
    if (cur && strstr(cur, "glibc.rtld.optional_static_tls"))
        return;
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s%sglibc.rtld.optional_static_tls=65536", cur ? cur : "",
             cur && *cur ? ":" : "");
    if (setenv("GLIBC_TUNABLES", buf, 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    /* Could not re-exec: go on; dlopen of jemalloc will say why it fails. */
}

static bool in_list(const char *list, const char *name)
{
    if (!list)
        return true;
    size_t len = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t l = end ? (size_t)(end - p) : strlen(p);
        if (l == len && strncmp(p, name, l) == 0)
            return true;
        p += l + (end ? 1 : 0);
    }
    return false;
}

static void *open_lib(struct env *e, enum impl im, const char *lib)
{
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        static char why[NIMPL][256];
        snprintf(why[im], sizeof(why[im]), "dlopen %s: %s", lib, dlerror());
        e->skip[im] = why[im];
    }
    return h;
}

#define SYM(h, var, name) (*(void **)(&(var)) = dlsym((h), (name)))

/* The peers --impl asks for (all without it), each dlopen()ed only then:
 * a library's constructor runs at dlopen (tcmalloc's leaks a registration
 * that LeakSanitizer reports), so one not measured is not loaded. */
static void setup_peers(struct env *e, const char *only_impl)
{
    void *h;
    if (in_list(only_impl, impl_name[I_JE]) &&
        (h = open_lib(e, I_JE, "libjemalloc.so.2")) != NULL &&
        (!SYM(h, je_malloc_p, "malloc") || !SYM(h, je_free_p, "free")))
        e->skip[I_JE] = "libjemalloc.so.2 lacks malloc/free";
    if (in_list(only_impl, impl_name[I_MI]) &&
        (h = open_lib(e, I_MI, "libmimalloc.so.2")) != NULL &&
        (!SYM(h, mi_malloc_p, "mi_malloc") || !SYM(h, mi_free_p, "mi_free")))
        e->skip[I_MI] = "libmimalloc.so.2 lacks mi_malloc/mi_free";
    if (in_list(only_impl, impl_name[I_TC]) &&
        (h = open_lib(e, I_TC, "libtcmalloc_minimal.so.4")) != NULL &&
        (!SYM(h, tc_malloc_p, "tc_malloc") || !SYM(h, tc_free_p, "tc_free")))
        e->skip[I_TC] = "libtcmalloc_minimal.so.4 lacks tc_malloc/tc_free";

    if (!in_list(only_impl, impl_name[I_MK_DEFAULT]) && !in_list(only_impl, impl_name[I_MK_FIXED]))
        return;
    h = open_lib(e, I_MK_DEFAULT, "libmemkind.so.0");
    if (!h) {
        e->skip[I_MK_FIXED] = e->skip[I_MK_DEFAULT];
        return;
    }
    void **dflt = dlsym(h, "MEMKIND_DEFAULT");
    int (*create_fixed)(void *, size_t, void **);
    if (!SYM(h, mk_malloc_p, "memkind_malloc") || !SYM(h, mk_free_p, "memkind_free") || !dflt ||
        !SYM(h, create_fixed, "memkind_create_fixed") ||
        !SYM(h, e->mk_destroy, "memkind_destroy_kind")) {
        e->skip[I_MK_DEFAULT] = e->skip[I_MK_FIXED] = "libmemkind.so.0 lacks an entry point";
        return;
    }
    e->mk_default = *dflt;
    if (!e->fixed_region) {
        if (!e->skip[I_MK_FIXED])
            e->skip[I_MK_FIXED] = "no libpmnode region for the fixed kind";
        return;
    }
    int rc = create_fixed(pmn_region_addr(e->fixed_region), pmn_region_size(e->fixed_region),
                          &e->mk_fixed);
    if (rc != 0 || !e->mk_fixed) {
        static char why[96];
        snprintf(why, sizeof(why), "memkind_create_fixed failed (%d)", rc);
        e->skip[I_MK_FIXED] = why;
    }
}

static void setup_pmn(struct env *e)
{
    static char why[160];
    struct pmn_backing_params *p = NULL;
    int rc = pmn_ctx_new(&e->ctx);
    if (rc == 0)
        rc = pmn_backing_params_new(&p);
    if (rc == 0)
        rc = pmn_backing_params_set_node(p, e->node);
    if (rc == 0)
        rc = pmn_backing_new(e->ctx, p, &e->backing);
    pmn_backing_params_free(p);
    if (rc != 0) {
        snprintf(why, sizeof(why), "backing on node %d: %s", e->node, pmn_strerror(rc));
        e->skip[I_ARENA] = e->skip[I_SLAB] = e->skip[I_MK_FIXED] = why;
        return;
    }
    rc = pmn_region_map(e->backing, e->fixed_buf, &e->fixed_region);
    if (rc != 0) {
        static char why_fixed[160];
        snprintf(why_fixed, sizeof(why_fixed), "pmn_region_map %zu bytes on node %d: %s",
                 e->fixed_buf, e->node, pmn_strerror(rc));
        e->skip[I_MK_FIXED] = why_fixed;
        e->fixed_region = NULL;
    }
    rc = pmn_arena_new(e->backing, NULL, &e->arena);
    if (rc != 0) {
        static char why_arena[128];
        snprintf(why_arena, sizeof(why_arena), "pmn_arena_new: %s", pmn_strerror(rc));
        e->skip[I_ARENA] = why_arena;
    }
    rc = pmn_slab_new(e->backing, 64, 0, 0, &e->slab64);
    if (rc == 0)
        rc = pmn_slab_new(e->backing, 2048, 0, 0, &e->slab2k);
    e->slab_bulk = e->slab2k;
    if (rc == 0 && e->bulk_size != 2048)
        rc = pmn_slab_new(e->backing, e->bulk_size, 0, 0, &e->slab_bulk);
    if (rc != 0) {
        static char why_slab[128];
        snprintf(why_slab, sizeof(why_slab), "pmn_slab_new: %s", pmn_strerror(rc));
        e->skip[I_SLAB] = why_slab;
    }
}

static void teardown(struct env *e)
{
    if (e->mk_fixed && e->mk_destroy)
        e->mk_destroy(e->mk_fixed);
    if (e->slab_bulk != e->slab2k)
        pmn_slab_destroy(e->slab_bulk);
    pmn_slab_destroy(e->slab2k);
    pmn_slab_destroy(e->slab64);
    pmn_arena_destroy(e->arena);
    pmn_region_unmap(e->fixed_region);
    pmn_backing_free(e->backing);
    pmn_ctx_unref(e->ctx);
}

/* ---- output ---------------------------------------------------------- */

static const char *const short_name[NIMPL] = {
    "arena", "slab", "glibc", "jemalloc", "mimalloc", "tcmalloc", "mk-dflt", "mk-fixed",
};

static bool row_ran(size_t w)
{
    for (int i = 0; i < NIMPL; i++)
        if (cells[w][i].run)
            return true;
    return false;
}

static void print_table(const struct env *e, int reps, const int cpus[2], double cell_ms)
{
    printf("allocator benchmark: ns per alloc+free pair (bulk, prodcons: per object), "
           "median of %d reps, ~%.0f ms per cell\n",
           reps, cell_ms);
    printf("node %d; workers pinned to CPU %d and %d; memkind-fixed over a %zu MiB "
           "libpmnode region on node %d\n\n",
           e->node, cpus[0], cpus[1], e->fixed_buf >> 20, e->node);
    if (e->bulk_size != 2048)
        printf("bulk-2k rows: objects of %zu bytes (--bulk-size), not 2048\n\n", e->bulk_size);
    printf("%-12s %3s", "workload", "thr");
    for (int i = 0; i < NIMPL; i++)
        printf(" %9s", short_name[i]);
    printf("  %s\n", "max spread");
    for (size_t w = 0; w < NWORK; w++) {
        double worst = 0;
        if (!row_ran(w))
            continue;
        printf("%-12s %3d", workloads[w].name, workloads[w].threads);
        for (int i = 0; i < NIMPL; i++) {
            const struct cell *c = &cells[w][i];
            if (!c->run)
                printf(" %9s", "-");
            else if (c->failed)
                printf(" %9s", "FAILED");
            else {
                printf(" %9.1f", c->med);
                if (spread(c) > worst)
                    worst = spread(c);
            }
        }
        printf("  %5.0f%%\n", worst);
    }

    printf("\nratio vs mimalloc (impl ns / mimalloc ns; < 1 is faster than mimalloc)\n");
    printf("%-12s %3s", "workload", "thr");
    for (int i = 0; i < NIMPL; i++)
        printf(" %9s", short_name[i]);
    printf("\n");
    for (size_t w = 0; w < NWORK; w++) {
        const struct cell *mi = &cells[w][I_MI];
        if (!row_ran(w))
            continue;
        printf("%-12s %3d", workloads[w].name, workloads[w].threads);
        for (int i = 0; i < NIMPL; i++) {
            const struct cell *c = &cells[w][i];
            if (!c->run || c->failed || !mi->run || mi->failed || mi->med <= 0)
                printf(" %9s", "-");
            else
                printf(" %8.2fx", c->med / mi->med);
        }
        printf("\n");
    }

    printf("\nratio vs tcmalloc, paired per rep (issue 17): the median of impl ns / tcmalloc "
           "ns\nin each round, least-greatest after it; < 1 is faster than tcmalloc\n");
    printf("%-12s %3s %19s %19s %19s\n", "workload", "thr", short_name[I_ARENA],
           short_name[I_SLAB], short_name[I_MI]);
    for (size_t w = 0; w < NWORK; w++) {
        static const enum impl shown[] = {I_ARENA, I_SLAB, I_MI};
        if (!row_ran(w))
            continue;
        printf("%-12s %3d", workloads[w].name, workloads[w].threads);
        for (size_t k = 0; k < sizeof(shown) / sizeof(shown[0]); k++) {
            double med, lo, hi;
            char buf[40];
            if (paired_ratio(&cells[w][shown[k]], &cells[w][I_TC], &med, &lo, &hi))
                snprintf(buf, sizeof(buf), "%.2fx %.2f-%.2f", med, lo, hi);
            else
                snprintf(buf, sizeof(buf), "-");
            printf(" %19s", buf);
        }
        printf("\n");
    }

    printf("\nscaling 1 -> 2 threads: 2-thread throughput / 1-thread throughput "
           "(2.00 = linear)\n");
    printf("%-12s    ", "workload");
    for (int i = 0; i < NIMPL; i++)
        printf(" %9s", short_name[i]);
    printf("\n");
    static const char *const scaled[] = {"fixed-64", "fixed-2k", "random", "bulk-2k"};
    for (size_t s = 0; s < sizeof(scaled) / sizeof(scaled[0]); s++) {
        printf("%-12s    ", scaled[s]);
        for (int i = 0; i < NIMPL; i++) {
            const struct cell *a = find_cell(scaled[s], 1, (enum impl)i);
            const struct cell *b = find_cell(scaled[s], 2, (enum impl)i);
            if (a && b && b->med > 0)
                printf(" %9.2f", 2.0 * a->med / b->med);
            else
                printf(" %9s", "-");
        }
        printf("\n");
    }
    bool any = false;
    for (int i = 0; i < NIMPL; i++)
        if (e->skip[i]) {
            if (!any)
                printf("\nnot run:\n");
            any = true;
            printf("  %-16s %s\n", impl_name[i], e->skip[i]);
        }
}

/* Goal lines: one per goal, worst row named. */
struct goal {
    const char *text;
    const char *work;
    int threads;
    double value;
    bool met;
    bool known;
};

/* Whether row @w compares implementations @a and @b: both ran, and it is a
 * row the goals judge (fill-64 is no row of issues 5 and 17). */
static bool judged(size_t w, enum impl a, enum impl b)
{
    return cells[w][a].run && cells[w][b].run && workloads[w].kind != W_FILL;
}

static int compute_goals(struct goal *g, int max)
{
    int n = 0;
    /* slab pair <= mimalloc pair of the same size */
    for (size_t w = 0; w < NWORK && n < max; w++) {
        const struct cell *s = &cells[w][I_SLAB], *m = &cells[w][I_MI];
        if (!judged(w, I_SLAB, I_MI))
            continue;
        bool ok = !s->failed && !m->failed && m->med > 0;
        g[n++] =
            (struct goal){"slab <= mimalloc (ratio)", workloads[w].name,      workloads[w].threads,
                          ok ? s->med / m->med : NAN, ok && s->med <= m->med, ok};
    }
    for (size_t w = 0; w < NWORK && n < max; w++) {
        const struct cell *a = &cells[w][I_ARENA], *m = &cells[w][I_MI];
        if (!judged(w, I_ARENA, I_MI))
            continue;
        bool ok = !a->failed && !m->failed && m->med > 0;
        g[n++] = (struct goal){"arena <= 1.2x mimalloc (ratio)",
                               workloads[w].name,
                               workloads[w].threads,
                               ok ? a->med / m->med : NAN,
                               ok && a->med <= 1.2 * m->med,
                               ok};
    }
    for (size_t w = 0; w < NWORK && n < max; w++) {
        const struct cell *a = &cells[w][I_ARENA], *f = &cells[w][I_MK_FIXED];
        if (!judged(w, I_ARENA, I_MK_FIXED))
            continue;
        bool ok = !a->failed && !f->failed && a->med > 0;
        g[n++] = (struct goal){"arena >= 3x faster than memkind-fixed (speed-up)",
                               workloads[w].name,
                               workloads[w].threads,
                               ok ? f->med / a->med : NAN,
                               ok && f->med >= 3 * a->med,
                               ok};
    }
    /* Issue 17: every row at or below tcmalloc, on the paired ratio (the
     * medians' ratio moved by 10-40 % between runs of one build here). */
    for (int im = I_ARENA; im <= I_SLAB; im++)
        for (size_t w = 0; w < NWORK && n < max; w++) {
            const struct cell *c = &cells[w][im], *t = &cells[w][I_TC];
            double med = NAN, lo, hi;
            if (!judged(w, (enum impl)im, I_TC))
                continue;
            bool ok = paired_ratio(c, t, &med, &lo, &hi);
            g[n++] = (struct goal){im == I_ARENA ? "arena <= tcmalloc (paired ratio, issue 17)"
                                                 : "slab <= tcmalloc (paired ratio, issue 17)",
                                   workloads[w].name,
                                   workloads[w].threads,
                                   ok ? med : NAN,
                                   ok && med <= 1.0,
                                   ok};
        }
    static const char *const scaled[] = {"fixed-64", "fixed-2k", "random", "bulk-2k"};
    for (int im = I_ARENA; im <= I_SLAB; im++)
        for (size_t s = 0; s < sizeof(scaled) / sizeof(scaled[0]) && n < max; s++) {
            const struct cell *a = find_cell(scaled[s], 1, (enum impl)im);
            const struct cell *b = find_cell(scaled[s], 2, (enum impl)im);
            if (!a || !b)
                continue;
            double v = 2.0 * a->med / b->med;
            g[n++] = (struct goal){im == I_ARENA ? "arena scaling 1->2 threads >= 1.8"
                                                 : "slab scaling 1->2 threads >= 1.8",
                                   scaled[s],
                                   2,
                                   v,
                                   v >= 1.8,
                                   true};
        }
    return n;
}

static void print_goals(void)
{
    struct goal g[96];
    int n = compute_goals(g, 96);
    printf("\ngoals (issues 5 and 17):\n");
    const char *prev = NULL;
    for (int i = 0; i < n; i++) {
        if (!prev || strcmp(prev, g[i].text) != 0) {
            /* one line per goal: met when every row meets it */
            bool all = true;
            int rows = 0;
            for (int k = i; k < n && strcmp(g[k].text, g[i].text) == 0; k++, rows++)
                all = all && g[k].known && g[k].met;
            printf("  %-50s %s\n", g[i].text, all ? "met" : "NOT met");
            prev = g[i].text;
        }
        if (g[i].known)
            printf("    %-12s %d thr  %6.2f%s\n", g[i].work, g[i].threads, g[i].value,
                   g[i].met ? "" : "  (missed)");
        else
            printf("    %-12s %d thr  n/a\n", g[i].work, g[i].threads);
    }
    /* The host's own ceiling: what the best peer gets. */
    const struct cell *a = find_cell("fixed-64", 1, I_MI), *b = find_cell("fixed-64", 2, I_MI);
    if (a && b)
        printf("  (for reference, mimalloc fixed-64 scales %.2f on this host)\n",
               2.0 * a->med / b->med);
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

static void print_json(const struct env *e, int reps, const int cpus[2])
{
    printf(
        "{\"node\": %d, \"reps\": %d, \"cpus\": [%d, %d], \"bulk_size\": %zu, \"fill_size\": %zu, "
        "\"results\": [",
        e->node, reps, cpus[0], cpus[1], e->bulk_size, e->fill_size);
    bool first = true;
    for (size_t w = 0; w < NWORK; w++)
        for (int i = 0; i < NIMPL; i++) {
            const struct cell *c = &cells[w][i], *mi = &cells[w][I_MI];
            if (!c->run)
                continue;
            printf("%s\n  {\"workload\": \"%s\", \"impl\": \"%s\", \"threads\": %d, ",
                   first ? "" : ",", workloads[w].name, impl_name[i], workloads[w].threads);
            first = false;
            if (c->failed) {
                printf("\"ns_per_op\": null, \"error\": \"allocation returned NULL\"}");
                continue;
            }
            printf("\"ns_per_op\": %.2f, \"min_ns_per_op\": %.2f, \"spread_percent\": %.1f, "
                   "\"ops\": %llu",
                   c->med, c->min, spread(c), (unsigned long long)c->n);
            if (mi->run && !mi->failed && mi->med > 0)
                printf(", \"ratio_vs_mimalloc\": %.3f", c->med / mi->med);
            const struct cell *tc = &cells[w][I_TC];
            double med, lo, hi;
            if (tc->run && !tc->failed && tc->med > 0)
                printf(", \"ratio_vs_tcmalloc\": %.3f", c->med / tc->med);
            if (paired_ratio(c, tc, &med, &lo, &hi))
                printf(", \"paired_ratio_vs_tcmalloc\": {\"median\": %.3f, \"min\": %.3f, "
                       "\"max\": %.3f}",
                       med, lo, hi);
            printf("}");
        }
    printf("],\n \"skipped\": [");
    first = true;
    for (int i = 0; i < NIMPL; i++)
        if (e->skip[i]) {
            printf("%s{\"impl\": \"%s\", \"reason\": ", first ? "" : ", ", impl_name[i]);
            json_str(e->skip[i]);
            printf("}");
            first = false;
        }
    printf("],\n \"goals\": [");
    struct goal g[96];
    int n = compute_goals(g, 96);
    for (int i = 0; i < n; i++) {
        printf("%s\n  {\"goal\": ", i ? "," : "");
        json_str(g[i].text);
        printf(", \"workload\": \"%s\", \"threads\": %d, ", g[i].work, g[i].threads);
        if (g[i].known)
            printf("\"value\": %.3f, \"met\": %s}", g[i].value, g[i].met ? "true" : "false");
        else
            printf("\"value\": null, \"met\": false}");
    }
    printf("]}\n");
}

/* ---- main ------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f, "usage: alloc [--reps N] [--cell-ms MS] [--node N] [--fixed-size BYTES]\n"
               "             [--bulk-size BYTES] [--fill-size BYTES] [--impl NAME,...]\n"
               "             [--workload NAME,...] [--json]\n"
               "impls: pmn-arena pmn-slab glibc jemalloc mimalloc tcmalloc memkind-default "
               "memkind-fixed\n"
               "workloads: fixed-64 fixed-2k random prodcons-2k bulk-2k (the default set);\n"
               "           fill-64 (only when named; --fill-size, 1 GiB unless given)\n");
}

/* What was wrong with the command line, for the last line of the usage
 * message ("bad usage" alone left the reader to guess). */
static char usage_why[160] = "bad usage";

static bool impl_known(const char *s, size_t len)
{
    for (int i = 0; i < NIMPL; i++)
        if (strlen(impl_name[i]) == len && strncmp(s, impl_name[i], len) == 0)
            return true;
    return false;
}

static bool workload_known(const char *s, size_t len)
{
    for (size_t w = 0; w < NWORK; w++)
        if (strlen(workloads[w].name) == len && strncmp(s, workloads[w].name, len) == 0)
            return true;
    return false;
}

/* The first name of the comma-separated @list (NULL: none) that @known
 * refuses, its length in *@len; NULL when it knows them all. */
static const char *unknown_name(const char *list, bool (*known)(const char *, size_t), size_t *len)
{
    for (const char *p = list; p && *p;) {
        size_t l = strcspn(p, ",");
        if (!known(p, l)) {
            *len = l;
            return p;
        }
        p += l + (p[l] == ',');
    }
    return NULL;
}

/* @s as a whole number from @lo to @hi, the value of option @opt. */
static bool parse_long(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        snprintf(usage_why, sizeof(usage_why), "--%s %.40s: not a whole number from %ld to %ld",
                 opt, s, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    struct env e = {
        .node = 0, .fixed_buf = FIXED_BUF_DEFAULT, .bulk_size = 2048, .fill_size = 1l << 30};
    long reps = 5, cell_ms = 200, v;
    bool json = false;
    const char *only_impl = NULL, *only_work = NULL, *name;
    size_t len;
    static const struct option opts[] = {
        {"reps", required_argument, NULL, 'r'},
        {"cell-ms", required_argument, NULL, 'm'},
        {"node", required_argument, NULL, 'n'},
        {"fixed-size", required_argument, NULL, 'f'},
        {"bulk-size", required_argument, NULL, 'b'},
        {"fill-size", required_argument, NULL, 'F'},
        {"impl", required_argument, NULL, 'i'},
        {"workload", required_argument, NULL, 'w'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'r':
            if (!parse_long("reps", optarg, 1, MAX_REPS, &reps))
                goto bad;
            break;
        case 'm':
            if (!parse_long("cell-ms", optarg, 1, 60000, &cell_ms))
                goto bad;
            break;
        case 'n':
            if (!parse_long("node", optarg, 0, 1 << 20, &v))
                goto bad;
            e.node = (int)v;
            break;
        case 'f':
            if (!parse_long("fixed-size", optarg, 1 << 20, 1l << 40, &v))
                goto bad;
            e.fixed_buf = (size_t)v;
            break;
        case 'b':
            if (!parse_long("bulk-size", optarg, 16, 256 << 10, &v))
                goto bad;
            e.bulk_size = (size_t)v;
            break;
        case 'F':
            if (!parse_long("fill-size", optarg, 1 << 20, 64l << 30, &v))
                goto bad;
            e.fill_size = (size_t)v;
            break;
        case 'i': only_impl = optarg; break;
        case 'w': only_work = optarg; break;
        case 'j': json = true; break;
        case 'h': usage(stdout); return 0;
        default:
            /* getopt said which, above the usage. */
            snprintf(usage_why, sizeof(usage_why),
                     "%.40s: not an option of those above, or without its value",
                     argv[optind - 1]);
            goto bad;
        }
    }
    if (optind != argc) {
        snprintf(usage_why, sizeof(usage_why), "%.40s: no such option (they start with --)",
                 argv[optind]);
        goto bad;
    }
    if ((name = unknown_name(only_impl, impl_known, &len)) != NULL) {
        snprintf(usage_why, sizeof(usage_why), "--impl: no implementation '%.*s'",
                 (int)(len < 40 ? len : 40), name);
        goto bad;
    }
    /* An unknown workload ran nothing and printed an empty table. */
    if ((name = unknown_name(only_work, workload_known, &len)) != NULL) {
        snprintf(usage_why, sizeof(usage_why), "--workload: no workload '%.*s'",
                 (int)(len < 40 ? len : 40), name);
        goto bad;
    }

    ensure_static_tls(argv);
    rnd_prepare();
    setup_pmn(&e);
    setup_peers(&e, only_impl);
    int cpus[2];
    int ncpu = pool_start(cpus);
    if (ncpu < 0) {
        fprintf(stderr, "alloc: cannot start worker threads\n");
        return 1;
    }
    if (ncpu < 2 && !json)
        printf("note: fewer than 2 CPUs allowed; 2-thread cells share CPU %d\n", cpus[0]);

    /* Calibrate: two runs of 20000 ops per cell, then n so the reps of
     * the cell take cell_ms together.  The first run is a warm-up and is
     * not used: it includes the first touch of the memory the allocator
     * takes for the cell (12 us per 4 KiB page on this VM), which only the
     * first run pays.  Calibrating on it gave an allocator that takes fresh
     * memory reps of about 1 ms (the arena's random cell: 75 000 ops
     * against tcmalloc's 650 000), where one timer tick or page fault moves
     * a rep by half: spreads of 200-600 %. */
    bool failed = false;
    double per_rep_ns = (double)cell_ms * 1e6 / (double)reps;
    for (size_t w = 0; w < NWORK; w++)
        for (int i = 0; i < NIMPL; i++) {
            struct cell *c = &cells[w][i];
            if (!impl_applies((enum impl)i, &workloads[w]) || e.skip[i] ||
                !in_list(only_impl, impl_name[i]) || !in_list(only_work, workloads[w].name) ||
                (workloads[w].kind == W_FILL && only_work == NULL)) /* named, or not run */
                continue;
            c->run = true;
            if (workloads[w].kind == W_FILL) { /* its size is the point: no calibration */
                c->n = e.fill_size / workloads[w].size;
                continue;
            }
            double ns = run_cell(&e, (enum impl)i, &workloads[w], 20000 / BULK * BULK);
            if (ns >= 0)
                ns = run_cell(&e, (enum impl)i, &workloads[w], 20000 / BULK * BULK);
            if (ns < 0) {
                c->failed = failed = true;
                continue;
            }
            double n = per_rep_ns / (ns > 0.5 ? ns : 0.5);
            n = n < 4096 ? 4096 : n > 2e8 ? 2e8 : n;
            c->n = (uint64_t)n / BULK * BULK;
        }
    for (int r = 0; r < reps; r++)
        for (size_t w = 0; w < NWORK; w++)
            for (int i = 0; i < NIMPL; i++) {
                struct cell *c = &cells[w][i];
                if (!c->run || c->failed)
                    continue;
                double ns = run_cell(&e, (enum impl)i, &workloads[w], c->n);
                if (ns < 0) {
                    c->failed = failed = true;
                    continue;
                }
                c->ns[c->reps++] = ns;
            }
    for (size_t w = 0; w < NWORK; w++)
        for (int i = 0; i < NIMPL; i++)
            summarize(&cells[w][i]);
    pool_stop();

    if (json) {
        print_json(&e, (int)reps, cpus);
    } else {
        print_table(&e, (int)reps, cpus, (double)cell_ms);
        print_goals();
    }
    teardown(&e);
    return failed ? 1 : 0;

bad:
    usage(stderr);
    fprintf(stderr, "alloc: %s\n", usage_why);
    return 2;
}
