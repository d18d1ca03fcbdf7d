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
#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pmnode.h"

static struct pmn_ctx *local_ctx(void)
{
    struct pmn_ctx_params *p;
    struct pmn_ctx *ctx = NULL;

    cr_assert_eq(pmn_ctx_params_new(&p), 0);
    cr_assert_eq(pmn_ctx_params_set_root(p, "/"), 0);
    cr_assert_eq(pmn_ctx_params_set_flags(p, PMN_CTX_IGNORE_ENV | PMN_CTX_NO_CONFIG), 0);
    cr_assert_eq(pmn_ctx_new_params(&ctx, p), 0, "no context for this machine");
    pmn_ctx_params_free(p);
    cr_assert_not_null(pmn_node_get(ctx, 0), "this host has no node 0");
    return ctx;
}

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
