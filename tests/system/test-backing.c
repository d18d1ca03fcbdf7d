/*
 * test-backing.c - strict placement on this host (suite 'system').
 *
 * Every backing the host supports maps on node 0 and every page is checked
 * with pmn_where(); the errors of the placement contract (no such node,
 * size 0, absurd sizes, a node too full, another machine's root, a missing
 * dax device, map_at on a non-dax backing) come back as codes, before any
 * memory is touched.  What this host cannot show (a node outside the
 * cpuset, a memory-less node, free 2 MiB huge pages that cannot be
 * reserved) is skipped with the reason; the vm lane covers those.
 *
 * PMN_FIXTURES points at tests/fixtures (set in meson.build).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pmnode.h"

#define MiB (1ull << 20)
#define REGION (64 * MiB)

/* ---- helpers ----------------------------------------------------------- */

/* A context for this machine, whatever PMNODE_* the environment holds. */
static struct pmn_ctx *local_ctx(void)
{
    struct pmn_ctx_params *p;
    struct pmn_ctx *ctx = NULL;

    cr_assert_eq(pmn_ctx_params_new(&p), 0);
    cr_assert_eq(pmn_ctx_params_set_root(p, "/"), 0);
    cr_assert_eq(pmn_ctx_params_set_flags(p, PMN_CTX_IGNORE_ENV | PMN_CTX_NO_CONFIG), 0);
    cr_assert_eq(pmn_ctx_new_params(&ctx, p), 0, "no context for this machine");
    pmn_ctx_params_free(p);
    cr_assert(pmn_ctx_is_local(ctx));
    cr_assert_not_null(pmn_node_get(ctx, 0), "this host has no node 0");
    return ctx;
}

static struct pmn_backing_params *params(enum pmn_backing_type type, int node)
{
    struct pmn_backing_params *p;

    cr_assert_eq(pmn_backing_params_new(&p), 0);
    cr_assert_eq(pmn_backing_params_set_type(p, type), 0);
    if (node >= 0)
        cr_assert_eq(pmn_backing_params_set_node(p, node), 0);
    return p;
}

/* A backing of @type on node 0 (page size only for hugetlb). */
static struct pmn_backing *backing0(struct pmn_ctx *ctx, enum pmn_backing_type type, bool thp,
                                    size_t huge)
{
    struct pmn_backing_params *p = params(type, 0);
    struct pmn_backing *b = NULL;
    int err;

    if (thp)
        cr_assert_eq(pmn_backing_params_set_thp(p, true), 0);
    if (huge)
        cr_assert_eq(pmn_backing_params_set_page_size(p, huge), 0);
    err = pmn_backing_new(ctx, p, &b);
    pmn_backing_params_free(p);
    cr_assert_eq(err, 0, "pmn_backing_new(%s): %s", pmn_backing_type_name(type),
                 pmn_strerror(err));
    cr_assert_not_null(b);
    cr_assert_eq(pmn_backing_type(b), type);
    return b;
}

