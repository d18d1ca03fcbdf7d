/*
 * vm-placement.c - strict placement on a real kernel (runs inside the QEMU
 * guest of tests/vm).
 *
 *   vm-placement bind NODE      every page of anon, memfd and THP regions on NODE
 *   vm-placement memfd NODE     a memfd region shared with a child keeps its placement
 *   vm-placement exhaust NODE   fill NODE region by region: each map either succeeds
 *                               with every page on NODE or fails with an error code;
 *                               no page on another node, no signal, process alive
 *   vm-placement kernel NODE    what the kernel itself does at exhaustion with no
 *                               library headroom (in a child; reported, not judged)
 *   vm-placement dax DEV        device-dax map, write, read back, alignment errors
 *   vm-placement dax-fork DEV   fork while another thread attaches DEV and maps it
 *   vm-placement cpuset NODE    a node outside Mems_allowed is refused up front
 *   vm-placement arena NODE     an arena's objects on NODE; filling NODE gives NULL/ENOMEM
 *                               and the arena works again after frees
 *   vm-placement spill NODE     spill list [NODE, 0]: with NODE full (per-CPU free lists
 *                               counted, vm-pcp.h), regions land on 0 and are counted
 *                               as spilled
 *   vm-placement aligned NODE|DEV  objects aligned far beyond their size (256 MiB and
 *                               8 GiB on a node, 64 MiB on a dax device) cost their own
 *                               memory, not the alignment's: eight 256 MiB-aligned objects
 *                               fit a 512 MiB node, each on it; on dax each costs at most
 *                               one extent more; the node's available memory is reported
 *
 * Prints "ok: ..." lines and exits 0 on success, 1 on failure, 77 when the
 * topology lacks what the test needs.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PMN_HARNESS_PROGRAM
#include "harness.h"
#include "pmnode.h"
#include "vm-pcp.h"

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
}

static struct pmn_ctx *ctx_or_die(void)
{
    struct pmn_ctx *ctx;
    int err = pmn_ctx_new(&ctx);

    if (err)
        FAIL("pmn_ctx_new: %s", pmn_strerror(err));
    return ctx;
}

static struct pmn_backing *backing(struct pmn_ctx *ctx, enum pmn_backing_type t, int node,
                                   bool thp, bool headroom0)
{
    struct pmn_backing_params *p;
    struct pmn_backing *b;
    int err;

    if (pmn_backing_params_new(&p) || pmn_backing_params_set_type(p, t) ||
        pmn_backing_params_set_node(p, node) || pmn_backing_params_set_thp(p, thp))
        FAIL("params");
    if (headroom0)
        pmn_backing_params_set_headroom(p, 0);
    err = pmn_backing_new(ctx, p, &b);
    pmn_backing_params_free(p);
    if (err)
        FAIL("backing on node %d: %s", node, pmn_strerror(err));
    return b;
}

static void check_all_on(const void *addr, size_t len, int node, const char *what)
{
    struct pmn_where w = {.struct_size = sizeof(w)};
    int err = pmn_where(addr, len, &w);

    if (err)
        FAIL("%s: pmn_where: %s", what, pmn_strerror(err));
    if (pmn_where_pages_on(&w, node) != w.pages)
        FAIL("%s: %llu of %llu pages on node %d (not present %llu)", what,
             (unsigned long long)pmn_where_pages_on(&w, node), (unsigned long long)w.pages, node,
             (unsigned long long)w.not_present);
}

static int test_bind(int node)
{
    struct pmn_ctx *ctx = ctx_or_die();
    const struct {
        enum pmn_backing_type t;
        bool thp;
        const char *name;
    } cases[] = {
        {PMN_BACKING_ANON, false, "anon"},
        {PMN_BACKING_MEMFD, false, "memfd"},
        {PMN_BACKING_ANON, true, "anon+thp"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pmn_backing *b = backing(ctx, cases[i].t, node, cases[i].thp, false);
        struct pmn_region *r;
        int err = pmn_region_map(b, 32u << 20, &r);

        if (err)
            FAIL("%s: map 32 MiB on node %d: %s", cases[i].name, node, pmn_strerror(err));
        memset(pmn_region_addr(r), 0xa5, pmn_region_size(r));
        check_all_on(pmn_region_addr(r), pmn_region_size(r), node, cases[i].name);
        printf("ok: %s: 32 MiB, every page on node %d\n", cases[i].name, node);
        pmn_region_unmap(r);
        pmn_backing_free(b);
    }
    pmn_ctx_unref(ctx);
    return 0;
}

static int test_memfd(int node)
{
    struct pmn_ctx *ctx = ctx_or_die();
    struct pmn_backing *b = backing(ctx, PMN_BACKING_MEMFD, node, false, false);
    struct pmn_region *r;
    size_t len = 16u << 20;
    int status = 0, err = pmn_region_map(b, len, &r);
    pid_t pid;

    if (err)
        FAIL("memfd map: %s", pmn_strerror(err));
    memset(pmn_region_addr(r), 0x5a, len);
    pid = fork();
    if (pid == 0) {
        /* The child maps the same pages through the fd alone. */
        unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, pmn_region_fd(r),
                                (off_t)pmn_region_offset(r)); /* a range of the backing's file */
        if (p == MAP_FAILED)
            _exit(2);
        /* Fault every page into the child's page tables (pmn_where asks
         * about this mapping) and check the parent's data on the way. */
        for (size_t i = 0; i < len; i += 4096)
            if (p[i] != 0x5a)
                _exit(3);
        check_all_on(p, len, node, "memfd in child");
        p[len / 2] = 0x77;
        _exit(0);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
        FAIL("memfd child failed (status %d)", status);
    if (((unsigned char *)pmn_region_addr(r))[len / 2] != 0x77)
        FAIL("memfd: child's write not visible");
    check_all_on(pmn_region_addr(r), len, node, "memfd in parent after child");
    printf("ok: memfd shared with a child: data shared, every page on node %d in both\n", node);
    pmn_region_unmap(r);
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
    return 0;
}

