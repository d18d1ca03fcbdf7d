/*
 * vm-migrate.c - strict migration on a real kernel with two nodes (runs
 * inside the QEMU guest of tests/vm; issue 16).  Every page is checked with
 * the raw move_pages(2) query, not with the library.
 *
 *   vm-migrate move NODE     64 MiB written on node 0 move to NODE (every
 *                            page there, data intact, a page never touched
 *                            before faults on NODE afterwards: the range is
 *                            bound), then back to node 0
 *   vm-migrate full NODE     NODE filled by a strict backing first: moving
 *                            32 MiB there fails with PMN_E_NODE_FULL before
 *                            any page moves (report: target_full = pages),
 *                            per-CPU free lists counted (vm-pcp.h)
 *   vm-migrate shared NODE   a MAP_SHARED range mapped by a forked child:
 *                            -EACCES, every page counted in shared, none moved
 * Since 0.6:
 *   vm-migrate region NODE   anon and memfd regions of a backing {0, NODE}
 *                            moved to NODE and back: every page checked, the
 *                            backing's bytes per node and spilled bytes follow;
 *                            a backing on node 0 alone refuses NODE
 *   vm-migrate arena NODE    an arena over {0, NODE}: every extent to NODE
 *                            (objects checked page by page, stats per node,
 *                            a new page of an old extent lands on NODE), then
 *                            from NODE back to 0; one large object's extent
 *                            alone to NODE (pmn_migrate_object)
 *   vm-migrate rollback NODE private pages, then pages shared with a child:
 *                            the private ones move, the shared ones fail, and
 *                            PMN_MIGRATE_ROLLBACK brings the moved ones back
 *   vm-migrate headroom NODE NODE filled to leave less than the range plus
 *                            the headroom: refused, then moved with
 *                            PMN_MIGRATE_NO_HEADROOM; filled below the range
 *                            (a larger one when other CPUs' lists hold more):
 *                            refused even so, nothing moved.  Before each
 *                            refusal CPU 1 goes offline and back, which moves
 *                            its per-CPU free pages into MemFree (tens of MiB
 *                            on 6.12): the answer must not change with it
 *   vm-migrate pinned NODE   pages pinned long-term by io_uring buffer
 *                            registration (raw syscalls) between free pages:
 *                            what the kernel does with them, reported honestly
 * Since 0.8 (the mbind path of private anonymous memory):
 *   vm-migrate policy NODE   three private mappings with three policies
 *                            (default, preferred 0, bind 0), pages pinned in
 *                            the middle one: the mbind move fails, each
 *                            mapping gets its own policy back, the report is
 *                            the one the move_pages path gives (-EBUSY,
 *                            busy_or_pinned, the rest moved), and with
 *                            ROLLBACK the moved pages come back
 *   vm-migrate forked NODE   private pages a forked child still shares (copy
 *                            on write) behind private pages it does not: the
 *                            mbind move skips the shared ones and answers 0;
 *                            the call still fails -EACCES with them counted in
 *                            shared, the others moved, the policy restored
 * Since 0.12.3:
 *   vm-migrate hinted NODE   four mappings (128 pages on node 0, 128 on
 *                            NODE, 64 on both, a 2 MiB transparent huge
 *                            page on node 0), left untouched until NUMA balancing has marked them
 *                            for hinting faults (6.1 to 6.4's move_pages then
 *                            calls them absent): pmn_where still counts every
 *                            page on its node, as root (page frames) and as
 *                            nobody, with and without its own pagemap
 *                            (numa_maps places a one-node mapping's; the
 *                            mixed one's may be unknown, never not
 *                            present), and touches none
 *
 * Prints "ok: ..." lines and exits 0 on success, 1 on failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PMN_HARNESS_PROGRAM
#include "harness.h"
#include "pmnode.h"
#include "vm-hinted.h"
#include "vm-pcp.h"

#ifndef MiB
#define MiB (1ul << 20)
#endif

/* Pages of [p, p+len) the kernel reports on @node (raw move_pages query). */
static size_t raw_on(char *p, size_t len, int node)
{
    const size_t pg = (size_t)getpagesize();
    size_t n = len / pg, on = 0;
    void **pages = malloc(n * sizeof(*pages));
    int *st = malloc(n * sizeof(*st));

    if (pages == NULL || st == NULL)
        FAIL("out of memory");
    /* NUMA balancing is on in this guest: a page under a hinting fault
     * reads as absent until touched. */
    for (size_t i = 0; i < n; i++) {
        pages[i] = p + i * pg;
        (void)*(volatile char *)pages[i];
    }
    /* A hinting fault may land between the touch and the query (6.1 then
     * answers -EFAULT for a huge page): ask again for those, a few times. */
    for (int attempt = 0; attempt < 5; attempt++) {
        size_t unseen = 0;
        if (syscall(SYS_move_pages, 0, n, pages, NULL, st, 0) != 0)
            FAIL("move_pages query: %s", strerror(errno));
        for (size_t i = 0; i < n; i++) {
            if (st[i] == -ENOENT || st[i] == -EFAULT) {
                (void)*(volatile char *)pages[i];
                unseen++;
            }
        }
        if (unseen == 0)
            break;
    }
    for (size_t i = 0; i < n; i++)
        on += st[i] == node;
    free(pages);
    free(st);
    return on;
}

static uint64_t sum(const struct pmn_migrate_report *r)
{
    return r->moved + r->already_there + r->target_full + r->busy_or_pinned + r->shared +
           r->not_present + r->other;
}

static void *map_on0(size_t len, bool shared)
{
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
    unsigned long mask = 1;

    if (p == MAP_FAILED)
        FAIL("mmap: %s", strerror(errno));
    /* Populate on node 0 whatever the thread's policy. */
    if (syscall(SYS_mbind, p, len, 2 /* MPOL_BIND */, &mask, 8 * sizeof(mask), 0) != 0)
        FAIL("mbind node 0: %s", strerror(errno));
    memset(p, 0x3c, len);
    if (syscall(SYS_mbind, p, len, 0 /* MPOL_DEFAULT */, NULL, 0, 0) != 0)
        FAIL("mbind default: %s", strerror(errno));
    return p;
}