/* Resident set of this process in bytes (/proc/self/statm). */
static uint64_t rss_bytes(void)
{
    unsigned long long size, resident;
    FILE *f = fopen("/proc/self/statm", "r");

    cr_assert_not_null(f, "/proc/self/statm: %s", strerror(errno));
    cr_assert_eq(fscanf(f, "%llu %llu", &size, &resident), 2);
    fclose(f);
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Every page of [addr, addr + len) is present and on node 0. */
static void assert_all_on_node0(const void *addr, size_t len, const char *what)
{
    struct pmn_where w = {.struct_size = sizeof(w)};
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t first = (uintptr_t)addr / page, last = ((uintptr_t)addr + len - 1) / page;
    int err = pmn_where(addr, len, &w);

    cr_assert_eq(err, 0, "%s: pmn_where: %s", what, pmn_strerror(err));
    cr_assert_eq(w.page_size, page, "%s: page size %llu", what, (unsigned long long)w.page_size);
    cr_assert_eq(w.pages, last - first + 1, "%s: %llu pages examined, want %llu", what,
                 (unsigned long long)w.pages, (unsigned long long)(last - first + 1));
    cr_assert_eq(w.not_present, 0, "%s: %llu pages not present", what,
                 (unsigned long long)w.not_present);
    cr_assert_eq(w.unknown, 0, "%s: %llu pages unknown", what, (unsigned long long)w.unknown);
    cr_assert_eq(w.other, 0, "%s: %llu pages on other nodes", what, (unsigned long long)w.other);
    cr_assert_eq(w.nnodes, 1, "%s: pages on %zu nodes", what, w.nnodes);
    cr_assert_eq(w.node[0].node, 0, "%s: pages on node %d", what, w.node[0].node);
    cr_assert_eq(pmn_where_pages_on(&w, 0), w.pages, "%s: %llu of %llu pages on node 0", what,
                 (unsigned long long)pmn_where_pages_on(&w, 0), (unsigned long long)w.pages);
}

/* Write a pattern over every word of the region, then read it back. */
static void assert_rw(void *addr, size_t len, uint64_t seed)
{
    uint64_t *p = addr;
    size_t n = len / sizeof(*p);

    for (size_t i = 0; i < n; i++)
        p[i] = (i + 1) * 0x9e3779b97f4a7c15ull ^ seed;
    for (size_t i = 0; i < n; i++)
        if (p[i] != ((i + 1) * 0x9e3779b97f4a7c15ull ^ seed))
            cr_assert_fail("word %zu reads %#llx", i, (unsigned long long)p[i]);
}

/*
 * The whole contract for one backing on node 0: a 64 MiB region and a
 * granule+1 byte region (rounded up to two granules), every page on node 0,
 * content read back, stats counting the bytes and back to 0 after unmap.
 */
static void check_backing(enum pmn_backing_type type, bool thp, size_t huge)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing *b = backing0(ctx, type, thp, huge);
    struct pmn_backing_stats st = {.struct_size = sizeof(st)};
    struct pmn_region *r = NULL, *small = NULL;
    size_t granule = pmn_backing_granule(b);
    int err;

    cr_assert_gt(granule, 0);
    cr_assert_eq(granule & (granule - 1), 0, "granule %zu is not a power of two", granule);
    if (type == PMN_BACKING_HUGETLB)
        cr_assert_eq(granule, huge, "hugetlb granule %zu, asked for %zu", granule, huge);
    else
        cr_assert_eq(granule, (size_t)sysconf(_SC_PAGESIZE));

    err = pmn_region_map(b, REGION, &r);
    cr_assert_eq(err, 0, "map 64 MiB: %s", pmn_strerror(err));
    cr_assert_not_null(r);
    cr_assert_eq(pmn_region_size(r), REGION);
    cr_assert_eq((uintptr_t)pmn_region_addr(r) % granule, 0, "region not aligned to its granule");
    cr_assert_eq(pmn_region_node(r), 0);
    cr_assert_gt(pmn_region_populate_ns(r), 0, "populate took no time");
    cr_assert_gt(pmn_region_verify_ns(r), 0, "verify is on by default but took no time");
    if (type == PMN_BACKING_MEMFD)
        cr_assert_geq(pmn_region_fd(r), 0, "memfd region without an fd");
    else
        cr_assert_eq(pmn_region_fd(r), -1);
    assert_all_on_node0(pmn_region_addr(r), pmn_region_size(r), "64 MiB region");

    err = pmn_region_map(b, granule + 1, &small);
    cr_assert_eq(err, 0, "map granule+1: %s", pmn_strerror(err));
    cr_assert_eq(pmn_region_size(small), 2 * granule, "granule+1 bytes mapped as %zu",
                 pmn_region_size(small));
    assert_all_on_node0(pmn_region_addr(small), pmn_region_size(small), "granule+1 region");

    assert_rw(pmn_region_addr(r), pmn_region_size(r), 0x5a5a);
    assert_rw(pmn_region_addr(small), pmn_region_size(small), 0xa5a5);
    /* Writing everything must not have moved anything. */
    assert_all_on_node0(pmn_region_addr(r), pmn_region_size(r), "64 MiB region after writes");

    if (thp) {
        /* The advice must be on the VMA; whether the kernel found huge
         * pages is its business, reported for the record. */
        FILE *f = fopen("/proc/self/smaps", "r");
        char line[256];
        unsigned long lo = 0, hi = 0, start = (unsigned long)(uintptr_t)pmn_region_addr(r);
        bool in = false, advised = false;
        unsigned long long anon_huge = 0;
        cr_assert_not_null(f);
        while (fgets(line, sizeof(line), f) != NULL) {
            if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
                in = start >= lo && start < hi;
            else if (in && strncmp(line, "VmFlags:", 8) == 0)
                advised = strstr(line, " hg") != NULL;
            else if (in && strncmp(line, "AnonHugePages:", 14) == 0)
                sscanf(line + 14, "%llu", &anon_huge);
        }
        fclose(f);
        cr_assert(advised, "THP asked for but the region's VMA has no 'hg' (MADV_HUGEPAGE)");
        cr_log_info("thp: %llu kB of the 64 MiB region in transparent huge pages", anon_huge);
    }

    cr_assert_eq(pmn_backing_stats(b, &st), 0);
    cr_assert_eq(st.mapped_bytes, REGION + 2 * granule);
    cr_assert_geq(st.mapped_peak_bytes, st.mapped_bytes);
    cr_assert_eq(st.region_maps, 2);
    cr_assert_eq(st.region_map_failures, 0);
    cr_assert_eq(st.spilled_bytes, 0);
    cr_assert_eq(st.nnodes, 1);
    cr_assert_eq(st.node[0].node, 0);
    cr_assert_eq(st.node[0].bytes, REGION + 2 * granule);

    cr_assert_eq(pmn_region_unmap(r), 0);
    cr_assert_eq(pmn_backing_stats(b, &st), 0);
    cr_assert_eq(st.mapped_bytes, 2 * granule);
    cr_assert_eq(pmn_region_unmap(small), 0);
    cr_assert_eq(pmn_backing_stats(b, &st), 0);
    cr_assert_eq(st.mapped_bytes, 0, "%llu bytes still counted after unmap",
                 (unsigned long long)st.mapped_bytes);
    cr_assert_eq(st.node[0].bytes, 0);
    cr_assert_eq(st.mapped_peak_bytes, REGION + 2 * granule);
    cr_assert_eq(st.region_maps, 2);
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
}

