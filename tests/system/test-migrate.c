/*
 * test-migrate.c - strict migration on this host (suite 'system', issue 16).
 *
 * This host may have one node only: a migration to node 0 of pages on
 * node 0 reports them "already there" and binds the range; the argument
 * checks, the accounting of never-populated pages, memory that is not the
 * process's, a page shared with a forked child and the report's
 * struct_size handling are all visible here.  Moving between nodes, a
 * target too full and shared pages that must move are in the vm lane
 * (tests/vm/guest/vm-migrate.c).
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pmnode.h"
#include "harness.h"

#ifdef PMN_NO_CRITERION /* the TSan build's runner: every check is an assert */
#define cr_expect_eq cr_assert_eq
#define cr_expect_gt cr_assert_gt
#define cr_expect_geq cr_assert_geq
#define cr_expect_null cr_assert_null
#endif

static uint64_t sum(const struct pmn_migrate_report *r)
{
    return r->moved + r->already_there + r->target_full + r->busy_or_pinned + r->shared +
           r->not_present + r->other;
}

static void *map_pages(size_t n, bool shared)
{
    void *p = mmap(NULL, n * (size_t)getpagesize(), PROT_READ | PROT_WRITE,
                   (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(p, MAP_FAILED);
    return p;
}

/* Counting passes: syscall(2) interposed (the library calls move_pages
 * through it), move_pages status queries (no target nodes) counted while
 * counting is on; every call is passed on to the C library's syscall. */
static atomic_bool counting;
static atomic_long queries;

long syscall(long nr, ...)
{
    static long (*real)(long, ...);
    long a[6];
    va_list ap;

    va_start(ap, nr);
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "syscall");
    if (nr == SYS_move_pages && a[3] == 0 && atomic_load(&counting))
        atomic_fetch_add(&queries, 1);
    return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* The strict bind verifies a finished move (the kernel walks the
 * range and refuses a present page off the node), so a migration queries
 * the range once, batch by batch, before moving, and not again after the
 * bind.  Both with every page present and with absent pages among them. */
Test(migrate, one_query_pass)
{
    struct pmn_ctx *ctx = local_ctx();
    const size_t pg = (size_t)getpagesize(), n = 3000; /* three batches of 1024 */
    const size_t thp = 2u << 20, extra = thp / pg;
    char *raw = map_pages(n + extra, false), *p;
    struct pmn_migrate_report r = {.struct_size = sizeof(r)};

    /* 2 MiB-aligned: batches end on 2 MiB boundaries (transparent huge
     * pages), so an unaligned range would take a fourth batch. */
    p = raw + (thp - (uintptr_t)raw % thp) % thp;
    memset(p, 0x5a, n * pg);
    atomic_store(&queries, 0);
    atomic_store(&counting, true);
    cr_assert_eq(pmn_migrate(ctx, p, n * pg, 0, 0, &r), 0);
    atomic_store(&counting, false);
    cr_expect_eq(r.already_there, n);
    cr_expect_eq(atomic_load(&queries), 3, "%ld move_pages queries, not 3", atomic_load(&queries));
    munmap(raw, (n + extra) * pg);

    raw = map_pages(16 + extra, false); /* 16 pages in one 2 MiB: one batch */
    p = raw + (thp - (uintptr_t)raw % thp) % thp;
    for (size_t i = 0; i < 16; i += 2)
        p[i * pg] = 1;
    atomic_store(&queries, 0);
    atomic_store(&counting, true);
    cr_assert_eq(pmn_migrate(ctx, p, 16 * pg, 0, 0, &r), 0);
    atomic_store(&counting, false);
    cr_expect_eq(r.not_present, 8);
    cr_expect_eq(r.already_there, 8);
    cr_expect_eq(atomic_load(&queries), 1, "%ld move_pages queries, not 1", atomic_load(&queries));
    munmap(raw, (16 + extra) * pg);
    pmn_ctx_unref(ctx);
}

Test(migrate, node0_to_node0_already_there)
{
    struct pmn_ctx *ctx = local_ctx();
    const size_t pg = (size_t)getpagesize(), n = 3000; /* more than one batch */
    char *p = map_pages(n, false);
    struct pmn_migrate_report r = {.struct_size = sizeof(r)};

    memset(p, 0x5a, n * pg);
    cr_assert_eq(pmn_migrate(ctx, p, n * pg, 0, 0, &r), 0);
    cr_expect_eq(r.struct_size, sizeof(r));
    cr_expect_eq(r.pages, n);
    cr_expect_eq(r.already_there, n);
    cr_expect_eq(r.moved, 0);
    cr_expect_eq(sum(&r), r.pages);
    cr_expect_null(r.first_failed);
    for (size_t i = 0; i < n * pg; i++)
        if (p[i] != 0x5a)
            cr_assert_fail("byte %zu changed", i);
    /* A NULL report is allowed. */
    cr_expect_eq(pmn_migrate(ctx, p, n * pg, 0, 0, NULL), 0);
    munmap(p, n * pg);
    pmn_ctx_unref(ctx);
}

Test(migrate, bad_arguments)
{
    struct pmn_ctx *ctx = local_ctx();
    const size_t pg = (size_t)getpagesize();
    char *p = map_pages(4, false);
    struct pmn_migrate_report r = {.struct_size = sizeof(r)};
    struct pmn_migrate_report zero = {.struct_size = 0};

    memset(p, 1, 4 * pg);
    cr_expect_eq(pmn_migrate(NULL, p, pg, 0, 0, &r), -EINVAL);
    cr_expect_eq(pmn_migrate(ctx, NULL, pg, 0, 0, &r), -EINVAL);
    cr_expect_eq(pmn_migrate(ctx, p + 1, pg, 0, 0, &r), -EINVAL);
    cr_expect_eq(pmn_migrate(ctx, p, pg + 1, 0, 0, &r), -EINVAL);
    cr_expect_eq(pmn_migrate(ctx, p, 0, 0, 0, &r), -EINVAL);
    cr_expect_eq(pmn_migrate(ctx, p, pg, 0, 0x80, &r), -EINVAL);
    cr_expect_eq(pmn_migrate(ctx, p, pg, -1, 0, &r), -EINVAL);
    cr_expect_eq(pmn_migrate(ctx, p, pg, 0, 0, &zero), -EINVAL);
    cr_expect_eq(pmn_migrate(ctx, p, pg, 4095, 0, &r), PMN_E_NO_NODE);
    /* A range past the end of the address space (since 0.6: it used to be
     * walked page by page, each -EFAULT). */
    cr_expect_eq(pmn_migrate(ctx, p, SIZE_MAX - pg + 1, 0, 0, &r), -EINVAL);
    munmap(p, 4 * pg);
    pmn_ctx_unref(ctx);
}

Test(migrate, unpopulated_pages_are_not_present)
{
    struct pmn_ctx *ctx = local_ctx();
    const size_t pg = (size_t)getpagesize(), n = 16;
    char *p = map_pages(n, false);
    struct pmn_migrate_report r = {.struct_size = sizeof(r)};

    for (size_t i = 0; i < n; i += 2)
        p[i * pg] = 1;
    cr_assert_eq(pmn_migrate(ctx, p, n * pg, 0, 0, &r), 0);
    cr_expect_eq(r.not_present, n / 2);
    cr_expect_eq(r.already_there, n / 2);
    cr_expect_eq(sum(&r), n);
    cr_expect_null(r.first_failed, "an absent page is not a failure");
    munmap(p, n * pg);
    pmn_ctx_unref(ctx);
}

Test(migrate, memory_not_ours_fails_with_report)
{
    struct pmn_ctx *ctx = local_ctx();
    const size_t pg = (size_t)getpagesize(), n = 8;
    char *p = map_pages(n, false);
    struct pmn_migrate_report r = {.struct_size = sizeof(r)};
    int rc;

    memset(p, 1, n * pg);
    cr_assert_eq(munmap(p + 4 * pg, 4 * pg), 0); /* a hole: no mapping there */
    rc = pmn_migrate(ctx, p, n * pg, 0, 0, &r);
    cr_expect_eq(rc, -EFAULT, "rc %d (%s)", rc, pmn_err_name(rc));
    cr_expect_eq(r.pages, n);
    cr_expect_eq(r.already_there, 4);
    cr_expect_eq(r.other, 4);
    cr_expect_eq(sum(&r), n);
    cr_expect_eq(r.first_failed, p + 4 * pg);
    munmap(p, 4 * pg);
    pmn_ctx_unref(ctx);
}

/* A range with holes fails before any page moves, and only its mapped
 * parts are asked about: a length reaching across terabytes of address
 * space is answered at once (each of its pages was asked about, and a
 * bitmap of a bit per page allocated).  What is mapped is still
 * reported. */
Test(migrate, holes_refused_before_anything_moves, .timeout = 60)
{
    struct pmn_ctx *ctx = local_ctx();
    const size_t pg = (size_t)getpagesize(), n = 8;
    char *p = map_pages(n, false), *hole;
    struct pmn_migrate_report r = {.struct_size = sizeof(r)};
    size_t len;
    int rc;

    memset(p, 1, 4 * pg);
    cr_assert_eq(munmap(p + 5 * pg, 2 * pg), 0); /* page 4 untouched, 5-6 a hole */
    rc = pmn_migrate(ctx, p, n * pg, 0, 0, &r);
    cr_expect_eq(rc, -EFAULT, "rc %d (%s)", rc, pmn_err_name(rc));
    cr_expect_eq(r.already_there, 4);
    cr_expect_eq(r.not_present, 2, "page 4 and page 7");
    cr_expect_eq(r.other, 2);
    cr_expect_eq(sum(&r), n);
    cr_expect_eq(r.first_failed, p + 5 * pg);
    munmap(p, 5 * pg);
    munmap(p + 7 * pg, pg);

    hole = address_hole(&len);
    cr_assert_not_null(hole, "no 256 MiB of address space to unmap");
    rc = pmn_migrate(ctx, hole, len, 0, 0, &r);
    cr_expect_eq(rc, -EFAULT, "rc %d (%s)", rc, pmn_err_name(rc));
    cr_expect_eq(r.pages, len / pg);
    cr_expect_eq(r.other, r.pages);
    cr_expect_eq(sum(&r), r.pages);
    cr_expect_eq(r.first_failed, hole);
    cr_expect_eq(r.moved, 0);
    pmn_ctx_unref(ctx);
}

/* pmn_where counts the pages no mapping covers as not present, from the
 * process's mappings: a hole in a range, and a hole of terabytes (its
 * 2^32 pages were asked about 4096 at a time, for tens of minutes). */
Test(migrate, where_counts_holes_without_asking, .timeout = 60)
{
    const size_t pg = (size_t)getpagesize();
    unsigned char *p = map_pages(8, false), *hole;
    struct pmn_where w = {.struct_size = sizeof(w)};
    size_t len;

    memset(p, 1, 8 * pg);
    cr_assert_eq(munmap(p + 2 * pg, 3 * pg), 0);
    cr_assert_eq(pmn_where(p, 8 * pg, &w), 0);
    cr_expect_eq(w.pages, 8);
    cr_expect_eq(w.not_present, 3, "the hole's pages: %llu not present", ull(w.not_present));
    cr_expect_eq(pmn_where_pages_on(&w, 0), 5);
    munmap(p, 2 * pg);
    munmap(p + 5 * pg, 3 * pg);

    hole = address_hole(&len);
    cr_assert_not_null(hole, "no 256 MiB of address space to unmap");
    cr_assert_eq(pmn_where(hole, len, &w), 0);
    cr_expect_eq(w.pages, len / pg);
    cr_expect_eq(w.not_present, w.pages);
    cr_expect_eq(pmn_where(hole, SIZE_MAX - (uintptr_t)hole, &w), -EINVAL,
                 "a range whose last page ends past the address space");
}

/* move_pages(2) checks a page's node before its map count: a page shared
 * with another process that is on the target already is "already there"
 * (the vm lane shows -EACCES, counted in shared, for one that must move). */
Test(migrate, shared_with_child_on_node_already_there)
{
    struct pmn_ctx *ctx = local_ctx();
    const size_t pg = (size_t)getpagesize(), n = 4;
    char *p = map_pages(n, true);
    struct pmn_migrate_report r = {.struct_size = sizeof(r)};
    int fds[2], st;
    char c;
    pid_t child;

    memset(p, 1, n * pg);
    cr_assert_eq(pipe(fds), 0);
    child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        close(fds[1]);
        volatile char x = p[0];
        (void)x;
        (void)!read(fds[0], &c, 1); /* holds the mapping until the parent is done */
        _exit(0);
    }
    close(fds[0]);
    cr_assert_eq(pmn_migrate(ctx, p, n * pg, 0, 0, &r), 0);
    cr_expect_eq(r.already_there, n);
    cr_expect_eq(r.shared, 0);
    cr_expect_eq(sum(&r), n);
    close(fds[1]);
    cr_assert_eq(waitpid(child, &st, 0), child);
    munmap(p, n * pg);
    pmn_ctx_unref(ctx);
}

Test(migrate, short_report_struct)
{
    struct pmn_ctx *ctx = local_ctx();
    const size_t pg = (size_t)getpagesize(), n = 4;
    char *p = map_pages(n, false);
    struct pmn_migrate_report r;
    const size_t shortsz = offsetof(struct pmn_migrate_report, moved) + sizeof(uint64_t);

    memset(p, 1, n * pg);
    memset(&r, 0xee, sizeof(r));
    r.struct_size = shortsz;
    cr_assert_eq(pmn_migrate(ctx, p, n * pg, 0, 0, &r), 0);
    cr_expect_eq(r.struct_size, shortsz);
    cr_expect_eq(r.pages, n);
    cr_expect_eq(r.moved, 0);
    cr_expect_eq(r.already_there, 0xeeeeeeeeeeeeeeeeull, "a field past struct_size was written");
    /* A larger struct (a newer caller) gets this version's fields. */
    struct {
        struct pmn_migrate_report r;
        uint64_t future;
    } big;
    memset(&big, 0xee, sizeof(big));
    big.r.struct_size = sizeof(big);
    cr_assert_eq(pmn_migrate(ctx, p, n * pg, 0, 0, &big.r), 0);
    cr_expect_eq(big.r.struct_size, sizeof(big));
    cr_expect_eq(big.r.already_there, n);
    cr_expect_eq(big.future, 0xeeeeeeeeeeeeeeeeull);
    munmap(p, n * pg);
    pmn_ctx_unref(ctx);
}

/* ---- since 0.6: flags, regions, arenas, slabs, objects ---- */

Test(migrate, flags_accepted_and_unknown_refused)
{
    struct pmn_ctx *ctx = local_ctx();
    const size_t pg = (size_t)getpagesize(), n = 8;
    char *p = map_pages(n, false);
    struct pmn_migrate_report r = {.struct_size = sizeof(r)};

    memset(p, 3, n * pg);
    cr_expect_eq(
        pmn_migrate(ctx, p, n * pg, 0, PMN_MIGRATE_ROLLBACK | PMN_MIGRATE_NO_HEADROOM, &r), 0);
    cr_expect_eq(r.already_there, n);
    cr_expect_eq(r.rolled_back, 0);
    cr_expect_eq(sum(&r), n);
    cr_expect_eq(pmn_migrate(ctx, p, n * pg, 0, PMN_MIGRATE_NO_HEADROOM << 1, &r), -EINVAL);
    cr_expect_eq(pmn_migrate(ctx, p, n * pg, 0, 1u << 31, &r), -EINVAL);
    munmap(p, n * pg);
    pmn_ctx_unref(ctx);
}

/* A failure with ROLLBACK where nothing moved: nothing to roll back, the
 * report still sums to pages. */
Test(migrate, rollback_nothing_moved)
{
    struct pmn_ctx *ctx = local_ctx();
    const size_t pg = (size_t)getpagesize(), n = 8;
    char *p = map_pages(n, false);
    struct pmn_migrate_report r = {.struct_size = sizeof(r)};

    memset(p, 1, n * pg);
    cr_assert_eq(munmap(p + 2 * pg, 2 * pg), 0);
    cr_expect_eq(pmn_migrate(ctx, p, n * pg, 0, PMN_MIGRATE_ROLLBACK, &r), -EFAULT);
    cr_expect_eq(r.other, 2);
    cr_expect_eq(r.already_there, 6);
    cr_expect_eq(r.rolled_back, 0);
    cr_expect_eq(r.first_failed, p + 2 * pg);
    cr_expect_eq(sum(&r), n);
    munmap(p, 2 * pg);
    munmap(p + 4 * pg, 4 * pg);
    pmn_ctx_unref(ctx);
}

static uint64_t node0_bytes(const struct pmn_backing *b)
{
    struct pmn_backing_stats st = {.struct_size = sizeof(st)};

    cr_assert_eq(pmn_backing_stats(b, &st), 0);
    cr_assert_geq(st.nnodes, 1);
    cr_expect_eq(st.node[0].node, 0);
    cr_expect_eq(st.spilled_bytes, 0);
    return st.node[0].bytes;
}

static void region_case(enum pmn_backing_type t)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing *b = backing_on0(ctx, t);
    struct pmn_region *r;
    struct pmn_migrate_report rep = {.struct_size = sizeof(rep)};
    const size_t pg = (size_t)getpagesize();
    size_t size;
    uint64_t before;
    char *a;

    cr_assert_eq(pmn_region_map(b, 2u << 20, &r), 0);
    a = pmn_region_addr(r);
    size = pmn_region_size(r);
    memset(a, 0x6b, size);
    before = node0_bytes(b);
    cr_expect_eq(before, size);
    cr_assert_eq(pmn_region_migrate(r, 0, 0, &rep), 0);
    cr_expect_eq(rep.pages, size / pg);
    cr_expect_eq(rep.already_there, size / pg);
    cr_expect_eq(sum(&rep), rep.pages);
    cr_expect_eq(pmn_region_node(r), 0);
    cr_expect_eq(node0_bytes(b), before, "a move to where it is keeps the books");
    for (size_t i = 0; i < size; i++)
        if (a[i] != 0x6b)
            cr_assert_fail("byte %zu changed", i);
    /* Argument checks, before anything is looked at (the report untouched). */
    memset(&rep, 0xee, sizeof(rep));
    rep.struct_size = sizeof(rep);
    cr_expect_eq(pmn_region_migrate(NULL, 0, 0, &rep), -EINVAL);
    cr_expect_eq(pmn_region_migrate(r, -1, 0, &rep), -EINVAL);
    cr_expect_eq(pmn_region_migrate(r, 0, 4, &rep), -EINVAL);
    cr_expect_eq(pmn_region_migrate(r, 1, 0, &rep), PMN_E_NOT_ON_LIST);
    cr_expect_eq(pmn_region_migrate(r, 4095, 0, &rep), PMN_E_NOT_ON_LIST);
    cr_expect_eq(rep.pages, 0xeeeeeeeeeeeeeeeeull, "a refused call wrote the report");
    rep.struct_size = 0;
    cr_expect_eq(pmn_region_migrate(r, 0, 0, &rep), -EINVAL);
    cr_expect_eq(pmn_region_migrate(r, 0, PMN_MIGRATE_ROLLBACK, NULL), 0);
    cr_expect_eq(pmn_region_unmap(r), 0);
    cr_expect_eq(node0_bytes(b), 0);
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
}