/* Map regions on @node until the library refuses; returns bytes mapped. */
static int test_exhaust(int node)
{
    struct pmn_ctx *ctx = ctx_or_die();
    struct pmn_backing *b = backing(ctx, PMN_BACKING_ANON, node, false, false);
    struct pmn_region *regions[4096];
    size_t n = 0, chunk = 8u << 20;
    int err = 0;

    signal(SIGBUS, on_signal);
    signal(SIGSEGV, on_signal);
    for (int round = 0; round < 3; round++) {
        while (n < sizeof(regions) / sizeof(regions[0])) {
            err = pmn_region_map(b, chunk, &regions[n]);
            if (err)
                break;
            check_all_on(pmn_region_addr(regions[n]), chunk, node, "exhaust region");
            n++;
        }
        if (err != PMN_E_NODE_FULL && err != -ENOMEM)
            FAIL("exhaust: map stopped with %s (%s), want PMN_E_NODE_FULL or ENOMEM",
                 pmn_err_name(err), pmn_strerror(err));
        if (got_signal)
            FAIL("exhaust: signal %d delivered", (int)got_signal);
        printf("ok: exhaust round %d: %zu MiB mapped on node %d, then %s\n", round,
               n * (chunk >> 20), node, pmn_err_name(err));
        /* Free half and fill again: the node must take memory back. */
        for (size_t i = n / 2; i < n; i++)
            pmn_region_unmap(regions[i]);
        n /= 2;
    }
    for (size_t i = 0; i < n; i++)
        pmn_region_unmap(regions[i]);
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
    return 0;
}

/* Without headroom the library's check passes and the kernel decides.
 * Run it in a child and report how it ended. */
