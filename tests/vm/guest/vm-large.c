/*
 * vm-large.c - large arena objects backed lazily stay strict on a real
 * kernel with a second node (runs inside the QEMU guest of tests/vm;
 * issue 17).
 *
 *   vm-large lazy NODE   an arena on NODE (anonymous, then memfd): a 64 MiB
 *                        object has no page before the program touches it,
 *                        and every page the program then writes, from a
 *                        CPU of node 0 (which has room), is on NODE: the
 *                        bind policy, not the first-touch default, places
 *                        the fault.  The same with PMN_ARENA_POPULATE:
 *                        every page on NODE before the first write.  A
 *                        freed object's extent reused by the next malloc
 *                        keeps its pages on NODE.
 *
 * Prints "ok: ..." lines and exits 0 on success, 1 on failure.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PMN_HARNESS_PROGRAM
#include "harness.h"
#include "pmnode.h"

#define LEN ((size_t)64 << 20)

static struct pmn_where where(const void *p, size_t len)
{
    struct pmn_where w = {.struct_size = sizeof(w)};
    int err = pmn_where(p, len, &w);

    if (err != 0)
        FAIL("pmn_where: %s", pmn_strerror(err));
    return w;
}

static uint64_t on(const struct pmn_where *w, int node)
{
    return pmn_where_pages_on(w, node);
}

static void one(struct pmn_ctx *ctx, enum pmn_backing_type type, unsigned flags, int node)
{
    const char *what = type == PMN_BACKING_MEMFD ? "memfd" : "anon";
    struct pmn_arena_opts o = {.struct_size = sizeof(o), .retain = 2, .flags = flags};
    struct pmn_backing_params *bp = NULL;
    struct pmn_backing *b = NULL;
    struct pmn_arena *a = NULL;
    struct pmn_where w;
    char *p, *q;
    int err;

    pmn_backing_params_new(&bp);
    pmn_backing_params_set_type(bp, type);
    pmn_backing_params_set_node(bp, node);
    err = pmn_backing_new(ctx, bp, &b);
    pmn_backing_params_free(bp);
    if (err != 0)
        FAIL("%s backing on node %d: %s", what, node, pmn_strerror(err));
    if ((err = pmn_arena_new(b, &o, &a)) != 0)
        FAIL("arena: %s", pmn_strerror(err));
    p = pmn_arena_malloc(a, LEN);
    if (p == NULL)
        FAIL("%s: malloc of 64 MiB on node %d: %s", what, node, strerror(errno));
    w = where(p, LEN);
    if (flags & PMN_ARENA_POPULATE) {
        if (w.not_present != 0 || on(&w, node) != w.pages)
            FAIL("%s populate: %llu of %llu pages on node %d before the first write, %llu absent",
                 what, (unsigned long long)on(&w, node), (unsigned long long)w.pages, node,
                 (unsigned long long)w.not_present);
    } else if (w.not_present != w.pages) {
        FAIL("%s lazy: %llu of %llu pages present before any touch", what,
             (unsigned long long)(w.pages - w.not_present), (unsigned long long)w.pages);
    }
    memset(p, 0x3c, LEN);
    w = where(p, LEN);
    if (w.not_present != 0 || on(&w, node) != w.pages)
        FAIL("%s%s: after writing, %llu of %llu pages on node %d (%llu on node 0, %llu absent)",
             what, flags ? " populate" : " lazy", (unsigned long long)on(&w, node),
             (unsigned long long)w.pages, node, (unsigned long long)on(&w, 0),
             (unsigned long long)w.not_present);
    pmn_free(p);
    q = pmn_arena_malloc(a, LEN);
    if (q != p)
        FAIL("%s: the freed extent was not reused (%p, then %p)", what, (void *)p, (void *)q);
    w = where(q, LEN);
    if (on(&w, node) + w.not_present != w.pages)
        FAIL("%s: the reused extent has pages off node %d", what, node);
    pmn_free(q);
    printf("ok: %s%s: 64 MiB on node %d, %s, every written page on node %d, extent reused\n", what,
           flags ? " populate" : " lazy", node,
           flags ? "populated up front" : "absent until touched", node);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
}

int main(int argc, char **argv)
{
    struct pmn_ctx *ctx;
    cpu_set_t cpus;
    int err, node;

    if (argc != 3 || strcmp(argv[1], "lazy") != 0) {
        fprintf(stderr, "usage: vm-large lazy NODE\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    node = atoi(argv[2]);
    /* Run on CPU 0 (node 0): first-touch would place the faults there. */
    CPU_ZERO(&cpus);
    CPU_SET(0, &cpus);
    if (sched_setaffinity(0, sizeof(cpus), &cpus) != 0)
        FAIL("sched_setaffinity: %s", strerror(errno));
    if ((err = pmn_ctx_new(&ctx)) != 0)
        FAIL("pmn_ctx_new: %s", pmn_strerror(err));
    one(ctx, PMN_BACKING_ANON, 0, node);
    one(ctx, PMN_BACKING_MEMFD, 0, node);
    one(ctx, PMN_BACKING_ANON, PMN_ARENA_POPULATE, node);
    pmn_ctx_unref(ctx);
    return 0;
}
