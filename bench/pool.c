/*
 * pool.c - a capped buffer pool with every free cross-thread (issue 14):
 * a producer thread allocates 2 KiB buffers and passes them through a
 * single-producer single-consumer ring to a consumer thread that frees
 * them, as a receive path does.  Objects per second through:
 *
 *   pmn-slab   a libpmnode slab capped at --cap objects and reserved up
 *              front (pmn_slab_new_opts + reserve_objects) on --node
 *   freelist   the baseline a NIC driver writes: --cap buffers carved
 *              from one pre-faulted region, a lock-free LIFO of indices
 *              with a generation tag (pop by the producer, push by the
 *              consumer, one 64-bit CAS each)
 *   mimalloc, tcmalloc, glibc
 *              the same ring over mi_malloc/mi_free, tc_malloc/tc_free
 *              (Debian's libraries, dlopen'ed as bench/alloc.c does) and
 *              malloc/free; uncapped, as those allocators are
 *
 * The producer spins when the ring is full, and when the pool is empty
 * (pmn-slab NULL, freelist empty: counted as "empty" retries, the capped
 * pool's back-pressure).  Threads are pinned to the first two allowed
 * CPUs.  Implementations run round-robin, --reps times; the figure is the
 * median rep, with the spread (min..max) and the ratio to freelist.
 * A benchmark, not a test: exit 0 when every run completed, 1 when one
 * failed, 2 bad usage.
 *
 *   bench/pool [--reps N] [--objects N] [--cap N] [--size BYTES] [--node N]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "pmnode.h"

#define RING 256u /* in flight between the threads; below every --cap */
#define MAX_REPS 51

enum impl { I_SLAB, I_FREELIST, I_MI, I_TC, I_GLIBC, NIMPL };
static const char *const impl_name[NIMPL] = {"pmn-slab", "freelist", "mimalloc", "tcmalloc",
                                             "glibc"};

static void *(*mi_malloc_p)(size_t);
static void (*mi_free_p)(void *);
static void *(*tc_malloc_p)(size_t);
static void (*tc_free_p)(void *);

/* ---- the hand-rolled pool: a tagged lock-free LIFO of indices ---- */
struct freelist {
    char *base;
    size_t size, n;
    uint32_t *next;        /* next[i]: index below i on the stack */
    _Atomic uint64_t head; /* tag << 32 | (index + 1), 0 = empty */
};