static int test_move(struct pmn_ctx *ctx, int node)
{
    const size_t pg = (size_t)getpagesize(), len = 64 * MiB, n = len / pg;
    char *p = map_on0(len + pg, false);
    struct pmn_migrate_report r = {.struct_size = sizeof(r)};
    int err;

    if (raw_on(p, len, 0) != n)
        FAIL("setup: %zu of %zu pages on node 0", raw_on(p, len, 0), n);
    /* The last page stays untouched: dropped, then faulted after the move. */
    if (madvise(p + len, pg, MADV_DONTNEED) != 0)
        FAIL("madvise: %s", strerror(errno));
    err = pmn_migrate(ctx, p, len + pg, node, 0, &r);
    if (err != 0)
        FAIL("migrate to %d: %s; moved %llu there %llu full %llu busy %llu shared %llu absent "
             "%llu other %llu first %p",
             node, pmn_err_name(err), (unsigned long long)r.moved,
             (unsigned long long)r.already_there, (unsigned long long)r.target_full,
             (unsigned long long)r.busy_or_pinned, (unsigned long long)r.shared,
             (unsigned long long)r.not_present, (unsigned long long)r.other, r.first_failed);
    if (r.moved != n || r.not_present != 1 || sum(&r) != n + 1 || r.pages != n + 1)
        FAIL("report: moved %llu absent %llu of %llu", (unsigned long long)r.moved,
             (unsigned long long)r.not_present, (unsigned long long)r.pages);
    if (raw_on(p, len, node) != n)
        FAIL("after migrate: %zu of %zu pages on node %d", raw_on(p, len, node), n, node);
    for (size_t i = 0; i < len; i++)
        if (p[i] != 0x3c)
            FAIL("byte %zu changed by the move", i);
    p[len] = 1; /* faults under the new strict policy */
    if (raw_on(p + len, pg, node) != 1)
        FAIL("a page faulted after the migration is not on node %d", node);
    printf("ok: %zu pages moved to node %d, verified one by one; later faults land there\n", n,
           node);

    r = (struct pmn_migrate_report){.struct_size = sizeof(r)};
    err = pmn_migrate(ctx, p, len + pg, 0, 0, &r);
    if (err != 0 || r.moved != n + 1 || raw_on(p, len + pg, 0) != n + 1)
        FAIL("back to 0: %s, moved %llu, %zu on node 0", pmn_err_name(err),
             (unsigned long long)r.moved, raw_on(p, len + pg, 0));
    for (size_t i = 0; i < len; i++)
        if (p[i] != 0x3c)
            FAIL("byte %zu changed by the move back", i);
    printf("ok: %zu pages moved back to node 0, verified one by one\n", n + 1);
    munmap(p, len + pg);
    return 0;
}

static int test_full(struct pmn_ctx *ctx, int node)
{
    const size_t pg = (size_t)getpagesize(), len = 32 * MiB, n = len / pg;
    static struct pmn_region *regions[4096];
    const uint64_t headroom = 64 * MiB; /* the default on a node below 6.4 GiB */
    struct pmn_backing_params *bp;
    struct pmn_backing *fill, *fill0 = pmn_vm_backing0(ctx, node);
    struct pmn_migrate_report r = {.struct_size = sizeof(r)};
    size_t nr = 0;
    char *p = map_on0(len, false);
    uint64_t avail, most;
    int err;

    pmn_backing_params_new(&bp);
    pmn_backing_params_set_node(bp, node);
    if ((err = pmn_backing_new(ctx, bp, &fill)) != 0)
        FAIL("strict backing on %d: %s", node, pmn_strerror(err));
    pmn_backing_params_free(bp);
    pmn_vm_drain_cpu1(ctx, node);
    while (nr < 4096 && pmn_region_map(fill, 8 * MiB, &regions[nr]) == 0)
        nr++;
    /* Full for the range plus the headroom even once every per-CPU free
     * page has reached MemFree (vm-pcp.h): topped up without headroom. */
    nr = pmn_vm_fill_below(ctx, fill0, regions, nr, 4096, node, len + headroom - 8 * MiB, &avail,
                           &most);
    pmn_vm_drain_cpu1(ctx, node);
    err = pmn_migrate(ctx, p, len, node, 0, &r);
    if (err != PMN_E_NODE_FULL)
        FAIL("migrate into a full node: %s (want PMN_E_NODE_FULL)", pmn_err_name(err));
    if (r.moved != 0 || r.target_full != n || sum(&r) != n || r.first_failed != p)
        FAIL("report: moved %llu target_full %llu there %llu busy %llu absent %llu other %llu "
             "of %zu, first %p (range %p)",
             (unsigned long long)r.moved, (unsigned long long)r.target_full,
             (unsigned long long)r.already_there, (unsigned long long)r.busy_or_pinned,
             (unsigned long long)r.not_present, (unsigned long long)r.other, n, r.first_failed,
             (void *)p);
    if (raw_on(p, len, 0) != n)
        FAIL("a refused migration moved pages: %zu of %zu still on 0", raw_on(p, len, 0), n);
    printf("ok: node %d full (%zu regions of 8 MiB, %llu MiB available, %llu MiB with its "
           "per-CPU lists): PMN_E_NODE_FULL, nothing moved\n",
           node, nr, (unsigned long long)(avail >> 20), (unsigned long long)(most >> 20));
    while (nr)
        pmn_region_unmap(regions[--nr]);
    pmn_backing_free(fill);
    pmn_backing_free(fill0);
    munmap(p, len);
    pmn_vm_run_anywhere();
    return 0;
}

static int test_shared(struct pmn_ctx *ctx, int node)
{
    const size_t pg = (size_t)getpagesize(), n = 64, len = n * pg;
    char *p = map_on0(len, true);
    struct pmn_migrate_report r = {.struct_size = sizeof(r)};
    int fds[2], st, err;
    char c;
    pid_t child;

    if (pipe(fds) != 0)
        FAIL("pipe");
    child = fork();
    if (child == 0) {
        volatile char x = 0;
        close(fds[1]);
        for (size_t i = 0; i < len; i += pg)
            x += p[i]; /* map every page in the child too */
        (void)x;
        (void)!write(STDOUT_FILENO, "", 0);
        (void)!read(fds[0], &c, 1);
        _exit(0);
    }
    close(fds[0]);
    usleep(300000); /* the child maps the pages */
    err = pmn_migrate(ctx, p, len, node, 0, &r);
    close(fds[1]);
    waitpid(child, &st, 0);
    if (err != -EACCES || r.shared != n || r.moved != 0 || sum(&r) != n)
        FAIL("shared: %s, shared %llu moved %llu other %llu of %zu", pmn_err_name(err),
             (unsigned long long)r.shared, (unsigned long long)r.moved,
             (unsigned long long)r.other, n);
    if (raw_on(p, len, 0) != n)
        FAIL("shared pages moved");
    printf("ok: %zu pages shared with a child: -EACCES, counted in shared, none moved\n", n);
    munmap(p, len);
    return 0;
}

/* ---- since 0.6 ---- */

static void report_fail(const char *what, int err, const struct pmn_migrate_report *r)
{
    FAIL("%s: %s; pages %llu moved %llu there %llu full %llu busy %llu shared %llu absent %llu "
         "other %llu rolled back %llu first %p",
         what, pmn_err_name(err), (unsigned long long)r->pages, (unsigned long long)r->moved,
         (unsigned long long)r->already_there, (unsigned long long)r->target_full,
         (unsigned long long)r->busy_or_pinned, (unsigned long long)r->shared,
         (unsigned long long)r->not_present, (unsigned long long)r->other,
         (unsigned long long)r->rolled_back, r->first_failed);
}