/* ---- every backing on node 0 ------------------------------------------- */

Test(backing, anon_on_node0, .timeout = 120)
{
    check_backing(PMN_BACKING_ANON, false, 0);
}

Test(backing, memfd_on_node0, .timeout = 120)
{
    check_backing(PMN_BACKING_MEMFD, false, 0);
}

Test(backing, thp_anon_on_node0, .timeout = 120)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    char line[128] = "";

    if (f == NULL || fgets(line, sizeof(line), f) == NULL || strstr(line, "[never]") != NULL) {
        if (f)
            fclose(f);
        cr_skip_test("transparent huge pages are disabled on this host (%s)",
                     line[0] ? "enabled=[never]" : "no sysfs knob");
    }
    fclose(f);
    check_backing(PMN_BACKING_ANON, true, 0);
}

/* hugetlb: reserve a few 2 MiB pages on node 0 if it has none free, and
 * give them back afterwards (the fini runs after a failed assertion too). */
#define HUGE_2M (2 * MiB)
#define HUGE_DIR "/sys/devices/system/node/node0/hugepages/hugepages-2048kB/"
#define HUGE_NEED (REGION / HUGE_2M + 2 + 1) /* both regions, and one spare */

static long long huge_restore = -1;

static long long read_ll(const char *path)
{
    long long v = -1;
    FILE *f = fopen(path, "r");

    if (f == NULL)
        return -1;
    if (fscanf(f, "%lld", &v) != 1)
        v = -1;
    fclose(f);
    return v;
}

static bool write_ll(const char *path, long long v)
{
    FILE *f = fopen(path, "w");
    bool ok;

    if (f == NULL)
        return false;
    ok = fprintf(f, "%lld\n", v) > 0;
    ok = (fclose(f) == 0) && ok;
    return ok;
}

static void huge_fini(void)
{
    if (huge_restore >= 0 && !write_ll(HUGE_DIR "nr_hugepages", huge_restore))
        cr_log_warn("could not restore node 0 nr_hugepages to %lld", huge_restore);
    huge_restore = -1;
}

/* The node 0 2 MiB pool is shared by test-backing, test-byom and
 * test-ipc, which run side by side: each holds this lock while it uses or
 * resizes the pool (flock on the pool's own sysfs file, released when
 * the test's process ends).  Without it one test gave back the pages
 * another had just seen free (ENOMEM). */