static int fl_init(struct freelist *f, size_t n, size_t size)
{
    f->n = n;
    f->size = size;
    f->base = mmap(NULL, n * size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    f->next = calloc(n, sizeof(*f->next));
    if (f->base == MAP_FAILED || f->next == NULL)
        return -1;
    memset(f->base, 0, n * size); /* pre-faulted */
    for (size_t i = 0; i < n; i++)
        f->next[i] = (uint32_t)i; /* i-1 below i (stored +1), 0 = bottom */
    atomic_store(&f->head, (uint64_t)n);
    return 0;
}

static void *fl_pop(struct freelist *f)
{
    uint64_t h = atomic_load_explicit(&f->head, memory_order_acquire), nh;

    do {
        if ((uint32_t)h == 0)
            return NULL;
        nh = ((h >> 32) + 1) << 32 | f->next[(uint32_t)h - 1];
    } while (!atomic_compare_exchange_weak_explicit(&f->head, &h, nh, memory_order_acquire,
                                                    memory_order_acquire));
    return f->base + ((uint32_t)h - 1) * f->size;
}

static void fl_push(struct freelist *f, void *p)
{
    uint32_t i = (uint32_t)(((char *)p - f->base) / f->size);
    uint64_t h = atomic_load_explicit(&f->head, memory_order_relaxed), nh;

    do {
        f->next[i] = (uint32_t)h;
        nh = ((h >> 32) + 1) << 32 | (i + 1);
    } while (!atomic_compare_exchange_weak_explicit(&f->head, &h, nh, memory_order_release,
                                                    memory_order_relaxed));
}

/* ---- one run ---- */
struct run {
    enum impl im;
    struct pmn_slab *slab;
    struct freelist *fl;
    size_t size, objects;
    _Atomic size_t head, tail;
    void *slot[RING];
    uint64_t empty; /* producer found the pool empty */
    int cpu[2];
    bool failed;
};

static inline void *do_alloc(struct run *r)
{
    switch (r->im) {
    case I_SLAB: return pmn_slab_alloc(r->slab);
    case I_FREELIST: return fl_pop(r->fl);
    case I_MI: return mi_malloc_p(r->size);
    case I_TC: return tc_malloc_p(r->size);
    default: return malloc(r->size);
    }
}

static inline void do_free(struct run *r, void *p)
{
    switch (r->im) {
    case I_SLAB:
        if (pmn_slab_free(r->slab, p) != 0)
            r->failed = true;
        break;
    case I_FREELIST: fl_push(r->fl, p); break;
    case I_MI: mi_free_p(p); break;
    case I_TC: tc_free_p(p); break;
    default: free(p);
    }
}

static void pin(int cpu)
{
    cpu_set_t set;

    if (cpu < 0)
        return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *consumer(void *p)
{
    struct run *r = p;

    size_t head = 0; /* the producer's index as last read: re-read only when caught up */

    pin(r->cpu[1]);
    for (size_t done = 0; done < r->objects;) {
        size_t t = done;
        if (t == head && (head = atomic_load_explicit(&r->head, memory_order_acquire)) == t)
            continue;
        void *o = r->slot[t % RING];
        ((volatile char *)o)[1] += 1; /* the consumer reads the packet */
        do_free(r, o);
        atomic_store_explicit(&r->tail, t + 1, memory_order_release);
        done++;
    }
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Objects per second, or -1 when the run failed. */
static double run_once(struct run *r)
{
    pthread_t t;
    double t0, t1;

    atomic_store(&r->head, 0);
    atomic_store(&r->tail, 0);
    r->empty = 0;
    if (pthread_create(&t, NULL, consumer, r) != 0)
        return -1;
    pin(r->cpu[0]);
    t0 = now_s();
    size_t tail = 0; /* the consumer's index as last read */

    for (size_t i = 0; i < r->objects; i++) {
        void *o;
        while (i - tail >= RING)
            tail = atomic_load_explicit(&r->tail, memory_order_acquire);
        while ((o = do_alloc(r)) == NULL) {
            r->empty++;
            if (r->im != I_SLAB && r->im != I_FREELIST) {
                r->failed = true;
                break;
            }
        }
        if (o == NULL)
            break;
        ((char *)o)[0] = (char)i; /* the producer writes the packet */
        r->slot[i % RING] = o;
        atomic_store_explicit(&r->head, i + 1, memory_order_release);
    }
    pthread_join(t, NULL);
    t1 = now_s();
    return r->failed ? -1 : (double)r->objects / (t1 - t0);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void ensure_static_tls(char **argv)
{
    const char *cur = getenv("GLIBC_TUNABLES");
    char buf[1024];

    if (cur && strstr(cur, "glibc.rtld.optional_static_tls"))
        return;
    snprintf(buf, sizeof(buf), "%s%sglibc.rtld.optional_static_tls=65536", cur ? cur : "",
             cur && *cur ? ":" : "");
    if (setenv("GLIBC_TUNABLES", buf, 1) == 0)
        execv("/proc/self/exe", argv);
}

#define SYM(h, var, name) (*(void **)(&(var)) = dlsym((h), (name)))

int main(int argc, char **argv)
{
    long reps = 7, objects = 2000000, cap = 1024, size = 2048, node = 0;
    const char *skip[NIMPL] = {0};
    double res[NIMPL][MAX_REPS], med[NIMPL];
    struct pmn_ctx *ctx = NULL;
    struct pmn_backing_params *bp = NULL;
    struct pmn_backing *b = NULL;
    struct pmn_slab *slab = NULL;
    struct freelist fl;
    cpu_set_t allowed;
    int cpus[2] = {-1, -1}, nc = 0, rc = 0, err;
    void *h;

    for (int i = 1; i < argc; i++) {
        long *dst = !strcmp(argv[i], "--reps")      ? &reps
                    : !strcmp(argv[i], "--objects") ? &objects
                    : !strcmp(argv[i], "--cap")     ? &cap
                    : !strcmp(argv[i], "--size")    ? &size
                    : !strcmp(argv[i], "--node")    ? &node
                                                    : NULL;
        if (dst == NULL || i + 1 >= argc || (*dst = atol(argv[++i])) < 0) {
            fprintf(stderr, "usage: pool [--reps N] [--objects N] [--cap N] [--size BYTES] "
                            "[--node N]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > MAX_REPS || objects < 1 || cap <= (long)RING || size < 16 ||
        size > (256 << 10)) {
        fprintf(stderr, "pool: reps 1..%d, cap above %u, size 16..262144\n", MAX_REPS, RING);
        return 2;
    }
    ensure_static_tls(argv);
    if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0)
        for (int c = 0; c < CPU_SETSIZE && nc < 2; c++)
            if (CPU_ISSET(c, &allowed))
                cpus[nc++] = c;

    h = dlopen("libmimalloc.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!h || !SYM(h, mi_malloc_p, "mi_malloc") || !SYM(h, mi_free_p, "mi_free"))
        skip[I_MI] = "libmimalloc.so.2 not loadable (Debian libmimalloc2.0)";
    h = dlopen("libtcmalloc_minimal.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!h || !SYM(h, tc_malloc_p, "tc_malloc") || !SYM(h, tc_free_p, "tc_free"))
        skip[I_TC] = "libtcmalloc_minimal.so.4 not loadable (Debian libtcmalloc-minimal4)";
    if (fl_init(&fl, (size_t)cap, (size_t)size) != 0)
        skip[I_FREELIST] = "cannot map the pre-faulted region";

    {
        struct pmn_slab_opts so = {.struct_size = sizeof(so),
                                   .cap_objects = (uint64_t)cap,
                                   .reserve_objects = (size_t)cap};
        if ((err = pmn_ctx_new(&ctx)) < 0 || (err = pmn_backing_params_new(&bp)) < 0 ||
            (err = pmn_backing_params_set_node(bp, (int)node)) < 0 ||
            (err = pmn_backing_new(ctx, bp, &b)) < 0 ||
            (err = pmn_slab_new_opts(b, (size_t)size, &so, &slab)) < 0) {
            fprintf(stderr, "pool: pmn-slab on node %ld: %s\n", node, pmn_strerror(err));
            skip[I_SLAB] = "no slab";
        }
    }

    printf("capped pool, producer allocates, consumer frees (every free cross-thread)\n");
    printf("%ld objects of %ld B per run, ring %u, cap %ld objects, node %ld, cpus %d,%d, %ld "
           "reps round-robin\n",
           objects, size, RING, cap, node, cpus[0], cpus[1], reps);
    for (long rep = 0; rep < reps; rep++) {
        for (int im = 0; im < NIMPL; im++) {
            struct run *r;
            if (skip[im])
                continue;
            r = calloc(1, sizeof(*r));
            *r = (struct run){.im = im,
                              .slab = slab,
                              .fl = &fl,
                              .size = (size_t)size,
                              .objects = (size_t)objects,
                              .cpu = {cpus[0], cpus[1]}};
            res[im][rep] = run_once(r);
            if (res[im][rep] < 0) {
                fprintf(stderr, "pool: %s run failed\n", impl_name[im]);
                skip[im] = "failed";
                rc = 1;
            }
            free(r);
        }
    }
    for (int im = 0; im < NIMPL; im++) {
        if (skip[im])
            continue;
        qsort(res[im], (size_t)reps, sizeof(double), cmp_d);
        med[im] = res[im][reps / 2];
    }
    printf("%-10s %14s %22s %12s %12s\n", "impl", "Mobjects/s", "spread (min..max)", "vs freelist",
           "vs pmn-slab");
    for (int im = 0; im < NIMPL; im++) {
        if (skip[im]) {
            printf("%-10s %14s   (%s)\n", impl_name[im], "-", skip[im]);
            continue;
        }
        printf("%-10s %14.2f %10.2f..%-10.2f", impl_name[im], med[im] / 1e6, res[im][0] / 1e6,
               res[im][reps - 1] / 1e6);
        if (!skip[I_FREELIST])
            printf(" %11.2fx", med[im] / med[I_FREELIST]);
        else
            printf(" %12s", "-");
        if (!skip[I_SLAB])
            printf(" %11.2fx", med[im] / med[I_SLAB]);
        printf("\n");
    }
    if (slab != NULL) {
        struct pmn_alloc_stats st = {.struct_size = sizeof(st)};
        if (pmn_slab_stats(slab, &st) == 0)
            printf("pmn-slab: %llu KiB populated for a %ld-object cap, %llu region maps, %llu "
                   "objects live at the end\n",
                   (unsigned long long)(st.populated >> 10), cap,
                   (unsigned long long)st.backing.region_maps, (unsigned long long)st.objects);
    }
    pmn_slab_destroy(slab);
    pmn_backing_free(b);
    pmn_backing_params_free(bp);
    pmn_ctx_unref(ctx);
    return rc;
}
