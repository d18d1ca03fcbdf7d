/*
 * alloc-ab.c - two (or more) builds of libpmnode side by side in one
 * process, against tcmalloc, for changes smaller than this host's noise.
 *
 *   build/bench/alloc-ab [--reps N] [--workload NAME] LIB|slab:LIB|tc ...
 *
 * Each LIB is the path of a libpmnode.so.0 (a build of another revision:
 * `ninja -C other libpmnode/libpmnode.so.0.9.1`, copied anywhere), with its
 * own backing (node 0) and arena; "slab:LIB" the same library's slabs
 * instead (pmn_slab_alloc/pmn_slab_free, one slab of 64 B and one of
 * 2 KiB objects: the fixed and burst rows; random reads "-"); "tc" is
 * Debian's tcmalloc-minimal (tc_malloc/tc_free).  Each implementation runs in a process of its own
 * (a child forked before anything is loaded, which loads its library and
 * then waits for the parent's turn), so that no build shares an address
 * space with another: two builds dlmopen()ed into one process read 10-30 %
 * slower than alone, the second loaded more, which turned small changes
 * upside down (bench/README.md "Issue 17, 0.12.4").  The workloads are
 * bench/alloc's, one thread, as short runs (about 5 ms) that rotate
 * through the implementations, rep after rep, so that a phase of the
 * shared host (on this VM whole minutes run at half speed) hits them all
 * alike; each row prints the minimum, the first quartile and the median
 * over the reps (default 30).  Compare medians and first quartiles: one
 * build read within 1-2 % of itself from run to run this way, where
 * bench/alloc's median of 5 moved by 10-40 % between runs of one build.
 *
 *   fixed-64, fixed-2k  malloc + touch one byte + free, in a loop
 *   random              1000 live objects of 16 B-64 KiB (log-uniform, the
 *                       same generator as bench/alloc), free one at random
 *                       and allocate another
 *   burst-m, burst-f    1000 mallocs of 64 B, then their 1000 frees: the
 *                       two halves timed apart (ns per call)
 *
 * A benchmark: it prints numbers and never fails on them.  Exit status 0,
 * 1 when a library cannot be loaded or set up, 2 bad usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

enum { W_FIXED64, W_FIXED2K, W_RANDOM, W_BURST_M, W_BURST_F, NW };
static const char *const wname[NW] = {"fixed-64", "fixed-2k", "random", "burst-m", "burst-f"};

#define MAX_IMPL 8
#define MAX_REPS 1000
#define LIVE 1000
#define RND_LEN 65536u

struct impl {
    const char *name;
    void *arena;                           /* libpmnode: the arena, else NULL */
    void *(*arena_malloc)(void *, size_t); /* pmn_arena_malloc */
    int (*pfree)(void *);                  /* pmn_free */
    void *slab64, *slab2k;                 /* slab:LIB: its slabs, else NULL */
    void *(*slab_alloc)(void *);           /* pmn_slab_alloc */
    int (*slab_free)(void *, void *);      /* pmn_slab_free */
    void *(*tmalloc)(size_t);              /* tc_malloc */
    void (*tfree)(void *);                 /* tc_free */
    int cmd, res;                          /* the parent's ends of its pipes */
    pid_t pid;                             /* its process */
    double ns[NW][MAX_REPS];
};

static uint32_t sizes[RND_LEN];
static uint16_t slots[RND_LEN];
static void *objs[LIVE];

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The slab of @n-byte objects (64 or 2048: the only sizes asked of a
 * slab impl). */
static inline void *slab_of(const struct impl *im, size_t n)
{
    return n == 64 ? im->slab64 : im->slab2k;
}

static inline void *im_alloc(const struct impl *im, size_t n)
{
    if (im->slab64)
        return im->slab_alloc(slab_of(im, n));
    return im->arena ? im->arena_malloc(im->arena, n) : im->tmalloc(n);
}

static inline void im_free_sized(const struct impl *im, void *p, size_t n)
{
    if (im->slab64)
        (void)im->slab_free(slab_of(im, n), p);
    else if (im->arena)
        (void)im->pfree(p);
    else
        im->tfree(p);
}

static inline void im_free(const struct impl *im, void *p)
{
    im_free_sized(im, p, 64);
}

/* bench/alloc's generator: xorshift64*, sizes log-uniform in [16, 65536]. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static void prepare(void)
{
    uint64_t s = 0x9e3779b97f4a7c15ull;

    for (unsigned i = 0; i < RND_LEN; i++) {
        unsigned e = 4 + (unsigned)(rng_next(&s) % 12);
        uint64_t lo = 1ull << e;

        sizes[i] = (uint32_t)(lo + rng_next(&s) % (lo + 1));
        slots[i] = (uint16_t)(rng_next(&s) % LIVE);
    }
}

/* Load the libpmnode at @path (this process's only one: alloc-ab itself
 * links none) and make it an arena on node 0: 0, or -1 with the reason
 * printed. */