static struct pmn_backing *backing_list(struct pmn_ctx *ctx, enum pmn_backing_type t,
                                        const int *nodes, size_t n)
{
    struct pmn_backing_params *bp;
    struct pmn_backing *b;
    int err;

    pmn_backing_params_new(&bp);
    pmn_backing_params_set_type(bp, t);
    if (n > 1)
        err = pmn_backing_params_set_spill(bp, nodes, n);
    else
        err = pmn_backing_params_set_node(bp, nodes[0]);
    if (err)
        FAIL("backing params: %s", pmn_strerror(err));
    if ((err = pmn_backing_new(ctx, bp, &b)) != 0)
        FAIL("backing: %s", pmn_strerror(err));
    pmn_backing_params_free(bp);
    return b;
}

/* The backing's bytes on spill-list slot 0 and 1, and spilled bytes. */
static void books(const struct pmn_backing *b, uint64_t *on0, uint64_t *on1, uint64_t *spilled)
{
    struct pmn_backing_stats st = {.struct_size = sizeof(st)};

    if (pmn_backing_stats(b, &st) != 0 || st.nnodes < 2)
        FAIL("backing stats");
    *on0 = st.node[0].bytes;
    *on1 = st.node[1].bytes;
    *spilled = st.spilled_bytes;
}

static void fill_pattern(char *p, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i += 64)
        p[i] = (char)(seed + i / 64);
}

static void check_pattern(const char *p, size_t len, unsigned seed, const char *what)
{
    for (size_t i = 0; i < len; i += 64)
        if (p[i] != (char)(seed + i / 64))
            FAIL("%s: byte %zu changed", what, i);
}

static int test_region(struct pmn_ctx *ctx, int node)
{
    const int list[2] = {0, node};
    const enum pmn_backing_type types[2] = {PMN_BACKING_ANON, PMN_BACKING_MEMFD};
    const size_t pg = (size_t)getpagesize(), len = 32 * MiB, n = len / pg;

    for (int t = 0; t < 2; t++) {
        struct pmn_backing *b = backing_list(ctx, types[t], list, 2), *solo;
        struct pmn_migrate_report r = {.struct_size = sizeof(r)};
        struct pmn_region *reg, *reg0;
        uint64_t on0, on1, sp;
        char *p;
        int err;

        if ((err = pmn_region_map(b, len, &reg)) != 0)
            FAIL("region: %s", pmn_strerror(err));
        p = pmn_region_addr(reg);
        fill_pattern(p, len, 11);
        books(b, &on0, &on1, &sp);
        if (pmn_region_node(reg) != 0 || on0 != len || on1 != 0 || sp != 0)
            FAIL("setup: region on %d, books %llu/%llu spilled %llu", pmn_region_node(reg),
                 (unsigned long long)on0, (unsigned long long)on1, (unsigned long long)sp);
        err = pmn_region_migrate(reg, node, 0, &r);
        if (err != 0 || r.moved != n || sum(&r) != n)
            report_fail("region to NODE", err, &r);
        if (raw_on(p, len, node) != n)
            FAIL("after the move: %zu of %zu pages on %d", raw_on(p, len, node), n, node);
        check_pattern(p, len, 11, "region moved");
        books(b, &on0, &on1, &sp);
        if (pmn_region_node(reg) != node || on0 != 0 || on1 != len || sp != len)
            FAIL("books after the move: node %d, %llu/%llu spilled %llu", pmn_region_node(reg),
                 (unsigned long long)on0, (unsigned long long)on1, (unsigned long long)sp);
        /* A second region still comes from node 0 first. */
        if ((err = pmn_region_map(b, 4 * MiB, &reg0)) != 0 || pmn_region_node(reg0) != 0)
            FAIL("a new region: %s, node %d", pmn_strerror(err), pmn_region_node(reg0));
        pmn_region_unmap(reg0);
        r = (struct pmn_migrate_report){.struct_size = sizeof(r)};
        err = pmn_region_migrate(reg, 0, PMN_MIGRATE_ROLLBACK, &r);
        if (err != 0 || r.moved != n || r.rolled_back != 0)
            report_fail("region back to 0", err, &r);
        if (raw_on(p, len, 0) != n)
            FAIL("after the move back: %zu of %zu pages on 0", raw_on(p, len, 0), n);
        check_pattern(p, len, 11, "region moved back");
        books(b, &on0, &on1, &sp);
        if (pmn_region_node(reg) != 0 || on0 != len || on1 != 0 || sp != 0)
            FAIL("books after the move back");
        pmn_region_unmap(reg);
        books(b, &on0, &on1, &sp);
        if (on0 != 0 || on1 != 0 || sp != 0)
            FAIL("books after unmap: %llu/%llu spilled %llu", (unsigned long long)on0,
                 (unsigned long long)on1, (unsigned long long)sp);
        pmn_backing_free(b);

        solo = backing_list(ctx, types[t], list, 1);
        if (pmn_region_map(solo, 4 * MiB, &reg) != 0)
            FAIL("solo region");
        memset(pmn_region_addr(reg), 1, 4 * MiB);
        if ((err = pmn_region_migrate(reg, node, 0, &r)) != PMN_E_NOT_ON_LIST)
            FAIL("a node off the list: %s", pmn_err_name(err));
        if (raw_on(pmn_region_addr(reg), 4 * MiB, 0) != 4 * MiB / pg)
            FAIL("a refused region move moved pages");
        pmn_region_unmap(reg);
        pmn_backing_free(solo);
        printf("ok: %s region of %zu pages to node %d and back, page by page; books follow; "
               "a node off the list refused\n",
               pmn_backing_type_name(types[t]), n, node);
    }
    return 0;
}

/* Every page of every object on @node (raw query over the objects' pages). */
static void objects_on(char **o, const size_t *sz, size_t n, int node, const char *what)
{
    const size_t pg = (size_t)getpagesize();

    for (size_t i = 0; i < n; i++) {
        char *lo = (char *)((uintptr_t)o[i] & ~(uintptr_t)(pg - 1));
        char *hi = (char *)(((uintptr_t)o[i] + sz[i] + pg - 1) & ~(uintptr_t)(pg - 1));
        size_t np = (size_t)(hi - lo) / pg;
        if (raw_on(lo, (size_t)(hi - lo), node) != np)
            FAIL("%s: object %zu (%zu bytes): %zu of %zu pages on %d", what, i, sz[i],
                 raw_on(lo, (size_t)(hi - lo), node), np, node);
    }
}