static void huge_pool_lock(void)
{
    int fd = open("/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages",
                  O_RDONLY | O_CLOEXEC);

    if (fd >= 0)
        (void)flock(fd, LOCK_EX); /* kept open: held to the end of the test */
}

/* Make sure node 0 has @need free 2 MiB pages; skip the test when it cannot. */
static void huge_reserve(long long need)
{
    long long nr = read_ll(HUGE_DIR "nr_hugepages");
    long long fr = read_ll(HUGE_DIR "free_hugepages");

    if (nr < 0 || fr < 0)
        cr_skip_test("node 0 has no 2 MiB hugetlb pool (no " HUGE_DIR ")");
    if (fr >= need)
        return;
    if (geteuid() != 0)
        cr_skip_test("node 0 has %lld free 2 MiB huge pages, %lld needed, and reserving "
                     "them needs root",
                     fr, need);
    huge_restore = nr;
    if (!write_ll(HUGE_DIR "nr_hugepages", nr + (need - fr)))
        cr_skip_test("node 0 has %lld free 2 MiB huge pages, %lld needed; writing "
                     "nr_hugepages failed: %s",
                     fr, need, strerror(errno));
    fr = read_ll(HUGE_DIR "free_hugepages");
    if (fr < need)
        cr_skip_test("node 0 has %lld free 2 MiB huge pages after asking the kernel for %lld "
                     "(memory too fragmented?)",
                     fr, need);
}

/* More huge pages than the pool has free: PMN_E_NO_HUGEPAGES, nothing mapped. */
static void check_pool_too_small(void)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing *b;
    struct pmn_region *r = (struct pmn_region *)1;
    long long fr = read_ll(HUGE_DIR "free_hugepages");
    int err;

    b = backing0(ctx, PMN_BACKING_HUGETLB, false, HUGE_2M);
    err = pmn_region_map(b, (size_t)(fr + 1) * HUGE_2M, &r);
    cr_assert_eq(err, PMN_E_NO_HUGEPAGES, "%lld huge pages with %lld free: %s (%s)", fr + 1, fr,
                 pmn_err_name(err), pmn_strerror(err));
    cr_assert_null(r);
    cr_assert_eq(read_ll(HUGE_DIR "free_hugepages"), fr, "the failed map took huge pages");
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
}

/* One test for everything that touches the pool, so that parallel tests
 * do not resize it under each other. */
Test(backing, hugetlb_on_node0, .fini = huge_fini, .timeout = 120)
{
    huge_pool_lock();
    huge_reserve(HUGE_NEED);
    check_backing(PMN_BACKING_HUGETLB, false, HUGE_2M);
    check_pool_too_small();
}

/* A huge page size the node has no pool for: -EINVAL at pmn_backing_new. */
Test(backing, hugetlb_unknown_size)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing_params *p = params(PMN_BACKING_HUGETLB, 0);
    struct pmn_backing *b = (struct pmn_backing *)1;

    cr_assert_eq(pmn_backing_params_set_page_size(p, 64 * MiB * 1024), 0);
    cr_assert_eq(pmn_backing_new(ctx, p, &b), -EINVAL);
    cr_assert_null(b);
    pmn_backing_params_free(p);
    pmn_ctx_unref(ctx);
}

/* ---- memfd shared with a child ----------------------------------------- */