Test(migrate, region_anon_to_its_node)
{
    region_case(PMN_BACKING_ANON);
}

Test(migrate, region_memfd_to_its_node)
{
    region_case(PMN_BACKING_MEMFD);
}

Test(migrate, region_of_user_memory_cannot_move)
{
    struct pmn_ctx *ctx = local_ctx();
    const size_t len = 8u << 20;
    struct pmn_backing_params *p;
    struct pmn_backing *b = NULL;
    struct pmn_region *r;
    struct pmn_migrate_report rep = {.struct_size = sizeof(rep)};
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    cr_assert_neq(m, MAP_FAILED);
    memset(m, 0, len);
    cr_assert_eq(pmn_backing_params_new(&p), 0);
    cr_assert_eq(pmn_backing_params_set_node(p, 0), 0);
    cr_assert_eq(pmn_backing_params_set_user(p, m, len, -1, 0, 0), 0);
    cr_assert_eq(pmn_backing_new(ctx, p, &b), 0);
    pmn_backing_params_free(p);
    cr_assert_eq(pmn_region_map(b, pmn_backing_granule(b), &r), 0);
    cr_expect_eq(pmn_region_migrate(r, 0, 0, &rep), -EOPNOTSUPP);
    cr_expect_eq(pmn_region_unmap(r), 0);
    pmn_backing_free(b);
    munmap(m, len);
    pmn_ctx_unref(ctx);
}