static void arena_books(struct pmn_arena *a, uint64_t *on0, uint64_t *on1, uint64_t *mapped)
{
    struct pmn_alloc_stats st = {.struct_size = sizeof(st)};

    if (pmn_arena_stats(a, &st) != 0)
        FAIL("arena stats");
    *on0 = st.backing.node[0].bytes;
    *on1 = st.backing.node[1].bytes;
    *mapped = st.backing.mapped_bytes;
    if (st.backing.spilled_bytes != *on1)
        FAIL("spilled %llu, on the second node %llu", (unsigned long long)st.backing.spilled_bytes,
             (unsigned long long)*on1);
}

#define NOBJ 200
static int test_arena(struct pmn_ctx *ctx, int node)
{
    const int list[2] = {0, node};
    struct pmn_backing *b = backing_list(ctx, PMN_BACKING_ANON, list, 2);
    struct pmn_migrate_report r = {.struct_size = sizeof(r)};
    static char *o[NOBJ];
    static size_t sz[NOBJ];
    struct pmn_arena *a;
    uint64_t on0, on1, mapped;
    char *fresh, *big;
    int err;

    if ((err = pmn_arena_new(b, NULL, &a)) != 0)
        FAIL("arena: %s", pmn_strerror(err));
    for (size_t i = 0; i < NOBJ; i++) {
        sz[i] = i % 20 == 0 ? (1 * MiB + i * 4096) : 64 + i * 40;
        if ((o[i] = pmn_arena_malloc(a, sz[i])) == NULL)
            FAIL("alloc %zu", i);
        fill_pattern(o[i], sz[i], (unsigned)i);
    }
    arena_books(a, &on0, &on1, &mapped);
    if (on0 != mapped || on1 != 0)
        FAIL("setup: %llu on 0 of %llu", (unsigned long long)on0, (unsigned long long)mapped);
    objects_on(o, sz, NOBJ, 0, "setup");

    err = pmn_arena_migrate(a, -1, node, 0, &r);
    if (err != 0 || r.pages != mapped / (size_t)getpagesize() || r.moved == 0 ||
        sum(&r) != r.pages)
        report_fail("arena to NODE", err, &r);
    objects_on(o, sz, NOBJ, node, "arena moved");
    for (size_t i = 0; i < NOBJ; i++)
        check_pattern(o[i], sz[i], (unsigned)i, "arena moved");
    arena_books(a, &on0, &on1, &mapped);
    if (on0 != 0 || on1 != mapped)
        FAIL("books after the move: %llu on 0, %llu on %d, of %llu", (unsigned long long)on0,
             (unsigned long long)on1, node, (unsigned long long)mapped);
    /* A size class not used yet takes a new page: from an old extent's
     * free slices, populated now on the extent's new node. */
    if ((fresh = pmn_arena_malloc(a, 30000)) == NULL)
        FAIL("fresh alloc");
    memset(fresh, 5, 30000);
    {
        size_t fz = 30000;
        objects_on(&fresh, &fz, 1, node, "a new page of a moved extent");
    }
    printf("ok: arena of %d objects (%llu bytes of extents) moved to node %d, every object's "
           "pages checked, stats per node follow, new pages of its extents land there\n",
           NOBJ, (unsigned long long)mapped, node);

    r = (struct pmn_migrate_report){.struct_size = sizeof(r)};
    err = pmn_arena_migrate(a, node, 0, 0, &r);
    if (err != 0 || r.moved == 0 || sum(&r) != r.pages)
        report_fail("arena from NODE to 0", err, &r);
    objects_on(o, sz, NOBJ, 0, "arena moved back");
    for (size_t i = 0; i < NOBJ; i++)
        check_pattern(o[i], sz[i], (unsigned)i, "arena moved back");
    arena_books(a, &on0, &on1, &mapped);
    if (on1 != 0 || on0 != mapped)
        FAIL("books after the move back: %llu on %d", (unsigned long long)on1, node);
    printf("ok: the arena's extents on node %d moved back to node 0\n", node);

    /* One large object's extent alone. */
    big = o[20];
    r = (struct pmn_migrate_report){.struct_size = sizeof(r)};
    err = pmn_migrate_object(big, node, 0, &r);
    if (err != 0 || r.moved < sz[20] / (size_t)getpagesize())
        report_fail("object to NODE", err, &r);
    objects_on(&o[20], &sz[20], 1, node, "the moved object");
    objects_on(o, sz, 20, 0, "the objects that stayed");
    check_pattern(big, sz[20], 20, "object moved");
    arena_books(a, &on0, &on1, &mapped);
    if (on1 == 0 || on1 >= mapped || on1 > sz[20] + 8 * MiB)
        FAIL("books after one object moved: %llu on %d of %llu", (unsigned long long)on1, node,
             (unsigned long long)mapped);
    if ((err = pmn_migrate_object(big + 64, node, 0, &r)) != PMN_E_INTERIOR)
        FAIL("interior pointer: %s", pmn_err_name(err));
    printf("ok: one large object's extent (%llu bytes) moved alone to node %d\n",
           (unsigned long long)on1, node);
    for (size_t i = 0; i < NOBJ; i++)
        pmn_free(o[i]);
    pmn_free(fresh);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
    return 0;
}

/* [p, p + len) mapped private, then [p + len, p + 2 len) shared with a
 * child: the first half moves, the second fails; with ROLLBACK the first
 * half comes back. */
