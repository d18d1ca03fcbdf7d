/*
 * vm-ipc.c - IPC handles on a real kernel with a second node (runs inside
 * the QEMU guest of tests/vm).
 *
 *   vm-ipc share NODE          an arena object on NODE, exported by the
 *                              parent and opened by a child: the child's
 *                              mapping has every page on NODE, sees the
 *                              parent's data, and its writes reach the parent
 *   vm-ipc node-changed NODE   the owner migrates an exported object's pages
 *                              from NODE to node 0 (move_pages): opening the
 *                              handle then fails with PMN_E_NODE_CHANGED,
 *                              never a mapping of memory on the wrong node
 *
 * Prints "ok: ..." lines and exits 0 on success, 1 on failure, 77 when the
 * topology lacks what the test needs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PMN_HARNESS_PROGRAM
#include "harness.h"
#include "pmnode.h"

#define OBJ (256u << 10)

static struct pmn_arena *arena_on(int node, struct pmn_backing **bo)
{
    struct pmn_backing_params *p;
    struct pmn_backing *b;
    struct pmn_arena *a;
    struct pmn_ctx *ctx;
    int err;

    if ((err = pmn_ctx_new(&ctx)) || (err = pmn_backing_params_new(&p)) ||
        (err = pmn_backing_params_set_type(p, PMN_BACKING_MEMFD)) ||
        (err = pmn_backing_params_set_node(p, node)) ||
        (err = pmn_backing_params_set_headroom(p, 8u << 20)) ||
        (err = pmn_backing_new(ctx, p, &b)) || (err = pmn_arena_new(b, NULL, &a)))
        FAIL("setup on node %d: %s", node, pmn_strerror(err));
    pmn_backing_params_free(p);
    pmn_ctx_unref(ctx);
    *bo = b;
    return a;
}

/* Pages of [p, p+len) on @node (pmn_where). */
static uint64_t pages_on(const void *p, size_t len, int node, uint64_t *total)
{
    struct pmn_where w = {.struct_size = sizeof(w)};
    int err = pmn_where(p, len, &w);

    if (err)
        FAIL("pmn_where: %s", pmn_strerror(err));
    *total = w.pages;
    return pmn_where_pages_on(&w, node);
}

static int share(int node)
{
    struct pmn_backing *b;
    struct pmn_arena *a = arena_on(node, &b);
    struct pmn_ipc_handle h;
    unsigned char *o = pmn_arena_malloc(a, OBJ);
    int sv[2], fd, status = 0, err;
    char ack;
    pid_t pid;

    if (o == NULL)
        FAIL("malloc on node %d: %s", node, strerror(errno));
    memset(o, 0x3c, OBJ);
    if ((err = pmn_ipc_get(o, &h, &fd)))
        FAIL("pmn_ipc_get: %s", pmn_strerror(err));
    if (h.node != node)
        FAIL("handle records node %d, not %d", h.node, node);
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
        FAIL("socketpair: %s", strerror(errno));
    pid = fork();
    if (pid == 0) {
        struct pmn_ipc_cache *c;
        uint64_t on, total;
        unsigned char *x;
        void *v;
        close(sv[0]);
        if (pmn_ipc_cache_new(&c) || pmn_ipc_recv(sv[1], &h, &fd))
            _exit(10);
        if ((err = pmn_ipc_open(c, &h, fd, 0, &v))) {
            fprintf(stderr, "child open: %s\n", pmn_strerror(err));
            _exit(11);
        }
        x = v;
        if (x[0] != 0x3c || x[OBJ - 1] != 0x3c)
            _exit(12);
        on = pages_on(x, OBJ, node, &total);
        if (on != total || total == 0)
            _exit(13);
        memset(x, 0xc3, OBJ);
        if (pmn_ipc_close(c, v) || write(sv[1], &ack, 1) != 1)
            _exit(14);
        pmn_ipc_cache_free(c);
        _exit(0);
    }
    close(sv[1]);
    if ((err = pmn_ipc_send(sv[0], &h, fd)))
        FAIL("send: %s", pmn_strerror(err));
    if (read(sv[0], &ack, 1) != 1 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0)
        FAIL("the importing child failed (status %#x)", status);
    if (o[0] != 0xc3 || o[OBJ - 1] != 0xc3)
        FAIL("the child's writes did not reach the owner");
    printf("ok: an object on node %d opened in a child with every page on node %d, data both "
           "ways\n",
           node, node);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
    return 0;
}

static int node_changed(int node)
{
    struct pmn_backing *b;
    struct pmn_arena *a = arena_on(node, &b);
    struct pmn_ipc_cache *c;
    struct pmn_ipc_handle h;
    unsigned char *o = pmn_arena_malloc(a, OBJ);
    size_t page = (size_t)sysconf(_SC_PAGESIZE), n = OBJ / page;
    void **pages = calloc(n, sizeof(*pages)), *v;
    int *to = calloc(n, sizeof(int)), *st = calloc(n, sizeof(int)), fd, err;
    uint64_t on, total;
    size_t moved = 0;

    if (o == NULL || pages == NULL || to == NULL || st == NULL)
        FAIL("allocation");
    memset(o, 0x11, OBJ);
    if ((err = pmn_ipc_get(o, &h, &fd)) || (err = pmn_ipc_cache_new(&c)))
        FAIL("get: %s", pmn_strerror(err));
    /* Before: the object opens, every page on the node. */
    if ((err = pmn_ipc_open(c, &h, fd, 0, &v)))
        FAIL("open before the move: %s", pmn_strerror(err));
    if (pmn_ipc_close(c, v))
        FAIL("close");
    /* The owner moves the pages to node 0 (only it maps them now). */
    for (size_t i = 0; i < n; i++) {
        pages[i] = o + i * page;
        to[i] = 0;
    }
    if (syscall(SYS_move_pages, 0, (unsigned long)n, pages, to, st, 0) < 0)
        FAIL("move_pages: %s", strerror(errno));
    for (size_t i = 0; i < n; i++)
        moved += st[i] == 0;
    on = pages_on(o, OBJ, 0, &total);
    if (moved == 0 || on == 0)
        FAIL("move_pages moved nothing to node 0 (status of page 0: %d)", st[0]);
    err = pmn_ipc_open(c, &h, fd, 0, &v);
    if (err != PMN_E_NODE_CHANGED)
        FAIL("open after %zu of %zu pages moved to node 0: %s, not PMN_E_NODE_CHANGED", moved, n,
             err ? pmn_strerror(err) : "success");
    printf("ok: %zu of %zu pages moved from node %d to 0 in the owner: open refused with "
           "PMN_E_NODE_CHANGED\n",
           moved, n, node);
    pmn_ipc_cache_free(c);
    free(pages);
    free(to);
    free(st);
    pmn_arena_destroy(a);
    pmn_backing_free(b);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: vm-ipc share|node-changed NODE\n");
        return 2;
    }
    if (!strcmp(argv[1], "share"))
        return share(atoi(argv[2]));
    if (!strcmp(argv[1], "node-changed"))
        return node_changed(atoi(argv[2]));
    fprintf(stderr, "vm-ipc: unknown case %s\n", argv[1]);
    return 2;
}