Test(backing, memfd_shared_with_child, .timeout = 120)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing *b = backing0(ctx, PMN_BACKING_MEMFD, false, 0);
    struct pmn_region *r = NULL;
    int err, status;
    pid_t pid;

    err = pmn_region_map(b, REGION, &r);
    cr_assert_eq(err, 0, "%s", pmn_strerror(err));
    cr_assert_geq(pmn_region_fd(r), 0);
    memset(pmn_region_addr(r), 0x11, REGION);

    pid = fork();
    cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* Exit codes name the step that failed. */
        struct pmn_where w = {.struct_size = sizeof(w)};
        unsigned char *p = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_SHARED, pmn_region_fd(r),
                                (off_t)pmn_region_offset(r)); /* a range of the backing's file */
        if (p == MAP_FAILED)
            _exit(10);
        for (size_t i = 0; i < REGION; i += 4096)
            if (p[i] != 0x11)
                _exit(11); /* the parent's data is not there */
        for (size_t i = 0; i < REGION; i++)
            p[i] = (unsigned char)(i * 7 + 3);
        if (pmn_where(p, REGION, &w) != 0)
            _exit(12);
        if (w.not_present != 0 || w.unknown != 0 || w.other != 0)
            _exit(13);
        if (w.nnodes != 1 || pmn_where_pages_on(&w, 0) != w.pages ||
            w.pages != REGION / w.page_size)
            _exit(14); /* a page of the shared memfd is not on node 0 */
        munmap(p, REGION);
        _exit(0);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "child killed by signal %d", WTERMSIG(status));
    cr_assert_eq(WEXITSTATUS(status), 0,
                 "child failed at step %d (10 mmap, 11 read, 12 pmn_where, 13 not present, "
                 "14 off node 0)",
                 WEXITSTATUS(status));

    const unsigned char *q = pmn_region_addr(r);
    for (size_t i = 0; i < REGION; i++)
        if (q[i] != (unsigned char)(i * 7 + 3))
            cr_assert_fail("byte %zu the child wrote reads %#x in the parent", i, q[i]);
    assert_all_on_node0(q, REGION, "memfd region after the child wrote it");
    cr_assert_eq(pmn_region_unmap(r), 0);
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
}

/* ---- errors ------------------------------------------------------------- */

Test(errors, nonexistent_node)
{
    struct pmn_ctx *ctx = local_ctx();
    const struct pmn_node *n, *last = NULL;
    int ids[2];

    pmn_node_foreach (ctx, n)
        last = n;
    ids[0] = pmn_node_id(last) + 1;
    ids[1] = 999;
    for (size_t i = 0; i < 2; i++) {
        struct pmn_backing_params *p;
        struct pmn_backing *b = (struct pmn_backing *)1;
        if (pmn_node_get(ctx, ids[i]) != NULL)
            continue;
        p = params(PMN_BACKING_ANON, ids[i]);
        int err = pmn_backing_new(ctx, p, &b);
        cr_assert_eq(err, PMN_E_NO_NODE, "node %d: %s", ids[i], pmn_err_name(err));
        cr_assert_null(b);
        pmn_backing_params_free(p);
    }
    pmn_ctx_unref(ctx);
}

Test(errors, size_zero)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing *b = backing0(ctx, PMN_BACKING_ANON, false, 0);
    struct pmn_region *r = (struct pmn_region *)1;
    struct pmn_backing_stats st = {.struct_size = sizeof(st)};

    cr_assert_eq(pmn_region_map(b, 0, &r), -EINVAL);
    cr_assert_null(r);
    cr_assert_eq(pmn_backing_stats(b, &st), 0);
    cr_assert_eq(st.mapped_bytes, 0);
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
}

/* SIZE_MAX and 1 PiB are refused before any memory is touched. */
Test(errors, absurd_sizes, .timeout = 30)
{
    static const size_t sizes[] = {SIZE_MAX, (size_t)1 << 50, SIZE_MAX / 2 + 1};
    static const enum pmn_backing_type types[] = {PMN_BACKING_ANON, PMN_BACKING_MEMFD};
    struct pmn_ctx *ctx = local_ctx();

    for (size_t t = 0; t < 2; t++) {
        struct pmn_backing *b = backing0(ctx, types[t], false, 0);
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            struct pmn_region *r = (struct pmn_region *)1;
            uint64_t before = rss_bytes();
            double t0 = now_s();
            int err = pmn_region_map(b, sizes[i], &r);
            uint64_t after = rss_bytes();
            cr_assert(err == PMN_E_NODE_FULL || err == -ENOMEM,
                      "%s: %zu bytes: %s (%s), want PMN_E_NODE_FULL or -ENOMEM",
                      pmn_backing_type_name(types[t]), sizes[i], pmn_err_name(err),
                      pmn_strerror(err));
            cr_assert_null(r);
            cr_assert_lt(after, before + 4 * MiB, "RSS grew by %llu bytes",
                         (unsigned long long)(after - before));
            cr_assert_lt(now_s() - t0, 2.0, "refusing %zu bytes took %.2f s", sizes[i],
                         now_s() - t0);
        }
        pmn_backing_free(b);
    }
    pmn_ctx_unref(ctx);
}