static int test_rollback(struct pmn_ctx *ctx, int node)
{
    const size_t pg = (size_t)getpagesize(), len = 16 * MiB, n = len / pg;
    char *p = map_on0(2 * len, false), *q;
    struct pmn_migrate_report r = {.struct_size = sizeof(r)};
    int fds[2], st, err;
    char c;
    pid_t child;

    q = mmap(p + len, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (q != p + len)
        FAIL("mmap fixed: %s", strerror(errno));
    {
        unsigned long mask = 1;
        if (syscall(SYS_mbind, q, len, 2, &mask, 8 * sizeof(mask), 0) != 0)
            FAIL("mbind");
        memset(q, 0x3c, len);
    }
    /* The child must share only the second half: a fork shares private
     * pages too, until written (copy on write). */
    if (madvise(p, len, MADV_DONTFORK) != 0)
        FAIL("madvise dontfork: %s", strerror(errno));
    if (pipe(fds) != 0)
        FAIL("pipe");
    child = fork();
    if (child == 0) {
        volatile char x = 0;
        close(fds[1]);
        for (size_t i = 0; i < len; i += pg)
            x += q[i];
        (void)x;
        (void)!read(fds[0], &c, 1);
        _exit(0);
    }
    close(fds[0]);
    usleep(300000);
    for (int pass = 0; pass < 2; pass++) {
        unsigned flags = pass == 0 ? 0 : PMN_MIGRATE_ROLLBACK;
        r = (struct pmn_migrate_report){.struct_size = sizeof(r)};
        err = pmn_migrate(ctx, p, 2 * len, node, flags, &r);
        if (err != -EACCES || r.shared != n || sum(&r) != 2 * n || r.first_failed != q)
            report_fail(pass ? "with rollback" : "without rollback", err, &r);
        if (pass == 0) {
            if (r.moved != n || r.rolled_back != 0 || raw_on(p, len, node) != n)
                report_fail("without rollback: the private half should stay moved", err, &r);
            printf("ok: without rollback the %zu private pages stay on node %d, %zu shared "
                   "refused\n",
                   n, node, n);
            if (pmn_migrate(ctx, p, len, 0, 0, NULL) != 0 || raw_on(p, len, 0) != n)
                FAIL("back to 0 for the second pass");
        } else {
            if (r.moved != n || r.rolled_back != n || raw_on(p, len, 0) != n) {
                size_t on0 = raw_on(p, len, 0), on1 = raw_on(p, len, node);
                printf("info: after the rollback %zu pages on 0, %zu on %d, of %zu\n", on0, on1,
                       node, n);
                report_fail("rollback: every moved page should be back on 0", err, &r);
            }
            printf("ok: with PMN_MIGRATE_ROLLBACK the %zu pages moved came back to node 0 "
                   "(rolled_back %llu)\n",
                   n, (unsigned long long)r.rolled_back);
        }
    }
    for (size_t i = 0; i < len; i++)
        if (p[i] != 0x3c || q[i] != 0x3c)
            FAIL("byte %zu changed", i);
    close(fds[1]);
    waitpid(child, &st, 0);
    munmap(p, 2 * len);
    return 0;
}

static int test_headroom(struct pmn_ctx *ctx, int node)
{
    const size_t pg = (size_t)getpagesize(), len = 32 * MiB, n = len / pg;
    static struct pmn_region *reg[4096];
    struct pmn_backing *fill = pmn_vm_backing0(ctx, node);
    struct pmn_migrate_report r = {.struct_size = sizeof(r)};
    char *p = map_on0(len, false), *p2;
    uint64_t avail = 0, most;
    size_t nr, len2, n2;
    int err;

    /* Available now at least the range plus 4 MiB, and at most (with every
     * per-CPU free page the kernel may move into MemFree before the call
     * reads it) below the range plus 64 MiB, the headroom.  The second
     * bound once counted only what was available at the time: the kernel
     * drained its lists between that read and the call's and the refusal
     * moved 8192 pages (6.12, CI, 2026-12-05); the drain before the call
     * below does the same on purpose. */
    pmn_vm_drain_cpu1(ctx, node);
    nr = pmn_vm_fill_to(ctx, fill, reg, 0, 4096, node, len + 48 * MiB);
    most = pmn_vm_at_most(ctx, node, &avail);
    if (avail < len + 4 * MiB || most >= len + 60 * MiB)
        FAIL("setup: %llu MiB available on %d, %llu MiB with its per-CPU lists",
             (unsigned long long)(avail >> 20), node, (unsigned long long)(most >> 20));
    pmn_vm_drain_cpu1(ctx, node);
    err = pmn_migrate(ctx, p, len, node, 0, &r);
    if (err != PMN_E_NODE_FULL || r.moved != 0 || r.target_full != n)
        report_fail("with headroom", err, &r);
    if (raw_on(p, len, 0) != n)
        FAIL("a refused migration moved pages");
    r = (struct pmn_migrate_report){.struct_size = sizeof(r)};
    err = pmn_migrate(ctx, p, len, node, PMN_MIGRATE_NO_HEADROOM | PMN_MIGRATE_ROLLBACK, &r);
    if (err != 0 || r.moved != n)
        report_fail("without headroom", err, &r);
    if (raw_on(p, len, node) != n)
        FAIL("without headroom: %zu of %zu on %d", raw_on(p, len, node), n, node);
    printf("ok: %llu MiB available on node %d (%llu MiB with its per-CPU lists): refused with the "
           "headroom, moved without it\n",
           (unsigned long long)(avail >> 20), node, (unsigned long long)(most >> 20));
    if (pmn_migrate(ctx, p, len, 0, 0, NULL) != 0)
        FAIL("back to 0");
    pmn_vm_drain_cpu1(ctx, node);
    nr = pmn_vm_fill_to(ctx, fill, reg, nr, 4096, node, len - 8 * MiB);
    most = pmn_vm_at_most(ctx, node, &avail);
    /* Other CPUs' lists (filled by the tests before this one, in other
     * processes) cannot be drained from here and a fill cannot take them:
     * when they keep the figure above the range, the range grows past
     * them instead. */
    len2 = most < len ? len : (most + 16 * MiB) & ~(8 * MiB - 1);
    n2 = len2 / pg;
    if (len2 != len)
        printf("info: %llu MiB on the per-CPU lists of node %d: %zu MiB asked instead of %zu\n",
               (unsigned long long)((most - avail) >> 20), node, len2 >> 20, len >> 20);
    p2 = map_on0(len2, false);
    pmn_vm_drain_cpu1(ctx, node);
    r = (struct pmn_migrate_report){.struct_size = sizeof(r)};
    err = pmn_migrate(ctx, p2, len2, node, PMN_MIGRATE_NO_HEADROOM | PMN_MIGRATE_ROLLBACK, &r);
    if (err != PMN_E_NODE_FULL || r.moved != 0 || r.target_full != n2 || sum(&r) != n2)
        report_fail("too full even without headroom", err, &r);
    if (raw_on(p2, len2, 0) != n2)
        FAIL("a refused migration moved pages");
    printf("ok: %llu MiB available on node %d (%llu MiB with its per-CPU lists): %zu MiB "
           "refused even without headroom, nothing moved\n",
           (unsigned long long)(avail >> 20), node, (unsigned long long)(most >> 20), len2 >> 20);
    while (nr)
        pmn_region_unmap(reg[--nr]);
    pmn_backing_free(fill);
    munmap(p2, len2);
    munmap(p, len);
    pmn_vm_run_anywhere();
    return 0;
}

/* io_uring by raw system calls: a ring whose fixed buffers are the range,
 * which the kernel pins long-term (FOLL_LONGTERM) until unregistered. */
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#define __NR_io_uring_register 427
#endif
#define IORING_REGISTER_BUFFERS_ 0
struct uring_params_ {
    uint32_t sq_entries, cq_entries, flags, sq_thread_cpu, sq_thread_idle, features, wq_fd,
        resv[3];
    uint32_t sq_off[10], cq_off[10];
};

static int pin_range(void *p, size_t len)
{
    struct uring_params_ up;
    struct iovec {
        void *base;
        size_t len;
    } iov = {p, len};
    int fd;

    memset(&up, 0, sizeof(up));
    fd = (int)syscall(__NR_io_uring_setup, 4, &up);
    if (fd < 0)
        return -errno;
    if (syscall(__NR_io_uring_register, fd, IORING_REGISTER_BUFFERS_, &iov, 1) != 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

static int test_pinned(struct pmn_ctx *ctx, int node)
{
    const size_t pg = (size_t)getpagesize(), len = 8 * MiB, n = len / pg;
    const size_t plen = 1 * MiB, pn = plen / pg, poff = 2 * MiB;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct pmn_migrate_report r = {.struct_size = sizeof(r)};
    unsigned long mask = 1;
    int ring, err;

    /* Base pages: a pin of part of a transparent huge page holds all of it. */
    if (p == MAP_FAILED || madvise(p, len, MADV_NOHUGEPAGE) != 0 ||
        syscall(SYS_mbind, p, len, 2 /* MPOL_BIND */, &mask, 8 * sizeof(mask), 0) != 0)
        FAIL("setup: %s", strerror(errno));
    memset(p, 0x3c, len);
    if (syscall(SYS_mbind, p, len, 0 /* MPOL_DEFAULT */, NULL, 0, 0) != 0)
        FAIL("mbind default: %s", strerror(errno));

    ring = pin_range(p + poff, plen);
    if (ring == -ENOSYS || ring == -EPERM)
        SKIP("io_uring unavailable here: %s", strerror(-ring));
    if (ring < 0)
        FAIL("io_uring buffer registration: %s", strerror(-ring));
    err = pmn_migrate(ctx, p, len, node, 0, &r);
    printf("info: pinned %zu of %zu pages: %s; moved %llu busy_or_pinned %llu other %llu first "
           "%p (pin at %p)\n",
           pn, n, pmn_err_name(err), (unsigned long long)r.moved,
           (unsigned long long)r.busy_or_pinned, (unsigned long long)r.other, r.first_failed,
           (void *)(p + poff));
    if (err != -EBUSY || r.busy_or_pinned != pn || r.moved != n - pn || sum(&r) != n ||
        r.first_failed != p + poff)
        report_fail("pinned pages", err, &r);
    if (raw_on(p + poff, plen, 0) != pn || raw_on(p, poff, node) != poff / pg ||
        raw_on(p + poff + plen, len - poff - plen, node) != (len - poff - plen) / pg)
        FAIL("pinned: the pages are not where the report says");
    printf("ok: %zu long-term pinned pages reported busy_or_pinned (-EBUSY), the %zu around "
           "them moved to node %d\n",
           pn, n - pn, node);
    r = (struct pmn_migrate_report){.struct_size = sizeof(r)};
    err = pmn_migrate(ctx, p, len, node, PMN_MIGRATE_ROLLBACK, &r);
    if (err != -EBUSY || r.already_there != n - pn || r.busy_or_pinned != pn)
        report_fail("pinned, again with rollback", err, &r);
    close(ring); /* unpins */
    r = (struct pmn_migrate_report){.struct_size = sizeof(r)};
    err = pmn_migrate(ctx, p, len, node, 0, &r);
    if (err != 0 || r.moved != pn)
        report_fail("after unpinning", err, &r);
    printf("ok: once unregistered, the %zu pages move\n", pn);
    munmap(p, len);
    return 0;
}

/* ---- since 0.8: the mbind path ---- */

struct pol {
    int mode;
    unsigned long mask[16]; /* 1024 bits */
};

static void get_pol(void *addr, struct pol *out)
{
    memset(out, 0, sizeof(*out));
    if (syscall(SYS_get_mempolicy, &out->mode, out->mask, 8 * sizeof(out->mask), addr,
                2 /* MPOL_F_ADDR */) != 0)
        FAIL("get_mempolicy %p: %s", addr, strerror(errno));
}

static bool same_pol(const struct pol *a, const struct pol *b)
{
    return a->mode == b->mode && memcmp(a->mask, b->mask, sizeof(a->mask)) == 0;
}

/* Three adjacent private mappings of @part bytes on node 0 (base pages),
 * then given the policies default, preferred {0} and bind {0}: the kernel
 * keeps them as three mappings because their policies differ. */
static char *three_policies(size_t part, struct pol before[3])
{
    char *p = mmap(NULL, 3 * part, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned long mask = 1;

    if (p == MAP_FAILED || madvise(p, 3 * part, MADV_NOHUGEPAGE) != 0 ||
        syscall(SYS_mbind, p, 3 * part, 2 /* MPOL_BIND */, &mask, 8 * sizeof(mask), 0) != 0)
        FAIL("setup: %s", strerror(errno));
    memset(p, 0x3c, 3 * part);
    if (syscall(SYS_mbind, p, part, 0 /* MPOL_DEFAULT */, NULL, 0, 0) != 0 ||
        syscall(SYS_mbind, p + part, part, 1 /* MPOL_PREFERRED */, &mask, 8 * sizeof(mask), 0) !=
            0)
        FAIL("mbind: %s", strerror(errno));
    for (int i = 0; i < 3; i++)
        get_pol(p + (size_t)i * part, &before[i]);
    if (before[0].mode != 0 || before[1].mode != 1 || before[2].mode != 2)
        FAIL("setup: policies %d %d %d", before[0].mode, before[1].mode, before[2].mode);
    return p;
}

/* Each of the three mappings has its old policy, at its first and last page. */
static void check_policies(char *p, size_t part, const struct pol before[3], const char *what)
{
    const size_t pg = (size_t)getpagesize();

    for (int i = 0; i < 3; i++) {
        struct pol a, b;
        get_pol(p + (size_t)i * part, &a);
        get_pol(p + (size_t)(i + 1) * part - pg, &b);
        if (!same_pol(&a, &before[i]) || !same_pol(&b, &before[i]))
            FAIL("%s: mapping %d has policy %d/%d (mask %#lx/%#lx), had %d (mask %#lx)", what, i,
                 a.mode, b.mode, a.mask[0], b.mask[0], before[i].mode, before[i].mask[0]);
    }
}

static int test_policy(struct pmn_ctx *ctx, int node)
{
    const size_t pg = (size_t)getpagesize(), part = 4 * MiB, len = 3 * part, n = len / pg;
    const size_t plen = 1 * MiB, pn = plen / pg, poff = part + 1 * MiB;

    for (int pass = 0; pass < 2; pass++) {
        unsigned flags = pass == 0 ? 0 : PMN_MIGRATE_ROLLBACK;
        const char *what = pass == 0 ? "pinned, policies" : "pinned, policies, rollback";
        struct pmn_migrate_report r = {.struct_size = sizeof(r)};
        struct pol before[3];
        char *p = three_policies(part, before);
        int ring = pin_range(p + poff, plen), err;

        if (ring == -ENOSYS || ring == -EPERM)
            SKIP("io_uring unavailable here: %s", strerror(-ring));
        if (ring < 0)
            FAIL("io_uring buffer registration: %s", strerror(-ring));
        err = pmn_migrate(ctx, p, len, node, flags, &r);
        if (err != -EBUSY || r.busy_or_pinned != pn || r.moved != n - pn || sum(&r) != n ||
            r.first_failed != p + poff || r.rolled_back != (pass == 0 ? 0 : n - pn))
            report_fail(what, err, &r);
        check_policies(p, part, before, what);
        if (pass == 0 &&
            (raw_on(p + poff, plen, 0) != pn || raw_on(p, poff, node) != poff / pg ||
             raw_on(p + poff + plen, len - poff - plen, node) != (len - poff - plen) / pg))
            FAIL("%s: the pages are not where the report says", what);
        if (pass == 1 && raw_on(p, len, 0) != n)
            FAIL("%s: %zu of %zu pages back on node 0", what, raw_on(p, len, 0), n);
        for (size_t i = 0; i < len; i++)
            if (p[i] != 0x3c)
                FAIL("%s: byte %zu changed", what, i);
        printf("ok: %s: -EBUSY, %zu pinned in busy_or_pinned, %llu moved, %llu rolled back; "
               "default, preferred and bind policies of the three mappings restored\n",
               what, pn, (unsigned long long)r.moved, (unsigned long long)r.rolled_back);
        close(ring);
        munmap(p, len);
    }
    return 0;
}

static int test_forked(struct pmn_ctx *ctx, int node)
{
    const size_t pg = (size_t)getpagesize(), half = 4 * MiB, len = 2 * half, n = len / pg;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct pmn_migrate_report r = {.struct_size = sizeof(r)};
    unsigned long mask = 1;
    struct pol before, after;
    int fds[2], st, err;
    char c;
    pid_t child;

    if (p == MAP_FAILED || madvise(p, len, MADV_NOHUGEPAGE) != 0 ||
        syscall(SYS_mbind, p, len, 2 /* MPOL_BIND */, &mask, 8 * sizeof(mask), 0) != 0)
        FAIL("setup: %s", strerror(errno));
    memset(p, 0x3c, len);
    if (syscall(SYS_mbind, p, len, 0 /* MPOL_DEFAULT */, NULL, 0, 0) != 0)
        FAIL("mbind default: %s", strerror(errno));
    /* The child shares the second half only (copy on write, unwritten). */
    if (madvise(p, half, MADV_DONTFORK) != 0 || pipe(fds) != 0)
        FAIL("setup: %s", strerror(errno));
    get_pol(p + half, &before);
    child = fork();
    if (child == 0) {
        volatile char x = 0;
        close(fds[1]);
        for (size_t i = half; i < len; i += pg)
            x += p[i];
        (void)x;
        (void)!read(fds[0], &c, 1);
        _exit(0);
    }
    close(fds[0]);
    usleep(300000);
    err = pmn_migrate(ctx, p, len, node, 0, &r);
    get_pol(p + half, &after);
    close(fds[1]);
    waitpid(child, &st, 0);
    if (err != -EACCES || r.shared != n / 2 || r.moved != n / 2 || sum(&r) != n ||
        r.first_failed != p + half)
        report_fail("private pages shared with a child", err, &r);
    if (raw_on(p, half, node) != n / 2 || raw_on(p + half, half, 0) != n / 2)
        FAIL("forked: the pages are not where the report says");
    if (!same_pol(&before, &after))
        FAIL("forked: the shared half's policy is %d, was %d", after.mode, before.mode);
    printf("ok: %zu private pages a child shares: -EACCES, counted in shared, the %zu others "
           "moved, the policy restored\n",
           n / 2, n / 2);
    munmap(p, len);
    return 0;
}

/* ---- hinted: pages NUMA balancing has marked ---- */

/* The three mappings of the test: pages on node 0, pages on NODE, and
 * both (the first half on 0), each its own VMA (a PROT_NONE page between
 * them keeps them apart). */
struct hinted_vma {
    const char *name;
    char *p;
    size_t n, on0, onn;
    bool huge;
};

/* pmn_where over each mapping: every page present; @exact: each on its
 * node; else the mixed one's pages may be unknown (never not present, never
 * on a node they are not on) while the one-node mappings stay exact (their
 * VMA's numa_maps places them), but for the huge page (below). */
static int check_where(const char *who, const struct hinted_vma *v, int nv, int node, bool exact)
{
    const size_t pg = (size_t)getpagesize();

    for (int k = 0; k < nv; k++) {
        struct pmn_where w = {.struct_size = sizeof(w)};
        uint64_t on0, onn;
        /* Unknown allowed without page frames: a mapping on two nodes,
         * and the huge page, which the forked child shares copy-on-write
         * (not mapped once: nothing tells it from the zero page). */
        bool mixed = (v[k].on0 && v[k].onn) || (v[k].huge && !exact);
        int err = pmn_where(v[k].p, v[k].n * pg, &w);

        if (err != 0) {
            printf("FAIL: hinted: %s: pmn_where: %s\n", who, pmn_strerror(err));
            return 1;
        }
        on0 = pmn_where_pages_on(&w, 0);
        onn = pmn_where_pages_on(&w, node);
        printf("hinted: %s: %s: %llu on node 0, %llu on node %d, %llu not present, %llu "
               "unknown, %llu other\n",
               who, v[k].name, (unsigned long long)on0, (unsigned long long)onn, node,
               (unsigned long long)w.not_present, (unsigned long long)w.unknown,
               (unsigned long long)w.other);
        if (w.not_present != 0 || w.other != 0 || on0 > v[k].on0 || onn > v[k].onn ||
            on0 + onn + w.unknown != v[k].n ||
            ((exact || !mixed) && (on0 != v[k].on0 || onn != v[k].onn))) {
            printf("FAIL: hinted: %s: %s: want %zu on node 0 and %zu on node %d%s, none absent\n",
                   who, v[k].name, v[k].on0, v[k].onn, node,
                   exact || !mixed ? "" : " (or unknown)");
            return 1;
        }
    }
    return 0;
}

/* Bytes of the mapping at @p that are transparent huge pages (smaps). */
static unsigned long anon_huge_kib(const void *p)
{
    char line[256];
    unsigned long kib = 0, lo, hi;
    bool in = false;
    FILE *f = fopen("/proc/self/smaps", "r");

    while (f != NULL && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) /* a mapping's first line */
            in = lo == (unsigned long)(uintptr_t)p;
        else if (in && sscanf(line, "AnonHugePages: %lu kB", &kib) == 1)
            break;
    }
    if (f != NULL)
        fclose(f);
    return kib;
}

/* A 2 MiB huge page written on node 0 under the default policy, its own
 * mapping; NULL (said why) when the guest gives none. */
static char *huge_on0(void)
{
    const size_t huge = 2ul << 20;
    unsigned long mask = 1;
    char *raw = mmap(NULL, 2 * huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
         *h;

    if (raw == MAP_FAILED)
        FAIL("mmap: %s", strerror(errno));
    h = (char *)(((uintptr_t)raw + huge - 1) & ~(uintptr_t)(huge - 1));
    if (h > raw)
        munmap(raw, (size_t)(h - raw));
    munmap(h + huge, (size_t)(raw + 2 * huge - (h + huge)));
    if (madvise(h, huge, MADV_HUGEPAGE) != 0 ||
        syscall(SYS_mbind, h, huge, 2 /* MPOL_BIND */, &mask, 8 * sizeof(mask), 0) != 0)
        FAIL("hinted: huge page: madvise/mbind: %s", strerror(errno));
    memset(h, 0x5a, huge);
    if (syscall(SYS_mbind, h, huge, 0 /* MPOL_DEFAULT */, NULL, 0, 0) != 0)
        FAIL("hinted: huge page: mbind default: %s", strerror(errno));
    if (anon_huge_kib(h) < 2048) {
        printf("hinted: no transparent huge page here (%lu KiB): that case is not checked\n",
               anon_huge_kib(h));
        munmap(h, huge);
        return NULL;
    }
    return h;
}

static int test_hinted(struct pmn_ctx *ctx, int node)
{
    const size_t pg = (size_t)getpagesize(), total = 128 + 1 + 128 + 1 + 64, len = total * pg;
    char *p = map_on0(len, false);
    char *huge = huge_on0();
    struct hinted_vma v[4] = {{"node 0 alone", p, 128, 128, 0, false},
                              {"the other node alone", p + 129 * pg, 128, 0, 128, false},
                              {"both nodes", p + 258 * pg, 64, 32, 32, false},
                              {"a huge page on node 0", huge, 512, 512, 0, true}};
    const int nv = huge != NULL ? 4 : 3;
    void **pages = malloc(total * sizeof(*pages));
    int *to = malloc(total * sizeof(*to)), *st = malloc(total * sizeof(*st));
    char *starts[4] = {v[0].p, v[1].p, v[2].p, v[3].p};
    const size_t counts[4] = {v[0].n, v[1].n, v[2].n, v[3].n};
    size_t hidden, after, m = 0;
    pid_t child;
    int status;

    (void)ctx;
    if (!pmn_vm_balancing_on())
        SKIP("hinted: NUMA balancing is off in this guest");
    if (pages == NULL || to == NULL || st == NULL)
        FAIL("out of memory");
    madvise(p, len, MADV_NOHUGEPAGE);
    if (mprotect(p + 128 * pg, pg, PROT_NONE) != 0 || mprotect(p + 257 * pg, pg, PROT_NONE) != 0)
        FAIL("hinted: mprotect: %s", strerror(errno));
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < v[k].n; i++) {
            pages[m] = v[k].p + i * pg;
            to[m++] = i < v[k].on0 ? 0 : node;
        }
    if (syscall(SYS_move_pages, 0, m, pages, to, st, 0) != 0)
        FAIL("hinted: move_pages to %d: %s", node, strerror(errno));
    for (size_t i = 0; i < m; i++)
        if (st[i] != to[i])
            FAIL("hinted: page %zu on %d after its move, want %d", i, st[i], to[i]);
    hidden = pmn_vm_hinted_wait("hinted", starts, counts, (size_t)nv);
    if (check_where("root", v, nv, node, true) != 0)
        return 1;
    /* As nobody: not dumpable after the change of ids, the process cannot
     * read its own pagemap (mincore is asked); dumpable again, it reads
     * the pagemap without page frames (no CAP_SYS_ADMIN).  Either way
     * numa_maps places the hidden pages of a one-node mapping. */
    for (int dumpable = 0; dumpable < 2; dumpable++) {
        child = fork();
        if (child < 0)
            FAIL("fork: %s", strerror(errno));
        if (child == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0 ||
                (dumpable && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0)) {
                printf("FAIL: hinted: setuid nobody: %s\n", strerror(errno));
                _exit(1);
            }
            _exit(check_where(dumpable ? "nobody, dumpable" : "nobody", v, nv, node, false));
        }
        if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            FAIL("hinted: the unprivileged child failed");
    }
    /* Nothing the queries did resolved a hinting fault: a touch would have
     * shown every page it looked at (compaction moving a page meanwhile
     * may show one or two). */
    after = pmn_vm_runs_hidden(starts, counts, (size_t)nv);
    if (hidden >= 16 && after < hidden / 2)
        FAIL("hinted: %zu pages the raw query hid before pmn_where, %zu after: it touched them",
             hidden, after);
    printf("ok: hinted: %zu of %zu pages under a NUMA hinting fault (hidden from move_pages), "
           "pmn_where counts every page on its node and touches none\n",
           hidden, m + (nv == 4 ? v[3].n : 0));
    free(pages);
    free(to);
    free(st);
    munmap(p, len);
    if (huge != NULL)
        munmap(huge, 2ul << 20);
    return 0;
}

int main(int argc, char **argv)
{
    struct pmn_ctx *ctx;
    int err, rc = 2;

    if (argc != 3) {
        fprintf(stderr,
                "usage: vm-migrate move|full|shared|region|arena|rollback|headroom|pinned|policy|"
                "forked|hinted NODE\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if ((err = pmn_ctx_new(&ctx)) != 0)
        FAIL("pmn_ctx_new: %s", pmn_strerror(err));
    if (strcmp(argv[1], "move") == 0)
        rc = test_move(ctx, atoi(argv[2]));
    else if (strcmp(argv[1], "full") == 0)
        rc = test_full(ctx, atoi(argv[2]));
    else if (strcmp(argv[1], "shared") == 0)
        rc = test_shared(ctx, atoi(argv[2]));
    else if (strcmp(argv[1], "region") == 0)
        rc = test_region(ctx, atoi(argv[2]));
    else if (strcmp(argv[1], "arena") == 0)
        rc = test_arena(ctx, atoi(argv[2]));
    else if (strcmp(argv[1], "rollback") == 0)
        rc = test_rollback(ctx, atoi(argv[2]));
    else if (strcmp(argv[1], "headroom") == 0)
        rc = test_headroom(ctx, atoi(argv[2]));
    else if (strcmp(argv[1], "pinned") == 0)
        rc = test_pinned(ctx, atoi(argv[2]));
    else if (strcmp(argv[1], "policy") == 0)
        rc = test_policy(ctx, atoi(argv[2]));
    else if (strcmp(argv[1], "forked") == 0)
        rc = test_forked(ctx, atoi(argv[2]));
    else if (strcmp(argv[1], "hinted") == 0)
        rc = test_hinted(ctx, atoi(argv[2]));
    pmn_ctx_unref(ctx);
    return rc;
}