static int load_pmn(struct impl *im, const char *path)
{
    bool slab = strncmp(path, "slab:", 5) == 0;
    void *h = dlopen(slab ? path + 5 : path, RTLD_NOW | RTLD_LOCAL);
    int (*ctx_new)(void **), (*params_new)(void **), (*set_node)(void *, int);
    int (*backing_new)(void *, void *, void **), (*arena_new)(void *, const void *, void **);
    int (*slab_new)(void *, size_t, size_t, uint64_t, void **);
    void (*params_free)(void *);
    void *ctx = NULL, *params = NULL, *backing = NULL;

    if (h == NULL) {
        fprintf(stderr, "alloc-ab: %s\n", dlerror());
        return -1;
    }
    *(void **)&ctx_new = dlsym(h, "pmn_ctx_new");
    *(void **)&params_new = dlsym(h, "pmn_backing_params_new");
    *(void **)&set_node = dlsym(h, "pmn_backing_params_set_node");
    *(void **)&params_free = dlsym(h, "pmn_backing_params_free");
    *(void **)&backing_new = dlsym(h, "pmn_backing_new");
    *(void **)&arena_new = dlsym(h, "pmn_arena_new");
    *(void **)&im->arena_malloc = dlsym(h, "pmn_arena_malloc");
    *(void **)&im->pfree = dlsym(h, "pmn_free");
    if (!ctx_new || !params_new || !set_node || !params_free || !backing_new || !arena_new ||
        !im->arena_malloc || !im->pfree) {
        fprintf(stderr, "alloc-ab: %s lacks a libpmnode entry point\n", path);
        return -1;
    }
    if (ctx_new(&ctx) != 0 || params_new(&params) != 0 || set_node(params, 0) != 0 ||
        backing_new(ctx, params, &backing) != 0 || arena_new(backing, NULL, &im->arena) != 0) {
        fprintf(stderr, "alloc-ab: %s: no arena on node 0\n", path);
        return -1;
    }
    params_free(params);
    if (!slab)
        return 0;
    *(void **)&slab_new = dlsym(h, "pmn_slab_new");
    *(void **)&im->slab_alloc = dlsym(h, "pmn_slab_alloc");
    *(void **)&im->slab_free = dlsym(h, "pmn_slab_free");
    if (!slab_new || !im->slab_alloc || !im->slab_free ||
        slab_new(backing, 64, 0, 0, &im->slab64) != 0 ||
        slab_new(backing, 2048, 0, 0, &im->slab2k) != 0) {
        fprintf(stderr, "alloc-ab: %s: no slabs on node 0\n", path);
        return -1;
    }
    return 0;
}

static int load_tc(struct impl *im)
{
    void *h = dlopen("libtcmalloc_minimal.so.4", RTLD_NOW | RTLD_LOCAL);

    if (h == NULL) {
        fprintf(stderr, "alloc-ab: %s (apt install libtcmalloc-minimal4)\n", dlerror());
        return -1;
    }
    *(void **)&im->tmalloc = dlsym(h, "tc_malloc");
    *(void **)&im->tfree = dlsym(h, "tc_free");
    return im->tmalloc && im->tfree ? 0 : -1;
}

static double run_fixed(const struct impl *im, size_t size, uint64_t n)
{
    uint64_t t0 = now_ns();

    for (uint64_t i = 0; i < n; i++) {
        void *p = im_alloc(im, size);

        *(volatile unsigned char *)p = (unsigned char)i;
        im_free_sized(im, p, size);
    }
    return (double)(now_ns() - t0) / (double)n;
}

static double run_random(const struct impl *im, uint64_t n)
{
    uint64_t t0, t1;

    for (unsigned k = 0; k < LIVE; k++)
        objs[k] = im_alloc(im, sizes[k]);
    t0 = now_ns();
    for (uint64_t i = 0; i < n; i++) {
        unsigned j = (unsigned)((i + LIVE) % RND_LEN);
        uint16_t s = slots[j];

        im_free(im, objs[s]);
        objs[s] = im_alloc(im, sizes[j]);
        *(volatile unsigned char *)objs[s] = (unsigned char)i;
    }
    t1 = now_ns();
    for (unsigned k = 0; k < LIVE; k++)
        im_free(im, objs[k]);
    return (double)(t1 - t0) / (double)n;
}

/* ns per malloc (@frees false) or per free of 64 B objects, 1000 at a time. */
static double run_burst(const struct impl *im, uint64_t n, bool frees)
{
    uint64_t spent = 0;

    for (uint64_t r = 0; r < n / LIVE; r++) {
        uint64_t a = now_ns(), b, c;

        for (unsigned k = 0; k < LIVE; k++)
            objs[k] = im_alloc(im, 64);
        b = now_ns();
        for (unsigned k = 0; k < LIVE; k++)
            im_free(im, objs[k]);
        c = now_ns();
        spent += frees ? c - b : b - a;
    }
    return (double)spent / (double)(n / LIVE * LIVE);
}