/* More than node 0 has available (what the check compares: MemFree less
 * the zones' reserves plus reclaimable cache, pmn_node_read_available):
 * fails fast, touches nothing, and the next small map still works. */
Test(errors, larger_than_free, .timeout = 60)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing *b = backing0(ctx, PMN_BACKING_ANON, false, 0);
    struct pmn_region *r = (struct pmn_region *)1;
    struct pmn_backing_stats st = {.struct_size = sizeof(st)};
    uint64_t free_b, before, after;
    double t0, took;
    int err;

    err = pmn_node_read_available(ctx, 0, &free_b);
    cr_assert_eq(err, 0, "node 0 available memory: %s", pmn_strerror(err));
    cr_assert_lt(free_b, SIZE_MAX - 64 * MiB);
    before = rss_bytes();
    t0 = now_s();
    err = pmn_region_map(b, (size_t)free_b + 64 * MiB, &r);
    took = now_s() - t0;
    after = rss_bytes();
    cr_assert_eq(err, PMN_E_NODE_FULL, "%llu bytes with %llu available: %s (%s)",
                 (unsigned long long)free_b + 64 * MiB, (unsigned long long)free_b,
                 pmn_err_name(err), pmn_strerror(err));
    cr_assert_null(r);
    cr_assert_lt(after, before + 4 * MiB, "RSS grew by %llu bytes before failing",
                 (unsigned long long)(after - before));
    cr_assert_lt(took, 1.0, "failing took %.3f s: not before touching memory", took);
    cr_assert_eq(pmn_backing_stats(b, &st), 0);
    cr_assert_eq(st.region_map_failures, 1);
    cr_assert_eq(st.mapped_bytes, 0);

    /* Exactly the available memory is still too much: the headroom stays. */
    r = (struct pmn_region *)1;
    err = pmn_region_map(b, (size_t)free_b, &r);
    cr_assert_eq(err, PMN_E_NODE_FULL, "all of node 0's available memory: %s", pmn_err_name(err));
    cr_assert_null(r);

    err = pmn_region_map(b, 4 * MiB, &r);
    cr_assert_eq(err, 0, "a small map after the failure: %s", pmn_strerror(err));
    assert_all_on_node0(pmn_region_addr(r), pmn_region_size(r), "small region after failure");
    cr_assert_eq(pmn_region_unmap(r), 0);
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
}

Test(errors, headroom_counts, .timeout = 60)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing_params *p = params(PMN_BACKING_ANON, 0);
    struct pmn_backing *b = NULL;
    struct pmn_region *r = (struct pmn_region *)1;
    uint64_t cap = pmn_node_capacity(pmn_node_get(ctx, 0));
    int err;

    /* 1 MiB fits, but not with the whole node kept as headroom (free
     * memory can never reach the capacity, whatever runs beside us)... */
    cr_assert_neq(cap, PMN_UNKNOWN);
    cr_assert_eq(pmn_backing_params_set_headroom(p, cap), 0);
    cr_assert_eq(pmn_backing_new(ctx, p, &b), 0);
    err = pmn_region_map(b, MiB, &r);
    cr_assert_eq(err, PMN_E_NODE_FULL, "headroom %llu: %s", (unsigned long long)cap,
                 pmn_err_name(err));
    cr_assert_null(r);
    pmn_backing_free(b);

    /* ...and with no headroom it does. */
    b = NULL;
    cr_assert_eq(pmn_backing_params_set_headroom(p, 0), 0);
    cr_assert_eq(pmn_backing_new(ctx, p, &b), 0);
    err = pmn_region_map(b, MiB, &r);
    cr_assert_eq(err, 0, "headroom 0: %s", pmn_strerror(err));
    cr_assert_eq(pmn_region_unmap(r), 0);
    pmn_backing_free(b);
    pmn_backing_params_free(p);
    pmn_ctx_unref(ctx);
}