/* Every extent of an arena looked at (from 0 to 0): each page is there or
 * never populated, the stats unchanged; from -1 looks at none. */
Test(migrate, arena_to_its_node)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing *b = backing_on0(ctx, PMN_BACKING_ANON);
    struct pmn_arena *a;
    struct pmn_alloc_stats st = {.struct_size = sizeof(st)}, st2 = {.struct_size = sizeof(st2)};
    struct pmn_migrate_report rep = {.struct_size = sizeof(rep)};
    const size_t pg = (size_t)getpagesize();
    char *small[64], *big;

    cr_assert_eq(pmn_arena_new(b, NULL, &a), 0);
    for (int i = 0; i < 64; i++) {
        small[i] = pmn_arena_malloc(a, 1000 + (size_t)i * 100);
        cr_assert_not_null(small[i]);
        memset(small[i], i, 1000);
    }
    big = pmn_arena_malloc(a, 3u << 20);
    cr_assert_not_null(big);
    memset(big, 0x42, 3u << 20);
    cr_assert_eq(pmn_arena_stats(a, &st), 0);
    cr_assert_eq(pmn_arena_migrate(a, 0, 0, 0, &rep), 0);
    cr_expect_eq(rep.pages, st.backing.mapped_bytes / pg, "pages %llu, mapped %llu",
                 (unsigned long long)rep.pages, (unsigned long long)st.backing.mapped_bytes);
    cr_expect_eq(rep.moved, 0);
    cr_expect_geq(rep.already_there, (3u << 20) / pg);
    cr_expect_eq(sum(&rep), rep.pages);
    cr_expect_null(rep.first_failed);
    cr_assert_eq(pmn_arena_stats(a, &st2), 0);
    cr_expect_eq(st2.backing.node[0].bytes, st.backing.node[0].bytes);
    cr_expect_eq(st2.backing.node[0].bytes, st2.backing.mapped_bytes);
    memset(&rep, 0, sizeof(rep));
    rep.struct_size = sizeof(rep);
    cr_assert_eq(pmn_arena_migrate(a, -1, 0, PMN_MIGRATE_ROLLBACK, &rep), 0);
    cr_expect_eq(rep.pages, 0, "every extent is on node 0 already");
    for (int i = 0; i < 64; i++)
        for (int k = 0; k < 1000; k++)
            if (small[i][k] != (char)i)
                cr_assert_fail("object %d byte %d changed", i, k);
    /* Checks. */
    cr_expect_eq(pmn_arena_migrate(NULL, -1, 0, 0, &rep), -EINVAL);
    cr_expect_eq(pmn_arena_migrate(a, -2, 0, 0, &rep), -EINVAL);
    cr_expect_eq(pmn_arena_migrate(a, -1, 0, 8, &rep), -EINVAL);
    cr_expect_eq(pmn_arena_migrate(a, -1, 1, 0, &rep), PMN_E_NOT_ON_LIST);
    cr_expect_eq(pmn_arena_migrate(a, 1, 0, 0, &rep), 0, "no extent on node 1");
    cr_expect_eq(rep.pages, 0);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
}