static double run(const struct impl *im, int w)
{
    switch (w) {
    case W_FIXED64: return run_fixed(im, 64, 1000000);
    case W_FIXED2K: return run_fixed(im, 2048, 1000000);
    case W_RANDOM: return im->slab64 ? -1 : run_random(im, 200000);
    case W_BURST_M: return run_burst(im, 500000, false);
    default: return run_burst(im, 500000, true);
    }
}

/* Fork the process that runs @im: it loads @path ("tc" or a libpmnode),
 * says whether that worked, then runs each workload the parent names and
 * answers with its ns, until the parent closes the pipe.  0, or -1 with
 * the reason printed (by the child, when the load failed). */
static int spawn(struct impl *im, const char *path)
{
    int cmd[2], res[2];
    pid_t pid;
    double ok;

    fflush(stdout);
    if (pipe(cmd) != 0 || pipe(res) != 0 || (pid = fork()) < 0) {
        perror("alloc-ab");
        return -1;
    }
    if (pid == 0) {
        int w;
        double v;

        close(cmd[1]);
        close(res[0]);
        v = (strcmp(path, "tc") == 0 ? load_tc(im) : load_pmn(im, path)) == 0 ? 0 : -1;
        if (write(res[1], &v, sizeof(v)) != (ssize_t)sizeof(v) || v < 0)
            _exit(1);
        while (read(cmd[0], &w, sizeof(w)) == (ssize_t)sizeof(w)) {
            v = run(im, w);
            if (write(res[1], &v, sizeof(v)) != (ssize_t)sizeof(v))
                _exit(1);
        }
        _exit(0);
    }
    close(cmd[0]);
    close(res[1]);
    im->cmd = cmd[1];
    im->res = res[0];
    im->pid = pid;
    if (read(im->res, &ok, sizeof(ok)) != (ssize_t)sizeof(ok) || ok < 0) {
        fprintf(stderr, "alloc-ab: %s could not be set up\n", path);
        return -1;
    }
    return 0;
}

/* One run of workload @w in @im's process: 0 with its ns in *@ns, or -1. */
static int ask(const struct impl *im, int w, double *ns)
{
    if (write(im->cmd, &w, sizeof(w)) != (ssize_t)sizeof(w) ||
        read(im->res, ns, sizeof(*ns)) != (ssize_t)sizeof(*ns)) {
        fprintf(stderr, "alloc-ab: %s stopped answering\n", im->name);
        return -1;
    }
    return 0;
}

/* End every process: all pipes closed first, since each child holds the
 * write ends of the pipes of the children forked before it (the last one
 * sees its end of input first, and its exit lets the one before it see
 * its end). */
static void finish(struct impl *im, int n)
{
    for (int k = 0; k < n; k++) {
        close(im[k].cmd);
        close(im[k].res);
    }
    for (int k = 0; k < n; k++)
        waitpid(im[k].pid, NULL, 0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void usage(void)
{
    fprintf(stderr, "usage: alloc-ab [--reps N] [--workload NAME] LIB|slab:LIB|tc ...\n"
                    "workloads: fixed-64 fixed-2k random burst-m burst-f (default: all)\n");
}

int main(int argc, char **argv)
{
    static struct impl im[MAX_IMPL];
    int reps = 30, only = -1, n = 0, i = 1;

    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--workload") == 0 && i + 1 < argc) {
            for (only = 0; only < NW && strcmp(wname[only], argv[i + 1]) != 0; only++)
                ;
            i++;
        } else {
            usage();
            return 2;
        }
    }
    if (reps < 1 || reps > MAX_REPS || only == NW || i == argc || argc - i > MAX_IMPL) {
        usage();
        return 2;
    }
    prepare();
    for (; i < argc; i++, n++) {
        im[n].name = argv[i];
        if (spawn(&im[n], argv[i]) != 0)
            return 1;
    }
    printf("alloc-ab: ns per call pair (burst: per call), %d interleaved reps, one thread, "
           "one process per implementation\n",
           reps);
    for (int r = 0; r < reps; r++)
        for (int w = 0; w < NW; w++)
            for (int k = 0; k < n && (only < 0 || only == w); k++)
                if (ask(&im[k], w, &im[k].ns[w][r]) != 0)
                    return 1;
    finish(im, n);
    for (int w = 0; w < NW; w++) {
        if (only >= 0 && only != w)
            continue;
        printf("%s\n", wname[w]);
        for (int k = 0; k < n; k++) {
            qsort(im[k].ns[w], (size_t)reps, sizeof(double), cmp_double);
            if (im[k].ns[w][0] < 0) {
                printf("  %-40s -\n", im[k].name);
                continue;
            }
            printf("  %-40s min %6.2f  q25 %6.2f  median %6.2f\n", im[k].name, im[k].ns[w][0],
                   im[k].ns[w][reps / 4], im[k].ns[w][reps / 2]);
        }
    }
    return 0;
}