Test(errors, remote_root)
{
    const char *base = getenv("PMN_FIXTURES");
    char root[PATH_MAX];
    struct pmn_ctx *ctx = NULL;
    struct pmn_backing_params *p;
    struct pmn_backing *b = (struct pmn_backing *)1;
    int err;

    cr_assert_not_null(base, "PMN_FIXTURES must point at tests/fixtures");
    snprintf(root, sizeof(root), "%s/one-node-dram/root", base);
    err = pmn_ctx_new_at(&ctx, root);
    cr_assert_eq(err, 0, "fixture context: %s", pmn_strerror(err));
    cr_assert_not(pmn_ctx_is_local(ctx));
    cr_assert_not_null(pmn_node_get(ctx, 0), "discovery still works on another machine");

    p = params(PMN_BACKING_ANON, 0);
    err = pmn_backing_new(ctx, p, &b);
    cr_assert_eq(err, PMN_E_REMOTE_ROOT, "%s", pmn_err_name(err));
    cr_assert_null(b);
    cr_assert_not_null(strstr(pmn_strerror(err), "another machine"));
    pmn_backing_params_free(p);

    p = params(PMN_BACKING_DAX, -1);
    cr_assert_eq(pmn_backing_params_set_dax(p, "dax0.0"), 0);
    b = (struct pmn_backing *)1;
    cr_assert_eq(pmn_backing_new(ctx, p, &b), PMN_E_REMOTE_ROOT);
    cr_assert_null(b);
    pmn_backing_params_free(p);
    pmn_ctx_unref(ctx);
}

Test(errors, dax_missing_device)
{
    struct pmn_ctx *ctx = local_ctx();
    struct stat st;
    const char *devs[] = {"/dev/dax0.0", "/dev/dax4095.4095", "dax4095.4095"};

    for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
        struct pmn_backing_params *p = params(PMN_BACKING_DAX, -1);
        struct pmn_backing *b = (struct pmn_backing *)1;
        char path[64];
        snprintf(path, sizeof(path), "%s%s", devs[i][0] == '/' ? "" : "/dev/", devs[i]);
        if (stat(path, &st) == 0) {
            cr_log_info("%s exists here; not a missing device", path);
            pmn_backing_params_free(p);
            continue;
        }
        cr_assert_eq(pmn_backing_params_set_dax(p, devs[i]), 0);
        int err = pmn_backing_new(ctx, p, &b);
        cr_assert_eq(err, -ENOENT, "%s: %s (%s)", devs[i], pmn_err_name(err), pmn_strerror(err));
        cr_assert_null(b);
        pmn_backing_params_free(p);
    }
    pmn_ctx_unref(ctx);
}

Test(errors, map_at_needs_dax)
{
    struct pmn_ctx *ctx = local_ctx();
    static const enum pmn_backing_type types[] = {PMN_BACKING_ANON, PMN_BACKING_MEMFD};

    for (size_t t = 0; t < 2; t++) {
        struct pmn_backing *b = backing0(ctx, types[t], false, 0);
        struct pmn_region *r = (struct pmn_region *)1;
        struct pmn_backing_stats st = {.struct_size = sizeof(st)};
        cr_assert_eq(pmn_region_map_at(b, 0, 4 * MiB, &r), -EOPNOTSUPP);
        cr_assert_null(r);
        cr_assert_eq(pmn_backing_stats(b, &st), 0);
        cr_assert_eq(st.mapped_bytes, 0);
        pmn_backing_free(b);
    }
    pmn_ctx_unref(ctx);
}

/* Is @id in a kernel node list ("0-3,8")? */
static bool in_list(const char *list, int id)
{
    const char *s = list;

    while (*s != '\0' && *s != '\n') {
        char *end;
        long lo = strtol(s, &end, 10), hi = lo;
        if (end == s)
            return false;
        if (*end == '-')
            hi = strtol(end + 1, &end, 10);
        if (id >= lo && id <= hi)
            return true;
        s = *end == ',' ? end + 1 : end;
    }
    return false;
}