Test(migrate, slab_to_its_node)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing *b = backing_on0(ctx, PMN_BACKING_MEMFD);
    struct pmn_slab *s;
    struct pmn_migrate_report rep = {.struct_size = sizeof(rep)};
    void *o[100];

    cr_assert_eq(pmn_slab_new(b, 256, 0, 0, &s), 0);
    for (int i = 0; i < 100; i++) {
        o[i] = pmn_slab_alloc(s);
        cr_assert_not_null(o[i]);
        memset(o[i], i, 256);
    }
    cr_assert_eq(pmn_slab_migrate(s, 0, 0, 0, &rep), 0);
    cr_expect_gt(rep.pages, 0);
    cr_expect_gt(rep.already_there, 0);
    cr_expect_eq(sum(&rep), rep.pages);
    cr_expect_eq(pmn_slab_migrate(s, -1, 1, 0, &rep), PMN_E_NOT_ON_LIST);
    cr_expect_eq(pmn_slab_migrate(NULL, -1, 0, 0, &rep), -EINVAL);
    for (int i = 0; i < 100; i++)
        pmn_slab_free(s, o[i]);
    pmn_slab_destroy(s);
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
}

/* pmn_migrate_object answers what pmn_free would for a bad pointer, and
 * moves the whole extent for a good one. */
