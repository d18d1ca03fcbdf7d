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
 *                            any page moves (report: target_full = pages)
 *   vm-migrate shared NODE   a MAP_SHARED range mapped by a forked child:
 *                            -EACCES, every page counted in shared, none moved
 *
 * Prints "ok: ..." lines and exits 0 on success, 1 on failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PMN_HARNESS_PROGRAM
#include "harness.h"
#include "pmnode.h"

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
    struct pmn_backing_params *bp;
    struct pmn_backing *fill;
    struct pmn_migrate_report r = {.struct_size = sizeof(r)};
    size_t nr = 0;
    char *p = map_on0(len, false);
    int err;

    pmn_backing_params_new(&bp);
    pmn_backing_params_set_node(bp, node);
    if ((err = pmn_backing_new(ctx, bp, &fill)) != 0)
        FAIL("strict backing on %d: %s", node, pmn_strerror(err));
    pmn_backing_params_free(bp);
    while (nr < 4096 && pmn_region_map(fill, 8 * MiB, &regions[nr]) == 0)
        nr++;
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
    printf("ok: node %d full (%zu regions of 8 MiB): PMN_E_NODE_FULL, nothing moved\n", node, nr);
    while (nr)
        pmn_region_unmap(regions[--nr]);
    pmn_backing_free(fill);
    munmap(p, len);
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

int main(int argc, char **argv)
{
    struct pmn_ctx *ctx;
    int err, rc = 2;

    if (argc != 3) {
        fprintf(stderr, "usage: vm-migrate move|full|shared NODE\n");
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
    pmn_ctx_unref(ctx);
    return rc;
}
