/*
 * vm-user.c - user-supplied memory checked at creation, on a real kernel
 * with two nodes (runs inside the QEMU guest of tests/vm; issue 15).
 *
 *   vm-user misplaced NODE   a range on node 0 with one page moved to NODE
 *                            (move_pages): a user backing for node 0 is
 *                            refused with PMN_E_MISPLACED; with
 *                            PMN_USER_UNVERIFIED it is accepted
 *   vm-user on NODE          a range wholly on NODE (bound and touched), and
 *                            a fresh one never touched: both accepted for
 *                            NODE, refused for node 0; an arena's and a
 *                            slab's objects there, every page on NODE
 *
 * Prints "ok: ..." lines and exits 0 on success, 1 on failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PMN_HARNESS_PROGRAM
#include "harness.h"
#include "pmnode.h"

#define LEN ((size_t)16 << 20)

static void *map_range(size_t len)
{
    size_t al = 4u << 20;
    char *p = mmap(NULL, len + al, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *at;

    if (p == MAP_FAILED)
        FAIL("mmap: %s", strerror(errno));
    at = (char *)(((uintptr_t)p + al - 1) & ~(uintptr_t)(al - 1));
    if (at > p)
        munmap(p, (size_t)(at - p));
    munmap(at + len, (size_t)(p + al - at));
    return at;
}

/* mbind(MPOL_BIND) of the range to @node, then touch every page. */
static void place_all(char *p, size_t len, int node)
{
    unsigned long mask = 1ul << node;

    /* Base pages: moving one page must not move a whole THP. */
    (void)madvise(p, len, MADV_NOHUGEPAGE);
    if (syscall(SYS_mbind, p, len, 2 /* MPOL_BIND */, &mask, 64ul, 0u) != 0)
        FAIL("mbind to %d: %s", node, strerror(errno));
    memset(p, 0x11, len);
}

static uint64_t pages_on(const void *p, size_t len, int node, uint64_t *total)
{
    struct pmn_where w = {.struct_size = sizeof(w)};

    if (pmn_where(p, len, &w) != 0)
        FAIL("pmn_where failed");
    *total = w.pages;
    return pmn_where_pages_on(&w, node);
}

static int user_backing(struct pmn_ctx *ctx, void *p, size_t len, int node, unsigned flags,
                        struct pmn_backing **b)
{
    struct pmn_backing_params *bp;
    int err;

    pmn_backing_params_new(&bp);
    pmn_backing_params_set_node(bp, node);
    if (pmn_backing_params_set_user(bp, p, len, -1, 0, flags) != 0)
        FAIL("set_user refused a valid range");
    err = pmn_backing_new(ctx, bp, b);
    pmn_backing_params_free(bp);
    return err;
}

static int test_misplaced(struct pmn_ctx *ctx, int node)
{
    char *p = map_range(LEN);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *pages[1] = {p + 5 * page};
    int to[1] = {node}, status[1] = {-1};
    uint64_t total, on;
    struct pmn_backing *b = NULL;
    int err;

    place_all(p, LEN, 0);
    if (syscall(SYS_move_pages, 0, 1ul, pages, to, status, 2 /* MPOL_MF_MOVE */) != 0 ||
        status[0] != node)
        FAIL("move_pages of one page to node %d: %s (status %d)", node, strerror(errno),
             status[0]);
    on = pages_on(p, LEN, 0, &total);
    if (on != total - 1)
        FAIL("setup: %llu of %llu pages on node 0, expected all but one", (unsigned long long)on,
             (unsigned long long)total);
    err = user_backing(ctx, p, LEN, 0, 0, &b);
    if (err != PMN_E_MISPLACED || b != NULL)
        FAIL("a range with one page on node %d accepted for node 0: %s", node, pmn_err_name(err));
    printf("ok: one page of %llu on node %d: refused for node 0 (%s)\n", (unsigned long long)total,
           node, pmn_err_name(err));
    err = user_backing(ctx, p, LEN, 0, PMN_USER_UNVERIFIED, &b);
    if (err != 0 || pmn_backing_verified(b))
        FAIL("PMN_USER_UNVERIFIED refused: %s", pmn_strerror(err));
    printf("ok: the same range with PMN_USER_UNVERIFIED: accepted, unverified\n");
    pmn_backing_free(b);
    munmap(p, LEN);
    return 0;
}

static void run_on(struct pmn_ctx *ctx, char *p, int node, const char *what)
{
    struct pmn_backing *b = NULL;
    struct pmn_arena *a;
    struct pmn_slab *s;
    uint64_t total, on;
    int err;

    err = user_backing(ctx, p, LEN, 0, 0, &b);
    if (err != PMN_E_MISPLACED)
        FAIL("%s range on node %d taken for node 0: %s", what, node, pmn_err_name(err));
    err = user_backing(ctx, p, LEN, node, 0, &b);
    if (err != 0 || !pmn_backing_verified(b))
        FAIL("%s range on node %d refused: %s", what, node, pmn_strerror(err));
    if (pmn_arena_new(b, NULL, &a) != 0 || pmn_slab_new(b, 256, 0, 0, &s) != 0)
        FAIL("arena or slab over the user range");
    for (int i = 0; i < 2000; i++) {
        size_t n = 64 + (size_t)i * 37 % 9000;
        char *o = pmn_arena_malloc(a, n), *so = pmn_slab_alloc(s);
        if (o == NULL || so == NULL)
            FAIL("%s: object %d: %s", what, i, pmn_strerror(pmn_last_error()));
        if (o < p || o + n > p + LEN || so < p || so + 256 > p + LEN)
            FAIL("%s: object %d outside the range", what, i);
        memset(o, i, n);
        memset(so, i, 256);
        if (pages_on(o, n, node, &total) != total || pages_on(so, 256, node, &total) != total)
            FAIL("%s: object %d not on node %d", what, i, node);
    }
    pmn_arena_destroy(a);
    pmn_slab_destroy(s);
    pmn_backing_free(b);
    on = pages_on(p, LEN, node, &total);
    if (on != total)
        FAIL("%s: %llu of %llu pages on node %d", what, (unsigned long long)on,
             (unsigned long long)total, node);
    printf("ok: %s range on node %d: refused for node 0, accepted for %d; 2000 arena and "
           "slab objects inside it, all %llu pages on node %d\n",
           what, node, node, (unsigned long long)total, node);
}

static int test_on(struct pmn_ctx *ctx, int node)
{
    char *p = map_range(LEN), *q = map_range(LEN);

    place_all(p, LEN, node);
    run_on(ctx, p, node, "a bound, touched");
    /* Never touched: the library populates it for the node, then binds. */
    struct pmn_backing *b = NULL;
    int err = user_backing(ctx, q, LEN, node, 0, &b);
    if (err != 0)
        FAIL("a fresh range for node %d: %s", node, pmn_strerror(err));
    pmn_backing_free(b);
    run_on(ctx, q, node, "a fresh");
    munmap(p, LEN);
    munmap(q, LEN);
    return 0;
}

int main(int argc, char **argv)
{
    struct pmn_ctx *ctx;
    int err, node;

    if (argc != 3 || (strcmp(argv[1], "misplaced") != 0 && strcmp(argv[1], "on") != 0)) {
        fprintf(stderr, "usage: vm-user misplaced|on NODE\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    node = atoi(argv[2]);
    if ((err = pmn_ctx_new(&ctx)) != 0)
        FAIL("pmn_ctx_new: %s", pmn_strerror(err));
    err = strcmp(argv[1], "misplaced") == 0 ? test_misplaced(ctx, node) : test_on(ctx, node);
    pmn_ctx_unref(ctx);
    return err;
}