Test(migrate, object_misuse_codes)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing *b = backing_on0(ctx, PMN_BACKING_ANON);
    struct pmn_arena *a;
    struct pmn_migrate_report rep = {.struct_size = sizeof(rep)};
    const size_t pg = (size_t)getpagesize();
    int local = 0;
    char *o, *freed, *big, *bigfreed;

    cr_assert_eq(pmn_arena_new(b, NULL, &a), 0);
    o = pmn_arena_malloc(a, 100);
    freed = pmn_arena_malloc(a, 100);
    big = pmn_arena_malloc(a, 1u << 20);
    bigfreed = pmn_arena_malloc(a, 2u << 20);
    cr_assert(o && freed && big && bigfreed);
    memset(o, 7, 100);
    memset(big, 9, 1u << 20);
    cr_assert_eq(pmn_free(freed), 0);
    cr_assert_eq(pmn_free(bigfreed), 0);

    cr_expect_eq(pmn_migrate_object(NULL, 0, 0, &rep), -EINVAL);
    cr_expect_eq(pmn_migrate_object(&local, 0, 0, &rep), PMN_E_FOREIGN);
    cr_expect_eq(pmn_migrate_object(freed, 0, 0, &rep), PMN_E_DOUBLE_FREE);
    cr_expect_eq(pmn_migrate_object(o + 16, 0, 0, &rep), PMN_E_INTERIOR);
    cr_expect_eq(pmn_migrate_object(big + 4096, 0, 0, &rep), PMN_E_INTERIOR);
    cr_expect_eq(pmn_migrate_object(bigfreed, 0, 0, &rep), PMN_E_DOUBLE_FREE);
    cr_expect_eq(pmn_migrate_object(o, 1, 0, &rep), PMN_E_NOT_ON_LIST);
    cr_expect_eq(pmn_migrate_object(o, 0, 16, &rep), -EINVAL);

    cr_assert_eq(pmn_migrate_object(o, 0, 0, &rep), 0);
    cr_expect_eq(rep.pages, (4u << 20) / pg, "a small object's extent is its 4 MiB segment");
    cr_expect_gt(rep.already_there, 0);
    cr_expect_eq(sum(&rep), rep.pages);
    memset(&rep, 0, sizeof(rep));
    rep.struct_size = sizeof(rep);
    cr_assert_eq(pmn_migrate_object(big, 0, 0, &rep), 0);
    cr_expect_geq(rep.already_there, (1u << 20) / pg);
    cr_expect_eq(sum(&rep), rep.pages);
    cr_expect_eq(o[99], 7);
    cr_expect_eq(big[(1u << 20) - 1], 9);
    pmn_free(o);
    pmn_free(big);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
}