static int test_kernel(int node)
{
    int status = 0;
    pid_t pid = fork();

    if (pid == 0) {
        struct pmn_ctx *ctx = ctx_or_die();
        struct pmn_backing *b = backing(ctx, PMN_BACKING_ANON, node, false, true);
        struct pmn_region *r;
        size_t mapped = 0;
        int err;

        for (;;) {
            err = pmn_region_map(b, 4u << 20, &r);
            if (err)
                break;
            mapped += 4;
        }
        printf("kernel: no headroom: %zu MiB mapped, then %s\n", mapped, pmn_err_name(err));
        fflush(stdout);
        _exit(0);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        FAIL("fork");
    if (WIFSIGNALED(status))
        printf("ok: kernel behaviour at exhaustion without headroom: child killed by signal "
               "%d (%s)\n",
               WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        printf("ok: kernel behaviour at exhaustion without headroom: child exited %d\n",
               WEXITSTATUS(status));
    return 0;
}

/* Spill list [node, 0]: with @node filled by another backing, a region
 * lands whole on node 0 and the stats count it as spilled. */
static int test_spill(int node)
{
    struct pmn_ctx *ctx = ctx_or_die();
    struct pmn_backing *fill = backing(ctx, PMN_BACKING_ANON, node, false, false);
    struct pmn_backing_params *p;
    struct pmn_backing *b;
    struct pmn_backing_stats st = {.struct_size = sizeof(st)};
    struct pmn_region *regions[4096], *r, *strict;
    struct pmn_backing *fill0 = pmn_vm_backing0(ctx, node);
    size_t n = 0;
    int order[2] = {node, 0}, err;
    uint64_t avail, most;

    pmn_backing_params_new(&p);
    pmn_backing_params_set_spill(p, order, 2);
    err = pmn_backing_new(ctx, p, &b);
    pmn_backing_params_free(p);
    if (err)
        FAIL("spill backing: %s", pmn_strerror(err));
    /* Before the node is full the first entry takes it. */
    if ((err = pmn_region_map(b, 8u << 20, &r)) != 0 || pmn_region_node(r) != node)
        FAIL("spill: first region not on node %d (%s)", node, pmn_strerror(err));
    pmn_region_unmap(r);
    pmn_vm_drain_cpu1(ctx, node);
    while (n < 4096 && pmn_region_map(fill, 8u << 20, &regions[n]) == 0)
        n++;
    /* Full for 16 MiB plus the 64 MiB headroom even once every per-CPU
     * free page has reached MemFree (vm-pcp.h): topped up without
     * headroom. */
    n = pmn_vm_fill_below(ctx, fill0, regions, n, 4096, node, 72u << 20, &avail, &most);
    pmn_vm_drain_cpu1(ctx, node);
    if ((err = pmn_region_map(b, 16u << 20, &r)) != 0)
        FAIL("spill: map with node %d full: %s", node, pmn_strerror(err));
    if (pmn_region_node(r) != 0)
        FAIL("spill: region on node %d, want 0", pmn_region_node(r));
    check_all_on(pmn_region_addr(r), pmn_region_size(r), 0, "spilled region");
    pmn_backing_stats(b, &st);
    if (st.spilled_bytes != 16u << 20 || st.node[1].node != 0 || st.node[1].bytes != 16u << 20 ||
        st.node[0].bytes != 0)
        FAIL("spill: stats spilled %llu, node[1] %d:%llu", (unsigned long long)st.spilled_bytes,
             st.node[1].node, (unsigned long long)st.node[1].bytes);
    /* A strict backing on the full node refuses instead of spilling. */
    if (pmn_region_map(fill, 16u << 20, &strict) != PMN_E_NODE_FULL)
        FAIL("strict backing on a full node did not refuse");
    printf("ok: spill [%d, 0]: 16 MiB landed on node 0 with node %d full, counted as spilled; "
           "strict backing refused\n",
           node, node);
    pmn_region_unmap(r);
    while (n)
        pmn_region_unmap(regions[--n]);
    pmn_backing_free(b);
    pmn_backing_free(fill);
    pmn_backing_free(fill0);
    pmn_ctx_unref(ctx);
    pmn_vm_run_anywhere();
    return 0;
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    int ok = f && fputs(text, f) >= 0;

    if (f && fclose(f) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

/* A node outside the cpuset's mems is refused before any page is mapped. */
static int test_cpuset(int node)
{
    int status = 0;
    pid_t pid;

    mkdir("/sys/fs/cgroup", 0755);
    if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) != 0 &&
        mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, NULL) != 0) {
        printf("skip: cannot mount cgroup2: %s\n", strerror(errno));
        return 77;
    }
    if (write_file("/sys/fs/cgroup/cgroup.subtree_control", "+cpuset") != 0 ||
        (mkdir("/sys/fs/cgroup/pmnode-test", 0755) != 0 && errno != EEXIST) ||
        write_file("/sys/fs/cgroup/pmnode-test/cpuset.mems", "0") != 0) {
        printf("skip: no cpuset controller: %s\n", strerror(errno));
        return 77;
    }
    pid = fork();
    if (pid == 0) {
        struct pmn_ctx *ctx;
        struct pmn_backing *b;
        struct pmn_region *r;
        char self[32];
        int err;

        snprintf(self, sizeof(self), "%d", (int)getpid());
        if (write_file("/sys/fs/cgroup/pmnode-test/cgroup.procs", self) != 0)
            _exit(3);
        ctx = ctx_or_die();
        b = backing(ctx, PMN_BACKING_ANON, node, false, false);
        err = pmn_region_map(b, 4u << 20, &r);
        if (err != PMN_E_NOT_ALLOWED) {
            fprintf(stderr, "FAIL: cpuset mems=0, map on node %d gave %s\n", node,
                    pmn_err_name(err));
            _exit(1);
        }
        _exit(0);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
        FAIL("cpuset child failed (status %d)", status);
    rmdir("/sys/fs/cgroup/pmnode-test");
    printf("ok: node %d outside cpuset.mems refused with PMN_E_NOT_ALLOWED\n", node);
    return 0;
}

/* An arena on @node: objects' pages all on the node; filling the node
 * ends in NULL/ENOMEM, never a signal or another node; frees make room. */
static int test_arena(int node)
{
    struct pmn_ctx *ctx = ctx_or_die();
    struct pmn_backing *b = backing(ctx, PMN_BACKING_ANON, node, false, false);
    struct pmn_arena *a;
    struct pmn_alloc_stats st = {.struct_size = sizeof(st)};
    static void *objs[1 << 20];
    size_t n = 0, sz = 48 << 10;
    int err = pmn_arena_new(b, NULL, &a);

    if (err)
        FAIL("arena: %s", pmn_strerror(err));
    signal(SIGBUS, on_signal);
    signal(SIGSEGV, on_signal);
    for (size_t i = 0; i < 2000; i++) {
        void *p = pmn_arena_malloc(a, 16 + (i * 7919) % 20000);
        if (p == NULL)
            FAIL("arena small object %zu: %s", i, strerror(errno));
        memset(p, 0x11, 16);
        check_all_on(p, 16, node, "arena object");
        pmn_free(p);
    }
    errno = 0;
    while (n < sizeof(objs) / sizeof(objs[0])) {
        objs[n] = pmn_arena_malloc(a, sz);
        if (objs[n] == NULL)
            break;
        memset(objs[n], 0x22, sz);
        n++;
    }
    if (errno != ENOMEM)
        FAIL("arena fill ended with errno %d, want ENOMEM", errno);
    if (got_signal)
        FAIL("arena fill: signal %d", (int)got_signal);
    for (size_t i = 0; i < n; i += 97)
        check_all_on(objs[i], sz, node, "arena object at fill");
    pmn_arena_stats(a, &st);
    if (st.backing.node[0].node != node || st.backing.node[0].bytes != st.resident)
        FAIL("arena stats: %llu bytes on node %d, resident %llu",
             (unsigned long long)st.backing.node[0].bytes, st.backing.node[0].node,
             (unsigned long long)st.resident);
    printf("ok: arena filled node %d with %zu MiB of objects, then NULL/ENOMEM\n", node,
           n * sz >> 20);
    for (size_t i = 0; i < n; i++)
        pmn_free(objs[i]);
    for (size_t i = 0; i < n / 2; i++)
        if ((objs[i] = pmn_arena_malloc(a, sz)) == NULL)
            FAIL("arena after frees: object %zu: %s", i, strerror(errno));
    printf("ok: arena works again after frees (%zu MiB)\n", (n / 2) * sz >> 20);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
    return 0;
}

/* Aligned objects: the alignment is address space (issue 13 §5). */
static int test_aligned(const char *target)
{
    struct pmn_ctx *ctx = ctx_or_die();
    bool dax = target[0] == '/';
    int node = dax ? -1 : atoi(target);
    size_t al = dax ? (size_t)64 << 20 : (size_t)256 << 20, n = dax ? 2 : 8;
    uint64_t per = dax ? (uint64_t)8 << 20 : (uint64_t)1 << 20; /* bound per object */
    struct pmn_alloc_stats st = {.struct_size = sizeof(st)};
    struct pmn_backing_params *p;
    struct pmn_backing *b;
    struct pmn_arena *a;
    void *objs[8], *big;
    int err;

    if (dax && access(target, F_OK) != 0) {
        printf("skip: %s absent\n", target);
        return 77;
    }
    if (!dax) {
        uint64_t fr = 0, av = 0;
        if (pmn_node_read_free(ctx, node, &fr) || pmn_node_read_available(ctx, node, &av))
            FAIL("node %d: free or available memory unreadable", node);
        printf("ok: node %d: MemFree %llu MiB, available %llu MiB\n", node,
               (unsigned long long)(fr >> 20), (unsigned long long)(av >> 20));
        b = backing(ctx, PMN_BACKING_ANON, node, false, false);
    } else {
        if (pmn_backing_params_new(&p) || pmn_backing_params_set_type(p, PMN_BACKING_DAX) ||
            pmn_backing_params_set_dax(p, target))
            FAIL("dax params");
        err = pmn_backing_new(ctx, p, &b);
        pmn_backing_params_free(p);
        if (err)
            FAIL("dax backing %s: %s", target, pmn_strerror(err));
        /* dax pages are the device's by construction: not checked by node */
    }
    if ((err = pmn_arena_new(b, NULL, &a)) != 0)
        FAIL("arena: %s", pmn_strerror(err));
    for (size_t i = 0; i < n; i++) {
        objs[i] = pmn_arena_aligned_alloc(a, al, 64);
        if (objs[i] == NULL)
            FAIL("object %zu aligned to %zu MiB: %s", i, al >> 20, strerror(errno));
        if ((uintptr_t)objs[i] % al)
            FAIL("object %zu at %p is not aligned to %zu", i, objs[i], al);
        memset(objs[i], 0x33, 64);
        if (!dax)
            check_all_on(objs[i], 64, node, "aligned object");
    }
    pmn_arena_stats(a, &st);
    if (st.backing.mapped_bytes > n * per)
        FAIL("%zu objects aligned to %zu MiB hold %llu bytes of the backing", n, al >> 20,
             (unsigned long long)st.backing.mapped_bytes);
    printf("ok: %zu objects aligned to %zu MiB: %llu KiB of the backing\n", n, al >> 20,
           (unsigned long long)(st.backing.mapped_bytes >> 10));
    errno = 0;
    /* volatile: clang refuses a constant alignment above 4 GiB given to an
     * alloc_align function at compile time. */
    volatile size_t huge = (size_t)1 << 33;
    big = pmn_arena_aligned_alloc(a, huge, 1);
    if (big == NULL && (errno != ENOMEM || !dax))
        FAIL("object aligned to 8 GiB: %s", strerror(errno));
    if (big != NULL) {
        if ((uintptr_t)big % ((size_t)1 << 33))
            FAIL("object at %p not aligned to 8 GiB", big);
        memset(big, 0x44, 1);
        if (!dax)
            check_all_on(big, 1, node, "8 GiB-aligned object");
        printf("ok: an object aligned to 8 GiB\n");
        if (pmn_free(big))
            FAIL("free of the 8 GiB-aligned object");
    } else {
        printf("ok: 8 GiB alignment: no such address in the device (ENOMEM)\n");
    }
    for (size_t i = 0; i < n; i++)
        if (pmn_free(objs[i]))
            FAIL("free of aligned object %zu", i);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
    return 0;
}

static int test_dax(const char *dev)
{
    struct pmn_ctx *ctx = ctx_or_die();
    struct pmn_backing_params *p;
    struct pmn_backing *b, *b2;
    struct pmn_region *r, *r2, *bad;
    size_t g;
    int err;

    if (access(dev, F_OK) != 0) {
        printf("skip: %s absent\n", dev);
        return 77;
    }
    pmn_backing_params_new(&p);
    pmn_backing_params_set_type(p, PMN_BACKING_DAX);
    pmn_backing_params_set_dax(p, dev);
    err = pmn_backing_new(ctx, p, &b);
    if (err)
        FAIL("dax backing %s: %s", dev, pmn_strerror(err));
    if (pmn_backing_new(ctx, p, &b2))
        FAIL("second dax backing");
    pmn_backing_params_free(p);
    g = pmn_backing_granule(b);
    if (g == 0 || (g & (g - 1)))
        FAIL("dax granule %zu", g);
    err = pmn_region_map(b, 2 * g, &r);
    if (err)
        FAIL("dax map: %s", pmn_strerror(err));
    for (size_t i = 0; i < 2 * g; i += 4096)
        ((volatile unsigned char *)pmn_region_addr(r))[i] = (unsigned char)(i >> 12);
    for (size_t i = 0; i < 2 * g; i += 4096)
        if (((volatile unsigned char *)pmn_region_addr(r))[i] != (unsigned char)(i >> 12))
            FAIL("dax read back at %zu", i);
    if ((uintptr_t)pmn_region_addr(r) % g)
        FAIL("dax region not aligned to %zu", g);
    /* A second backing on the same device shares the mapping: its extent
     * must not overlap the first. */
    err = pmn_region_map(b2, g, &r2);
    if (err)
        FAIL("dax second user: %s", pmn_strerror(err));
    if ((char *)pmn_region_addr(r2) < (char *)pmn_region_addr(r) + 2 * g &&
        (char *)pmn_region_addr(r2) + g > (char *)pmn_region_addr(r))
        FAIL("dax extents overlap");
    if (pmn_region_map_at(b, g / 2, g, &bad) != -EINVAL)
        FAIL("dax misaligned offset accepted");
    if (pmn_region_map_at(b, 0, g + 4096, &bad) != -EINVAL)
        FAIL("dax misaligned size accepted");
    if (pmn_region_map_at(b, 0, g, &bad) != -EBUSY)
        FAIL("dax overlapping extent accepted");
    if (pmn_region_map(b, (size_t)1 << 50, &bad) != -ENOMEM)
        FAIL("dax oversized map accepted");
    printf("ok: %s: granule %zu, map/write/read, shared mapping, alignment errors\n", dev, g);
    pmn_region_unmap(r2);
    pmn_region_unmap(r);
    pmn_backing_free(b2);
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
    return 0;
}

/* fork while another thread attaches the device, maps and unmaps extents
 * of it and detaches (each under the context's dax lock, the device mapped
 * again at each attach): every child attaches and detaches too, under
 * alarm.  0.9.4 kept the dax lock out of its fork handlers, and a child
 * forked inside that window waited for ever. */
struct dax_churn {
    struct pmn_ctx *ctx;
    const char *dev;
    atomic_int stop;
    atomic_long rounds;
    atomic_int err;
};

static int dax_backing(struct pmn_ctx *ctx, const char *dev, struct pmn_backing **b)
{
    struct pmn_backing_params *p;
    int err;

    if (pmn_backing_params_new(&p) != 0)
        return -ENOMEM;
    pmn_backing_params_set_type(p, PMN_BACKING_DAX);
    pmn_backing_params_set_dax(p, dev);
    err = pmn_backing_new(ctx, p, b);
    pmn_backing_params_free(p);
    return err;
}

static void *dax_churn_thread(void *arg)
{
    struct dax_churn *c = arg;

    while (!atomic_load(&c->stop)) {
        struct pmn_backing *b;
        struct pmn_region *r;
        int err = dax_backing(c->ctx, c->dev, &b);

        if (err == 0) {
            err = pmn_region_map(b, pmn_backing_granule(b), &r);
            if (err == 0)
                pmn_region_unmap(r);
            pmn_backing_free(b);
        }
        if (err != 0)
            atomic_store(&c->err, err);
        atomic_fetch_add(&c->rounds, 1);
    }
    return NULL;
}

static int dax_fork_child(int i, void *arg)
{
    struct dax_churn *c = arg;
    struct pmn_backing *b;

    (void)i;
    if (dax_backing(c->ctx, c->dev, &b) != 0)
        return 1;
    pmn_backing_free(b);
    return 0;
}

static int test_dax_fork(const char *dev)
{
    struct dax_churn c = {.dev = dev};
    int hung, failed;
    pthread_t t;

    if (access(dev, F_OK) != 0) {
        printf("skip: %s absent\n", dev);
        return 77;
    }
    c.ctx = ctx_or_die();
    if (pthread_create(&t, NULL, dax_churn_thread, &c) != 0)
        FAIL("pthread_create");
    while (atomic_load(&c.rounds) < 5)
        sched_yield();
    if (fork_children(40, 5, dax_fork_child, &c, &hung, &failed) != 0)
        FAIL("fork: %s", strerror(errno));
    atomic_store(&c.stop, 1);
    pthread_join(t, NULL);
    if (atomic_load(&c.err) != 0)
        FAIL("the churning thread: %s", pmn_strerror(atomic_load(&c.err)));
    if (hung != 0)
        FAIL("%d of the children waited for the dax lock held at fork", hung);
    if (failed != 0)
        FAIL("%d children could not attach %s", failed, dev);
    printf("ok: %s: 40 forks while a thread attached, mapped and detached (%ld rounds)\n", dev,
           atomic_load(&c.rounds));
    pmn_ctx_unref(c.ctx);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: vm-placement "
                        "bind|memfd|exhaust|kernel|dax|dax-fork|spill|cpuset|arena|aligned "
                        "ARG\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(argv[1], "bind") == 0)
        return test_bind(atoi(argv[2]));
    if (strcmp(argv[1], "memfd") == 0)
        return test_memfd(atoi(argv[2]));
    if (strcmp(argv[1], "exhaust") == 0)
        return test_exhaust(atoi(argv[2]));
    if (strcmp(argv[1], "kernel") == 0)
        return test_kernel(atoi(argv[2]));
    if (strcmp(argv[1], "dax") == 0)
        return test_dax(argv[2]);
    if (strcmp(argv[1], "dax-fork") == 0)
        return test_dax_fork(argv[2]);
    if (strcmp(argv[1], "arena") == 0)
        return test_arena(atoi(argv[2]));
    if (strcmp(argv[1], "spill") == 0)
        return test_spill(atoi(argv[2]));
    if (strcmp(argv[1], "cpuset") == 0)
        return test_cpuset(atoi(argv[2]));
    if (strcmp(argv[1], "aligned") == 0)
        return test_aligned(argv[2]);
    fprintf(stderr, "vm-placement: unknown test %s\n", argv[1]);
    return 2;
}