Test(errors, node_outside_cpuset)
{
    struct pmn_ctx *ctx = local_ctx();
    const struct pmn_node *n;
    char line[4096], allowed[4096] = "";
    FILE *f = fopen("/proc/self/status", "r");
    int outside = -1;

    cr_assert_not_null(f);
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "Mems_allowed_list:", 18) == 0)
            snprintf(allowed, sizeof(allowed), "%s", line + 18 + strspn(line + 18, " \t"));
    fclose(f);
    cr_assert_neq(allowed[0], '\0', "no Mems_allowed_list in /proc/self/status");
    pmn_node_foreach (ctx, n) {
        uint64_t cap = pmn_node_capacity(n);
        if (cap != 0 && cap != PMN_UNKNOWN && !in_list(allowed, pmn_node_id(n))) {
            outside = pmn_node_id(n);
            break;
        }
    }
    if (outside < 0) {
        pmn_ctx_unref(ctx);
        cr_skip_test("every memory node is in this process's cpuset (Mems_allowed_list %.*s); "
                     "the vm lane covers a node outside it",
                     (int)strcspn(allowed, "\n"), allowed);
    }
    struct pmn_backing_params *p = params(PMN_BACKING_ANON, outside);
    struct pmn_backing *b = NULL;
    struct pmn_region *r = (struct pmn_region *)1;
    cr_assert_eq(pmn_backing_new(ctx, p, &b), 0);
    cr_assert_eq(pmn_region_map(b, MiB, &r), PMN_E_NOT_ALLOWED);
    cr_assert_null(r);
    pmn_backing_free(b);
    pmn_backing_params_free(p);
    pmn_ctx_unref(ctx);
}

Test(errors, node_without_memory)
{
    struct pmn_ctx *ctx = local_ctx();
    const struct pmn_node *n;
    int empty = -1;

    pmn_node_foreach (ctx, n)
        if (pmn_node_capacity(n) == 0) {
            empty = pmn_node_id(n);
            break;
        }
    if (empty < 0) {
        pmn_ctx_unref(ctx);
        cr_skip_test("every node of this host has memory; the vm lane covers a memory-less node");
    }
    struct pmn_backing_params *p = params(PMN_BACKING_ANON, empty);
    struct pmn_backing *b = (struct pmn_backing *)1;
    cr_assert_eq(pmn_backing_new(ctx, p, &b), PMN_E_NOT_MEMORY_NODE);
    cr_assert_null(b);
    pmn_backing_params_free(p);
    pmn_ctx_unref(ctx);
}

/* ---- pmn_where on memory the library did not map ------------------------ */

Test(where, untouched_mmap_is_not_present)
{
    size_t len = 16 * MiB;
    unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct pmn_where w = {.struct_size = sizeof(w)};
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

    cr_assert_neq(p, MAP_FAILED);
    cr_assert_eq(madvise(p, len, MADV_NOHUGEPAGE), 0);
    cr_assert_eq(pmn_where(p, len, &w), 0);
    cr_assert_eq(w.pages, len / page);
    cr_assert_eq(w.not_present, w.pages, "%llu of %llu untouched pages present",
                 (unsigned long long)(w.pages - w.not_present), (unsigned long long)w.pages);
    cr_assert_eq(w.nnodes, 0);

    /* Touch every other page: exactly those become present, on node 0. */
    for (size_t i = 0; i < len; i += 2 * page)
        p[i] = 1;
    cr_assert_eq(pmn_where(p, len, &w), 0);
    cr_assert_eq(pmn_where_pages_on(&w, 0), w.pages / 2);
    cr_assert_eq(w.not_present, w.pages / 2);
    munmap(p, len);
}

Test(where, stack_and_heap_on_node0)
{
    volatile unsigned char stack[3 * 4096 + 123];
    size_t heap_len = 4 * MiB;
    unsigned char *heap = malloc(heap_len);

    for (size_t i = 0; i < sizeof(stack); i++)
        stack[i] = (unsigned char)i;
    assert_all_on_node0((const void *)stack, sizeof(stack), "stack buffer");

    cr_assert_not_null(heap);
    memset(heap, 0x33, heap_len);
    assert_all_on_node0(heap, heap_len, "heap buffer");
    /* An unaligned sub-range counts the pages it touches. */
    assert_all_on_node0(heap + 100, 4096, "unaligned heap range");
    free(heap);
}

Test(where, bad_arguments)
{
    struct pmn_where w = {.struct_size = sizeof(w)};
    int x = 0;

    cr_assert_eq(pmn_where(&x, sizeof(x), NULL), -EINVAL);
    cr_assert_eq(pmn_where(NULL, 4096, &w), -EINVAL);
    cr_assert_eq(pmn_where((void *)(UINTPTR_MAX - 4095), 8192, &w), -EINVAL);
    cr_assert_eq(pmn_where(&x, 0, &w), 0);
    cr_assert_eq(w.pages, 0);
}