/* Other threads allocate, write, check and free, small and large objects,
 * while the arena's extents are moved again and again (to where they are,
 * on this host: the locking and the snapshot are what is tested, and the
 * TSan build checks the races). */
struct churn {
    struct pmn_arena *a;
    atomic_bool stop;
    atomic_int bad;
};

static void *churn_thread(void *arg)
{
    struct churn *c = arg;
    void *keep[32] = {0};
    unsigned seed = 1;

    while (!atomic_load(&c->stop)) {
        for (int i = 0; i < 32; i++) {
            size_t sz =
                (seed = seed * 1103515245u + 12345u) % 4 == 0 ? 300u << 10 : 64 + (size_t)i * 8;
            if (keep[i] != NULL) {
                if (*(unsigned char *)keep[i] != (unsigned char)i)
                    atomic_fetch_add(&c->bad, 1);
                if (pmn_free(keep[i]) != 0)
                    atomic_fetch_add(&c->bad, 1);
            }
            keep[i] = pmn_arena_malloc(c->a, sz);
            if (keep[i] == NULL) {
                atomic_fetch_add(&c->bad, 1);
                continue;
            }
            memset(keep[i], i, sz < 4096 ? sz : 4096);
        }
    }
    for (int i = 0; i < 32; i++)
        pmn_free(keep[i]);
    return NULL;
}

Test(migrate, arena_migrate_while_other_threads_allocate)
{
    struct pmn_ctx *ctx = local_ctx();
    struct pmn_backing *b = backing_on0(ctx, PMN_BACKING_ANON);
    struct churn c = {0};
    pthread_t t[2];
    int rounds = 0, err = 0;

    cr_assert_eq(pmn_arena_new(b, NULL, &c.a), 0);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, churn_thread, &c), 0);
    for (rounds = 0; rounds < 40 && err == 0; rounds++) {
        struct pmn_migrate_report rep = {.struct_size = sizeof(rep)};
        err = pmn_arena_migrate(c.a, 0, 0, rounds % 2 ? PMN_MIGRATE_ROLLBACK : 0, &rep);
        if (err == 0 && sum(&rep) != rep.pages)
            err = -EIO;
    }
    atomic_store(&c.stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    cr_expect_eq(err, 0, "round %d: %s", rounds, pmn_strerror(err));
    cr_expect_eq(atomic_load(&c.bad), 0);
    pmn_arena_destroy(c.a);
    pmn_backing_free(b);
    pmn_ctx_unref(ctx);
}
